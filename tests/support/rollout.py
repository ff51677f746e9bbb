# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the tests of the playbook erlang.otp.upgrade share: packages, node state, task results.

Test machinery, not part of the collection.
"""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import text

from tests.support.ansible import Run

PLAYBOOK = "erlang.otp.upgrade"

# One eval per host (in parallel: each is an ssh login plus the release's own script): the
# releases and their status, the beam's OS pid, and the shop cart's pid, items and code version.
SHOP_STATE = ("{[{V, S} || {_, V, _, S} <- release_handler:which_releases()], os:getpid(), "
              "pid_to_list(shop_cart:pid()), shop_cart:items(), shop_cart:code_version()}")


def packages(tmp_path: Path, release_tarball, versions: List[str], name: str = "shop") -> Path:
    """A controller directory holding ``<name>-<vsn>.tar.gz`` as rebar3 made them."""
    directory = tmp_path / "packages"
    directory.mkdir(exist_ok=True)
    for vsn in versions:
        shutil.copy(release_tarball(name, vsn), directory / f"{name}-{vsn}.tar.gz")
    return directory


def states(fleet, hosts: List[str], before: str = "") -> Dict[str, dict]:
    """Per shop host ``{"releases": {vsn: status}, "os_pid", "cart" (pid text), "items", "code"}``.

    ``before`` is an Erlang expression evaluated first, in the same call (e.g. to fill the cart).
    """
    expr = f"{before}, {SHOP_STATE}" if before else SHOP_STATE
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        outs = dict(zip(hosts, pool.map(lambda h: fleet.eval(h, expr), hosts)))
    found = {}
    for host, out in outs.items():
        rels, os_pid, cart, items, code = parse_one(out + ".", f"{host} state")
        found[host] = {"releases": {text(v): str(s) for v, s in rels}, "os_pid": text(os_pid),
                       "cart": text(cart), "items": items, "code": code}
    return found


def releases(fleet, host: str) -> Dict[str, str]:
    """``{version: status}`` of ``release_handler:which_releases()`` on ``host``."""
    out = fleet.eval(host, "[{V, S} || {_, V, _, S} <- release_handler:which_releases()]")
    return {text(vsn): str(status) for vsn, status in parse_one(out + ".", f"{host} which_releases")}


def cart_pid(fleet, host: str) -> str:
    return fleet.eval(host, "pid_to_list(shop_cart:pid())").strip().strip('"')


def events(run: Run, task: str, host: str = "") -> List[dict]:
    """The events of the role's task named ``task`` (Ansible prefixes it with the role's name)."""
    return [e for e in run.events if e["task"].split(" : ", 1)[-1] == task and (not host or e["host"] == host)]


def task(run: Run, host: str, name: str) -> dict:
    """The last result of the role's task ``name`` on ``host``."""
    found = [e["result"] for e in events(run, name, host)]
    assert found, f"no task {name!r} ran on {host}: {run!r}"
    return found[-1]


def shown(run: Run, name: str) -> List[str]:
    """The lines printed by the role's debug task ``name``."""
    found = events(run, name)
    assert found, run
    return found[0]["result"]["msg"]


def plan_lines(run: Run) -> List[str]:
    return shown(run, "Plan | show the fleet plan")


def summary(run: Run) -> List[str]:
    return shown(run, "Summary | show it")


def row(lines: List[str], host: str) -> str:
    """The one line of ``lines`` about ``host``."""
    found = [line for line in lines if line.startswith(host + " ")]
    assert len(found) == 1, lines
    return found[0]
