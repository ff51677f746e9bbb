# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read what ``tests/erlang/consult_dump.escript`` prints: OTP's own reading of term files."""
from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ExternalFun, ImproperList

from tests.support.otp import run_escript


def from_json(value: object) -> object:
    """Turn the escript's JSON encoding into the canonical Python term (strings as code-point lists)."""
    if isinstance(value, int):
        return value
    if not isinstance(value, dict) or len(value) not in (1, 2):
        raise ValueError(f"unexpected reference encoding {value!r}")
    if "f" in value:
        return float(value["f"])
    if "a" in value:
        return Atom("".join(chr(c) for c in value["a"]))
    if "b" in value:
        return bytes(value["b"])
    if "t" in value:
        return tuple(from_json(v) for v in value["t"])
    if "l" in value:
        return [from_json(v) for v in value["l"]]
    if "il" in value:
        return ImproperList([from_json(v) for v in value["il"]], from_json(value["tail"]))
    if "m" in value:
        return {_key(from_json(k)): from_json(v) for k, v in value["m"]}
    if "bits" in value:
        return ("$bitstring-of-size", value["bits"])  # we refuse bitstrings; only their presence matters
    if "fun" in value:
        m, f, a = (from_json(v) for v in value["fun"])
        return ExternalFun(m, f, a)
    raise ValueError(f"unexpected reference encoding {value!r}")


def _key(key: object) -> object:
    # Mirrors _terms.canonical for list keys.
    return ("$erlang-list-key", tuple(key)) if isinstance(key, list) else key


def consult(paths: list[Path]) -> dict[str, dict]:
    """``file:consult/1`` of every path, by path: ``{"ok": [terms]}`` or ``{"error": reason}``."""
    results: dict[str, dict] = {}
    batch = 200
    for start in range(0, len(paths), batch):
        out = run_escript("consult_dump.escript", *(str(p) for p in paths[start:start + batch]))
        for line in out.decode("utf-8").splitlines():
            record = json.loads(line)
            path = record.pop("file")
            if "ok" in record:
                results[path] = {"ok": [from_json(t) for t in record["ok"]]}
            else:
                results[path] = {"error": record["error"]}
    return results
