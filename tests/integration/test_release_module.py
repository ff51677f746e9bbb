# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""erlang.otp.release against real release nodes, over SSH, through ansible-playbook.

Each test is one scenario on one loopback fleet (tests/support/fleet.py). The module runs as
Ansible runs it: the action plugin pushes the package from the controller, the module talks to the
node through the control escript. Node state is probed independently with the release's own
script (``bin/<rel> eval``/``rpc``), ``/proc`` and ``epmd``. Upgrade packages come from
tests/support/upgrade_package.py (hand-written appups, relups made by OTP's ``systools``).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from ansible_collections.erlang.otp.plugins.module_utils import _release_state as rs
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support import upgrade_package
from tests.support.ansible import playbook
from tests.support.fleet import Fleet

pytestmark = pytest.mark.fleet


class Runner:
    """Runs erlang.otp.release tasks on one host of a fleet; keeps every output for the cookie check."""

    def __init__(self, fleet: Fleet, host: str, tmp_path: Path) -> None:
        self.fleet = fleet
        self.host = host
        self.node = fleet.nodes[host]
        self.tmp = tmp_path
        self.outputs: List[str] = []
        self.timings: List[float] = []
        self.step_times: List[tuple] = []
        self.count = 0

    def run(self, *tasks: dict, verbose: bool = False) -> List[dict]:
        """Each task: module args, plus ``_check``/``_diff`` for the task keywords."""
        body = []
        for i, task in enumerate(tasks):
            args = {"root": "{{ otp_release_root }}", **{k: v for k, v in task.items() if not k.startswith("_")}}
            item = {"name": f"task {i}", "erlang.otp.release": args, "ignore_errors": True}
            if task.get("_check"):
                item["check_mode"] = True
            if task.get("_diff"):
                item["diff"] = True
            body.append(item)
        self.count += 1
        path = self.tmp / f"play{self.count}.yml"
        path.write_text(json.dumps([{"hosts": self.host, "gather_facts": False, "tasks": body}]))
        started = time.monotonic()
        run = playbook(path, self.fleet.inventory_path, verbosity=3 if verbose else 0, timeout=900)
        self.outputs.append(run.stdout + run.stderr)
        self.timings.append(round(time.monotonic() - started, 1))
        results = run.results(self.host)
        assert len(results) == len(tasks), repr(run)
        for result in results:
            self.step_times.extend((s["action"], s["seconds"]) for s in result.get("steps", []) if "seconds" in s)
        return results

    def one(self, **task) -> dict:
        return self.run(task)[0]


# -- probes ---------------------------------------------------------------------------------------


def erl(fleet: Fleet, host: str, expr: str) -> object:
    """An Erlang expression on a relx node (``bin/<rel> eval``), its printed value parsed."""
    return parse_one(fleet.eval(host, expr) + ".")


def which(fleet: Fleet, host: str) -> List[tuple]:
    node = fleet.nodes[host]
    if node.layout.flavor == "relx":
        out = erl(fleet, host, "[{V, S} || {_, V, _, S} <- release_handler:which_releases()]")
    else:
        out = parse_one(fleet.eval(host, ":io.format('~0p~n', [(for {_, v, _, s} <- :release_handler.which_releases(),"
                                         " do: {v, s})])") + ".")
    return [(str(v) if not isinstance(v, list) else "".join(map(chr, v)), str(s)) for v, s in out]


def cart(fleet: Fleet, host: str) -> tuple:
    """(pid, raw state) of shop_cart."""
    pid, state = erl(fleet, host, "{pid_to_list(shop_cart:pid()), shop_cart:state()}")
    return pid, state


def beam_argv(root: Path) -> List[str]:
    """argv of the beam running from ``root`` (relx and mix flatten name and cookie onto it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
            argv = [a.decode() for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if exe.endswith("beam.smp") and "-root" in argv and argv[argv.index("-root") + 1] == str(root):
            return argv
    return []


def reboot(fleet: Fleet, host: str) -> None:
    """Stop the node with its own script and start it again the way its service would."""
    node = fleet.nodes[host]
    fleet.release(host, "stop", check=True, timeout=60)
    deadline = time.monotonic() + 30
    while beam_argv(node.root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not beam_argv(node.root), "the node did not stop"
    fleet.ssh(host, f"cd {node.root} && setsid {node.script} daemon </dev/null >/dev/null 2>&1", check=True,
              timeout=90)
    deadline = time.monotonic() + 60
    while fleet.ping(host) != "pong":
        assert time.monotonic() < deadline, "the node did not come back"
        time.sleep(0.3)


def identity(fleet: Fleet, host: str) -> Dict[str, Optional[str]]:
    """Node name and cookie the running beam was started with, and what epmd lists."""
    argv = beam_argv(fleet.nodes[host].root)
    out: Dict[str, Optional[str]] = {"sname": None, "cookie": None}
    for flag, key in (("-sname", "sname"), ("-setcookie", "cookie")):
        if flag in argv:
            out[key] = argv[argv.index(flag) + 1]
    out["epmd"] = fleet.ssh(host, "epmd -names", check=True).stdout
    return out


def assert_same_identity(fleet: Fleet, host: str) -> None:
    node = fleet.nodes[host]
    ident = identity(fleet, host)
    assert ident["sname"] == node.sname
    if node.layout.flavor == "relx":
        assert ident["cookie"] == fleet.cookie
    else:  # mix passes the cookie in RELEASE_COOKIE / releases/COOKIE, not argv
        assert (node.root / "releases" / "COOKIE").read_text().strip() == fleet.cookie
    assert f"name {node.sname} " in ident["epmd"]


def statuses(result: dict, which_: str = "after") -> List[tuple]:
    return [(r["version"], r["status"]) for r in result["releases"][which_]]


def actions(result: dict) -> List[str]:
    return [s["action"] for s in result["steps"]]


def no_cookie_anywhere(fleet: Fleet, runner: Runner) -> None:
    """Not in any ansible output, nor in the logs of the start script and of the node."""
    print(f"ansible-playbook runs (s): {runner.timings}")
    print(f"module steps (s): {runner.step_times}")
    for text in runner.outputs:
        assert fleet.cookie not in text
    root = runner.node.root
    logs = [*(root / ".erlang-otp").glob("*.log"), *(root / "log").glob("*"), *(root / "tmp").glob("log/*")]
    for log in logs:
        # The mix launcher itself runs `run_erl ... "exec elixir --cookie $RELEASE_COOKIE ..."` and
        # run_erl logs that command line at every start, whoever starts the node: not ours to hide.
        if log.is_file() and not (runner.node.layout.flavor == "mix" and log.name == "run_erl.log"):
            assert fleet.cookie not in log.read_text(errors="replace"), log


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- shop (rebar3/relx): the whole life cycle, hot ---------------------------------------------------


def test_shop_hot_life_cycle(fleet_factory, tmp_path):
    package = upgrade_package.shop_110()
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    host = fleet.hosts[0]
    node = fleet.nodes[host]
    runner = Runner(fleet, host, tmp_path)
    releases_dir = node.root / "releases"

    # unpacked: check mode changes nothing, then unpack, then nothing to do
    plan, real, again = runner.run(
        {"version": "1.1.0", "state": "unpacked", "package": str(package), "_check": True, "_diff": True},
        {"version": "1.1.0", "state": "unpacked", "package": str(package)},
        {"version": "1.1.0", "state": "unpacked", "package": str(package)},
    )
    assert plan["changed"] and not plan.get("failed"), plan
    assert actions(plan) == ["stage", "unpack", "carry_settings"]
    assert {s["status"] for s in plan["steps"]} == {"planned"}
    assert plan["diff"]["before"] == "shop 1.0.0 permanent\n"
    assert plan["diff"]["after"] == "shop 1.1.0 unpacked\nshop 1.0.0 permanent\n"
    # (the check-mode task ran before the real one: the real one found the node untouched)
    assert statuses(real, "before") == [("1.0.0", "permanent")]
    assert real["changed"] and actions(real) == ["stage", "unpack", "carry_settings"], real
    assert [s["status"] for s in real["steps"]] == ["ok"] * 3
    assert statuses(real) == [("1.1.0", "unpacked"), ("1.0.0", "permanent")]
    assert not again["changed"] and again["steps"] == [], again
    # the staged copy found by its SHA-256 is not copied again
    assert (plan["package_copied"], real["package_copied"], again["package_copied"]) == (True, True, False)
    assert which(fleet, host) == [("1.1.0", "unpacked"), ("1.0.0", "permanent")]
    # what release_handler wrote reads back and is written again byte for byte by our writer
    written = (releases_dir / "RELEASES").read_text()
    assert rs.dump_releases(rs.parse_releases(written)) == written
    # the package copy is kept outside releases/; the .rel that unpack deletes is back
    assert sha256(node.root / ".erlang-otp" / "1.1.0.tar.gz") == sha256(package)
    assert real["package_checksum"] == f"sha256:{sha256(package)}"
    assert not (releases_dir / "1.1.0" / "shop.tar.gz").exists()
    assert (releases_dir / "1.1.0" / "shop.rel").is_file()
    # node name and cookie were carried into the new release's vm.args, and reported without the cookie
    vm_args = (releases_dir / "1.1.0" / "vm.args").read_text()
    assert f"-sname {node.sname}\n" in vm_args and f"-setcookie {fleet.cookie}\n" in vm_args
    carried = {(s["setting"], s["action"]) for s in real["settings"]}
    assert carried == {("-sname/-name", "carried"), ("-setcookie", "carried")}

    # current: the cart survives with its state converted; a second run changes nothing
    for item in ("apple", "pear"):
        fleet.eval(host, f"shop_cart:add({item}, 2)")
    pid, state = cart(fleet, host)
    assert state == (Atom("state"), [(Atom("apple"), 2), (Atom("pear"), 2)])
    plan, real, again = runner.run(
        {"version": "1.1.0", "state": "current", "_check": True},
        {"version": "1.1.0", "state": "current", "code_change_timeout": 20, "suspend_timeout": 10},
        {"version": "1.1.0", "state": "current"},
    )
    assert actions(plan) == ["check", "install"] and plan["changed"]
    assert real["changed"] and actions(real) == ["check", "install"], real
    assert "{code_change_timeout,20000},{suspend_timeout,10000}" in real["steps"][1]["call"]
    assert not real["node_restarted"] and real["phase_failed"] is None
    assert not again["changed"], again
    assert which(fleet, host) == [("1.1.0", "current"), ("1.0.0", "permanent")]
    new_pid, new_state = cart(fleet, host)
    assert new_pid == pid and new_state[0] == Atom("state") and len(new_state) == 3
    assert erl(fleet, host, "shop_cart:code_version()") == 2
    assert (node.root / "bin" / "shop").read_bytes() == (node.root / "bin" / "shop-1.0.0").read_bytes()

    # permanent: make_permanent and the relx start script switched
    real, again = runner.run({"version": "1.1.0", "_diff": True}, {"version": "1.1.0"})
    assert actions(real) == ["make_permanent", "switch_script"], real
    assert real["diff"]["after"] == "shop 1.1.0 permanent\nshop 1.0.0 old\n"
    assert not again["changed"], again
    assert (node.root / "bin" / "shop").read_bytes() == (node.root / "bin" / "shop-1.1.0").read_bytes()
    assert rs.parse_start_erl((releases_dir / "start_erl.data").read_text()) == ("13.1.5", "1.1.0") or \
        rs.parse_start_erl((releases_dir / "start_erl.data").read_text())[1] == "1.1.0"

    # restart-safe: a reboot boots 1.1.0 under the same node name and cookie
    reboot(fleet, host)
    assert which(fleet, host) == [("1.1.0", "permanent"), ("1.0.0", "old")]
    assert_same_identity(fleet, host)
    assert erl(fleet, host, "shop_cart:code_version()") == 2

    # down: 1.0.0 current (1.1.0 stays permanent), then permanent
    fleet.eval(host, "shop_cart:add(plum, 1)")
    pid, _state = cart(fleet, host)
    down, = runner.run({"version": "1.0.0", "state": "current"})
    assert actions(down) == ["check", "install"], down
    assert which(fleet, host) == [("1.1.0", "permanent"), ("1.0.0", "current")]
    assert cart(fleet, host) == (pid, (Atom("state"), [(Atom("plum"), 1)]))
    down, again = runner.run({"version": "1.0.0"}, {"version": "1.0.0"})
    assert actions(down) == ["make_permanent", "switch_script"], down
    assert not again["changed"], again
    assert which(fleet, host) == [("1.1.0", "old"), ("1.0.0", "permanent")]
    assert (node.root / "bin" / "shop").read_bytes() == (node.root / "bin" / "shop-1.0.0").read_bytes()

    # absent: the running release is refused; 1.1.0 goes with exactly its own libraries
    plan, refused, real, again = runner.run(
        {"version": "1.1.0", "state": "absent", "_check": True},
        {"version": "1.0.0", "state": "absent"},
        {"version": "1.1.0", "state": "absent"},
        {"version": "1.1.0", "state": "absent"},
    )
    assert actions(plan) == ["remove"] and plan["changed"]
    assert refused["failed"] and refused["phase_failed"] == "remove"
    assert "1.0.0 is running" in refused["msg"]
    assert actions(real) == ["remove"] and real["changed"], real
    assert not again["changed"], again
    assert which(fleet, host) == [("1.0.0", "permanent")]
    libs = sorted(p.name for p in (node.root / "lib").iterdir())
    assert libs == ["kernel-8.5.3", "sasl-4.2", "shop-0.1.0", "shop_legacy-1.0.0", "stdlib-4.2"]
    assert not (releases_dir / "1.1.0").exists() and not (node.root / ".erlang-otp" / "1.1.0.tar.gz").exists()
    assert erl(fleet, host, "shop_cart:items()") == [(Atom("plum"), 1)]
    no_cookie_anywhere(fleet, runner)


# -- shop: failures, with the node serving afterwards ------------------------------------------------


def test_shop_failures_leave_the_node_serving(fleet_factory, release_tarball, tmp_path):
    good = upgrade_package.shop_110()
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    host = fleet.hosts[0]
    node = fleet.nodes[host]
    runner = Runner(fleet, host, tmp_path)
    releases_dir = node.root / "releases"
    slip = upgrade_package.tar_slip(good, tmp_path / "slip" / "shop-1.1.0.tar.gz")
    fleet.eval(host, "shop_cart:add(apple, 3)")
    before = cart(fleet, host)

    wrong_sum, tar_slip, unknown, node_down, bad_cookie = runner.run(
        {"version": "1.1.0", "package": str(good), "package_checksum": "sha256:" + "0" * 64},
        {"version": "1.1.0", "package": str(slip)},
        {"version": "9.9.9"},
        {"version": "1.1.0", "node": f"nosuch_{node.sname}"},
        {"version": "1.1.0", "cookie": "not-the-cookie"},
        verbose=True,
    )
    assert wrong_sum["failed"] and wrong_sum["phase_failed"] == "unpack"
    assert "checksum" in wrong_sum["msg"] and "nothing was copied or unpacked" in wrong_sum["msg"]
    assert tar_slip["failed"] and tar_slip["phase_failed"] == "unpack"
    assert "../erlang-otp-tar-slip" in tar_slip["msg"] and "nothing was unpacked" in tar_slip["msg"]
    assert not list(node.root.parent.rglob("erlang-otp-tar-slip"))
    assert unknown["failed"] and unknown["phase_failed"] == "unpack"
    assert "shop 9.9.9 is not on the node" in unknown["msg"] and "no package was given" in unknown["msg"]
    assert node_down["failed"] and f"nosuch_{node.sname}" in node_down["msg"]
    assert "not running" in node_down["msg"]
    assert bad_cookie["failed"] and "wrong cookie" in bad_cookie["msg"], bad_cookie["msg"]
    assert all(not r["changed"] for r in (wrong_sum, tar_slip, unknown, node_down, bad_cookie))
    assert "not-the-cookie" not in "".join(runner.outputs)
    assert which(fleet, host) == [("1.0.0", "permanent")]
    assert not (releases_dir / "1.1.0").exists()
    assert cart(fleet, host) == before

    # failure before the point of no return: check passes, install fails, the node is untouched
    before_ponr = runner.one(version="1.1.0", package=str(upgrade_package.shop_110("fail_before_ponr")))
    assert before_ponr["failed"] and before_ponr["phase_failed"] == "install_before_ponr", before_ponr
    assert not before_ponr["node_restarted"]
    assert [s["status"] for s in before_ponr["steps"]] == ["ok", "ok", "ok", "ok", "failed", "planned", "planned"]
    assert "untouched" in before_ponr["msg"] and upgrade_package.ONCE_TABLE in before_ponr["msg"]
    assert cart(fleet, host) == before, "pids and state intact"
    assert which(fleet, host) == [("1.1.0", "unpacked"), ("1.0.0", "permanent")]
    assert statuses(before_ponr) == [("1.1.0", "unpacked"), ("1.0.0", "permanent")]

    # code_change crash after the point of no return: another package for the same version, so
    # the leftover unpack is forgotten first; the node restarts on 1.0.0 with fresh state
    crash = runner.one(version="1.1.0", package=str(upgrade_package.shop_110("crash_after_ponr")))
    assert crash["failed"] and crash["phase_failed"] == "install_after_ponr", crash
    assert crash["node_restarted"] is True
    assert actions(crash)[:3] == ["forget", "stage", "unpack"]
    assert any("forgetting and unpacking again" in w for w in crash["notes"])
    assert "code_change" in crash["msg"] and "runs 1.0.0 again" in crash["msg"]
    assert crash["running_version"] == "1.0.0"
    assert which(fleet, host) == [("1.1.0", "unpacked"), ("1.0.0", "permanent")]
    pid, state = cart(fleet, host)
    assert pid != before[0] and state == (Atom("state"), []), "state as after a fresh boot"
    assert erl(fleet, host, "shop_cart:code_version()") == 1

    # and the retry with a good package goes through
    fixed = runner.one(version="1.1.0", package=str(good))
    assert not fixed.get("failed") and actions(fixed)[:3] == ["forget", "stage", "unpack"], fixed
    assert which(fleet, host) == [("1.1.0", "permanent"), ("1.0.0", "old")]
    no_cookie_anywhere(fleet, runner)


# -- shop: restart method, then hot upgrades from the restarted version ------------------------------


def test_shop_restart_then_hot(fleet_factory, release_tarball, tmp_path):
    plain = release_tarball("shop", "1.1.0")  # no relup at all: only the restart method can install it
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    host = fleet.hosts[0]
    node = fleet.nodes[host]
    runner = Runner(fleet, host, tmp_path)
    old_beam = beam_argv(node.root)

    refused, plan, real, again = runner.run(
        {"version": "1.1.0", "package": str(plain)},
        {"version": "1.1.0", "package": str(plain), "method": "restart", "_check": True},
        {"version": "1.1.0", "package": str(plain), "method": "restart", "timeout": 120},
        {"version": "1.1.0", "method": "restart", "node": node.node_name, "cookie": fleet.cookie},
        verbose=True,
    )
    assert refused["failed"] and refused["phase_failed"] == "check" and "no relup script" in refused["msg"]
    assert "method=restart" in refused["msg"] and not refused["changed"]
    assert actions(plan) == ["stage", "unpack", "carry_settings", "stop", "write_boot_files", "switch_script",
                             "start", "wait"]
    assert real["changed"] and actions(real) == actions(plan), real
    assert real["node_restarted"] is True and real["running_version"] == "1.1.0"
    assert statuses(real) == [("1.1.0", "permanent"), ("1.0.0", "old")]
    assert not again["changed"], again
    assert beam_argv(node.root) != old_beam
    assert_same_identity(fleet, host)
    written = (node.root / "releases" / "RELEASES").read_text()
    assert rs.dump_releases(rs.parse_releases(written)) == written
    assert erl(fleet, host, "shop_cart:code_version()") == 2

    # later hot upgrade from the restarted version, and back down through the new relup
    fleet.eval(host, "shop_cart:add(pear, 4)")
    pid, _state = cart(fleet, host)
    up, down = runner.run(
        {"version": "2.0.0", "package": str(upgrade_package.shop_200())},
        {"version": "1.1.0"},
    )
    assert actions(up) == ["stage", "unpack", "carry_settings", "check", "install", "make_permanent",
                           "switch_script"], up
    assert statuses(up) == [("2.0.0", "permanent"), ("1.1.0", "old"), ("1.0.0", "old")]
    assert actions(down) == ["check", "install", "make_permanent", "switch_script"], down
    assert which(fleet, host) == [("2.0.0", "old"), ("1.1.0", "permanent"), ("1.0.0", "old")]
    new_pid, state = cart(fleet, host)
    assert new_pid == pid and state[1] == [(Atom("pear"), 4)]

    # 1.1.0 came from a package without relup: a rebuilt 1.1.0 package brings the down entry to 1.0.0
    down = runner.one(version="1.0.0", package=str(upgrade_package.shop_110()))
    assert actions(down) == ["install_relup", "check", "install", "make_permanent", "switch_script"], down
    assert which(fleet, host) == [("2.0.0", "old"), ("1.1.0", "old"), ("1.0.0", "permanent")]
    assert cart(fleet, host) == (pid, (Atom("state"), [(Atom("pear"), 4)]))
    no_cookie_anywhere(fleet, runner)


# -- exshop (mix release) ------------------------------------------------------------------------------


def ex(fleet: Fleet, host: str, expr: str) -> str:
    return fleet.eval(host, f"IO.inspect({expr}, limit: :infinity)")


def test_exshop_mix_release(fleet_factory, tmp_path):
    package = upgrade_package.exshop_020()
    fleet = fleet_factory("exshop", "0.1.0", nodes=1)
    host = fleet.hosts[0]
    node = fleet.nodes[host]
    runner = Runner(fleet, host, tmp_path)
    assert not (node.root / "releases" / "RELEASES").exists()
    for _unused in range(3):
        ex(fleet, host, "Exshop.Counter.bump()")
    pid = ex(fleet, host, "Exshop.Counter.pid()")

    up, again = runner.run({"version": "0.2.0", "package": str(package)}, {"version": "0.2.0"})
    assert actions(up) == ["repair_releases", "stage", "unpack", "carry_settings", "check", "install",
                           "make_permanent"], up
    assert not again["changed"], again
    assert ex(fleet, host, "Exshop.Counter.pid()") == pid
    assert ex(fleet, host, "Exshop.Counter.state()") == "%{count: 3, recent: []}"
    entries = rs.parse_releases((node.root / "releases" / "RELEASES").read_text())
    assert {e.vsn: e.status for e in entries} == {"0.2.0": "permanent", "0.1.0": "old"}
    assert all(not e.broken for e in entries), "the entry release_handler invented at boot was rebuilt"
    env_sh = (node.root / "releases" / "0.2.0" / "env.sh").read_text()
    assert f"export RELEASE_NODE={node.sname}" in env_sh

    # restart-safe: the mix launcher boots 0.2.0 (start_erl.data) under the same name and cookie
    reboot(fleet, host)
    assert which(fleet, host) == [("0.2.0", "permanent"), ("0.1.0", "old")]
    assert_same_identity(fleet, host)

    # down again (needs the rebuilt RELEASES entry), then remove 0.2.0 without touching shared libraries
    for _unused in range(2):
        ex(fleet, host, "Exshop.Counter.bump()")
    pid = ex(fleet, host, "Exshop.Counter.pid()")
    down, removed = runner.run({"version": "0.1.0"}, {"version": "0.2.0", "state": "absent"})
    assert actions(down) == ["check", "install", "make_permanent"], down
    assert ex(fleet, host, "Exshop.Counter.pid()") == pid
    assert ex(fleet, host, "Exshop.Counter.state()") == "2"
    assert actions(removed) == ["remove"], removed
    assert which(fleet, host) == [("0.1.0", "permanent")]
    libs = {p.name for p in (node.root / "lib").iterdir()}
    assert "exshop-0.2.0" not in libs and {"exshop-0.1.0", "kernel-8.5.3", "elixir-1.14.0"} <= libs
    assert (node.root / "erts-13.1.5").is_dir()
    assert ex(fleet, host, "Exshop.Counter.value()") == "2"

    # and 0.2.0 again, this time with the restart method (the mix launcher reads start_erl.data)
    restarted = runner.one(version="0.2.0", package=str(package), method="restart")
    assert actions(restarted) == ["stage", "unpack", "carry_settings", "stop", "write_boot_files", "start",
                                  "wait"], restarted
    assert which(fleet, host) == [("0.2.0", "permanent"), ("0.1.0", "old")]
    assert_same_identity(fleet, host)
    assert ex(fleet, host, "Exshop.Counter.code_version()") == "2"
    no_cookie_anywhere(fleet, runner)
