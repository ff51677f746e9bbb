# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the external term format decoder on hand-made encodings (no Erlang needed).

What OTP itself writes is covered by tests/erlang/test_etf_vs_otp.py.
"""

from __future__ import annotations

import struct
import zlib

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._etf import EtfError, decode, decode_prefix
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ExternalFun, ImproperList, Opaque
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.etf_canon import canon, encode


def v(body: bytes) -> bytes:
    return b"\x83" + body


def atom(name: str, tag: int = 119) -> bytes:
    raw = name.encode("utf-8" if tag in (118, 119) else "latin-1")
    size = bytes([len(raw)]) if tag in (115, 119) else struct.pack(">H", len(raw))
    return bytes([tag]) + size + raw


NODE = atom("nonode@nohost", 100)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"a\x00", 0),
        (b"a\xff", 255),
        (b"b\xff\xff\xff\xff", -1),
        (b"b\x80\x00\x00\x00", -(2**31)),
        (b"n\x01\x00\x80", 128),
        (b"n\x02\x01\x00\x01", -256),
        (b"o\x00\x00\x00\x09\x00" + b"\x00" * 8 + b"\x01", 2**64),
        (b"n\x00\x00", 0),
        (b"F" + struct.pack(">d", -1.5), -1.5),
        (b"c" + b"1.50000000000000000000e+00".ljust(31, b"\0"), 1.5),
        (b"c" + b"-0.1".ljust(31, b"\0"), -0.1),
        (atom("ok", 100), Atom("ok")),
        (atom("ok", 115), Atom("ok")),
        (atom("été", 100), Atom("été")),
        (atom("日本", 118), Atom("日本")),
        (atom("日本", 119), Atom("日本")),
        (atom("true", 119), Atom("true")),
        (b"j", []),
        (b"k\x00\x03abc", [97, 98, 99]),
        (b"k\x00\x00", []),
        (b"l\x00\x00\x00\x02a\x01a\x02j", [1, 2]),
        (b"h\x00", ()),
        (b"h\x02a\x01j", (1, [])),
        (b"i\x00\x00\x00\x01a\x07", (7,)),
        (b"m\x00\x00\x00\x02hi", b"hi"),
        (b"t\x00\x00\x00\x01" + atom("a") + b"a\x01", {Atom("a"): 1}),
        (b"q" + atom("lists", 100) + atom("map", 100) + b"a\x02", ExternalFun(Atom("lists"), Atom("map"), 2)),
    ],
)
def test_decodes_each_tag(body, expected):
    term = decode(v(body))
    assert term == expected
    assert type(term) is type(expected)


def test_atoms_never_equal_strings_and_true_is_an_atom():
    assert decode(v(atom("true"))) != "true"
    assert decode(v(atom("true"))) is not True


def test_improper_lists():
    assert decode(v(b"l\x00\x00\x00\x01a\x01a\x02")) == ImproperList([1], 2)
    term = decode(v(b"l\x00\x00\x00\x01" + atom("a") + atom("b")))
    assert isinstance(term, ImproperList) and term.items == [Atom("a")] and term.tail == Atom("b")
    # binary_to_term accepts these although term_to_binary never writes them:
    assert decode(v(b"l\x00\x00\x00\x00a\x05")) == 5  # a zero-length list is its tail
    assert decode(v(b"l\x00\x00\x00\x01a\x01l\x00\x00\x00\x01a\x02j")) == [1, 2]  # list tail continues
    assert decode(v(b"l\x00\x00\x00\x01a\x01l\x00\x00\x00\x01a\x02a\x03")) == ImproperList([1, 2], 3)


def test_improper_list_with_atom_tail_is_a_term():
    term = decode(v(encode(ImproperList([1], Atom("b")))))
    assert term == ImproperList([1], Atom("b"))


def test_map_with_string_key_becomes_str_key():
    term = decode(v(b"t\x00\x00\x00\x01k\x00\x02hia\x01"))
    assert term == {"hi": 1}
    with pytest.raises(EtfError, match="map key"):
        decode(v(b"t\x00\x00\x00\x01l\x00\x00\x00\x01h\x00ja\x01"))
    with pytest.raises(EtfError, match="duplicate"):
        decode(v(b"t\x00\x00\x00\x02a\x01a\x01a\x01a\x02"))


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"g" + NODE + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00", "pid"),
        (b"X" + NODE + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00", "pid"),
        (b"f" + NODE + b"\x00\x00\x00\x01\x00", "port"),
        (b"Y" + NODE + b"\x00\x00\x00\x01\x00\x00\x00\x00", "port"),
        (b"x" + NODE + b"\x00" * 7 + b"\x01\x00\x00\x00\x00", "port"),
        (b"e" + NODE + b"\x00\x00\x00\x01\x00", "reference"),
        (b"r\x00\x02" + NODE + b"\x00" + b"\x00\x00\x00\x01" * 2, "reference"),
        (b"Z\x00\x03" + NODE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x01" * 3, "reference"),
        (b"M\x00\x00\x00\x01\x03\xe0", "bitstring"),
        (b"p\x00\x00\x00\x08abcd", "fun"),
        # FUN_EXT: one free variable; Pid, Module, Index, Uniq, then the free variable.
        (b"u\x00\x00\x00\x01X" + NODE + b"\x00" * 12 + atom("m", 100) + b"a\x00a\x01a\x07", "fun"),
    ],
)
def test_opaque_terms_keep_their_encoding(body, kind):
    term, end = decode_prefix(v(body) + b"trailing")
    assert term == Opaque(kind, body)
    assert end == 1 + len(body)


def test_compressed_terms():
    inner = b"l\x00\x00\x00\x03a\x01a\x02a\x03j"
    data = v(b"P" + struct.pack(">I", len(inner)) + zlib.compress(inner))
    assert decode(data) == [1, 2, 3]
    assert decode_prefix(data + b"xx") == ([1, 2, 3], len(data))
    with pytest.raises(EtfError, match="header says"):
        decode(v(b"P" + struct.pack(">I", 99) + zlib.compress(inner)))
    with pytest.raises(EtfError, match="does not inflate"):
        decode(v(b"P\x00\x00\x00\x05garbage"))


def test_trailing_bytes_are_ignored_like_binary_to_term():
    assert decode(v(b"a\x01\x00\x00")) == 1
    assert decode_prefix(v(b"a\x01\x00\x00")) == (1, 3)
    assert decode_prefix(b"xx" + v(b"a\x01"), 2) == (1, 5)


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        (b"", "empty input", 0),
        (b"\x84a\x01", "version byte", 0),
        (v(b""), "expected a tag", 1),
        (v(b"b\x00\x00"), "INTEGER_EXT", 2),
        (v(b"h\x09a\x01a\x02"), "elements", 3),
        (v(b"h\x03a\x01a\x02"), "expected a tag", 7),
        (v(b"m\x00\x00\x00\x05ab"), "BINARY_EXT data", 6),
        (v(b"k\x00\x05ab"), "STRING_EXT", 4),
        (v(b"w\x05ab"), "atom text", 3),
        (v(b"w\x02\xff\xfe"), "not valid utf-8", 3),
        (v(b"\x01"), "unknown tag 1", 1),
        (v(b"R\x00"), "atom cache", 1),
        (v(b"D\x00"), "distribution header", 1),
        (v(b"n\x01\x02\x05"), "sign byte", 3),
        (v(b"c" + b"nonsense".ljust(31, b"\0")), "no number", 2),
        (v(b"M\x00\x00\x00\x01\x00\xff"), "bits", 6),
        (v(b"q" + atom("m") + b"a\x01a\x01"), "expected an atom", 5),
        (v(b"p\x00\x00\x00\x02"), "too small", 2),
    ],
)
def test_errors_name_the_offset(data, message, offset):
    with pytest.raises(EtfError, match=message) as info:
        decode(data)
    assert info.value.offset == offset
    assert f"at byte {offset}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_deep_nesting_is_an_etf_error_not_a_crash():
    depth = 100000
    data = v(b"l\x00\x00\x00\x01" * depth + b"j" + b"j" * depth)
    with pytest.raises(EtfError, match="nested too deeply"):
        decode(data)


_atoms = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30).map(Atom)
_leaves = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    _atoms,
    st.binary(max_size=30),
    st.lists(st.integers(0, 0x10FFFF), max_size=8),
)
_terms = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=6).map(tuple),
        st.dictionaries(st.one_of(st.integers(), _atoms, st.binary(max_size=4)), inner, max_size=5),
        st.tuples(st.lists(inner, min_size=1, max_size=3), st.one_of(st.integers(), _atoms, st.binary())).map(
            lambda p: ImproperList(*p)
        ),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_terms)
def test_round_trip_through_the_test_encoder(term):
    assert canon(decode(v(encode(term)))) == canon(term)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_etf_error(data):
    for blob in (v(data), data):
        try:
            decode(blob)
        except EtfError:
            pass
