#!/usr/bin/python
# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: release_info
short_description: Facts about an Erlang/Elixir release node and whether it can take a hot upgrade
version_added: 0.1.0
description:
  - Reads the release installed under O(root) and asks its running node, through a hidden control
    node, what it really runs. It reports the running and permanent versions, every release known
    to C(release_handler) with its status, the ERTS running and bundled, the OTP libraries bundled,
    whether C(sasl), C(release_handler) and C(heart) run, and whether C(releases/RELEASES) exists.
  - Reports RV(drift), the loaded modules whose code differs from the C(.beam) files of the running
    release. Also reports RV(hot_upgrade_possible), with the reasons when the answer is no.
  - With O(manifest=true) it returns a RV(manifest) of the running release. The manifest lists the
    applications, their versions and appups, and the MD5 and upgrade-relevant facts of every module.
    M(erlang.otp.appup) can build appups from it without the old release tarball.
  - When the node is down or cannot be reached, the module still succeeds. It returns
    RV(reachable=false), the reason in RV(unreachable_reason), and the facts it can read from the
    files. Set O(require_running=true) to fail instead.
  - The node name, name type and cookie are found in this order. First the O(node) and O(cookie)
    options. Then the command line of the VM running from O(root). Then the release files (relx
    C(vm.args), with C(-args_file) and C(.src) templates, or mix C(releases/<vsn>/env.sh) and
    C(releases/COOKIE)). Last, the service user's C(~/.erlang.cookie). Distribution flags
    (C(-proto_dist), C(-epmd_module), C(-erl_epmd_port), C(-ssl_dist_optfile)) and the epmd port
    are taken from the same places.
  - The cookie is sent to the control node on its standard input. It never appears on a command
    line, in the environment of a process, in a log or in the result.
options:
  timeout:
    description:
      - Seconds allowed for each call on the node. Connecting is allowed at most 10 seconds of it.
    type: float
    default: 30
  manifest:
    description:
      - Return RV(manifest), the manifest of the running release read from its files.
      - It holds every module of the release and can be large, for example 130 kB of JSON for a
        small Elixir release.
    type: bool
    default: false
  drift:
    description:
      - Compare the MD5 of every module loaded on the node with the C(.beam) files of the running
        release, including the consolidated protocols of mix releases, and return the differences in
        RV(drift).
    type: bool
    default: true
  require_running:
    description:
      - Fail when the node cannot be reached, instead of returning RV(reachable=false).
    type: bool
    default: false
extends_documentation_fragment:
  - erlang.otp.node
  - erlang.otp.attributes
  - erlang.otp.attributes.INFO_MODULE
attributes:
  platform:
    platforms: posix
notes:
  - Runs on the node. It starts the release's own C(erts-<vsn>/bin/escript), or the system
    C(escript) when the release bundles no ERTS. The control node is hidden and named
    C(erlang_otp_ctl_<os pid>). It only connects out, registers nothing with epmd and never reads or
    creates C(~/.erlang.cookie) for the user running the module.
  - Run it as the user that runs the node, or as root, so that the node's command line and the
    cookie files can be read.
  - The running version comes from C(release_handler:which_releases/0). It is the V(current)
    release, or else the V(permanent) one. C(init:script_id/0) is not used, because it keeps
    reporting the boot-time release after a hot upgrade.
seealso:
  - module: erlang.otp.appup
author:
  - erlang.otp contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the facts of the shop release
  erlang.otp.release_info:
    root: /opt/shop
  register: shop_info

- name: Show what runs
  ansible.builtin.debug:
    msg: "{{ shop_info.node }} runs {{ shop_info.running_version }} (permanent {{ shop_info.permanent_version }})"

- name: Stop when the node cannot take a hot upgrade
  ansible.builtin.assert:
    that: shop_info.hot_upgrade_possible
    fail_msg: "{{ shop_info.hot_upgrade_reasons | join('; ') }}"

- name: Collect the manifest of the running release for appup generation on the controller
  erlang.otp.release_info:
    root: /opt/shop
    name: shop
    node: shop@db1.example.com
    cookie: "{{ vault_shop_cookie }}"
    name_type: name
    manifest: true
  register: shop_facts

- name: Fail when the node is down
  erlang.otp.release_info:
    root: /opt/shop
    require_running: true
    drift: false
"""

RETURN = r"""
reachable:
  description: Whether the node answered.
  returned: always
  type: bool
  sample: true
unreachable_reason:
  description:
    - Why the node could not be reached, for example because it is not running or the cookie is
      wrong. It never contains the cookie.
  returned: when RV(reachable) is false
  type: str
  sample: >-
    node shop@web1 is not reachable from web1: epmd (port 4369) on its host knows no node named
    shop: the node is not running, or it registered with another epmd (ERL_EPMD_PORT)
root:
  description: The release root.
  returned: always
  type: str
  sample: /opt/shop
name:
  description: The release name.
  returned: always
  type: str
  sample: shop
node:
  description:
    - The node name. It is the full name when the node answered, otherwise as discovered, possibly
      without C(@host).
  returned: always
  type: str
  sample: shop@web1
name_type:
  description: V(name) for long names, V(sname) for short names.
  returned: always
  type: str
  sample: sname
discovery:
  description:
    - Where the node name, name type, cookie, distribution flags and epmd port came from, and what
      could not be used. It never contains the cookie itself.
  returned: always
  type: dict
  sample:
    source: {name: release files, node: command line of pid 4242, cookie: command line of pid 4242}
    dist_args: []
    epmd_port: null
    os_pid: 4242
    problems: []
running_version:
  description:
    - The version the node runs, the V(current) release or else the V(permanent) one.
    - V(null) when the node is not reachable.
  returned: always
  type: str
  sample: 1.1.0
permanent_version:
  description:
    - The V(permanent) release. It comes from the node, or when the node is down from
      C(releases/RELEASES) and else from C(releases/start_erl.data).
  returned: always
  type: str
  sample: 1.0.0
boot_version:
  description:
    - The version a restart of the node would boot. For relx releases it is the version baked into
      C(bin/<name>), and C(releases/start_erl.data) otherwise.
  returned: always
  type: str
  sample: 1.0.0
releases:
  description:
    - Every release C(release_handler) knows, from the node when it is reachable, else from
      C(releases/RELEASES). A release whose status is V(current) is stored on disk as V(unpacked).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Release name.
      type: str
    version:
      description: Release version.
      type: str
    status:
      description: V(current), V(permanent), V(old), V(unpacked) or V(tmp_current).
      type: str
    applications:
      description: The C(app-vsn) strings of the release.
      type: list
      elements: str
  sample: [{name: shop, version: 1.0.0, status: permanent, applications: [kernel-8.5.3, shop-1.0.0]}]
releases_source:
  description: V(node) or V(files), where RV(releases) came from. V(none) when there is no C(RELEASES) file and no node.
  returned: always
  type: str
  sample: node
releases_file:
  description: Whether C(releases/RELEASES) exists. Mix releases ship none.
  returned: always
  type: bool
  sample: true
erts:
  description: ERTS versions.
  returned: always
  type: dict
  contains:
    running:
      description: C(erlang:system_info(version)) of the node, V(null) when not reachable.
      type: str
    release:
      description: The ERTS version the running (or, when down, the permanent) release names.
      type: str
    bundled:
      description: Versions of the C(erts-<vsn>) directories under the root.
      type: list
      elements: str
  sample: {running: 13.1.5, release: 13.1.5, bundled: [13.1.5]}
otp_release:
  description: The OTP release of the node, for example V(25). V(null) when the node is not reachable.
  returned: always
  type: str
  sample: "25"
otp_libs_bundled:
  description: Whether every application of the release, kernel and stdlib included, is under C(lib/).
  returned: always
  type: bool
  sample: true
sasl:
  description: Whether C(sasl) is part of the release, and whether it runs on the node (V(null) when not reachable).
  returned: always
  type: dict
  sample: {in_release: true, running: true}
release_handler:
  description: Whether C(release_handler) runs on the node. V(null) when the node is not reachable.
  returned: always
  type: bool
  sample: true
heart:
  description: Whether C(heart) runs on the node. V(null) when the node is not reachable.
  returned: always
  type: bool
  sample: false
os_pid:
  description: OS process id of the node's VM. V(null) when it is unknown.
  returned: always
  type: int
  sample: 4242
uptime_seconds:
  description: Seconds since the VM started, or since the last C(init:restart()). V(null) when not reachable.
  returned: always
  type: float
  sample: 5123.4
applications:
  description: Applications running on the node with their versions. Empty when not reachable.
  returned: always
  type: dict
  sample: {kernel: 8.5.3, stdlib: "4.2", sasl: "4.2", shop: 1.0.0}
hot_upgrade_possible:
  description:
    - Whether the node side allows a hot upgrade. The node must answer and run C(release_handler).
      C(RELEASES) must exist. The running release must have its files, its ERTS and its OTP
      libraries under the root. The loaded code must match those files (when O(drift) is on).
    - The package side is judged when the upgrade is planned, not here. It checks the relup entry
      for the running version, the absence of emulator restarts, and unchanged ERTS, kernel, stdlib
      and sasl.
  returned: always
  type: bool
  sample: false
hot_upgrade_reasons:
  description: Why RV(hot_upgrade_possible) is false, one sentence each. Empty when it is true.
  returned: always
  type: list
  elements: str
  sample: ["releases/RELEASES is missing (mix releases ship none): create it and restart release_handler first"]
drift_checked:
  description: Whether RV(drift) was computed, which needs O(drift=true) and a reachable node.
  returned: always
  type: bool
  sample: true
drift:
  description:
    - Loaded modules whose MD5 differs from the C(.beam) file of the running release that holds
      them.
    - A module of the release that is not loaded is not drift.
  returned: always
  type: list
  elements: dict
  contains:
    module:
      description: Module name.
      type: str
    application:
      description: The application of the release that holds the module, or C(consolidated).
      type: str
    loaded_md5:
      description: MD5 of the loaded code, in hex.
      type: str
    file_md5:
      description: C(beam_lib:md5/1) of the release's file, in hex.
      type: str
    loaded_from:
      description: The file the node loaded the module from.
      type: str
    file:
      description: The release's file, relative to the root.
      type: str
  sample:
    - module: shop_price
      application: shop
      loaded_md5: 5f0c6b1f0d1e4e7a9a7c3e2f1b0a9d8c
      file_md5: 9a1b2c3d4e5f60718293a4b5c6d7e8f9
      loaded_from: /tmp/shop_price.beam
      file: lib/shop-1.0.0/ebin/shop_price.beam
relup:
  description:
    - The relup of the running release (or, when the node is down, the permanent one), read from
      C(releases/<version>/relup) under O(root). V(null) when the release has no relup.
    - RV(relup.up) holds an entry for each version the release can be upgraded from, and
      RV(relup.down) one for each version it can be downgraded to. Each says whether its script
      restarts the emulator (C(restart_new_emulator) or C(restart_emulator)), which makes that
      change a restart.
    - A relup that cannot be read gives a warning and V(null).
  returned: always
  type: dict
  contains:
    up:
      description: Versions it can be upgraded from, each with C(restarts_emulator).
      type: dict
    down:
      description: Versions it can be downgraded to, each with C(restarts_emulator).
      type: dict
  sample: {up: {1.0.0: {restarts_emulator: false}}, down: {1.0.0: {restarts_emulator: false}}}
manifest:
  description:
    - The manifest of the running release (or, when the node is down, the permanent one), read
      from its files. It lists the C(.rel), the applications with their versions, C(.app) files and
      appups, and every module's MD5, behaviours, local imports and code_change exports.
    - M(erlang.otp.appup) and M(erlang.otp.relup) accept it in place of an old release.
  returned: when O(manifest=true)
  type: dict
  sample: {format: 1, name: shop, vsn: 1.0.0, erts_vsn: 13.1.5, layout: relx, apps: [], consolidated: {}}
"""

import os
import re
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.erlang.otp.plugins.module_utils._node_channel import (
    DiscoveryError,
    NodeCallError,
    NodeChannel,
    NodeDown,
    discover,
    module_runner,
    plain,
)
from ansible_collections.erlang.otp.plugins.module_utils._node_options import node_argument_spec
from ansible_collections.erlang.otp.plugins.module_utils._release import ReleaseError, open_release
from ansible_collections.erlang.otp.plugins.module_utils._release_state import (
    ReleaseStateError,
    read_relup,
    restart_instruction,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import TermSyntaxError, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, text

MASK = "********"


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return None


def _releases_from_file(root):
    path = os.path.join(root, "releases", "RELEASES")
    data = _read(path)
    if data is None:
        return None
    term = parse_one(data, path)
    out = []
    for entry in term if isinstance(term, list) else []:
        if isinstance(entry, tuple) and len(entry) == 6 and entry[0] == Atom("release"):
            apps = []
            for app in entry[4] if isinstance(entry[4], list) else []:
                if isinstance(app, tuple) and len(app) >= 2:
                    apps.append(f"{app[0]}-{text(app[1])}")
            out.append(
                {"name": text(entry[1]), "version": text(entry[2]), "status": str(entry[5]), "applications": apps}
            )
    return out


def _releases_from_node(which):
    out = []
    for entry in which if isinstance(which, list) else []:
        if isinstance(entry, tuple) and len(entry) == 4:
            out.append(
                {
                    "name": text(entry[0]),
                    "version": text(entry[1]),
                    "status": str(entry[3]),
                    "applications": [text(a) for a in entry[2]],
                }
            )
    return out


def _pick(releases, name, statuses):
    for status in statuses:
        for rel in releases:
            if rel["status"] == status and (name is None or rel["name"] == name):
                return rel["version"]
    return None


def _start_erl(root):
    data = _read(os.path.join(root, "releases", "start_erl.data"))
    fields = data.split() if data else []
    return (fields[0], fields[1]) if len(fields) == 2 else (None, None)


def _boot_version(root, name, layout):
    start = _start_erl(root)[1]
    if layout != "mix" and name:
        script = _read(os.path.join(root, "bin", name))
        found = re.search(r'^REL_VSN="([^"$]+)"', script or "", re.MULTILINE)
        if found:
            return found.group(1)
    return start


def _relup(root, vsn):
    """The up and down entries of ``releases/<vsn>/relup``: ``{"up": {from: {"restarts_emulator":
    bool}}, "down": {to: {...}}}``, or None when there is no such file."""
    path = os.path.join(root, "releases", vsn, "relup")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    ups, downs = read_relup(parse_one(data, path), vsn, path)
    return {
        direction: {other: {"restarts_emulator": restart_instruction(script) is not None}
                    for other, script in entries.items()}
        for direction, entries in (("up", ups), ("down", downs))
    }


def _ok(term):
    """``{ok, X}`` -> (X, None); ``{error, Y}`` -> (None, Y)."""
    if isinstance(term, tuple) and len(term) == 2 and term[0] == Atom("ok"):
        return term[1], None
    return None, term


def _drift(release, loaded):
    files = {}
    for mod, (app, module) in release.modules().items():
        files[mod] = (app.name, module.md5, module.path)
    # mix puts releases/<vsn>/consolidated first on the code path: its protocols win over lib/
    for mod, module in release.consolidated.items():
        files[mod] = ("consolidated", module.md5, module.path)
    out = []
    for entry in loaded:
        if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[1], bytes)):
            continue
        mod = str(entry[0])
        if mod not in files:
            continue
        app, md5, path = files[mod]
        got = entry[1].hex()
        if got != md5:
            where = entry[2]
            out.append(
                {
                    "module": mod,
                    "application": app,
                    "loaded_md5": got,
                    "file_md5": md5,
                    "loaded_from": os.path.normpath(where) if isinstance(where, str) and not isinstance(where, Atom)
                    else str(where),
                    "file": path,
                }
            )
    return sorted(out, key=lambda d: d["module"])


def _scrub(value, cookie):
    if not cookie:
        return value
    if isinstance(value, str):
        return value.replace(cookie, MASK)
    if isinstance(value, list):
        return [_scrub(v, cookie) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, cookie): _scrub(v, cookie) for k, v in value.items()}
    return value


def gather(module, params, seen):
    root = params["root"]
    if not os.path.isdir(root):
        raise ReleaseError(f"{root}: no such directory (root must be the release root on the node)")
    target = discover(root, params["name"], params["node"], params["cookie"], params["name_type"])
    seen["cookie"] = target.cookie
    name = target.release_name
    result = {
        "root": root,
        "name": name,
        "node": target.node,
        "name_type": target.name_type,
        "reachable": False,
        "running_version": None,
        "permanent_version": None,
        "releases": [],
        "releases_source": "none",
        "releases_file": os.path.isfile(os.path.join(root, "releases", "RELEASES")),
        "erts": {"running": None, "release": None, "bundled": []},
        "otp_release": None,
        "otp_libs_bundled": False,
        "sasl": {"in_release": False, "running": None},
        "release_handler": None,
        "heart": None,
        "os_pid": target.pid,
        "uptime_seconds": None,
        "applications": {},
        "hot_upgrade_possible": False,
        "hot_upgrade_reasons": [],
        "drift_checked": False,
        "drift": [],
    }
    reasons = result["hot_upgrade_reasons"]
    bundled = sorted(e[len("erts-"):] for e in os.listdir(root) if e.startswith("erts-"))
    result["erts"]["bundled"] = bundled

    # the node
    facts = None
    try:
        target.require()
        channel = NodeChannel(target, module_runner(module), connect_timeout=min(10.0, params["timeout"]))
        facts = channel.facts(md5=params["drift"], timeout=params["timeout"])
    except (NodeDown, DiscoveryError) as exc:
        result["unreachable_reason"] = str(exc)
        if params["require_running"]:
            raise
    if facts is not None:
        result["reachable"] = True
        result["node"] = str(facts["node"])
        target.node = result["node"]
        result["otp_release"] = plain(facts["otp_release"])
        result["erts"]["running"] = plain(facts["erts_version"])
        result["os_pid"] = int(plain(facts["os_pid"]))
        result["uptime_seconds"] = facts["uptime_ms"] / 1000.0
        result["heart"] = facts["heart"] == Atom("true")
        result["release_handler"] = facts["release_handler"] != Atom("undefined")
        apps, _err = _ok(facts["applications"])
        result["applications"] = {str(a): text(v) for a, v in (apps or [])}
        result["sasl"]["running"] = "sasl" in result["applications"]
        which, err = _ok(facts["which_releases"])
        if which is not None:
            result["releases"] = _releases_from_node(which)
            result["releases_source"] = "node"
        else:
            reasons.append(f"release_handler:which_releases() failed on the node: {plain(err)}")
        if not result["release_handler"]:
            reasons.append("release_handler does not run on the node (sasl is not started)")
        result["running_version"] = _pick(result["releases"], name, ("current", "permanent"))
        result["permanent_version"] = _pick(result["releases"], name, ("permanent",))
    else:
        reasons.append("the node cannot be reached: " + result.get("unreachable_reason", "unknown reason"))
        from_file = None
        try:
            from_file = _releases_from_file(root)
        except (TermSyntaxError, TypeError) as exc:
            module.warn(f"releases/RELEASES unreadable: {exc}")
        if from_file is not None:
            result["releases"] = from_file
            result["releases_source"] = "files"
        result["permanent_version"] = _pick(result["releases"], name, ("permanent",)) or _start_erl(root)[1]

    # the release files of the running (else permanent) version
    vsn = result["running_version"] or result["permanent_version"]
    release = None
    try:
        release = open_release(root, name, vsn)
    except (ReleaseError, TermSyntaxError, ValueError) as exc:
        reasons.append(f"the files of release {name} {vsn or ''} cannot be read: {exc}")
    layout = release.layout if release is not None else None
    result["boot_version"] = _boot_version(root, name, layout)
    result["relup"] = None
    if vsn:
        try:
            result["relup"] = _relup(root, vsn)
        except (TermSyntaxError, ReleaseStateError) as exc:
            module.warn(f"the relup of release {name} {vsn} is ignored: {exc}")
    if release is not None:
        for warning in release.warnings:
            module.warn(warning)
        result["erts"]["release"] = release.erts_vsn
        result["otp_libs_bundled"] = bool(release.otp_libs_bundled)
        result["sasl"]["in_release"] = bool(release.has_sasl)
        if not release.erts_bundled:
            reasons.append(f"ERTS {release.erts_vsn} is not bundled under the root (no erts-{release.erts_vsn}/bin)")
        if not release.otp_libs_bundled:
            missing = ", ".join(release.missing_apps) or "kernel/stdlib"
            reasons.append(f"the OTP libraries are not all bundled under lib/ (missing: {missing})")
        if not release.has_sasl:
            reasons.append("sasl is not part of the release, so release_handler cannot run")
        if result["erts"]["running"] and result["erts"]["running"] != release.erts_vsn:
            reasons.append(
                f"the node runs ERTS {result['erts']['running']}, the release names ERTS {release.erts_vsn}"
            )
        if params["manifest"]:
            result["manifest"] = release.manifest()
        if facts is not None and params["drift"]:
            result["drift"] = _drift(release, facts.get("loaded") or [])
            result["drift_checked"] = True
            if result["drift"]:
                names = ", ".join(d["module"] for d in result["drift"][:10])
                more = f" and {len(result['drift']) - 10} more" if len(result["drift"]) > 10 else ""
                reasons.append(
                    f"loaded code differs from the release files (drift) in {len(result['drift'])} "
                    f"module(s): {names}{more}"
                )
    if not result["releases_file"]:
        reasons.append(
            "releases/RELEASES is missing (mix releases ship none): create it with "
            "release_handler:create_RELEASES/4 and restart release_handler before a hot upgrade"
        )
    result["hot_upgrade_possible"] = not reasons
    result["discovery"] = {**target.facts(), "problems": list(target.problems)}
    for key in ("node", "name_type", "os_pid", "erts_dir"):
        result["discovery"].pop(key, None)
    return _scrub(result, target.cookie)


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            timeout={"type": "float", "default": 30},
            manifest={"type": "bool", "default": False},
            drift={"type": "bool", "default": True},
            require_running={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg=f"timeout={params['timeout']}: must be positive")
    seen = {}  # the discovered cookie, masked in every message
    try:
        result = gather(module, params, seen)
    except (NodeDown, NodeCallError, DiscoveryError, ReleaseError, TermSyntaxError) as exc:
        module.fail_json(msg=_scrub(str(exc), seen.get("cookie")))
    except Exception as exc:  # a bug: report it without leaking anything discovered
        module.fail_json(
            msg=_scrub(f"release_info failed: {type(exc).__name__}: {exc}", seen.get("cookie")),
            exception=_scrub(traceback.format_exc(), seen.get("cookie")),
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
