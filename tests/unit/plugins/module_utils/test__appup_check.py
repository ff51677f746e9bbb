# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for _appup_check: a correct appup passes, each planted mistake is found.

The application (facts, as a release manifest gives them), version 1 -> 2:

=========  ==========================  ===============================================
module     1                           2
=========  ==========================  ===============================================
lib        library                     changed, calls ``fresh``
srv        gen_server, calls lib, gone  changed (code_change), calls lib and ``worker``
sup        supervisor, child srv       changed, children srv and ``worker``
gone       library                     deleted
same       library                     unchanged
fresh      --                          added library
worker     --                          added gen_server
=========  ==========================  ===============================================
"""

from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup_check import check_appup
from ansible_collections.erlang.otp.plugins.module_utils._child_specs import ChildSpec, SupervisorChildren
from ansible_collections.erlang.otp.plugins.module_utils._release import AppFacts, ModuleFacts
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

A = Atom


def children(*ids: str) -> SupervisorChildren:
    return SupervisorChildren(
        children=[ChildSpec(A(i), A(i), "worker") for i in ids], registered_name=A("sup"), strategy="one_for_one"
    )


def mod(name: str, md5: str, **kw) -> ModuleFacts:
    return ModuleFacts(name, md5 * 32 if len(md5) == 1 else md5, **kw)


def old_app(vsn: str = "1", **extra) -> AppFacts:
    modules = [
        mod("lib", "a"),
        mod("srv", "b", behaviours=["gen_server"], imports=["lib", "gone"], exports_code_change=True),
        mod("sup", "c", behaviours=["supervisor"], supervisor=children("srv")),
        mod("gone", "d"),
        mod("same", "e"),
    ]
    return AppFacts("app", vsn, modules, **extra)


def new_app(vsn: str = "2", **extra) -> AppFacts:
    modules = [
        mod("lib", "1", imports=["fresh"]),
        mod("srv", "2", behaviours=["gen_server"], imports=["lib", "worker"], exports_code_change=True),
        mod("sup", "3", behaviours=["supervisor"], supervisor=children("srv", "worker")),
        mod("same", "e"),
        mod("fresh", "4"),
        mod("worker", "5", behaviours=["gen_server"], exports_code_change=True),
    ]
    return AppFacts("app", vsn, modules, **extra)


UP = """[{add_module, fresh}, {load_module, lib, [fresh]}, {add_module, worker},
 {update, srv, {advanced, []}, [lib, worker]}, {delete_module, gone, [srv]},
 {update, sup, supervisor}, {apply, {supervisor, restart_child, [sup, worker]}}]"""
DOWN = """[{apply, {supervisor, terminate_child, [sup, worker]}}, {apply, {supervisor, delete_child, [sup, worker]}},
 {update, sup, supervisor}, {update, srv, {advanced, []}, [lib, worker]}, {add_module, gone, [srv]},
 {load_module, lib, [fresh]}, {delete_module, worker}, {delete_module, fresh}]"""


def appup(up: str = UP, down: str = DOWN, vsn: str = '"2"', key: str = '"1"') -> object:
    return parse_one(f"{{{vsn}, [{{{key}, {up}}}], [{{{key}, {down}}}]}}.", "<test>")


def check(term: object, previous: list | None = None, current: AppFacts | None = None, **kw) -> list:
    return check_appup(term, previous or [old_app()], current or new_app(), "app.appup", **kw)


def found(findings: list) -> list:
    return sorted((f.severity, f.code, f.direction) for f in findings)


def test_a_correct_appup_passes():
    assert check(appup()) == []


def test_findings_are_precise():
    term = appup(up=UP.replace("{load_module, lib, [fresh]}", "{load_module, lib, [fresh, nosuch]}"))
    (finding,) = check(term)
    assert (finding.severity, finding.code, finding.app, finding.source) == (
        "error",
        "undef_module",
        "app",
        "app.appup",
    )
    assert (finding.direction, finding.from_vsn, finding.to_vsn, finding.index) == ("up", "1", "2", 2)
    assert finding.instruction == "{load_module,lib,[fresh,nosuch]}"
    assert "nosuch" in finding.message
    assert str(finding).startswith("app.appup: app 1 -> 2 (up, instruction 2): error: ")


def test_missing_module():
    term = appup(up=UP.replace("{load_module, lib, [fresh]}, ", "").replace("[lib, worker]", "[worker]"))
    (finding,) = check(term)
    assert (finding.code, finding.direction) == ("missing_module", "up")
    assert "lib changed from 1 to 2" in finding.message


@pytest.mark.parametrize(
    ("up", "down", "module", "direction"),
    [
        (UP.replace("{add_module, fresh}, ", "").replace("[fresh]", "[]"), DOWN, "fresh", "up"),
        (UP.replace(", {delete_module, gone, [srv]}", ""), DOWN, "gone", "up"),
        (
            UP,
            DOWN.replace(", {delete_module, worker}", "").replace("[lib, worker]", "[lib]"),
            "worker",
            "down",
        ),
        (UP, DOWN.replace(", {add_module, gone, [srv]}", ""), "gone", "down"),
    ],
)
def test_added_and_deleted_modules_must_be_covered_both_ways(up, down, module, direction):
    findings = check(appup(up=up, down=down))
    assert ("error", "missing_module", direction) in found(findings)
    assert any(module in f.message for f in findings if f.code == "missing_module")


def test_unknown_module():
    findings = check(appup(up=UP[:-1] + ", {load_module, nosuch}]"))
    assert found(findings) == [("error", "unknown_module", "up")]
    assert "no_such_module" in findings[0].message


def test_removing_a_module_that_stays():
    findings = check(appup(up=UP[:-1] + ", {delete_module, same}]"))
    assert found(findings) == [("error", "removes_kept_module", "up")]


def test_unchanged_module_loaded_is_a_warning():
    findings = check(appup(up=UP[:-1] + ", {load_module, same}]", down=DOWN[:-1] + ", {load_module, same}]"))
    assert found(findings) == [("warning", "unchanged_module", "down"), ("warning", "unchanged_module", "up")]


def test_wrong_order():
    # No DepMods and srv listed first: systools loads srv before lib and worker.
    up = """[{update, srv, {advanced, []}}, {add_module, fresh}, {load_module, lib, [fresh]}, {add_module, worker},
     {delete_module, gone, [srv]}, {update, sup, supervisor}, {apply, {supervisor, restart_child, [sup, worker]}}]"""
    findings = check(appup(up=up))
    assert found(findings) == [("error", "wrong_order", "up")] * 2
    assert {f.message.split(",")[0] for f in findings} == {
        "the 2 code of srv calls lib",
        "the 2 code of srv calls worker",
    }
    assert all(f.instruction == "{update,srv,{advanced,[]}}" for f in findings)


def test_listing_in_the_right_order_needs_no_depmods():
    up = """[{add_module, fresh}, {load_module, lib}, {add_module, worker}, {update, srv, {advanced, []}},
     {update, sup, supervisor}, {apply, {supervisor, restart_child, [sup, worker]}}, {delete_module, gone}]"""
    assert check(appup(up=up)) == []


def test_order_left_to_the_tie_break():
    # srv and lib both depend on worker but not on each other: systools may run them in either order.
    up = UP.replace("{load_module, lib, [fresh]}", "{load_module, lib, [fresh, worker]}").replace(
        "[lib, worker]", "[worker]"
    )
    findings = check(appup(up=up))
    assert found(findings) == [("error", "ambiguous_order", "up")]
    assert "tie-break" in findings[0].message


def test_cycles_are_ordered_by_list_position():
    # lib and srv depend on each other: one SCC; going up systools loads the later one first,
    # so lib (which srv needs) must be listed after srv.
    good = """[{add_module, fresh}, {add_module, worker}, {update, srv, {advanced, []}, [lib, worker]},
     {load_module, lib, [fresh, srv]}, {delete_module, gone, [srv]}, {update, sup, supervisor},
     {apply, {supervisor, restart_child, [sup, worker]}}]"""
    assert check(appup(up=good)) == []
    bad = UP.replace("{load_module, lib, [fresh]}", "{load_module, lib, [fresh, srv]}")
    assert found(check(appup(up=bad))) == [("error", "wrong_order", "up")]


def test_wrong_order_going_down():
    down = DOWN.replace(
        "{update, srv, {advanced, []}, [lib, worker]}, {add_module, gone, [srv]},", "{add_module, gone},"
    )
    down = down.replace("{delete_module, fresh}]", "{delete_module, fresh}, {update, srv, {advanced, []}}]")
    findings = check(appup(down=down))
    assert {(f.code, f.direction) for f in findings} == {("wrong_order", "down")}
    assert len(findings) == 2  # srv calls lib, and must stop calling worker before worker goes


def test_missing_down_entry():
    term = parse_one(f'{{"2", [{{"1", {UP}}}], [{{"0", []}}]}}.', "<test>")
    findings = check(term)
    assert found(findings) == [("error", "no_relup", "down")]
    assert "downgrade to 1" in findings[0].message


def test_missing_from_version():
    findings = check(appup(), previous=[old_app(), old_app("0.9")])
    assert found(findings) == [("error", "no_relup", "down"), ("error", "no_relup", "up")]
    assert {f.from_vsn for f in findings if f.direction == "up"} == {"0.9"}


def test_a_regex_entry_serves_several_versions():
    term = appup(key='<<"1|0\\\\.9">>')
    assert check(term, previous=[old_app(), old_app("0.9")]) == []
    # The leftmost match must span the version: "1|0" matches only "1" and "0".
    findings = check(appup(key='<<"1|0">>'), previous=[old_app(), old_app("0.9")])
    assert found(findings) == [("error", "no_relup", "down"), ("error", "no_relup", "up")]


def test_down_not_inverse_state_conversion():
    down = DOWN.replace("{update, srv, {advanced, []}, [lib, worker]}", "{load_module, srv, [lib, worker]}")
    findings = check(appup(down=down))
    assert ("error", "not_inverse", "down") in found(findings)
    assert ("warning", "state_not_converted", "down") in found(findings)


def test_down_not_inverse_children():
    down = DOWN.replace(
        "{apply, {supervisor, terminate_child, [sup, worker]}}, {apply, {supervisor, delete_child, [sup, worker]}},",
        "",
    )
    assert found(check(appup(down=down))) == [
        ("error", "not_inverse", "down"),
        ("warning", "child_not_stopped", "down"),
    ]


def test_restart_on_one_side_only():
    findings = check(appup(down="[{restart_application, app}]"))
    assert found(findings) == [("error", "not_inverse", "up")]
    assert check(appup(up="[{restart_application, app}]", down="[{restart_application, app}]")) == []


def test_syntax_error():
    up = UP.replace(
        "{update, srv, {advanced, []}, [lib, worker]}",
        "{update, srv, {advanced, []}, nope, brutal_purge, [lib, worker]}",
    )
    findings = check(appup(up=up))
    assert found(findings) == [("error", "bad_purge_method", "up")]
    assert "nope" in findings[0].message and findings[0].index == 4


def test_supervisor_loaded_with_load_module():
    up = UP.replace("{update, sup, supervisor}", "{load_module, sup}")
    down = DOWN.replace("{update, sup, supervisor}", "{load_module, sup}")
    assert found(check(appup(up=up, down=down))) == [
        ("warning", "supervisor_loaded", "down"),
        ("warning", "supervisor_loaded", "up"),
    ]


def test_gen_server_with_code_change_loaded_with_load_module():
    up = UP.replace("{update, srv, {advanced, []}, [lib, worker]}", "{load_module, srv, [lib, worker]}")
    down = DOWN.replace("{update, srv, {advanced, []}, [lib, worker]}", "{load_module, srv, [lib, worker]}")
    assert found(check(appup(up=up, down=down))) == [
        ("warning", "state_not_converted", "down"),
        ("warning", "state_not_converted", "up"),
    ]


def test_advanced_update_without_code_change():
    current = new_app()
    current.modules["srv"].exports_code_change = False
    findings = check(appup(), current=current)
    assert found(findings) == [("warning", "no_code_change", "down"), ("warning", "no_code_change", "up")]


def test_static_update_of_a_non_supervisor():
    up = UP.replace(
        "{update, srv, {advanced, []}, [lib, worker]}",
        "{update, srv, static, default, {advanced, []}, brutal_purge, brutal_purge, [lib, worker]}",
    )
    assert ("warning", "not_a_supervisor", "up") in found(check(appup(up=up)))


def test_new_child_never_started():
    up = UP.replace(", {apply, {supervisor, restart_child, [sup, worker]}}", "")
    down = DOWN.replace(
        "{apply, {supervisor, terminate_child, [sup, worker]}}, {apply, {supervisor, delete_child, [sup, worker]}},",
        "",
    )
    findings = check(appup(up=up, down=down))
    assert found(findings) == [("warning", "child_not_started", "up"), ("warning", "child_not_stopped", "down")]


def test_nif_module_hot_loaded():
    current = new_app()
    current.modules["lib"].loads_nif = True
    assert found(check(appup(), current=current)) == [
        ("warning", "nif_reload", "down"),
        ("warning", "nif_reload", "up"),
    ]


def test_appup_for_another_version():
    findings = check(appup(vsn='"3"'))
    assert found(findings) == [("error", "bad_vsn", None)]
    # An override may name its versions with a regex: a warning when it matches, an error when not.
    assert found(check(appup(vsn='<<"2|3">>'))) == [("warning", "bad_vsn", None)]
    assert found(check(appup(vsn='<<"3">>'))) == [("error", "bad_vsn", None), ("warning", "bad_vsn", None)]


def test_code_changed_under_the_same_version():
    findings = check(appup(), previous=[old_app(), old_app("2")])
    assert found(findings) == [("error", "unchanged_vsn", None)]
    assert findings[0].from_vsn == "2"
    # The same version with the same code needs no entry and no finding.
    assert check(appup(), previous=[old_app(), new_app()]) == []


def test_code_not_bundled():
    findings = check(appup(up="[]", down="[]"), previous=[old_app(bundled=False)])
    assert found(findings) == [("warning", "not_bundled", None)]


def test_other_applications():
    other = AppFacts("other", "1", [mod("other_mod", "f")])
    up = UP[:-1] + ", {load_module, other_mod}, {add_application, ghost}, {remove_application, other}]"
    findings = check(appup(up=up), release_apps=[new_app(), other])
    assert found(findings) == [
        ("error", "no_such_application", "up"),
        ("error", "removed_application_present", "up"),
        ("warning", "other_app_module", "up"),
    ]


def test_not_an_appup():
    assert found(check(("2", []))) == [("error", "file_problem", None)]
    findings = check(parse_one('{"2", x, [{"1", []}]}.'))
    assert ("error", "bad_list", "up") in found(findings)
