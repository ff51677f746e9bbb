# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The loopback fleet itself: sshd, private epmd, release nodes, inventory and teardown."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from tests.support.fleet import Fleet, FleetError, port_accepts

pytestmark = pytest.mark.fleet

SHOP_VSN = "1.0.0"


# -- independent process checks (not the fleet's own Proc.alive) ------------------------------


def _state(pid: int) -> Optional[str]:
    """The /proc state letter of ``pid``, None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()[0]


def _still_running(pid: int, start_time: int) -> bool:
    """Whether that very process (same start time) runs; zombies do not (pid 1 may not reap)."""
    state = _state(pid)
    if state is None or state in "ZXx":
        return False
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]) == start_time


def _running(fleet: Fleet) -> List[str]:
    """The fleet's recorded processes that still run."""
    return [f"{p.label}={p.pid}" for p in fleet.recorded_procs() if _still_running(p.pid, p.start_time)]


def _epmd_names(port: int) -> Optional[str]:
    """``epmd -names`` against ``port``; None when no epmd listens there."""
    env = {k: v for k, v in os.environ.items() if k != "ERL_EPMD_PORT"}
    proc = subprocess.run(
        ["epmd", "-port", str(port), "-names"], capture_output=True, text=True, timeout=30, env=env, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


# -- the shared three-node fleet ---------------------------------------------------------------


def test_fleet_has_three_nodes_behind_one_sshd(shop_fleet: Fleet) -> None:
    assert shop_fleet.hosts == ["node1", "node2", "node3"]
    for host in shop_fleet.hosts:
        who = shop_fleet.ssh(host, "id -un; echo $ERL_EPMD_PORT", check=True).stdout.split()
        assert who == [shop_fleet.user, str(shop_fleet.epmd_port)]


def test_every_node_answers_pong_over_ssh(shop_fleet: Fleet) -> None:
    for host in shop_fleet.hosts:
        proc = shop_fleet.release(host, "ping")
        assert (proc.returncode, proc.stdout.strip()) == (0, "pong"), proc.stderr


def test_each_node_reports_its_own_name_and_permanent_release(shop_fleet: Fleet) -> None:
    names = {}
    for host, node in shop_fleet.nodes.items():
        names[host] = shop_fleet.eval(host, "node()")
        assert names[host] == node.node_name
        assert names[host].split("@")[0] == node.sname
        permanent = shop_fleet.eval(host, '[V || {"shop", V, _, permanent} <- release_handler:which_releases()]')
        assert permanent == f'["{SHOP_VSN}"]'
    assert len(set(names.values())) == 3


def test_epmd_is_private(shop_fleet: Fleet) -> None:
    snames = sorted(node.sname for node in shop_fleet.nodes.values())
    private = _epmd_names(shop_fleet.epmd_port)
    assert private is not None
    assert sorted(line.split()[1] for line in private.splitlines() if line.startswith("name ")) == snames
    # what an ssh session sees (sshd's SetEnv), and what a node asks its own epmd
    over_ssh = shop_fleet.ssh("node1", "epmd -names", check=True).stdout
    assert all(f"name {s} " in over_ssh for s in snames)
    seen_by_node = shop_fleet.eval("node2", "{ok, Ns} = net_adm:names(), lists:sort([N || {N, _} <- Ns])")
    assert seen_by_node == "[" + ", ".join(f'"{s}"' for s in snames) + "]"
    default = _epmd_names(4369)  # None: nothing there, which is fine too
    assert default is None or not any(s in default for s in snames)


def test_inventory_reaches_every_node(shop_fleet: Fleet) -> None:
    on_disk = json.loads(shop_fleet.inventory_path.read_text())
    assert on_disk == shop_fleet.inventory
    hosts: Dict[str, dict] = on_disk["all"]["children"]["fleet"]["hosts"]
    assert sorted(hosts) == shop_fleet.hosts
    for host, hv in hosts.items():
        assert hv["ansible_host"] == "127.0.0.1"
        assert hv["ansible_python_interpreter"] == "/usr/bin/python3"
        assert hv["otp_release_name"] == "shop"
        assert hv["otp_release_node"] == shop_fleet.nodes[host].node_name
        # connect with nothing but the inventory's variables, the way Ansible's ssh plugin does
        argv = [
            "ssh", "-F", "/dev/null", "-o", "BatchMode=yes",
            *shlex.split(hv["ansible_ssh_common_args"]),
            "-i", hv["ansible_ssh_private_key_file"],
            "-p", str(hv["ansible_port"]),
            f"{hv['ansible_user']}@{hv['ansible_host']}",
            f"{hv['ansible_python_interpreter']} -c 'import sys; print(sys.version_info[0])' && "
            f"{shlex.quote(hv['otp_release_root'])}/bin/{hv['otp_release_name']} ping",
        ]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert (proc.returncode, proc.stdout.split()) == (0, ["3", "pong"]), proc.stderr


def test_unknown_host_is_a_clear_error(shop_fleet: Fleet) -> None:
    with pytest.raises(FleetError, match=r"'node9': no such host .*node1, node2, node3"):
        shop_fleet.ssh("node9", "true")


# -- fleets of their own -----------------------------------------------------------------------


def test_teardown_leaves_no_recorded_process(fleet_factory) -> None:
    fleet = fleet_factory("shop", SHOP_VSN, nodes=2)
    recorded = fleet.recorded_procs()
    labels = sorted({p.label.split(":")[0] for p in recorded})
    assert {"beam", "run_erl", "epmd", "sshd"} <= set(labels)
    assert len(_running(fleet)) == len(recorded)  # all up before the teardown
    fleet.stop()
    assert _running(fleet) == []
    assert not port_accepts(fleet.sshd_port)
    assert not port_accepts(fleet.epmd_port)
    fleet.stop()  # idempotent


def test_node_killed_mid_test_is_still_cleaned_up(fleet_factory) -> None:
    fleet = fleet_factory("shop", SHOP_VSN, nodes=2)
    beam = fleet.nodes["node1"].beam
    assert beam is not None
    os.kill(beam.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _state(beam.pid) not in (None, "Z", "X") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fleet.ping("node1") != "pong"
    assert fleet.ping("node2") == "pong"
    fleet.stop()  # must not raise
    assert _running(fleet) == []


def test_mix_release_fleet(fleet_factory) -> None:
    fleet = fleet_factory("exshop", "0.1.0", nodes=1)
    node = fleet.nodes["node1"]
    assert node.layout.flavor == "mix"
    assert fleet.ping("node1") == "pong"
    assert fleet.eval("node1", "IO.puts(node())") == node.node_name
    assert fleet.eval("node1", 'IO.puts(System.get_env("ERL_EPMD_PORT"))') == str(fleet.epmd_port)


def test_wrong_release_name_fails_cleanly(fleet_tools, release_tarball, tmp_path: Path) -> None:
    fleet = Fleet(release_tarball("shop", SHOP_VSN), "shopp", 1, base_dir=tmp_path / "fleet")
    with pytest.raises(FleetError, match=r"bin/shopp: missing"):
        fleet.start()
    assert fleet.recorded_procs()  # epmd and sshd had started ...
    assert _running(fleet) == []  # ... and were stopped again


_ABANDON = """
import json, sys
from tests.support.fleet import Fleet
fleet = Fleet(sys.argv[1], "shop", 1, base_dir=sys.argv[2])
fleet.start()
print(json.dumps([[p.pid, p.start_time, p.label] for p in fleet.recorded_procs()]))
"""  # exits without stop(): the atexit hook must stop the fleet


def test_abandoned_fleet_is_stopped_at_interpreter_exit(fleet_tools, release_tarball, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _ABANDON, str(release_tarball("shop", SHOP_VSN)), str(tmp_path / "fleet")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {rec[2] for rec in recorded} >= {"beam", "run_erl", "epmd", "sshd"}
    assert [f"{label}={pid}" for pid, start, label in recorded if _still_running(pid, start)] == []
