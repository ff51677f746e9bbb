#!/usr/bin/python
# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: Unpack, install, make permanent or remove a release on an Erlang/Elixir node
version_added: 0.1.0
description:
  - Brings one version of a release on a running node to the wanted O(state) through OTP's own
    C(release_handler), with each call made separately and its result checked. The node is reached
    by a hidden control node started with the release's own ERTS on the node's host, one for the
    whole task; node name, name type and cookie are found as M(erlang.otp.release_info) finds them.
  - O(method=hot) upgrades or downgrades the running node without stopping it. The version is
    unpacked (C(unpack_release)) unless it already is; a version left C(unpacked) by a failed
    earlier attempt, from another package or with files missing, is first forgotten with
    C(set_removed) and unpacked again. Before C(check_install_release) and C(install_release) the
    module makes sure a relup script for the exact pair of versions exists (the up entry of the
    target's relup, else the down entry of the running release's relup), that it does not restart
    the emulator, that the target bundles all its libraries and that its C(sys.config) parses,
    since C(release_handler) would otherwise pass the check and fail later, or silently install with
    an empty configuration. C(install_release) runs while the node is watched, so a failure after
    the point of no return, which restarts the node on its permanent release, is reported as such.
    C(make_permanent) follows for O(state=permanent), and for relx releases C(bin/<name>) is
    replaced by C(bin/<name>-<version>), since the relx start script has its version built in.
  - O(method=restart) unpacks the version next to the running one, stops the node, rewrites
    C(releases/RELEASES) and C(releases/start_erl.data) atomically (the new version permanent, the
    previous one C(old)), switches the relx start script, starts the node again (through the
    systemd unit O(service), else C(bin/<name> daemon)) and waits until it answers with the new
    version. The history of C(release_handler) is kept, so later hot upgrades and downgrades from
    this version work. If the node does not come back, the previous files are restored and the old
    version is started again.
  - O(state=absent) calls C(remove_release), which deletes the version's directory and every library
    no other release uses. The running and the permanent release are refused.
  - Node identity. Before a version is installed, the settings the operator made in the running
    release's C(vm.args), C(sys.config) and (Elixir) C(env.sh) are carried into the new release
    directory, so that a reboot, a C(heart) restart or C(init:restart/0) brings the node back under
    the same node name and cookie. When the package of the running version is still staged on the
    node (O(staging_dir)) the carry-over is a three-way merge against it. The operator's changes
    are carried unless the new release changes the same setting, which is then reported in
    RV(settings). Without it, node name, cookie and distribution settings always come from the
    running release, settings the new release lacks are carried, and other differences keep the new
    release's value and are reported.
  - Elixir releases built by C(mix release) ship no C(releases/RELEASES). Before the first change
    the module writes one from the C(.rel) files and restarts C(release_handler) so that it
    reloads it; otherwise a later downgrade, or C(remove_release), would go wrong (C(release_handler)
    invents an entry without libraries and would delete them).
  - Idempotent. A second run with the same options reports C(changed=false).
options:
  version:
    description:
      - The release version this task is about.
    type: str
    required: true
  state:
    description:
      - V(unpacked) - the version is known to C(release_handler) (unpacked, installed or permanent).
      - V(current) - the version runs on the node. Not yet permanent, so a node restart brings back
        the permanent release. Install, check the node's health, then run the module again with
        V(permanent). Not available with O(method=restart).
      - V(permanent) - the version runs on the node and is the one the node boots.
      - V(absent) - the version is not on the node.
    type: str
    choices: [unpacked, current, permanent, absent]
    default: permanent
  method:
    description:
      - V(hot) installs the version into the running node through its relup.
      - V(restart) stops the node and starts it on the new version. Needs no relup; the way across
        ERTS and OTP changes.
    type: str
    choices: [hot, restart]
    default: hot
  package:
    description:
      - The release tarball (as built by C(rebar3 tar) or C(mix release)) of O(version).
      - A path on the controller, copied to the node with its checksum, unless O(remote_src=true).
      - Needed only when the version is not on the node yet. A copy is kept in O(staging_dir),
        because C(unpack_release) deletes the tarball it unpacks.
      - For a hot downgrade whose script the node lacks (the running release was installed from a
        package without the down entry in its relup), a rebuilt package of the B(running) version
        may be given instead; the down entry of its relup is installed first.
    type: path
  package_checksum:
    description:
      - Expected checksum of O(package), as C(sha256:<hex>) (also C(sha1:), C(sha512:), C(md5:)) or a
        bare SHA-256 hex digest. A package that does not match is refused before anything is
        unpacked.
    type: str
  remote_src:
    description:
      - O(package) is a path on the node, not on the controller.
    type: bool
    default: false
  staging_dir:
    description:
      - Directory on the node for the kept package copies (C(<version>.tar.gz)), outside
        C(releases/). Default C(<root>/.erlang-otp).
    type: path
  service:
    description:
      - The systemd unit that runs the node. With O(method=restart) the node is stopped and started
        with C(systemctl). Without it, the node is stopped with C(init:stop/0) and started with
        C(bin/<name> daemon).
    type: str
  update_paths:
    description:
      - C({update_paths, true}) for C(install_release). The code paths of every application move to
        the new release's directories, not only those of changed applications (what relx does).
    type: bool
    default: true
  code_change_timeout:
    description:
      - Seconds each C(code_change) may take during C(install_release). The C(sys) default (5) when
        omitted.
    type: float
  suspend_timeout:
    description:
      - Seconds a process may take to suspend during C(install_release). A process that does not
        suspend in time is skipped, not upgraded. The default of each instruction when omitted.
    type: float
  timeout:
    description:
      - Seconds any single step may take (unpack, check, install, stopping and starting the node).
    type: float
    default: 300
extends_documentation_fragment:
  - erlang.otp.node
  - erlang.otp.attributes
  - erlang.otp.attributes.ACTION
attributes:
  action:
    support: full
    details:
      - The action plugin copies O(package) from the controller to the node, with its checksum.
  check_mode:
    support: full
    details:
      - Reads the node and the package and returns the planned steps in RV(steps); changes nothing.
  diff_mode:
    support: full
    details:
      - The releases and their statuses before and after, one C(<name> <version> <status>) line each.
  platform:
    support: full
    platforms: posix
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation
        indicates no change.
    support: full
notes:
  - The module runs on the node's host, as a user that may read the release root and talk to the
    node (usually the user the node runs as, or root; files written as root get the owner of the
    release root).
  - A release without bundled ERTS and OTP libraries cannot be hot-upgraded by C(release_handler);
    use O(method=restart).
  - Failures leave the node serving. Before the point of no return nothing changes on the node.
    After it, C(release_handler) restarts the node on its permanent release; RV(phase_failed) is
    V(install_after_ponr) and RV(node_restarted) is true; do not retry automatically.
seealso:
  - module: erlang.otp.release_info
  - module: erlang.otp.appup
author:
  - erlang.otp contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Hot-upgrade the node to 1.1.0 and make it permanent
  erlang.otp.release:
    root: /srv/shop
    version: 1.1.0
    package: files/shop-1.1.0.tar.gz
    package_checksum: "sha256:{{ lookup('ansible.builtin.file', 'files/shop-1.1.0.tar.gz.sha256') }}"

- name: Install 1.1.0 without making it permanent (a restart goes back to the old release)
  erlang.otp.release:
    root: /srv/shop
    version: 1.1.0
    state: current
    code_change_timeout: 30
  register: install

- name: Make it permanent once the node is healthy
  erlang.otp.release:
    root: /srv/shop
    version: 1.1.0
    state: permanent

- name: Downgrade to 1.0.0, still unpacked on the node
  erlang.otp.release:
    root: /srv/shop
    version: 1.0.0
    state: permanent

- name: Switch to 2.0.0 (new ERTS) by restarting the node through its systemd unit
  erlang.otp.release:
    root: /srv/shop
    version: 2.0.0
    method: restart
    service: shop.service
    package: files/shop-2.0.0.tar.gz

- name: Remove an old version
  erlang.otp.release:
    root: /srv/shop
    version: 1.0.0
    state: absent
"""

RETURN = r"""
version:
  description: The version the task is about (O(version)).
  returned: always
  type: str
  sample: 1.1.0
previous_version:
  description: The version the node ran before the task.
  returned: when the node answered
  type: str
  sample: 1.0.0
running_version:
  description: The version the node runs after the task (in check mode, the version it would run).
  returned: when the node answered
  type: str
  sample: 1.1.0
method:
  description: The method used (O(method)).
  returned: always
  type: str
  sample: hot
package_copied:
  description:
    - Whether O(package) was copied from the controller to the node. V(false) when the node already kept an
      identical copy in its staging directory (same SHA-256), which the module then used.
  returned: when O(package) is a controller path (O(remote_src=false))
  type: bool
  sample: true
steps:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description:
        - What the step is, e.g. V(unpack), V(check), V(install), V(make_permanent), V(switch_script),
          V(stop), V(start).
      type: str
      sample: unpack
    call:
      description: The C(release_handler) call in Erlang syntax, or a description of a file or service operation.
      type: str
      sample: release_handler:unpack_release("1.1.0/shop")
    status:
      description: V(planned) (check mode, or not reached after a failure), V(ok) or V(failed).
      type: str
      sample: ok
    result:
      description: The call's reply as an Erlang term, or what the step did; the error for a failed step.
      type: str
      returned: when the step ran
      sample: '{ok,"1.1.0"}'
    seconds:
      description: How long the step took.
      type: float
      returned: when the step ran
      sample: 0.42
phase_failed:
  description:
    - Where the task failed, null on success. V(unpack), V(check) (including the module's own
      pre-flight checks), V(install_before_ponr) (the node is untouched), V(install_after_ponr) (the
      node restarted, or went down, after the point of no return), V(permanent), V(restart)
      (O(method=restart) after the node was stopped) or V(remove).
  returned: always
  type: str
  sample: install_before_ponr
node_restarted:
  description: The node restarted during the task (always true after a successful O(method=restart)).
  returned: always
  type: bool
  sample: false
releases:
  description: C(release_handler:which_releases/0) before and after the task.
  returned: when the node answered
  type: dict
  contains:
    before:
      description: The releases before, one dict each with C(name), C(version), C(status) and C(libs).
      type: list
      elements: dict
      sample:
        - {name: shop, version: 1.0.0, status: permanent, libs: [kernel-8.5.3, stdlib-4.2, sasl-4.2, shop-0.1.0]}
    after:
      description: The releases after; in check mode, the prediction.
      type: list
      elements: dict
      sample:
        - {name: shop, version: 1.1.0, status: permanent, libs: [kernel-8.5.3, stdlib-4.2, sasl-4.2, shop-0.2.0]}
        - {name: shop, version: 1.0.0, status: old, libs: [kernel-8.5.3, stdlib-4.2, sasl-4.2, shop-0.1.0]}
settings:
  description:
    - Node settings of the running release compared with the target release's files.
    - Values of secret settings (cookies, passwords) are shown as C(********).
  returned: when the target differs from the running version
  type: list
  elements: dict
  contains:
    file:
      description: The target release's file.
      type: str
      sample: releases/1.1.0/vm.args
    setting:
      description: The setting (a C(vm.args) flag, C(<app> <key>) of C(sys.config), a variable of C(env.sh)).
      type: str
      sample: -sname/-name
    action:
      description:
        - V(carried) (the running value is written into the target's file), V(removed) (the operator
          removed it, so it is removed from the target too) or V(release_differs) (the target release
          sets it differently on purpose, or the module cannot tell; the target's value is kept).
      type: str
      sample: carried
    running:
      description: The running release's value, null when it has none.
      type: str
      sample: -sname shop_a
    release:
      description: The target release's value, null when it has none.
      type: str
      sample: -sname shop
staged_package:
  description: Where the copy of the package is kept on the node.
  returned: when a package was given or found staged
  type: str
  sample: /srv/shop/.erlang-otp/1.1.0.tar.gz
package_checksum:
  description: SHA-256 of the package, as C(sha256:<hex>).
  returned: when a package was given or found staged
  type: str
  sample: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
node:
  description: The node the module talked to and where its name and cookie came from (never the cookie).
  returned: always
  type: dict
  sample:
    node: shop@web1
    name_type: sname
    source: {node: command line of pid 4242, cookie: command line of pid 4242}
notes:
  description: Things the module noticed but that did not stop it (also shown as warnings).
  returned: always
  type: list
  elements: str
  sample: []
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.erlang.otp.plugins.module_utils import _release_state as rs
from ansible_collections.erlang.otp.plugins.module_utils._archive import ArchiveError, TarballSource
from ansible_collections.erlang.otp.plugins.module_utils._node_channel import (
    DiscoveryError,
    NodeCallError,
    NodeChannel,
    NodeDown,
    discover,
    module_runner,
)
from ansible_collections.erlang.otp.plugins.module_utils._node_options import node_argument_spec
from ansible_collections.erlang.otp.plugins.module_utils._release import ReleaseError, read_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import (
    TermSyntaxError,
    format_term,
    parse_one,
)
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, text

ARGUMENT_SPEC = node_argument_spec(
    version={"type": "str", "required": True},
    state={"type": "str", "choices": list(rs.STATES), "default": "permanent"},
    method={"type": "str", "choices": list(rs.METHODS), "default": "hot"},
    package={"type": "path"},
    package_checksum={"type": "str"},
    remote_src={"type": "bool", "default": False},
    staging_dir={"type": "path"},
    service={"type": "str"},
    update_paths={"type": "bool", "default": True},
    code_change_timeout={"type": "float"},
    suspend_timeout={"type": "float"},
    timeout={"type": "float", "default": 300},
)

_SETTING_FILES = ("vm.args", "vm.args.src", "sys.config", "env.sh")


class Failure(Exception):
    """Stop the run: ``fail_json`` with this message and phase."""

    def __init__(self, message: str, phase: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.phase = phase


def _want_package_member(name: str) -> bool:
    if name.startswith("releases/"):
        return True
    parts = name.split("/")
    return len(parts) == 4 and parts[0] == "lib" and parts[2] == "ebin" and parts[3].endswith((".app", ".appup"))


def _checksum(path: str, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class ReleaseTask:
    """One run of the module: gather facts, plan, execute."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.root = os.path.realpath(self.p["root"])
        self.reldir = os.path.join(self.root, "releases")
        self.vsn = self.p["version"]
        self.staging = os.path.realpath(self.p["staging_dir"] or os.path.join(self.root, ".erlang-otp"))
        self.warnings: list = []
        self.result: dict = {
            "changed": False,
            "version": self.vsn,
            "method": self.p["method"],
            "steps": [],
            "phase_failed": None,
            "node_restarted": False,
            "notes": self.warnings,
        }
        self.target = None
        self.channel = None
        self.sessions = contextlib.ExitStack()
        self.name = None
        self.layout = "relx"
        self.entries = None
        self.package = None
        self.package_path = None
        self.package_source = None
        self.releases_before: list = []
        self.running = None
        self.os_pid = None
        self.running_erts = None
        self.start_erl = None
        self.plan_facts = None
        self._backup: dict = {}
        self._lock_fd = None
        self.running_package = None
        self.carry: list = []
        self.plan = None

    # -- helpers ---------------------------------------------------------------------------------

    def rpath(self, *parts: str) -> str:
        return os.path.join(self.reldir, *parts)

    def staged_path(self, vsn: str) -> str:
        return os.path.join(self.staging, f"{vsn}.tar.gz")

    def marker_path(self, vsn: str) -> str:
        return os.path.join(self.staging, f"{vsn}.unpacked")

    def _owner(self) -> tuple:
        st = os.stat(self.root)
        return st.st_uid, st.st_gid

    def _chown(self, path: str) -> None:
        if os.geteuid() == 0:
            uid, gid = self._owner()
            os.chown(path, uid, gid)

    def write_atomic(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Write through a temporary file in the same directory and a rename (mode and owner kept)."""
        if mode is None:
            try:
                mode = os.stat(path).st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o644
        directory = os.path.dirname(path)
        fd, tmp = tempfile.mkstemp(prefix=".erlang-otp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            self._chown(tmp)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def copy_atomic(self, src: str, dest: str, mode: int | None = None) -> None:
        """Copy ``src`` over ``dest`` atomically (start scripts and settings files: small)."""
        with open(src, "rb") as fh:
            data = fh.read()
        self.write_atomic(dest, data, os.stat(src).st_mode & 0o7777 if mode is None else mode)

    def makedirs(self, path: str, mode: int) -> None:
        if not os.path.isdir(path):
            os.makedirs(path, mode)
            self._chown(path)

    def facts(self, timeout: float = 60) -> dict:
        try:
            return self.channel.facts(timeout=min(timeout, self.p["timeout"]))
        except NodeDown as exc:
            raise Failure(str(exc)) from None
        except NodeCallError as exc:
            raise Failure(str(exc)) from None

    def which(self, facts: dict) -> list:
        value = facts.get("which_releases")
        if isinstance(value, tuple) and len(value) == 2 and value[0] == Atom("ok"):
            return rs.releases_from_which(value[1])
        raise Failure(
            f"node {self.target.node}: release_handler:which_releases() failed ({format_term(value)}): "
            "is sasl part of the release?"
        )

    def rpc(self, function: str, args: list, timeout: float | None = None, module: str = "release_handler"):
        return self.channel.rpc(module, function, args, timeout=timeout or self.p["timeout"])

    # -- facts -----------------------------------------------------------------------------------

    def discover(self) -> None:
        p = self.p
        if not os.path.isdir(self.root):
            raise Failure(f"{self.root}: no such directory (root)")
        try:
            self.target = discover(self.root, p["name"], p["node"], p["cookie"], p["name_type"])
            self.target.require()
        except DiscoveryError as exc:
            raise Failure(str(exc)) from None
        self.channel = NodeChannel(self.target, module_runner(self.module))
        # every call of this task goes through one control node
        self.sessions.enter_context(self.channel.session())
        self.result["node"] = self.target.facts()

    def read_node(self) -> None:
        facts = self.facts()
        self.result["node"] = self.target.facts()
        root_dir = facts.get("root_dir")
        try:
            node_root = os.path.realpath(text(root_dir))
        except TypeError:
            node_root = None
        if node_root != self.root:
            raise Failure(f"node {self.target.node} runs from root {node_root}, not {self.root}")
        custom = facts.get("releases_dir")
        if isinstance(custom, tuple) and len(custom) == 2 and isinstance(custom[1], tuple):
            self.reldir = os.path.realpath(os.path.join(self.root, text(custom[1][1])))
        elif isinstance(facts.get("reldir_env"), str) and not isinstance(facts.get("reldir_env"), Atom):
            self.reldir = os.path.realpath(os.path.join(self.root, text(facts["reldir_env"])))
        self.os_pid = facts.get("os_pid")
        self.running_erts = facts.get("erts_version")
        self.releases_before = self.which(facts)
        self.result["releases"] = {"before": self.releases_before}
        self.running = rs.running_version(self.releases_before)
        self.result["previous_version"] = self.running
        names = {r["name"] for r in self.releases_before}
        self.name = self.p["name"] or self.target.release_name or (sorted(names)[0] if len(names) == 1 else None)
        if not self.name:
            raise Failure(
                f"{self.root}: cannot tell the release name ({', '.join(sorted(names))}): set the name option"
            )
        if names and self.name not in names:
            raise Failure(f"node {self.target.node} runs release {', '.join(sorted(names))}, not {self.name}")
        if os.path.exists(self.rpath("COOKIE")) or os.path.exists(self.rpath(self.running or "", "env.sh")):
            self.layout = "mix"
        data = _read(self.rpath("RELEASES"))
        if data is not None:
            try:
                self.entries = rs.parse_releases(data, self.rpath("RELEASES"))
            except rs.ReleaseStateError as exc:
                raise Failure(str(exc)) from None
        data = _read(self.rpath("start_erl.data"))
        self.start_erl = None
        if data is not None:
            try:
                self.start_erl = rs.parse_start_erl(data, self.rpath("start_erl.data"))
            except rs.ReleaseStateError as exc:
                self.warnings.append(str(exc))

    def read_package(self) -> None:
        p = self.p
        path = p["package"]
        if p["state"] == "absent":
            return
        if path is None and os.path.isfile(self.staged_path(self.vsn)):
            path = self.staged_path(self.vsn)
        if path is None:
            return
        if not os.path.isfile(path):
            raise Failure(f"package {path}: no such file on the node", "unpack")
        digest = _checksum(path)
        if p["package_checksum"]:
            try:
                algorithm, expected = rs.parse_checksum(p["package_checksum"])
            except rs.ReleaseStateError as exc:
                raise Failure(str(exc), "unpack") from None
            actual = digest if algorithm == "sha256" else _checksum(path, algorithm)
            if actual != expected:
                raise Failure(
                    f"package {path}: {algorithm} checksum is {actual}, expected {expected}; nothing was unpacked",
                    "unpack",
                )
        try:
            source = TarballSource(path, want=_want_package_member)
            try:
                release = read_release(source, self.name, self.vsn)
            except ReleaseError:
                if self.running is None or self.running == self.vsn or p["state"] == "unpacked":
                    raise
                release = read_release(source, self.name, self.running)
        except (ArchiveError, ReleaseError) as exc:
            raise Failure(f"package {path}: {exc}; nothing was unpacked", "unpack") from None
        except TermSyntaxError as exc:
            raise Failure(f"package {path}: {exc}; nothing was unpacked", "check") from None
        relup = None
        if release.relup is not None:
            relup = (release.relup, source.source_name(f"releases/{release.vsn}/relup"))
        if release.vsn != self.vsn:
            # a package of the running release, given for the down entry of its relup
            if relup is None:
                raise Failure(f"package {path}: holds release {release.vsn} (running) without a relup, and no "
                              f"release {self.vsn}", "check")
            self.running_package = (relup, source)
            return
        self.package_path = path
        self.package_source = source
        self.package = {
            "checksum": digest,
            "name": release.name,
            "version": release.vsn,
            "erts": release.erts_vsn,
            "libs": [f"{a.name}-{a.vsn}" for a in release.apps],
            "has_sasl": release.has_sasl,
            "otp_libs_bundled": release.otp_libs_bundled,
            "erts_bundled": release.erts_bundled,
            "relup": relup,
            "sys_config_error": None,
        }
        self.result["staged_package"] = self.staged_path(self.vsn)
        self.result["package_checksum"] = f"sha256:{digest}"

    def _entry(self, vsn: str):
        return next((e for e in self.entries or [] if e.vsn == vsn), None)

    def _lib_dir_present(self, path: str) -> bool:
        """A library of a release is in the root's ``lib/``, or, for a release without bundled OTP
        libraries, in the ``lib/`` next to the ERTS the node runs (relx's ``SYSTEM_LIB_DIR``)."""
        if os.path.isdir(path):
            return True
        erts_dir = getattr(self.target, "erts_dir", None) if self.target is not None else None
        if not erts_dir:
            return False
        system = os.path.join(os.path.dirname(os.path.normpath(erts_dir)), "lib")
        return os.path.isdir(os.path.join(system, os.path.basename(path)))

    def _target_lib_dirs(self, vsn: str) -> list:
        entry = self._entry(vsn)
        if entry is not None and entry.libs:
            return [os.path.join(self.root, d) for _a, _v, d in entry.libs]
        rel = next((r for r in self.releases_before if r["version"] == vsn), None)
        return [os.path.join(self.root, "lib", lib) for lib in (rel or {}).get("libs", [])]

    def _relup(self, vsn: str):
        path = self.rpath(vsn, "relup")
        data = _read(path)
        if data is None:
            return None
        try:
            return parse_one(data, path), path
        except TermSyntaxError as exc:
            raise Failure(f"{exc}: bad_relup_file", "check") from None

    def _rel_term(self, vsn: str):
        path = self.rpath(vsn, f"{self.name}.rel")
        data = _read(path)
        if data is None:
            return None
        try:
            return parse_one(data, path), path
        except TermSyntaxError as exc:
            self.warnings.append(str(exc))
            return None

    def _libs_in_use(self, except_vsn: str) -> set:
        """``app-vsn`` directory names named by the ``.rel`` of every other release on disk."""
        used: set = set()
        try:
            versions = os.listdir(self.reldir)
        except OSError:
            versions = []
        for vsn in versions:
            if vsn == except_vsn or not os.path.isdir(self.rpath(vsn)):
                continue
            rel = self._rel_term(vsn)
            if rel is None:
                continue
            try:
                entry = rs.entry_from_rel(rel[0], "old", rel[1])
            except rs.ReleaseStateError:
                continue
            used.update(os.path.basename(d) for _a, _v, d in entry.libs)
            used.add(f"erts-{entry.erts}")
        for entry in self.entries or []:
            if entry.vsn != except_vsn:
                used.update(os.path.basename(d) for _a, _v, d in entry.libs)
                if entry.erts:
                    used.add(f"erts-{entry.erts}")
        return used

    def _repair(self) -> tuple:
        """``(repair, repair_error)`` for :class:`rs.Facts`."""
        rel_terms = {}
        for rel in self.releases_before:
            term = self._rel_term(rel["version"])
            if term is not None:
                rel_terms[rel["version"]] = term
        try:
            entries, reasons = rs.repair_releases(self.entries, self.releases_before, rel_terms)
        except rs.ReleaseStateError as exc:
            return None, str(exc)
        if not reasons:
            return None, None
        current = [r["version"] for r in self.releases_before if r["status"] == "current"]
        if current:
            return None, (
                f"releases/RELEASES needs rebuilding ({'; '.join(reasons)}), but release {current[0]} is installed "
                "and not permanent, and restarting release_handler would forget that: make it permanent first"
            )
        return (entries, reasons), None

    def _setting_texts(self, vsn: str, fresh: bool) -> dict:
        """file name -> text of the target's setting files: on disk (unless ``fresh``), else from the package."""
        out = {}
        for fname in _SETTING_FILES:
            data = None if fresh else _read(self.rpath(vsn, fname))
            if data is None and self.package_source is not None and vsn == self.vsn:
                member = f"releases/{vsn}/{fname}"
                if self.package_source.exists(member):
                    data = self.package_source.read(member)
            if data is not None:
                out[fname] = _decode(data)
        return out

    def _base_texts(self) -> dict:
        """The running release's setting files as shipped: from its staged package, if kept."""
        staged = self.staged_path(self.running)
        if not os.path.isfile(staged):
            return {}
        members = {f"releases/{self.running}/{f}": f for f in _SETTING_FILES}
        try:
            source = TarballSource(staged, want=lambda n: n in members)
        except ArchiveError as exc:
            self.warnings.append(f"cannot read the staged package of {self.running}: {exc}")
            return {}
        return {f: _decode(source.read(m)) for m, f in members.items() if source.exists(m)}

    def compute_carry(self, fresh: bool = False) -> list:
        """``[(path, CarryResult)]`` for every setting file present in both the running and the target
        release; ``fresh``: as the files will be right after unpacking the package."""
        if self.running is None or self.vsn == self.running:
            return []
        running = {}
        for fname in _SETTING_FILES:
            data = _read(self.rpath(self.running, fname))
            if data is not None:
                running[fname] = _decode(data)
        new = self._setting_texts(self.vsn, fresh)
        base = self._base_texts()
        results = []
        for fname in _SETTING_FILES:
            if fname not in running or fname not in new:
                continue
            shown = f"releases/{self.vsn}/{fname}"
            try:
                if fname == "sys.config":
                    result = rs.carry_sys_config(
                        running[fname], new[fname], base.get(fname), file=shown,
                        running_source=self.rpath(self.running, fname), new_source=shown,
                    )
                elif fname == "env.sh":
                    result = rs.carry_env_sh(running[fname], new[fname], base.get(fname), file=shown,
                                             running_vsn=self.running)
                else:
                    result = rs.carry_vm_args(running[fname], new[fname], base.get(fname), file=shown,
                                              running_vsn=self.running)
            except (rs.ReleaseStateError, TermSyntaxError) as exc:
                self.warnings.append(f"{exc}: node settings in {fname} are not carried over")
                continue
            results.append((self.rpath(self.vsn, fname), result))
        return results

    def gather(self) -> rs.Facts:
        vsn = self.vsn
        known = rs.status_of(self.releases_before, vsn)
        target_complete = True
        target_relup = None
        target_sys_error = None
        target_erts = None
        if known is not None:
            dirs = self._target_lib_dirs(vsn)
            target_complete = os.path.isfile(self.rpath(vsn, "start.boot")) and all(
                self._lib_dir_present(d) for d in dirs
            )
            target_relup = self._relup(vsn)
            entry = self._entry(vsn)
            target_erts = entry.erts if entry is not None else None
            sys_config = self.rpath(vsn, "sys.config")
            data = _read(sys_config)
            if data is not None:
                try:
                    parse_one(data, sys_config)
                except TermSyntaxError as exc:
                    target_sys_error = str(exc)
        if target_erts is None and self.package is not None:
            target_erts = self.package["erts"]
        if target_erts is None:
            rel = self._rel_term(vsn)
            if rel is not None:
                try:
                    target_erts = rs.entry_from_rel(rel[0], "old", rel[1]).erts
                except rs.ReleaseStateError:
                    pass
        libs_bundled = target_complete and any(
            os.path.basename(d).startswith("kernel-") for d in self._target_lib_dirs(vsn)
        )
        running_relup = self._relup(self.running) if self.running else None
        script_switched = None
        if self.layout == "relx":
            versioned = _read(os.path.join(self.root, "bin", f"{self.name}-{vsn}"))
            if versioned is not None:
                script_switched = _read(os.path.join(self.root, "bin", self.name)) == versioned
            elif self.package_source is not None and self.package_source.exists(f"bin/{self.name}-{vsn}"):
                script_switched = False  # the unpack brings it
        self.carry = self.compute_carry()
        changes = sum(r.changes for _path, r in self.carry)
        fresh_changes = None
        if self.package_source is not None and known is not None:
            fresh_changes = sum(r.changes for _path, r in self.compute_carry(fresh=True))
        self.result["settings"] = [item for _path, r in self.carry for item in r.report]
        marker = _read(self.marker_path(vsn))
        repair, repair_error = self._repair()
        removed_in_use = []
        if self.p["state"] == "absent" and known is not None:
            entries = repair[0] if repair else (self.entries or [])
            libs, erts = rs.libs_removed_by(entries, vsn)
            in_use = self._libs_in_use(vsn)
            removed_in_use = [d for d in libs if os.path.basename(d) in in_use]
            if erts and f"erts-{erts}" in in_use:
                removed_in_use.append(f"erts-{erts}")
        return rs.Facts(
            name=self.name,
            version=vsn,
            state=self.p["state"],
            method=self.p["method"],
            releases=self.releases_before,
            layout=self.layout,
            package=self.package,
            unpacked_checksum=_decode(marker).strip() if marker else None,
            target_complete=target_complete,
            target_relup=target_relup,
            running_relup=running_relup,
            target_libs_bundled=libs_bundled,
            target_sys_config_error=target_sys_error,
            running_erts=self.running_erts if isinstance(self.running_erts, str) else None,
            target_erts=target_erts,
            script_switched=script_switched,
            start_erl=self.start_erl,
            settings_changes=changes,
            settings_changes_unpacked=fresh_changes,
            repair=repair,
            repair_error=repair_error,
            removed_libs_in_use=removed_in_use,
            staged_exists=os.path.isfile(self.staged_path(vsn)),
            running_package_relup=self.running_package[0] if self.running_package else None,
            service=self.p["service"],
            install_opts=rs.install_options(self.p["update_paths"], self.p["code_change_timeout"],
                                            self.p["suspend_timeout"]),
        )

    # -- steps -----------------------------------------------------------------------------------

    def step_repair_releases(self, step: rs.Step):
        entries, _reasons = self.plan_facts.repair
        self.write_atomic(self.rpath("RELEASES"), rs.dump_releases(entries).encode("utf-8"))
        self.entries = entries
        stopped = self.rpc("terminate_child", [Atom("sasl_sup"), Atom("release_handler")], 60, "supervisor")
        started = self.rpc("restart_child", [Atom("sasl_sup"), Atom("release_handler")], 60, "supervisor")
        if stopped != Atom("ok") or not (isinstance(started, tuple) and started[0] == Atom("ok")):
            raise Failure(f"restarting release_handler failed: {format_term(stopped)} {format_term(started)}", "unpack")
        return started

    def step_forget(self, step: rs.Step):
        vsn = self.vsn
        reply = self.rpc("set_removed", [vsn], 60)
        if reply != Atom("ok"):
            raise Failure(f"release_handler:set_removed({vsn}) failed: {format_term(reply)}", "unpack")
        for path in rs.forget_paths(self.entries or [], vsn, self._libs_in_use(vsn)):
            if path.startswith("releases/"):
                full = os.path.join(self.reldir, path[len("releases/"):])
            else:
                full = os.path.join(self.root, path)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
        self.entries = [e for e in self.entries or [] if e.vsn != vsn] if self.entries is not None else None
        try:
            os.unlink(self.marker_path(vsn))
        except FileNotFoundError:
            pass
        return reply

    def step_stage(self, step: rs.Step):
        vsn = self.vsn
        self.makedirs(self.staging, 0o700)
        staged = self.staged_path(vsn)
        if os.path.realpath(self.package_path) != staged:
            self.copy_atomic(self.package_path, staged, 0o600)
        self.makedirs(self.rpath(vsn), 0o755)
        self.copy_atomic(staged, self.rpath(vsn, f"{self.name}.tar.gz"), 0o644)
        return staged

    def step_unpack(self, step: rs.Step):
        vsn = self.vsn
        tarball = self.rpath(vsn, f"{self.name}.tar.gz")
        try:
            reply = self.rpc("unpack_release", [f"{vsn}/{self.name}"])
        except NodeCallError as exc:
            raise Failure(str(exc), "unpack") from None
        if not (isinstance(reply, tuple) and len(reply) == 2 and reply[0] == Atom("ok")):
            for leftover in (tarball, self.rpath(vsn, f"{self.name}.rel")):
                if os.path.exists(leftover) and rs.status_of(self._which_now(), vsn) is None:
                    os.unlink(leftover)
            raise Failure(f"release_handler:unpack_release(\"{vsn}/{self.name}\") failed: {format_term(reply)}",
                          "unpack")
        self.write_atomic(self.marker_path(vsn), (self.package["checksum"] + "\n").encode(), 0o600)
        # unpack_release copies releases/<vsn>/<name>.rel onto itself and then deletes it: put it back
        rel_member = f"releases/{vsn}/{self.name}.rel"
        rel_path = self.rpath(vsn, f"{self.name}.rel")
        if not os.path.exists(rel_path) and self.package_source.exists(rel_member):
            self.write_atomic(rel_path, self.package_source.read(rel_member), 0o644)
        data = _read(self.rpath("RELEASES"))
        if data is not None:
            self.entries = rs.parse_releases(data, self.rpath("RELEASES"))
        return reply

    def _which_now(self) -> list:
        try:
            return self.which(self.facts())
        except Failure:
            return []

    def step_carry_settings(self, step: rs.Step):
        self.carry = self.compute_carry()  # from the files now on disk
        written = []
        for path, result in self.carry:
            if result.text is not None:
                self.write_atomic(path, result.text.encode("utf-8"))
                written.append(os.path.relpath(path, self.root))
        self.result["settings"] = [item for _path, r in self.carry for item in r.report]
        return "wrote " + ", ".join(written) if written else "nothing to change"

    def step_install_relup(self, step: rs.Step):
        into = step.args["into"]
        source = self.package_source if into == self.vsn else self.running_package[1]
        dest = self.rpath(into, "relup")
        self.write_atomic(dest, source.read(f"releases/{into}/relup"), 0o644)
        return dest

    def step_check(self, step: rs.Step):
        try:
            reply = self.rpc("check_install_release", [self.vsn, [Atom("purge")]])
        except NodeCallError as exc:
            raise Failure(str(exc), "check") from None
        if isinstance(reply, tuple) and reply and reply[0] == Atom("ok"):
            return reply
        if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[1], tuple) and \
                reply[1][0] == Atom("already_installed"):
            return reply
        raise Failure(f"release_handler:check_install_release(\"{self.vsn}\", [purge]) failed; the node is "
                      f"untouched: {format_term(reply)}", "check")

    def step_install(self, step: rs.Step):
        vsn = self.vsn
        try:
            outcome = self.channel.install_release(
                vsn, self.plan_facts.install_opts, timeout=self.p["timeout"],
                settle=3, restart_wait=min(60.0, self.p["timeout"]),
            )
        except NodeDown as exc:
            raise Failure(f"{exc} (before install_release was called; the node is untouched)",
                          "install_before_ponr") from None
        result = outcome["result"]
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], tuple) and \
                result[1] and result[1][0] == Atom("already_installed"):
            return result
        try:
            after = self.which(self.facts())
        except Failure:
            after = None
        verdict = rs.classify_install(result if outcome["badrpc"] is None else None, outcome["node_restarted"],
                                      outcome["node_down"] and not outcome["node_back"], after, vsn,
                                      self.running)
        if verdict["node_restarted"]:
            self.result["node_restarted"] = True
        if not verdict["ok"]:
            if after is not None:
                self.result["releases"]["after"] = after
            raise Failure(verdict["message"], verdict["phase_failed"])
        return result if result is not None else verdict["message"]

    def step_make_permanent(self, step: rs.Step):
        try:
            reply = self.rpc("make_permanent", [self.vsn], 120)
        except NodeCallError as exc:
            raise Failure(str(exc), "permanent") from None
        if reply != Atom("ok"):
            raise Failure(f"release_handler:make_permanent(\"{self.vsn}\") failed: {format_term(reply)}", "permanent")
        return reply

    def step_switch_script(self, step: rs.Step):
        src = os.path.join(self.root, "bin", f"{self.name}-{self.vsn}")
        if not os.path.isfile(src):
            raise Failure(f"{src}: missing, bin/{self.name} cannot be switched to {self.vsn}", "permanent")
        self.copy_atomic(src, os.path.join(self.root, "bin", self.name))
        return "ok"

    def step_write_start_erl(self, step: rs.Step):
        self.write_atomic(self.rpath("start_erl.data"), rs.dump_start_erl(step.args["erts"], self.vsn).encode())
        return "ok"

    def step_remove(self, step: rs.Step):
        try:
            reply = self.rpc("remove_release", [self.vsn])
        except NodeCallError as exc:
            raise Failure(str(exc), "remove") from None
        if reply != Atom("ok"):
            raise Failure(f"release_handler:remove_release(\"{self.vsn}\") failed: {format_term(reply)}", "remove")
        self.step_unstage(step)
        return reply

    def step_unstage(self, step: rs.Step):
        for path in (self.staged_path(self.vsn), self.marker_path(self.vsn)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        return "ok"

    # restart method ------------------------------------------------------------------------------

    def _pid_alive(self, pid: str | None) -> bool:
        return bool(pid) and os.path.exists(f"/proc/{pid}")

    def _wait_gone(self, pid: str | None, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def step_stop(self, step: rs.Step):
        self._backup = {
            "RELEASES": _read(self.rpath("RELEASES")),
            "start_erl.data": _read(self.rpath("start_erl.data")),
            "script": _read(os.path.join(self.root, "bin", self.name)),
        }
        pid = self.os_pid if isinstance(self.os_pid, str) else None
        if self.p["service"]:
            rc, _out, err = self.module.run_command(["systemctl", "stop", self.p["service"]])
            if rc != 0:
                raise Failure(f"systemctl stop {self.p['service']} failed: {err.strip()}", "restart")
        else:
            try:
                self.rpc("stop", [], 30, "init")
            except (NodeCallError, NodeDown):
                pass  # the connection may drop while the node goes down
        if not self._wait_gone(pid, self.p["timeout"]):
            raise Failure(f"node {self.target.node} (OS pid {pid}) did not stop within {self.p['timeout']}s; "
                          "nothing was rewritten", "restart")
        self.result["node_restarted"] = True
        return f"stopped (OS pid {pid})"

    def step_write_boot_files(self, step: rs.Step):
        entries = self.entries
        if entries is None or not any(e.vsn == self.vsn for e in entries):
            raise Failure(f"{self.rpath('RELEASES')}: release {self.vsn} is not listed; cannot switch to it", "restart")
        entry = next(e for e in entries if e.vsn == self.vsn)
        erts = entry.erts or (self.package or {}).get("erts")
        if not erts:
            raise Failure(f"{self.rpath('RELEASES')}: release {self.vsn} names no ERTS version", "restart")
        self.write_atomic(self.rpath("RELEASES"), rs.dump_releases(rs.switch_boot_release(entries, self.vsn)).encode())
        self.write_atomic(self.rpath("start_erl.data"), rs.dump_start_erl(erts, self.vsn).encode())
        return f"{self.vsn} permanent, start_erl.data: {rs.dump_start_erl(erts, self.vsn)}"

    def _start_node(self) -> str:
        if self.p["service"]:
            rc, _out, err = self.module.run_command(["systemctl", "start", self.p["service"]])
            if rc != 0:
                raise Failure(f"systemctl start {self.p['service']} failed: {err.strip()}", "restart")
            return f"systemctl start {self.p['service']}"
        self.makedirs(self.staging, 0o700)
        log_path = os.path.join(self.staging, "start.log")
        script = os.path.join(self.root, "bin", self.name)
        # The start script's output goes to the log, so no pipe of ours stays open in the daemon
        # (run_erl detaches it into its own session); timeout(1) bounds a script that never returns.
        seconds = str(max(1, int(self.p["timeout"])))
        rc, _out, err = self.module.run_command(
            ["timeout", seconds, "/bin/sh", "-c", 'exec "$0" daemon </dev/null >>"$1" 2>&1', script, log_path],
            cwd=self.root,
        )
        self._chown(log_path)
        if rc == 124:
            raise Failure(f"{script} daemon did not return within {seconds}s (see {log_path})", "restart")
        if rc != 0:
            raise Failure(f"{script} daemon exited {rc} (see {log_path}) {err.strip()}".rstrip(), "restart")
        return f"{script} daemon"

    def step_start(self, step: rs.Step):
        return self._start_node()

    def _wait_for(self, vsn: str, timeout: float):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                facts = self.channel.facts(timeout=10)
                releases = self.which(facts)
                running = rs.running_version(releases)
                if running == vsn:
                    self.os_pid = facts.get("os_pid")
                    return releases
                last = f"it runs {running}"
            except (NodeDown, NodeCallError, Failure) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise Failure(f"node {self.target.node} did not come up with {vsn} within {timeout}s: {last}", "restart")

    def step_wait(self, step: rs.Step):
        releases = self._wait_for(self.vsn, self.p["timeout"])
        return "runs " + self.vsn + " (" + ", ".join(f"{r['version']} {r['status']}" for r in releases) + ")"

    def rollback_restart(self) -> str:
        """After a failed restart switch: put the old boot files back and start the old release."""
        if self.channel.ping(timeout=5):
            return "the node is up"
        backup = self._backup
        for fname, data in (("RELEASES", backup.get("RELEASES")), ("start_erl.data", backup.get("start_erl.data"))):
            if data is not None:
                self.write_atomic(self.rpath(fname), data)
        if backup.get("script") is not None and self.layout == "relx":
            self.write_atomic(os.path.join(self.root, "bin", self.name), backup["script"])
        try:
            self._start_node()
            self._wait_for(self.running, self.p["timeout"])
        except Failure as exc:
            return f"restoring {self.running} failed too: {exc.message}"
        return f"restored and started {self.running} again"

    # -- run -------------------------------------------------------------------------------------

    def lock(self) -> None:
        """One task per release root at a time: an exclusive ``flock`` on the root directory itself."""
        fd = os.open(self.root, os.O_RDONLY)
        self._lock_fd = fd
        deadline = time.monotonic() + self.p["timeout"]
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Failure(f"{self.root}: another erlang.otp.release task has been working on this root "
                                  f"for more than {self.p['timeout']}s") from None
                time.sleep(0.5)

    def run(self) -> None:
        module = self.module
        self.discover()
        if not module.check_mode:
            self.lock()
        self.read_node()
        self.read_package()
        self.plan_facts = self.gather()
        try:
            self.plan = rs.plan(self.plan_facts)
        except (rs.PlanError, rs.ReleaseStateError) as exc:
            phase = exc.phase if isinstance(exc, rs.PlanError) else "check"
            raise Failure(exc.message if isinstance(exc, rs.PlanError) else str(exc), phase) from None
        self.warnings.extend(self.plan.warnings)
        for warning in self.warnings:
            module.warn(warning)
        self.result["steps"] = [s.as_dict() for s in self.plan.steps]
        predicted = self.plan.releases_after
        if module.check_mode or not self.plan.steps:
            self.result["changed"] = bool(self.plan.steps)
            self.finish(predicted)
            return
        for index, step in enumerate(self.plan.steps):
            handler = getattr(self, f"step_{step.action}")
            started = time.monotonic()
            try:
                try:
                    outcome = handler(step)
                except (NodeDown, NodeCallError) as exc:
                    raise Failure(str(exc)) from None
            except Failure as exc:
                if exc.phase is None:
                    exc.phase = rs.STEP_PHASES.get(step.action)
                self.result["steps"][index] = step.as_dict("failed", exc.message)
                self.result["steps"][index]["seconds"] = round(time.monotonic() - started, 2)
                self.result["changed"] = self.result["changed"] or step.action in ("stop", "install", "forget")
                if self.result["node_restarted"] and step.action in ("write_boot_files", "switch_script", "start",
                                                                     "wait"):
                    exc.message += "; " + self.rollback_restart()
                raise
            self.result["changed"] = True
            shown = outcome if isinstance(outcome, str) else format_term(outcome, width=10_000)
            self.result["steps"][index] = step.as_dict("ok", shown)
            self.result["steps"][index]["seconds"] = round(time.monotonic() - started, 2)
        self.finish(None)

    def finish(self, predicted: list | None) -> None:
        if predicted is None:
            predicted = self.which(self.facts())
        self.result["releases"]["after"] = predicted
        self.result["running_version"] = rs.running_version(predicted)
        if self.module._diff:
            self.result["diff"] = {
                "before_header": f"{self.root}: release_handler:which_releases()",
                "after_header": f"{self.root}: release_handler:which_releases()",
                "before": rs.describe_releases(self.releases_before),
                "after": rs.describe_releases(predicted),
            }


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    task = ReleaseTask(module)
    with task.sessions:  # exit_json and fail_json raise SystemExit: the control node stops on the way out
        _run(module, task)


def _run(module: AnsibleModule, task: ReleaseTask) -> None:
    try:
        task.run()
    except Failure as exc:
        result = dict(task.result)
        result["phase_failed"] = exc.phase
        if task.releases_before and "after" not in result.get("releases", {}):
            try:
                result["releases"]["after"] = task.which(task.facts(timeout=15))
            except Failure:
                pass
        if "after" in result.get("releases", {}):
            result["running_version"] = rs.running_version(result["releases"]["after"])
        module.fail_json(msg=exc.message, **result)
    except Exception as exc:  # a bug: report it with the traceback, and what was done so far
        module.fail_json(msg=f"unexpected error: {exc}", exception=traceback.format_exc(), **task.result)
    module.exit_json(**task.result)


if __name__ == "__main__":
    main()
