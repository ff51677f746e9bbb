# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the consult-format reader and writer (no Erlang needed; see tests/erlang for OTP itself)."""
from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._term_text import (
    TermSyntaxError,
    dumps,
    format_term,
    parse,
    parse_one,
    write_atom,
)
from ansible_collections.erlang.otp.plugins.module_utils._terms import (
    Atom,
    ExternalFun,
    ImproperList,
    canonical,
    empty_strings_as_lists,
    text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

A = Atom


def test_atom_string_binary_and_list_stay_apart():
    atom, string, binary, ints = parse('abc. "abc". <<"abc">>. [97,98,99].')
    assert atom == A("abc") and isinstance(atom, Atom)
    assert string == "abc" and not isinstance(string, Atom)
    assert binary == b"abc"
    assert ints == [97, 98, 99]
    assert atom != string
    assert string != ints
    assert binary != string
    # ...but they are the same Erlang term where Erlang says so.
    assert canonical(string) == canonical(ints)
    assert canonical(atom) != canonical(string)


def test_atoms_never_equal_strings_in_containers():
    assert {A("ok"): 1}.get("ok") is None
    assert A("ok") in {A("ok")}
    assert "ok" not in {A("ok")}


def test_app_file_shape():
    term = parse_one(
        b"""%% coding: utf-8
        {application, shop,
         [{description, "Shop"},   % a comment
          {vsn, "0.1.0"},
          {modules, [shop_app, 'shop-cart']},
          {registered, []},
          {applications, [kernel, stdlib, sasl]},
          {mod, {shop_app, []}},
          {env, [{port, 8_080}, {ratio, 0.5}, {mask, 16#ff}, {nl, $\\n}]}]}.
        """,
        "shop.app",
    )
    assert term[0] == A("application") and term[1] == A("shop")
    props = dict(term[2])
    assert text(props[A("vsn")]) == "0.1.0"
    assert props[A("modules")] == [A("shop_app"), A("shop-cart")]
    assert dict(props[A("env")]) == {A("port"): 8080, A("ratio"): 0.5, A("mask"): 255, A("nl"): 10}


def test_improper_lists_and_tails():
    assert parse_one("[a|b].") == ImproperList([A("a")], A("b"))
    assert parse_one("[a|[b,c]].") == [A("a"), A("b"), A("c")]
    assert parse_one('[1|"ab"].') == [1, 97, 98]
    assert parse_one("[a,b|[c|d]].") == ImproperList([A("a"), A("b"), A("c")], A("d"))


def test_maps_funs_and_unary():
    assert parse_one("#{a => 1, <<\"k\">> => [x]}.") == {A("a"): 1, b"k": [A("x")]}
    assert parse_one("fun lists:map/2.") == ExternalFun(A("lists"), A("map"), 2)
    assert parse_one("[-1, +2, -2.5, -$a].") == [-1, 2, -2.5, -97]


def test_binaries():
    assert parse_one('<<"é"/utf8, 1:16, 1:16/little, -1:8/signed>>.') == b"\xc3\xa9\x00\x01\x01\x00\xff"
    assert parse_one("<<1.5/float>>.") == b"?\xf8\x00\x00\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("{a,\n X}.", "variable 'X'", 2),
        ("{a, b}", "must end with '.'", 1),
        ('\n\n"abc.', "unterminated string", 3),
        ("{a, 1 + 2}.", "'+'", 1),
        ("#{a := 1}.", "'=>'", 1),
        ("37#1.", "base 37", 1),
        ("ok.\n{", "unexpected end of input", 2),
        ("{a, end}.", "reserved word 'end'", 1),
        ("#{[a] => 1}.", "map keys that are lists", 1),
    ],
)
def test_syntax_errors_name_file_and_line(source, message, line):
    with pytest.raises(TermSyntaxError) as info:
        parse(source, "conf/sys.config")
    assert message in str(info.value)
    assert info.value.line == line
    assert str(info.value).startswith(f"conf/sys.config:{line}: ")


def test_invalid_utf8_names_the_line():
    with pytest.raises(TermSyntaxError, match="invalid UTF-8") as info:
        parse(b"ok.\n\"\xff\".\n", "x.config")
    assert info.value.line == 2


def test_parse_one_requires_one_term():
    with pytest.raises(TermSyntaxError, match="exactly one term, found 2"):
        parse_one("a. b.", "x.rel")


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("ok", "ok"),
        ("aB@_1", "aB@_1"),
        ("Ok", "'Ok'"),
        ("_x", "'_x'"),
        ("", "''"),
        ("end", "'end'"),
        ("maybe", "'maybe'"),
        ("a b", "'a b'"),
        ("it's", "'it\\'s'"),
        ("été", "été"),
        ("\n", "'\\n'"),
        ("→", "'→'"),
    ],
)
def test_write_atom(name, written):
    assert write_atom(name) == written


def test_writer_layout_is_p_style():
    rel = (
        A("release"),
        ("shop", "1.0.0"),
        ("erts", "13.1.5"),
        [(A("kernel"), "8.5.3"), (A("stdlib"), "4.2"), (A("sasl"), "4.2"), (A("shop"), "0.1.0"),
         (A("shop_legacy"), "1.0.0")],
    )
    out = format_term(rel)
    assert all(len(line) <= 80 for line in out.splitlines())
    assert out.splitlines()[0].startswith('{release,{"shop","1.0.0"},')
    assert parse_one(out + ".") == rel
    assert format_term((A("a"), [1, 2], b"x")) == '{a,[1,2],<<"x">>}'
    assert format_term(1e16) == "1.0e16"
    assert format_term([1.5, -0.0]) == "[1.5,-0.0]"


def test_dumps_header_and_terms():
    out = dumps([(A("a"), "b"), []], header="generated by erlang.otp\ndo not edit")
    assert out == '%% generated by erlang.otp\n%% do not edit\n{a,"b"}.\n[].\n'
    assert parse(out) == [(A("a"), "b"), []]


def test_writer_refuses_what_erlang_cannot_read():
    with pytest.raises(ValueError, match="nan"):
        dumps([float("nan")])
    with pytest.raises(TypeError, match="set"):
        dumps([{1, 2}])


# ------------------------------------------------------------------------------------------------
# Property: whatever the writer writes, the reader reads back identically
# ------------------------------------------------------------------------------------------------

unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
atoms = st.one_of(unicode_text, st.sampled_from(["ok", "end", "maybe", "Quoted", "a@b", "", "'"])).map(Atom)
hashable_leaves = st.one_of(
    atoms,
    st.integers(min_value=-(2**80), max_value=2**80),
    st.binary(max_size=8),
)
leaves = st.one_of(
    hashable_leaves,
    unicode_text,  # strings, including ones that look like lists or other terms
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(min_value=0, max_value=0x10FFFF), max_size=4),  # lists of ints stay lists
    st.builds(ExternalFun, atoms, atoms, st.integers(min_value=0, max_value=255)),
)


def _extend(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(hashable_leaves, children, max_size=3),
        st.builds(ImproperList, st.lists(children, min_size=1, max_size=3), st.one_of(atoms, st.integers())),
    )


terms = st.recursive(leaves, _extend, max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(terms, min_size=1, max_size=3))
def test_round_trip(values):
    assert parse(dumps(values)) == empty_strings_as_lists(values)


@settings(max_examples=200, deadline=None)
@given(terms, st.integers(min_value=20, max_value=120))
def test_round_trip_at_any_width(value, width):
    assert parse_one(format_term(value, width) + ".") == empty_strings_as_lists(value)
