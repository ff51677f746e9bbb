# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the appup and relup action plugins both read: releases, purge options, appup overrides.

PRIVATE to the erlang.otp collection: may change at any time.

:class:`AppupInputs` is mixed into an ``ActionBase`` subclass: it uses the action's loader (paths
relative to the playbook or role) and templar (override templates rendered with the task's
variables).
"""
from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible_collections.erlang.otp.plugins.module_utils._appup import PurgeOptions
from ansible_collections.erlang.otp.plugins.module_utils._appup_overrides import OverrideError, applies_to
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release, release_from_manifest
from ansible_collections.erlang.otp.plugins.module_utils._term_text import format_term, parse
from ansible_collections.erlang.otp.plugins.plugin_utils._files import read_text

try:  # ansible-core 2.19+: templates must be marked trusted before they are rendered
    from ansible.template import trust_as_template
except ImportError:  # ansible-core 2.17 and 2.18 render any string
    def trust_as_template(value):
        return value

__all__ = ["PURGE", "PURGE_SPEC", "AppupInputs", "appup_entry", "generation_summary"]

PURGE = ["brutal_purge", "soft_purge"]

PURGE_SPEC = {
    "type": "dict",
    "options": {
        "pre": {"type": "str", "choices": PURGE, "default": "brutal_purge"},
        "post": {"type": "str", "choices": PURGE, "default": "brutal_purge"},
        "modules": {"type": "dict", "default": {}},
    },
}


class AppupInputs:
    """Reading the inputs of appup generation, for an action plugin."""

    def _path(self, value: str) -> str:
        return self._loader.path_dwim(os.path.expanduser(value))

    def _open(self, item, name, what: str):
        """A release from a path (tarball or directory) or a manifest dict; ``what`` names the option."""
        if isinstance(item, dict):
            return release_from_manifest(item, f"{what} (a release manifest)")
        if not isinstance(item, str):
            raise AnsibleActionFail(f"{what}: expected a path or a release manifest, got {type(item).__name__}")
        path = self._path(item)
        if not os.path.exists(path):
            raise AnsibleActionFail(f"{what}: {path} does not exist")
        return open_release(path, name=name)

    def _overrides_dir(self, value: str | None) -> str | None:
        if not value:
            return None
        path = self._path(value)
        if not os.path.isdir(path):
            raise AnsibleActionFail(f"overrides: {path} is not a directory")
        return path

    @staticmethod
    def _purge(spec: dict | None) -> PurgeOptions:
        spec = spec or {}
        modules = {}
        for module, setting in (spec.get("modules") or {}).items():
            if not isinstance(setting, dict) or set(setting) - {"pre", "post"}:
                raise AnsibleActionFail(f"purge.modules.{module}: expected a dict with pre and/or post")
            for key, value in setting.items():
                if value not in PURGE:
                    raise AnsibleActionFail(f"purge.modules.{module}.{key}: {value!r} is not one of {PURGE}")
            modules[module] = (setting.get("pre"), setting.get("post"))
        return PurgeOptions(pre=spec.get("pre", "brutal_purge"), post=spec.get("post", "brutal_purge"), modules=modules)

    def _override(self, directory: str | None, app, task_vars: dict):
        """The override term for ``app`` (an ``AppupResult``) and the file it came from, or (None, None).

        A file whose version is not ``app.to_vsn`` is returned as (None, its path).
        """
        if not directory:
            return None, None
        plain = os.path.join(directory, f"{app.name}.appup")
        template = plain + ".j2"
        if os.path.exists(template):
            text = self._render(template, app, task_vars)
            source = template
        elif os.path.exists(plain):
            text = read_text(plain)
            source = plain
        else:
            return None, None
        terms = parse(text, source)
        if len(terms) != 1:
            raise OverrideError(f"{source}: an appup file holds exactly one term; found {len(terms)}")
        try:
            if not applies_to(terms[0], app.to_vsn, source):
                return None, source
        except OverrideError:
            raise
        except ValueError as exc:  # a regex version key Python cannot evaluate the way PCRE would
            raise OverrideError(f"{source}: {exc}") from exc
        return terms[0], source

    def _render(self, path: str, app, task_vars: dict) -> str:
        variables = dict(task_vars)
        variables.update({"app": app.name, "vsn": app.to_vsn, "from_versions": list(app.from_vsns)})
        templar = self._templar.copy_with_new_env(available_variables=variables)
        return templar.template(trust_as_template(read_text(path)))


def _texts(entries: list) -> dict:
    return {
        str(key) if isinstance(key, str) else format_term(key): [format_term(i) for i in instrs]
        for key, instrs in entries
    }


def appup_entry(app, term, path: str) -> dict:
    """The result entry of one application's appup (an ``AppupResult`` and the final term)."""
    entry = {
        "from": list(app.from_vsns),
        "to": app.to_vsn,
        "path": path,
        "warnings": list(app.warnings),
        "findings": [],
    }
    if isinstance(term, tuple) and len(term) == 3:
        entry["up"] = _texts(term[1])
        entry["down"] = _texts(term[2])
    return entry


def generation_summary(generation, apps: dict) -> dict:
    """The result keys that describe an appup generation; ``apps`` are the :func:`appup_entry` values."""
    return {
        "applications": apps,
        "added_applications": list(generation.added_apps),
        "removed_applications": list(generation.removed_apps),
        "unchanged_applications": list(generation.unchanged_apps),
        "debug_only_changes": {k: list(v) for k, v in generation.debug_only.items()},
        "warnings": list(generation.warnings),
    }
