# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Python twin of ``etf_canon.hrl``: the same canonical text for a decoded term.

Strings (``str``) print as their list of code points, as Erlang sees them, so the comparison is
Erlang's ``=:=`` (the same thing :func:`canonical` in ``_terms`` gives).
"""

from __future__ import annotations

import struct

from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ExternalFun, ImproperList, Opaque


def canon(term: object) -> str:
    return "".join(_c(term))


def _c(t: object) -> list:
    if isinstance(t, bool):
        return ["a", ("true" if t else "false").encode().hex().upper()]
    if isinstance(t, Atom):
        return ["a", str(t).encode("utf-8").hex().upper()]
    if isinstance(t, int):
        return ["i", str(t)]
    if isinstance(t, float):
        return ["f", struct.pack(">d", t).hex().upper()]
    if isinstance(t, bytes):
        return ["b", t.hex().upper()]
    if isinstance(t, tuple) and len(t) == 2 and not isinstance(t[0], Atom) and t[0] == "$erlang-list-key":
        return _c(list(t[1]))  # how _terms.canonical() spells a string map key
    if isinstance(t, tuple):
        return ["t(", ",".join(canon(e) for e in t), ")"]
    if isinstance(t, str):
        return _c([ord(ch) for ch in t])
    if isinstance(t, list):
        return ["l(", ",".join(canon(e) for e in t), ")"]
    if isinstance(t, ImproperList):
        return ["L(", ",".join(canon(e) for e in t.items), "|", canon(t.tail), ")"]
    if isinstance(t, dict):
        return ["m(", ",".join(sorted(canon(k) + "=>" + canon(v) for k, v in t.items())), ")"]
    if isinstance(t, ExternalFun):
        return ["e(", canon(t.module), ",", canon(t.function), ",", canon(t.arity), ")"]
    if isinstance(t, Opaque):
        return ["o", t.kind, ":", t.raw.hex().upper()]
    raise TypeError(f"not an Erlang term: {t!r}")


def encode(t: object) -> bytes:
    """A tiny test-only ``term_to_binary`` (no version byte): big integers, UTF-8 atoms, LIST_EXT."""
    if isinstance(t, Atom):
        raw = str(t).encode("utf-8")
        return bytes([118]) + len(raw).to_bytes(2, "big") + raw
    if isinstance(t, int):
        mag = abs(t)
        body = mag.to_bytes((mag.bit_length() + 7) // 8, "little")
        return bytes([111]) + len(body).to_bytes(4, "big") + bytes([t < 0]) + body
    if isinstance(t, float):
        return bytes([70]) + struct.pack(">d", t)
    if isinstance(t, bytes):
        return bytes([109]) + len(t).to_bytes(4, "big") + t
    if isinstance(t, tuple):
        return bytes([105]) + len(t).to_bytes(4, "big") + b"".join(encode(e) for e in t)
    if isinstance(t, list):
        return bytes([108]) + len(t).to_bytes(4, "big") + b"".join(encode(e) for e in t) + b"j"
    if isinstance(t, ImproperList):
        return bytes([108]) + len(t.items).to_bytes(4, "big") + b"".join(encode(e) for e in t.items) + encode(t.tail)
    if isinstance(t, dict):
        return bytes([116]) + len(t).to_bytes(4, "big") + b"".join(encode(k) + encode(v) for k, v in t.items())
    raise TypeError(t)


def random_term(rng, depth: int = 4) -> object:
    """A random term of the kinds :func:`encode` writes."""
    kind = rng.randrange(12 if depth > 0 else 6)
    if kind == 0:
        base = rng.choice([0, 1, -1, 255, 256, 2**31, -(2**31) - 1])
        return base + rng.randrange(-(2 ** rng.randrange(1, 300)), 2**64)
    if kind == 1:
        return rng.uniform(-1, 1) * 10.0 ** rng.randrange(-300, 300)
    if kind == 2:
        alphabet = "abcXYZ_@. 'é日😀" if rng.random() < 0.5 else "abcdefghij"
        return Atom("".join(rng.choice(alphabet) for _unused in range(rng.randrange(0, 12))))
    if kind == 3:
        return bytes(rng.randrange(256) for _unused in range(rng.randrange(0, 12)))
    if kind == 4:
        return [rng.randrange(256) for _unused in range(rng.randrange(0, 8))]
    if kind == 5:
        return [rng.randrange(256, 0x10FFFF) for _unused in range(rng.randrange(1, 4))]
    if kind in (6, 7):
        return [random_term(rng, depth - 1) for _unused in range(rng.randrange(0, 5))]
    if kind in (8, 9):
        return tuple(random_term(rng, depth - 1) for _unused in range(rng.randrange(0, 5)))
    if kind == 10:
        keys = [random_term(rng, 0) for _unused in range(rng.randrange(0, 40))]
        return {k: random_term(rng, depth - 1) for k in keys if not isinstance(k, list)}
    tail = random_term(rng, 0)
    items = [random_term(rng, depth - 1) for _unused in range(rng.randrange(1, 4))]
    return items + tail if isinstance(tail, list) else ImproperList(items, tail)
