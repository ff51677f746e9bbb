# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for _relup (the port of systools_relup and of get_release's checks).

Equality with OTP itself is tested in tests/erlang/test_relup_vs_systools.py; here: the assembly
of the per-application scripts (with translate_scripts replaced by a recorder where only the
input to it matters), systools' ordering rules, the error terms and that messages name things.
"""
from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils import _relup
from ansible_collections.erlang.otp.plugins.module_utils._release import AppFacts, ReleaseFacts
from ansible_collections.erlang.otp.plugins.module_utils._relup import (
    RelupError,
    RelupWarning,
    appup_search_for_version,
    get_release,
    make_relup,
    regex_matches,
    relup_entries,
)
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, canonical

A = Atom
CORE = (("kernel", "8.5.3", []), ("stdlib", "4.2", ["kernel"]), ("sasl", "4.2", ["kernel", "stdlib"]))


def spec(name: str, vsn: str, modules=(), uses=("kernel", "stdlib"), **props) -> tuple:
    items = [(A("description"), f"{name} app"), (A("vsn"), vsn), (A("modules"), [A(m) for m in modules]),
             (A("registered"), [A(r) for r in props.pop("registered", [])]),
             (A("applications"), [A(u) for u in uses])]
    for key, value in props.items():
        items.append((A(key), [A(v) for v in value]))
    return (A("application"), A(name), items)


def app(name: str, vsn: str, modules=(), uses=("kernel", "stdlib"), type_: str = "permanent", incl=None,
        appup=None, **props) -> AppFacts:
    return AppFacts(name, vsn, start_type=type_, appup=appup, included_applications=incl,
                    app_spec=spec(name, vsn, modules or [f"{name}_mod"], uses, **props))


def rel(vsn: str, *apps: AppFacts, erts: str = "13.1.5", core=CORE, name: str = "r") -> ReleaseFacts:
    core_apps = [AppFacts(n, v, app_spec=spec(n, v, [f"{n}_{v.replace('.', '_')}"], uses)) for n, v, uses in core]
    return ReleaseFacts(name, vsn, erts, [*core_apps, *apps], source=f"<{name} {vsn}>")


def load(*mods: str) -> list:
    return [(A("load_module"), A(m)) for m in mods]


@pytest.fixture
def recorded(monkeypatch):
    """translate_scripts replaced: records (mode, scripts, appl names, pre-appl names)."""
    calls = []

    def fake(mode, scripts, appls, pre_appls):
        calls.append((mode, scripts, [a.name for a in appls], [a.name for a in pre_appls]))
        return [A("point_of_no_return"), *[i for s in scripts for i in s if i != A("point_of_no_return")]]

    monkeypatch.setattr(_relup, "translate_scripts", fake)
    return calls


# ------------------------------------------------------------------------------------------------
# Script assembly (systools_relup)
# ------------------------------------------------------------------------------------------------


def test_scripts_follow_added_changed_removed_order(recorded):
    appup = ("2", [("1", load("a_x"))], [("1", load("a_y"))])
    top = rel("9", app("b", "1", type_="load"), app("a", "2", ["a_x"], appup=appup), app("n", "1", type_="temporary"))
    base = rel("1", app("a", "1", ["a_y"]), app("gone", "1"), app("old", "3", type_="none"))
    make_relup(top, [base])
    (up_mode, up, up_appls, up_pre), (dn_mode, down, dn_appls, dn_pre) = recorded
    assert up_mode == "up" and dn_mode == "dn"
    assert up == [[(A("add_application"), A("b"), A("load"))], [(A("add_application"), A("n"), A("temporary"))],
                  load("a_x"), [(A("remove_application"), A("gone"))], [(A("remove_application"), A("old"))]]
    # going down the base's apps are added back with the base's types, the top's extra ones removed
    assert down == [[(A("add_application"), A("gone"), A("permanent"))],
                    [(A("add_application"), A("old"), A("none"))], load("a_y"),
                    [(A("remove_application"), A("b"))], [(A("remove_application"), A("n"))]]
    # Appls and PreAppls swap going down
    assert up_appls == dn_pre == ["kernel", "stdlib", "sasl", "b", "a", "n"]
    assert up_pre == dn_appls == ["kernel", "stdlib", "sasl", "a", "gone", "old"]


def test_unchanged_versions_need_no_appup(recorded):
    make_relup(rel("2", app("a", "1")), [rel("1", app("a", "1"))])
    assert [c[1] for c in recorded] == [[], []]


def test_appup_scripts_come_in_dependency_order(recorded):
    # a uses b (later in the .rel): systools puts b first, and so the scripts
    appups = {n: (v, [("1", load(f"{n}_mod"))], [("1", [])]) for n, v in (("a", "2"), ("b", "2"))}
    top = rel("2", app("a", "2", uses=["kernel", "stdlib", "b"], appup=appups["a"]), app("b", "2", appup=appups["b"]))
    make_relup(top, [rel("1", app("a", "1"), app("b", "1"))])
    assert recorded[0][1] == [load("b_mod"), load("a_mod")]
    assert recorded[0][2] == ["kernel", "stdlib", "sasl", "b", "a"]


def test_erts_change_restarts_first_and_restart_emulator_last(recorded):
    appup = ("2", [("1", load("a_mod"))], [("1", [])])
    relup = make_relup(rel("2", app("a", "2", appup=appup)), [rel("1", app("a", "1"), erts="12.0")],
                       restart_emulator=True)
    up_scripts, down_scripts = recorded[0][1], recorded[1][1]
    assert up_scripts[0] == down_scripts[0] == [A("restart_new_emulator")]
    assert up_scripts[-1] == down_scripts[-1] == [A("restart_emulator")]
    warning = (A("erts_vsn_changed"), (("r", "13.1.5"), ("r", "12.0")))
    assert [canonical(w.term) for w in relup.warnings] == [canonical(warning)] * 2
    assert "12.0" in relup.warnings[0].message and "13.1.5" in relup.warnings[0].message


def test_pre_r15_sasl_moves_the_emulator_restart_last():
    old_core = (("kernel", "8.5.3", []), ("stdlib", "4.2", ["kernel"]), ("sasl", "10.1", ["kernel", "stdlib"]))
    sasl_appup = ("4.2", [(b".*", [])], [(b".*", [])])
    top = rel("2", app("a", "1"))
    top.apps[2].appup = sasl_appup
    relup = make_relup(top, [rel("1", app("a", "1"), erts="12.0", core=old_core)], restart_emulator=True)
    up = relup.term[1][0][2]
    # "10.1" < "2.2" as Erlang strings: the restart goes last, restart_emulator is dropped
    assert up[-1] == A("restart_new_emulator") and A("restart_emulator") not in up
    erts = (A("erts_vsn_changed"), (("r", "13.1.5"), ("r", "12.0")))
    # newest first: the downgrade's ERTS warning, then the upgrade's two
    assert [w.term for w in relup.warnings] == [erts, A("pre_R15_emulator_upgrade"), erts]
    assert relup.term[2][0][2][-1] == A("restart_emulator")  # only the upgrade is changed


def test_bases_come_out_reversed_with_their_descriptions(recorded):
    appup = ("3", [(b".*", [])], [(b".*", [])])
    top = rel("3", app("a", "3", appup=appup))
    relup = make_relup(top, [rel("1", app("a", "1")), rel("2", app("a", "2"))], descriptions={"1": "first"})
    vsn, ups, downs = relup.term
    assert vsn == "3"
    assert [(e[0], e[1]) for e in ups] == [(e[0], e[1]) for e in downs] == [("2", []), ("1", "first")]


def test_relup_entries_is_one_base_of_make_relup():
    appup = ("2", [("1", load("a_x"))], [("1", load("a_x"))])
    top = rel("2", app("a", "2", ["a_x"], appup=appup))
    base = rel("1", app("a", "1", ["a_x"]))
    up, down, warnings = relup_entries(top, base, description="d")
    whole = make_relup(top, [base], descriptions={"1": "d"})
    assert (whole.term[1], whole.term[2]) == ([up], [down])
    assert warnings == whole.warnings
    assert up[2] == [(A("load_object_code"), (A("a"), "2", [A("a_x")])), A("point_of_no_return"),
                     (A("load"), (A("a_x"), A("brutal_purge"), A("brutal_purge")))]


def test_appups_argument_wins_over_the_release():
    shipped = ("2", [("1", [])], [("1", [])])
    given = ("2", [("1", load("a_x"))], [("1", [])])
    top = rel("2", app("a", "2", ["a_x"], appup=shipped))
    relup = make_relup(top, [rel("1", app("a", "1", ["a_x"]))], appups={"a": (given, "generated a.appup")})
    assert (A("load"), (A("a_x"), A("brutal_purge"), A("brutal_purge"))) in relup.term[1][0][2]


def test_bad_vsn_is_a_warning_per_direction(recorded):
    appup = ("2.0", [("1", [])], [("1", [])])
    relup = make_relup(rel("2", app("a", "2", appup=appup)), [rel("1", app("a", "1"))])
    assert [w.term for w in relup.warnings] == [(A("bad_vsn"), ("2.0", "2"))] * 2
    assert isinstance(relup.warnings[0], RelupWarning) and "2.0" in str(relup.warnings[0])


# ------------------------------------------------------------------------------------------------
# Appup version keys
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "found"),
    [
        ([("1.0", "exact")], "exact"),
        ([([49, 46, 48], "as list")], "as list"),  # "1.0" spelled as a list of integers
        ([(A("1.0"), "atom"), ("1.0", "string")], "string"),
        ([b"junk", ("0.9", "other"), (b"1\\.0", "regex")], "regex"),
        ([(b"1|1\\.0", "leftmost match is 1"), (b"1\\.0|1", "whole")], "whole"),
        ([(b"^1\\.[0-9]+$", "anchored")], "anchored"),
        ([(b"1\\.0\\z", "pcre \\z")], "pcre \\z"),
        ([(b"1[[:punct:]]0", "posix class")], "posix class"),
        ([(b"\\Q1.0\\E", "quoted")], "quoted"),
        ([(b"1\\.0{,3}", "literal {,3}"), (b".*", "any")], "any"),
        ([(b"\\d\\.\\d", "ascii digits")], "ascii digits"),
    ],
)
def test_appup_search_for_version(entries, found):
    assert appup_search_for_version("1.0", entries) == (True, found)


def test_no_entry_and_bad_entries():
    assert appup_search_for_version("1.0", [("1.0.1", []), (b"1\\.0\\.", [])]) == (False, None)
    with pytest.raises(ValueError, match="list"):
        appup_search_for_version("1.0", A("none"))
    with pytest.raises(ValueError, match="regular expression"):
        appup_search_for_version("1.0", [(b"(", [])])
    assert regex_matches("1.0\n", b"1\\.0\\Z") is False  # whole subject only
    assert regex_matches("\u0661", b"\\d") is False  # PCRE without ucp: ASCII digits


# ------------------------------------------------------------------------------------------------
# get_release
# ------------------------------------------------------------------------------------------------


def _names(release) -> list:
    return [a.name for a in get_release(release).apps]


def test_sort_appls_moves_dependencies_first():
    release = rel("1", app("x", "1", uses=["kernel", "stdlib", "z", "y"]), app("y", "1", uses=["kernel", "z"]),
                  app("z", "1"))
    assert _names(release) == ["kernel", "stdlib", "sasl", "z", "y", "x"]


def test_an_including_app_may_be_used_by_its_included_app():
    # included applications come first (they are loaded before the one that starts them)
    release = rel("1", app("top", "1", included_applications=["inc"]),
                  app("inc", "1", uses=["kernel", "stdlib", "top"]))
    assert _names(release) == ["kernel", "stdlib", "sasl", "inc", "top"]


def test_rel_incl_wins_over_the_app_file():
    release = rel("1", app("top", "1", incl=[], included_applications=["inc"]), app("inc", "1"))
    ctx = get_release(release)
    assert next(a for a in ctx.apps if a.name == "top").includes == []
    bad = rel("1", app("top", "1", incl=["other"], included_applications=["inc"]), app("inc", "1"), app("other", "1"))
    with pytest.raises(RelupError) as caught:
        get_release(bad)
    assert caught.value.reason == [(A("error_reading"), (A("top"), (A("override_include"), [A("other")])))]
    assert "lib/top-1/ebin/top.app" in str(caught.value)


def test_uses_of_an_included_app_point_to_its_top():
    release = rel("1", app("user", "1", uses=["kernel", "stdlib", "inc"]),
                  app("top", "1", included_applications=["inc"]), app("inc", "1"))
    ctx = get_release(release)
    assert next(a for a in ctx.apps if a.name == "user").uses == ["kernel", "stdlib", "top"]
    assert [a.name for a in ctx.apps] == ["kernel", "stdlib", "sasl", "inc", "top", "user"]


def test_circular_dependencies():
    release = rel("1", app("a", "1", uses=["kernel", "stdlib", "b"]), app("b", "1", uses=["kernel", "stdlib", "a"]))
    with pytest.raises(RelupError) as caught:
        get_release(release)
    assert caught.value.module == "systools_make"
    assert caught.value.reason == (A("circular_dependencies"), [(A("b"), "1"), (A("a"), "1")])
    assert "circular" in str(caught.value) and "r 1" in str(caught.value)


def test_circular_includes_are_refused_not_looped():
    release = rel("1", app("a", "1", included_applications=["b"]), app("b", "1", included_applications=["a"]))
    with pytest.raises(RelupError, match="include each other"):
        get_release(release)


@pytest.mark.parametrize(
    ("release", "reason"),
    [
        (rel("1", app("a", "1", uses=["kernel", "stdlib", "nowhere", "other"], optional_applications=["other"])),
         (A("undefined_applications"), [A("nowhere")])),
        (rel("1", app("a", "1", ["m"]), app("b", "1", ["x", "m"])),
         (A("duplicate_modules"), [((A("m"), A("a"), "lib/a-1/ebin"), (A("m"), A("b"), "lib/b-1/ebin"))])),
        (rel("1", app("a", "1", registered=["s"]), app("b", "1", registered=["s"])),
         (A("duplicate_register"), [((A("s"), A("a"), "1", "lib/a-1/ebin"), (A("s"), A("b"), "1", "lib/b-1/ebin"))])),
        (rel("1", core=CORE[1:]), (A("missing_mandatory_app"), A("kernel"))),
        (rel("1", AppFacts("ghost", "1"), AppFacts("ghost2", "1")),
         [(A("error_reading"), (A("ghost2"), (A("not_found"), "ghost2.app"))),
          (A("error_reading"), (A("ghost"), (A("not_found"), "ghost.app")))]),
    ],
)
def test_get_release_errors(release, reason):
    with pytest.raises(RelupError) as caught:
        get_release(release)
    assert caught.value.module == "systools_make"
    assert canonical(caught.value.reason) == canonical(reason)
    assert "release r 1" in str(caught.value)


def test_app_file_parameters_are_checked():
    props = [(A("vsn"), "1"), (A("description"), "d"), (A("modules"), []), (A("registered"), [])]
    facts = AppFacts("a", "1", app_spec=(A("application"), A("a"), props))
    with pytest.raises(RelupError, match="applications is missing") as caught:
        get_release(rel("1", facts))
    assert caught.value.reason[0][1][1][0] == (A("missing_param"), A("applications"))
    facts.app_spec[2].append((A("applications"), []))
    facts.app_spec[2].append((A("maxP"), -1))
    with pytest.raises(RelupError, match="maxP has a bad value"):
        get_release(rel("1", facts))
    facts.app_spec[2][-1] = (A("vsn"), "2")  # only the first vsn counts
    assert _names(rel("1", facts))[-1] == "a"
    facts.app_spec[2][0] = (A("vsn"), "1.1")
    with pytest.raises(RelupError, match=r"has vsn 1\.1, the \.rel file lists 1"):
        get_release(rel("1", facts))


# ------------------------------------------------------------------------------------------------
# make_relup errors
# ------------------------------------------------------------------------------------------------


def test_missing_sasl_names_the_release(recorded):
    without = (("kernel", "8.5.3", []), ("stdlib", "4.2", ["kernel"]))
    for top, base in [(rel("2", core=without), rel("1")), (rel("2"), rel("1", core=without))]:
        with pytest.raises(RelupError, match="no sasl") as caught:
            make_relup(top, [base])
        culprit = top if top.apps[-1].name != "sasl" else base
        assert caught.value.module == "systools_relup"
        assert caught.value.reason == (A("missing_sasl"), (
            A("release"), "r", culprit.vsn, "13.1.5",
            [(A("kernel"), "8.5.3", A("permanent")), (A("stdlib"), "4.2", A("permanent"))], []))
    assert recorded == []


def test_no_relup_and_no_appup_name_file_app_and_versions():
    top = rel("2", app("a", "2", appup=("2", [("0", [])], [("1", [])])))
    with pytest.raises(RelupError) as caught:
        make_relup(top, [rel("1", app("a", "1"))])
    assert caught.value.reason == (A("no_relup"), "lib/a-2/ebin/a.appup", A("a"), "1")
    message = str(caught.value)
    assert "<r 2>: lib/a-2/ebin/a.appup" in message and "version 1" in message and "upgrade from release r 1" in message
    top.apps[-1].appup = None
    with pytest.raises(RelupError, match="no appup for application a 2") as caught:
        make_relup(top, [rel("1", app("a", "1"))])
    assert caught.value.reason[0] == A("file_problem")


def test_translation_errors_name_the_base_and_direction():
    appup = ("2", [("1", [(A("load_module"), A("a_x"), [A("zz")])])], [("1", [])])
    top = rel("2", app("a", "2", ["a_x"], appup=appup))
    with pytest.raises(RelupError, match="upgrade from release r 1") as caught:
        make_relup(top, [rel("1", app("a", "1", ["a_x"]))])
    assert caught.value.module == "systools_rc"
    assert caught.value.reason == (A("undef_module"), A("zz"))
