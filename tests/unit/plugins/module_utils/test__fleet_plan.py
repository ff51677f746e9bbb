# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet plan: version order, package requests, the decision table, batch gate, removals, summary."""
from __future__ import annotations

import copy
import itertools
import json
import re

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._fleet_plan import (
    ACTIONS,
    HostInput,
    PlanError,
    PlanErrors,
    batch_gate,
    batches,
    compare_versions,
    decide,
    fleet_setting,
    node_blockers,
    normalize_health,
    package_requests,
    releases_to_remove,
    summary,
    version_key,
)

PK = "/pk"
BUILD = "/pk/.erlang-otp"
TARBALLS = {v: f"{PK}/shop-{v}.tar.gz" for v in ("1.0.0", "1.1.0", "2.0.0")}
SUM_110 = "sha256:" + "3f2a" * 16
SUM_200 = "sha256:" + "9b1c" * 16


def manifest(vsn: str) -> dict:
    return {"format": 1, "name": "shop", "vsn": vsn, "erts_vsn": "13.1.5", "layout": "relx", "apps": []}


def facts(running="1.0.0", permanent=None, boot=None, releases=None, **changes) -> dict:
    """A release_info result (the keys the plan reads), for a healthy hot-capable node."""
    permanent = permanent or running
    if releases is None:
        releases = [(running, "permanent")]
        if running != permanent:
            releases = [(running, "current"), (permanent, "permanent")]
    result = {
        "changed": False,
        "reachable": True,
        "root": "/opt/shop",
        "name": "shop",
        "node": "shop@web1",
        "running_version": running,
        "permanent_version": permanent,
        "boot_version": boot or permanent,
        "releases": [
            {"name": "shop", "version": v, "status": s, "applications": ["kernel-8.5.3", "sasl-4.2"]}
            for v, s in releases
        ],
        "releases_source": "node",
        "releases_file": True,
        "erts": {"running": "13.1.5", "release": "13.1.5", "bundled": ["13.1.5"]},
        "otp_libs_bundled": True,
        "sasl": {"in_release": True, "running": True},
        "release_handler": True,
        "hot_upgrade_possible": True,
        "hot_upgrade_reasons": [],
        "drift_checked": True,
        "drift": [],
        "relup": None,
        "manifest": manifest(running),
    }
    result.update(changes)
    return result


def host(name="node1", target="1.1.0", **kw) -> HostInput:
    given = {"facts": facts()}
    given.update(kw)
    return HostInput(host=name, name="shop", root="/opt/shop", target=target, **given)


def _vsn(keyword: str) -> str:
    """v1_0_0 -> 1.0.0"""
    return keyword[1:].replace("_", ".")


def built(vsn: str, checksum: str, **upgrades) -> dict:
    """A relup task result: ``upgrades`` maps base version -> (hot, reasons)."""
    return {
        "vsn": vsn,
        "dest": f"{BUILD}/shop-{vsn}.tar.gz",
        "checksum": checksum,
        "upgrades": {
            _vsn(base): {"hot": hot, "reasons": reasons, "up": [], "down": []}
            for base, (hot, reasons) in upgrades.items()
        },
        "hot_from": [_vsn(base) for base, (hot, _reasons) in upgrades.items() if hot],
    }


BUILT_110 = {"1.1.0": built("1.1.0", SUM_110, v1_0_0=(True, []))}


def plan_of(hosts, built_map=None, tarballs=None, check_mode=False, **settings) -> dict:
    kw = {"serial": [1, "100%"], "rolling_serial": 1, "max_fail_percentage": 0}
    kw.update(settings)
    return decide(
        hosts,
        TARBALLS if tarballs is None else tarballs,
        BUILT_110 if built_map is None else built_map,
        check_mode=check_mode,
        started=1767000000.0,
        **kw,
    )


def only(plan: dict, name="node1") -> dict:
    return plan["hosts"][name]


def errors_of(excinfo) -> list:
    return [str(e) for e in excinfo.value.errors]


# -- versions ------------------------------------------------------------------------------------

# SemVer 2.0's own precedence example (semver.org, item 11), then ordinary releases.
SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "1.9.0",
    "1.10.0",
    "2.0.0+build.7",
]
NATURAL_ORDER = ["0.9", "1.0-rc1", "1.0", "1.0.0.1", "1.1", "1.9", "1.10", "2", "2024.1.15", "2024.02.1"]


@pytest.mark.parametrize("order", [SEMVER_ORDER, NATURAL_ORDER], ids=["semver", "natural"])
def test_version_order_is_total_and_consistent(order):
    for i, j in itertools.product(range(len(order)), repeat=2):
        expected = (i > j) - (i < j)
        assert compare_versions(order[i], order[j]) == expected, (order[i], order[j])
    shuffled = list(reversed(order))
    assert sorted(shuffled, key=version_key) == order


def test_semver_and_natural_mix():
    # one of them is not X.Y.Z: natural order of the parts
    assert compare_versions("1.1", "1.0.0") == 1
    assert compare_versions("1.0.0", "1.0.1-1") == -1


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.0", "1.0.0"), ("1.0.0+a", "1.0.0+b"), ("1.01", "1.1"), ("1.0-1", "1.0.1")],
)
def test_versions_that_cannot_be_ordered(a, b):
    with pytest.raises(PlanError, match="cannot order versions") as excinfo:
        compare_versions(a, b)
    assert repr(a) in str(excinfo.value)
    assert repr(b) in str(excinfo.value)


def test_version_must_be_a_string():
    with pytest.raises(PlanError, match="not a version string"):
        compare_versions("1.0.0", None)


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  ", {}])
def test_no_health_check(value):
    assert normalize_health(value) is None


def test_health_check_forms():
    assert normalize_health("is_pid(whereis(shop_sup))") == {
        "erlang": "is_pid(whereis(shop_sup))",
        "url": None,
        "status_code": 200,
        "retries": 5,
        "delay": 2,
        "timeout": 10,
    }
    assert normalize_health("https://web1/health")["url"] == "https://web1/health"
    assert normalize_health("https://web1/health")["erlang"] is None
    both = normalize_health(
        {"erlang": "ok", "url": "http://x/h", "status_code": [200, "204"], "retries": "3", "delay": 0.5, "timeout": 1}
    )
    assert both == {"erlang": "ok", "url": "http://x/h", "status_code": [200, 204], "retries": 3, "delay": 0.5,
                    "timeout": 1}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"erlang": "ok", "retry": 3}, "unknown key.*retry"),
        ({"retries": 3}, "neither erlang nor url"),
        ({"url": "ftp://x"}, r"url: 'ftp://x' is not an http"),
        ({"erlang": "ok", "retries": -1}, r"retries: -1 is not an integer >= 0"),
        ({"erlang": "ok", "timeout": 0}, r"timeout: 0 is not a positive number"),
        ({"erlang": "ok", "status_code": 99}, r"status_code: 99"),
        (42, "is a int"),
    ],
)
def test_bad_health_check(value, message):
    with pytest.raises(PlanError, match=message) as excinfo:
        normalize_health(value)
    assert "otp_release_health_check" in str(excinfo.value)


def test_fleet_setting():
    assert fleet_setting({"a": [1, "100%"], "b": [1, "100%"]}, "otp_release_serial", 1) == [1, "100%"]
    assert fleet_setting({"a": None, "b": None}, "otp_release_serial", [1, "100%"]) == [1, "100%"]
    assert fleet_setting({}, "otp_release_serial", 3) == 3
    with pytest.raises(PlanError) as excinfo:
        fleet_setting({"a": 0, "b": None, "c": 50}, "otp_release_max_fail_percentage", 0)
    text = str(excinfo.value)
    assert "otp_release_max_fail_percentage differs between hosts" in text
    assert "a has 0" in text and "c has 50" in text


# -- package requests ----------------------------------------------------------------------------


def test_requests_previous_are_the_manifests_of_each_running_version():
    hosts = [
        host("node1", facts=facts("1.0.0", manifest=dict(manifest("1.0.0"), mark="first"))),
        host("node2", facts=facts("1.0.0", manifest=dict(manifest("1.0.0"), mark="second"))),
        host("node3", facts=facts("0.9.0", releases=[("0.9.0", "permanent")])),
        host("node4", facts=facts("1.1.0")),  # noop
    ]
    requests = package_requests(hosts, TARBALLS, BUILD, "/appups")
    assert [r.to_dict() for r in requests] == [
        {
            "name": "shop",
            "vsn": "1.1.0",
            "current": f"{PK}/shop-1.1.0.tar.gz",
            "previous": [manifest("0.9.0"), dict(manifest("1.0.0"), mark="first")],
            "dest": f"{BUILD}/shop-1.1.0.tar.gz",
            "bases": ["0.9.0", "1.0.0"],
            "overrides": "/appups",
        }
    ]
    json.dumps([r.to_dict() for r in requests])


def test_requests_one_package_per_target_version():
    hosts = [host("node1", "1.1.0"), host("node2", "2.0.0", facts=facts("1.1.0"))]
    requests = package_requests(hosts, TARBALLS, BUILD, None)
    assert [(r.vsn, r.bases) for r in requests] == [("1.1.0", ["1.0.0"]), ("2.0.0", ["1.1.0"])]
    assert requests[0].overrides is None


def test_requests_without_manifest_use_the_old_tarball_when_present():
    hosts = [host("node1", facts=facts("1.0.0", manifest=None))]
    assert package_requests(hosts, TARBALLS, BUILD, None)[0].previous == [f"{PK}/shop-1.0.0.tar.gz"]
    no_old = {"1.1.0": TARBALLS["1.1.0"]}
    assert package_requests(hosts, no_old, BUILD, None) == []


def test_requests_skip_rolling_blocked_and_unplannable_hosts():
    hosts = [
        host("node1", strategy="rolling"),
        host("node2", facts=facts(otp_libs_bundled=False)),
        host("node3", facts=facts(reachable=False, running_version=None)),
        host("node4", facts=None),
        host("node5", target="1.0"),  # cannot be ordered against 1.0.0: decide() reports it
    ]
    assert package_requests(hosts, TARBALLS, BUILD, None) == []


def test_requests_missing_target_tarball_names_host_variable_and_file():
    hosts = [host("node1", "1.2.0"), host("node2", "1.2.0", strategy="rolling")]
    with pytest.raises(PlanErrors) as excinfo:
        package_requests(hosts, TARBALLS, BUILD, None)
    assert errors_of(excinfo) == [
        "node1: otp_release_version is 1.2.0, but otp_release_packages has no shop-1.2.0.tar.gz",
        "node2: otp_release_version is 1.2.0, but otp_release_packages has no shop-1.2.0.tar.gz",
    ]


def pinned(relup=None, releases=None, **changes) -> dict:
    """A node that runs 1.1.0 (permanent) with 1.0.0 old, pinned back to 1.0.0."""
    return facts("1.1.0", releases=releases or [("1.1.0", "permanent"), ("1.0.0", "old")], relup=relup, **changes)


def test_requests_downgrade_adds_the_old_tarball_to_the_running_version():
    requests = package_requests([host("node1", "1.0.0", facts=pinned())], TARBALLS, BUILD, None)
    assert [r.to_dict() for r in requests] == [
        {
            "name": "shop",
            "vsn": "1.1.0",
            "current": f"{PK}/shop-1.1.0.tar.gz",
            "previous": [f"{PK}/shop-1.0.0.tar.gz"],
            "dest": f"{BUILD}/shop-1.1.0.tar.gz",
            "bases": ["1.0.0"],
            "overrides": None,
        }
    ]


@pytest.mark.parametrize(
    ("node", "tarballs"),
    [
        (pinned(relup={"up": {"1.0.0": {"restarts_emulator": False}}, "down": {"1.0.0": {"restarts_emulator": False}}}),
         TARBALLS),
        (pinned(releases=[("1.1.0", "permanent")]), TARBALLS),  # 1.0.0 is gone: rolling down from the tarball
        (pinned(), {"1.0.0": TARBALLS["1.0.0"]}),  # no tarball of the running version
        (pinned(), {"1.1.0": TARBALLS["1.1.0"]}),  # no old tarball
    ],
    ids=["running-relup-has-it", "not-on-node", "no-running-tarball", "no-target-tarball"],
)
def test_requests_downgrade_needs_no_package(node, tarballs):
    assert package_requests([host("node1", "1.0.0", facts=node)], tarballs, BUILD, None) == []


def test_requests_downgrade_when_the_running_relup_restarts_the_emulator():
    node = pinned(relup={"up": {}, "down": {"1.0.0": {"restarts_emulator": True}}})
    assert [r.vsn for r in package_requests([host("node1", "1.0.0", facts=node)], TARBALLS, BUILD, None)] == ["1.1.0"]


def test_requests_merge_up_and_down_entries_of_one_version():
    hosts = [host("node1", "1.1.0", facts=facts("1.0.0")), host("node2", "1.0.0", facts=pinned())]
    (request,) = package_requests(hosts, TARBALLS, BUILD, None)
    assert request.vsn == "1.1.0"
    assert request.bases == ["1.0.0"]
    assert request.previous == [manifest("1.0.0")]  # the version is there once, from the manifest


def test_requests_refuse_to_overwrite_the_input():
    with pytest.raises(PlanError, match=re.escape("would overwrite /pk/shop-1.1.0.tar.gz")):
        package_requests([host()], TARBALLS, PK, None)


def test_requests_one_release_per_run():
    other = HostInput(host="db1", name="db", root="/opt/db", target="2.0.0", facts=facts(name="db"))
    with pytest.raises(PlanError, match=r"otp_release_name differs between hosts.*run once per release"):
        package_requests([host(), other], TARBALLS, BUILD, None)


# -- decide: the table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (None, "node1: no facts from erlang.otp.release_info"),
        ({"failed": True, "msg": "ssh: refused"}, "node1: erlang.otp.release_info failed: ssh: refused"),
        ({"unreachable": True, "msg": "Failed to connect"}, "node1: erlang.otp.release_info failed: Failed to connect"),
        (
            facts(reachable=False, running_version=None, unreachable_reason="epmd knows no node named shop"),
            "node1: node shop@web1 of release shop under /opt/shop does not answer (reachable: false): "
            "epmd knows no node named shop",
        ),
        (
            facts(name="shop_noerts"),
            "node1: otp_release_name is 'shop', but the release under /opt/shop is 'shop_noerts'",
        ),
        (facts(running_version=None), "node1: the node runs no known version of shop"),
    ],
    ids=["no-facts", "failed", "unreachable", "node-down", "other-release", "no-running-version"],
)
def test_rule_1_no_usable_facts(given, message):
    with pytest.raises(PlanErrors) as excinfo:
        plan_of([host(facts=given)])
    (error,) = errors_of(excinfo)
    assert error.startswith(message)
    assert excinfo.value.errors[0].host == "node1"


def test_rule_1_reports_every_host_and_the_lines_of_the_others():
    with pytest.raises(PlanErrors) as excinfo:
        plan_of([host("node1"), host("node2", facts=None), host("node3", facts=facts(reachable=False))])
    assert [e.host for e in excinfo.value.errors] == ["node2", "node3"]
    assert "(2 errors)" in str(excinfo.value)
    assert excinfo.value.lines[0].startswith("Fleet plan for shop: 1 host (1 hot, 0 rolling, 0 unchanged)")
    assert excinfo.value.lines[1].startswith("node1  hot up")


def test_rule_2_noop():
    entry = only(plan_of([host(target="1.1.0", facts=facts("1.1.0", releases=[("1.1.0", "permanent"),
                                                                              ("1.0.0", "old")]))]))
    assert entry["action"] == "noop"
    assert entry["method"] is None
    assert (entry["from"], entry["to"]) == ("1.1.0", "1.1.0")
    assert entry["remove"] == []  # nothing runs on an unchanged host
    # a mix release reports no boot version from bin/: still noop
    assert only(plan_of([host(target="1.1.0", facts=facts("1.1.0", boot_version=None))]))["action"] == "noop"


def test_rule_3_commit_what_an_interrupted_rollout_left():
    node = facts("1.1.0", permanent="1.0.0", releases=[("1.1.0", "current"), ("1.0.0", "permanent")])
    entry = only(plan_of([host(facts=node, keep=0)]))
    assert entry["action"] == "commit"
    assert entry["method"] == "hot"
    assert (entry["from"], entry["to"]) == ("1.0.0", "1.1.0")
    assert entry["reasons"] == ["1.1.0 runs but is not permanent (permanent: 1.0.0)"]
    assert entry["package"] is None
    assert entry["remove"] == ["1.0.0"]


def test_rule_3_commit_when_the_start_script_boots_another_version():
    entry = only(plan_of([host(facts=facts("1.1.0", boot="1.0.0"))]))
    assert entry["action"] == "commit"
    assert entry["reasons"] == ["1.1.0 is permanent but a restart would boot 1.0.0"]


def test_rule_4_hot_up():
    plan = plan_of([host()])
    entry = only(plan)
    assert entry == {
        "action": "hot_up",
        "method": "hot",
        "from": "1.0.0",
        "to": "1.1.0",
        "reasons": [],
        "package": f"{BUILD}/shop-1.1.0.tar.gz",
        "checksum": SUM_110,
        "remove": [],
        "health": None,
        "service": None,
        "before_hook": None,
        "after_hook": None,
    }
    assert plan["hot"] == ["node1"]
    assert plan["rolling"] == []


def test_rule_4_missing_releases_file_is_no_blocker():
    node = facts(releases_file=False, hot_upgrade_possible=False, hot_upgrade_reasons=["releases/RELEASES is missing"])
    assert only(plan_of([host(facts=node)]))["action"] == "hot_up"


def test_rule_4_undone_drift_check_is_no_blocker():
    assert only(plan_of([host(facts=facts(drift_checked=False))]))["action"] == "hot_up"


BLOCKED = {
    "release_handler": (
        {"release_handler": False},
        "release_handler does not run on the node (sasl is not started)",
    ),
    "erts": (
        {"erts": {"running": "13.1.5", "release": "13.1.5", "bundled": []}},
        "ERTS 13.1.5 is not bundled under the root (bundled: none)",
    ),
    "otp_libs": ({"otp_libs_bundled": False}, "the OTP libraries (kernel, stdlib, ...) are not all bundled under lib/"),
    "sasl": (
        {"sasl": {"in_release": False, "running": False}},
        "sasl is not part of the release, so release_handler cannot run",
    ),
    "erts_mismatch": (
        {"erts": {"running": "13.1.4", "release": "13.1.5", "bundled": ["13.1.5"]}},
        "the node runs ERTS 13.1.4, the release names ERTS 13.1.5",
    ),
    "drift": (
        {"drift": [{"module": "shop_price", "application": "shop"}]},
        "loaded code differs from the release files (drift) in 1 module(s): shop_price",
    ),
}


@pytest.mark.parametrize("blocker", sorted(BLOCKED))
def test_rule_5_node_blockers_roll(blocker):
    changes, reason = BLOCKED[blocker]
    node = facts(**changes)
    assert node_blockers(node) == [reason]
    plan = plan_of([host(facts=node)])
    entry = only(plan)
    assert entry["action"] == "rolling_up"
    assert entry["method"] == "rolling"
    assert entry["reasons"] == [reason]
    # the package was built for other hosts: the rolling path installs the same bytes
    assert (entry["package"], entry["checksum"]) == (f"{BUILD}/shop-1.1.0.tar.gz", SUM_110)
    assert plan["rolling"] == ["node1"]
    assert plan["hot"] == []


def test_rule_5_without_package_uses_the_tarball():
    node = facts(otp_libs_bundled=False, erts={"running": "13.1.5", "release": "13.1.5", "bundled": []})
    entry = only(plan_of([host(facts=node)], built_map={}))
    assert entry["action"] == "rolling_up"
    assert entry["reasons"] == [
        "ERTS 13.1.5 is not bundled under the root (bundled: none)",
        "the OTP libraries (kernel, stdlib, ...) are not all bundled under lib/",
    ]
    assert (entry["package"], entry["checksum"]) == (f"{PK}/shop-1.1.0.tar.gz", None)


def test_rule_5_package_verdict():
    reasons = ["ERTS changes from 13.1.5 to 14.0: the emulator must restart"]
    entry = only(plan_of([host()], built_map={"1.1.0": built("1.1.0", SUM_110, v1_0_0=(False, reasons))}))
    assert entry["action"] == "rolling_up"
    assert entry["reasons"] == reasons


def test_rule_5_no_relup_from_the_running_version():
    entry = only(plan_of([host()], built_map={}))
    assert entry["action"] == "rolling_up"
    assert entry["reasons"] == [
        "no upgrade package of 1.1.0 with a relup from 1.0.0 was built (no manifest or tarball of it)"
    ]
    other = {"1.1.0": built("1.1.0", SUM_110, v0_9_0=(True, []))}
    assert only(plan_of([host()], built_map=other))["reasons"] == [
        "the upgrade package of 1.1.0 has no relup entry for 1.0.0"
    ]


def test_rule_5_strategy_rolling():
    entry = only(plan_of([host(strategy="rolling")]))
    assert entry["action"] == "rolling_up"
    assert entry["reasons"] == ["otp_release_strategy: rolling"]


def test_rule_5_strategy_hot_is_an_error():
    with pytest.raises(PlanErrors) as excinfo:
        plan_of([host(strategy="hot", facts=facts(release_handler=False))])
    assert errors_of(excinfo) == [
        "node1: otp_release_strategy is hot, but 1.0.0 -> 1.1.0 cannot go hot: "
        "release_handler does not run on the node (sasl is not started)"
    ]


def test_rule_5_missing_tarball():
    with pytest.raises(PlanErrors) as excinfo:
        plan_of([host(target="1.2.0")])
    assert errors_of(excinfo) == [
        "node1: otp_release_version is 1.2.0, but otp_release_packages has no shop-1.2.0.tar.gz"
    ]


DOWN_IN_RELUP = {"up": {"1.0.0": {"restarts_emulator": False}}, "down": {"1.0.0": {"restarts_emulator": False}}}


def test_rule_6_hot_down_by_the_running_relup():
    entry = only(plan_of([host(target="1.0.0", facts=pinned(relup=DOWN_IN_RELUP))]))
    assert entry["action"] == "hot_down"
    assert entry["method"] == "hot"
    assert (entry["from"], entry["to"]) == ("1.1.0", "1.0.0")
    assert (entry["package"], entry["checksum"]) == (None, None)
    assert entry["remove"] == []  # keep 2: 1.1.0 becomes old and stays


def test_rule_6_hot_down_by_the_rebuilt_package_of_the_running_version():
    entry = only(plan_of([host(target="1.0.0", facts=pinned())]))
    assert entry["action"] == "hot_down"
    assert (entry["package"], entry["checksum"]) == (f"{BUILD}/shop-1.1.0.tar.gz", SUM_110)


def test_rule_6_current_to_permanent():
    # 1.1.0 installed but not permanent, pinned back to the permanent 1.0.0
    node = facts("1.1.0", permanent="1.0.0", relup=DOWN_IN_RELUP)
    entry = only(plan_of([host(target="1.0.0", facts=node)]))
    assert entry["action"] == "hot_down"


@pytest.mark.parametrize(
    ("node", "built_map", "reasons"),
    [
        (
            pinned(),
            {},
            [
                "the relup of the running release 1.1.0 has no down script to 1.0.0",
                "no rebuilt package of 1.1.0 adds one (it needs shop-1.1.0.tar.gz and shop-1.0.0.tar.gz in "
                "otp_release_packages)",
            ],
        ),
        (
            pinned(relup={"up": {}, "down": {"1.0.0": {"restarts_emulator": True}}}),
            {"1.1.0": built("1.1.0", SUM_110, v1_0_0=(False, ["kernel changes from 8.5 to 8.6"]))},
            [
                "the down script of the running relup to 1.0.0 restarts the emulator",
                "kernel changes from 8.5 to 8.6",
            ],
        ),
        (
            pinned(relup=DOWN_IN_RELUP, release_handler=False),
            BUILT_110,
            ["release_handler does not run on the node (sasl is not started)"],
        ),
    ],
    ids=["no-down-script", "down-script-restarts", "blocked"],
)
def test_rule_7_rolling_down_from_the_node(node, built_map, reasons):
    entry = only(plan_of([host(target="1.0.0", facts=node)], built_map=built_map))
    assert entry["action"] == "rolling_down"
    assert entry["method"] == "rolling"
    assert entry["reasons"] == reasons
    assert entry["package"] is None  # 1.0.0 is still on the node


def test_rule_7_rolling_down_from_the_packages():
    node = pinned(releases=[("1.1.0", "permanent")], relup=DOWN_IN_RELUP)
    entry = only(plan_of([host(target="1.0.0", facts=node)]))
    assert entry["action"] == "rolling_down"
    assert entry["reasons"] == ["1.0.0 is no longer on the node"]
    assert entry["package"] == f"{PK}/shop-1.0.0.tar.gz"


def test_rule_7_not_on_the_node_and_no_tarball():
    node = pinned(releases=[("1.1.0", "permanent")])
    with pytest.raises(PlanErrors) as excinfo:
        plan_of([host("node2", target="1.0.0", facts=node)], tarballs={"1.1.0": TARBALLS["1.1.0"]})
    assert errors_of(excinfo) == [
        "cannot downgrade node2 to 1.0.0 (otp_release_version): not on the node and no shop-1.0.0.tar.gz in "
        "otp_release_packages"
    ]


def test_rule_7_strategy_rolling_and_hot():
    entry = only(plan_of([host(target="1.0.0", strategy="rolling", facts=pinned(relup=DOWN_IN_RELUP))]))
    assert (entry["action"], entry["reasons"]) == ("rolling_down", ["otp_release_strategy: rolling"])
    with pytest.raises(PlanErrors, match=re.escape("otp_release_strategy is hot, but 1.1.0 -> 1.0.0 cannot go hot")):
        plan_of([host(target="1.0.0", strategy="hot", facts=pinned(releases=[("1.1.0", "permanent")]))])


def test_every_action_is_reachable():
    """One fleet with one host per row of the table: order, lists and lines."""
    hosts = [
        host("web1", target="1.1.0", facts=facts("1.1.0")),
        host("web2", target="1.1.0", facts=facts("1.1.0", permanent="1.0.0")),
        host("web3", target="1.1.0"),
        host("web4", target="1.0.0", facts=pinned(relup=DOWN_IN_RELUP)),
        host("web5", target="1.1.0", strategy="rolling"),
        host("web6", target="1.0.0", facts=pinned(releases=[("1.1.0", "permanent")])),
    ]
    plan = plan_of(hosts)
    assert [e["action"] for e in plan["hosts"].values()] == list(ACTIONS)
    assert plan["hot"] == ["web2", "web3", "web4"]
    assert plan["rolling"] == ["web5", "web6"]
    assert json.loads(json.dumps(plan)) == plan
    assert plan["lines"] == [
        "Fleet plan for shop: 6 hosts (3 hot, 2 rolling, 1 unchanged); hot batches [1, '100%'], rolling batches 1; "
        "stop when more than 0% of a batch fails",
        "web1  unchanged    1.1.0  runs 1.1.0, permanent",
        "web2  commit       1.0.0 -> 1.1.0  1.1.0 runs but is not permanent (permanent: 1.0.0): health check, then "
        "make it permanent",
        "web3  hot up       1.0.0 -> 1.1.0  relup from 1.0.0, package sha256:3f2a3f2a3f2a…",
        "web4  hot down     1.1.0 -> 1.0.0  down script in the running relup of 1.1.0",
        "web5  rolling up   1.0.0 -> 1.1.0  otp_release_strategy: rolling",
        "web6  rolling down 1.1.0 -> 1.0.0  1.0.0 is no longer on the node",
    ]


def test_check_mode_empties_the_rollout():
    plan = plan_of([host("node1"), host("node2", strategy="rolling")], check_mode=True)
    assert (plan["hot"], plan["rolling"], plan["check_mode"]) == ([], [], True)
    assert [e["action"] for e in plan["hosts"].values()] == ["hot_up", "rolling_up"]
    assert plan["lines"][-1] == "check mode: nothing will be changed"


def test_plan_carries_host_settings():
    hooks = {"before_hook": "/hooks/drain.yml", "after_hook": "/hooks/undrain.yml"}
    entry = only(plan_of([host(health="is_pid(whereis(shop_sup))", service="shop.service", **hooks)]))
    assert entry["health"]["erlang"] == "is_pid(whereis(shop_sup))"
    assert entry["service"] == "shop.service"
    assert (entry["before_hook"], entry["after_hook"]) == ("/hooks/drain.yml", "/hooks/undrain.yml")


def test_plan_fleet_settings_are_normalised():
    plan = plan_of([host()], serial=["1", "25 %", 3], rolling_serial="50%", max_fail_percentage="10")
    assert (plan["serial"], plan["rolling_serial"], plan["max_fail_percentage"]) == ([1, "25%", 3], "50%", 10)
    expected = "hot batches [1, '25%', 3], rolling batches 50%; stop when more than 10% of a batch fails"
    assert plan["lines"][0].endswith(expected)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"serial": 0}, "otp_release_serial: 0 is not an integer >= 1"),
        ({"serial": []}, r"otp_release_serial: \[\] names no batch size"),
        ({"serial": '[1, "100%"]'}, "is a string; pass a list as JSON"),
        ({"rolling_serial": "0%"}, "otp_release_rolling_serial: '0' is not an integer >= 1"),
        ({"max_fail_percentage": 101}, "otp_release_max_fail_percentage: 101 is not an integer >= 0 and <= 100"),
    ],
)
def test_plan_bad_fleet_settings(settings, message):
    with pytest.raises(PlanErrors, match=message):
        plan_of([host()], **settings)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"target": None}, "node1: otp_release_version is None; set it to the version the node must run"),
        ({"target": 1.1}, "node1: otp_release_version is the number 1.1; quote it in YAML"),
        ({"target": "1.0"}, "node1: otp_release_version 1.0 vs the running 1.0.0: cannot order versions"),
        ({"strategy": "fast"}, "node1: otp_release_strategy is 'fast'; expected one of auto, hot, rolling"),
        ({"keep": -1}, "node1: otp_release_keep: -1 is not an integer >= 0"),
        ({"health": {"erlang": "ok", "retry": 1}}, "node1: otp_release_health_check: unknown key(s) retry"),
    ],
)
def test_plan_bad_host_variables(kw, message):
    with pytest.raises(PlanErrors) as excinfo:
        plan_of([host(**kw)])
    (error,) = errors_of(excinfo)
    assert error.startswith(message)


def test_plan_integer_version_is_a_string():
    node = facts("2", releases=[("2", "permanent")])
    assert only(plan_of([host(target=2, facts=node)]))["action"] == "noop"


# -- removals ------------------------------------------------------------------------------------


def releases(*pairs) -> list:
    return [{"version": v, "status": s} for v, s in pairs]


def test_releases_to_remove_newest_are_kept():
    after = releases(("0.8.0", "old"), ("0.10.0", "old"), ("0.9.0", "unpacked"), ("1.1.0", "permanent"),
                     ("1.2.0", "unpacked"))
    assert releases_to_remove(after, "1.1.0", 2) == ["0.9.0", "0.8.0"]
    assert releases_to_remove(after, "1.1.0", 0) == ["1.2.0", "0.10.0", "0.9.0", "0.8.0"]
    assert releases_to_remove(after, "1.1.0", 10) == []


def test_releases_to_remove_never_the_permanent_or_the_target():
    after = releases(("1.0.0", "permanent"), ("1.1.0", "unpacked"), ("1.2.0", "current"))
    assert releases_to_remove(after, "1.1.0", 0) == []


def test_plan_removals_keep_zero_removes_the_from_version():
    node = facts("1.0.0", releases=[("1.0.0", "permanent"), ("0.9.0", "old"), ("0.8.0", "unpacked")])
    assert only(plan_of([host(keep=0, facts=node)]))["remove"] == ["1.0.0", "0.9.0", "0.8.0"]
    assert only(plan_of([host(keep=1, facts=node)]))["remove"] == ["0.9.0", "0.8.0"]
    plan = plan_of([host(keep="2", facts=node)])
    assert only(plan)["remove"] == ["0.8.0"]
    assert plan["lines"][1].endswith("; then removes 0.8.0")


# -- batch gate ----------------------------------------------------------------------------------

OK = {"result": "ok"}
FAILED = {"result": "failed", "phase": "health"}


def outcomes_of(batch, failures) -> dict:
    return {h: (FAILED if i < failures else OK) for i, h in enumerate(batch)}


@pytest.mark.parametrize(
    ("size", "failures", "pct", "stop"),
    [(4, 2, 49, True), (4, 1, 49, False), (2, 1, 50, False), (2, 2, 50, True), (3, 3, 100, False),
     (1, 1, 0, True), (5, 0, 0, False), (10, 1, 10, False), (10, 2, 10, True)],
)
def test_batch_gate_arithmetic(size, failures, pct, stop):
    batch = [f"node{i}" for i in range(size)]
    gate = batch_gate(batch, outcomes_of(batch, failures), pct, number=2)
    assert gate["stop"] is stop
    assert gate["failed"] == batch[:failures]
    assert gate["size"] == size


def test_batch_gate_matches_max_fail_percentage_everywhere():
    """Ansible stops a play when failed / batch_size > max_fail_percentage / 100.0 (strategy/linear.py)."""
    for size in range(1, 13):
        batch = [f"n{i}" for i in range(size)]
        for failures, pct in itertools.product(range(size + 1), range(101)):
            expected = (failures / size) > (pct / 100.0)
            assert batch_gate(batch, outcomes_of(batch, failures), pct)["stop"] is expected, (size, failures, pct)


def test_batch_gate_missing_outcome_is_a_failure():
    gate = batch_gate(["node1", "node2"], {"node1": OK, "node2": None}, 0, number=1)
    assert gate == {
        "stop": True,
        "failed": ["node2"],
        "hosts": ["node1", "node2"],
        "batch": 1,
        "size": 2,
        "reason": "1 of 2 hosts of batch 1 failed (more than 0%)",
    }
    assert batch_gate(["node3"], {}, 100)["reason"] == "1 of 1 host of the batch failed (at most 100% may fail)"


def test_batch_gate_bad_percentage():
    with pytest.raises(PlanError, match="otp_release_max_fail_percentage: 'all' is not an integer"):
        batch_gate(["node1"], {}, "all")


def test_batches_like_serial():
    hosts = [f"h{i}" for i in range(10)]
    assert batches(hosts, [1, "100%"]) == [["h0"], hosts[1:]]
    assert batches(hosts, [1, "50%"]) == [["h0"], hosts[1:6], hosts[6:]]
    assert batches(hosts, 3) == [hosts[0:3], hosts[3:6], hosts[6:9], hosts[9:]]
    assert batches(hosts[:3], "30%") == [["h0"], ["h1"], ["h2"]]
    assert batches([], [1]) == []


# -- summary -------------------------------------------------------------------------------------


def fleet_plan(check_mode=False) -> dict:
    node = facts("1.0.0", releases=[("1.0.0", "permanent"), ("0.9.0", "old")])
    hosts = [host(f"node{i}", facts=copy.deepcopy(node)) for i in range(1, 4)]
    hosts.append(host("node4", facts=facts("1.1.0")))
    return plan_of(hosts, check_mode=check_mode)


def test_summary_all_ok():
    plan = fleet_plan()
    outcomes = {
        f"node{i}": {"result": "ok", "method": "hot", "seconds": 4.25, "removed": ["0.9.0"] if i == 1 else []}
        for i in range(1, 4)
    }
    outcomes["node3"]["warnings"] = ["remove 0.9.0 failed: {error,{enoent,x}}"]
    result = summary(plan, outcomes, None, 100.0, 126.94)
    assert result["failed"] == []
    assert result["seconds"] == 26.9
    assert [r["status"] for r in result["rows"]] == ["ok", "ok", "ok", "unchanged"]
    assert result["lines"] == [
        "Upgrade summary for shop: 3 ok, 0 failed, 1 unchanged",
        "node1  hot up       1.0.0 -> 1.1.0  hot        4.2 s  ok, removed 0.9.0",
        "node2  hot up       1.0.0 -> 1.1.0  hot        4.2 s  ok",
        "node3  hot up       1.0.0 -> 1.1.0  hot        4.2 s  ok; warning: remove 0.9.0 failed: {error,{enoent,x}}",
        "node4  unchanged    1.1.0  -              -  unchanged",
        "Total time 26.9 s",
    ]
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        ({"result": "failed", "phase": "check", "running": "1.0.0"},
         "failed before the point of no return, untouched, serving 1.0.0"),
        ({"result": "failed", "phase": "install_after_ponr", "running": "1.0.0", "node_restarted": True},
         "failed after the point of no return: node restarted on 1.0.0"),
        ({"result": "failed", "phase": "health", "running": "1.0.0", "rolled_back": True},
         "health check failed, rolled back hot to 1.0.0"),
        ({"result": "failed", "phase": "health", "running": "1.0.0", "rolled_back": True, "node_restarted": True},
         "health check failed, restarted on 1.0.0"),
        ({"result": "failed", "phase": "permanent", "running": "1.1.0", "rolled_back": False},
         "make permanent failed, not rolled back, serving 1.1.0"),
        ({"result": "failed", "phase": "restart", "running": "1.0.0", "node_restarted": True},
         "restart into 1.1.0 failed: restarted on 1.0.0"),
        ({"result": "rollback_failed", "phase": "health", "running": "1.1.0"},
         "failed (health) and the rollback failed: running 1.1.0"),
        ({"result": "failed", "phase": "hook"}, "failed (hook), serving an unknown version"),
    ],
)
def test_summary_failures(outcome, text):
    plan = fleet_plan()
    outcomes = {"node1": dict(outcome, seconds=3.0, message="boom on node1")}
    stopped = batch_gate(["node1"], outcomes, 0, number=1)
    stopped["kind"] = "hot"
    result = summary(plan, outcomes, stopped, 0.0, 30.0)
    assert result["failed"] == ["node1"]
    row = result["rows"][0]
    assert (row["status"], row["result"], row["message"]) == ("failed", text, "boom on node1")
    assert result["lines"][1].endswith(f"{text} (boom on node1)")
    assert [r["line"] for r in result["rows"]] == result["lines"][1:5]
    not_run = "not run: rollout stopped after batch 1 (1 of 1 failed)"
    assert [r["result"] for r in result["rows"][1:3]] == [not_run, not_run]
    assert result["lines"][0] == "Upgrade summary for shop: 0 ok, 1 failed, 2 not run, 1 unchanged"
    assert result["lines"][-2:] == [
        "Rollout stopped: 1 of 1 host of batch 1 failed (more than 0%)",
        "Total time 30.0 s",
    ]


def test_summary_stopped_in_the_rolling_play():
    plan = plan_of([host("node1"), host("node2", strategy="rolling"), host("node3", strategy="rolling")],
                   rolling_serial=1)
    outcomes = {"node1": {"result": "ok", "seconds": 2}, "node2": {"result": "failed", "phase": "restart",
                                                                   "running": "1.0.0"}}
    stopped = dict(batch_gate(["node2"], outcomes, 0, number=1), kind="rolling")
    result = summary(plan, outcomes, stopped, 0.0, 1.0)
    assert [r["status"] for r in result["rows"]] == ["ok", "failed", "not run"]
    assert result["rows"][2]["result"] == "not run: rollout stopped after rolling batch 1 (1 of 1 failed)"


def test_summary_host_without_outcome_failed():
    result = summary(fleet_plan(), {"node1": OK, "node2": OK}, None, 0.0, 1.0)
    assert result["failed"] == ["node3"]
    assert result["rows"][2]["result"].startswith("failed: no outcome recorded")


def test_summary_check_mode():
    result = summary(fleet_plan(check_mode=True), {}, None, 0.0, 2.0)
    assert result["failed"] == []
    assert [r["status"] for r in result["rows"]] == ["planned", "planned", "planned", "unchanged"]
    assert result["lines"][0] == "Upgrade summary for shop: 0 ok, 0 failed, 1 unchanged, 3 planned"
    assert result["lines"][-2:] == ["check mode: nothing changed", "Total time 2.0 s"]
