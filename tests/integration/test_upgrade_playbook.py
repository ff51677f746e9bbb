# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbook erlang.otp.upgrade on real loopback fleets: hot rollouts in batches.

* check mode prints the plan and changes nothing;
* a hot upgrade in batches (canary, then the rest) under a steady request load: no call fails,
  every cart process keeps its pid, the canary is done before the others start;
* a second run changes nothing (``changed=0`` on every host);
* a heterogeneous fleet (nodes on 1.0.0 and on 1.1.0) goes to 2.0.0 in one run, from one package;
* a rollout interrupted after the canary's install converges when run again.
"""
from __future__ import annotations

import time

import pytest

from tests.support.ansible import finish_playbook, kill_playbook, playbook, start_playbook
from tests.support.load import LoadClient
from tests.support.rollout import PLAYBOOK, cart_pid, events, packages, plan_lines, releases

pytestmark = pytest.mark.fleet


def test_hot_rollout_in_batches_check_mode_and_second_run(fleet_factory, release_tarball, tmp_path):
    fleet = fleet_factory("shop", "1.0.0", nodes=3)
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0"])
    fleet.set_vars(group_vars={"all": {"otp_release_name": "shop", "otp_release_version": "1.1.0",
                                       "otp_release_packages": str(pk),
                                       "otp_release_health_check": "is_pid(whereis(shop_sup))"}})
    for host in fleet.hosts:
        fleet.eval(host, "shop_cart:add(apple, 2)")
    pids = {h: cart_pid(fleet, h) for h in fleet.hosts}
    before = {h: releases(fleet, h) for h in fleet.hosts}

    checked = playbook(PLAYBOOK, fleet.inventory_path, check=True)
    assert checked.rc == 0, checked
    lines = plan_lines(checked)
    assert lines[0].startswith("Fleet plan for shop: 3 hosts (3 hot")
    assert all("hot up" in line and "1.0.0 -> 1.1.0" in line for line in lines[1:4]), lines
    assert lines[-1] == "check mode: nothing will be changed"
    assert {h: releases(fleet, h) for h in fleet.hosts} == before, "check mode changed a node"
    assert not any((fleet.nodes[h].root / ".erlang-otp").exists() for h in fleet.hosts)
    assert not list((pk / ".erlang-otp").glob("*.tar.gz")), "check mode wrote a package"

    with LoadClient(fleet) as load:
        run = playbook(PLAYBOOK, fleet.inventory_path)
    figures = load.stop()
    assert run.rc == 0, run
    for host in fleet.hosts:
        assert releases(fleet, host) == {"1.1.0": "permanent", "1.0.0": "old"}, host
        assert cart_pid(fleet, host) == pids[host], f"{host}: the cart process must survive"
        assert fleet.eval(host, "shop_cart:items()").replace(" ", "") == "[{apple,2}]"
        assert figures[host]["failed"] == 0, figures[host]
        assert figures[host]["probes"]["shop_cart:pid()"] == [pids[host]], figures[host]
        assert len(figures[host]["creations"]) == 1, f"{host} restarted"
    # batches: the canary (first host) is made permanent before any other host starts installing
    install_task = "Hot | install the target version through release_handler"
    installs = {e["host"]: e for e in events(run, install_task)}
    permanent = {e["host"]: e for e in events(run, "Hot | make the target version permanent")}
    assert set(installs) == set(fleet.hosts)
    canary = fleet.hosts[0]
    assert all(permanent[canary]["time"] <= installs[h]["started"] for h in fleet.hosts[1:]), run.events
    summary = events(run, "Summary | show it")[0]["result"]["msg"]
    assert summary[0].startswith("Upgrade summary for shop: 3 ok, 0 failed"), summary

    again = playbook(PLAYBOOK, fleet.inventory_path)
    assert again.rc == 0, again
    assert {h: again.stats[h]["changed"] for h in fleet.hosts} == {h: 0 for h in fleet.hosts}, again.stats
    assert all("unchanged" in line for line in plan_lines(again)[1:4])


def test_heterogeneous_fleet_goes_to_2_0_0_from_one_package(fleet_factory, release_tarball, tmp_path):
    fleet = fleet_factory("shop", "1.0.0", nodes=3, tarballs={"node3": release_tarball("shop", "1.1.0")})
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0", "2.0.0"])
    fleet.set_vars(group_vars={"all": {"otp_release_name": "shop", "otp_release_version": "2.0.0",
                                       "otp_release_packages": str(pk), "otp_release_serial": ["100%"]}})
    pids = {h: cart_pid(fleet, h) for h in fleet.hosts}
    run = playbook(PLAYBOOK, fleet.inventory_path)
    assert run.rc == 0, run
    built = events(run, "Plan | build each upgrade package once, on the controller")
    assert len(built) == 1, "one package serves both running versions"
    (package,) = built[0]["result"]["results"]
    assert sorted(package["hot_from"]) == ["1.0.0", "1.1.0"]
    for host in fleet.hosts:
        assert releases(fleet, host)["2.0.0"] == "permanent", host
        assert cart_pid(fleet, host) == pids[host], host
        assert fleet.eval(host, "shop_cart:code_version()").strip() == "3"


def test_an_interrupted_rollout_converges_when_run_again(fleet_factory, release_tarball, tmp_path):
    fleet = fleet_factory("shop", "1.0.0", nodes=2)
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0"])
    # The canary's health check waits until a flag file exists: the run is killed while it waits,
    # with the canary on 1.1.0 "current" (installed, not permanent).
    flag = tmp_path / "healthy"
    fleet.set_vars(group_vars={"all": {
        "otp_release_name": "shop", "otp_release_version": "1.1.0", "otp_release_packages": str(pk),
        "otp_release_health_check": {"erlang": f'filelib:is_file("{flag}")', "retries": 100, "delay": 1}}})
    canary, other = fleet.hosts
    pid = cart_pid(fleet, canary)
    proc = start_playbook(PLAYBOOK, fleet.inventory_path, output_dir=tmp_path / "run1")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and releases(fleet, canary).get("1.1.0") != "current":
        time.sleep(0.5)
    assert releases(fleet, canary).get("1.1.0") == "current", finish_playbook(proc, timeout=1)
    kill_playbook(proc)
    assert releases(fleet, other) == {"1.0.0": "permanent"}

    flag.write_text("ok")
    run = playbook(PLAYBOOK, fleet.inventory_path)
    assert run.rc == 0, run
    lines = plan_lines(run)
    assert any(line.startswith(canary) and "commit" in line for line in lines), lines
    for host in fleet.hosts:
        assert releases(fleet, host) == {"1.1.0": "permanent", "1.0.0": "old"}, host
    assert cart_pid(fleet, canary) == pid
    third = playbook(PLAYBOOK, fleet.inventory_path)
    assert {h: third.stats[h]["changed"] for h in fleet.hosts} == {h: 0 for h in fleet.hosts}
