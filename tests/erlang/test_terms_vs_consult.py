# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The term codec against ``file:consult/1`` itself, on OTP's own files and on generated terms."""
from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._term_text import TermSyntaxError, dumps, parse
from ansible_collections.erlang.otp.plugins.module_utils._terms import (
    Atom,
    ExternalFun,
    ImproperList,
    empty_strings_as_lists,
)

from tests.support.etf_canon import canon
from tests.support.otp import elixir_root, otp_root, requires_erlang, run_escript
from tests.support.reference_terms import consult

pytestmark = [pytest.mark.erlang, requires_erlang]

TERM_FILE_SUFFIXES = (".app", ".appup", ".rel", ".script")


def _corpus() -> list[Path]:
    roots = [otp_root()]
    if elixir_root() is not None:
        roots.append(elixir_root())
    files: set[Path] = set()
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and (path.suffix in TERM_FILE_SUFFIXES or path.name == "RELEASES"):
                files.add(path.resolve())
    return sorted(files)


@pytest.fixture(scope="module")
def corpus() -> list[Path]:
    files = _corpus()
    assert len(files) >= 80, f"expected the OTP install to ship many term files, found {len(files)}"
    return files


def test_every_shipped_term_file_reads_as_consult_does(corpus):
    reference = consult(corpus)
    kinds = {p.suffix or p.name for p in corpus}
    assert {".app", ".appup", ".rel", "RELEASES"} <= kinds
    for path in corpus:
        expected = reference[str(path)]
        assert "ok" in expected, f"OTP itself cannot read {path}: {expected}"
        ours = parse(path.read_bytes(), str(path))
        assert [canon(t) for t in ours] == expected["ok"], path


def test_written_files_consult_back_identical(corpus, tmp_path):
    written = []
    originals = {}
    for i, path in enumerate(corpus):
        terms = parse(path.read_bytes(), str(path))
        out = tmp_path / f"{i}{path.suffix or '.terms'}"
        out.write_text(dumps(terms), encoding="utf-8")
        written.append(out)
        originals[str(out)] = terms
    reference = consult(written)
    for out in written:
        assert reference[str(out)] == {"ok": [canon(t) for t in originals[str(out)]]}, out
        # Our own reader reads the writer's output back to the same Python values.
        assert parse(out.read_bytes(), str(out)) == empty_strings_as_lists(originals[str(out)])


# ------------------------------------------------------------------------------------------------
# Generated terms: awkward atoms, unicode, strings that look like lists, nesting
# ------------------------------------------------------------------------------------------------

AWKWARD_ATOMS = [
    "ok", "a", "aB@c_1", "Quoted", "_under", "with space", "", "'", "\\", "a'b", 'a"b', "é", "été", "ÿ",
    "→", "日本", "\n", "tab\there", "\x00", "\x7f", "\x9f", "\xa0", "after", "end", "maybe", "else", "fun",
    "true", "false", "undefined", "9lives", "a.b", "a-b", "Ünïcödé", "😀",
]
AWKWARD_STRINGS = [
    "", "abc", "a\"b", "a'b", "back\\slash", "line\nbreak", "\t\r\x0b\x08\x0c\x1b\x7f", "\x00\x01\x1f",
    "é", "日本語", "😀 emoji", "$", "%% not a comment", "\x9f\xa0", "[1,2]", "ok.",
]


def _gen(rng: random.Random, depth: int) -> object:
    leaf_kinds = ["atom", "str", "int", "bigint", "float", "bin", "fun", "intlist"]
    kinds = leaf_kinds + (["tuple", "list", "improper", "map"] * 2 if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "atom":
        return Atom(rng.choice(AWKWARD_ATOMS))
    if kind == "str":
        suffix = "".join(rng.choice("aZ\n\\\"'é→😀\x01") for _unused in range(rng.randrange(3)))
        return rng.choice(AWKWARD_STRINGS) + suffix
    if kind == "int":
        return rng.randint(-300, 300)
    if kind == "bigint":
        return rng.choice([-1, 1]) * rng.randrange(2**64, 2**200)
    if kind == "float":
        return rng.choice([0.0, -0.0, 0.1, 1e300, -2.5e-300, 123456.789, rng.uniform(-1e9, 1e9), 1e16, 5e-324])
    if kind == "bin":
        noise = bytes(rng.randrange(256) for _unused in range(5))
        return rng.choice([b"", b"plain", b"\x00\xff\x80", "é".encode(), noise])
    if kind == "fun":
        module = Atom(rng.choice(["lists", "Quoted", "é"]))
        return ExternalFun(module, Atom(rng.choice(["map", "end"])), rng.randrange(4))
    if kind == "intlist":
        # Lists of integers, some of which look like strings: they must stay lists.
        return [rng.choice([97, 98, 10, 0, 233, 8594, 300000]) for _unused in range(rng.randrange(1, 5))]
    if kind == "tuple":
        return tuple(_gen(rng, depth + 1) for _unused in range(rng.randrange(5)))
    if kind == "list":
        return [_gen(rng, depth + 1) for _unused in range(rng.randrange(5))]
    if kind == "improper":
        tail = _gen(rng, 4)
        if isinstance(tail, (list, str, ImproperList)) and not isinstance(tail, Atom):
            tail = Atom("tail")
        return ImproperList([_gen(rng, depth + 1) for _unused in range(rng.randrange(1, 4))], tail)
    out = {}
    for _unused in range(rng.randrange(4)):
        key = _gen(rng, 4)
        if isinstance(key, (list, dict, ImproperList)) or (isinstance(key, str) and not isinstance(key, Atom)):
            key = Atom("k")
        out[key] = _gen(rng, depth + 1)
    return out


def test_generated_terms_written_then_consulted(tmp_path):
    rng = random.Random(20261123)
    cases = [[_gen(rng, 0) for _unused in range(rng.randrange(1, 4))] for _unused in range(400)]
    paths = []
    for i, terms in enumerate(cases):
        path = tmp_path / f"case{i}.config"
        path.write_text(dumps(terms, header="generated case"), encoding="utf-8")
        paths.append(path)
    reference = consult(paths)
    for path, terms in zip(paths, cases):
        assert reference[str(path)] == {"ok": [canon(t) for t in terms]}, path.read_text(encoding="utf-8")
        assert parse(path.read_bytes(), str(path)) == empty_strings_as_lists(terms)


# ------------------------------------------------------------------------------------------------
# Hand-written syntax: every notation the reader claims, compared with OTP
# ------------------------------------------------------------------------------------------------

NOTATIONS = {
    "integers": "[16#ff, 16#FF, 2#1010, 36#zz, 8#17, 1_000_000, 16#dead_beef, -42, +7, - 3].",
    "chars": r"[$a, $\n, $\s, $\\, $\', $\", $\x41, $\x{1F600}, $\101, $\7, $\^a, $\^Z, $ , $é, - $a]." + "\n",
    "floats": "[1.0, -0.5, 1.5e3, 2.0E-3, 1_0.2_5, 0.0, 1.0e+2, 123456789012345678.0].",
    "strings": r'["plain", "esc\n\t\r\v\b\f\e\s\d", "oct\101\1012\0", "hex\x41\x{263a}", "ctl\^I", '
               r'"adj" "acent" "strings", "", "quote\"in"].' + "\n",
    "atoms": r"[ok, 'Quoted', 'with space', '', 'esc\n', é, 'é', aÖ@_9, 'after', true, 'maybe', maybe, else]." + "\n",
    "binaries": r'[<<>>, <<"abc">>, <<1,2,3>>, <<"é"/utf8>>, <<"é">>, <<1:16>>, <<1:16/little>>, '
                r'<<-1:32/signed-big>>, <<256:16/unit:1>>, <<"ab"/utf16>>, <<$a/utf32-little>>, <<1.5/float>>, '
                r'<<2.5:32/float-little>>, <<"a", 1, "b">>].' + "\n",
    "lists": "[[], [a|b], [a,b|c], [a|[b]], [1|\"ab\"], [[]|[]]].",
    "tuples_maps": "[{}, {a}, {a,{b,{c}}}, #{}, #{a => 1, \"s\" => [2], {t} => #{n => <<>>}}].",
    "funs": "[fun lists:map/2, fun 'Q':'end'/0].",
    "comments": "% leading comment\n{a, % inside\n b}. % trailing\n% last line without newline",
    "several": "a.\nb. c.\n{d}.\n",
    "parens": "[(1), ((a)), (-1)].",
    "crlf": "{a,\r\n b}.\r\n",
}


@pytest.mark.parametrize("name", sorted(NOTATIONS))
def test_notation_reads_as_consult_does(name, tmp_path):
    path = tmp_path / f"{name}.config"
    path.write_text(NOTATIONS[name], encoding="utf-8")
    expected = consult([path])[str(path)]
    assert "ok" in expected, f"the test case itself is not valid Erlang: {expected}"
    assert [canon(t) for t in parse(path.read_bytes(), str(path))] == expected["ok"]


def test_latin1_coding_line(tmp_path):
    path = tmp_path / "latin1.config"
    path.write_bytes("%% -*- coding: latin-1 -*-\n{'\xe9t\xe9', \"\xe9\"}.\n".encode("latin-1"))
    expected = consult([path])[str(path)]
    assert [canon(t) for t in parse(path.read_bytes(), str(path))] == expected["ok"]


INVALID = {
    "variable": "{a, X}.",
    "missing_dot": "{a, b}",
    "unterminated_string": '{a, "b}.',
    "unterminated_atom": "{a, 'b}.",
    "operator": "{a, 1 + 2}.",
    "record": "#r{a = 1}.",
    "bad_base": "37#1.",
    "bad_digit": "2#102.",
    "map_update": "#{a := 1}.",
    "dot_without_space": "{a}.{b}.",
    "unbalanced": "{a, [b}.",
    "bad_escape": '"\\x{110000}".',
    "double_unary": "- - 1.",
    "unary_atom": "-a.",
    "long_atom": "'" + "a" * 256 + "'.",
    "reserved_word": "{a, end}.",
    "bad_utf8": b"{a, \"\xff\xfe\"}.",
    "second_term_bad": "ok.\n\n{a, B}.",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_input_refused_like_consult(name, tmp_path):
    path = tmp_path / f"{name}.config"
    data = INVALID[name]
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    expected = consult([path])[str(path)]
    assert "error" in expected, f"OTP accepted the supposedly invalid case: {expected}"
    with pytest.raises(TermSyntaxError) as info:
        parse(path.read_bytes(), str(path))
    err = info.value
    assert err.source == str(path)
    assert err.line is not None
    assert str(path) in str(err)
    if name == "second_term_bad":
        assert err.line == 3


def test_bitstrings_refused_with_a_clear_error(tmp_path):
    """``<<1:3>>`` is a valid term, but no release file uses bitstrings: refuse it, do not guess."""
    path = tmp_path / "bits.config"
    path.write_text("{a, <<1:3>>}.", encoding="utf-8")
    assert "ok" in consult([path])[str(path)]
    with pytest.raises(TermSyntaxError, match="multiple of 8") as info:
        parse(path.read_bytes(), str(path))
    assert info.value.line == 1


# ------------------------------------------------------------------------------------------------
# Layout: the writer lays terms out exactly as io:format("~tp.~n") does
# ------------------------------------------------------------------------------------------------


def _erlang_layout(paths: list[Path]) -> dict[str, str]:
    out = run_escript("pretty_dump.escript", *(str(p) for p in paths)).decode("utf-8")
    layouts: dict[str, str] = {}
    for chunk in out.split("%%% FILE ")[1:]:
        path, _nl, text = chunk.partition("\n")
        layouts[path] = text
    return layouts


def test_writer_layout_equals_erlang_on_shipped_files(corpus):
    reference = _erlang_layout(corpus)
    mismatches = []
    for path in corpus:
        ours = dumps(parse(path.read_bytes(), str(path)))
        if ours != reference[str(path)]:
            mismatches.append(str(path))
    assert mismatches == []


LAYOUT_ATOMS = ["ok", "a", "application", "load_module", "update", "Quoted", "with space", "é", "end", "x" * 30]
LAYOUT_STRINGS = ["", "1.0.0", "kernel-8.5.3", "a\"b\\c", "tab\tand\nnewline", "é", "x" * 50]


def _layout_term(rng: random.Random, depth: int) -> object:
    """Terms whose ~tp spelling is ours too: no maps (Erlang orders keys), strings printable Latin-1."""
    kinds = ["atom", "str", "int", "float", "bin"] + (["tuple", "tagged", "list", "improper"] * 3 if depth < 5 else [])
    kind = rng.choice(kinds)
    if kind == "atom":
        return Atom(rng.choice(LAYOUT_ATOMS))
    if kind == "str":
        return rng.choice(LAYOUT_STRINGS)
    if kind == "int":
        return rng.choice([0, 1, -5, 256, 10**20])  # none printable: a list of them stays a list in ~tp
    if kind == "float":
        return rng.choice([0.5, -2.25, 1.0e-3])
    if kind == "bin":
        return rng.choice([b"", b"abc", b"\x00\x01", "é".encode(), b"\xe9", bytes(range(40)), b"\xff" * 3])
    children = [_layout_term(rng, depth + 1) for _unused in range(rng.randrange(1, 7))]
    if kind == "tagged":
        return (Atom(rng.choice(LAYOUT_ATOMS)), *children)
    if kind == "tuple":
        return tuple(children)
    if kind == "improper":
        return ImproperList(children, Atom("tail"))
    return children


def test_writer_layout_equals_erlang_on_generated_terms(tmp_path):
    rng = random.Random(7)
    paths, texts = [], {}
    for i in range(300):
        text = dumps([_layout_term(rng, 0) for _unused in range(rng.randrange(1, 3))])
        path = tmp_path / f"layout{i}.config"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
        texts[str(path)] = text
    reference = _erlang_layout(paths)
    for path in paths:
        assert texts[str(path)] == reference[str(path)], path


def test_float_spelling_equals_erlang(tmp_path):
    """Floats are written as float_to_list(F, [short]) writes them: same digits, same notation."""
    rng = random.Random(11)
    floats = [0.0, -0.0, 100.0, 1.0e3, 0.0001, 1.2e-4, 2.0**53, 2.0**53 - 1, 5e-324, 1.7976931348623157e308]
    while len(floats) < 4000:
        value = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
        if math.isfinite(value):
            floats.append(value)
    floats += [rng.randrange(1, 1000) * 10.0 ** rng.randrange(-12, 20) for _unused in range(2000)]
    path = tmp_path / "floats.config"
    text = dumps(floats)
    path.write_text(text, encoding="utf-8")
    assert _erlang_layout([path])[str(path)] == text
