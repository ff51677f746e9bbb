# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for _appup_syntax: findings, appup shape, entry keys, regex translation.

Which instructions, entries and regexes systools accepts is decided against OTP itself in
tests/erlang/test_appup_syntax.py; these tests pin the API: what a finding says and where.
"""

from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup_syntax import (
    Finding,
    UnsupportedRegex,
    dep_modules,
    expand_script,
    find_entry,
    instruction_text,
    key_text,
    parse_appup,
    pcre_to_python,
    regex_problem,
    validate_appup,
    validate_instruction,
    validate_instructions,
    version_matches,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

A = Atom


def term(text: str) -> object:
    return parse_one(text + ".", "<test>")


def codes(findings: list) -> list:
    return [f.code for f in findings]


# ------------------------------------------------------------------------------------------------
# Finding
# ------------------------------------------------------------------------------------------------


def test_finding_text_names_file_app_versions_direction_and_instruction():
    f = Finding(
        "error",
        "bad_module",
        "module 1 must be an atom",
        source="shop.appup",
        app="shop",
        direction="up",
        key="0.1.0",
        from_vsn="0.1.0",
        to_vsn="0.2.0",
        instruction="{load_module,1}",
        index=2,
    )
    assert str(f) == (
        "shop.appup: shop 0.1.0 -> 0.2.0 (up, instruction 2): error: module 1 must be an atom [{load_module,1}]"
    )
    d = f.to_dict()
    assert d["severity"] == "error" and d["code"] == "bad_module" and d["from_vsn"] == "0.1.0"
    assert set(d) == set(Finding.__slots__)


def test_finding_with_context_fills_only_missing_fields():
    f = Finding("warning", "x", "m", app="a")
    g = f.with_context(app="b", source="s", index=3)
    assert (g.app, g.source, g.index, g.severity) == ("a", "s", 3, "warning")
    assert f.source is None


def test_finding_refuses_unknown_severity():
    with pytest.raises(ValueError, match="severity"):
        Finding("fatal", "x", "y")


# ------------------------------------------------------------------------------------------------
# Instructions
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("{load_module, 1}", "bad_module", ["module 1", "atom", "expanded form"]),
        ("{update, m, 0, soft, soft_purge, soft_purge, []}", "bad_timeout", ["timeout 0"]),
        ("{load_module, m, hard_purge, soft_purge, []}", "bad_purge_method", ["pre-purge", "hard_purge"]),
        ("{load_module, m, soft_purge, hard, []}", "bad_purge_method", ["post-purge"]),
        ("{apply, {m, f, x}}", "bad_args_list", ["argument list x"]),
        ("{add_application, a, sometimes}", "bad_start_type", ["sometimes"]),
        ('{purge, [m, "n"]}', "bad_module", ["module list element"]),
        ("[{load_module, m}]", "bad_instruction", ["nested list", "without expanding"]),
        ("{purge, [m | n]}", "improper_list", ["proper list"]),
        ("mnesia_backup", "not_yet_implemented", ["mnesia_backup"]),
    ],
)
def test_validate_instruction_names_the_error(text, code, words):
    f = validate_instruction(term(text))
    assert f is not None and f.code == code and f.severity == "error"
    assert f.instruction == instruction_text(term(text))
    for word in words:
        assert word in f.message


def test_validate_instruction_accepts_every_short_form():
    for text in [
        "{load_module, m}",
        "{load_module, m, [a]}",
        "{update, m}",
        "{update, m, supervisor}",
        "{update, m, soft}",
        "{update, m, {advanced, x}}",
        "{update, m, [a]}",
        "{update, m, {advanced, x}, [a]}",
        "{add_module, m}",
        "{delete_module, m, [a]}",
        "{add_application, a}",
        "{restart_application, a}",
        "restart_new_emulator",
        '""',
    ]:
        assert validate_instruction(term(text)) is None, text


def test_expand_script_splices_nested_lists_without_expanding():
    out = expand_script([term("{update, m, supervisor}"), [term("{load_module, n}")]])
    assert out[0] == term("{update, m, static, default, {advanced, []}, brutal_purge, brutal_purge, []}")
    assert out[1] == term("{load_module, n}")
    with pytest.raises(ValueError, match="instruction 1"):
        expand_script([term("[a | b]")])


def test_dep_modules_is_the_last_element():
    assert dep_modules(term("{load_module, m, brutal_purge, brutal_purge, [a, b]}")) == [A("a"), A("b")]


def test_validate_instructions_reports_every_problem_with_its_position():
    findings = validate_instructions(term("[{load_module, m}, {load_module, 1}, {purge, x}, bogus]"))
    assert [(f.index, f.code) for f in findings] == [(2, "bad_module"), (3, "bad_list"), (4, "bad_instruction")]
    assert findings[2].instruction == "bogus"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[{load_module, a}, {load_module, a}]", [(2, "muldef_module")]),
        ("[{load_module, a, [b]}]", [(1, "undef_module")]),
        ("[{load_module, a}, point_of_no_return]", [(1, "bad_op_before_point_of_no_return")]),
        ("[point_of_no_return, {apply, {m, f, []}}, point_of_no_return]", [(3, "too_many_point_of_no_return")]),
        ("[{load, {a, brutal_purge, brutal_purge}}]", [(1, "no_object_code")]),
        ("[{suspend, [a]}, {resume, [b]}]", [(1, "suspended_not_resumed"), (2, "resumed_not_suspended")]),
        ("[{stop, [a]}]", [(1, "stop_not_start")]),
        ("[{start, [a]}]", [(1, "start_not_stop")]),
        (
            '[{load_object_code, {l, "1", [a]}}, {load_object_code, {l, "2", [b]}}]',
            [(2, "conflicting_versions")],
        ),
        ('[{load_object_code, {l, "1", [a]}}, {load_object_code, {l, [$1], [b]}}]', []),
        ("[{suspend, [{a, 10}]}, {resume, [a]}, {stop, [b]}, {start, [b]}]", []),
    ],
)
def test_validate_instructions_checks_the_entry_as_a_whole(text, expected):
    assert [(f.index, f.code) for f in validate_instructions(term(text))] == expected


def test_validate_instructions_refuses_a_non_list():
    assert codes(validate_instructions(A("x"))) == ["bad_list"]
    assert codes(validate_instructions(term("[{load_module, a} | b]"))) == ["improper_list"]


# ------------------------------------------------------------------------------------------------
# The appup term
# ------------------------------------------------------------------------------------------------

GOOD = """{"0.2.0",
 [{"0.1.0", [{load_module, shop_price}, {update, shop_cart, {advanced, []}, [shop_price]}]},
  {<<"0\\\\.0\\\\..*">>, [{restart_application, shop}]}],
 [{"0.1.0", [{update, shop_cart, {advanced, []}, [shop_price]}, {load_module, shop_price}]},
  {<<"0\\\\.0\\\\..*">>, [{restart_application, shop}]}]}"""


def test_a_good_appup_has_no_findings():
    assert validate_appup(term(GOOD), "shop.appup", app="shop") == []


def test_findings_in_entries_carry_versions_both_ways():
    t = term(
        '{"2", [{"1", [{load_module, 1}]}], [{<<"1\\\\..*">>, [{add_module, m, x}]}]}',
    )
    up, down = validate_appup(t, "a.appup", app="a")
    assert (up.direction, up.key, up.from_vsn, up.to_vsn, up.index) == ("up", "1", "1", "2", 1)
    assert (down.direction, down.key, down.from_vsn, down.to_vsn) == ("down", '<<"1\\\\..*">>', "2", '<<"1\\\\..*">>')
    assert up.source == down.source == "a.appup" and up.app == "a"
    assert down.code == "bad_list"


@pytest.mark.parametrize(
    ("text", "code", "severity"),
    [
        ('{"1", []}', "file_problem", "error"),
        ("{v1, [], []}", "bad_vsn", "error"),
        ('{<<"1">>, [], []}', "bad_vsn", "warning"),
        ('{"1", x, []}', "bad_list", "error"),
        ('{"1", "abc", []}', "bad_list", "error"),
        ('{"1", [{"0", []} | x], []}', "improper_list", "error"),
        ('{"1", [{"0", [], extra}], []}', "bad_entry", "warning"),
        ("{\"1\", [{'0', []}], []}", "bad_key", "warning"),
        ('{"1", [{<<"0.*">>, []}, {"0.1", []}], []}', "shadowed_entry", "warning"),
        ('{"1", [{"0", []}, {"0", []}], []}', "shadowed_entry", "warning"),
        ('{"1", [{<<"0++">>, []}], []}', "unsupported_regex", "warning"),
    ],
)
def test_shape_and_keys(text, code, severity):
    findings = validate_appup(term(text), "x.appup")
    assert [(f.code, f.severity) for f in findings] == [(code, severity)]


def test_an_empty_string_entry_list_is_an_empty_list():
    assert validate_appup(("1", "", []), "x.appup") == []


def test_parse_appup_reports_syntax_errors_with_the_line():
    term_, findings = parse_appup(b'{"1",\n [{"0", [{load_module, m}]}],\n [}.\n', "bad.appup")
    assert term_ is None
    assert codes(findings) == ["file_problem"]
    assert "line 3" in findings[0].message and findings[0].source == "bad.appup"


def test_parse_appup_reads_the_first_term():
    term_, findings = parse_appup(b'{"1", [], []}.\n{"2", [], []}.\n', "two.appup")
    assert term_ == ("1", [], [])
    assert [(f.code, f.severity) for f in findings] == [("extra_terms", "warning")]
    assert parse_appup(b"%% nothing\n", "empty.appup")[1][0].code == "file_problem"


# ------------------------------------------------------------------------------------------------
# Version keys
# ------------------------------------------------------------------------------------------------


def test_key_text():
    assert key_text("1.0") == "1.0"
    assert key_text(b"1\\.0") == '<<"1\\\\.0">>'
    assert key_text(A("x")) == "x"


def test_version_matches_uses_the_leftmost_match():
    assert version_matches("1.0", "1.0") and not version_matches("1.0", "1.0.1")
    assert version_matches([49, 46, 48], "1.0")
    assert not version_matches(A("1.0"), "1.0")
    assert version_matches(b"1\\.0\\.1|1\\.0", "1.0.1")
    assert not version_matches(b"1\\.0|1\\.0\\.1", "1.0.1")
    assert version_matches(b"", "") and not version_matches(b"", "1")
    assert version_matches(b"^8\\.4\\.1(?:\\.[0-9]+)*$", "8.4.1.7")


def test_find_entry_takes_the_first_match_and_skips_junk():
    entries = [A("junk"), ("1.1", [1]), (b"1\\..*", [2]), ("1.0", [3])]
    assert find_entry(entries, "1.0") == (2, [2])
    assert find_entry(entries, "1.1") == (1, [1])
    assert find_entry(entries, "2.0") is None


@pytest.mark.parametrize(
    ("pcre", "python"),
    [
        ("1\\.0\\z", "1\\.0\\Z"),
        ("1\\.0\\Z", "1\\.0(?=\\n?\\Z)"),
        ("(?<v>1)", "(?P<v>1)"),
        ("(?'v'1)", "(?P<v>1)"),
        ("1{,2}", "1\\{,2\\}"),
        ("\\Q1.0\\E", "1\\.0"),
        ("\\x2e\\056\\e", "\\x2e\\x2e\\x1b"),
        ("[]a]", "[\\]a]"),
        ("(?i)rc", "(?i)rc"),
        ("(?#note)1", "1"),
    ],
)
def test_pcre_to_python_translates(pcre, python):
    assert pcre_to_python(pcre) == python


@pytest.mark.parametrize(
    ("pcre", "reason"),
    [
        ("a++", "possessive"),
        ("(?>a)", "PCRE-only group"),
        ("\\R", "\\R"),
        ("[[:^digit:]]", "POSIX"),
        ("[[.a.]]", "POSIX"),
        ("[\\H]", "inside a character class"),
        ("(*UCP)a", "verbs"),
        ("a(?i)b", "not at the start"),
        ("(?x)a", "extended"),
        ("a(", "missing )"),
        ("\\11", "multi-digit"),
    ],
)
def test_pcre_to_python_refuses(pcre, reason):
    with pytest.raises(UnsupportedRegex) as exc:
        pcre_to_python(pcre)
    assert reason in str(exc.value)


def test_regex_problem_and_non_ascii_limits():
    assert regex_problem(b"1\\.0") is None
    assert "UTF-8" in regex_problem(b"\xff")
    assert "non-ASCII" in regex_problem("(?i)é".encode())
    with pytest.raises(UnsupportedRegex, match="non-ASCII"):
        version_matches(b"\\w+", "é")
    assert version_matches(b".", "é")
