# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What release_handler keeps on a node, and the steps that take it to a wanted state.

PRIVATE to the erlang.otp collection: may change at any time.

Pure logic for the ``erlang.otp.release`` module; every function takes texts or terms and returns
values, nothing here reads a file or talks to a node.

* ``releases/RELEASES`` (:func:`parse_releases`, :func:`dump_releases`: byte for byte what
  ``release_handler`` writes, ``io:format("%% coding: utf-8~n~tp.~n")``) and
  ``releases/start_erl.data`` (:func:`parse_start_erl`, :func:`dump_start_erl`);
* the status machine of ``release_handler`` as it applies to ``which_releases/0``
  (:func:`after_unpack`, :func:`after_install`, :func:`after_make_permanent`, ...), used to predict
  the releases after a run in check mode, and the rewrite of ``RELEASES`` for a restart
  (:func:`switch_boot_release`) and for a release that shipped none (:func:`repair_releases`);
* the relup lookup of ``install_release`` (:func:`find_script`), exactly as ``release_handler``
  looks for it (up entry of the target's relup keyed by the running version, else the down entry
  of the running release's relup keyed by the target; exact string equality);
* :func:`plan`: from the facts of a node, the ordered :class:`Step` list for a wanted state and
  method, or a :class:`PlanError` that names the phase which cannot succeed;
* :func:`classify_install`: an ``install_release`` outcome as ok, failed before the point of no
  return (node untouched) or after it (node restarted on the old release);
* node settings carried from the running release into a new release directory
  (:func:`carry_vm_args`, :func:`carry_sys_config`, :func:`carry_env_sh`), with the deliberate
  differences of the new release reported instead of overwritten. Values of secret settings
  (cookies, passwords) never appear in a report.
"""

from __future__ import annotations

import re

from ansible_collections.erlang.otp.plugins.module_utils._term_text import (
    TermSyntaxError,
    dumps,
    format_term,
    parse,
    parse_one,
)
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, canonical, text

__all__ = [
    "METHODS",
    "PHASES",
    "STATES",
    "STATUSES",
    "STEP_PHASES",
    "CarryResult",
    "Facts",
    "Plan",
    "PlanError",
    "ReleaseEntry",
    "ReleaseStateError",
    "Script",
    "Step",
    "after_install",
    "after_make_permanent",
    "after_node_restart",
    "after_remove",
    "after_restart_switch",
    "after_unpack",
    "carry_env_sh",
    "carry_sys_config",
    "carry_vm_args",
    "classify_install",
    "describe_releases",
    "dump_releases",
    "dump_start_erl",
    "entry_from_rel",
    "find_script",
    "forget_paths",
    "format_call",
    "install_options",
    "libs_removed_by",
    "parse_checksum",
    "parse_releases",
    "parse_start_erl",
    "permanent_version",
    "plan",
    "read_relup",
    "releases_from_which",
    "repair_releases",
    "restart_instruction",
    "running_version",
    "status_of",
    "switch_boot_release",
]

#: Statuses ``release_handler`` uses (``current`` only in memory, ``tmp_current`` only on disk).
STATUSES = ("unpacked", "current", "permanent", "old", "tmp_current")
#: Wanted states of the ``erlang.otp.release`` module.
STATES = ("unpacked", "current", "permanent", "absent")
METHODS = ("hot", "restart")
#: Where a run can fail. ``restart`` and ``remove`` belong to the restart method and to
#: ``state=absent``; the others to the hot path.
PHASES = ("unpack", "check", "install_before_ponr", "install_after_ponr", "permanent", "restart", "remove")


class ReleaseStateError(ValueError):
    """A file or term that does not have the shape release_handler gives it; names the source."""


# ---------------------------------------------------------------------------------------------
# releases/RELEASES and releases/start_erl.data
# ---------------------------------------------------------------------------------------------


class ReleaseEntry:
    """One ``{release, Name, Vsn, ErtsVsn, [{App, AppVsn, LibDir}], Status}`` of ``RELEASES``.

    ``erts`` is None for the atom ``undefined`` (what release_handler invents for a release booted
    without a ``RELEASES`` file); ``libs`` is a list of ``(app, vsn, dir)`` strings.
    """

    __slots__ = ("erts", "libs", "name", "status", "vsn")

    def __init__(self, name: str, vsn: str, erts: str | None, libs: list, status: str) -> None:
        self.name = name
        self.vsn = vsn
        self.erts = erts
        self.libs = [tuple(lib) for lib in libs]
        self.status = status

    def with_status(self, status: str) -> ReleaseEntry:
        return ReleaseEntry(self.name, self.vsn, self.erts, self.libs, status)

    @property
    def broken(self) -> bool:
        """Invented by release_handler (no libraries, ERTS ``undefined``): unsafe to remove against."""
        return self.erts is None or not self.libs

    def to_term(self) -> tuple:
        erts = Atom("undefined") if self.erts is None else self.erts
        libs = [(Atom(app), vsn, path) for app, vsn, path in self.libs]
        return (Atom("release"), self.name, self.vsn, erts, libs, Atom(self.status))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReleaseEntry) and self.to_term() == other.to_term()

    def __hash__(self) -> int:
        return hash((self.name, self.vsn, self.status))

    def __repr__(self) -> str:
        return f"ReleaseEntry({self.name!r}, {self.vsn!r}, {self.erts!r}, {len(self.libs)} libs, {self.status!r})"


def _text_field(value: object, what: str, where: str) -> str:
    try:
        return text(value)
    except TypeError:
        raise ReleaseStateError(f"{where}: {what} is not a string: {format_term(value)}") from None


def parse_releases(data: bytes | str, source: str = "releases/RELEASES") -> list:
    """The entries of a ``RELEASES`` file; :class:`ReleaseStateError` naming ``source`` otherwise."""
    try:
        terms = parse(data, source)
    except TermSyntaxError as exc:
        raise ReleaseStateError(str(exc)) from None
    if len(terms) != 1 or not isinstance(terms[0], list):
        raise ReleaseStateError(f"{source}: expected one list of {{release, Name, Vsn, Erts, Libs, Status}} terms")
    entries = []
    seen = set()
    for term in terms[0]:
        if not (isinstance(term, tuple) and len(term) == 6 and term[0] == Atom("release")):
            raise ReleaseStateError(
                f"{source}: expected {{release, Name, Vsn, Erts, Libs, Status}}, got {format_term(term)}"
            )
        _tag, name, vsn, erts, libs, status = term
        name = _text_field(name, "the release name", source)
        vsn = _text_field(vsn, "the release version", source)
        erts_vsn = None if erts == Atom("undefined") else _text_field(erts, f"the ERTS version of {vsn}", source)
        if not isinstance(libs, list):
            raise ReleaseStateError(f"{source}: the libraries of release {vsn} are not a list")
        lib_list = []
        for lib in libs:
            if not (isinstance(lib, tuple) and len(lib) == 3 and isinstance(lib[0], Atom)):
                raise ReleaseStateError(f"{source}: release {vsn}: bad library entry {format_term(lib)}")
            lib_list.append(
                (str(lib[0]), _text_field(lib[1], f"version of {lib[0]}", source),
                 _text_field(lib[2], f"directory of {lib[0]}", source))
            )
        if not (isinstance(status, Atom) and status in [Atom(s) for s in STATUSES]):
            raise ReleaseStateError(f"{source}: release {vsn} has unknown status {format_term(status)}")
        if vsn in seen:
            raise ReleaseStateError(f"{source}: release version {vsn} is listed twice")
        seen.add(vsn)
        entries.append(ReleaseEntry(name, vsn, erts_vsn, lib_list, str(status)))
    return entries


def dump_releases(entries: list) -> str:
    """``RELEASES`` text exactly as release_handler writes it (``current`` is stored as ``unpacked``)."""
    terms = [(e.with_status("unpacked") if e.status == "current" else e).to_term() for e in entries]
    return dumps([terms], header="coding: utf-8")


def parse_start_erl(data: bytes | str, source: str = "releases/start_erl.data") -> tuple:
    """``(erts_vsn, release_vsn)`` of a ``start_erl.data``."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    fields = data.split()
    if len(fields) != 2:
        raise ReleaseStateError(f"{source}: expected '<erts vsn> <release vsn>', got {data.strip()!r}")
    return fields[0], fields[1]


def dump_start_erl(erts: str, vsn: str) -> str:
    """What ``release_handler:make_permanent/1`` writes: ``"<erts> <vsn>"`` with no newline."""
    return f"{erts} {vsn}"


def entry_from_rel(rel: object, status: str, source: str) -> ReleaseEntry:
    """The ``RELEASES`` entry release_handler makes from a ``.rel`` term (library dirs ``lib/<app>-<vsn>``)."""
    shape = "{release, {Name, Vsn}, {erts, ErtsVsn}, [AppSpec]}"
    if not (isinstance(rel, tuple) and len(rel) == 4 and rel[0] == Atom("release")):
        raise ReleaseStateError(f"{source}: expected {shape}")
    name_vsn, erts, apps = rel[1], rel[2], rel[3]
    if not (isinstance(name_vsn, tuple) and len(name_vsn) == 2 and isinstance(erts, tuple) and len(erts) == 2
            and isinstance(apps, list)):
        raise ReleaseStateError(f"{source}: expected {shape}")
    libs = []
    for app in apps:
        if not (isinstance(app, tuple) and len(app) >= 2 and isinstance(app[0], Atom)):
            raise ReleaseStateError(f"{source}: bad application entry {format_term(app)}")
        app_vsn = _text_field(app[1], f"version of {app[0]}", source)
        libs.append((str(app[0]), app_vsn, f"lib/{app[0]}-{app_vsn}"))
    return ReleaseEntry(
        _text_field(name_vsn[0], "the release name", source),
        _text_field(name_vsn[1], "the release version", source),
        _text_field(erts[1], "the ERTS version", source),
        libs,
        status,
    )


# ---------------------------------------------------------------------------------------------
# which_releases and the status machine
# ---------------------------------------------------------------------------------------------


def releases_from_which(term: object, source: str = "release_handler:which_releases()") -> list:
    """``[{Name, Vsn, ["app-vsn"], Status}]`` as dicts ``{name, version, libs, status}``."""
    if not isinstance(term, list):
        raise ReleaseStateError(f"{source}: expected a list, got {format_term(term)}")
    out = []
    for item in term:
        if not (isinstance(item, tuple) and len(item) == 4 and isinstance(item[3], Atom)):
            raise ReleaseStateError(f"{source}: unexpected entry {format_term(item)}")
        libs = item[2] if isinstance(item[2], list) else []
        out.append(
            {
                "name": _text_field(item[0], "the release name", source),
                "version": _text_field(item[1], "the release version", source),
                "libs": [_text_field(lib, "a library", source) for lib in libs],
                "status": str(item[3]),
            }
        )
    return out


def status_of(releases: list, vsn: str) -> str | None:
    for rel in releases:
        if rel["version"] == vsn:
            return rel["status"]
    return None


def running_version(releases: list) -> str | None:
    """The running release: ``current``, else ``permanent`` (never ``init:script_id()``)."""
    for wanted in ("current", "permanent"):
        for rel in releases:
            if rel["status"] == wanted:
                return rel["version"]
    return None


def permanent_version(releases: list) -> str | None:
    for rel in releases:
        if rel["status"] == "permanent":
            return rel["version"]
    return None


def _copy(releases: list) -> list:
    return [dict(r, libs=list(r.get("libs", []))) for r in releases]


def after_unpack(releases: list, name: str, vsn: str, libs: list) -> list:
    """``unpack_release``: the new release is listed first, ``unpacked``."""
    return [{"name": name, "version": vsn, "libs": list(libs), "status": "unpacked"}, *_copy(releases)]


def _set_status(releases: list, vsn: str, status: str) -> list:
    """``release_handler:set_status/3``: a permanent target keeps its status; the holder of
    ``status`` becomes ``old``."""
    out = []
    for rel in _copy(releases):
        if rel["version"] == vsn:
            if rel["status"] != "permanent":
                rel["status"] = status
        elif rel["status"] == status:
            rel["status"] = "old"
        out.append(rel)
    return out


def after_install(releases: list, vsn: str) -> list:
    return _set_status(releases, vsn, "current")


def after_make_permanent(releases: list, vsn: str) -> list:
    return _set_status(releases, vsn, "permanent")


def after_remove(releases: list, vsn: str) -> list:
    """``remove_release`` and ``set_removed``: the entry is gone."""
    return [r for r in _copy(releases) if r["version"] != vsn]


def after_node_restart(releases: list) -> list:
    """A node restart: ``current`` was never written, it reads back as ``unpacked``."""
    return [dict(r, status="unpacked") if r["status"] == "current" else r for r in _copy(releases)]


def after_restart_switch(releases: list, vsn: str) -> list:
    """The restart method: ``vsn`` boots as permanent, the previous permanent is ``old``."""
    out = []
    for rel in after_node_restart(releases):
        if rel["version"] == vsn:
            rel["status"] = "permanent"
        elif rel["status"] == "permanent":
            rel["status"] = "old"
        out.append(rel)
    return out


def switch_boot_release(entries: list, vsn: str) -> list:
    """``RELEASES`` entries for a cold switch to ``vsn``: it becomes ``permanent``, the previous
    permanent ``old``, a ``current`` ``unpacked`` (as a restart would leave it)."""
    if not any(e.vsn == vsn for e in entries):
        raise ReleaseStateError(f"releases/RELEASES: release {vsn} is not listed")
    out = []
    for entry in entries:
        if entry.vsn == vsn:
            out.append(entry.with_status("permanent"))
        elif entry.status == "permanent":
            out.append(entry.with_status("old"))
        elif entry.status in ("current", "tmp_current"):
            out.append(entry.with_status("unpacked"))
        else:
            out.append(entry)
    return out


def repair_releases(entries: list | None, releases: list, rel_terms: dict) -> tuple:
    """``RELEASES`` entries with every invented entry rebuilt from its ``.rel``.

    ``entries`` is the parsed file (None when missing), ``releases`` what ``which_releases`` says
    (statuses are taken from it, ``current`` written as ``unpacked``), ``rel_terms`` maps a version
    to ``(rel_term, source)`` of ``releases/<vsn>/<name>.rel``. Returns ``(entries, reasons)``;
    ``reasons`` is empty when nothing needs repairing. Raises :class:`ReleaseStateError` when an
    entry needs repairing but its ``.rel`` is not available.
    """
    on_disk = {e.vsn: e for e in entries or []}
    reasons = []
    if entries is None:
        reasons.append("releases/RELEASES is missing")
    out = []
    for rel in releases:
        vsn = rel["version"]
        status = "unpacked" if rel["status"] == "current" else rel["status"]
        entry = on_disk.get(vsn)
        if entry is not None and not entry.broken:
            out.append(entry.with_status(status))
            continue
        if entry is not None:
            reasons.append(f"release {vsn} is listed without libraries (invented by release_handler at boot)")
        elif entries is not None:
            reasons.append(f"release {vsn} is not listed in releases/RELEASES")
        if vsn not in rel_terms:
            raise ReleaseStateError(
                f"releases/RELEASES: cannot rebuild the entry of release {vsn}: "
                f"releases/{vsn}/{rel['name']}.rel is missing"
            )
        term, source = rel_terms[vsn]
        out.append(entry_from_rel(term, status, source))
    return out, reasons


def libs_removed_by(entries: list, vsn: str) -> tuple:
    """What ``remove_release(vsn)`` deletes: ``(lib dirs, erts vsn or None)`` (``do_remove_release``)."""
    target = next((e for e in entries if e.vsn == vsn), None)
    if target is None:
        return [], None
    others = [e for e in entries if e.vsn != vsn]
    kept = {(app, app_vsn) for e in others for app, app_vsn, _dir in e.libs}
    libs = [path for app, app_vsn, path in target.libs if (app, app_vsn) not in kept]
    erts = None if any(e.erts == target.erts for e in others) else target.erts
    return libs, erts


def forget_paths(entries: list, vsn: str, in_use: set) -> list:
    """What to delete with a leftover unpacked release before unpacking another package as ``vsn``.

    ``releases/<vsn>`` and the library directories only ``vsn`` uses (``unpack_release`` keeps
    files that exist, so stale libraries would survive the new unpack). Libraries in ``in_use``
    (directories named by any other ``.rel`` on the node) are never listed, and when another entry
    of ``RELEASES`` is an invented one (no libraries) no library is listed at all. ERTS is never
    listed.
    """
    paths = [f"releases/{vsn}"]
    if any(e.broken for e in entries if e.vsn != vsn):
        return paths
    libs, _erts = libs_removed_by(entries, vsn)
    for path in libs:
        rel = path[2:] if path.startswith("./") else path
        if rel.startswith("lib/") and rel.count("/") == 1 and rel[len("lib/"):] not in in_use:
            paths.append(rel)
    return paths


def describe_releases(releases: list) -> str:
    """One line per release, for diff output: ``<name> <version> <status>``."""
    return "".join(f"{r['name']} {r['version']} {r['status']}\n" for r in releases)


# ---------------------------------------------------------------------------------------------
# relup lookup
# ---------------------------------------------------------------------------------------------


class Script:
    """The relup script ``install_release`` would run: from which file, and its instructions."""

    __slots__ = ("direction", "file", "instructions")

    def __init__(self, direction: str, file: str, instructions: list) -> None:
        self.direction = direction  # "up" (target's relup) or "down" (running release's relup)
        self.file = file
        self.instructions = instructions

    def __repr__(self) -> str:
        return f"Script({self.direction!r}, {self.file!r}, {len(self.instructions)} instructions)"


def read_relup(term: object, vsn: str, source: str) -> tuple:
    """``(ups, downs)`` dicts (version -> instructions) of a relup for release ``vsn``.

    Like ``release_handler``: a relup whose first element is not ``vsn`` is a bad relup file.
    """
    if not (isinstance(term, tuple) and len(term) == 3 and isinstance(term[1], list) and isinstance(term[2], list)):
        raise ReleaseStateError(f"{source}: not a relup ({{Vsn, [{{UpFrom, Descr, Script}}], [...]}}): bad_relup_file")
    try:
        own = text(term[0])
    except TypeError:
        own = None
    if own != vsn:
        raise ReleaseStateError(f"{source}: the relup is for release {format_term(term[0])}, not {vsn}: bad_relup_file")
    sections = []
    for section in (term[1], term[2]):
        entries = {}
        for item in section:
            if not (isinstance(item, tuple) and len(item) == 3 and isinstance(item[2], list)):
                raise ReleaseStateError(f"{source}: bad relup entry {format_term(item)[:200]}: bad_relup_file")
            try:
                key = text(item[0])
            except TypeError:
                continue  # release_handler compares keys with ==: a non-string key never matches
            entries.setdefault(key, item[2])  # lists:keysearch: the first match wins
        sections.append(entries)
    return sections[0], sections[1]


def find_script(target: str, running: str, target_relup: object, running_relup: object) -> Script | None:
    """The script ``install_release(target)`` runs on a node running ``running``, or None
    (``no_matching_relup``). A relup argument is ``(term, source)`` or None when the file is missing."""
    if target_relup is not None:
        ups, _downs = read_relup(target_relup[0], target, target_relup[1])
        if running in ups:
            return Script("up", target_relup[1], ups[running])
    if running_relup is not None:
        _ups, downs = read_relup(running_relup[0], running, running_relup[1])
        if target in downs:
            return Script("down", running_relup[1], downs[target])
    return None


def restart_instruction(instructions: list) -> str | None:
    """``restart_new_emulator`` or ``restart_emulator`` when the script restarts the emulator."""
    for instr in instructions:
        if instr in (Atom("restart_new_emulator"), Atom("restart_emulator")):
            return str(instr)
    return None


# ---------------------------------------------------------------------------------------------
# calls, as shown to the user
# ---------------------------------------------------------------------------------------------


def format_call(module: str, function: str, args: list) -> str:
    """``module:function(Arg1, Arg2)`` in Erlang syntax."""
    return f"{module}:{function}({', '.join(format_term(a, width=10_000) for a in args)})"


def _timeout_ms(value: float | None) -> object:
    if value is None:
        return Atom("default")
    return max(1, round(value * 1000))


def install_options(update_paths: bool = True, code_change_timeout: float | None = None,
                    suspend_timeout: float | None = None) -> list:
    """The ``install_release/2`` options (timeouts in seconds; None = the ``sys`` default)."""
    opts = [(Atom("update_paths"), Atom("true" if update_paths else "false"))]
    if code_change_timeout is not None:
        opts.append((Atom("code_change_timeout"), _timeout_ms(code_change_timeout)))
    if suspend_timeout is not None:
        opts.append((Atom("suspend_timeout"), _timeout_ms(suspend_timeout)))
    opts.append((Atom("error_action"), Atom("restart")))
    return opts


_DIGEST_LENGTHS = {"sha256": 64, "sha1": 40, "sha512": 128, "md5": 32}


def parse_checksum(value: str) -> tuple:
    """``(algorithm, hex digest)`` of ``sha256:<hex>`` (also ``sha1:``, ``sha512:``, ``md5:``) or of
    a bare hex digest (the algorithm from its length)."""
    raw = str(value).strip()
    algorithm, sep, digest = raw.partition(":")
    if not sep:
        algorithm, digest = {n: a for a, n in _DIGEST_LENGTHS.items()}.get(len(raw), ""), raw
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if (algorithm not in _DIGEST_LENGTHS or len(digest) != _DIGEST_LENGTHS[algorithm]
            or any(c not in "0123456789abcdef" for c in digest)):
        raise ReleaseStateError(
            f"package_checksum {value!r}: expected sha256:<64 hex digits> (or sha1:, sha512:, md5:)"
        )
    return algorithm, digest


#: The phase a failing step belongs to.
STEP_PHASES = {
    "repair_releases": "unpack", "forget": "unpack", "stage": "unpack", "unpack": "unpack",
    "carry_settings": "unpack", "install_relup": "check", "check": "check", "install": "install_before_ponr",
    "make_permanent": "permanent", "switch_script": "permanent", "write_start_erl": "permanent",
    "stop": "restart", "write_boot_files": "restart", "start": "restart", "wait": "restart",
    "remove": "remove", "unstage": "remove",
}


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


class Step:
    """One thing the module does. ``action`` selects the code; ``call`` says it in words or Erlang."""

    __slots__ = ("action", "args", "call")

    def __init__(self, action: str, call: str, **args: object) -> None:
        self.action = action
        self.call = call
        self.args = args

    def as_dict(self, status: str = "planned", result: str | None = None) -> dict:
        out = {"action": self.action, "call": self.call, "status": status}
        if result is not None:
            out["result"] = result
        return out

    def __repr__(self) -> str:
        return f"Step({self.action!r}, {self.call!r})"


class PlanError(Exception):
    """The wanted state cannot be reached; ``phase`` is where it would fail."""

    def __init__(self, phase: str, message: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.message = message


class Facts:
    """Everything :func:`plan` needs to know about a node, gathered by the module.

    ``releases``: :func:`releases_from_which` of the node. ``package``: None, or a dict with
    ``checksum``, ``name``, ``version``, ``erts``, ``libs`` (``app-vsn`` strings), ``has_sasl``,
    ``otp_libs_bundled``, ``erts_bundled``, ``relup`` (``(term, source)`` or None) and
    ``sys_config_error``. ``unpacked_checksum``: checksum of the package this module unpacked as
    ``version`` (None when unknown). ``target_complete``: the target's ``start.boot`` and library
    directories exist. ``target_relup``/``running_relup``: ``(term, source)`` of the relups on disk,
    or None. ``target_libs_bundled``: every library of the (unpacked) target is under ``lib/``.
    ``target_sys_config_error``: why the target's ``sys.config`` would not parse, or None.
    ``script_switched``: relx only: ``bin/<name>`` equals ``bin/<name>-<version>`` (None when
    there is no ``bin/<name>-<version>``). ``start_erl``: ``(erts, vsn)`` or None.
    ``settings_changes``: how many settings the carry-over would change in the target directory as
    it is on disk; ``settings_changes_unpacked``: the same for a fresh unpack of the package (None
    = same as ``settings_changes``).
    ``repair``: None, or ``(entries, reasons)`` from :func:`repair_releases` when ``RELEASES``
    needs rebuilding; ``repair_error``: why it cannot be rebuilt. ``removed_libs_in_use``: library
    directories ``remove_release`` would delete although another release still uses them.
    ``staged_exists``: a staged copy of the package of ``version`` is kept on the node.
    ``running_package_relup``: ``(term, source)`` of the relup in a package of the *running* version
    given for a downgrade (its down entry is installed when the relup on the node lacks one).
    """

    def __init__(self, **kw: object) -> None:
        self.name = kw.pop("name")
        self.version = kw.pop("version")
        self.state = kw.pop("state")
        self.method = kw.pop("method", "hot")
        self.releases = kw.pop("releases")
        self.layout = kw.pop("layout", "relx")
        self.package = kw.pop("package", None)
        self.unpacked_checksum = kw.pop("unpacked_checksum", None)
        self.target_complete = kw.pop("target_complete", True)
        self.target_relup = kw.pop("target_relup", None)
        self.running_relup = kw.pop("running_relup", None)
        self.target_libs_bundled = kw.pop("target_libs_bundled", True)
        self.target_sys_config_error = kw.pop("target_sys_config_error", None)
        self.running_erts = kw.pop("running_erts", None)
        self.target_erts = kw.pop("target_erts", None)
        self.script_switched = kw.pop("script_switched", None)
        self.start_erl = kw.pop("start_erl", None)
        self.settings_changes = kw.pop("settings_changes", 0)
        self.settings_changes_unpacked = kw.pop("settings_changes_unpacked", None)
        self.repair = kw.pop("repair", None)
        self.repair_error = kw.pop("repair_error", None)
        self.removed_libs_in_use = kw.pop("removed_libs_in_use", [])
        self.staged_exists = kw.pop("staged_exists", False)
        self.running_package_relup = kw.pop("running_package_relup", None)
        self.service = kw.pop("service", None)
        self.install_opts = kw.pop("install_opts", None) or install_options()
        if kw:
            raise TypeError(f"unknown facts: {', '.join(sorted(kw))}")


class Plan:
    """The steps, the predicted ``which_releases`` afterwards, and warnings."""

    def __init__(self, steps: list, releases_after: list, warnings: list, running_before: str | None) -> None:
        self.steps = steps
        self.releases_after = releases_after
        self.warnings = warnings
        self.running_before = running_before

    @property
    def changes(self) -> bool:
        return bool(self.steps)

    def __repr__(self) -> str:
        return f"Plan({self.steps!r})"


def plan(f: Facts) -> Plan:
    """The steps that take the node described by ``f`` to ``f.state``; :class:`PlanError` if none can."""
    if f.state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {f.state!r}")
    if f.method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {f.method!r}")
    releases = _copy(f.releases)
    running = running_version(releases)
    if running is None:
        raise PlanError("check", "which_releases() lists no current or permanent release: is release_handler running?")
    warnings: list = []
    if f.state == "absent":
        return _plan_absent(f, releases, running, warnings)
    if f.method == "restart" and f.state == "current":
        raise PlanError(
            "check", "method=restart boots the new version, which makes it permanent: use state=permanent"
        )
    vsn = f.version
    if f.package is not None and f.package.get("version") != vsn:
        raise PlanError("unpack", f"the package holds release version {f.package.get('version')}, not {vsn}")
    steps: list = []

    # 1. unpacked ---------------------------------------------------------------------------------
    forget, unpack = _unpack_needed(f, releases, running, warnings)
    if forget:
        steps.append(Step("forget", format_call("release_handler", "set_removed", [vsn]), version=vsn))
        releases = after_remove(releases, vsn)
    if unpack:
        if not f.package.get("has_sasl", True):
            raise PlanError("unpack", f"the package of {vsn} has no sasl application: release_handler would "
                                      "stop with it")
        steps.append(Step("stage", f"copy the package to releases/{vsn}/{f.name}.tar.gz", version=vsn))
        steps.append(Step("unpack", format_call("release_handler", "unpack_release", [f"{vsn}/{f.name}"]),
                          version=vsn))
        releases = after_unpack(releases, f.name, vsn, f.package.get("libs", []))
    changes = f.settings_changes
    if unpack and f.settings_changes_unpacked is not None:
        changes = f.settings_changes_unpacked
    if vsn != running and changes:
        steps.append(Step("carry_settings",
                          f"carry {changes} node setting(s) of release {running} into releases/{vsn}",
                          version=vsn, source=running))
    if f.state != "unpacked":
        if vsn != running and not unpack and not f.target_complete:
            raise PlanError("check", f"release {vsn} is {status_of(releases, vsn)} but its files are incomplete "
                                     f"(releases/{vsn}/start.boot or a library directory is missing)")
        # 2. running --------------------------------------------------------------------------------
        if f.method == "restart" and vsn != running:
            steps.extend(_restart_steps(f, running))
            releases = after_restart_switch(releases, vsn)
        elif vsn != running:
            steps.extend(_hot_install_steps(f, running, unpack, warnings))
            releases = after_install(releases, vsn)
        # 3. permanent ------------------------------------------------------------------------------
        if f.state == "permanent" and not (f.method == "restart" and vsn != running):
            steps.extend(_permanent_steps(f, releases, running, warnings))
            releases = after_make_permanent(releases, vsn)
    if steps and f.repair is not None:
        steps.insert(0, _repair_step(f))
    elif steps and f.repair_error:
        warnings.append(f.repair_error)
    return Plan(steps, releases, warnings, running)


def _unpack_needed(f: Facts, releases: list, running: str, warnings: list) -> tuple:
    """``(forget, unpack)``: whether a leftover must be forgotten first, and whether to unpack."""
    vsn = f.version
    known = status_of(releases, vsn)
    if known is None:
        if f.package is None:
            listed = ", ".join(f"{r['version']} ({r['status']})" for r in releases) or "none"
            raise PlanError(
                "unpack",
                f"release {f.name} {vsn} is not on the node (which_releases: {listed}) and no package was given",
            )
        return False, True
    differs = (f.package is not None and f.unpacked_checksum is not None
               and f.unpacked_checksum != f.package["checksum"])
    if known == "unpacked" and vsn != running and (differs or not f.target_complete):
        if f.package is None:
            raise PlanError(
                "unpack",
                f"release {vsn} is registered as unpacked but its files are incomplete (a failed earlier "
                "attempt?); give the package to unpack it again",
            )
        why = "another package was unpacked as this version" if differs else "its files are incomplete"
        warnings.append(f"release {vsn} is unpacked from an earlier attempt ({why}): forgetting and unpacking again")
        return True, True
    if differs:
        warnings.append(
            f"release {vsn} is {known} on the node and was unpacked from a different package than the one "
            "given; the one on the node is kept"
        )
    return False, False


def _permanent_steps(f: Facts, releases: list, running: str, warnings: list) -> list:
    vsn = f.version
    steps = []
    if status_of(releases, vsn) != "permanent":
        steps.append(Step("make_permanent", format_call("release_handler", "make_permanent", [vsn]), version=vsn))
    elif f.start_erl is not None and f.start_erl[1] != vsn and vsn == running:
        erts = f.target_erts or f.start_erl[0]
        steps.append(Step("write_start_erl", f"write releases/start_erl.data: {dump_start_erl(erts, vsn)}",
                          version=vsn, erts=erts))
    if f.layout == "relx":
        if f.script_switched is None:
            warnings.append(f"bin/{f.name}-{vsn} is missing: bin/{f.name} cannot be switched to {vsn}")
        elif not f.script_switched or any(s.action == "make_permanent" for s in steps):
            steps.append(Step("switch_script", f"copy bin/{f.name}-{vsn} to bin/{f.name}", version=vsn))
    return steps


def _repair_step(f: Facts) -> Step:
    _entries, reasons = f.repair
    return Step(
        "repair_releases",
        "rewrite releases/RELEASES (" + "; ".join(reasons) + ") and restart release_handler so it reloads it",
    )


def _hot_install_steps(f: Facts, running: str, unpack: bool, warnings: list) -> list:
    vsn = f.version
    steps = []
    target_relup = f.target_relup
    if unpack and f.package is not None:
        target_relup = f.package.get("relup")  # what the unpack will put in releases/<vsn>/relup
    script = find_script(vsn, running, target_relup, f.running_relup)
    if script is None and not unpack and f.package is not None and f.package.get("relup") is not None:
        script = find_script(vsn, running, f.package["relup"], None)
        if script is not None:
            steps.append(Step("install_relup", f"write the package's relup to releases/{vsn}/relup", version=vsn,
                              into=vsn))
    if script is None and f.running_package_relup is not None:
        # a rebuilt package of the running release whose relup has the down entry
        script = find_script(vsn, running, None, f.running_package_relup)
        if script is not None:
            steps.append(Step("install_relup", f"write the relup of the given {running} package to "
                                               f"releases/{running}/relup", version=vsn, into=running))
    if script is None:
        looked = [f"releases/{vsn}/relup (up from {running})", f"releases/{running}/relup (down to {vsn})"]
        raise PlanError(
            "check",
            f"no relup script for {running} -> {vsn} (looked in {' and '.join(looked)}): a hot "
            f"{'upgrade' if unpack or f.target_relup is not None else 'install'} is impossible; "
            "build a relup for this pair or use method=restart",
        )
    restart = restart_instruction(script.instructions)
    if restart is not None:
        raise PlanError(
            "check",
            f"{script.file}: the {running} -> {vsn} script contains {restart} (ERTS or kernel/stdlib/sasl "
            "change): this is a restart-path upgrade, use method=restart",
        )
    libs_ok = f.package.get("otp_libs_bundled", True) if unpack and f.package is not None else f.target_libs_bundled
    if not libs_ok:
        raise PlanError(
            "check",
            f"release {vsn} does not bundle all its libraries (kernel, stdlib, ... under lib/): "
            "release_handler cannot hot-install it; use method=restart",
        )
    sys_error = (f.package or {}).get("sys_config_error") if unpack else f.target_sys_config_error
    if sys_error:
        raise PlanError(
            "check", f"{sys_error}: install_release would silently use an empty configuration instead",
        )
    if f.target_erts and f.running_erts and f.target_erts != f.running_erts:
        warnings.append(f"release {vsn} names ERTS {f.target_erts}, the node runs {f.running_erts}")
    steps.append(Step("check", format_call("release_handler", "check_install_release", [vsn, [Atom("purge")]]),
                      version=vsn))
    steps.append(Step("install", format_call("release_handler", "install_release", [vsn, f.install_opts]),
                      version=vsn, direction=script.direction))
    return steps


def _restart_steps(f: Facts, running: str) -> list:
    vsn = f.version
    how_stop = f"systemctl stop {f.service}" if f.service else "init:stop() on the node, wait for its OS process to end"
    how_start = f"systemctl start {f.service}" if f.service else f"bin/{f.name} daemon"
    steps = [
        Step("stop", how_stop, version=vsn),
        Step("write_boot_files",
             f"rewrite releases/RELEASES ({vsn} permanent, {running} old) and releases/start_erl.data",
             version=vsn, previous=running),
    ]
    if f.layout == "relx":
        steps.append(Step("switch_script", f"copy bin/{f.name}-{vsn} to bin/{f.name}", version=vsn))
    steps.append(Step("start", how_start, version=vsn))
    steps.append(Step("wait", f"wait until the node answers and runs {vsn}", version=vsn))
    return steps


def _plan_absent(f: Facts, releases: list, running: str, warnings: list) -> Plan:
    vsn = f.version
    known = status_of(releases, vsn)
    steps: list = []
    if known is None:
        if f.staged_exists:
            steps.append(Step("unstage", f"delete the staged package of {vsn}", version=vsn))
        return Plan(steps, releases, warnings, running)
    if vsn == running:
        raise PlanError("remove", f"release {vsn} is running on the node ({known}): install another release first")
    if known == "permanent":
        raise PlanError("remove", f"release {vsn} is permanent (the node boots it): make another release permanent "
                                  "first")
    if f.repair is not None:
        steps.append(_repair_step(f))
    elif f.repair_error:
        raise PlanError("remove", f"{f.repair_error}; remove_release would delete libraries other releases use")
    if f.removed_libs_in_use:
        raise PlanError(
            "remove",
            f"remove_release({vsn}) would delete {', '.join(f.removed_libs_in_use)}, which another release "
            "on the node still uses; releases/RELEASES does not match the releases on disk",
        )
    steps.append(Step("remove", format_call("release_handler", "remove_release", [vsn]), version=vsn))
    return Plan(steps, after_remove(releases, vsn), warnings, running)


# ---------------------------------------------------------------------------------------------
# install_release outcome
# ---------------------------------------------------------------------------------------------


def classify_install(result: object, node_restarted: bool, node_down: bool, releases_after: list | None,
                     vsn: str, previous: str) -> dict:
    """Whether ``install_release(vsn)`` worked, and if not, on which side of the point of no return.

    ``result`` is the call's reply (None when the call timed out or the connection dropped);
    ``node_restarted``/``node_down`` what the channel saw while watching the node;
    ``releases_after`` :func:`releases_from_which` read afterwards (None if the node did not answer).
    Returns ``{"ok", "phase_failed", "node_restarted", "message"}``.
    """
    shown = format_term(result, width=10_000) if result is not None else "no reply"
    running_after = running_version(releases_after) if releases_after is not None else None
    ok_reply = isinstance(result, tuple) and len(result) == 3 and result[0] == Atom("ok")
    if ok_reply and not node_restarted and running_after in (vsn, None):
        if running_after is None:
            return {"ok": True, "phase_failed": None, "node_restarted": False,
                    "message": f"install_release returned {shown}; the node did not answer afterwards"}
        return {"ok": True, "phase_failed": None, "node_restarted": False, "message": f"installed {vsn}: {shown}"}
    if result is None and running_after == vsn and status_of(releases_after, vsn) == "current":
        return {"ok": True, "phase_failed": None, "node_restarted": node_restarted,
                "message": f"the install_release call gave no reply, but the node runs {vsn} now"}
    restarted = bool(node_restarted)
    if isinstance(result, tuple) and result and result[0] in (Atom("continue_after_restart"),
                                                              Atom("restart_new_emulator"),
                                                              Atom("restart_emulator")):
        restarted = True
    if restarted:
        back = f"it runs {running_after} again" if running_after else "it did not answer afterwards"
        return {
            "ok": False, "phase_failed": "install_after_ponr", "node_restarted": True,
            "message": f"install_release({vsn}) failed after the point of no return and the node restarted "
                       f"from its permanent release ({back}): {shown}",
        }
    if node_down:
        return {
            "ok": False, "phase_failed": "install_after_ponr", "node_restarted": False,
            "message": f"the node went down during install_release({vsn}) and has not come back: {shown}",
        }
    if result is None:
        return {
            "ok": False, "phase_failed": "install_before_ponr", "node_restarted": False,
            "message": f"install_release({vsn}) gave no reply in time; release_handler may still be working "
                       f"(the node still runs {running_after or previous})",
        }
    return {
        "ok": False, "phase_failed": "install_before_ponr", "node_restarted": False,
        "message": f"install_release({vsn}) failed before the point of no return; the node is untouched and "
                   f"still runs {running_after or previous}: {shown}",
    }


# ---------------------------------------------------------------------------------------------
# Node settings carried into a new release directory
# ---------------------------------------------------------------------------------------------

_SECRET = re.compile(r"cookie|passw|secret|token|private_key|keyfile_password", re.IGNORECASE)
_MASK = "********"


def _masked(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    return _MASK if _SECRET.search(key) else value


class CarryResult:
    """The new file text (None when unchanged) and the report of what was carried or kept."""

    __slots__ = ("changes", "report", "text")

    def __init__(self, new_text: str | None, report: list) -> None:
        self.text = new_text
        self.report = report
        self.changes = sum(1 for r in report if r["action"] in ("carried", "removed"))

    def __repr__(self) -> str:
        return f"CarryResult(changes={self.changes}, report={self.report!r})"


def _decide(key: str, running: object, new: object, base: object, has_base: bool, identity: bool) -> str | None:
    """``carried``, ``removed``, ``release_differs`` or None (nothing to do) for one setting.

    ``running``/``new``/``base`` are the values (None = absent). With the base (the running
    release as shipped) it is a three-way merge: the operator's changes are carried unless the new
    release changes the same setting. Without it, node identity and distribution settings always
    come from the running release, settings the new release lacks are carried, and other
    differences keep the new release's value and are reported.
    """
    del key
    if running == new:
        return None
    if has_base:
        if running == base:
            return None  # the operator did not touch it: the new release's value stands
        if new == base:
            return "removed" if running is None else "carried"
        return "release_differs"
    if running is None:
        return None  # the new release adds it
    if identity or new is None:
        return "carried"
    return "release_differs"


def _report(file: str, key: str, action: str, running: str | None, new: str | None) -> dict:
    return {"file": file, "setting": key, "action": action,
            "running": _masked(key, running), "release": _masked(key, new)}


# -- vm.args ------------------------------------------------------------------------------------

_VM_MULTI = frozenset(("-pa", "-pz", "-args_file", "-eval", "-s", "-run", "-boot_var", "-config", "-S", "-extra"))
_VM_SINGLE = frozenset(("-setcookie", "-proto_dist", "-epmd_module", "-erl_epmd_port", "-ssl_dist_optfile",
                        "-start_epmd", "-hidden", "-connect_all", "-heart", "-mode", "-boot", "-smp",
                        "-kernel_poll", "-detached", "-noinput", "-noshell", "-dist_listen", "-shutdown_time",
                        "-code_path_cache", "-emu_type", "-emu_flavor", "-env_file", "-nostick", "-async_shell_start"))
_VM_IDENTITY_PREFIX = ("-sname/-name", "-setcookie", "-proto_dist", "-epmd_module", "-erl_epmd_port",
                       "-ssl_dist_optfile", "-ssl_dist_opt", "-start_epmd", "-hidden", "-connect_all",
                       "-dist_listen", "-kernel inet_dist", "-kernel net_ticktime", "-kernel dist_auto_connect",
                       "-kernel connect_all", "-kernel epmd_port", "-env ERL_EPMD_PORT", "-env ERL_DIST_PORT",
                       "-heart", "-env HEART_COMMAND")


def _vm_key(tokens: list, line: str) -> str:
    flag = tokens[0]
    if flag in ("-name", "-sname"):
        return "-sname/-name"
    if flag in _VM_MULTI:
        return line
    if flag == "-env" and len(tokens) >= 2:
        return f"-env {tokens[1]}"
    if flag.startswith("+"):
        return flag
    if flag in _VM_SINGLE:
        return flag
    if flag.startswith("-") and len(tokens) >= 3:
        return f"{flag} {tokens[1]}"  # application parameter: -App Key Value
    return flag


def _vm_entries(text_: str) -> dict:
    """key -> (line index, stripped line) of the last line setting it."""
    entries: dict = {}
    for index, raw in enumerate(text_.splitlines()):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        entries[_vm_key(tokens, " ".join(tokens))] = (index, " ".join(tokens))
    return entries


def _identity(key: str, prefixes: tuple) -> bool:
    """``key`` is (or refines) one of the node identity / distribution settings in ``prefixes``."""
    return any(key == p or key.startswith(p + " ") or (p.endswith("_dist") and key.startswith(p)) for p in prefixes)


def _ensure_newline(value: str) -> str:
    return value if not value or value.endswith("\n") else value + "\n"


def _carry_lines(run_e: dict, new_e: dict, base_e: dict | None, new: str, identity: tuple, file: str,
                 block: list) -> CarryResult:
    """Line-based carry-over shared by ``vm.args`` and ``env.sh``; entries map key -> (index, line)."""
    has_base = base_e is not None
    base_e = base_e or {}
    replace: dict = {}
    drop: set = set()
    append: list = []
    report = []
    for key, (_i, run_line) in run_e.items():
        new_item = new_e.get(key)
        new_line = new_item[1] if new_item else None
        base_line = base_e[key][1] if key in base_e else None
        action = _decide(key, run_line, new_line, base_line, has_base, _identity(key, identity))
        if action is None:
            continue
        report.append(_report(file, key, action, run_line, new_line))
        if action == "carried":
            if new_item is not None:
                replace[new_item[0]] = run_line
            else:
                append.append(run_line)
    for key, (_i, base_line) in base_e.items():
        if key not in run_e and key in new_e and new_e[key][1] == base_line:
            # the operator removed it and the new release did not change it
            drop.add(new_e[key][0])
            report.append(_report(file, key, "removed", None, base_line))
    if not replace and not drop and not append:
        return CarryResult(None, report)
    out = [replace.get(i, line) for i, line in enumerate(new.splitlines()) if i not in drop]
    if append:
        out.extend(block)
        out.extend(append)
    return CarryResult("\n".join(out) + "\n", report)


def carry_vm_args(running: str, new: str, base: str | None = None, file: str = "vm.args",
                  running_vsn: str = "running") -> CarryResult:
    """Carry the running release's ``vm.args`` settings into the new release's ``vm.args``.

    A setting is a flag (``+K``, ``-heart``), an application parameter (``-kernel Key``), an
    environment variable (``-env Var``) or, for repeatable flags (``-pa``, ``-args_file`` ...),
    the whole line. ``-name`` and ``-sname`` are one setting. ``base`` is the running release's
    file as shipped, when known (see :func:`_decide`).
    """
    return _carry_lines(
        _vm_entries(running), _vm_entries(new), _vm_entries(base) if base is not None else None, new,
        _VM_IDENTITY_PREFIX, file,
        [f"## node settings carried over from release {running_vsn} by erlang.otp.release"],
    )


# -- env.sh (mix releases) ------------------------------------------------------------------------

_ENV_LINE = re.compile(r"^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_ENV_IDENTITY = ("RELEASE_NODE", "RELEASE_DISTRIBUTION", "RELEASE_COOKIE", "ERL_EPMD_PORT", "ERL_DIST_PORT",
                 "ELIXIR_ERL_OPTIONS", "HEART_COMMAND")


def _env_entries(text_: str) -> dict:
    """Top-level ``[export ]NAME=value`` lines (the last one of a name wins, as in the shell)."""
    entries: dict = {}
    for index, raw in enumerate(text_.splitlines()):
        m = _ENV_LINE.match(raw.rstrip())
        if m:
            entries[m.group(1)] = (index, raw.rstrip())
    return entries


def carry_env_sh(running: str, new: str, base: str | None = None, file: str = "env.sh",
                 running_vsn: str = "running") -> CarryResult:
    """Carry the top-level variable assignments of a mix release's ``env.sh`` (``RELEASE_NODE`` ...)."""
    return _carry_lines(
        _env_entries(running), _env_entries(new), _env_entries(base) if base is not None else None, new,
        _ENV_IDENTITY, file,
        ["", f"# node settings carried over from release {running_vsn} by erlang.otp.release"],
    )


# -- sys.config ---------------------------------------------------------------------------------

_SYS_IDENTITY = ("kernel inet_dist", "kernel net_ticktime", "kernel dist_auto_connect", "kernel connect_all",
                 "kernel epmd_port", "kernel dist_listen")


def _sys_term(data: str, source: str) -> list:
    term = parse_one(data, source)
    if not isinstance(term, list):
        raise ReleaseStateError(f"{source}: a sys.config holds one list, got {format_term(term)[:200]}")
    return term


def _sys_entries(term: list, source: str) -> dict:
    """key -> value: ``("app", App, Key)`` for parameters, ``("include", Path)`` for included files."""
    entries: dict = {}
    for item in term:
        if isinstance(item, str) and not isinstance(item, Atom):
            entries[("include", str(item))] = True
        elif (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Atom)
              and isinstance(item[1], list)):
            for param in item[1]:
                if isinstance(param, tuple) and len(param) == 2 and isinstance(param[0], Atom):
                    entries[("app", str(item[0]), str(param[0]))] = param[1]
                else:
                    raise ReleaseStateError(f"{source}: application {item[0]}: bad parameter "
                                            f"{format_term(param)[:200]}")
        else:
            raise ReleaseStateError(f"{source}: bad entry {format_term(item)[:200]}")
    return entries


def _sys_key_name(key: tuple) -> str:
    return f"include {key[1]}" if key[0] == "include" else f"{key[1]} {key[2]}"


def _header(data: str) -> str:
    """The leading comment and blank lines of a term file (mix keeps ``%% RUNTIME_CONFIG=...`` there)."""
    out = []
    for line in data.splitlines(keepends=True):
        if line.strip() == "" or line.lstrip().startswith("%"):
            out.append(line)
        else:
            break
    return _ensure_newline("".join(out)) if out else ""


def _shown(value: object) -> str | None:
    if value is None:
        return None
    shown = format_term(value, width=10_000)
    return shown if len(shown) <= 200 else shown[:197] + "..."


def carry_sys_config(running: str, new: str, base: str | None = None, file: str = "sys.config",
                     running_source: str = "sys.config", new_source: str = "sys.config",
                     running_vsn: str = "running") -> CarryResult:
    """Carry the running release's ``sys.config`` parameters (per application and key)."""
    del running_vsn
    run_t = _sys_term(running, running_source)
    new_t = _sys_term(new, new_source)
    run_e = _sys_entries(run_t, running_source)
    new_e = _sys_entries(new_t, new_source)
    base_e = _sys_entries(_sys_term(base, "base sys.config"), "base sys.config") if base is not None else {}
    report = []
    set_params: dict = {}
    drop_params: set = set()
    for key, value in run_e.items():
        name = _sys_key_name(key)
        identity = _identity(name, _SYS_IDENTITY)
        action = _decide(name, canonical(value), canonical(new_e[key]) if key in new_e else None,
                         canonical(base_e[key]) if key in base_e else None, base is not None, identity)
        if action is None:
            continue
        report.append(_report(file, name, action, _shown(value) if key[0] == "app" else "included",
                              (_shown(new_e[key]) if key[0] == "app" else "included") if key in new_e else None))
        if action == "carried":
            set_params[key] = value
    if base is not None:
        for key, value in base_e.items():
            if key not in run_e and key in new_e and canonical(new_e[key]) == canonical(value):
                drop_params.add(key)
                report.append(_report(file, _sys_key_name(key), "removed", None, _shown(value)))
    if not set_params and not drop_params:
        return CarryResult(None, report)
    out = []
    done: set = set()
    for item in new_t:
        if isinstance(item, str) and not isinstance(item, Atom):
            if ("include", str(item)) not in drop_params:
                out.append(item)
            continue
        app = str(item[0])
        params = []
        for param in item[1]:
            key = ("app", app, str(param[0]))
            if key in drop_params:
                continue
            if key in set_params:
                params.append((param[0], set_params[key]))
                done.add(key)
            else:
                params.append(param)
        for key, value in set_params.items():
            if key[0] == "app" and key[1] == app and key not in done:
                params.append((Atom(key[2]), value))
                done.add(key)
        out.append((item[0], params))
    missing_apps: dict = {}
    for key, value in set_params.items():
        if key in done:
            continue
        if key[0] == "include":
            out.append(key[1])
        else:
            missing_apps.setdefault(key[1], []).append((Atom(key[2]), value))
    for app, params in missing_apps.items():
        out.append((Atom(app), params))
    return CarryResult(_header(new) + format_term(out) + ".\n", report)
