# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a release tarball or an unpacked release root contains: the release model.

PRIVATE to the erlang.otp collection: may change at any time.

:func:`read_release` works on a *source* (see :mod:`._archive`: ``names``, ``read``, ``exists``,
``isdir``, ``source_name``) and never touches the file system itself; :func:`open_release` picks a
:class:`~._archive.TarballSource` or :class:`~._archive.DirectorySource` for a path.

Layouts understood (both put the release in ``releases/<vsn>/<name>.rel``):

* relx (rebar3): ``releases/<name>.rel``, ``releases/<vsn>/{<name>.rel,sys.config,vm.args,
  start.boot}``, ``releases/start_erl.data``, ``releases/RELEASES`` (absent without bundled OTP
  libraries), ``erts-<vsn>/`` when ERTS is bundled, ``lib/<app>-<vsn>/ebin/``.
* mix (``mix release``): the same ``lib/`` and ``erts-<vsn>/``, plus ``releases/COOKIE``,
  ``releases/<vsn>/env.sh`` and ``releases/<vsn>/consolidated/*.beam`` (protocols); no
  ``releases/RELEASES`` and no top-level ``releases/<name>.rel``.

Errors are :class:`ReleaseError` naming the file; a term file that ``file:consult/1`` would refuse
raises :class:`~._term_text.TermSyntaxError` (file and line); an unreadable module raises
:class:`~._beam.BeamError` when its application's modules are read (a bad atom table past the
module name only when the module is parsed: see :class:`Module`). Problems that do not stop OTP
from using the release are collected in :attr:`Release.warnings`.

Cost: each ``.beam`` is read once, when its application's ``modules`` are first asked for, and
only split into chunks there; it is parsed when a fact needs it. Modules compare by bytes
(:meth:`Module.same_code`, :meth:`Module.same_chunks`), so that the unchanged and debug-only
modules of an upgrade are never parsed or hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct

from ansible_collections.erlang.otp.plugins.module_utils._archive import DirectorySource, TarballSource
from ansible_collections.erlang.otp.plugins.module_utils._beam import MANDATORY_CHUNKS, MD5_CHUNKS, read_beam
from ansible_collections.erlang.otp.plugins.module_utils._beam import _zero_old_uniq as zero_old_uniq
from ansible_collections.erlang.otp.plugins.module_utils._child_specs import SupervisorChildren, supervisor_children
from ansible_collections.erlang.otp.plugins.module_utils._term_text import TermSyntaxError, format_term, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, text

__all__ = [
    "MANIFEST_FORMAT",
    "SPECIAL_PROCESS_BEHAVIOURS",
    "START_TYPES",
    "App",
    "AppFacts",
    "Module",
    "ModuleFacts",
    "Release",
    "ReleaseError",
    "ReleaseFacts",
    "open_release",
    "read_release",
    "release_from_manifest",
    "wanted_member",
]

START_TYPES = ("permanent", "transient", "temporary", "load", "none")

#: The ``format`` key of a release manifest (:meth:`Release.manifest`).
MANIFEST_FORMAT = "erlang.otp.release_manifest/1"

#: Behaviours whose callback modules run as OTP special processes (they take part in
#: ``sys:suspend``/``change_code`` during an upgrade). Elixir's ``use GenServer`` & co. declare
#: the Elixir module as the behaviour; GenStage/ConsumerSupervisor (the gen_stage package) are
#: special processes built on gen_server.
SPECIAL_PROCESS_BEHAVIOURS = frozenset(
    (
        "gen_server",
        "gen_statem",
        "gen_event",
        "gen_fsm",
        "supervisor",
        "supervisor_bridge",
        "Elixir.GenServer",
        "Elixir.Supervisor",
        "Elixir.DynamicSupervisor",
        "Elixir.PartitionSupervisor",
        "Elixir.Agent",
        "Elixir.Task.Supervisor",
        "Elixir.GenEvent",
        "Elixir.GenStage",
        "Elixir.ConsumerSupervisor",
    )
)

_LIB_FILE = re.compile(r"lib/[^/]+/(?:ebin/[^/]+|priv/.*\.so)\Z")


class ReleaseError(ValueError):
    """A release that is inconsistent or cannot be chosen; the message names the file."""


def wanted_member(name: str) -> bool:
    """The members :func:`read_release` reads: ``releases/**`` and ``lib/*/ebin/*`` files.

    Pass it to :class:`~._archive.TarballSource` so that only these are kept in memory.
    """
    if name.startswith("releases/"):
        return True
    return name.startswith("lib/") and name.count("/") == 3 and name.split("/")[2] == "ebin"


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------


class Module:
    """Facts about one compiled module, read from its ``.beam`` (``beam_lib`` semantics).

    Give either the parsed ``beam`` or the file's bytes (``data``). From bytes, only the container
    is split and the module name read (what :func:`._beam.read_beam` refuses is refused here too,
    with its error, but for atoms after the first): the beam is parsed on first use
    (:attr:`beam`). Comparing two modules (:meth:`same_code`, :meth:`same_chunks`, equal
    :attr:`data`) parses neither.
    """

    def __init__(self, beam, path: str, source_name: str, resolve=None, data: bytes | None = None) -> None:
        self._beam = beam
        self._file = None  # the file's bytes, when the container was only split (_quick_look)
        self._table: dict | None = None  # then: chunk id (bytes) -> (start, size) of its first chunk
        self._name: str | None = None
        if beam is None:
            if data is None:
                raise TypeError("Module needs a parsed beam or the bytes of its file")
            look = _quick_look(data)
            if look is None:  # read_beam says what is wrong, or reads what the quick look could not
                self._beam = read_beam(data, source_name)
            else:
                self._file = data
                self._name, self._table = look
        self.path = path  # relative name inside the release root
        self.source_name = source_name
        #: ``resolve(module) -> Beam | None``: the beams of the release, for a supervisor whose
        #: Elixir children are given as modules (see :func:`._child_specs.supervisor_children`).
        self.resolve = resolve

    @property
    def beam(self):
        """The parsed :class:`~._beam.Beam` (parsed on first use; a bad file raises ``BeamError`` then)."""
        if self._beam is None:
            self._beam = read_beam(self._file, self.source_name)
        return self._beam

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = str(self.beam.module)
        return self._name

    @property
    def md5(self) -> str:
        """``beam_lib:md5/1`` as lowercase hex."""
        if self._beam is not None:
            return self._beam.md5_hex
        cached = getattr(self, "_md5", None)
        if cached is None:
            cached = self._md5 = hashlib.md5(self._md5_input()).hexdigest()  # OTP's module checksum
        return cached

    @property
    def behaviours(self) -> list:
        return [str(b) if isinstance(b, str) else format_term(b) for b in self.beam.behaviours]

    @property
    def exports_code_change(self) -> bool:
        return self.beam.exports_code_change

    @property
    def exports_system_code_change(self) -> bool:
        return self.beam.exports_system_code_change

    @property
    def is_supervisor(self) -> bool:
        return self.beam.is_supervisor

    @property
    def is_special_process(self) -> bool:
        """Implements a special-process behaviour, or exports code_change/3,4 or system_code_change/4."""
        return is_special_process(self.behaviours, self.exports_code_change, self.exports_system_code_change)

    @property
    def imports(self) -> list:
        """Sorted names of the modules this one calls (its import table)."""
        return sorted({str(m) for m, _f, _a in self.beam.imports})

    @property
    def loads_nif(self) -> bool:
        return self.beam.loads_nif

    @property
    def is_elixir(self) -> bool:
        return self.beam.is_elixir

    @property
    def vsn(self) -> object:
        """The ``-vsn`` attribute as ``beam_lib:version/1`` returns it (a list)."""
        return self.beam.vsn

    @property
    def chunks_md5(self) -> str:
        """MD5 (hex) of the file without its ``CInf`` chunk: equal exactly when ``beam_lib:cmp/2``
        finds no difference (it compares every chunk but ``CInf``).

        Where :attr:`md5` (the code) is equal and this is not, only debug information, the line
        table or attributes changed.
        """
        cached = getattr(self, "_chunks_md5", None)
        if cached is None:
            digest = hashlib.md5()  # a change detector, not a security use
            for part in _without_cinf(self.data):
                digest.update(part)
            cached = self._chunks_md5 = digest.hexdigest()
        return cached

    def same_code(self, other: object) -> bool:
        """``other`` (module facts) has the same :attr:`md5`. Between two :class:`Module`, the
        bytes that MD5 would hash are compared instead: nothing is hashed or parsed."""
        if not isinstance(other, Module):
            return self.md5 == other.md5
        return self._md5_input() == other._md5_input()

    def same_chunks(self, other: object) -> bool:
        """``other`` (module facts) has the same :attr:`chunks_md5`; bytes compared as in :meth:`same_code`."""
        if not isinstance(other, Module):
            return self.chunks_md5 == other.chunks_md5
        return b"".join(_without_cinf(self.data)) == b"".join(_without_cinf(other.data))

    def _md5_input(self) -> bytes:
        """What ``beam_lib:md5/1`` hashes (see :attr:`._beam.Beam.md5`)."""
        if self._table is None:
            chunk = self.beam.chunk
        else:
            data, table = self._file, self._table

            def chunk(chunk_id: str) -> bytes | None:
                where = table.get(chunk_id.encode("latin-1"))
                return None if where is None else data[where[0] : where[0] + where[1]]

        parts = []
        for chunk_id in MD5_CHUNKS:
            part = chunk(chunk_id)
            if part is not None:
                parts.append(zero_old_uniq(part) if chunk_id == "FunT" and len(part) >= 28 else part)
        return b"".join(parts)

    @property
    def supervisor_children(self) -> SupervisorChildren | None:
        """The child specs read from the debug information (:mod:`._child_specs`); ``None`` for non-supervisors."""
        if not self.is_supervisor:
            return None
        if not hasattr(self, "_children"):
            self._children = supervisor_children(self.beam, self.resolve)
        return self._children

    @property
    def data(self) -> bytes:
        """The module's BEAM file (inflated when it was gzip-compressed)."""
        return self._file if self._file is not None else self.beam.data

    def manifest(self, local: set | frozenset | None = None) -> dict:
        """The facts appup generation needs, JSON-able (see :func:`release_from_manifest`).

        ``local``: module names of the same application; imports are restricted to them (the
        generator never looks further), which keeps manifests small.
        """
        return _module_manifest(self, local)

    def __repr__(self) -> str:
        return f"Module({self.name!r}, {self.path!r})"


def is_special_process(behaviours, exports_code_change: bool, exports_system_code_change: bool) -> bool:
    """A module whose processes take part in ``sys`` suspend/code_change: a known special-process
    behaviour or any ``gen_*`` one, or an export of ``code_change/3,4`` or ``system_code_change/4``."""
    for name in behaviours:
        if name in SPECIAL_PROCESS_BEHAVIOURS or name.startswith("gen_"):
            return True
    return bool(exports_code_change or exports_system_code_change)


def _module_manifest(module, local) -> dict:
    entry: dict = {"md5": module.md5, "chunks_md5": module.chunks_md5}
    if module.behaviours:
        entry["behaviours"] = list(module.behaviours)
    imports = [m for m in module.imports if m != module.name and (local is None or m in local)]
    if imports:
        entry["imports"] = imports
    for key, value in (
        ("code_change", module.exports_code_change),
        ("system_code_change", module.exports_system_code_change),
        ("loads_nif", module.loads_nif),
        ("elixir", module.is_elixir),
    ):
        if value:
            entry[key] = True
    children = module.supervisor_children
    if children is not None:
        entry["supervisor"] = children.to_dict()
    return entry


_CHUNK_HEADER = struct.Struct(">4sI")
_NEEDED_CHUNKS = frozenset(c.encode("ascii") for c in MANDATORY_CHUNKS)


def _quick_look(data: bytes) -> tuple | None:
    """``(module name, {chunk id: (start, size)})`` of a BEAM file, without parsing it: the
    container is split and the first atom of the atom table read. ``None`` when this cannot tell
    (gzip-compressed, malformed, an OTP 28 atom table): then :func:`._beam.read_beam` must say.

    It checks what ``read_beam`` checks of the container (header, chunk sizes, an atom table and
    the mandatory chunks), so that a broken file is still refused when the release is read; only
    the atoms after the first are checked later, when the module is parsed. As in ``beam_lib``,
    the first chunk of an id counts.
    """
    total = len(data)
    if total < 12 or data[:4] != b"FOR1" or data[8:12] != b"BEAM":
        return None
    unpack = _CHUNK_HEADER.unpack_from
    table: dict = {}
    pos = 12
    while pos < total:
        if pos + 8 > total:
            return None
        chunk_id, size = unpack(data, pos)
        start = pos + 8
        if start + size > total:
            return None
        if chunk_id not in table:
            table[chunk_id] = (start, size)
        pos = start + ((size + 3) & ~3)
    if not _NEEDED_CHUNKS.issubset(table):
        return None
    encoding = "utf-8"
    where = table.get(b"AtU8")
    if where is None:
        encoding, where = "latin-1", table.get(b"Atom")
        if where is None:
            return None
    start, size = where
    # A classic table: a positive 32-bit count, then each atom as a length byte and its bytes.
    if size < 5 or data[start] & 0x80 or data[start : start + 4] == b"\0\0\0\0":
        return None
    stop = start + 5 + data[start + 4]
    if stop > start + size:
        return None
    try:
        return data[start + 5 : stop].decode(encoding), table
    except UnicodeDecodeError:
        return None


def _without_cinf(data: bytes) -> list:
    """The parts of a BEAM file that ``beam_lib:cmp/2`` compares: all after the header but the
    ``CInf`` chunks (the container size, which CInf changes, is left out too)."""
    parts = []
    pos = start = 12
    while pos + 8 <= len(data):
        end = pos + 8 + ((int.from_bytes(data[pos + 4 : pos + 8], "big") + 3) & ~3)
        if data[pos : pos + 4] == b"CInf":
            parts.append(data[start:pos])
            start = end
        pos = end
    parts.append(data[start:])
    return parts


def _read_modules(source, paths: list, warnings: list, resolve=None) -> dict:
    """``{name: Module}`` of the BEAM files ``paths``; each file is read now, parsed on first use."""
    modules: dict = {}
    for path in paths:
        module = Module(None, path, source.source_name(path), resolve, data=source.read(path))
        stem = path.rsplit("/", 1)[-1][: -len(".beam")]
        if module.name != stem:
            warnings.append(f"{module.source_name}: the file holds module {module.name!r}, not {stem!r}")
        modules[module.name] = module
    return modules


# ---------------------------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------------------------


class App:
    """One application of the release, in ``.rel`` order."""

    def __init__(self, release: Release, name: str, vsn: str, start_type: str, included: list | None) -> None:
        self._release = release
        self.name = name
        self.vsn = vsn
        self.start_type = start_type
        self.included_applications = included  # from the .rel entry, None when not given there
        self.lib_dir = f"lib/{name}-{vsn}"
        source = release.source
        self.bundled = source.isdir(self.lib_dir)
        self.app_file = f"{self.lib_dir}/ebin/{name}.app"
        self.app_spec = None
        self.appup = None
        self.beam_files: list = []
        self.listed_modules: list | None = None  # the .app's modules list
        self.priv_so: list = []
        if not self.bundled:
            return
        prefix = f"{self.lib_dir}/ebin/"
        priv = f"{self.lib_dir}/priv/"
        for entry in release._lib_names.get("/".join(self.lib_dir.split("/", 2)[:2]), ()):
            if entry.startswith(prefix) and entry.endswith(".beam") and "/" not in entry[len(prefix):]:
                self.beam_files.append(entry)
            elif entry.startswith(priv) and entry.endswith(".so"):
                self.priv_so.append(entry)
        if source.exists(self.app_file):
            self.app_spec = release._parse(self.app_file)
            self._check_app_spec()
        else:
            release.warnings.append(f"{source.source_name(self.lib_dir)}: no ebin/{name}.app")
        appup = f"{self.lib_dir}/ebin/{name}.appup"
        if source.exists(appup):
            self.appup = release._parse(appup)
        self._modules: dict | None = None

    def _check_app_spec(self) -> None:
        release = self._release
        where = release.source.source_name(self.app_file)
        spec = self.app_spec
        if not (isinstance(spec, tuple) and len(spec) == 3 and spec[0] == Atom("application")):
            raise ReleaseError(f"{where}: expected {{application, Name, [Key-Value]}}, got {format_term(spec)}")
        if spec[1] != Atom(self.name):
            raise ReleaseError(f"{where}: the file describes application {spec[1]!s}, not {self.name}")
        props = spec[2]
        if not isinstance(props, list):
            raise ReleaseError(f"{where}: the application's properties are not a list")
        vsn = _prop(props, "vsn")
        if vsn is None:
            raise ReleaseError(f"{where}: no vsn")
        try:
            vsn = text(vsn)
        except TypeError:
            raise ReleaseError(f"{where}: vsn is not a string: {format_term(vsn)}") from None
        if vsn != self.vsn:
            raise ReleaseError(
                f"{where}: application {self.name} has vsn {vsn!r}, but the release "
                f"({release.rel_file}) lists {self.vsn!r}"
            )
        listed = _prop(props, "modules")
        if listed is not None:
            if not isinstance(listed, list) or not all(isinstance(m, Atom) for m in listed):
                raise ReleaseError(f"{where}: modules must be a list of atoms")
            self.listed_modules = [str(m) for m in listed]
            present = {p.rsplit("/", 1)[-1][: -len(".beam")] for p in self.beam_files}
            for module in self.listed_modules:
                if module not in present:
                    release.warnings.append(f"{where}: module {module} is listed but {module}.beam is missing")

    @property
    def description(self) -> str | None:
        if self.app_spec is None:
            return None
        value = _prop(self.app_spec[2], "description")
        try:
            return text(value) if value is not None else None
        except TypeError:
            return None

    @property
    def applications(self) -> list:
        """The ``applications`` (dependencies) of the ``.app``, or ``[]``."""
        if self.app_spec is None:
            return []
        value = _prop(self.app_spec[2], "applications") or []
        return [str(a) for a in value if isinstance(a, Atom)] if isinstance(value, list) else []

    @property
    def modules(self) -> dict:
        """``{name: Module}`` of every ``ebin/*.beam`` (read on first access)."""
        if not self.bundled:
            return {}
        if self._modules is None:
            release = self._release
            self._modules = _read_modules(release.source, self.beam_files, release.warnings, release.find_beam)
        return self._modules

    @property
    def module_names(self) -> list:
        """Names of the modules, from the file names (no beam is read)."""
        return sorted(p.rsplit("/", 1)[-1][: -len(".beam")] for p in self.beam_files)

    @property
    def loads_nif(self) -> bool:
        """Some module calls ``erlang:load_nif/2``, or the app ships ``priv/**.so``."""
        return bool(self.priv_so) or any(m.loads_nif for m in self.modules.values())

    def manifest(self) -> dict:
        """This application's facts for :meth:`Release.manifest` (reads every beam)."""
        return _app_manifest(self)

    def __repr__(self) -> str:
        return f"App({self.name!r}, {self.vsn!r}, {self.start_type!r}, bundled={self.bundled})"


def _app_manifest(app) -> dict:
    local = frozenset(app.modules)
    entry: dict = {"name": app.name, "vsn": app.vsn, "start_type": app.start_type, "bundled": bool(app.bundled)}
    if app.included_applications is not None:
        entry["included_applications"] = list(app.included_applications)
    if app.applications:
        entry["applications"] = list(app.applications)
    if app.app_spec is not None:
        entry["app"] = format_term(app.app_spec) + ".\n"
    if app.appup is not None:
        entry["appup"] = format_term(app.appup) + ".\n"
    priv_so = [p[len(app.lib_dir) + 1:] if p.startswith(app.lib_dir + "/") else p for p in app.priv_so]
    if priv_so:
        entry["priv_so"] = priv_so
    entry["modules"] = {name: app.modules[name].manifest(local) for name in sorted(app.modules)}
    return entry


def _prop(props: list, key: str) -> object:
    atom = Atom(key)
    for item in props:
        if isinstance(item, tuple) and len(item) == 2 and item[0] == atom:
            return item[1]
    return None


# ---------------------------------------------------------------------------------------------
# The release
# ---------------------------------------------------------------------------------------------


def _rel_files(names: list) -> list:
    """``[(vsn, name)]`` of every ``releases/<vsn>/<name>.rel``."""
    found = []
    for entry in names:
        parts = entry.split("/")
        if len(parts) == 3 and parts[0] == "releases" and parts[2].endswith(".rel") and len(parts[2]) > 4:
            found.append((parts[1], parts[2][: -len(".rel")]))
    return sorted(found)


def _by_lib_dir(names: list) -> dict:
    """``{"lib/<dir>": [names below it, in order]}``, so that each application looks only at its
    own (a version holding a ``/`` finds its names under the first component)."""
    index: dict = {}
    for entry in names:
        if entry.startswith("lib/"):
            cut = entry.find("/", 4)
            if cut > 4:
                index.setdefault(entry[:cut], []).append(entry)
    return index


def _describe(candidates: list) -> str:
    return ", ".join(f"{n} {v}" for v, n in candidates) or "none"


class Release:
    """A release read from a source (see the module docstring for the attributes)."""

    def __init__(self, source, name: str | None = None, vsn: str | None = None) -> None:
        self.source = source
        self.warnings: list = []
        self._names = source.names()
        self._start_erl_raw = self._read_start_erl()
        self.name, self.vsn = self._choose(name, vsn)
        self.rel_file = f"releases/{self.vsn}/{self.name}.rel"
        self.rel = self._parse(self.rel_file)
        self.erts_vsn, entries = self._check_rel()
        self.layout = (
            "mix"
            if source.exists("releases/COOKIE") or source.exists(f"releases/{self.vsn}/env.sh")
            else "relx"
        )
        erts_bin = f"erts-{self.erts_vsn}/bin/"
        self.erts_bundled = any(n.startswith(erts_bin) for n in self._names)
        self._lib_names = _by_lib_dir(self._names)
        self.apps = [App(self, *entry) for entry in entries]
        self.missing_apps = [a.name for a in self.apps if not a.bundled]
        bundled = {a.name for a in self.apps if a.bundled}
        self.otp_libs_bundled = "kernel" in bundled and "stdlib" in bundled and not self.missing_apps
        self.has_sasl = any(a.name == "sasl" for a in self.apps)
        self._check_duplicates()
        base = f"releases/{self.vsn}/"
        self.relup = self._parse(base + "relup") if source.exists(base + "relup") else None
        self.sys_config = self._parse(base + "sys.config") if source.exists(base + "sys.config") else None
        self.vm_args = self._text(base + "vm.args") if source.exists(base + "vm.args") else None
        if source.exists("releases/RELEASES"):
            self.releases_file = self._parse("releases/RELEASES")
        else:
            self.releases_file = None
        self.start_erl = self._start_erl_raw
        if self.start_erl is not None and self.start_erl[1] != self.vsn:
            self.warnings.append(
                f"{source.source_name('releases/start_erl.data')}: names release version "
                f"{self.start_erl[1]!r}, this release is {self.vsn!r}"
            )
        self._consolidated_files = sorted(
            n for n in self._names if n.startswith(base + "consolidated/") and n.endswith(".beam")
            and n.count("/") == 3
        )
        self._consolidated: dict | None = None

    # --- reading --------------------------------------------------------------------------

    def _parse(self, name: str) -> object:
        return parse_one(self.source.read(name), self.source.source_name(name))

    def _text(self, name: str) -> str:
        data = self.source.read(name)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")

    def _read_start_erl(self) -> tuple | None:
        name = "releases/start_erl.data"
        if not self.source.exists(name):
            return None
        fields = self._text(name).split()
        if len(fields) != 2:
            raise ReleaseError(
                f"{self.source.source_name(name)}: expected '<erts vsn> <release vsn>', got {' '.join(fields)!r}"
            )
        return (fields[0], fields[1])

    def _choose(self, name: str | None, vsn: str | None) -> tuple:
        found = _rel_files(self._names)
        where = self.source.source_name("releases")
        candidates = [(v, n) for v, n in found if (name is None or n == name) and (vsn is None or v == vsn)]
        if len(candidates) == 1:
            return candidates[0][1], candidates[0][0]
        if not candidates:
            wanted = " ".join(x for x in (name, vsn) if x) or "any release"
            raise ReleaseError(f"{where}: no releases/<vsn>/<name>.rel for {wanted} (found: {_describe(found)})")
        if vsn is None and self._start_erl_raw is not None:
            preferred = [(v, n) for v, n in candidates if v == self._start_erl_raw[1]]
            if len(preferred) == 1:
                return preferred[0][1], preferred[0][0]
        versions = sorted({v for v, _n in candidates})
        raise ReleaseError(
            f"{where}: several releases found ({_describe(candidates)}; versions {', '.join(versions)}) "
            "and releases/start_erl.data does not pick one: give the release name and version"
        )

    def _check_rel(self) -> tuple:
        where = self.source.source_name(self.rel_file)
        rel = self.rel
        shape = "{release, {Name, Vsn}, {erts, ErtsVsn}, [AppSpec]}"
        if not (isinstance(rel, tuple) and len(rel) == 4 and rel[0] == Atom("release")):
            raise ReleaseError(f"{where}: expected {shape}, got {format_term(rel)}")
        _tag, name_vsn, erts, app_specs = rel
        try:
            if not (isinstance(name_vsn, tuple) and len(name_vsn) == 2):
                raise TypeError
            rel_name, rel_vsn = text(name_vsn[0]), text(name_vsn[1])
            if not (isinstance(erts, tuple) and len(erts) == 2 and erts[0] == Atom("erts")):
                raise TypeError
            erts_vsn = text(erts[1])
        except TypeError:
            raise ReleaseError(f"{where}: expected {shape}, got {format_term(rel)}") from None
        if rel_name != self.name or rel_vsn != self.vsn:
            raise ReleaseError(
                f"{where}: the file says release {rel_name!r} version {rel_vsn!r}, but its path says "
                f"{self.name!r} version {self.vsn!r}"
            )
        if not isinstance(app_specs, list):
            raise ReleaseError(f"{where}: the application list is not a list")
        entries = []
        seen = set()
        for spec in app_specs:
            entries.append(self._app_entry(spec, where))
            if entries[-1][0] in seen:
                raise ReleaseError(f"{where}: application {entries[-1][0]} is listed twice")
            seen.add(entries[-1][0])
        return erts_vsn, entries

    @staticmethod
    def _app_entry(spec: object, where: str) -> tuple:
        bad = ReleaseError(
            f"{where}: bad application entry {format_term(spec)} "
            "(expected {App, Vsn}, {App, Vsn, Type}, {App, Vsn, Incl} or {App, Vsn, Type, Incl})"
        )
        if not (isinstance(spec, tuple) and 2 <= len(spec) <= 4 and isinstance(spec[0], Atom)):
            raise bad
        try:
            vsn = text(spec[1])
        except TypeError:
            raise bad from None
        start_type, included = "permanent", None
        rest = list(spec[2:])
        if rest and isinstance(rest[0], Atom):
            start_type = str(rest.pop(0))
            if start_type not in START_TYPES:
                raise ReleaseError(f"{where}: application {spec[0]!s} has unknown start type {start_type!r}")
        if rest:
            incl = rest.pop(0)
            if not isinstance(incl, list) or not all(isinstance(a, Atom) for a in incl):
                raise bad
            included = [str(a) for a in incl]
        if rest:
            raise bad
        return str(spec[0]), vsn, start_type, included

    def _check_duplicates(self) -> None:
        owner: dict = {}
        for app in self.apps:
            names = set(app.module_names) | set(app.listed_modules or [])
            for module in sorted(names):
                other = owner.get(module)
                if other is not None:
                    raise ReleaseError(
                        f"{self.source.source_name(self.rel_file)}: duplicated module {module} in applications "
                        f"{other.name} ({self.source.source_name(other.lib_dir)}) and {app.name} "
                        f"({self.source.source_name(app.lib_dir)})"
                    )
                owner[module] = app

    # --- queries --------------------------------------------------------------------------

    def app(self, name: str) -> App:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(f"release {self.name} {self.vsn} has no application {name!r}")

    @property
    def app_versions(self) -> dict:
        return {a.name: a.vsn for a in self.apps}

    @property
    def consolidated(self) -> dict:
        """Protocol modules of a mix release (``releases/<vsn>/consolidated/*.beam``), read on first access."""
        if self._consolidated is None:
            self._consolidated = _read_modules(self.source, self._consolidated_files, self.warnings)
        return self._consolidated

    def modules(self) -> dict:
        """``{module: (App, Module)}`` over every bundled application (reads every beam)."""
        return {m: (app, mod) for app in self.apps for m, mod in app.modules.items()}

    def find_beam(self, module: str) -> object:
        """The :class:`~._beam.Beam` of ``module`` in one of the applications, or ``None``.

        Reads only the application that holds ``<module>.beam`` (by file name).
        """
        module = str(module)
        for app in self.apps:
            if module in app.module_names:
                found = app.modules.get(module)
                return None if found is None else found.beam
        return None

    def manifest(self) -> dict:
        """The facts appup generation needs, as a small JSON-able dict (reads every beam).

        :func:`release_from_manifest` turns it back into a :class:`ReleaseFacts` that the
        generator (:mod:`._appup`) uses exactly like this release. A node can report it, so that
        no copy of the release it runs is needed on the controller. What it holds: name, version,
        ERTS version, layout; per application in ``.rel`` order its version, start type, whether
        its code is bundled, its ``.app`` dependencies, its ``.app`` and its appup (term texts) and per module the
        code MD5 (``beam_lib:md5``), the MD5 of every chunk but ``CInf`` (``beam_lib:cmp``), the
        behaviours, the imports of modules of the same application, the code_change exports, whether
        it calls ``erlang:load_nif/2``, whether it is Elixir, and a supervisor's child specs; the MD5 of
        every consolidated protocol (mix releases).
        """
        return _release_manifest(self)

    def __repr__(self) -> str:
        return f"Release({self.name!r}, {self.vsn!r}, layout={self.layout!r}, source={self.source!r})"


def _release_manifest(release) -> dict:
    consolidated = {}
    for name in sorted(release.consolidated):
        module = release.consolidated[name]
        consolidated[name] = {"md5": module.md5, "chunks_md5": module.chunks_md5, "path": module.path}
    return {
        "format": MANIFEST_FORMAT,
        "name": release.name,
        "vsn": release.vsn,
        "erts_vsn": release.erts_vsn,
        "layout": release.layout,
        "apps": [app.manifest() for app in release.apps],
        "consolidated": consolidated,
    }


def read_release(source, name: str | None = None, vsn: str | None = None) -> Release:
    """The release in ``source``: ``name``/``vsn`` when given; else the only ``releases/<vsn>/*.rel``;
    else the version ``releases/start_erl.data`` names; else a :class:`ReleaseError` listing them."""
    return Release(source, name, vsn)


def open_release(path: str | os.PathLike, name: str | None = None, vsn: str | None = None) -> Release:
    """:func:`read_release` of a tarball (read into memory, never extracted) or an unpacked root."""
    path = os.fspath(path)
    if os.path.isdir(path):
        source = DirectorySource(path)
    else:
        source = TarballSource(path, want=wanted_member)
    return read_release(source, name, vsn)


# ---------------------------------------------------------------------------------------------
# Facts without beams: what a manifest holds
# ---------------------------------------------------------------------------------------------

_SUPERVISOR_BEHAVIOURS = frozenset(("supervisor", "Elixir.Supervisor"))
_HEX_MD5 = re.compile(r"[0-9a-f]{32}\Z")


class ModuleFacts:
    """What appup generation needs to know about one module, without its beam.

    The same attributes as :class:`Module`; ``data`` (the BEAM file) is ``None`` when unknown.
    ``supervisor`` is a :class:`~._child_specs.SupervisorChildren` or its ``to_dict()``.
    """

    def __init__(
        self,
        name: str,
        md5: str,
        chunks_md5: str | None = None,
        behaviours=(),
        imports=(),
        exports_code_change: bool = False,
        exports_system_code_change: bool = False,
        loads_nif: bool = False,
        is_elixir: bool = False,
        supervisor: object = None,
        path: str | None = None,
        data: bytes | None = None,
    ) -> None:
        self.name = name
        self.md5 = md5
        self.chunks_md5 = chunks_md5 if chunks_md5 is not None else md5
        self.behaviours = list(behaviours)
        self.imports = sorted(set(imports))
        self.exports_code_change = exports_code_change
        self.exports_system_code_change = exports_system_code_change
        self.loads_nif = loads_nif
        self.is_elixir = is_elixir
        self._supervisor = supervisor
        self.path = path
        self.data = data

    @property
    def is_supervisor(self) -> bool:
        return any(b in _SUPERVISOR_BEHAVIOURS for b in self.behaviours)

    @property
    def is_special_process(self) -> bool:
        return is_special_process(self.behaviours, self.exports_code_change, self.exports_system_code_change)

    @property
    def supervisor_children(self) -> SupervisorChildren | None:
        """The child specs, or ``None`` (not a supervisor, or not known)."""
        if not self.is_supervisor or self._supervisor is None:
            return None
        if isinstance(self._supervisor, dict):
            self._supervisor = SupervisorChildren.from_dict(self._supervisor)
        return self._supervisor

    def same_code(self, other: object) -> bool:
        return self.md5 == other.md5

    def same_chunks(self, other: object) -> bool:
        return self.chunks_md5 == other.chunks_md5

    def manifest(self, local: set | frozenset | None = None) -> dict:
        return _module_manifest(self, local)

    def __repr__(self) -> str:
        return f"ModuleFacts({self.name!r}, {self.md5!r})"


class AppFacts:
    """One application of a :class:`ReleaseFacts` (the attributes of :class:`App` the generator uses)."""

    def __init__(
        self,
        name: str,
        vsn: str,
        modules=(),
        start_type: str = "permanent",
        bundled: bool = True,
        appup: object = None,
        applications=(),
        included_applications=None,
        priv_so=(),
        app_spec: object = None,
    ) -> None:
        self.name = name
        self.vsn = vsn
        if isinstance(modules, dict):
            self.modules = dict(modules)
        else:
            self.modules = {m.name: m for m in modules}
        self.start_type = start_type
        self.bundled = bundled
        self.appup = appup
        self.applications = list(applications)
        self.included_applications = None if included_applications is None else list(included_applications)
        self.lib_dir = f"lib/{name}-{vsn}"
        self.priv_so = [f"{self.lib_dir}/{p}" for p in priv_so]
        self.app_spec = app_spec  # the parsed .app term, None when the manifest does not carry it

    @property
    def module_names(self) -> list:
        return sorted(self.modules)

    @property
    def loads_nif(self) -> bool:
        return bool(self.priv_so) or any(m.loads_nif for m in self.modules.values())

    def manifest(self) -> dict:
        return _app_manifest(self)

    def __repr__(self) -> str:
        return f"AppFacts({self.name!r}, {self.vsn!r}, {len(self.modules)} modules)"


class ReleaseFacts:
    """A release known by its facts (from a manifest): what :class:`Release` offers the generator."""

    def __init__(
        self,
        name: str,
        vsn: str,
        erts_vsn: str,
        apps,
        consolidated: dict | None = None,
        layout: str = "relx",
        source: str = "<release facts>",
    ) -> None:
        self.name = name
        self.vsn = vsn
        self.erts_vsn = erts_vsn
        self.apps = list(apps)
        self.consolidated = dict(consolidated or {})
        self.layout = layout
        self.source = source
        self.warnings: list = []
        self.missing_apps = [a.name for a in self.apps if not a.bundled]

    def app(self, name: str) -> AppFacts:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(f"release {self.name} {self.vsn} has no application {name!r}")

    @property
    def app_versions(self) -> dict:
        return {a.name: a.vsn for a in self.apps}

    def modules(self) -> dict:
        return {m: (app, mod) for app in self.apps for m, mod in app.modules.items()}

    def manifest(self) -> dict:
        return _release_manifest(self)

    def __repr__(self) -> str:
        return f"ReleaseFacts({self.name!r}, {self.vsn!r}, source={self.source!r})"


class _Reader:
    """Checks one manifest value at a time; every error names the source and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> ReleaseError:
        return ReleaseError(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    def dict_(self, value: object, where: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def str_(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value

    def opt_str(self, data: dict, key: str, where: str, default: str | None = None) -> str | None:
        if data.get(key) is None:
            return default
        return self.str_(data[key], f"{where}.{key}" if where else key)

    def strs(self, data: dict, key: str, where: str) -> list:
        value = data.get(key)
        if value is None:
            return []
        path = f"{where}.{key}"
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(path, f"expected a list of strings, got {value!r}")
        return value

    def flag(self, data: dict, key: str, where: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", f"expected true or false, got {value!r}")
        return value

    def md5(self, data: dict, key: str, where: str, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not _HEX_MD5.match(value):
            raise self.fail(f"{where}.{key}", f"expected an MD5 as 32 lowercase hex digits, got {value!r}")
        return value

    def module(self, name: str, data: object, where: str) -> ModuleFacts:
        data = self.dict_(data, where)
        unknown = set(data) - _MODULE_KEYS
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(sorted(unknown))}")
        supervisor = data.get("supervisor")
        if supervisor is not None:
            self.dict_(supervisor, f"{where}.supervisor")
            try:
                supervisor = SupervisorChildren.from_dict(supervisor)
            except (KeyError, TypeError, ValueError) as exc:
                raise self.fail(f"{where}.supervisor", f"not a supervisor child list: {exc}") from None
        return ModuleFacts(
            name,
            self.md5(data, "md5", where),
            chunks_md5=self.md5(data, "chunks_md5", where, required=False),
            behaviours=self.strs(data, "behaviours", where),
            imports=self.strs(data, "imports", where),
            exports_code_change=self.flag(data, "code_change", where),
            exports_system_code_change=self.flag(data, "system_code_change", where),
            loads_nif=self.flag(data, "loads_nif", where),
            is_elixir=self.flag(data, "elixir", where),
            supervisor=supervisor,
            path=self.opt_str(data, "path", where),
        )

    def app(self, data: object, where: str) -> AppFacts:
        data = self.dict_(data, where)
        name = self.str_(data.get("name"), f"{where}.name")
        where = f"{where} ({name})"
        vsn = self.str_(data.get("vsn"), f"{where}.vsn")
        start_type = self.opt_str(data, "start_type", where, "permanent")
        if start_type not in START_TYPES:
            raise self.fail(f"{where}.start_type", f"{start_type!r} is not one of {', '.join(START_TYPES)}")
        modules = self.dict_(data.get("modules", {}), f"{where}.modules")
        facts = [self.module(m, modules[m], f"{where}.modules.{m}") for m in sorted(modules)]
        appup = self.term(data, "appup", where)
        app_spec = self.term(data, "app", where)
        if app_spec is not None and not (
            isinstance(app_spec, tuple) and len(app_spec) == 3 and app_spec[0] == Atom("application")
            and app_spec[1] == Atom(name) and isinstance(app_spec[2], list)
        ):
            raise self.fail(
                f"{where}.app", f"expected {{application, {name}, [Key-Value]}}, got {format_term(app_spec)}"
            )
        included = data.get("included_applications")
        bundled = data.get("bundled", True)
        if not isinstance(bundled, bool):
            raise self.fail(f"{where}.bundled", f"expected true or false, got {bundled!r}")
        return AppFacts(
            name,
            vsn,
            facts,
            start_type=start_type,
            bundled=bundled,
            appup=appup,
            applications=self.strs(data, "applications", where),
            included_applications=None if included is None else self.strs(data, "included_applications", where),
            priv_so=self.strs(data, "priv_so", where),
            app_spec=app_spec,
        )

    def term(self, data: dict, key: str, where: str) -> object:
        """The Erlang term whose text is ``data[key]``, or ``None``."""
        if data.get(key) is None:
            return None
        text_ = self.str_(data[key], f"{where}.{key}")
        try:
            return parse_one(text_, f"{self.source}: {where}.{key}")
        except TermSyntaxError as exc:
            raise ReleaseError(str(exc)) from None


_MODULE_KEYS = frozenset(
    ("md5", "chunks_md5", "behaviours", "imports", "code_change", "system_code_change", "loads_nif", "elixir",
     "supervisor", "path")
)


def release_from_manifest(data: object, source: str = "<manifest>") -> ReleaseFacts:
    """The :class:`ReleaseFacts` of a manifest (:meth:`Release.manifest`): a dict, or its JSON text.

    Bad input raises :class:`ReleaseError` naming ``source`` and the key path.
    """
    reader = _Reader(source)
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise reader.fail("", f"not JSON: {exc}") from None
    data = reader.dict_(data, "")
    if data.get("format") != MANIFEST_FORMAT:
        raise reader.fail("format", f"expected {MANIFEST_FORMAT!r}, got {data.get('format')!r}")
    name = reader.str_(data.get("name"), "name")
    vsn = reader.str_(data.get("vsn"), "vsn")
    erts_vsn = reader.str_(data.get("erts_vsn"), "erts_vsn")
    layout = reader.opt_str(data, "layout", "", "relx")
    apps_data = data.get("apps")
    if not isinstance(apps_data, list):
        raise reader.fail("apps", f"expected a list, got {type(apps_data).__name__}")
    apps = [reader.app(item, f"apps[{i}]") for i, item in enumerate(apps_data)]
    seen: dict = {}
    for app in apps:
        if app.name in seen:
            raise reader.fail("apps", f"application {app.name} is listed twice")
        seen[app.name] = app
    owner: dict = {}
    for app in apps:
        for module in app.modules:
            if module in owner:
                raise reader.fail("apps", f"duplicated module {module} in applications {owner[module]} and {app.name}")
            owner[module] = app.name
    consolidated_data = reader.dict_(data.get("consolidated", {}), "consolidated")
    consolidated = {}
    for module in sorted(consolidated_data):
        where = f"consolidated.{module}"
        entry = reader.dict_(consolidated_data[module], where)
        consolidated[module] = ModuleFacts(
            module,
            reader.md5(entry, "md5", where),
            chunks_md5=reader.md5(entry, "chunks_md5", where, required=False),
            path=reader.opt_str(entry, "path", where, f"releases/{vsn}/consolidated/{module}.beam"),
        )
    return ReleaseFacts(name, vsn, erts_vsn, apps, consolidated, layout=layout, source=source)
