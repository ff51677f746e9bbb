# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Downgrades by pinning otp_release_version in the inventory, through the playbook erlang.otp.upgrade.

One fleet, two nodes upgraded to 1.1.0; node2 keeps no old release (``otp_release_keep: 0``). Then
the group is pinned to 1.0.0: node1 still has 1.0.0 and the relup's down script, so it goes down hot
(the cart keeps its pid and its state shape goes back); node2 no longer has 1.0.0, so it restarts
into it from the packages directory.
"""
from __future__ import annotations

import pytest

from tests.support.ansible import playbook
from tests.support.rollout import cart_pid, packages, plan_lines, releases

pytestmark = pytest.mark.fleet


def test_pin_down_hot_where_possible_and_rolling_where_not(fleet_factory, release_tarball, tmp_path):
    fleet = fleet_factory("shop", "1.0.0", nodes=2)
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0"])
    fleet.set_vars(group_vars={"fleet": {"otp_release_name": "shop", "otp_release_version": "1.1.0",
                                         "otp_release_packages": str(pk)}},
                   host_vars={"node2": {"otp_release_keep": 0}})
    up = playbook("erlang.otp.upgrade", fleet.inventory_path)
    assert up.rc == 0, up
    assert releases(fleet, "node1") == {"1.1.0": "permanent", "1.0.0": "old"}
    assert releases(fleet, "node2") == {"1.1.0": "permanent"}, "keep 0 removes the old release"
    assert not (fleet.nodes["node2"].root / "lib" / "shop-0.1.0").exists()
    fleet.eval("node1", "shop_cart:add(pear, 3)")
    pid1, os_pid2 = cart_pid(fleet, "node1"), fleet.eval("node2", "os:getpid()")

    fleet.set_vars(group_vars={"fleet": {"otp_release_version": "1.0.0"}})
    down = playbook("erlang.otp.upgrade", fleet.inventory_path)
    assert down.rc == 0, down
    lines = plan_lines(down)
    assert any(line.startswith("node1") and "hot down" in line for line in lines), lines
    assert any(line.startswith("node2") and "rolling down" in line for line in lines), lines
    assert releases(fleet, "node1")["1.0.0"] == "permanent"
    assert releases(fleet, "node2")["1.0.0"] == "permanent"
    assert cart_pid(fleet, "node1") == pid1, "the hot downgrade keeps the cart process"
    assert fleet.eval("node1", "shop_cart:code_version()").strip() == "1"
    assert fleet.eval("node1", "shop_cart:items()").replace(" ", "") == "[{pear,3}]"
    assert fleet.eval("node2", "os:getpid()") != os_pid2, "node2 was restarted into 1.0.0"
    assert fleet.eval("node2", "shop_cart:code_version()").strip() == "1"
    again = playbook("erlang.otp.upgrade", fleet.inventory_path)
    assert {h: again.stats[h]["changed"] for h in fleet.hosts} == {"node1": 0, "node2": 0}, again.stats
