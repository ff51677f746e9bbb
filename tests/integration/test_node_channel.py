# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control channel against real release nodes: discovery from the running VM and from the
release files, calls, errors that say what is wrong, and a cookie that stays off every command line.

Called directly from Python here (the module over SSH is tests/integration/test_release_info.py).
"""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from typing import List

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._node_channel import (
    NodeCallError,
    NodeChannel,
    NodeDown,
    discover,
)
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.fleet import Fleet
from tests.support.process_watch import ProcessWatch

pytestmark = pytest.mark.fleet


# -- helpers -----------------------------------------------------------------------------------


class RecordingRunner:
    """``run_command`` on subprocess that remembers every argv and stdin it was given."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        proc = subprocess.run(list(argv), input=data, capture_output=True, timeout=300, check=False)
        return proc.returncode, proc.stdout, proc.stderr


def channel(fleet: Fleet, host: str = "node1", **options) -> NodeChannel:
    # the module's environment: nothing about epmd, so the port must come from the node itself
    environ = {k: v for k, v in os.environ.items() if k != "ERL_EPMD_PORT"}
    target = discover(str(fleet.nodes[host].root), environ=environ, **options)
    return NodeChannel(target, RecordingRunner())


def _restart_with_vm_args(fleet: Fleet, host: str, edit) -> None:
    node = fleet.nodes[host]
    fleet.release(host, "stop", check=True)
    beam = node.beam
    deadline = time.monotonic() + 20
    while beam is not None and beam.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    vm_args = node.root / "releases" / node.vsn / "vm.args"
    vm_args.write_text(edit(vm_args.read_text()))
    fleet.release(host, "daemon", check=True)
    deadline = time.monotonic() + 60
    while fleet.release(host, "ping").stdout.strip() != "pong":
        assert time.monotonic() < deadline, "node did not come back"
        time.sleep(0.3)


# -- a running shop node -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(fleet_tools, release_tarball, tmp_path_factory) -> Fleet:
    fleet = Fleet(release_tarball("shop", "1.0.0"), "shop", 1, base_dir=tmp_path_factory.mktemp("chan-shop"))
    with fleet:
        yield fleet


def test_discovery_from_the_running_vm(shop: Fleet) -> None:
    node = shop.nodes["node1"]
    target = channel(shop).target
    assert target.release_name == "shop"
    assert target.node == node.sname  # -sname without @host on the command line
    assert target.name_type == "sname"
    assert target.cookie == shop.cookie
    assert target.epmd_port == str(shop.epmd_port)
    assert target.pid == node.beam.pid
    assert target.erts_dir == str(node.root / "erts-13.1.5")
    assert target.source["cookie"] == f"command line of pid {node.beam.pid}"


def test_calls_round_trip_and_latency(shop: Fleet) -> None:
    chan = channel(shop)
    timings = []
    for _unused in range(3):
        t0 = time.monotonic()
        assert chan.ping() is True
        timings.append(time.monotonic() - t0)
    assert chan.target.node == shop.nodes["node1"].node_name  # completed with the node's host
    assert chan.rpc("erlang", "node", [], 10) == Atom(shop.nodes["node1"].node_name)
    value = chan.rpc("erlang", "list_to_tuple", [[Atom("a"), "stríng", b"\x00\xff", {Atom("k"): [1, 2.5]}]], 10)
    assert value == (Atom("a"), "stríng", b"\x00\xff", {Atom("k"): [1, 2.5]})
    pid = chan.rpc("erlang", "whereis", [Atom("release_handler")], 10)
    assert pid[0] == Atom("$pid") and re.fullmatch(r"<\d+\.\d+\.\d+>", pid[1])
    t0 = time.monotonic()
    facts = chan.facts(md5=True)
    facts_time = time.monotonic() - t0
    assert facts["node"] == Atom(shop.nodes["node1"].node_name)
    assert facts["which_releases"] == (
        Atom("ok"),
        [("shop", "1.0.0", ["kernel-8.5.3", "stdlib-4.2", "sasl-4.2", "shop-0.1.0", "shop_legacy-1.0.0"],
          Atom("permanent"))],
    )  # fmt: skip
    md5s = chan.loaded_md5s()
    expected = shop.eval("node1", "string:lowercase(binary_to_list(binary:encode_hex(shop_price:module_info(md5))))")
    assert md5s["shop_price"] == expected.strip('"')
    print(f"latency: ping median {statistics.median(timings):.3f}s, facts with md5 {facts_time:.3f}s")
    assert statistics.median(timings) < 3


def test_output_of_remote_code_does_not_spoil_the_reply(shop: Fleet) -> None:
    chan = channel(shop)
    fake = "~n%% erlang.otp control reply~n{ok,fake,#{}}.~n"
    assert chan.rpc("io", "format", [fake], 10) == Atom("ok")


def test_badrpc_and_timeout(shop: Fleet) -> None:
    chan = channel(shop)
    with pytest.raises(NodeCallError, match=r"erlang:error/1 failed: .*boom") as info:
        chan.rpc("erlang", "error", [Atom("boom")], 10)
    assert info.value.reason[0] == Atom("EXIT")
    t0 = time.monotonic()
    with pytest.raises(NodeCallError, match=r"timer:sleep/1 failed: timeout") as info:
        chan.rpc("timer", "sleep", [5000], 0.5)
    assert info.value.reason == Atom("timeout")
    assert time.monotonic() - t0 < 4


def test_wrong_cookie_is_a_clear_error(shop: Fleet) -> None:
    chan = channel(shop, cookie="not-the-cookie-4711")
    assert chan.ping() is False
    wrong = r"is up .* refused the connection: wrong cookie \(ours came from option\)"
    with pytest.raises(NodeDown, match=wrong) as info:
        chan.check()
    assert "not-the-cookie-4711" not in str(info.value)
    assert shop.cookie not in str(info.value)


def test_unknown_node_name(shop: Fleet) -> None:
    with pytest.raises(NodeDown, match=r"node nosuch@\S+ is not reachable .* knows no node named nosuch"):
        channel(shop, node="nosuch", cookie="x").check()


def test_install_release_of_an_unknown_version_leaves_the_node_alone(shop: Fleet) -> None:
    chan = channel(shop)
    t0 = time.monotonic()
    out = chan.install_release("9.9.9", [(Atom("update_paths"), True)], 30, settle=1)
    assert out["result"] == (Atom("error"), (Atom("no_such_release"), "9.9.9"))
    assert (out["badrpc"], out["node_down"], out["node_restarted"], out["node_back"]) == (None, False, False, True)
    assert out["before"]["release_handler"] == out["after"]["release_handler"]
    assert time.monotonic() - t0 < 10


def test_cookie_stays_off_command_lines_and_environments(shop: Fleet) -> None:
    chan = channel(shop)
    with ProcessWatch() as watch:
        assert chan.ping()
        chan.facts()
        with pytest.raises(NodeCallError):
            chan.rpc("erlang", "error", [shop.cookie], 10)  # the cookie in a reason is masked
    assert watch.seen, "the watcher saw no process at all"
    assert watch.leaks(shop.cookie) == []
    for argv, data in chan.run_command.calls:
        assert shop.cookie not in " ".join(argv)
        assert shop.cookie.encode() in data  # it travels on stdin only
        workdir = argv[4]
        assert workdir.startswith("/") and not os.path.exists(workdir), f"{workdir} left behind"


def test_cookie_is_masked_in_error_reasons(shop: Fleet) -> None:
    chan = channel(shop)
    with pytest.raises(NodeCallError) as info:
        chan.rpc("erlang", "error", [{Atom("c"): shop.cookie, Atom("a"): Atom(shop.cookie)}], 10)
    assert shop.cookie not in str(info.value)
    assert "********" in str(info.value)


def _control_nodes(chan: NodeChannel) -> list:
    """The hidden nodes connected to the node, as the node sees them (ours among them)."""
    return [str(n) for n in chan.rpc("erlang", "nodes", [Atom("hidden")], 10) if str(n).startswith("erlang_otp_ctl_")]


def test_a_session_shares_one_control_node(shop: Fleet) -> None:
    chan = channel(shop)
    single = [_control_nodes(chan)[0] for _unused in range(2)]
    assert single[0] != single[1]  # one control node per call outside a session
    with ProcessWatch() as watch:
        with chan.session():
            first = _control_nodes(chan)
            assert chan.ping() is True
            assert chan.rpc("erlang", "node", [], 10) == Atom(shop.nodes["node1"].node_name)
            facts = chan.facts(md5=True)
            assert facts["which_releases"][0] == Atom("ok") and facts["loaded"]
            assert chan.eval("lists:sum([1, 2, 3])") == 6
            with pytest.raises(NodeCallError, match=r"erlang:error/1 failed: .*\*{8}"):
                chan.rpc("erlang", "error", [shop.cookie], 10)  # a failed call leaves the session usable
            out = chan.install_release("9.9.9", [(Atom("update_paths"), True)], 30, settle=0.5)
            assert out["result"] == (Atom("error"), (Atom("no_such_release"), "9.9.9"))
            with chan.session():  # nested: the same session
                assert _control_nodes(chan) == first
            workdir = chan._session.workdir
            assert _control_nodes(chan) == first and len(first) == 1
        assert not os.path.exists(workdir), f"{workdir} left behind"
    assert chan.run_command.calls[-1][1].count(b"session") == 0  # the session bypasses run_command
    assert watch.leaks(shop.cookie) == []
    controls = [argv for argv in watch.seen.values() if b"erlang_otp_ctl.escript" in argv and b"erlexec" not in argv]
    assert controls, "the watcher saw no control escript"
    deadline = time.monotonic() + 10
    while first[0] in _control_nodes(chan):  # it halted at the end of its input
        assert time.monotonic() < deadline, f"{first[0]} still connected after the session"
        time.sleep(0.2)


def test_a_session_outlives_its_control_node_and_the_node_restarting(fleet_factory) -> None:
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    node = fleet.nodes["node1"]
    chan = channel(fleet)
    with chan.session():
        first = _control_nodes(chan)
        chan._session.proc.kill()  # our own child, by its Popen
        chan._session.proc.wait()
        second = _control_nodes(chan)  # a new control node answers
        assert len(second) == 1 and second != first
        fleet.release("node1", "stop", check=True)
        deadline = time.monotonic() + 20
        while node.beam.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert chan.ping() is False
        with pytest.raises(NodeDown, match=r"knows no node named"):
            chan.check()
        fleet.release("node1", "daemon", check=True)
        deadline = time.monotonic() + 60
        while not chan.ping(timeout=5):  # the same control node connects again
            assert time.monotonic() < deadline, "node did not come back"
            time.sleep(0.3)
        assert _control_nodes(chan) == second


# -- nodes of their own ------------------------------------------------------------------------


def test_stopped_node_discovered_from_files(fleet_factory) -> None:
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    node = fleet.nodes["node1"]
    fleet.release("node1", "stop", check=True)
    deadline = time.monotonic() + 20
    while node.beam.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    chan = channel(fleet)
    target = chan.target
    assert (target.node, target.cookie, target.pid) == (node.sname, fleet.cookie, None)
    assert target.source["node"] == "releases/1.0.0/vm.args:1"
    target.epmd_port = str(fleet.epmd_port)  # not on disk: the fleet passes it in the environment
    assert chan.ping() is False
    with pytest.raises(NodeDown, match=rf"knows no node named {node.sname}: the node is not running"):
        chan.check()


def test_long_names(fleet_factory) -> None:
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    long_name = f"shop_long_{fleet.sshd_port}@127.0.0.1"
    _restart_with_vm_args(fleet, "node1", lambda text: re.sub(r"(?m)^-sname .*$", f"-name {long_name}", text))
    try:
        chan = channel(fleet)
        assert (chan.target.node, chan.target.name_type) == (long_name, "name")
        assert chan.rpc("erlang", "node", [], 10) == Atom(long_name)
        # the same node through an explicit short name fails clearly, not with a hang
        with pytest.raises(NodeDown):
            channel(fleet, node=long_name.partition("@")[0], name_type="sname").check(timeout=10)
    finally:
        fleet.release("node1", "stop")


def test_release_without_bundled_erts(fleet_factory) -> None:
    fleet = fleet_factory("shop_noerts", "1.0.0", nodes=1)
    chan = channel(fleet)
    assert not (fleet.nodes["node1"].root / "erts-13.1.5").exists()
    assert chan.target.erts_dir is not None and not chan.target.erts_dir.startswith(str(fleet.dir))
    assert chan.ping() is True
    chan.target.erts_dir = None  # no ERTS known at all: the system escript
    assert chan.rpc("erlang", "node", [], 10) == Atom(fleet.nodes["node1"].node_name)
    argv = chan.run_command.calls[-1][0]
    assert argv[argv.index("--") + 1].endswith("/escript")


def test_mix_node_running_then_stopped(fleet_factory) -> None:
    fleet = fleet_factory("exshop", "0.1.0", nodes=1)
    node = fleet.nodes["node1"]
    chan = channel(fleet)
    assert (chan.target.node, chan.target.cookie) == (node.sname, fleet.cookie)
    facts = chan.facts()
    assert facts["which_releases"] == (Atom("ok"), [("exshop", "0.1.0", [], Atom("permanent"))])
    with chan.session():  # start_clean.boot copied for a session too
        assert chan.facts()["which_releases"] == facts["which_releases"]
        assert chan.eval("1 + 1") == 2
    fleet.release("node1", "stop", check=True)
    deadline = time.monotonic() + 20
    while node.beam.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    target = channel(fleet).target
    assert (target.node, target.name_type, target.cookie) == (node.sname, "sname", fleet.cookie)
    assert target.source["node"] == "releases/0.1.0/env.sh"
    assert target.source["cookie"] == "releases/COOKIE"
