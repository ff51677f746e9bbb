# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbook erlang.otp.upgrade where hosts cannot (or must not) go hot: rolling restarts.

* ``shop_noerts`` (no bundled ERTS, no OTP libraries under ``lib/``) 1.0.0 -> 1.1.0: the plan says
  why (ERTS, OTP libraries) and restarts the nodes one batch at a time. The before- and
  after-restart task files run around each restart; a node whose health check fails after the
  restart is restarted on 1.0.0 again, and its after-restart tasks still run. ``keep: 0`` removes
  1.0.0 from the node that succeeded;
* a mixed fleet: two hosts go hot (their processes keep their pids, no call fails), the third is
  pinned to ``otp_release_strategy: rolling`` and restarts, in one run; the next run takes all
  three hot to 2.0.0, the restarted host included.

What the nodes run is asked independently: the release's own script (``bin/<rel> eval``/``pid``)
and a load client on the fleet's distribution (tests/support/load.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ansible import playbook
from tests.support.load import LoadClient
from tests.support.rollout import PLAYBOOK, packages, row, shown, states, task

pytestmark = pytest.mark.fleet


def hook(path: Path, label: str, markers: Path) -> Path:
    """A task file that appends ``<label> <OS pid of the node's beam>`` to ``markers/<host>.log``."""
    path.write_text(
        f"- name: Test hook | {label}\n"
        "  ansible.builtin.shell: >-\n"
        f"    echo \"{label} $({{{{ otp_release_root }}}}/bin/{{{{ otp_release_name }}}} pid)\"\n"
        f"    >> {markers}/{{{{ inventory_hostname }}}}.log\n"
        "  changed_when: false\n"
    )
    return path


def test_rolling_without_bundled_erts_with_hooks_and_a_rollback(fleet_factory, release_tarball, tmp_path):
    name = "shop_noerts"
    fleet = fleet_factory(name, "1.0.0", nodes=2)
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0"], name)
    markers = tmp_path / "markers"
    markers.mkdir()
    fleet.set_vars(
        group_vars={"all": {
            "otp_release_name": name, "otp_release_version": "1.1.0", "otp_release_packages": str(pk),
            "otp_release_keep": 0,
            "otp_release_before_restart_tasks": str(hook(tmp_path / "before.yml", "before", markers)),
            "otp_release_after_restart_tasks": str(hook(tmp_path / "after.yml", "after", markers)),
        }},
        # node2's check only holds on 1.0.0: after its restart into 1.1.0 it fails
        host_vars={"node2": {"otp_release_health_check": {"erlang": "shop_cart:code_version() =:= 1",
                                                          "retries": 0, "delay": 0}}},
    )
    good, bad = fleet.hosts
    before = states(fleet, fleet.hosts)

    run = playbook(PLAYBOOK, fleet.inventory_path)

    assert run.rc == 2, run
    plan = shown(run, "Plan | show the fleet plan")
    assert plan[0].startswith(f"Fleet plan for {name}: 2 hosts (0 hot, 2 rolling, 0 unchanged)"), plan
    for host in fleet.hosts:
        line = row(plan, host)
        assert "rolling up   1.0.0 -> 1.1.0" in line, line
        assert "ERTS 13.1.5 is not bundled under the root" in line, line
        assert "the OTP libraries (kernel, stdlib, ...) are not all bundled under lib/" in line, line
    after = states(fleet, fleet.hosts)
    # node1: restarted into 1.1.0 (a new beam), 1.0.0 removed (keep 0), hooks around the restart
    assert after[good]["releases"] == {"1.1.0": "permanent"}, after[good]
    assert after[good]["code"] == 2 and after[good]["os_pid"] != before[good]["os_pid"]
    assert not (fleet.nodes[good].root / "releases" / "1.0.0").exists()
    assert (markers / f"{good}.log").read_text().splitlines() == [
        f"before {before[good]['os_pid']}", f"after {after[good]['os_pid']}"]
    lines = shown(run, "Summary | show it")
    assert "rolling" in row(lines, good) and "ok, removed 1.0.0" in row(lines, good), lines
    assert run.stats[good]["failed"] == 0, run.stats
    # node2: restarted into 1.1.0, unhealthy there, restarted on 1.0.0 again; the after hook ran last
    restart = task(run, bad, "Rolling | restart into the target version")
    assert restart["changed"] and restart["running_version"] == "1.1.0", restart
    check = task(run, bad, "Health | the Erlang expression answers true or ok")
    assert check["failed"] and check["value"] == "false", check
    assert (markers / f"{bad}.log").read_text().splitlines() == [
        f"before {before[bad]['os_pid']}", f"after {after[bad]['os_pid']}"]
    assert run.stats[bad]["failed"] == 1, run.stats
    back = task(run, bad, "Rollback | restart the node on the version it ran")
    assert back["changed"] and back["running_version"] == "1.0.0" and back["node_restarted"], back
    assert after[bad]["releases"] == {"1.1.0": "old", "1.0.0": "permanent"}, after[bad]
    assert after[bad]["code"] == 1 and after[bad]["os_pid"] != before[bad]["os_pid"]
    assert lines[0].startswith(f"Upgrade summary for {name}: 1 ok, 1 failed"), lines
    assert "health check failed, restarted on 1.0.0" in row(lines, bad), lines


def test_mixed_fleet_then_all_hot(fleet_factory, release_tarball, tmp_path):
    fleet = fleet_factory("shop", "1.0.0", nodes=3)
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0", "2.0.0"], "shop")
    fleet.set_vars(
        group_vars={"all": {"otp_release_name": "shop", "otp_release_version": "1.1.0",
                            "otp_release_packages": str(pk), "otp_release_serial": ["100%"]}},
        host_vars={"node3": {"otp_release_strategy": "rolling"}},
    )
    hot, restarted = fleet.hosts[:2], fleet.hosts[2]
    before = states(fleet, fleet.hosts)

    with LoadClient(fleet, period_ms=50) as load:
        run = playbook(PLAYBOOK, fleet.inventory_path)
    figures = load.stop()

    assert run.rc == 0, run
    plan = shown(run, "Plan | show the fleet plan")
    assert plan[0].startswith("Fleet plan for shop: 3 hosts (2 hot, 1 rolling, 0 unchanged)"), plan
    assert all("hot up       1.0.0 -> 1.1.0" in row(plan, h) for h in hot), plan
    assert "rolling up   1.0.0 -> 1.1.0  otp_release_strategy: rolling" in row(plan, restarted), plan
    after = states(fleet, fleet.hosts)
    for host in fleet.hosts:
        assert after[host]["releases"] == {"1.1.0": "permanent", "1.0.0": "old"}, host
        assert after[host]["code"] == 2, host
    for host in hot:  # hot: the same beam, the same cart process, every call answered
        assert after[host]["os_pid"] == before[host]["os_pid"] and after[host]["cart"] == before[host]["cart"]
        assert figures[host]["failed"] == 0 and len(figures[host]["creations"]) == 1, figures[host]
        assert figures[host]["probes"]["shop_cart:pid()"] == [before[host]["cart"]], figures[host]
    assert after[restarted]["os_pid"] != before[restarted]["os_pid"]
    assert len(figures[restarted]["creations"]) == 2, figures[restarted]
    # the restart comes after the hot play: restarts never share a batch with hot installs
    installed = max(e["time"] for e in run.events if e["host"] in hot
                    and e["task"].endswith("Hot | install the target version through release_handler"))
    restart = [e for e in run.events if e["host"] == restarted
               and e["task"].endswith("Rolling | restart into the target version")]
    assert len(restart) == 1 and restart[0]["started"] >= installed, run.events
    assert [r.split()[0] for r in shown(run, "Summary | show it")[1:4]] == fleet.hosts

    # the next release goes hot everywhere, on the restarted node too
    fleet.set_vars(group_vars={"all": {"otp_release_version": "2.0.0"}},
                   host_vars={"node3": {"otp_release_strategy": "auto"}})
    with LoadClient(fleet, period_ms=50) as load:
        again = playbook(PLAYBOOK, fleet.inventory_path)
    figures = load.stop()

    assert again.rc == 0, again
    plan = shown(again, "Plan | show the fleet plan")
    assert plan[0].startswith("Fleet plan for shop: 3 hosts (3 hot, 0 rolling"), plan
    assert all("hot up       1.1.0 -> 2.0.0" in row(plan, h) for h in fleet.hosts), plan
    final = states(fleet, fleet.hosts)
    for host in fleet.hosts:
        assert final[host]["releases"]["2.0.0"] == "permanent" and final[host]["code"] == 3, host
        assert (final[host]["os_pid"], final[host]["cart"]) == (after[host]["os_pid"], after[host]["cart"]), host
        assert figures[host]["failed"] == 0 and len(figures[host]["creations"]) == 1, figures[host]
