# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo` end to end: ``demo/run_demo.py`` run as a user runs it, judged by its ``--json`` figures.

This is also the CI proof of "downgrade by pinning the version in group_vars": the second playbook
run of the demo differs from the first only by ``otp_release_version`` in ``group_vars/fleet.yml``.

* the demo exits 0; both runs bring every node to the target version, permanently;
* not one call of the load client failed, up or down, and every node answered calls throughout;
* every ``shop_cart`` process kept its pid through both runs (and its items), no VM restarted;
* the clean-up leaves no process and no fleet directory behind, also after Ctrl-C.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.fleet import Proc

pytestmark = pytest.mark.fleet

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "run_demo.py"
OLD, NEW = "1.0.0", "1.1.0"


def run_demo(*args: str, timeout: float = 800) -> subprocess.CompletedProcess:
    """The demo in its own session, as from a terminal; on a timeout it gets Ctrl-C, as a user would."""
    proc = subprocess.Popen([sys.executable, str(DEMO), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _unused = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        out, _unused = proc.communicate(timeout=120)
        pytest.fail(f"the demo did not finish in {timeout}s:\n{out[-6000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def processes_under(directory: Path) -> list:
    """Pids of live processes whose command line mentions ``directory``."""
    prefix = str(directory)
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            proc = Proc.of(int(entry.name), "any")
            if prefix in argv and proc is not None and proc.alive():
                found.append(int(entry.name))
    return found


@pytest.mark.timeout(900)
def test_demo_hot_upgrade_then_downgrade_by_pin(fleet_tools, release_tarball, tmp_path):
    for vsn in (OLD, NEW):
        release_tarball("shop", vsn)  # skips without rebar3; builds outside the demo's timing
    work = tmp_path / "work"
    figures_path = tmp_path / "demo.json"
    run = run_demo("--json", str(figures_path), "--work-dir", str(work))
    assert run.returncode == 0, run.stdout[-8000:]
    figures = json.loads(figures_path.read_text())
    assert figures["ok"] is True and figures["nodes"] == 3
    assert [p["name"] for p in figures["phases"]] == ["upgrade", "downgrade"]
    up, down = figures["phases"]

    # The pin: the downgrade differs from the upgrade only by the version in group_vars/fleet.yml.
    assert up["inventory_vars"]["group_vars/fleet"]["otp_release_version"] == NEW
    pinned = {**up["inventory_vars"]["group_vars/fleet"], "otp_release_version": OLD}
    assert down["inventory_vars"]["group_vars/fleet"] == pinned
    assert set(down["inventory_vars"]) == set(up["inventory_vars"]) == {"group_vars/fleet"}, "no host_vars"

    for phase, (start, target) in ((up, (OLD, NEW)), (down, (NEW, OLD))):
        name = phase["name"]
        assert phase["playbook_rc"] == 0, name
        assert set(phase["hosts"]) == {"node1", "node2", "node3"}, name
        assert all(stats["failed"] == 0 and stats["unreachable"] == 0 for stats in phase["recap"].values()), phase
        assert phase["failed"] == 0 and phase["failed_by_reason"] == {}, (name, phase["failed_by_reason"])
        assert phase["calls"] == sum(h["calls"] for h in phase["hosts"].values())
        for host, f in phase["hosts"].items():
            where = f"{name} {host}: {f}"
            assert (f["version_before"], f["version_after"], f["permanent_after"]) == (start, target, target), where
            assert f["failed"] == 0, where
            # one call every 20 ms for the whole playbook run: at least a call per second got through
            assert f["calls"] >= phase["playbook_seconds"], where
            assert f["cart_pid_before"] == f["cart_pid_after"], where
            assert f["cart_pids_seen"] == [f["cart_pid_before"]], where  # the probes during the run
            assert f["cart_items_before"] == f["cart_items_after"], where
            assert f["os_pid_before"] == f["os_pid_after"] and not f["restarted"], where
    for host in up["hosts"]:
        assert up["hosts"][host]["cart_pid_after"] == down["hosts"][host]["cart_pid_before"], host
        assert up["hosts"][host]["os_pid_after"] == down["hosts"][host]["os_pid_before"], host

    # what the user reads: the tables and the one-line verdicts
    assert run.stdout.count("cart pid kept") == 2, run.stdout[-4000:]
    assert run.stdout.count(" calls failed, every shop_cart kept its pid, no node restarted") == 2
    assert f"0 of {up['calls']:,} calls failed" in run.stdout
    assert "Demo passed" in run.stdout

    assert figures["cleanup_problems"] == []
    assert not (work / "fleet").exists()
    assert processes_under(work) == []


@pytest.mark.timeout(300)
def test_ctrl_c_during_the_playbook_cleans_up(fleet_tools, release_tarball, tmp_path):
    for vsn in (OLD, NEW):
        release_tarball("shop", vsn)
    work = tmp_path / "work"
    figures_path = tmp_path / "demo.json"
    proc = subprocess.Popen([sys.executable, str(DEMO), "--json", str(figures_path), "--work-dir", str(work)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Hot | install the target version" in line:
                break
        else:
            pytest.fail("the demo ended before the playbook installed anything:\n" + "".join(lines[-80:]))
        assert processes_under(work / "fleet"), "the fleet should be running now"
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
        rest, _unused = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out = "".join(lines) + rest
    assert proc.returncode == 130, out[-6000:]
    assert "interrupted: cleaning up" in out
    assert f"nodes, epmd and sshd stopped; {work / 'fleet'} removed" in out, out[-3000:]
    assert json.loads(figures_path.read_text())["cleanup_problems"] == []
    assert not (work / "fleet").exists()
    assert processes_under(work) == []
