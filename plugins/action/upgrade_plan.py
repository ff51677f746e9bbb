# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin erlang.otp.upgrade_plan: the fleet plan of the erlang.otp.upgrade role.

Documented in ``plugins/modules/upgrade_plan.py``. The decisions are made by the pure core
``module_utils/_fleet_plan``; this file reads the inventory contract of every host from
``hostvars``, lists the packages directory, checks the hook files, and shapes the result.
It never reads ``otp_release_cookie``.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.erlang.otp.plugins.module_utils._fleet_plan import (
    HostInput,
    PlanError,
    PlanErrors,
    batch_gate,
    batches,
    decide,
    fleet_setting,
    package_requests,
    summary,
)

ARGUMENT_SPEC = {
    "phase": {"type": "str", "required": True, "choices": ["packages", "plan", "gate", "summary"]},
    "hosts": {"type": "list", "elements": "str"},
    "facts_var": {"type": "str", "default": "_otp_release_facts"},
    "built": {"type": "list", "elements": "raw", "default": []},
}

# The inventory contract (and the role's extra variables) with the role's defaults. Role defaults
# are not part of hostvars, so they are applied here.
DEFAULTS = {
    "otp_release_strategy": "auto",
    "otp_release_serial": [1, "100%"],
    "otp_release_rolling_serial": 1,
    "otp_release_max_fail_percentage": 0,
    "otp_release_health_check": "",
    "otp_release_keep": 2,
    "otp_release_service": "",
    "otp_release_before_restart_tasks": "",
    "otp_release_after_restart_tasks": "",
    "otp_release_appup_overrides": "",
    "otp_release_build_dir": "",
}
PER_HOST = (
    "otp_release_name",
    "otp_release_root",
    "otp_release_version",
    "otp_release_strategy",
    "otp_release_health_check",
    "otp_release_keep",
    "otp_release_service",
    "otp_release_before_restart_tasks",
    "otp_release_after_restart_tasks",
)
FLEET_WIDE = (
    "otp_release_packages",
    "otp_release_serial",
    "otp_release_rolling_serial",
    "otp_release_max_fail_percentage",
    "otp_release_appup_overrides",
    "otp_release_build_dir",
)
# Facts the role keeps on localhost (delegate_facts) and per host.
PLAN_VAR = "_otp_release_plan"
BATCH_VAR = "_otp_release_batch"
STOPPED_VAR = "_otp_release_stopped"
OUTCOME_VAR = "_otp_release_outcome"
TARBALL_SUFFIX = ".tar.gz"


def _plain(value):
    """A deep copy made of dict, list, str, int, float, bool and None (JSON data)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


def _unset(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        task_vars = task_vars or {}
        phase = args["phase"]
        try:
            if phase == "packages":
                outcome = self._packages(args, task_vars)
            elif phase == "plan":
                outcome = self._plan(args, task_vars)
            elif phase == "gate":
                outcome = self._gate(task_vars)
            else:
                outcome = self._summary(task_vars)
        except PlanErrors as exc:
            raise AnsibleActionFail(
                str(exc), result={"errors": [str(e) for e in exc.errors], "lines": list(exc.lines)}
            ) from None
        except PlanError as exc:
            raise AnsibleActionFail(str(exc), result={"errors": [str(exc)], "lines": []}) from None
        result.update(outcome)
        result["changed"] = False
        return result

    # -- reading the inventory ------------------------------------------------------------------

    @staticmethod
    def _hostvars(task_vars: dict):
        hostvars = task_vars.get("hostvars")
        if hostvars is None:
            raise AnsibleActionFail("upgrade_plan: task_vars has no hostvars")
        return hostvars

    @staticmethod
    def _var(hostvars, host: str, key: str):
        """``hostvars[host][key]``, templated; None when the host or the variable is missing."""
        if host not in hostvars:
            return None
        view = hostvars[host]
        if not isinstance(view, Mapping) or key not in view:
            return None
        try:
            return _plain(view[key])
        except AnsibleError as exc:
            raise PlanError(f"{host}: {key} cannot be templated: {exc.message}", host) from None

    @classmethod
    def _fact(cls, hostvars, host: str, key: str):
        """``hostvars[host][key]`` as stored, not templated again: registered results and set_fact data.

        Templating them again would be slow (a manifest has thousands of strings) and, on
        ansible-core < 2.19, would evaluate any ``{{`` a set_fact value happens to hold.
        """
        raw_get = getattr(hostvars, "raw_get", None)
        if raw_get is None:
            return cls._var(hostvars, host, key)
        if host not in hostvars:
            return None
        data = raw_get(host)
        if not isinstance(data, Mapping) or key not in data:
            return None
        return _plain(data[key])

    @classmethod
    def _inventory_dir(cls, hostvars, host: str) -> str | None:
        """The directory of the inventory that defines ``host``: relative paths in it start there."""
        try:
            value = cls._fact(hostvars, host, "inventory_dir")
        except PlanError:
            return None
        return value if isinstance(value, str) and value else None

    def _hosts(self, args: dict, task_vars: dict) -> list:
        hosts = args["hosts"]
        if hosts is None:
            hosts = task_vars.get("ansible_play_hosts_all") or []
        out = []
        for host in hosts:
            if host not in out:
                out.append(str(host))
        if not out:
            raise PlanError("hosts: no hosts to plan (the play matched none; see otp_release_hosts)")
        return out

    def _path(self, value: str, base: str | None = None) -> str:
        """``value`` made absolute: relative to ``base`` (the inventory's directory), else the playbook's."""
        value = os.path.expanduser(value)
        if base and not os.path.isabs(value):
            return os.path.normpath(os.path.join(base, value))
        return os.path.normpath(self._loader.path_dwim(value))

    def _read(self, args: dict, task_vars: dict):
        """The HostInput of every host and the fleet-wide settings; PlanErrors with every problem."""
        hostvars = self._hostvars(task_vars)
        hosts = self._hosts(args, task_vars)
        errors, inputs = [], []
        fleet: dict = {key: {} for key in FLEET_WIDE}
        for host in hosts:
            values = {}
            for key in PER_HOST + FLEET_WIDE:
                try:
                    values[key] = self._var(hostvars, host, key)
                except PlanError as exc:
                    errors.append(exc)
                    values[key] = None
            facts = self._fact(hostvars, host, args["facts_var"])
            for key in FLEET_WIDE:
                fleet[key][host] = None if _unset(values[key]) else values[key]
            hooks = {}
            for key in ("otp_release_before_restart_tasks", "otp_release_after_restart_tasks"):
                hooks[key] = None
                given = values[key]
                if _unset(given):
                    continue
                if not isinstance(given, str):
                    errors.append(PlanError(f"{host}: {key} is {given!r}, not the path of a task file", host))
                    continue
                path = self._path(given, self._inventory_dir(hostvars, host))
                if not os.path.isfile(path):
                    errors.append(PlanError(f"{host}: {key} is {given!r}, but {path} is not a file", host))
                    continue
                hooks[key] = path
            inputs.append(
                HostInput(
                    host=host,
                    name=values["otp_release_name"],
                    root=values["otp_release_root"],
                    target=values["otp_release_version"],
                    strategy=_default(values, "otp_release_strategy"),
                    keep=_default(values, "otp_release_keep"),
                    health=_default(values, "otp_release_health_check"),
                    service=None if _unset(values["otp_release_service"]) else values["otp_release_service"],
                    before_hook=hooks["otp_release_before_restart_tasks"],
                    after_hook=hooks["otp_release_after_restart_tasks"],
                    facts=facts if isinstance(facts, dict) else None,
                )
            )
        settings = {"inventory_dir": self._inventory_dir(hostvars, hosts[0])}
        for key in FLEET_WIDE:
            try:
                settings[key] = fleet_setting(fleet[key], key, DEFAULTS.get(key))
            except PlanError as exc:
                errors.append(exc)
                settings[key] = DEFAULTS.get(key)
        try:
            settings.update(self._directories(settings, inputs))
        except PlanError as exc:
            # without the packages directory every host would add an error of its own
            raise PlanErrors([*errors, exc]) from None
        return inputs, settings, errors

    def _directories(self, settings: dict, inputs: list) -> dict:
        """The packages directory and its tarballs, the build directory, the overrides directory."""
        packages = settings["otp_release_packages"]
        if _unset(packages) or not isinstance(packages, str):
            raise PlanError(
                f"otp_release_packages is {packages!r}: set it to the controller directory holding "
                "<name>-<vsn>.tar.gz"
            )
        base = settings.get("inventory_dir")
        packages_dir = self._path(packages, base)
        if not os.path.isdir(packages_dir):
            raise PlanError(f"otp_release_packages is {packages!r}, but {packages_dir} is not a directory")
        names = {h.name for h in inputs if isinstance(h.name, str) and h.name}
        tarballs = {}
        if len(names) == 1:
            name = next(iter(names))
            prefix = f"{name}-"
            for entry in sorted(os.listdir(packages_dir)):
                path = os.path.join(packages_dir, entry)
                vsn = entry[len(prefix):-len(TARBALL_SUFFIX)]
                if entry.startswith(prefix) and entry.endswith(TARBALL_SUFFIX) and vsn and os.path.isfile(path):
                    tarballs[vsn] = path
        build = settings["otp_release_build_dir"]
        if isinstance(build, str) and build:
            build_dir = self._path(build, base)
        else:
            build_dir = os.path.join(packages_dir, ".erlang-otp")
        overrides = settings["otp_release_appup_overrides"]
        overrides_dir = None
        if isinstance(overrides, str) and overrides:
            overrides_dir = self._path(overrides, base)
            if not os.path.isdir(overrides_dir):
                raise PlanError(f"otp_release_appup_overrides is {overrides!r}, but {overrides_dir} is not a directory")
        return {
            "packages_dir": packages_dir,
            "tarballs": tarballs,
            "build_dir": build_dir,
            "overrides_dir": overrides_dir,
        }

    # -- phases ---------------------------------------------------------------------------------

    def _packages(self, args: dict, task_vars: dict) -> dict:
        inputs, settings, errors = self._read(args, task_vars)
        if errors:
            raise PlanErrors(errors)
        requests = package_requests(inputs, settings["tarballs"], settings["build_dir"], settings["overrides_dir"])
        return {"requests": [r.to_dict() for r in requests], "build_dir": settings["build_dir"]}

    def _plan(self, args: dict, task_vars: dict) -> dict:
        inputs, settings, errors = self._read(args, task_vars)
        built = self._built(args["built"])
        try:
            plan = decide(
                inputs,
                settings["tarballs"],
                built,
                serial=settings["otp_release_serial"],
                rolling_serial=settings["otp_release_rolling_serial"],
                max_fail_percentage=settings["otp_release_max_fail_percentage"],
                check_mode=bool(self._task.check_mode),
                started=round(time.time(), 3),
            )
        except PlanErrors as exc:
            raise PlanErrors(errors + exc.errors, exc.lines) from None
        if errors:
            raise PlanErrors(errors, plan["lines"])
        return {"plan": plan}

    @staticmethod
    def _built(results: list) -> dict:
        """The results of the looped erlang.otp.relup task, by the version each package installs."""
        built = {}
        for index, item in enumerate(results or []):
            if not isinstance(item, Mapping) or item.get("skipped"):
                continue
            if item.get("failed"):
                raise PlanError(f"built[{index}]: the package build failed: {item.get('msg')}")
            vsn = item.get("vsn")
            if not isinstance(vsn, str) or not isinstance(item.get("upgrades"), Mapping):
                raise PlanError(
                    f"built[{index}]: not an erlang.otp.relup result (no vsn or upgrades); pass the results "
                    "of the relup loop"
                )
            built[str(vsn)] = {
                "dest": _plain(item.get("dest")),
                "checksum": _plain(item.get("checksum")),
                "upgrades": _plain(item.get("upgrades")),
                "hot_from": _plain(item.get("hot_from") or []),
            }
        return built

    def _localhost(self, task_vars: dict, key: str):
        return self._fact(self._hostvars(task_vars), "localhost", key)

    def _stored_plan(self, task_vars: dict) -> dict:
        plan = self._localhost(task_vars, PLAN_VAR)
        if not isinstance(plan, dict) or not isinstance(plan.get("hosts"), dict):
            raise PlanError(
                f"hostvars['localhost'].{PLAN_VAR} is {type(plan).__name__ if plan is not None else 'not set'}: "
                "run the plan phase first (tasks_from: plan)"
            )
        return plan

    def _gate(self, task_vars: dict) -> dict:
        hostvars = self._hostvars(task_vars)
        plan = self._stored_plan(task_vars)
        batch = self._localhost(task_vars, BATCH_VAR)
        if not isinstance(batch, list) or not batch:
            raise PlanError(f"hostvars['localhost'].{BATCH_VAR} is {batch!r}: the batch snapshot was not taken")
        outcomes = {host: self._fact(hostvars, host, OUTCOME_VAR) for host in batch}
        kind, number = "hot", None
        for kind_name, serial_key in (("hot", "serial"), ("rolling", "rolling_serial")):
            order = plan.get(kind_name) or []
            if batch[0] in order:
                kind = kind_name
                for index, members in enumerate(batches(order, plan.get(serial_key))):
                    if batch[0] in members:
                        number = index + 1
                break
        gate = batch_gate(batch, outcomes, plan.get("max_fail_percentage", 0), number=number)
        gate["kind"] = kind
        return {"gate": gate}

    def _summary(self, task_vars: dict) -> dict:
        hostvars = self._hostvars(task_vars)
        plan = self._stored_plan(task_vars)
        stopped = self._localhost(task_vars, STOPPED_VAR)
        outcomes = {host: self._fact(hostvars, host, OUTCOME_VAR) for host in plan["hosts"]}
        started = plan.get("started")
        finished = time.time()
        result = summary(
            plan,
            outcomes,
            stopped if isinstance(stopped, dict) else None,
            started if isinstance(started, (int, float)) else finished,
            finished,
        )
        # "failed" is Ansible's own result key (a bool): a list there would fail the task
        result["failed_hosts"] = result.pop("failed")
        return result


def _default(values: dict, key: str):
    return DEFAULTS[key] if _unset(values[key]) else values[key]
