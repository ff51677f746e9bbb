# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ETF decoder against ``term_to_binary/2`` itself: every tag OTP writes, every option set."""

from __future__ import annotations

import random

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._etf import decode, decode_prefix
from ansible_collections.erlang.otp.plugins.module_utils._terms import canonical

from tests.support.etf_canon import canon, encode, random_term
from tests.support.otp import requires_erlang, run_escript

pytestmark = [pytest.mark.erlang, requires_erlang]


def _pairs(out: bytes) -> list:
    pairs = []
    for line in out.decode("ascii").splitlines():
        etf_hex, expected = line.split("\t")
        pairs.append((bytes.fromhex(etf_hex), expected))
    return pairs


def _check(pairs: list) -> None:
    for etf, expected in pairs:
        term, end = decode_prefix(etf)
        assert end == len(etf)
        assert canon(term) == expected, etf.hex()
        assert canon(canonical(term)) == expected


def test_fixed_and_random_terms_decode_as_otp_encoded_them():
    pairs = _pairs(run_escript("etf_corpus.escript", "20240601", "1500"))
    # Every option set of the escript, for each term: plain, minor versions 0..2, compressed.
    assert len(pairs) >= 6 * 1500
    tags = {etf[1] for etf, _unused in pairs}  # the outermost tag: the fixed corpus has each kind at top level
    # NEW_FLOAT, FLOAT, bignums, atoms (latin1 and UTF-8), tuples, strings, lists, binaries,
    # bitstrings, maps, funs, pids, ports, references and compressed terms all occur.
    for tag in (70, 99, 110, 111, 100, 118, 119, 104, 105, 106, 107, 108, 109, 77, 116, 112, 113, 88, 89, 90, 80):
        assert tag in tags, tag
    _check(pairs)


# Terms built in Python, written by a tiny test-only encoder, then read and re-encoded by OTP: OTP
# confirms it reads the same term, and the decoder is checked on what OTP writes for it.


def test_python_built_terms_read_back_from_otp():
    rng = random.Random(20240601)
    terms = [random_term(rng) for _unused in range(600)]
    ours = [bytes([131]) + encode(t) for t in terms]
    for etf, t in zip(ours, terms):
        assert canon(decode(etf)) == canon(t)
    out = run_escript("etf_corpus.escript", "recode", stdin="".join(e.hex() + "\n" for e in ours).encode())
    pairs = _pairs(out)
    assert len(pairs) == 6 * len(terms)
    for index, (_etf, expected) in enumerate(pairs):
        assert expected == canon(terms[index // 6])  # OTP read our encoding as the same term
    _check(pairs)
