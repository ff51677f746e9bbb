# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin in front of the erlang.otp.release module: push ``package`` from the controller.

Documented in ``plugins/modules/release.py``. When ``package`` is a controller path (the default,
``remote_src: false``) it is found like any file of a role or playbook (``files/`` search path,
vault-decrypted), its checksum is checked against ``package_checksum`` on the controller, and it
is copied into the task's temporary directory on the node, unless the node already keeps an
identical copy in its staging directory (looked up with one shell command, ``sha256sum``, not a
module run). The module then runs with ``package`` pointing at the
copy, ``remote_src: true`` and the controller's SHA-256 as ``package_checksum``, so the module
verifies the transfer before unpacking anything.
"""
from __future__ import annotations

import hashlib
import posixpath
import shlex

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.erlang.otp.plugins.module_utils._release_state import ReleaseStateError, parse_checksum


def _digests(path: str, algorithms: tuple) -> dict:
    hashes = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for digest in hashes.values():
                digest.update(block)
    return {a: h.hexdigest() for a, h in hashes.items()}


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        package = args.get("package")
        try:
            remote_src = boolean(args.get("remote_src", False), strict=True)
        except TypeError as exc:
            return {**result, "failed": True, "msg": f"remote_src: {exc}"}
        try:
            copied = None
            if package and not remote_src:
                failed, copied = self._push(args, str(package))
                if failed is not None:
                    result.update(failed)
                    return result
            result.update(self._execute_module("erlang.otp.release", module_args=args, task_vars=task_vars))
            if copied is not None:
                result["package_copied"] = copied
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _push(self, args: dict, package: str) -> tuple:
        """Copy the package to the node (or find it staged there); rewrite ``args`` for the module.

        ``(failure result or None, whether the package was copied)``."""
        try:
            local = self._find_needle("files", package)
        except AnsibleError as exc:
            return {"failed": True, "changed": False, "phase_failed": "unpack", "msg": to_native(exc)}, False
        wanted = args.get("package_checksum")
        try:
            algorithm, expected = parse_checksum(wanted) if wanted else ("sha256", None)
        except ReleaseStateError as exc:
            return {"failed": True, "changed": False, "phase_failed": "unpack", "msg": str(exc)}, False
        digests = _digests(local, tuple({"sha256", algorithm}))
        if expected is not None and digests[algorithm] != expected:
            return {
                "failed": True, "changed": False, "phase_failed": "unpack",
                "msg": f"package {local}: {algorithm} checksum is {digests[algorithm]}, expected {expected}; "
                       "nothing was copied or unpacked",
            }, False
        staged = self._staged_path(args)
        if staged is not None and self._staged_sha256(staged) == digests["sha256"]:
            args.update(package=staged, remote_src=True, package_checksum=f"sha256:{digests['sha256']}")
            return None, False
        tmpdir = self._connection._shell.tmpdir
        remote = self._connection._shell.join_path(tmpdir, "package.tar.gz")
        self._transfer_file(local, remote)
        self._fixup_perms2((tmpdir, remote))
        args.update(package=remote, remote_src=True, package_checksum=f"sha256:{digests['sha256']}")
        return None, True

    def _staged_sha256(self, path: str) -> str | None:
        """The SHA-256 of the staged copy on the node, or None (absent, unreadable, no tool for it).

        One shell command instead of the ``stat`` module: a Python start on the node costs more
        than the whole check. The module verifies the checksum again before it uses the copy."""
        quoted = shlex.quote(path)
        cmd = f"if [ -f {quoted} ]; then sha256sum {quoted} 2>/dev/null || shasum -a 256 {quoted} 2>/dev/null; fi"
        try:
            res = self._low_level_execute_command(cmd, sudoable=True)
        except AnsibleError:
            return None
        words = to_native(res.get("stdout", "")).split()
        if res.get("rc") != 0 or not words or len(words[0]) != 64:
            return None
        return words[0].lower()

    @staticmethod
    def _staged_path(args: dict) -> str | None:
        root = args.get("root")
        version = args.get("version")
        if not root or not version or "/" in str(version):
            return None
        staging = str(args.get("staging_dir") or posixpath.join(str(root), ".erlang-otp"))
        if not staging.startswith("/"):
            return None  # "~" or relative: only the node can resolve it; just transfer
        return posixpath.join(staging, f"{version}.tar.gz")
