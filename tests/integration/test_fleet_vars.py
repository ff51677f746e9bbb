# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support for the fleet scenarios: a fleet on two versions (``Fleet(tarballs=...)``),
inventory variables and groups (``Fleet.set_vars``), and ``tests.support.ansible`` (``playbook``
with ``forks``/``limit``, the callback's ``time``/``started``/``play`` and ``Run.stats``, and a
background run interrupted through its own session).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support.ansible import finish_playbook, kill_playbook, playbook, process_tree, start_playbook
from tests.support.fleet import Fleet, FleetError, Proc

pytestmark = pytest.mark.fleet


@pytest.fixture
def two_versions(fleet_tools: None, release_tarball: Callable[[str, str], Path], tmp_path: Path) -> Iterator[Fleet]:
    """node1 runs shop 1.0.0, node2 shop 1.1.0."""
    fleet = Fleet(release_tarball("shop", "1.0.0"), "shop", 2, tarballs={"node2": release_tarball("shop", "1.1.0")},
                  base_dir=tmp_path / "fleet")
    with fleet:
        yield fleet


def _play(tmp_path: Path, name: str, hosts: str, tasks: list) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(json.dumps([{"name": name, "hosts": hosts, "gather_facts": False, "tasks": tasks}]))
    return path


def test_two_versions_and_inventory_vars(two_versions: Fleet, tmp_path: Path) -> None:
    fleet = two_versions
    assert [fleet.nodes[h].vsn for h in fleet.hosts] == ["1.0.0", "1.1.0"]

    written = fleet.set_vars(
        group_vars={"fleet": {"otp_release_version": "1.1.0", "batch_sizes": [1, "100%"], "packages": tmp_path}},
        host_vars={"node1": {"otp_release_version": "1.0.0"}},
        groups={"pinned": ["node1"]},
    )
    assert {p.relative_to(fleet.dir).as_posix() for p in written} == {
        "group_vars/fleet.yml", "host_vars/node1.yml", "inventory.yml"}  # fmt: skip
    # a second call merges key by key: the pin stays, a var is added
    fleet.set_vars(group_vars={"pinned": {"pin_reason": "canary"}})
    before = {p: p.read_bytes() for p in fleet.dir.rglob("*.yml")}

    # bad input names the culprit and writes nothing
    bad_calls = [
        ({"group_vars": {"nosuchgroup": {"a": 1}}}, "nosuchgroup"),
        ({"host_vars": {"node9": {"a": 1}}}, "node9"),
        ({"groups": {"extra": ["node1", "node7"]}}, "node7"),
        ({"groups": {"fleet": ["node1"]}}, "'fleet'"),
        ({"group_vars": {"fleet": {"bad-name": 1}}}, "bad-name"),
        ({"group_vars": {"fleet": {"ok": 1}}, "host_vars": {"node2": {"when": object()}}}, "node2"),
    ]
    for kwargs, culprit in bad_calls:
        with pytest.raises(FleetError, match=culprit):
            fleet.set_vars(**kwargs)
    assert {p: p.read_bytes() for p in fleet.dir.rglob("*.yml")} == before

    path = _play(tmp_path, "Versions", "fleet", [
        {"name": "info", "erlang.otp.release_info": {"root": "{{ otp_release_root }}"}},
        {"name": "vars", "ansible.builtin.debug": {"msg": {
            "target": "{{ otp_release_version }}", "sizes": "{{ batch_sizes }}", "groups": "{{ group_names }}",
            "packages": "{{ packages }}", "reason": "{{ pin_reason | default('none') }}"}}},
    ])  # fmt: skip
    run = playbook(path, fleet.inventory_path, forks=2)
    assert run.rc == 0, repr(run)
    for host, running in (("node1", "1.0.0"), ("node2", "1.1.0")):
        info = run.task(host, "info")
        assert info["running_version"] == running, info
        assert info["permanent_version"] == running, info
    assert run.task("node1", "vars")["msg"] == {
        "target": "1.0.0", "sizes": [1, "100%"], "groups": ["fleet", "pinned"], "packages": str(tmp_path),
        "reason": "canary"}  # fmt: skip
    assert run.task("node2", "vars")["msg"] == {
        "target": "1.1.0", "sizes": [1, "100%"], "groups": ["fleet"], "packages": str(tmp_path), "reason": "none"}
    # the callback's additions
    assert run.stats == {h: {"ok": 2, "changed": 0, "failed": 0, "unreachable": 0, "rescued": 0, "skipped": 0,
                             "ignored": 0} for h in ("node1", "node2")}  # fmt: skip
    assert [p["name"] for p in run.plays] == ["Versions"]
    for event in run.events:
        assert event["play"] == "Versions"
        assert run.plays[0]["time"] <= event["started"] <= event["time"] <= time.time()

    # --limit and the extra group; replace=True drops everything set before
    run = playbook(path, fleet.inventory_path, limit="pinned", forks=1)
    assert run.rc == 0, repr(run)
    assert set(run.stats) == {"node1"}, repr(run)
    fleet.set_vars(group_vars={"all": {"otp_release_version": "1.1.0", "batch_sizes": [], "packages": "/x"}},
                   replace=True)
    assert not (fleet.dir / "host_vars" / "node1.yml").exists()
    assert "pinned" not in json.loads(fleet.inventory_path.read_text())["all"]["children"]
    run = playbook(path, fleet.inventory_path, limit=["node1", "node2"])
    assert run.rc == 0, repr(run)
    assert {h: run.task(h, "vars")["msg"]["target"] for h in fleet.hosts} == {"node1": "1.1.0", "node2": "1.1.0"}


def test_tarballs_refuses_unknown_hosts_and_files(release_tarball: Callable[[str, str], Path], tmp_path: Path) -> None:
    shop = release_tarball("shop", "1.0.0")
    with pytest.raises(FleetError, match="node3"):
        Fleet(shop, "shop", 2, tarballs={"node3": shop}, base_dir=tmp_path / "a")
    with pytest.raises(FleetError, match=r"missing\.tar\.gz"):
        Fleet(shop, "shop", 2, tarballs={"node2": tmp_path / "missing.tar.gz"}, base_dir=tmp_path / "b")


def test_background_playbook_is_interrupted_as_a_group(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = _play(tmp_path, "Interrupted", "localhost", [
        {"name": "first", "ansible.builtin.command": {"argv": ["touch", str(marker)]}},
        {"name": "long", "ansible.builtin.command": {"argv": ["sleep", "60"]}},
        {"name": "never", "ansible.builtin.debug": {"msg": "not reached"}},
    ])  # fmt: skip
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    popen = start_playbook(path, extra_vars=local, output_dir=tmp_path / "out")
    try:
        assert os.getsid(popen.pid) == popen.pid  # its own session
        deadline = time.monotonic() + 60
        while "sleep" not in _commands(popen.pid).values():
            assert popen.poll() is None and time.monotonic() < deadline, (tmp_path / "out" / "stderr.txt").read_text()
            time.sleep(0.1)
        tree = [p for p in (Proc.of(pid, "run") for pid in process_tree(popen.pid)) if p is not None]
    finally:
        kill_playbook(popen)
    run = finish_playbook(popen, timeout=30)
    assert run.rc == -signal.SIGKILL
    assert marker.exists()
    assert [e["task"] for e in run.events] == ["first"], run.events
    assert run.stats == {}  # no recap: the run was killed
    # the workers too (ansible-core 2.19+ puts them in sessions of their own), and the module's sleep
    deadline = time.monotonic() + 10
    while any(p.alive() for p in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p.pid for p in tree if p.alive()] == []


def _commands(root: int) -> dict:
    """pid -> basename of argv[0] for ``root`` and its descendants."""
    out = {}
    for pid in process_tree(root):
        try:
            out[pid] = os.path.basename(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode())
        except OSError:
            pass
    return out
