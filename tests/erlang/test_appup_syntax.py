# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The appup grammar against OTP's own ``systools_rc``, on hand-picked and generated cases.

``tests/erlang/appup_syntax.escript`` runs ``expand_script`` + ``check_syntax`` (a recompiled copy of
the installed ``systools_rc`` with everything exported), ``translate_scripts/4`` for whole entries,
and ``re:run`` for version regexes. The verdicts must agree; for single instructions the error name
must be the same too.
"""

from __future__ import annotations

import random

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup_check import order_verdicts
from ansible_collections.erlang.otp.plugins.module_utils._appup_syntax import (
    UnsupportedRegex,
    expand_script,
    parse_appup,
    validate_appup,
    validate_instruction,
    validate_instructions,
    version_matches,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps, parse
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ImproperList

from tests.support.etf_canon import canon
from tests.support.otp import otp_root, requires_erlang, run_escript

pytestmark = [pytest.mark.erlang, requires_erlang]

A = Atom
CRASH_CODES = {"improper_list"}  # where systools crashes instead of throwing a named error


def _otp(cases: list, tmp_path) -> list[str]:
    corpus = tmp_path / "corpus.terms"
    corpus.write_text(dumps(cases), encoding="utf-8")
    lines = run_escript("appup_syntax.escript", str(corpus)).decode().splitlines()
    assert len(lines) == len(cases)
    return lines


# ------------------------------------------------------------------------------------------------
# Single instructions
# ------------------------------------------------------------------------------------------------

HAND_PICKED = """
{load_module, m}. {load_module, m, [a, b]}. {load_module, m, soft_purge, soft_purge, []}.
{load_module, m, brutal_purge, soft_purge, [a]}. {load_module, m, hard_purge, soft_purge, []}.
{load_module, m, brutal_purge, soft_purge, a}. {load_module, m, brutal_purge, soft_purge, [a, "b"]}.
{load_module, "m"}. {load_module, m, "ab"}. {load_module, m, ""}. {load_module, m, a}. {load_module}.
{update, m}. {update, m, supervisor}. {update, m, soft}. {update, m, {advanced, []}}. {update, m, [a]}.
{update, m, {advanced, x}, [a]}. {update, m, soft, [a]}. {update, m, hard}. {update, m, {advanced}}.
{update, m, {}}. {update, m, {advanced, 1, 2}, [a]}. {update, m, soft, a}. {update, m, supervisor, [a]}.
{update, m, soft, soft_purge, soft_purge, []}. {update, m, {advanced, 1}, brutal_purge, soft_purge, [a]}.
{update, m, 5000, soft, soft_purge, soft_purge, []}. {update, m, infinity, soft, soft_purge, soft_purge, []}.
{update, m, default, soft, soft_purge, soft_purge, []}. {update, m, 0, soft, soft_purge, soft_purge, []}.
{update, m, -1, soft, soft_purge, soft_purge, []}. {update, m, 1.5, soft, soft_purge, soft_purge, []}.
{update, m, static, default, {advanced, []}, brutal_purge, brutal_purge, []}.
{update, m, dynamic, 10, soft, brutal_purge, brutal_purge, [a, b]}.
{update, m, sticky, 10, soft, brutal_purge, brutal_purge, [a, b]}.
{update, m, static, never, soft, brutal_purge, brutal_purge, []}.
{update, m, static, default, hard, brutal_purge, brutal_purge, []}.
{update, m, static, default, soft, nope, brutal_purge, []}. {update, m, static, default, soft, brutal_purge, nope, []}.
{update, m, static, default, soft, brutal_purge, brutal_purge, nope}.
{update, 1, static, default, soft, brutal_purge, brutal_purge, []}. {update, m, soft, brutal_purge, brutal_purge}.
{add_module, m}. {add_module, m, [a]}. {add_module, m, a}. {add_module, "m"}. {add_module, m, [1]}.
{delete_module, m}. {delete_module, m, []}. {delete_module, m, [a], x}. {delete_module, <<"m">>}.
{add_application, a}. {add_application, a, load}. {add_application, a, none}. {add_application, a, temporary}.
{add_application, a, transient}. {add_application, a, permanent}. {add_application, a, restart}.
{add_application, "a"}. {remove_application, a}. {remove_application, "a"}. {restart_application, a}.
{restart_application, a, b}. restart. reboot. restart_new_emulator. restart_emulator. point_of_no_return.
mnesia_backup. {mnesia_backup}. bogus. {bogus, m}. 42. "". "ab". [].
{load_object_code, {a, "1.0", [m, n]}}. {load_object_code, {a, "1.0", [m | n]}}. {load_object_code, {a, '1.0', []}}.
{load_object_code, {"a", "1.0", []}}. {load_object_code, {a, "1.0", m}}. {load_object_code, {a, [1 | 2], []}}.
{load_object_code, {a, "1.0"}}. {load_object_code, a, "1.0", []}.
{load, {m, soft_purge, brutal_purge}}. {load, {m, soft_purge}}. {load, {m, x, brutal_purge}}. {load, m}.
{remove, {m, brutal_purge, brutal_purge}}. {remove, {"m", brutal_purge, brutal_purge}}.
{purge, [m]}. {purge, m}. {purge, [m, 1]}. {purge, "m"}. {purge, []}.
{suspend, [m, {n, 100}, {o, infinity}, {p, default}]}. {suspend, [{m, 0}]}. {suspend, [{m, 1, 2}]}.
{suspend, m}. {suspend, [{1, 2}]}. {resume, [m]}. {resume, [m | n]}. {resume, ["m"]}.
{code_change, [{m, x}]}. {code_change, [m]}. {code_change, m}. {code_change, up, [{m, x}]}.
{code_change, down, [{m, {down, 1}}]}. {code_change, sideways, [{m, x}]}. {code_change, sideways, m}.
{code_change, up, [{1, x}]}. {code_change, up, [{m, x} | y]}.
{stop, [m]}. {start, [m]}. {start, m}. {stop, [1]}.
{sync_nodes, id, [a@h, b@h]}. {sync_nodes, id, {m, f, []}}. {sync_nodes, id, {m, f, a}}.
{sync_nodes, id, {1, f, []}}. {sync_nodes, id, {m, "f", []}}. {sync_nodes, id, [a@h, "b"]}.
{sync_nodes, id, x}. {sync_nodes, id, {m, f}}. {sync_nodes, id}.
{apply, {m, f, []}}. {apply, {m, f, [1, 2]}}. {apply, {m, f, a}}. {apply, {m, f, [a | b]}}.
{apply, {"m", f, []}}. {apply, {m, 1, []}}. {apply, {m, f}}. {apply, m, f, []}.
[{load_module, m, brutal_purge, brutal_purge, []}]. [{load_module, m}]. [restart, {purge, x}].
[restart | reboot]. {update, m, [a | b]}. {load_module, m, [a | b]}. {update, m, soft, [a | b]}.
{true, m}. {update, true}. {load_module, false, [true]}.
"""


def _hand_picked() -> list:
    return parse(HAND_PICKED, "HAND_PICKED")


POOL = [
    A("m"),
    A("n"),
    A("soft_purge"),
    A("brutal_purge"),
    A("soft"),
    A("supervisor"),
    A("static"),
    A("dynamic"),
    A("default"),
    A("infinity"),
    A("up"),
    A("down"),
    A("permanent"),
    A("load"),
    A("none"),
    A("a@host"),
    A("advanced"),
    0,
    1,
    -3,
    5000,
    1.0,
    "",
    "1.0",
    "m",
    [],
    [A("m")],
    [A("m"), A("n")],
    [A("m"), 1],
    [(A("m"), 10)],
    [(A("m"), A("x"))],
    [(A("m"), 0)],
    ImproperList([A("m")], A("n")),
    (A("advanced"), []),
    (A("advanced"), A("x")),
    (A("advanced"),),
    (A("m"), A("f"), []),
    (A("m"), A("f"), A("x")),
    (A("m"), A("brutal_purge"), A("soft_purge")),
    (A("m"), 1),
    (A("lib"), "1", [A("m")]),
    b"m",
]

TEMPLATES = [
    (A("load_module"), A("m")),
    (A("load_module"), A("m"), [A("n")]),
    (A("load_module"), A("m"), A("soft_purge"), A("brutal_purge"), [A("n")]),
    (A("update"), A("m")),
    (A("update"), A("m"), A("supervisor")),
    (A("update"), A("m"), (A("advanced"), [])),
    (A("update"), A("m"), A("soft"), [A("n")]),
    (A("update"), A("m"), (A("advanced"), 1), A("soft_purge"), A("soft_purge"), [A("n")]),
    (A("update"), A("m"), 100, A("soft"), A("soft_purge"), A("soft_purge"), []),
    (A("update"), A("m"), A("static"), A("infinity"), A("soft"), A("soft_purge"), A("soft_purge"), []),
    (A("add_module"), A("m")),
    (A("add_module"), A("m"), [A("n")]),
    (A("delete_module"), A("m")),
    (A("delete_module"), A("m"), [A("n")]),
    (A("add_application"), A("a")),
    (A("add_application"), A("a"), A("load")),
    (A("remove_application"), A("a")),
    (A("restart_application"), A("a")),
    (A("load_object_code"), (A("lib"), "1.0", [A("m")])),
    (A("load"), (A("m"), A("soft_purge"), A("brutal_purge"))),
    (A("remove"), (A("m"), A("brutal_purge"), A("brutal_purge"))),
    (A("purge"), [A("m")]),
    (A("suspend"), [A("m"), (A("n"), 10)]),
    (A("resume"), [A("m")]),
    (A("code_change"), [(A("m"), [])]),
    (A("code_change"), A("down"), [(A("m"), [])]),
    (A("stop"), [A("m")]),
    (A("start"), [A("m")]),
    (A("sync_nodes"), A("id"), [A("a@host")]),
    (A("sync_nodes"), A("id"), (A("m"), A("f"), [])),
    (A("apply"), (A("m"), A("f"), [1])),
]


def _mutate(rng: random.Random, term: object, depth: int = 0) -> object:
    """``term`` with one element (possibly nested one level) replaced, dropped or duplicated."""
    if not isinstance(term, tuple) or not term:
        return rng.choice(POOL)
    items = list(term)
    i = rng.randrange(len(items))
    action = rng.random()
    if isinstance(items[i], tuple) and depth == 0 and action < 0.3:
        items[i] = _mutate(rng, items[i], depth + 1)
    elif action < 0.75 or len(items) == 1:
        items[i] = rng.choice(POOL)
    elif action < 0.88:
        del items[i]
    else:
        items.insert(i, rng.choice(POOL))
    return tuple(items)


def _generated(count: int, seed: int = 20240603) -> list:
    rng = random.Random(seed)
    out = []
    for _unused in range(count):
        base = rng.choice(TEMPLATES)
        roll = rng.random()
        if roll < 0.15:
            out.append(base)  # valid as is
        elif roll < 0.9:
            out.append(_mutate(rng, base))
        else:
            out.append(_mutate(rng, _mutate(rng, base)))
    return out


def _ours(instr: object) -> str:
    finding = validate_instruction(instr)
    return "ok" if finding is None else f"error {finding.code}"


def _same(ours: str, otp: str) -> bool:
    if ours == otp:
        return True
    # systools crashes (function_clause/badarg) on improper lists instead of naming the error.
    return ours.rsplit(maxsplit=1)[-1] in CRASH_CODES and otp.startswith("crash ")


def test_single_instructions_agree_with_systools(tmp_path):
    cases = _hand_picked() + _generated(400)
    otp = _otp([(A("instr"), c) for c in cases], tmp_path)
    mismatches = []
    for case, expected in zip(cases, otp):
        ours = _ours(case)
        if not _same(ours, expected):
            mismatches.append(f"{case!r}: ours {ours}, systools {expected}")
    assert not mismatches, "\n".join(mismatches)
    verdicts = {line.split()[0] for line in otp}
    codes = {line.split()[1] for line in otp if line.startswith("error ")}
    assert verdicts == {"ok", "error", "crash"}
    # The corpus exercises every named syntax error of check_op.
    assert {
        "bad_instruction",
        "bad_module",
        "bad_change",
        "bad_mod_type",
        "bad_purge_method",
        "bad_list",
        "bad_args_list",
        "bad_node",
        "bad_application",
        "bad_start_type",
        "bad_func",
        "bad_lib",
        "bad_lib_vsn",
        "bad_timeout",
        "bad_mode",
        "bad_code_change",
        "not_yet_implemented",
    } <= codes
    assert sum(line == "ok" for line in otp) >= 60


def test_expansion_is_expand_script(tmp_path):
    cases = _hand_picked() + _generated(200)
    scripts = [cases[i : i + 3] for i in range(0, len(cases), 3)]
    otp = _otp([(A("expand"), s) for s in scripts], tmp_path)
    crashes = 0
    for script, expected in zip(scripts, otp):
        try:
            ours = canon(expand_script(script))
        except ValueError:
            ours = "crash error"
            crashes += 1
        assert ours == expected, script
    assert crashes >= 1


# ------------------------------------------------------------------------------------------------
# Whole entries: translate_scripts/4 on one application's script
# ------------------------------------------------------------------------------------------------

MODS = [A("a"), A("b"), A("c"), A("d")]
BP = A("brutal_purge")


def _random_instr(rng: random.Random) -> object:
    mod = rng.choice(MODS)
    deps = rng.sample([*MODS, A("e")], rng.choice([0, 0, 1, 1, 2]))
    kind = rng.randrange(16)
    return [
        (A("load_module"), mod, deps),
        (A("update"), mod, (A("advanced"), []), deps),
        (A("update"), mod, A("supervisor")),
        (A("add_module"), mod, deps),
        (A("delete_module"), mod, deps),
        (A("update"), mod, 50, A("soft"), BP, BP, deps),
        A("point_of_no_return"),
        (A("apply"), (A("io"), A("format"), ["x"])),
        (A("load_object_code"), (A("lib_x"), rng.choice(["1", "2"]), [mod])),
        (A("load"), (mod, BP, BP)),
        (A("suspend"), [mod]),
        (A("resume"), [mod]),
        (A("stop"), [mod]),
        (A("start"), [mod]),
        (A("code_change"), A("up"), [(mod, [])]),
        rng.choice([A("restart_emulator"), A("restart_new_emulator"), (A("purge"), [mod])]),
    ][kind]


def _scripts(count: int, seed: int = 7) -> list:
    rng = random.Random(seed)
    return [[_random_instr(rng) for _step in range(rng.randint(1, 6))] for _unused in range(count)]


HAND_SCRIPTS = """
[{load_module, a}, {update, b, {advanced, []}, [a]}, {add_module, c, [a, b]}, {delete_module, d}].
[{load_module, a, [b]}, {load_module, b, [a]}].
[{load_module, a, [e]}].
[{load_module, a}, {load_module, a}].
[{load_module, a}, {update, a}].
[{apply, {io, format, ["x"]}}, point_of_no_return, {load_module, a}].
[{load_module, a}, point_of_no_return].
[point_of_no_return, point_of_no_return].
[{load_object_code, {lib_x, "1", [a]}}, point_of_no_return, {load, {a, brutal_purge, brutal_purge}}].
[{load, {a, brutal_purge, brutal_purge}}].
[{load_object_code, {lib_x, "1", [a]}}, {load_object_code, {lib_x, "2", [b]}}].
[{suspend, [a, {b, 10}]}, {resume, [b, a]}].
[{suspend, [a]}, {resume, [b]}].
[{stop, [a]}, {start, [a]}].
[{start, [a]}].
[{code_change, up, [{a, []}]}].
[[{load_module, a, brutal_purge, brutal_purge, []}], {load_module, b}].
[[{load_module, a}]].
[{update, a, supervisor}, {update, b, supervisor, [a]}].
[restart_new_emulator, {load_module, a}, restart_emulator].
[].
"""


def test_entries_agree_with_translate_scripts(tmp_path):
    scripts = parse(HAND_SCRIPTS, "HAND_SCRIPTS") + _scripts(300)
    otp = _otp([(A("script"), MODS, s) for s in scripts], tmp_path)
    mismatches = []
    kinds: dict = {}
    for script, line in zip(scripts, otp):
        up, down = line.split()
        assert (up == "ok") == (down == "ok"), f"{script!r}: up {up}, down {down}"
        findings = [f for f in validate_instructions(script) if f.severity == "error"]
        codes = {f.code for f in findings}
        if up == "ok":
            if findings:
                mismatches.append(f"{script!r}: systools accepts it, we report {codes}")
        elif not findings:
            mismatches.append(f"{script!r}: systools says {up}, we accept it")
        elif up.startswith("error:") and up[len("error:") :] not in codes:
            mismatches.append(f"{script!r}: systools says {up}, we report {codes}")
        kinds[up] = kinds.get(up, 0) + 1
    assert not mismatches, "\n".join(mismatches)
    assert kinds.get("ok", 0) >= 40
    assert {
        "error:undef_module",
        "error:muldef_module",
        "error:no_object_code",
        "error:bad_op_before_point_of_no_return",
        "error:too_many_point_of_no_return",
        "error:suspended_not_resumed",
        "error:resumed_not_suspended",
        "error:start_not_stop",
        "error:stop_not_start",
        "error:conflicting_versions",
        "error:bad_instruction",
    } <= set(kinds)


# ------------------------------------------------------------------------------------------------
# Version regexes
# ------------------------------------------------------------------------------------------------

REGEXES = [
    r".*",
    r"",
    r"1\.0",
    r"1\.0|1\.0\.1",
    r"1\.0\.1|1\.0",
    r"^1\.0$",
    r"^1\.0",
    r"1\.0$",
    r"1\.[0-9]+",
    r"1\.\d+(\.\d+)*",
    r"^8\.4\.1(?:\.[0-9]+)*$",
    r"0(\..*)?",
    r"[0-9]+\.[0-9]+\.[0-9]+",
    r"1\.0\.[0-9]",
    r"(1|2)\.0",
    r"1\.0(-rc\d+)?",
    r"(?i)1\.0-RC1",
    r"1\.0\Z",
    r"1\.0\z",
    r"\A1",
    r"1{,2}\.0",
    r"1{2}",
    r"1{1,3}\.0",
    r"1\x2e0",
    r"1\056\d",
    r"\Q1.0\E",
    r"1[.]0",
    r"1[^0-9]0",
    r"[]1]\.0",
    r"1\.0\b",
    r"\w+\.\w+",
    r"1(?=\.)\.0",
    r"1(?!\.1)\.\d",
    r"(?<=1)\.0",
    r"(?<v>1)\.0",
    r"(?P<v>1)\.(?P=v)",
    r"(1)\.\1",
    r"1\.0(?#comment)",
    r"(?:1|10)\.0",
    r"1.0",
    r"\d+\.\d+?",
    r"1\.0+",
    r"1\.0++",
    r"(?>1)\.0",
    r"1\h0",
    r"1\R",
    r"[[:digit:]]\.0",
    r"[[:^digit:]]\.0",
    r"[[:punct:][:digit:]]+",
    r"1[\h.]0",
    r"1\H0",
    r"\p{N}\.0",
    r"(*UTF8)1\.0",
    r"1\.0(",
    r"1\.0)",
    r"[1",
    r"*1",
    r"1\K\.0",
    r"1(?|a|b)",
    r"1\.0\e",
    r"1\.0{,}",
    r"a#b",
    r"1 0",
    r"1\.0\v",
    "\\",
    r"1**",
    r"(?x) 1 \. 0",
    r"1(?i)\.0",
    r"é",
    r"1\é",
]
PCRE_ONLY = {
    r"1\.0++",
    r"(?>1)\.0",
    r"1\R",
    r"[[:^digit:]]\.0",
    r"\p{N}\.0",
    r"(*UTF8)1\.0",
    r"1\K\.0",
    r"1(?|a|b)",
    r"(?x) 1 \. 0",
    r"1(?i)\.0",
}
VERSIONS = [
    "1.0",
    "1.0.1",
    "1.0.10",
    "10.0",
    "1",
    "11",
    "",
    "0",
    "0.9",
    "1.0-rc1",
    "1.0-RC1",
    "1.0\n",
    "2.0",
    "8.4.1",
    "8.4.1.2",
    "1{,2}.0",
    "1x0",
    "1.1",
    "1 0",
    "a#b",
    "é",
    "1.00",
]


def _random_regexes(count: int, seed: int = 11) -> list:
    rng = random.Random(seed)
    atoms = ["1", "0", "\\.", ".", "[0-9]", "\\d", "x", "-", "rc", "^", "$", "[.x]", "\\w"]
    quant = ["", "", "", "*", "+", "?", "{2}", "{1,}", "*?", "{,2}", "{0,1}?"]

    def piece(depth: int) -> str:
        if depth < 2 and rng.random() < 0.25:
            body = "|".join(seq(depth + 1) for _unused in range(rng.randint(1, 3)))
            return rng.choice(["(", "(?:"]) + body + ")" + rng.choice(quant)
        return rng.choice(atoms) + rng.choice(quant)

    def seq(depth: int) -> str:
        return "".join(piece(depth) for _unused in range(rng.randint(1, 4)))

    out = [seq(0) for _unused in range(count)]
    # A few broken ones: PCRE refuses them, so must we.
    out += [r[: rng.randrange(len(r) + 1)] + rng.choice(["(", ")", "[", "\\", "*", "{2}{3}"]) for r in out[:20]]
    return out


def test_version_regexes_agree_with_re_run(tmp_path):
    regexes = REGEXES + _random_regexes(150)
    pairs = [(r, v) for r in regexes for v in VERSIONS]
    otp = _otp([(A("regex"), r.encode(), v) for r, v in pairs], tmp_path)
    refused = set()
    mismatches = []
    for (regex, vsn), expected in zip(pairs, otp):
        try:
            ours = "match" if version_matches(regex.encode(), vsn) else "nomatch"
        except UnsupportedRegex:
            if expected != "badarg" and vsn.isascii():
                refused.add(regex)
            continue
        if ours != expected:  # includes a regex PCRE refuses (badarg) that we would evaluate
            mismatches.append(f"{regex!r} on {vsn!r}: ours {ours}, re:run {expected}")
    assert not mismatches, "\n".join(mismatches)
    # Among the regexes PCRE accepts, only those with PCRE-only syntax are refused.
    assert refused == PCRE_ONLY
    assert sum(line == "match" for line in otp) >= 200
    # The leftmost match, not any match, must span the version.
    assert version_matches(rb"1\.0\.1|1\.0", "1.0.1") and not version_matches(rb"1\.0|1\.0\.1", "1.0.1")


# ------------------------------------------------------------------------------------------------
# OTP's own appups
# ------------------------------------------------------------------------------------------------


def test_otp_shipped_appups_are_accepted(tmp_path):
    files = sorted(otp_root().glob("lib/*/ebin/*.appup"))
    assert len(files) >= 20
    cases = []
    regex_cases = []
    for path in files:
        term, findings = parse_appup(path.read_bytes(), str(path))
        assert term is not None, findings
        findings += validate_appup(term, str(path), app=path.stem)
        assert not findings, "\n".join(str(f) for f in findings)
        for entries in term[1:]:
            for key, instrs in entries:
                cases.append((A("syntax"), instrs))
                if isinstance(key, bytes):
                    for vsn in ("1.0", term[0], "8.4.1.3", "3.5"):
                        regex_cases.append((key, vsn))
    otp = _otp(cases + [(A("regex"), k, v) for k, v in regex_cases], tmp_path)
    assert otp[: len(cases)] == ["ok"] * len(cases)
    for (key, vsn), expected in zip(regex_cases, otp[len(cases) :]):
        assert ("match" if version_matches(key, vsn) else "nomatch") == expected, (key, vsn)
    assert regex_cases


# ------------------------------------------------------------------------------------------------
# The order systools gives an entry (what _appup_check's order rule relies on)
# ------------------------------------------------------------------------------------------------

ORDER_MODS = [A(m) for m in "abcdefg"]


def _order_entries(count: int, seed: int = 5) -> list:
    rng = random.Random(seed)
    out = []
    for _unused in range(count):
        mods = rng.sample(ORDER_MODS, rng.randint(2, 7))
        entry = []
        for mod in mods:
            deps = [d for d in mods if d != mod and rng.random() < 0.3]
            kind = rng.randrange(4)
            if kind == 0:
                entry.append((A("load_module"), mod, deps))
            elif kind == 1:
                entry.append((A("update"), mod, (A("advanced"), []), deps))
            elif kind == 2:
                entry.append((A("add_module"), mod, deps))
            else:
                entry.append((A("delete_module"), mod, deps))
        out.append(entry)
    return out


def test_order_guarantees_hold_in_systools(tmp_path):
    entries = _order_entries(300)
    otp = _otp([(A("order"), ORDER_MODS, e) for e in entries], tmp_path)
    decided = undecided = 0
    for entry, line in zip(entries, otp):
        sequences = dict(zip(("up", "down"), line.split(";")))
        for direction, text in sequences.items():
            sequence = text.split(",")
            assert sorted(sequence) == sorted(str(i[1]) for i in entry)
            for (x, y), verdict in order_verdicts(entry, direction).items():
                if verdict is None:
                    undecided += 1
                    continue
                decided += 1
                assert verdict == (sequence.index(x) < sequence.index(y)), (entry, direction, x, y, sequence)
    assert decided > 5 * undecided > 0
