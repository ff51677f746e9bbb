# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The load client of the demo and the bench (``tests/support/load.py`` + ``load_client.escript``)
against real loopback fleets: steady calls without failures and stable probes, failures counted on
the host whose node went away and on no other, the request refused with a clear error, and a mix
release (Elixir modules called by their atom).
"""
from __future__ import annotations

import time
from typing import Callable

import pytest

from tests.support.fleet import Fleet
from tests.support.load import LoadClient, LoadError, totals, wait_until

pytestmark = pytest.mark.fleet

PERIOD_MS = 20


def test_shop_fleet_steady_then_one_node_stopped(fleet_factory: Callable[..., Fleet]) -> None:
    fleet = fleet_factory("shop", "1.0.0", nodes=2)
    probes = ["shop_cart:pid()", "pid_to_list(shop_cart:pid())", "is_pid(whereis(shop_sup))"]

    # bad input: refused before anything runs, naming the text
    with pytest.raises(LoadError, match=r"shop_cart:items\("):
        LoadClient(fleet, call="shop_cart:items(").start()
    with pytest.raises(LoadError, match="node9"):
        LoadClient(fleet, hosts=["node1", "node9"])

    started = time.time()
    with LoadClient(fleet, period_ms=PERIOD_MS, probes=probes) as load:
        assert load.connected == {"node1": True, "node2": True}
        time.sleep(3)
    steady = load.stop()
    assert load.stop() is steady  # idempotent; __exit__ called it already
    assert list(steady) == ["node1", "node2"]
    assert load.result["reason"] == "eof"
    assert started <= load.result["started_at"] < load.result["stopped_at"] <= time.time()
    for host, stats in steady.items():
        assert stats["node"] == fleet.nodes[host].node_name
        # 3 s at one call per 20 ms is 150; a busy 2-core machine may fall behind, never far
        assert 75 <= stats["calls"] <= 3000 // PERIOD_MS + 5, stats
        assert (stats["ok"], stats["failed"], stats["failed_by_reason"]) == (stats["calls"], 0, {}), stats
        assert stats["first_failure_at"] is None and stats["last_failure_at"] is None
        lat = stats["latency_ms"]
        assert 0 < lat["p50"] <= lat["p99"] <= lat["max"] <= stats["max_gap_ms"], stats
        assert load.result["started_at"] <= stats["max_latency_at"] <= load.result["stopped_at"]
        # one cart process all along, printed as the node prints it (pid_to_list/1 there)
        [pid] = stats["probes"]["shop_cart:pid()"]
        assert stats["probes"]["pid_to_list(shop_cart:pid())"] == [f'"{pid}"']
        assert stats["probes"]["is_pid(whereis(shop_sup))"] == ["true"]
        assert stats["probe_failures"] == 0
        assert len(stats["creations"]) == 1
    # the default call is read-only: the carts the tests check are untouched
    assert [fleet.eval(h, "shop_cart:items()") for h in fleet.hosts] == ["[]", "[]"]
    assert totals(steady)["failed"] == 0

    # node2's beam dies under load (SIGKILL, by its recorded pid): failures on node2 only
    beam = fleet.nodes["node2"].beam
    assert beam is not None
    with LoadClient(fleet, period_ms=PERIOD_MS, probes=["shop_cart:pid()"]) as load:
        time.sleep(0.5)
        stopped_at = time.time()
        assert beam.kill()
        assert wait_until(lambda: not beam.alive(), 10)
        time.sleep(1)
    after = load.stop()
    assert after["node1"]["failed"] == 0, after["node1"]
    assert after["node1"]["probes"]["shop_cart:pid()"] == steady["node1"]["probes"]["shop_cart:pid()"]
    node2 = after["node2"]
    assert node2["ok"] > 0 and node2["failed"] > 0, node2
    assert node2["failed"] == sum(node2["failed_by_reason"].values())
    assert list(node2["failed_by_reason"]) == ["noconnection"], node2
    assert stopped_at <= node2["first_failure_at"] <= node2["last_failure_at"] <= load.result["stopped_at"]
    assert node2["max_gap_ms"] >= 1000, node2  # from its last reply until the client stopped
    assert totals(after)["failed"] == node2["failed"]


def test_mix_release(fleet_factory: Callable[..., Fleet]) -> None:
    fleet = fleet_factory("exshop", "0.1.0", nodes=1)
    value = fleet.eval("node1", "IO.puts(Exshop.Counter.value())")
    probes = ["'Elixir.Exshop.Counter':pid()", "'Elixir.Exshop.Counter':value()"]
    with LoadClient(fleet, period_ms=PERIOD_MS, probes=probes) as load:
        time.sleep(1)
    stats = load.stop()["node1"]
    assert stats["calls"] >= 20 and stats["failed"] == 0, stats
    assert len(stats["probes"]["'Elixir.Exshop.Counter':pid()"]) == 1, stats
    assert stats["probes"]["'Elixir.Exshop.Counter':value()"] == [value]
    assert fleet.eval("node1", "IO.puts(Exshop.Counter.value())") == value
