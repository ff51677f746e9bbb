# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RELEASES / start_erl.data, the status machine, planning, install classification and the
carry-over of node settings (pure logic; the live behaviour is proven in
tests/integration/test_release_module.py)."""

from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils import _release_state as rs
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

# Written by release_handler (OTP 25.2.3) on a shop 1.0.0 node after unpack_release("1.1.0/shop"):
# the 1.0.0 entry is relx's (paths "./lib/..."), the 1.1.0 entry release_handler's own.
OTP_RELEASES = """%% coding: utf-8
[{release,"shop","1.1.0","13.1.5",
          [{kernel,"8.5.3","lib/kernel-8.5.3"},
           {stdlib,"4.2","lib/stdlib-4.2"},
           {sasl,"4.2","lib/sasl-4.2"},
           {shop,"0.2.0","lib/shop-0.2.0"},
           {shop_audit,"0.1.0","lib/shop_audit-0.1.0"},
           {shop_legacy,"1.0.0","lib/shop_legacy-1.0.0"}],
          unpacked},
 {release,"shop","1.0.0","13.1.5",
          [{kernel,"8.5.3","./lib/kernel-8.5.3"},
           {stdlib,"4.2","./lib/stdlib-4.2"},
           {sasl,"4.2","./lib/sasl-4.2"},
           {shop,"0.1.0","./lib/shop-0.1.0"},
           {shop_legacy,"1.0.0","./lib/shop_legacy-1.0.0"}],
          permanent}].
"""

REL_100 = parse_one(
    '{release,{"shop","1.0.0"},{erts,"13.1.5"},[{kernel,"8.5.3"},{stdlib,"4.2"},'
    '{sasl,"4.2"},{shop,"0.1.0"},{shop_legacy,"1.0.0"}]}.'
)
REL_110 = parse_one(
    '{release,{"shop","1.1.0"},{erts,"13.1.5"},[{kernel,"8.5.3"},{stdlib,"4.2"},'
    '{sasl,"4.2"},{shop,"0.2.0"},{shop_audit,"0.1.0"},{shop_legacy,"1.0.0"}]}.'
)


def rel(vsn: str, status: str, name: str = "shop") -> dict:
    return {"name": name, "version": vsn, "libs": [], "status": status}


# ---------------------------------------------------------------------------------------------
# RELEASES and start_erl.data


def test_releases_round_trip_byte_for_byte() -> None:
    entries = rs.parse_releases(OTP_RELEASES)
    assert [(e.vsn, e.status, e.erts) for e in entries] == [
        ("1.1.0", "unpacked", "13.1.5"),
        ("1.0.0", "permanent", "13.1.5"),
    ]
    assert entries[1].libs[0] == ("kernel", "8.5.3", "./lib/kernel-8.5.3")
    assert rs.dump_releases(entries) == OTP_RELEASES


def test_current_is_written_as_unpacked_and_undefined_erts_is_kept() -> None:
    entries = [
        rs.ReleaseEntry("exshop", "0.1.0", None, [], "permanent"),
        rs.ReleaseEntry("exshop", "0.2.0", "13.1.5", [("exshop", "0.2.0", "lib/exshop-0.2.0")], "current"),
    ]
    text = rs.dump_releases(entries)
    assert text.startswith("%% coding: utf-8\n")
    back = rs.parse_releases(text)
    assert back[0].erts is None and back[0].broken
    assert back[1].status == "unpacked" and not back[1].broken


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{release,"a"}].', "expected {release, Name, Vsn, Erts, Libs, Status}"),
        ("{release}.", "expected one list"),
        ('[{release,"a","1","13",[],bogus}].', "unknown status bogus"),
        ('[{release,"a","1","13",nolist,permanent}].', "libraries of release 1 are not a list"),
        ('[{release,"a","1","13",[{k,"1"}],permanent}].', "bad library entry"),
        ('[{release,"a",1,"13",[],permanent}].', "the release version is not a string"),
        ('[{release,"a","1","13",[],old},{release,"a","1","13",[],old}].', "listed twice"),
        ("[{release,", "RELEASES"),
    ],
)
def test_bad_releases_files_name_the_file(text: str, message: str) -> None:
    with pytest.raises(rs.ReleaseStateError) as err:
        rs.parse_releases(text, "/srv/shop/releases/RELEASES")
    assert "/srv/shop/releases/RELEASES" in str(err.value)
    assert message in str(err.value)


def test_start_erl_data() -> None:
    assert rs.parse_start_erl(b"13.1.5 1.0.0") == ("13.1.5", "1.0.0")
    assert rs.parse_start_erl("13.1.5 1.0.0\n") == ("13.1.5", "1.0.0")
    assert rs.dump_start_erl("13.1.5", "1.1.0") == "13.1.5 1.1.0"
    with pytest.raises(rs.ReleaseStateError, match=r"x/start_erl.data: expected"):
        rs.parse_start_erl("13.1.5", "x/start_erl.data")


def test_entry_from_rel_matches_what_unpack_writes() -> None:
    entry = rs.entry_from_rel(REL_110, "unpacked", "releases/1.1.0/shop.rel")
    assert entry == rs.parse_releases(OTP_RELEASES)[0]
    with pytest.raises(rs.ReleaseStateError, match=r"x.rel: expected"):
        rs.entry_from_rel((Atom("release"),), "old", "x.rel")


# ---------------------------------------------------------------------------------------------
# which_releases and the status machine


def test_releases_from_which() -> None:
    term = [("shop", "1.1.0", ["kernel-8.5.3"], Atom("current")), ("shop", "1.0.0", [], Atom("permanent"))]
    releases = rs.releases_from_which(term)
    assert releases[0] == {"name": "shop", "version": "1.1.0", "libs": ["kernel-8.5.3"], "status": "current"}
    assert rs.running_version(releases) == "1.1.0"
    assert rs.permanent_version(releases) == "1.0.0"
    assert rs.running_version(releases[1:]) == "1.0.0"
    with pytest.raises(rs.ReleaseStateError, match=r"which_releases"):
        rs.releases_from_which([("shop", "1")])


def test_status_machine_follows_release_handler() -> None:
    start = [rel("1.0.0", "permanent")]
    step = rs.after_unpack(start, "shop", "1.1.0", ["shop-0.2.0"])
    assert [(r["version"], r["status"]) for r in step] == [("1.1.0", "unpacked"), ("1.0.0", "permanent")]
    step = rs.after_install(step, "1.1.0")
    assert rs.status_of(step, "1.1.0") == "current" and rs.status_of(step, "1.0.0") == "permanent"
    # downgrade back to the permanent release: it keeps its status, the current one becomes old
    down = rs.after_install(step, "1.0.0")
    assert (rs.status_of(down, "1.0.0"), rs.status_of(down, "1.1.0")) == ("permanent", "old")
    assert rs.running_version(down) == "1.0.0"
    step = rs.after_make_permanent(step, "1.1.0")
    assert (rs.status_of(step, "1.1.0"), rs.status_of(step, "1.0.0")) == ("permanent", "old")
    assert rs.after_remove(step, "1.0.0") == [rel("1.1.0", "permanent") | {"libs": ["shop-0.2.0"]}]
    restarted = rs.after_node_restart(rs.after_install([rel("1.0.0", "permanent"), rel("1.1.0", "unpacked")], "1.1.0"))
    assert rs.status_of(restarted, "1.1.0") == "unpacked"
    switched = rs.after_restart_switch([rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")], "1.1.0")
    assert [r["status"] for r in switched] == ["permanent", "old"]


def test_switch_boot_release_rewrites_statuses() -> None:
    entries = rs.parse_releases(OTP_RELEASES)
    switched = rs.switch_boot_release(entries, "1.1.0")
    assert [e.status for e in switched] == ["permanent", "old"]
    assert switched[0].libs == entries[0].libs
    with pytest.raises(rs.ReleaseStateError, match=r"release 9.9.9 is not listed"):
        rs.switch_boot_release(entries, "9.9.9")


def test_repair_rebuilds_invented_entries_from_rel_files() -> None:
    which = [rel("0.2.0", "unpacked", "exshop"), rel("0.1.0", "permanent", "exshop")]
    invented = [
        rs.ReleaseEntry("exshop", "0.2.0", "13.1.5", [("exshop", "0.2.0", "lib/exshop-0.2.0")], "unpacked"),
        rs.ReleaseEntry("exshop", "0.1.0", None, [], "permanent"),
    ]
    rel_010 = parse_one('{release,{"exshop","0.1.0"},{erts,"13.1.5"},[{kernel,"8.5.3"},{exshop,"0.1.0"}]}.')
    entries, reasons = rs.repair_releases(invented, which, {"0.1.0": (rel_010, "releases/0.1.0/exshop.rel")})
    assert reasons == ["release 0.1.0 is listed without libraries (invented by release_handler at boot)"]
    assert entries[0] == invented[0]
    assert entries[1].libs == [("kernel", "8.5.3", "lib/kernel-8.5.3"), ("exshop", "0.1.0", "lib/exshop-0.1.0")]
    assert entries[1].status == "permanent" and entries[1].erts == "13.1.5"
    # no RELEASES at all
    entries, reasons = rs.repair_releases(None, which[1:], {"0.1.0": (rel_010, "r")})
    assert reasons == ["releases/RELEASES is missing"] and len(entries) == 1
    # healthy file: nothing to do
    entries, reasons = rs.repair_releases(
        rs.parse_releases(OTP_RELEASES), [rel("1.1.0", "current"), rel("1.0.0", "permanent")], {}
    )
    assert reasons == [] and [e.status for e in entries] == ["unpacked", "permanent"]
    with pytest.raises(rs.ReleaseStateError, match=r"releases/0.1.0/exshop.rel is missing"):
        rs.repair_releases(invented, which, {})


def test_what_remove_release_deletes() -> None:
    entries = rs.parse_releases(OTP_RELEASES)
    libs, erts = rs.libs_removed_by(entries, "1.1.0")
    assert libs == ["lib/shop-0.2.0", "lib/shop_audit-0.1.0"] and erts is None
    assert rs.libs_removed_by(entries, "7.7.7") == ([], None)
    alone = [entries[0]]
    assert rs.libs_removed_by(alone, "1.1.0")[1] == "13.1.5"
    assert rs.forget_paths(entries, "1.1.0", set()) == ["releases/1.1.0", "lib/shop-0.2.0", "lib/shop_audit-0.1.0"]
    assert rs.forget_paths(entries, "1.1.0", {"shop_audit-0.1.0"}) == ["releases/1.1.0", "lib/shop-0.2.0"]
    # with an invented entry for another release, no library is safe to delete
    invented = [entries[0], rs.ReleaseEntry("shop", "1.0.0", None, [], "permanent")]
    assert rs.forget_paths(invented, "1.1.0", set()) == ["releases/1.1.0"]


# ---------------------------------------------------------------------------------------------
# relup lookup

RELUP_110 = parse_one(
    '{"1.1.0",[{"1.0.0",[],[{load_object_code,{shop,"0.2.0",[shop_price]}},'
    "point_of_no_return,{load,{shop_price,brutal_purge,brutal_purge}}]}],"
    '[{"1.0.0",[],[point_of_no_return]}]}.'
)


def test_find_script_mirrors_get_rh_script() -> None:
    up = rs.find_script("1.1.0", "1.0.0", (RELUP_110, "releases/1.1.0/relup"), None)
    assert up.direction == "up" and up.file == "releases/1.1.0/relup" and len(up.instructions) == 3
    down = rs.find_script("1.0.0", "1.1.0", None, (RELUP_110, "releases/1.1.0/relup"))
    assert down.direction == "down" and down.instructions == [Atom("point_of_no_return")]
    assert rs.find_script("1.1.0", "0.9.0", (RELUP_110, "r"), None) is None
    assert rs.find_script("1.0.0", "1.1.0", None, None) is None
    with pytest.raises(rs.ReleaseStateError, match=r'relup is for release "1.1.0", not 1.2.0: bad_relup_file'):
        rs.find_script("1.2.0", "1.0.0", (RELUP_110, "releases/1.2.0/relup"), None)
    with pytest.raises(rs.ReleaseStateError, match=r"bad_relup_file"):
        rs.read_relup(("1.1.0", []), "1.1.0", "r")


def test_emulator_restart_is_detected() -> None:
    assert rs.restart_instruction([Atom("restart_new_emulator"), Atom("point_of_no_return")]) == "restart_new_emulator"
    assert rs.restart_instruction([Atom("point_of_no_return"), Atom("restart_emulator")]) == "restart_emulator"
    assert rs.restart_instruction(RELUP_110[1][0][2]) is None


def test_calls_are_shown_in_erlang_syntax() -> None:
    opts = rs.install_options(True, 30, 2.5)
    assert rs.format_call("release_handler", "install_release", ["1.1.0", opts]) == (
        'release_handler:install_release("1.1.0", [{update_paths,true},{code_change_timeout,30000},'
        "{suspend_timeout,2500},{error_action,restart}])"
    )
    assert rs.install_options(False) == [(Atom("update_paths"), Atom("false")), (Atom("error_action"), Atom("restart"))]


# ---------------------------------------------------------------------------------------------
# planning

PACKAGE_110 = {
    "checksum": "aa",
    "name": "shop",
    "version": "1.1.0",
    "erts": "13.1.5",
    "libs": ["kernel-8.5.3", "shop-0.2.0"],
    "has_sasl": True,
    "otp_libs_bundled": True,
    "relup": (RELUP_110, "package:releases/1.1.0/relup"),
    "sys_config_error": None,
}


def facts(**kw) -> rs.Facts:
    base = {
        "name": "shop",
        "version": "1.1.0",
        "state": "permanent",
        "method": "hot",
        "releases": [rel("1.0.0", "permanent")],
        "layout": "relx",
        "script_switched": False,
        "start_erl": ("13.1.5", "1.0.0"),
    }
    base.update(kw)
    return rs.Facts(**base)


def actions(p: rs.Plan) -> list:
    return [s.action for s in p.steps]


def test_hot_upgrade_to_permanent_from_a_package() -> None:
    p = rs.plan(facts(package=PACKAGE_110))
    assert actions(p) == ["stage", "unpack", "check", "install", "make_permanent", "switch_script"]
    assert p.steps[1].call == 'release_handler:unpack_release("1.1.0/shop")'
    assert p.steps[2].call == 'release_handler:check_install_release("1.1.0", [purge])'
    assert p.steps[3].args["direction"] == "up"
    assert [(r["version"], r["status"]) for r in p.releases_after] == [("1.1.0", "permanent"), ("1.0.0", "old")]
    assert p.running_before == "1.0.0"


def test_each_state_stops_at_its_step() -> None:
    assert actions(rs.plan(facts(package=PACKAGE_110, state="unpacked"))) == ["stage", "unpack"]
    current = rs.plan(facts(package=PACKAGE_110, state="current"))
    assert actions(current) == ["stage", "unpack", "check", "install"]
    assert rs.running_version(current.releases_after) == "1.1.0"
    mix = rs.plan(facts(package=PACKAGE_110, layout="mix"))
    assert actions(mix) == ["stage", "unpack", "check", "install", "make_permanent"]


def test_plans_are_empty_when_the_state_is_reached() -> None:
    after = [rel("1.1.0", "permanent"), rel("1.0.0", "old")]
    done = facts(
        releases=after, script_switched=True, start_erl=("13.1.5", "1.1.0"), package=PACKAGE_110, unpacked_checksum="aa"
    )
    for state in ("unpacked", "current", "permanent"):
        assert actions(rs.plan(facts(**{**done.__dict__, "state": state}))) == []
    assert (
        actions(rs.plan(facts(releases=[rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")], state="unpacked"))) == []
    )
    current = [rel("1.1.0", "current"), rel("1.0.0", "permanent")]
    assert actions(rs.plan(facts(releases=current, state="current"))) == []
    assert actions(rs.plan(facts(releases=current))) == ["make_permanent", "switch_script"]
    assert actions(rs.plan(facts(releases=after, script_switched=False, start_erl=("13.1.5", "1.1.0")))) == [
        "switch_script"
    ]
    fix = rs.plan(facts(releases=after, script_switched=True, start_erl=("13.1.5", "1.0.0")))
    assert actions(fix) == ["write_start_erl"] and fix.steps[0].args["erts"] == "13.1.5"


def test_unknown_version_without_package_fails_in_unpack() -> None:
    with pytest.raises(rs.PlanError) as err:
        rs.plan(facts(version="9.9.9"))
    assert err.value.phase == "unpack"
    assert "shop 9.9.9 is not on the node (which_releases: 1.0.0 (permanent))" in err.value.message
    with pytest.raises(rs.PlanError, match=r"holds release version 1.1.0, not 1.2.0"):
        rs.plan(facts(version="1.2.0", package=PACKAGE_110))
    with pytest.raises(rs.PlanError, match=r"no sasl"):
        rs.plan(facts(package={**PACKAGE_110, "has_sasl": False}))


def test_leftover_unpack_is_forgotten_and_retried() -> None:
    leftover = [rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")]
    p = rs.plan(facts(releases=leftover, package=PACKAGE_110, target_complete=False, state="unpacked"))
    assert actions(p) == ["forget", "stage", "unpack"]
    assert p.steps[0].call == 'release_handler:set_removed("1.1.0")'
    assert "its files are incomplete" in p.warnings[0]
    p = rs.plan(facts(releases=leftover, package=PACKAGE_110, unpacked_checksum="bb", state="unpacked"))
    assert actions(p) == ["forget", "stage", "unpack"]
    assert "another package" in p.warnings[0]
    # same package as before: nothing to do
    assert (
        actions(rs.plan(facts(releases=leftover, package=PACKAGE_110, unpacked_checksum="aa", state="unpacked"))) == []
    )
    with pytest.raises(rs.PlanError, match=r"files are incomplete.*give the package"):
        rs.plan(facts(releases=leftover, target_complete=False, state="unpacked"))
    # an installed release is never replaced
    installed = [rel("1.1.0", "permanent"), rel("1.0.0", "old")]
    p = rs.plan(
        facts(
            releases=installed,
            package=PACKAGE_110,
            unpacked_checksum="bb",
            script_switched=True,
            start_erl=("13.1.5", "1.1.0"),
        )
    )
    assert actions(p) == [] and "different package" in p.warnings[0]


def test_hot_preflight_refusals() -> None:
    no_relup = {**PACKAGE_110, "relup": None}
    with pytest.raises(rs.PlanError) as err:
        rs.plan(facts(package=no_relup))
    assert err.value.phase == "check" and "no relup script for 1.0.0 -> 1.1.0" in err.value.message
    restart = parse_one('{"1.1.0",[{"1.0.0",[],[restart_new_emulator,point_of_no_return]}],[]}.')
    with pytest.raises(rs.PlanError, match=r"contains restart_new_emulator.*method=restart"):
        rs.plan(facts(package={**PACKAGE_110, "relup": (restart, "p")}))
    with pytest.raises(rs.PlanError, match=r"does not bundle all its libraries"):
        rs.plan(facts(package={**PACKAGE_110, "otp_libs_bundled": False}))
    with pytest.raises(rs.PlanError, match=r"silently use an empty configuration"):
        rs.plan(facts(package={**PACKAGE_110, "sys_config_error": "releases/1.1.0/sys.config:3: bad"}))
    unpacked = [rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")]
    with pytest.raises(rs.PlanError, match=r"files are incomplete"):
        rs.plan(facts(releases=unpacked, target_complete=False, target_relup=(RELUP_110, "r")))
    with pytest.raises(rs.PlanError, match=r"use state=permanent"):
        rs.plan(facts(package=PACKAGE_110, method="restart", state="current"))


def test_downgrade_uses_the_running_release_relup_or_installs_the_package_relup() -> None:
    after = [rel("1.1.0", "permanent"), rel("1.0.0", "old")]
    p = rs.plan(
        facts(
            version="1.0.0",
            releases=after,
            running_relup=(RELUP_110, "releases/1.1.0/relup"),
            start_erl=("13.1.5", "1.1.0"),
        )
    )
    assert actions(p) == ["check", "install", "make_permanent", "switch_script"]
    assert p.steps[1].args["direction"] == "down"
    assert [(r["version"], r["status"]) for r in p.releases_after] == [("1.1.0", "old"), ("1.0.0", "permanent")]
    with pytest.raises(rs.PlanError, match=r"no relup script for 1.1.0 -> 1.0.0"):
        rs.plan(facts(version="1.0.0", releases=after, running_relup=None))
    # the running release's relup lacks the entry, the package of 1.0.0 carries one "up" from 1.1.0
    relup_100 = parse_one('{"1.0.0",[{"1.1.0",[],[point_of_no_return]}],[]}.')
    package_100 = {**PACKAGE_110, "version": "1.0.0", "relup": (relup_100, "package:releases/1.0.0/relup")}
    p = rs.plan(facts(version="1.0.0", releases=after, package=package_100))
    assert actions(p) == ["install_relup", "check", "install", "make_permanent", "switch_script"]
    assert p.steps[0].args["into"] == "1.0.0"
    # or a rebuilt package of the running release 1.1.0 whose relup has the down entry
    p = rs.plan(facts(version="1.0.0", releases=after, running_relup=None,
                      running_package_relup=(RELUP_110, "package:releases/1.1.0/relup")))
    assert actions(p) == ["install_relup", "check", "install", "make_permanent", "switch_script"]
    assert p.steps[0].args["into"] == "1.1.0" and p.steps[2].args["direction"] == "down"


def test_restart_method_steps() -> None:
    p = rs.plan(facts(package=PACKAGE_110, method="restart"))
    assert actions(p) == ["stage", "unpack", "stop", "write_boot_files", "switch_script", "start", "wait"]
    assert p.steps[-2].call == "bin/shop daemon"
    assert [(r["version"], r["status"]) for r in p.releases_after] == [("1.1.0", "permanent"), ("1.0.0", "old")]
    mix = rs.plan(
        facts(
            name="exshop",
            package={**PACKAGE_110, "name": "exshop"},
            method="restart",
            layout="mix",
            service="exshop.service",
        )
    )
    assert actions(mix) == ["stage", "unpack", "stop", "write_boot_files", "start", "wait"]
    assert mix.steps[2].call == "systemctl stop exshop.service"
    # no relup needed, and a release that is already current only needs make_permanent
    assert "check" not in actions(rs.plan(facts(package={**PACKAGE_110, "relup": None}, method="restart")))
    current = [rel("1.1.0", "current"), rel("1.0.0", "permanent")]
    assert actions(rs.plan(facts(releases=current, method="restart"))) == ["make_permanent", "switch_script"]


def test_settings_carry_and_repair_steps() -> None:
    p = rs.plan(facts(package=PACKAGE_110, settings_changes=2, state="unpacked"))
    assert actions(p) == ["stage", "unpack", "carry_settings"]
    assert "carry 2 node setting(s) of release 1.0.0" in p.steps[-1].call
    repair = ([], ["releases/RELEASES is missing"])
    p = rs.plan(facts(package=PACKAGE_110, repair=repair, state="unpacked"))
    assert actions(p) == ["repair_releases", "stage", "unpack"]
    assert "releases/RELEASES is missing" in p.steps[0].call
    # nothing else to do: no repair either (a second run stays unchanged)
    assert actions(rs.plan(facts(repair=repair, version="1.0.0", script_switched=True))) == []
    # a leftover unpack already carried on disk: the fresh unpack that replaces it needs the carry again
    leftover = [rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")]
    p = rs.plan(facts(releases=leftover, package=PACKAGE_110, unpacked_checksum="bb", settings_changes=0,
                      settings_changes_unpacked=2, state="unpacked"))
    assert actions(p) == ["forget", "stage", "unpack", "carry_settings"]
    p = rs.plan(facts(releases=leftover, package=PACKAGE_110, unpacked_checksum="aa", settings_changes=0,
                      settings_changes_unpacked=2, state="unpacked"))
    assert actions(p) == []
    p = rs.plan(facts(package=PACKAGE_110, repair_error="a release is current", state="unpacked"))
    assert actions(p) == ["stage", "unpack"] and p.warnings == ["a release is current"]


def test_absent() -> None:
    installed = [rel("1.1.0", "old"), rel("1.0.0", "permanent")]
    p = rs.plan(facts(state="absent", releases=installed))
    assert actions(p) == ["remove"] and p.steps[0].call == 'release_handler:remove_release("1.1.0")'
    assert p.releases_after == [rel("1.0.0", "permanent")]
    assert actions(rs.plan(facts(state="absent", version="3.0.0", releases=installed))) == []
    assert actions(rs.plan(facts(state="absent", version="3.0.0", releases=installed, staged_exists=True))) == [
        "unstage"
    ]
    for vsn, releases in (
        ("1.0.0", installed),
        ("1.1.0", [rel("1.1.0", "current"), rel("1.0.0", "permanent")]),
        ("1.1.0", [rel("1.1.0", "permanent"), rel("1.2.0", "current")]),
    ):
        with pytest.raises(rs.PlanError) as err:
            rs.plan(facts(state="absent", version=vsn, releases=releases))
        assert err.value.phase == "remove"
    p = rs.plan(facts(state="absent", releases=installed, repair=([], ["releases/RELEASES is missing"])))
    assert actions(p) == ["repair_releases", "remove"]
    with pytest.raises(rs.PlanError, match=r"would delete libraries other releases use"):
        rs.plan(facts(state="absent", releases=installed, repair_error="cannot rebuild"))
    with pytest.raises(rs.PlanError, match=r"would delete lib/kernel-8.5.3, which another release"):
        rs.plan(facts(state="absent", releases=installed, removed_libs_in_use=["lib/kernel-8.5.3"]))


def test_plan_needs_a_running_release() -> None:
    with pytest.raises(rs.PlanError, match=r"no current or permanent release"):
        rs.plan(facts(releases=[rel("1.0.0", "old")]))


# ---------------------------------------------------------------------------------------------
# install_release outcome

OK = (Atom("ok"), "1.0.0", [])
AFTER_OK = [rel("1.1.0", "current"), rel("1.0.0", "permanent")]
AFTER_BACK = [rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")]


def test_classify_install() -> None:
    ok = rs.classify_install(OK, False, False, AFTER_OK, "1.1.0", "1.0.0")
    assert ok["ok"] and ok["phase_failed"] is None
    crash = (Atom("error"), (Atom("code_change_failed"), "<0.1.0>", Atom("shop_cart"), 2, Atom("undef")))
    after = rs.classify_install(crash, True, False, AFTER_BACK, "1.1.0", "1.0.0")
    assert (after["ok"], after["phase_failed"], after["node_restarted"]) == (False, "install_after_ponr", True)
    assert "it runs 1.0.0 again" in after["message"] and "code_change_failed" in after["message"]
    before = rs.classify_install(
        (Atom("error"), (Atom("EXIT"), Atom("badarg"))),
        False,
        False,
        [rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")],
        "1.1.0",
        "1.0.0",
    )
    assert (before["phase_failed"], before["node_restarted"]) == ("install_before_ponr", False)
    assert "untouched" in before["message"]
    timeout = rs.classify_install(None, False, False, AFTER_OK, "1.1.0", "1.0.0")
    assert timeout["ok"] and "no reply" in timeout["message"]
    lost = rs.classify_install(None, False, False, AFTER_BACK, "1.1.0", "1.0.0")
    assert lost["phase_failed"] == "install_before_ponr" and "may still be working" in lost["message"]
    down = rs.classify_install(None, False, True, None, "1.1.0", "1.0.0")
    assert down["phase_failed"] == "install_after_ponr" and "has not come back" in down["message"]
    emulator = rs.classify_install((Atom("continue_after_restart"), "1.0.0", []), False, False, None, "1.1.0", "1.0.0")
    assert emulator["node_restarted"] and emulator["phase_failed"] == "install_after_ponr"
    # an "ok" reply while the node restarted anyway is not a success
    assert not rs.classify_install(OK, True, False, AFTER_BACK, "1.1.0", "1.0.0")["ok"]


# ---------------------------------------------------------------------------------------------
# node settings

FLEET_VM_ARGS = "-sname shop_node1_4242\n-setcookie 0123abcd\n-sname_is_not_a_flag_here\n"
SHIPPED_VM_ARGS = "-sname shop\n-setcookie shop_cookie\n"


def test_vm_args_without_base_keep_the_node_identity() -> None:
    running = "-sname shop_node1\n-setcookie secret1\n+K true\n-kernel inet_dist_listen_min 9100\n-pa /opt/x\n"
    new = "## shipped\n-sname shop\n-setcookie shop_cookie\n+K false\n+A 30\n"
    result = rs.carry_vm_args(running, new, running_vsn="1.0.0", file="releases/1.1.0/vm.args")
    assert result.text == (
        "## shipped\n-sname shop_node1\n-setcookie secret1\n+K false\n+A 30\n"
        "## node settings carried over from release 1.0.0 by erlang.otp.release\n"
        "-kernel inet_dist_listen_min 9100\n-pa /opt/x\n"
    )
    by_key = {r["setting"]: r for r in result.report}
    assert by_key["-sname/-name"]["action"] == "carried"
    assert by_key["+K"] == {
        "file": "releases/1.1.0/vm.args",
        "setting": "+K",
        "action": "release_differs",
        "running": "+K true",
        "release": "+K false",
    }
    assert by_key["-setcookie"]["running"] == by_key["-setcookie"]["release"] == "********"
    assert "secret1" not in repr(result.report)
    assert result.changes == 4
    again = rs.carry_vm_args(running, result.text)
    assert again.text is None and again.changes == 0
    assert [r["action"] for r in again.report] == ["release_differs"]


def test_vm_args_name_and_sname_are_one_setting() -> None:
    result = rs.carry_vm_args("-name shop@10.0.0.1\n", "-sname shop\n")
    assert result.text == "-name shop@10.0.0.1\n"


def test_vm_args_three_way_merge_with_the_shipped_base() -> None:
    base = "-sname shop\n-setcookie c\n+K true\n+A 10\n-heart\n"
    running = "-sname node_a\n-setcookie c\n+K true\n+A 64\n"  # operator: name, +A; removed -heart
    new = "-sname shop\n-setcookie c\n+K false\n+A 20\n-heart\n-env X 1\n"  # release: +K, +A; adds -env X
    result = rs.carry_vm_args(running, new, base=base)
    assert result.text == "-sname node_a\n-setcookie c\n+K false\n+A 20\n-env X 1\n"
    actions_ = {r["setting"]: r["action"] for r in result.report}
    assert actions_ == {"-sname/-name": "carried", "+A": "release_differs", "-heart": "removed"}
    # the new release deliberately renames the node: reported, not overwritten
    renamed = rs.carry_vm_args(running, "-sname shop2\n-setcookie c\n", base=base)
    assert {r["setting"]: r["action"] for r in renamed.report}["-sname/-name"] == "release_differs"


def test_env_sh_of_a_mix_release() -> None:
    shipped = "#!/bin/sh\n\n# export RELEASE_DISTRIBUTION=name\n# export RELEASE_NODE=exshop\n"
    running = (
        shipped + "\n# written by tests/support/fleet.py\nexport RELEASE_DISTRIBUTION=sname\n"
        "export RELEASE_NODE=exshop_node1\nexport RELEASE_COOKIE=topsecret\n"
    )
    result = rs.carry_env_sh(running, shipped, running_vsn="0.1.0")
    assert (
        result.text == shipped + "\n# node settings carried over from release 0.1.0 by erlang.otp.release\n"
        "export RELEASE_DISTRIBUTION=sname\nexport RELEASE_NODE=exshop_node1\nexport RELEASE_COOKIE=topsecret\n"
    )
    assert "topsecret" not in repr(result.report)
    assert rs.carry_env_sh(running, result.text).text is None
    # a value in the new env.sh is replaced in place
    replaced = rs.carry_env_sh("RELEASE_NODE=a\n", "export RELEASE_NODE=b\nX=1\n")
    assert replaced.text == "RELEASE_NODE=a\nX=1\n"


def test_sys_config_carries_parameters_and_keeps_the_header() -> None:
    running = '[{kernel,[{inet_dist_listen_min,9100}]},{shop,[{limit,5},{url,"http://a"}]},"/etc/extra.config"].\n'
    new = "%% coding: utf-8\n%% RUNTIME_CONFIG=false\n[{shop,[{limit,10}]},{sasl,[]}].\n"
    result = rs.carry_sys_config(running, new, file="releases/1.1.0/sys.config")
    assert result.text.startswith("%% coding: utf-8\n%% RUNTIME_CONFIG=false\n")
    term = parse_one(result.text)
    assert term == [
        (Atom("shop"), [(Atom("limit"), 10), (Atom("url"), "http://a")]),
        (Atom("sasl"), []),
        "/etc/extra.config",
        (Atom("kernel"), [(Atom("inet_dist_listen_min"), 9100)]),
    ]
    by_key = {r["setting"]: r for r in result.report}
    assert by_key["shop limit"]["action"] == "release_differs"
    assert by_key["shop limit"]["running"] == "5" and by_key["shop limit"]["release"] == "10"
    assert by_key["kernel inet_dist_listen_min"]["action"] == "carried"
    assert by_key["include /etc/extra.config"]["action"] == "carried"
    assert rs.carry_sys_config(running, result.text).text is None
    # the same term spelled differently is no difference
    assert rs.carry_sys_config('[{a,[{b,"x"}]}].', "[{a,[{b,[120]}]}].").report == []


def test_sys_config_three_way_and_secrets() -> None:
    base = '[{shop,[{limit,10},{db_password,"p0"}]}].\n'
    running = '[{shop,[{limit,50},{db_password,"p1"}]}].\n'
    new = '[{shop,[{limit,10},{db_password,"p0"},{mode,fast}]}].\n'
    result = rs.carry_sys_config(running, new, base=base)
    assert parse_one(result.text) == [
        (Atom("shop"), [(Atom("limit"), 50), (Atom("db_password"), "p1"), (Atom("mode"), Atom("fast"))])
    ]
    assert "p1" not in repr(result.report) and "p0" not in repr(result.report)


def test_bad_sys_config_names_the_file() -> None:
    with pytest.raises(rs.ReleaseStateError, match=r"releases/1.1.0/sys.config: a sys.config holds one list"):
        rs.carry_sys_config("[].", "{a}.", new_source="releases/1.1.0/sys.config")
    with pytest.raises(rs.ReleaseStateError, match=r"run.config: application shop: bad parameter"):
        rs.carry_sys_config("[{shop,[oops]}].", "[].", running_source="run.config")


def test_checksums() -> None:
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert rs.parse_checksum(f"sha256:{digest}") == ("sha256", digest)
    assert rs.parse_checksum(digest.upper()) == ("sha256", digest)
    assert rs.parse_checksum("SHA1:" + "a" * 40) == ("sha1", "a" * 40)
    assert rs.parse_checksum("d41d8cd98f00b204e9800998ecf8427e") == ("md5", "d41d8cd98f00b204e9800998ecf8427e")
    for bad in ("sha256:abc", "crc32:" + "a" * 8, "z" * 64, ""):
        with pytest.raises(rs.ReleaseStateError, match=r"expected sha256:<64 hex digits>"):
            rs.parse_checksum(bad)


def test_every_planned_step_has_a_phase() -> None:
    seen = set()
    after = [rel("1.1.0", "permanent"), rel("1.0.0", "old")]
    relup_100 = parse_one('{"1.0.0",[{"1.1.0",[],[point_of_no_return]}],[]}.')
    package_100 = {**PACKAGE_110, "version": "1.0.0", "relup": (relup_100, "p")}
    for f in (facts(package=PACKAGE_110, settings_changes=1, repair=([], ["x"])),
              facts(package=PACKAGE_110, method="restart"),
              facts(releases=[rel("1.1.0", "unpacked"), rel("1.0.0", "permanent")], package=PACKAGE_110,
                    target_complete=False),
              facts(version="1.0.0", releases=after, package=package_100),
              facts(releases=after, script_switched=True, start_erl=("13.1.5", "1.0.0")),
              facts(state="absent", releases=[rel("1.1.0", "old"), rel("1.0.0", "permanent")]),
              facts(state="absent", version="3.0.0", staged_exists=True)):
        seen.update(actions(rs.plan(f)))
    assert seen == set(rs.STEP_PHASES)
    assert set(rs.STEP_PHASES.values()) <= set(rs.PHASES)
