# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbook erlang.otp.upgrade when a host of the first batch fails.

One fleet of three nodes, two runs (the second also retries the canary with a good package):

1. a release whose ``code_change/3`` crashes (a hand-written appup in ``otp_release_appup_overrides``
   that updates ``shop_cart`` before the library its conversion needs): the canary fails after the
   point of no return, OTP restarts it on its permanent 1.0.0, the rollout stops, the later hosts
   are untouched (nothing staged, nothing unpacked), the summary says "not run", the run exits 2;
2. failing health checks in a batch of two (an Erlang expression that is false on the new version
   only, and a URL answering 503): each host goes back **hot** to 1.0.0 (the cart keeps its pid
   and its items), the host of the next batch is untouched.

What the nodes run is asked independently, through the release's own script (``bin/shop eval``).
"""
from __future__ import annotations

import http.server
import threading
from typing import Iterator, List

import pytest

from tests.support import upgrade_package
from tests.support.ansible import Run, playbook
from tests.support.rollout import PLAYBOOK, packages, row, states, summary, task

pytestmark = pytest.mark.fleet


def cart(state: dict) -> tuple:
    """The cart's pid, items and code version in a :func:`states` entry."""
    return state["cart"], state["items"], state["code"]


def rollout_events(run: Run, host: str) -> List[dict]:
    """The events of ``host`` in the hot and rolling plays."""
    return [e for e in run.events if e["host"] == host and e["play"].startswith(("Upgrade | hot", "Upgrade | rolling"))]


def untouched(fleet, host: str, state: dict) -> None:
    """``host`` (whose :func:`states` entry is ``state``) runs 1.0.0 only: nothing installed, unpacked or staged."""
    root = fleet.nodes[host].root
    assert state["releases"] == {"1.0.0": "permanent"}, host
    assert not (root / "releases" / "1.1.0").exists(), f"{host}: 1.1.0 was unpacked"
    assert not list((root / ".erlang-otp").glob("*.tar.gz")), f"{host}: a package was staged"


class _Unhealthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the http.server API names it
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        body = b"draining\n"
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unhealthy_url() -> Iterator[tuple]:
    """A URL on 127.0.0.1 that always answers 503, and the list of paths it was asked for."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unhealthy)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health", server.hits  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_first_batch_failures_stop_the_rollout(fleet_factory, release_tarball, tmp_path, unhealthy_url):
    url, hits = unhealthy_url
    fleet = fleet_factory("shop", "1.0.0", nodes=3)
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0"])
    appups = tmp_path / "appups"
    appups.mkdir()
    (appups / "shop.appup").write_text(upgrade_package.SHOP_APPUP_010_020_CRASH)
    fleet.set_vars(group_vars={"all": {"otp_release_name": "shop", "otp_release_version": "1.1.0",
                                       "otp_release_packages": str(pk),
                                       "otp_release_appup_overrides": str(appups)}})
    canary, second, last = fleet.hosts
    before = states(fleet, fleet.hosts, "shop_cart:add(apple, 2)")

    # 1. code_change crashes in the canary (batch 1 of [1, "100%"]): the rollout stops there
    run = playbook(PLAYBOOK, fleet.inventory_path)

    assert run.rc == 2, run
    install = task(run, canary, "Hot | install the target version through release_handler")
    assert install["failed"] and install["phase_failed"] == "install_after_ponr", install
    assert install["node_restarted"] is True and "code_change" in install["msg"], install
    after = states(fleet, fleet.hosts)
    # the canary serves its old version again, restarted by OTP: 1.0.0 permanent, a fresh cart
    assert after[canary]["releases"] == {"1.1.0": "unpacked", "1.0.0": "permanent"}
    pid, items, vsn = after[canary]["cart"], after[canary]["items"], after[canary]["code"]
    assert pid != before[canary]["cart"] and items == [] and vsn == 1
    # the later hosts never saw the rollout
    for host in (second, last):
        assert not rollout_events(run, host), f"{host} took part in the rollout"
        untouched(fleet, host, after[host])
        assert cart(after[host]) == cart(before[host]), host
    lines = summary(run)
    assert lines[0].startswith("Upgrade summary for shop: 0 ok, 1 failed, 2 not run"), lines
    assert "failed after the point of no return: node restarted on 1.0.0" in row(lines, canary)
    for host in (second, last):
        assert "not run: rollout stopped after batch 1 (1 of 1 failed)" in row(lines, host), lines
    assert any(line.startswith("Rollout stopped: 1 of 1 host of batch 1 failed") for line in lines), lines
    assert {h: run.stats[h]["failed"] for h in fleet.hosts} == {canary: 1, second: 0, last: 0}, run.stats

    # 2. generated appups (a good package), batch 1 is node1 and node2, each with a health check
    # that fails only after the change: an Erlang expression, and a URL answering 503. Both go
    # back hot; node3 (batch 2) never starts.
    fleet.set_vars(
        group_vars={"all": {"otp_release_appup_overrides": "", "otp_release_serial": [2, "100%"]}},
        host_vars={
            canary: {"otp_release_health_check": {"erlang": "shop_cart:code_version() =:= 1",
                                                  "retries": 0, "delay": 0}},
            second: {"otp_release_health_check": {"url": url, "retries": 0, "delay": 0, "timeout": 5}},
        },
    )
    before = states(fleet, fleet.hosts, "shop_cart:add(pear, 3)")

    run = playbook(PLAYBOOK, fleet.inventory_path)

    assert run.rc == 2, run
    # each host of batch 1 ran 1.1.0 "current" when its check failed (once: retries 0)
    check = task(run, canary, "Health | the Erlang expression answers true or ok")
    assert check["failed"] and check["value"] == "false" and check.get("attempts", 1) == 1, check
    check = task(run, second, "Health | the URL answers")
    assert check["failed"] and check["status"] == 503 and check.get("attempts", 1) == 1, check
    assert hits == ["/health"]
    after = states(fleet, fleet.hosts)
    for host in (canary, second):
        back = task(run, host, "Rollback | go back hot to the version the node ran")
        assert back["changed"] and not back.get("failed") and not back["node_restarted"], back
        assert after[host]["releases"] == {"1.1.0": "old", "1.0.0": "permanent"}, host
        assert cart(after[host]) == cart(before[host]), f"{host}: the cart must keep its pid, items and code"
    assert not rollout_events(run, last), "the host of batch 2 took part in the rollout"
    untouched(fleet, last, after[last])
    assert cart(after[last]) == cart(before[last])
    lines = summary(run)
    assert lines[0].startswith("Upgrade summary for shop: 0 ok, 2 failed, 1 not run"), lines
    for host in (canary, second):
        assert "health check failed, rolled back hot to 1.0.0" in row(lines, host), lines
    assert "not run: rollout stopped after batch 1 (2 of 2 failed)" in row(lines, last), lines
    assert {h: run.stats[h]["failed"] for h in fleet.hosts} == {canary: 1, second: 1, last: 0}, run.stats
