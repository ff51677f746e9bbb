# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OTP's own reading of term files (``tests/erlang/consult_dump.escript``), in canonical text.

Compare with :func:`tests.support.etf_canon.canon` of our terms: equal texts are ``=:=`` terms.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.support.otp import run_escript


def consult(paths: list[Path]) -> dict[str, dict]:
    """``file:consult/1`` of every path, by path: ``{"ok": [canonical text]}`` or ``{"error": reason}``."""
    results: dict[str, dict] = {}
    batch = 200
    for start in range(0, len(paths), batch):
        out = run_escript("consult_dump.escript", *(str(p) for p in paths[start:start + batch]))
        for line in out.decode("utf-8").splitlines():
            record = json.loads(line)
            results[record.pop("file")] = record
    return results
