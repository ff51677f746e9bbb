# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action erlang.otp.upgrade_plan: inventory read from hostvars, the four phases, no cookie anywhere.

The action runs with ansible-core's own Task, PlayContext and DataLoader; only the connection (never
used: the action needs none) is a stand-in, and the hostvars are plain dicts as the strategy would
template them.
"""
from __future__ import annotations

import copy
import json
import os
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible.executor.playbook_executor import PlaybookExecutor
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager
from ansible_collections.erlang.otp.plugins.action.upgrade_plan import ActionModule
from ansible_collections.erlang.otp.plugins.module_utils._fleet_plan import batches

COOKIE = "cookie-SECRET-4711"
HOSTS = ["node1", "node2", "node3"]


def release_info(running="1.0.0", releases=None, **changes) -> dict:
    """A registered erlang.otp.release_info result (the keys the plan reads)."""
    result = {
        "changed": False,
        "failed": False,
        "reachable": True,
        "root": "/opt/shop",
        "name": "shop",
        "node": "shop@web1",
        "running_version": running,
        "permanent_version": running,
        "boot_version": running,
        "releases": [
            {"name": "shop", "version": v, "status": s, "applications": []}
            for v, s in (releases or [(running, "permanent")])
        ],
        "releases_file": True,
        "erts": {"running": "13.1.5", "release": "13.1.5", "bundled": ["13.1.5"]},
        "otp_libs_bundled": True,
        "sasl": {"in_release": True, "running": True},
        "release_handler": True,
        "drift_checked": True,
        "drift": [],
        "relup": None,
        "manifest": {"format": 1, "name": "shop", "vsn": running, "apps": []},
        "discovery": {"source": {"cookie": "command line of pid 4242"}, "problems": []},
    }
    result.update(changes)
    return result


def relup_result(vsn, bases, hot=True, checksum="sha256:" + "ab" * 32, dest=None) -> dict:
    """One item of the ``results`` of the looped erlang.otp.relup task."""
    return {
        "changed": True,
        "failed": False,
        "item": {"vsn": vsn, "bases": bases},
        "ansible_loop_var": "item",
        "dest": dest or f"/build/shop-{vsn}.tar.gz",
        "checksum": checksum,
        "sha256": checksum.split(":")[1],
        "vsn": vsn,
        "name": "shop",
        "upgrades": {b: {"hot": hot, "reasons": [] if hot else ["no relup"], "up": [], "down": []} for b in bases},
        "hot_from": list(bases) if hot else [],
    }


@pytest.fixture
def packages(tmp_path):
    directory = tmp_path / "packages"
    directory.mkdir()
    for name in ("shop-1.0.0.tar.gz", "shop-1.1.0.tar.gz", "shop_noerts-1.1.0.tar.gz", "shop-1.1.0.tar.gz.sha256"):
        (directory / name).write_bytes(b"")
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "drain.yml").write_text("- ansible.builtin.meta: noop\n")
    return directory


@pytest.fixture
def fleet(tmp_path, packages):
    """task_vars of the run_once host: three hosts on 1.0.0, group vars like group_vars/all."""
    common = {
        "otp_release_name": "shop",
        "otp_release_root": "/opt/shop",
        "otp_release_version": "1.1.0",
        "otp_release_packages": "packages",  # relative to the playbook directory (the loader's basedir)
        "otp_release_cookie": COOKIE,
        "otp_release_node": "shop@web1",
        "inventory_hostname": None,
    }
    hostvars = {}
    for host in HOSTS:
        hostvars[host] = dict(common, inventory_hostname=host, _otp_release_facts=release_info())
    hostvars["localhost"] = {"inventory_hostname": "localhost"}
    return {
        "inventory_hostname": "node1",
        "ansible_play_hosts_all": list(HOSTS),
        "otp_release_cookie": COOKIE,
        "hostvars": hostvars,
    }


def run(tmp_path, task_vars, check_mode=False, **args):
    task = Task()
    task.action = "erlang.otp.upgrade_plan"
    task.args = args
    task.check_mode = check_mode
    loader = DataLoader()
    loader.set_basedir(str(tmp_path))
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    action = ActionModule(task, connection, PlayContext(), loader, None, None)
    result = action.run(task_vars=copy.deepcopy(task_vars))
    text = json.dumps(result)  # JSON data only
    assert COOKIE not in text
    return result


def failure(tmp_path, task_vars, **args) -> AnsibleActionFail:
    with pytest.raises(AnsibleActionFail) as excinfo:
        run(tmp_path, task_vars, **args)
    assert COOKIE not in str(excinfo.value)
    assert COOKIE not in json.dumps(excinfo.value.result)
    return excinfo.value


# -- packages ------------------------------------------------------------------------------------


def test_packages_phase(tmp_path, packages, fleet):
    fleet["hostvars"]["node3"]["_otp_release_facts"] = release_info("0.9.0")
    result = run(tmp_path, fleet, phase="packages")
    assert result["changed"] is False
    assert result["build_dir"] == str(packages / ".erlang-otp")
    assert result["requests"] == [
        {
            "name": "shop",
            "vsn": "1.1.0",
            "current": str(packages / "shop-1.1.0.tar.gz"),
            "previous": [
                {"format": 1, "name": "shop", "vsn": "0.9.0", "apps": []},
                {"format": 1, "name": "shop", "vsn": "1.0.0", "apps": []},
            ],
            "dest": str(packages / ".erlang-otp" / "shop-1.1.0.tar.gz"),
            "bases": ["0.9.0", "1.0.0"],
            "overrides": None,
        }
    ]


def test_packages_phase_build_dir_and_overrides(tmp_path, packages, fleet):
    (tmp_path / "appups").mkdir()
    for host in HOSTS:
        fleet["hostvars"][host].update(
            otp_release_build_dir=str(tmp_path / "built"), otp_release_appup_overrides="appups"
        )
    result = run(tmp_path, fleet, phase="packages")
    assert result["build_dir"] == str(tmp_path / "built")
    assert result["requests"][0]["dest"] == str(tmp_path / "built" / "shop-1.1.0.tar.gz")
    assert result["requests"][0]["overrides"] == str(tmp_path / "appups")


def test_packages_phase_missing_target_tarball(tmp_path, fleet):
    fleet["hostvars"]["node2"]["otp_release_version"] = "1.2.0"
    error = failure(tmp_path, fleet, phase="packages")
    assert error.result["errors"] == [
        "node2: otp_release_version is 1.2.0, but otp_release_packages has no shop-1.2.0.tar.gz"
    ]


def test_packages_directory_must_exist(tmp_path, fleet):
    for host in HOSTS:
        fleet["hostvars"][host]["otp_release_packages"] = "nowhere"
    error = failure(tmp_path, fleet, phase="packages")
    assert f"otp_release_packages is 'nowhere', but {tmp_path / 'nowhere'} is not a directory" in str(error)
    del fleet["hostvars"]["node1"]["otp_release_packages"]
    error = failure(tmp_path, fleet, phase="packages")
    assert "otp_release_packages differs between hosts: node1 has None, node2 has 'nowhere'" in str(error)


# -- plan ----------------------------------------------------------------------------------------


def test_plan_phase(tmp_path, packages, fleet):
    fleet["hostvars"]["node3"]["otp_release_strategy"] = "rolling"
    built = [relup_result("1.1.0", ["1.0.0"]), {"skipped": True, "item": {"vsn": "2.0.0"}}]
    result = run(tmp_path, fleet, phase="plan", built=built)
    plan = result["plan"]
    assert result["changed"] is False
    assert plan["name"] == "shop"
    assert isinstance(plan["started"], float)
    assert (plan["serial"], plan["rolling_serial"], plan["max_fail_percentage"]) == ([1, "100%"], 1, 0)
    assert (plan["hot"], plan["rolling"]) == (["node1", "node2"], ["node3"])
    assert plan["hosts"]["node1"]["package"] == "/build/shop-1.1.0.tar.gz"
    assert plan["hosts"]["node3"]["reasons"] == ["otp_release_strategy: rolling"]
    assert plan["lines"][0].startswith("Fleet plan for shop: 3 hosts (2 hot, 1 rolling, 0 unchanged)")
    assert json.loads(json.dumps(plan)) == plan


def test_plan_phase_check_mode_empties_the_rollout(tmp_path, fleet):
    result = run(tmp_path, fleet, check_mode=True, phase="plan", built=[relup_result("1.1.0", ["1.0.0"])])
    plan = result["plan"]
    assert (plan["hot"], plan["rolling"], plan["check_mode"]) == ([], [], True)
    assert [h["action"] for h in plan["hosts"].values()] == ["hot_up"] * 3
    assert plan["lines"][-1] == "check mode: nothing will be changed"


def test_plan_phase_hosts_option_and_tarball_fallback(tmp_path, packages, fleet):
    result = run(tmp_path, fleet, phase="plan", hosts=["node3", "node1"], built=[])
    plan = result["plan"]
    assert list(plan["hosts"]) == ["node3", "node1"]
    assert plan["rolling"] == ["node3", "node1"]  # no package built: restart from the tarball
    assert plan["hosts"]["node1"]["package"] == str(packages / "shop-1.1.0.tar.gz")


def test_plan_phase_reads_host_variables(tmp_path, fleet):
    hostvars = fleet["hostvars"]
    for host in HOSTS:
        hostvars[host].update(
            otp_release_serial=[2, "100%"],
            otp_release_rolling_serial="50%",
            otp_release_max_fail_percentage="25",
            otp_release_health_check="is_pid(whereis(shop_sup))",
            otp_release_before_restart_tasks="hooks/drain.yml",
            otp_release_after_restart_tasks="",
            otp_release_service="shop.service",
            otp_release_keep=0,
        )
    hostvars["node2"]["otp_release_version"] = "1.0.0"  # pinned: noop
    plan = run(tmp_path, fleet, phase="plan", built=[relup_result("1.1.0", ["1.0.0"])])["plan"]
    assert (plan["serial"], plan["rolling_serial"], plan["max_fail_percentage"]) == ([2, "100%"], "50%", 25)
    node1 = plan["hosts"]["node1"]
    assert node1["health"]["erlang"] == "is_pid(whereis(shop_sup))"
    assert node1["before_hook"] == str(tmp_path / "hooks" / "drain.yml")
    assert node1["after_hook"] is None
    assert node1["service"] == "shop.service"
    assert node1["remove"] == ["1.0.0"]
    assert plan["hosts"]["node2"]["action"] == "noop"
    assert plan["hot"] == ["node1", "node3"]


def test_plan_phase_reports_every_error_with_the_lines(tmp_path, fleet):
    hostvars = fleet["hostvars"]
    hostvars["node1"]["otp_release_after_restart_tasks"] = "hooks/missing.yml"
    hostvars["node2"]["_otp_release_facts"] = release_info(reachable=False, running_version=None,
                                                           unreachable_reason="connection refused")
    del hostvars["node3"]["_otp_release_facts"]
    error = failure(tmp_path, fleet, phase="plan", built=[relup_result("1.1.0", ["1.0.0"])])
    assert error.result["errors"] == [
        f"node1: otp_release_after_restart_tasks is 'hooks/missing.yml', but {tmp_path / 'hooks' / 'missing.yml'} "
        "is not a file",
        "node2: node shop@web1 of release shop under /opt/shop does not answer (reachable: false): connection "
        "refused. Start it, or leave the host out (--limit)",
        "node3: no facts from erlang.otp.release_info (the host failed or was unreachable over SSH in the facts play)",
    ]
    assert error.result["lines"][1].startswith("node1  hot up       1.0.0 -> 1.1.0")
    assert str(error).startswith("the fleet cannot be planned (3 errors): node1: ")


def test_plan_phase_fleet_settings_must_agree(tmp_path, fleet):
    fleet["hostvars"]["node2"]["otp_release_serial"] = [1]
    error = failure(tmp_path, fleet, phase="plan", built=[])
    assert error.result["errors"] == [
        "otp_release_serial differs between hosts: node1 has [1, '100%'], node2 has [1]. Set it once for the whole "
        "fleet (group_vars/all or -e): play keywords such as serial cannot read per-host variables"
    ]


def test_plan_phase_bad_built_results(tmp_path, fleet):
    error = failure(tmp_path, fleet, phase="plan", built=[{"failed": True, "msg": "no relup"}])
    assert str(error) == "built[0]: the package build failed: no relup"
    error = failure(tmp_path, fleet, phase="plan", built=[{"dest": "/x"}])
    assert str(error).startswith("built[0]: not an erlang.otp.relup result")


def test_no_hosts(tmp_path, fleet):
    fleet["ansible_play_hosts_all"] = []
    assert "hosts: no hosts to plan" in str(failure(tmp_path, fleet, phase="plan"))


# -- gate and summary ----------------------------------------------------------------------------


@pytest.fixture
def planned(tmp_path, fleet):
    """The fleet after the plan play: the plan on localhost, with serial [1, "100%"]."""
    fleet["hostvars"]["node3"]["otp_release_strategy"] = "rolling"
    plan = run(tmp_path, fleet, phase="plan", built=[relup_result("1.1.0", ["1.0.0"])])["plan"]
    fleet["hostvars"]["localhost"]["_otp_release_plan"] = plan
    return fleet


def test_gate_phase(tmp_path, planned):
    hostvars = planned["hostvars"]
    hostvars["localhost"]["_otp_release_batch"] = ["node1"]
    hostvars["node1"]["_otp_release_outcome"] = {"result": "ok", "seconds": 3.1}
    gate = run(tmp_path, planned, phase="gate")["gate"]
    assert gate == {
        "stop": False,
        "failed": [],
        "hosts": ["node1"],
        "batch": 1,
        "size": 1,
        "kind": "hot",
        "reason": "0 of 1 host of batch 1 failed (at most 0% may fail)",
    }
    hostvars["localhost"]["_otp_release_batch"] = ["node2"]  # node2 became unreachable: no outcome
    gate = run(tmp_path, planned, phase="gate")["gate"]
    assert (gate["stop"], gate["failed"], gate["batch"]) == (True, ["node2"], 2)
    hostvars["localhost"]["_otp_release_batch"] = ["node3"]
    hostvars["node3"]["_otp_release_outcome"] = {"result": "failed", "phase": "restart", "running": "1.0.0"}
    gate = run(tmp_path, planned, phase="gate")["gate"]
    assert (gate["stop"], gate["kind"], gate["batch"]) == (True, "rolling", 1)


def test_gate_phase_needs_the_plan_and_the_batch(tmp_path, fleet, planned):
    error = failure(tmp_path, planned, phase="gate")
    assert str(error).startswith("hostvars['localhost']._otp_release_batch is None")
    del planned["hostvars"]["localhost"]["_otp_release_plan"]
    error = failure(tmp_path, planned, phase="summary")
    assert str(error).startswith("hostvars['localhost']._otp_release_plan is not set: run the plan phase first")


def test_summary_phase(tmp_path, planned):
    hostvars = planned["hostvars"]
    hostvars["node1"]["_otp_release_outcome"] = {
        "result": "failed",
        "phase": "install_after_ponr",
        "running": "1.0.0",
        "node_restarted": True,
        "seconds": 7.5,
        "message": "release_handler:install_release failed after the point of no return",
    }
    hostvars["localhost"]["_otp_release_stopped"] = {
        "stop": True, "failed": ["node1"], "hosts": ["node1"], "batch": 1, "size": 1, "kind": "hot",
        "reason": "1 of 1 host of batch 1 failed (more than 0%)",
    }
    result = run(tmp_path, planned, phase="summary")
    assert result["changed"] is False
    assert result["failed_hosts"] == ["node1"]
    assert "failed" not in result  # Ansible's own key: a list there would fail the task
    assert [r["status"] for r in result["rows"]] == ["failed", "not run", "not run"]
    assert result["lines"][0] == "Upgrade summary for shop: 0 ok, 1 failed, 2 not run"
    assert result["lines"][1] == (
        "node1  hot up       1.0.0 -> 1.1.0  hot        7.5 s  failed after the point of no return: node restarted on "
        "1.0.0 (release_handler:install_release failed after the point of no return)"
    )
    assert result["lines"][-1].startswith("Total time ")
    assert result["seconds"] >= 0


def test_cookie_is_never_read(tmp_path, planned):
    """A variable that cannot be templated fails on access: the cookie is never accessed."""

    class Guarded(dict):
        def __getitem__(self, key):
            if key == "otp_release_cookie":
                raise AssertionError("otp_release_cookie was read")
            return super().__getitem__(key)

    for host in HOSTS:
        planned["hostvars"][host] = Guarded(planned["hostvars"][host])
    guarded = copy.deepcopy(planned)["hostvars"]["node1"]  # run() hands the action a deep copy
    with pytest.raises(AssertionError, match="was read"):
        assert guarded["otp_release_cookie"] is None
    for phase in ("packages", "plan", "summary"):
        run(tmp_path, planned, phase=phase)


# -- batches like Ansible's serial ------------------------------------------------------------------


@pytest.mark.parametrize(
    "serial",
    [[], [1], [1, "100%"], [1, "50%"], [2, "30%", 5], ["10%"], ["33%", 1], 3, "25%", [1, 2, 3]],
)
@pytest.mark.parametrize("count", [1, 2, 3, 7, 10, 13])
def test_batches_match_ansible(serial, count):
    """The batch numbers of the gate come from the same split as PlaybookExecutor's."""
    hosts = [f"h{i}" for i in range(count)]
    inventory = SimpleNamespace(get_hosts=lambda pattern, order=None: list(pattern))
    executor = SimpleNamespace(_inventory=inventory)
    play = SimpleNamespace(hosts=hosts, order=None, serial=serial if isinstance(serial, list) else [serial])
    expected = PlaybookExecutor._get_serialized_batches(executor, play)
    assert batches(hosts, serial) == expected


def test_relative_paths_use_the_playbook_directory(tmp_path, fleet):
    assert os.path.isabs(run(tmp_path, fleet, phase="packages")["build_dir"])


def test_real_hostvars(tmp_path, packages):
    """ansible-core's own inventory and HostVars: templated inventory variables, registered facts as stored."""
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(
        "otp_release_name: shop\n"
        "otp_release_root: /opt/shop\n"
        "otp_release_version: '1.1.0'\n"
        "otp_release_packages: '{{ inventory_dir }}/packages'\n"
        f"otp_release_cookie: {COOKIE}\n"
        "otp_release_serial: [1, '50%']\n"
    )
    (tmp_path / "inventory.yml").write_text(
        "all:\n  hosts:\n    node1:\n    node2:\n      otp_release_version: '1.0.0'\n    node3:\n"
    )
    loader = DataLoader()
    loader.set_basedir(str(tmp_path))
    inventory = InventoryManager(loader=loader, sources=[str(tmp_path / "inventory.yml")])
    variables = VariableManager(loader=loader, inventory=inventory)
    HostVars(inventory, variables, loader)  # what the playbook executor sets up: task_vars["hostvars"]
    for name in HOSTS:
        # what register does; the manifest holds text that must never be templated
        facts = release_info(manifest={"format": 1, "name": "shop", "vsn": "1.0.0", "env": "{{ undefined_var }}"})
        variables.set_nonpersistent_facts(name, {"_otp_release_facts": facts})
    task_vars = variables.get_vars(host=inventory.get_host("node1"), include_hostvars=True)
    task_vars["ansible_play_hosts_all"] = list(HOSTS)

    requests = run(tmp_path, task_vars, phase="packages")["requests"]
    assert requests[0]["current"] == str(packages / "shop-1.1.0.tar.gz")
    assert requests[0]["previous"][0]["env"] == "{{ undefined_var }}"
    plan = run(tmp_path, task_vars, phase="plan", built=[relup_result("1.1.0", ["1.0.0"])])["plan"]
    assert plan["serial"] == [1, "50%"]
    assert [e["action"] for e in plan["hosts"].values()] == ["hot_up", "noop", "hot_up"]

    variables.set_nonpersistent_facts("localhost", {"_otp_release_plan": plan})
    variables.set_nonpersistent_facts("node1", {"_otp_release_outcome": {"result": "ok"}})
    variables.set_nonpersistent_facts("node3", {"_otp_release_outcome": {"result": "ok"}})
    task_vars = variables.get_vars(host=inventory.get_host("node1"), include_hostvars=True)
    result = run(tmp_path, task_vars, phase="summary")
    assert result["failed_hosts"] == []
    assert result["lines"][0] == "Upgrade summary for shop: 2 ok, 0 failed, 1 unchanged"
