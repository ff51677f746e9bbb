# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""erlang.otp.release_info over real SSH on the loopback fleet: relx and mix nodes, running and
stopped, short and long names, wrong cookies, drift, and a cookie that appears in no output.

Runs the real ``ansible`` command against ``fleet.inventory_path``; per-host results come back
through the shared test callback (``tests/support/ansible.py``).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support import upgrade_package
from tests.support.ansible import environment as ansible_environment
from tests.support.ansible import playbook
from tests.support.fleet import Fleet
from tests.support.process_watch import ProcessWatch

pytestmark = pytest.mark.fleet

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).parent / "ansible"
SHOP_SRC = REPO / "tests" / "releases" / "shop" / "1.0.0" / "apps" / "shop" / "src"


class Run:
    """One ``ansible`` run: exit code, output, the ansible log, and the last result per host."""

    def __init__(self, proc: subprocess.CompletedProcess, results: Path, log: Path) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results_text = results.read_text() if results.exists() else ""
        self.results: Dict[str, dict] = {}
        for event in json.loads(self.results_text or "[]"):
            self.results[event["host"]] = event["result"]
        self.log = log.read_text() if log.exists() else ""

    def __getitem__(self, host: str) -> dict:
        assert host in self.results, repr(self)
        return self.results[host]

    def __repr__(self) -> str:
        return f"<ansible rc={self.rc}\n{self.stdout[-3000:]}\n{self.stderr[-2000:]}>"


def release_info(
    fleet: Fleet,
    tmp_path: Path,
    hosts: str = "fleet",
    *,
    check: bool = False,
    verbosity: str = "",
    extra_vars: Optional[dict] = None,
    **args,
) -> Run:
    """Run erlang.otp.release_info on ``hosts``; ``args`` may hold Jinja (host variables).

    Results come back through the shared test callback (tests/support/ansible.py).
    """
    module_args = {"root": "{{ otp_release_root }}", **args}
    run_dir = Path(tmp_path) / f"run-{time.monotonic_ns()}"
    run_dir.mkdir(parents=True)
    results = run_dir / "results.json"
    log = run_dir / "ansible.log"
    argv = [str(ANSIBLE), "-i", str(fleet.inventory_path), hosts, "-m", "erlang.otp.release_info",
            "-a", json.dumps(module_args)]  # fmt: skip
    if extra_vars:  # through a file: secrets stay off the ansible command line too
        vars_file = run_dir / "vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        argv += ["-e", f"@{vars_file}"]
    if check:
        argv.append("--check")
    if verbosity:
        argv.append(verbosity)
    env = ansible_environment({"ERLANG_OTP_TEST_RESULTS": str(results), "ANSIBLE_LOG_PATH": str(log)})
    env.pop("ERL_EPMD_PORT", None)  # the port must come from the node, not from the controller
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    return Run(proc, results, log)


def stop_node(fleet: Fleet, host: str) -> None:
    node = fleet.nodes[host]
    fleet.release(host, "stop", check=True)
    deadline = time.monotonic() + 20
    while node.beam.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not node.beam.alive()


# -- a running relx fleet --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(fleet_tools, release_tarball, tmp_path_factory) -> Fleet:
    fleet = Fleet(release_tarball("shop", "1.0.0"), "shop", 2, base_dir=tmp_path_factory.mktemp("info-shop"))
    with fleet:
        yield fleet


def test_running_relx_nodes(shop: Fleet, tmp_path: Path) -> None:
    run = release_info(shop, tmp_path)
    assert run.rc == 0, run
    for host, node in shop.nodes.items():
        res = run[host]
        assert not res.get("failed"), res
        assert res["changed"] is False
        assert res["reachable"] is True
        assert (res["name"], res["node"], res["name_type"]) == ("shop", node.node_name, "sname")
        assert res["os_pid"] == node.beam.pid
        # the node's own view, asked through its release script
        assert res["running_version"] == res["permanent_version"] == res["boot_version"] == "1.0.0"
        releases = shop.eval(host, "[{N, V, S} || {N, V, _, S} <- release_handler:which_releases()]")
        assert releases.replace(" ", "") == '[{"shop","1.0.0",permanent}]'
        assert [(r["name"], r["version"], r["status"]) for r in res["releases"]] == [("shop", "1.0.0", "permanent")]
        assert res["releases_source"] == "node" and res["releases_file"] is True
        assert res["erts"] == {"running": shop.eval(host, "erlang:system_info(version)").strip('"'),
                               "release": "13.1.5", "bundled": ["13.1.5"]}  # fmt: skip
        assert res["otp_release"] == shop.eval(host, "erlang:system_info(otp_release)").strip('"')
        assert res["applications"]["shop"] == "0.1.0" and res["applications"]["sasl"] == "4.2"
        assert res["sasl"] == {"in_release": True, "running": True}
        assert (res["release_handler"], res["heart"], res["otp_libs_bundled"]) == (True, False, True)
        assert (res["drift_checked"], res["drift"]) == (True, [])
        assert (res["hot_upgrade_possible"], res["hot_upgrade_reasons"]) == (True, [])
        assert res["discovery"]["source"]["node"] == f"command line of pid {node.beam.pid}"
        assert res["discovery"]["epmd_port"] == str(shop.epmd_port)
        assert "manifest" not in res
        assert not (node.root / "releases" / "1.0.0" / "relup").exists() and res["relup"] is None


def test_check_mode_reports_the_same(shop: Fleet, tmp_path: Path) -> None:
    res = release_info(shop, tmp_path, "node1", check=True)["node1"]
    assert (res["reachable"], res["changed"], res["running_version"]) == (True, False, "1.0.0")


def test_manifest_is_the_running_release_read_from_its_files(shop: Fleet, tmp_path: Path) -> None:
    res = release_info(shop, tmp_path, "node1", manifest=True, drift=False)["node1"]
    assert res["drift_checked"] is False
    expected = open_release(shop.nodes["node1"].root, "shop", "1.0.0").manifest()
    assert res["manifest"] == json.loads(json.dumps(expected))
    assert {a["name"] for a in res["manifest"]["apps"]} >= {"kernel", "stdlib", "sasl", "shop", "shop_legacy"}


def test_drift_of_a_module_loaded_by_hand(shop: Fleet, tmp_path: Path) -> None:
    """Load a changed shop_price on node2: it shows as drift until the release's own file is back."""
    build = tmp_path / "drift"
    build.mkdir()
    source = (SHOP_SRC / "shop_price.erl").read_text()
    changed = source.replace("-module(shop_price).", "-module(shop_price).\n-export([drift_probe/0]).", 1)
    (build / "shop_price.erl").write_text(changed + "\ndrift_probe() -> drifted.\n")
    subprocess.run(["erlc", "-o", str(build), str(build / "shop_price.erl")], check=True, timeout=120)
    beam = build / "shop_price.beam"
    try:
        loaded = shop.eval(
            "node2", f'{{ok, B}} = file:read_file("{beam}"), code:load_binary(shop_price, "{beam}", B)'
        )
        assert loaded.replace(" ", "") == "{module,shop_price}"
        run = release_info(shop, tmp_path)
        res = run["node2"]
        assert [d["module"] for d in res["drift"]] == ["shop_price"]
        drift = res["drift"][0]
        assert drift["application"] == "shop"
        assert drift["loaded_from"] == str(beam)
        assert drift["file"] == "lib/shop-0.1.0/ebin/shop_price.beam"
        node_md5 = shop.eval(
            "node2", "string:lowercase(binary_to_list(binary:encode_hex(shop_price:module_info(md5))))"
        )
        assert drift["loaded_md5"] == node_md5.strip('"') != drift["file_md5"]
        assert res["hot_upgrade_possible"] is False
        assert any("drift" in r and "shop_price" in r for r in res["hot_upgrade_reasons"])
        assert run["node1"]["drift"] == []  # the other node is untouched
    finally:
        shop.eval("node2", "code:purge(shop_price), code:load_file(shop_price)")
    res = release_info(shop, tmp_path, "node2")["node2"]
    assert (res["drift"], res["hot_upgrade_possible"]) == ([], True)


def test_wrong_cookie_is_reported_clearly(shop: Fleet, tmp_path: Path) -> None:
    secret = "wrong-cookie-0815"
    run = release_info(shop, tmp_path, "node1", cookie="{{ wrong }}", extra_vars={"wrong": secret})
    res = run["node1"]
    assert res["reachable"] is False and not res.get("failed")
    assert "refused the connection: wrong cookie (ours came from option)" in res["unreachable_reason"]
    assert res["permanent_version"] == "1.0.0" and res["releases_source"] == "files"
    run = release_info(shop, tmp_path, "node1", cookie="{{ wrong }}", require_running=True,
                       extra_vars={"wrong": secret})  # fmt: skip
    res = run["node1"]
    assert res["failed"] is True and run.rc != 0
    assert re.search(r"node shop_node1_\d+@\S+ is not reachable from \S+: the node is up", res["msg"])
    for text in (run.stdout, run.stderr, run.log, run.results_text):
        assert secret not in text


# -- stopped nodes, long names -----------------------------------------------------------------------


def test_stopped_relx_node(fleet_factory, tmp_path: Path) -> None:
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    node = fleet.nodes["node1"]
    stop_node(fleet, "node1")
    res = release_info(fleet, tmp_path)["node1"]
    assert not res.get("failed"), res
    assert res["reachable"] is False
    assert f"knows no node named {node.sname}: the node is not running" in res["unreachable_reason"]
    assert (res["running_version"], res["permanent_version"], res["boot_version"]) == (None, "1.0.0", "1.0.0")
    assert res["releases"] == [{"name": "shop", "version": "1.0.0", "status": "permanent",
                                "applications": ["kernel-8.5.3", "stdlib-4.2", "sasl-4.2", "shop-0.1.0",
                                                 "shop_legacy-1.0.0"]}]  # fmt: skip
    assert res["releases_source"] == "files"
    assert res["erts"] == {"running": None, "release": "13.1.5", "bundled": ["13.1.5"]}
    assert (res["drift_checked"], res["hot_upgrade_possible"]) == (False, False)
    assert res["hot_upgrade_reasons"][0].startswith("the node cannot be reached")
    assert res["discovery"]["source"]["node"] == "releases/1.0.0/vm.args:1"
    assert res["discovery"]["source"]["cookie"] == "releases/1.0.0/vm.args:2"
    failed = release_info(fleet, tmp_path, require_running=True)["node1"]
    assert failed["failed"] is True and "the node is not running" in failed["msg"]


def test_long_node_names(fleet_factory, tmp_path: Path) -> None:
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    node = fleet.nodes["node1"]
    long_name = f"shop_long_{fleet.sshd_port}@127.0.0.1"
    stop_node(fleet, "node1")
    vm_args = node.root / "releases" / "1.0.0" / "vm.args"
    vm_args.write_text(re.sub(r"(?m)^-sname .*$", f"-name {long_name}", vm_args.read_text()))
    res = release_info(fleet, tmp_path)["node1"]
    assert (res["reachable"], res["node"], res["name_type"]) == (False, long_name, "name")
    fleet.release("node1", "daemon", check=True)
    try:
        deadline = time.monotonic() + 60
        while fleet.release("node1", "ping").stdout.strip() != "pong":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        res = release_info(fleet, tmp_path)["node1"]
        assert (res["reachable"], res["node"], res["name_type"]) == (True, long_name, "name"), res
        assert res["discovery"]["source"]["name_type"].startswith("command line of pid")
        res = release_info(fleet, tmp_path, node=long_name.partition("@")[0], name_type="sname")["node1"]
        assert res["reachable"] is False
    finally:
        fleet.release("node1", "stop")


# -- mix ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exshop(fleet_tools, release_tarball, tmp_path_factory) -> Fleet:
    fleet = Fleet(release_tarball("exshop", "0.1.0"), "exshop", 1, base_dir=tmp_path_factory.mktemp("info-exshop"))
    with fleet:
        yield fleet


def test_running_mix_node(exshop: Fleet, tmp_path: Path) -> None:
    node = exshop.nodes["node1"]
    res = release_info(exshop, tmp_path, manifest=True)["node1"]
    assert not res.get("failed"), res
    assert (res["reachable"], res["name"], res["node"]) == (True, "exshop", node.node_name)
    assert res["running_version"] == res["permanent_version"] == res["boot_version"] == "0.1.0"
    assert res["releases_file"] is False
    assert res["drift"] == []  # protocols are loaded from releases/0.1.0/consolidated, not lib/
    assert res["hot_upgrade_possible"] is False
    assert [r for r in res["hot_upgrade_reasons"] if "RELEASES is missing" in r]
    assert res["manifest"]["layout"] == "mix" and res["manifest"]["consolidated"]
    assert res["applications"]["elixir"] == "1.14.0"


def test_stopped_mix_node_from_env_sh_and_cookie_file(exshop: Fleet, tmp_path: Path) -> None:
    """Runs last in this module: it stops the node."""
    node = exshop.nodes["node1"]
    stop_node(exshop, "node1")
    res = release_info(exshop, tmp_path)["node1"]
    assert (res["reachable"], res["node"], res["name_type"]) == (False, node.sname, "sname")
    assert res["discovery"]["source"]["node"] == "releases/0.1.0/env.sh"
    assert res["discovery"]["source"]["cookie"] == "releases/COOKIE"
    assert "knows no node named" in res["unreachable_reason"]
    assert (res["permanent_version"], res["releases_source"], res["releases"]) == ("0.1.0", "none", [])


# -- the cookie appears nowhere ---------------------------------------------------------------------


def _node_logs(fleet: Fleet) -> List[Path]:
    logs = [fleet.dir / "sshd.log", *fleet.dir.glob("*.log")]
    for node in fleet.nodes.values():
        for sub in ("log", "tmp"):
            if (node.root / sub).is_dir():
                logs.extend(p for p in (node.root / sub).rglob("*") if p.is_file())
    return logs


def test_cookie_never_in_outputs_logs_or_command_lines(fleet_factory, tmp_path: Path) -> None:
    shop = fleet_factory("shop", "1.0.0", nodes=1)
    mix = fleet_factory("exshop", "0.1.0", nodes=1)
    wrong = "wrong-but-secret-cookie-42"
    leftovers_before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("erlang-otp-ctl-*"))
    # the nodes' own start-up logs hold their command lines (mix passes the cookie there): only
    # what is written during our runs counts
    sizes = {log: log.stat().st_size for log in _node_logs(shop) + _node_logs(mix)}
    runs = []
    with ProcessWatch() as watch:
        for fleet in (shop, mix):  # cookie discovered (command line of the VM)
            runs.append(release_info(fleet, tmp_path, verbosity="-vvv", manifest=True))
        runs.append(release_info(mix, tmp_path, verbosity="-vvv", cookie="{{ c }}", extra_vars={"c": mix.cookie}))
        runs.append(release_info(shop, tmp_path, verbosity="-vvv", cookie="{{ c }}", extra_vars={"c": wrong}))
    assert watch.seen
    for run in runs:
        assert run.rc == 0, run
    assert [run["node1"]["reachable"] for run in runs] == [True, True, True, False]
    for secret in (shop.cookie, mix.cookie, wrong):
        assert watch.leaks(secret) == [], "a process started during the runs had the cookie on argv/environ"
        for run in runs:
            for name, text in (("stdout", run.stdout), ("stderr", run.stderr), ("log", run.log),
                               ("result", run.results_text)):  # fmt: skip
                assert secret not in text, f"cookie in ansible {name}"
        for log in _node_logs(shop) + _node_logs(mix):
            assert secret.encode() not in log.read_bytes()[sizes.get(log, 0) :], f"cookie in {log}"
    leftovers = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("erlang-otp-ctl-*")) - leftovers_before
    assert leftovers == set()
    assert "SSH: EXEC ssh" in runs[0].stdout  # -vvv really was verbose (with or without pipelining)


def test_bad_root_fails_clearly(shop: Fleet, tmp_path: Path) -> None:
    res = release_info(shop, tmp_path, "node1", root="/nonexistent/release")["node1"]
    assert res["failed"] is True
    assert res["msg"] == "/nonexistent/release: no such directory (root must be the release root on the node)"


# -- the relup of the running release (runs last in this module: it upgrades node2) -----------------


def test_relup_of_a_node_hot_upgraded_to_1_1_0(shop: Fleet, tmp_path: Path) -> None:
    package = upgrade_package.shop_110()
    play = tmp_path / "upgrade.yml"
    task = {"erlang.otp.release": {"root": "{{ otp_release_root }}", "version": "1.1.0", "state": "permanent",
                                   "package": str(package)}}  # fmt: skip
    play.write_text(json.dumps([{"hosts": "node2", "gather_facts": False, "tasks": [task]}]))
    up = playbook(play, shop.inventory_path)
    assert up.rc == 0 and up.result("node2")["changed"], up
    run = release_info(shop, tmp_path, drift=False)
    res = run["node2"]
    assert (res["running_version"], res["permanent_version"]) == ("1.1.0", "1.1.0"), res
    # OTP's own reading of the file: the versions of each section, and whether a script restarts
    relup = shop.nodes["node2"].root / "releases" / "1.1.0" / "relup"
    otp = parse_one(shop.eval("node2", (
        f'{{ok, [{{"1.1.0", Up, Down}}]}} = file:consult("{relup}"),'
        " R = fun(Entries) -> [{V, lists:member(restart_new_emulator, S) orelse lists:member(restart_emulator, S)}"
        " || {V, _Descr, S} <- Entries] end, {R(Up), R(Down)}")) + ".")
    expected = {
        direction: {vsn: {"restarts_emulator": restarts == Atom("true")} for vsn, restarts in entries}
        for direction, entries in zip(("up", "down"), otp)
    }
    assert expected == {"up": {"1.0.0": {"restarts_emulator": False}}, "down": {"1.0.0": {"restarts_emulator": False}}}
    assert res["relup"] == expected
    assert run["node1"]["relup"] is None  # still on 1.0.0, which has no relup
