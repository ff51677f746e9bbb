# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Release tarballs and unpacked release directories, read and extracted safely.

PRIVATE to the erlang.otp collection: may change at any time.

Every member of a tarball is checked before anything is read from it or written to disk
(:func:`validate_members`); one bad member refuses the whole tarball with an :class:`ArchiveError`
that names the tarball and the member. Refused: absolute names, a ``..`` component, a member
below a symbolic link or below a regular file, a symbolic link whose target is absolute or leaves
the root once resolved (relative to the link's own directory, following the other links of the
archive the way the kernel would), a hard link to a name outside the root or to no earlier regular
member, and device, FIFO and other special entries. Names are normalised (``./`` and empty
components dropped).

Two sources share one small read-only interface used by the release reader:

* :class:`TarballSource` reads a ``.tar``/``.tar.gz`` once, sequentially, and keeps in memory only
  the members a predicate selects (nothing is extracted);
* :class:`DirectorySource` reads an unpacked root, following symbolic links only while they stay
  inside it.

``names()`` (relative POSIX paths of regular files), ``read(name)``, ``exists(name)``,
``isdir(prefix)``, ``source_name(name)`` (``<tarball>:<member>`` or the file's path, for messages).

:func:`extract` validates first, so a refused tarball writes nothing, then writes regular files
(``0644``, or ``0755`` when the member has an execute bit), directories and the validated
in-root symbolic links; hard links become copies. It does not use ``tarfile``'s ``filter=``
argument (missing from early Python 3.9 patch releases).
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import zlib

__all__ = ["ArchiveError", "DirectorySource", "TarballSource", "extract", "normalise", "validate_members"]

_MAX_LINK_DEPTH = 40  # like the kernel's ELOOP limit
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


class ArchiveError(ValueError):
    """A tarball or directory that cannot be read safely; the message names it and the entry."""


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def normalise(name: str) -> str:
    """``./a//b/`` -> ``a/b``; ``.`` and ``./`` -> ``""`` (the root). ``..`` and ``/x`` are kept."""
    if name.startswith("/"):
        return name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def _unsafe_name(name: str) -> str | None:
    """Why ``name`` (normalised) cannot be a member of a release root, or None."""
    if name.startswith("/"):
        return "absolute path"
    if "\\" in name and (name[1:3] == ":\\" or name.startswith("\\")):
        return "absolute path"
    if any(part == ".." for part in name.split("/")):
        return "'..' component"
    if "\x00" in name:
        return "NUL byte in name"
    return None


def _resolve(parts: list, links: dict, depth: int = 0) -> list | None:
    """Walk ``parts`` from the root, following the archive's symbolic ``links`` (name -> target).

    Returns the resolved component list, or ``None`` when the walk goes above the root (or loops).
    A ``..`` after a link applies to the link's target, as in the kernel.
    """
    stack: list = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                return None
            stack.pop()
            continue
        stack.append(part)
        target = links.get("/".join(stack))
        if target is not None:
            if depth >= _MAX_LINK_DEPTH or target.startswith("/"):
                return None
            resolved = _resolve(stack[:-1] + target.split("/"), links, depth + 1)
            if resolved is None:
                return None
            stack = resolved
    return stack


def validate_members(members: list, label: str) -> list:
    """Check every ``TarInfo`` of an archive; return ``[(normalised name, TarInfo)]`` to use.

    Raises :class:`ArchiveError` naming ``label`` and the first bad member. The root entry
    (``.`` or ``./``) is dropped from the result.
    """
    result = []
    links: dict = {}
    regular: set = set()
    kinds: dict = {}  # name -> "dir" | "file" | "link"
    for info in members:
        raw = info.name
        name = normalise(raw)

        def refuse(reason: str, raw: str = raw) -> ArchiveError:
            return ArchiveError(f"{label}: refusing entry {raw!r}: {reason}")

        why = _unsafe_name(name)
        if why:
            raise refuse(why)
        if info.isdev():
            kind = "FIFO" if info.isfifo() else "device"
            raise refuse(f"{kind} entries are not allowed in a release")
        if not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
            raise refuse(f"unsupported entry type {info.type!r}")
        if name == "":
            if not info.isdir():
                raise refuse("the archive root must be a directory")
            continue
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            kind = kinds.get(parent)
            if kind == "link":
                raise refuse(f"it lies below the symbolic link {parent!r}")
            if kind == "file":
                raise refuse(f"it lies below the regular file {parent!r}")
        if info.issym():
            target = info.linkname
            if target.startswith("/") or not target:
                raise refuse(f"symbolic link to absolute or empty target {target!r}")
            links[name] = target
            if _resolve(parts[:-1] + target.split("/"), links) is None:
                raise refuse(f"symbolic link target {target!r} resolves outside the root")
            kinds[name] = "link"
        elif info.islnk():
            target = normalise(info.linkname)
            if _unsafe_name(target) or target == "":
                raise refuse(f"hard link to {info.linkname!r} outside the root")
            if target not in regular:
                raise refuse(f"hard link to {info.linkname!r}, which is not an earlier regular file of the archive")
            regular.add(name)
            kinds[name] = "file"
        elif info.isdir():
            if kinds.get(name) not in (None, "dir"):
                raise refuse("directory entry replaces a file or link of the same name")
            kinds[name] = "dir"
        else:
            if kinds.get(name) == "dir":
                raise refuse("file entry replaces a directory of the same name")
            regular.add(name)
            kinds[name] = "file"
        if not info.issym():
            links.pop(name, None)
        result.append((name, info))
    # A link defined before a later member reused its name as a directory is caught above; one
    # more pass catches links that became unsafe through links defined after them.
    for name, target in links.items():
        if _resolve(name.split("/")[:-1] + target.split("/"), links) is None:
            raise ArchiveError(
                f"{label}: refusing entry {name!r}: symbolic link target {target!r} resolves outside the root"
            )
    return result


def _open(path: str, mode: str, label: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError(f"{label}: not a readable tar archive: {exc}") from None


def _read_error(label: str, exc: BaseException) -> ArchiveError:
    return ArchiveError(f"{label}: corrupt or truncated tar archive: {exc}")


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


class TarballSource:
    """A release tarball, read once into memory (only the members ``want(name)`` selects).

    Every member is validated; a bad one refuses the whole tarball (nothing it held is
    returned). ``names()`` lists every regular file (hard links included) whether kept or not;
    ``read()`` of a file that was not kept raises :class:`ArchiveError`. A symbolic link to a
    regular file is readable under its own name when ``want`` selects that name; files below a
    symbolically linked directory are not visible.
    """

    def __init__(self, path: str | os.PathLike, want=None) -> None:
        self.path = os.fspath(path)
        self.label = self.path
        self._want = want if want is not None else (lambda _name: True)
        self._data: dict = {}
        self._files: set = set()
        self._dirs: set = set()
        self._load()

    def _load(self) -> None:
        data = self._data
        try:
            with _open(self.path, "r|*", self.label) as tar:
                members = []
                for info in tar:
                    members.append(info)
                    # Keep data now (stream mode cannot seek back); it is only exposed once the
                    # whole archive has been validated.
                    if info.isreg() and not _unsafe_name(normalise(info.name)):
                        name = normalise(info.name)
                        if self._want(name):
                            handle = tar.extractfile(info)
                            data[name] = handle.read() if handle is not None else b""
                        else:
                            data.pop(name, None)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            if isinstance(exc, ArchiveError):
                raise
            raise _read_error(self.label, exc) from None
        checked = validate_members(members, self.label)
        links: dict = {}
        hard: dict = {}
        for name, info in checked:
            links.pop(name, None)
            hard.pop(name, None)
            if info.isdir():
                self._dirs.add(name)
                self._files.discard(name)
            elif info.isreg():
                self._files.add(name)
            elif info.islnk():
                self._files.add(name)
                hard[name] = normalise(info.linkname)
            elif info.issym():
                self._files.discard(name)
                links[name] = info.linkname
        aliases: dict = {}  # wanted name -> the regular member that holds its data
        for name, first in hard.items():
            target, seen = first, {name}
            while target in hard and target not in seen:
                seen.add(target)
                target = hard[target]
            data.pop(name, None)
            if self._want(name) and target in self._files and target not in hard:
                aliases[name] = target
        for name, target in links.items():
            data.pop(name, None)
            if not self._want(name):
                continue
            resolved = _resolve(name.split("/")[:-1] + target.split("/"), links)
            real = "/".join(resolved) if resolved is not None else ""
            real = hard.get(real, real)
            if real in self._files and real not in hard:
                aliases[name] = real
        missing = {t for t in aliases.values() if t not in data}
        if missing:
            self._second_pass(missing)
        for name, target in aliases.items():
            data[name] = data[target]
            self._files.add(name)

    def _second_pass(self, wanted: set) -> None:
        """Read the regular files that links need but the first pass did not keep."""
        try:
            with _open(self.path, "r|*", self.label) as tar:
                for info in tar:
                    name = normalise(info.name)
                    if info.isreg() and name in wanted:
                        handle = tar.extractfile(info)
                        self._data[name] = handle.read() if handle is not None else b""
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise _read_error(self.label, exc) from None

    def names(self) -> list:
        return sorted(self._files)

    def exists(self, name: str) -> bool:
        return normalise(name) in self._files

    def isdir(self, prefix: str) -> bool:
        prefix = normalise(prefix)
        if prefix == "" or prefix in self._dirs:
            return True
        start = prefix + "/"
        return any(n.startswith(start) for n in self._files) or any(d.startswith(start) for d in self._dirs)

    def read(self, name: str) -> bytes:
        key = normalise(name)
        if key in self._data:
            return self._data[key]
        if key in self._files:
            raise ArchiveError(f"{self.source_name(key)}: not kept in memory (the reader did not ask for it)")
        raise ArchiveError(f"{self.source_name(key)}: no such file in the tarball")

    def source_name(self, name: str) -> str:
        return f"{self.label}:{normalise(name)}"

    def __repr__(self) -> str:
        return f"TarballSource({self.path!r})"


class DirectorySource:
    """An unpacked release root. Symbolic links are followed only while they stay inside it:
    ``read``/``exists``/``isdir`` of a name that resolves outside raise :class:`ArchiveError`;
    ``names()`` leaves such links out (listed in :attr:`escaping`).

    The tree is assumed not to change while it is read: ``names()`` and the real path of each
    directory are computed once; the last component of a name is checked on every access.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise ArchiveError(f"{self.path}: not a directory")
        self._real_root = os.path.realpath(self.path)
        self._prefix = os.path.join(self.path, "")  # the root with a trailing separator
        self._names: list | None = None
        self.escaping: list = []
        self._real_dirs: dict = {"": self._real_root}  # relative directory name -> its real path

    def _inside(self, real: str) -> bool:
        return real == self._real_root or real.startswith(self._real_root.rstrip("/") + "/")

    def _full(self, name: str, check_last: bool = True) -> str:
        """The path of ``name`` under the root, refused when it resolves outside the root.

        The directory part is resolved once per directory (:attr:`_real_dirs`); the last component
        needs a ``realpath`` only when it is itself a symbolic link (``check_last=False``: the
        caller opens it with ``O_NOFOLLOW`` and checks the link only if that fails).
        """
        key = normalise(name)
        why = _unsafe_name(key)
        if why:
            raise ArchiveError(f"{self.path}: refusing name {name!r}: {why}")
        if not key:
            return self.path
        parent = key.rpartition("/")[0]
        full = self._prefix + key  # os.path.join(root, *parts): the parts are neither empty nor absolute
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = os.path.realpath(self._prefix + parent)
            self._real_dirs[parent] = real_parent
        # Neither '.' nor '..' can be the last component of a normalised, safe name, so when it
        # is not a symbolic link the name's real path is real_parent/<last component>.
        if not self._inside(real_parent) or (
            check_last and os.path.islink(full) and not self._inside(os.path.realpath(full))
        ):
            raise self._escape_error(key)
        return full

    def _escape_error(self, key: str) -> ArchiveError:
        return ArchiveError(f"{self.source_name(key)}: refusing to follow a symbolic link that leaves {self.path}")

    def names(self) -> list:
        if self._names is None:
            found: list = []
            self._walk(self.path, "", {self._real_root}, found)
            self._names = sorted(found)
        return list(self._names)

    def _walk(self, directory: str, prefix: str, seen: set, found: list) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise ArchiveError(f"{directory}: cannot list: {exc.strerror or exc}") from None
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                real = os.path.realpath(entry.path)
                if not self._inside(real):
                    self.escaping.append(rel)
                    continue
                if os.path.isdir(real):
                    if real in seen:
                        continue  # a loop
                    self._walk(entry.path, rel + "/", seen | {real}, found)
                elif os.path.isfile(real):
                    found.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                self._walk(entry.path, rel + "/", seen | {os.path.realpath(entry.path)}, found)
            elif entry.is_file(follow_symlinks=False):
                found.append(rel)

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._full(name))

    def isdir(self, prefix: str) -> bool:
        return os.path.isdir(self._full(prefix))

    def read(self, name: str) -> bytes:
        full = self._full(name, check_last=not _O_NOFOLLOW)
        fd = None
        if _O_NOFOLLOW:
            # Most names are plain files: open without following a symbolic link as the last
            # component, and check the link (as _full does) only when that open fails.
            try:
                fd = os.open(full, _O_READ | _O_NOFOLLOW)
            except OSError:
                if os.path.islink(full) and not self._inside(os.path.realpath(full)):
                    raise self._escape_error(normalise(name)) from None
        try:
            if fd is None:
                fd = os.open(full, _O_READ)
            with open(fd, "rb", buffering=0) as handle:  # unbuffered: one read into one buffer
                return handle.read()
        except OSError as exc:
            raise ArchiveError(f"{full}: cannot read: {exc.strerror or exc}") from None

    def source_name(self, name: str) -> str:
        key = normalise(name)
        if not key:
            return self.path
        return os.path.join(self.path, *key.split("/")) if key.startswith("/") else self._prefix + key

    def __repr__(self) -> str:
        return f"DirectorySource({self.path!r})"


# ---------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------


def extract(tarball: str | os.PathLike, dest: str | os.PathLike) -> list:
    """Unpack ``tarball`` into ``dest`` (created if missing) after validating every member.

    A refused tarball writes nothing (``dest`` is not even created). Existing files are replaced;
    an existing symbolic link in ``dest`` that leads outside it is never written through.
    Returns the normalised names written.
    """
    path = os.fspath(tarball)
    label = path
    with _open(path, "r:*", label) as tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise _read_error(label, exc) from None
        checked = validate_members(members, label)
        dest = os.fspath(dest)
        os.makedirs(dest, exist_ok=True)
        real_dest = os.path.realpath(dest)
        safe_dirs: set = set()

        def target_of(name: str) -> str:
            return os.path.join(dest, *name.split("/"))

        def ensure_dir(rel: str) -> None:
            if rel == "" or rel in safe_dirs:
                return
            ensure_dir(posixpath.dirname(rel))
            full = target_of(rel)
            if os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full)):
                os.unlink(full)  # a stale file or link from an earlier content of dest
            if not os.path.isdir(full):
                os.mkdir(full, 0o755)
            real = os.path.realpath(full)
            if not (real == real_dest or real.startswith(real_dest.rstrip("/") + "/")):
                raise ArchiveError(f"{label}: {full} leads outside {dest}")
            safe_dirs.add(rel)

        written = []
        symlinks = []
        for name, info in checked:
            if info.isdir():
                ensure_dir(name)
                written.append(name)
                continue
            if info.issym():
                symlinks.append((name, info))
                continue
            ensure_dir(posixpath.dirname(name))
            full = target_of(name)
            if os.path.lexists(full) and (os.path.islink(full) or not os.path.isdir(full)):
                os.unlink(full)
            try:
                source = tar.extractfile(info)
            except (tarfile.TarError, KeyError, EOFError, zlib.error, OSError) as exc:
                raise _read_error(label, exc) from None
            mode = 0o755 if info.mode & 0o111 else 0o644
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(full, flags, mode)
            with os.fdopen(fd, "wb") as out:
                if source is not None:
                    while True:
                        block = source.read(1 << 20)
                        if not block:
                            break
                        out.write(block)
            os.chmod(full, mode)
            try:
                os.utime(full, (info.mtime, info.mtime))
            except (OSError, OverflowError, ValueError):
                pass
            written.append(name)
        for name, info in symlinks:  # last, so that no file is ever written through one
            ensure_dir(posixpath.dirname(name))
            full = target_of(name)
            if os.path.lexists(full):
                if os.path.isdir(full) and not os.path.islink(full):
                    raise ArchiveError(f"{label}: refusing entry {info.name!r}: {full} is an existing directory")
                os.unlink(full)
            os.symlink(info.linkname, full)
            written.append(name)
    return written
