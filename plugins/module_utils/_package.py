# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Upgrade packages: a release tarball with files (the relup, appups) added or replaced.

PRIVATE to the erlang.otp collection: may change at any time.

An upgrade package is what ``release_handler:unpack_release/1`` takes: the release tarball as
``rebar3 tar`` or ``mix release`` made it, plus ``releases/<vsn>/relup`` and the appups. The tar
blocks of every member of the source (headers, extended headers, data) are copied unchanged; a
member named in ``additions`` gets a new header (the same fields, but for the size) and the new
bytes; additions the source lacks are appended after the copied members, in name order, as
regular files with mode 0644, owner 0:0 and the ``mtime`` given (by default the newest mtime
among the packed members). The gzip stream has no name and a zero timestamp, so the same inputs
always give the same bytes (and so the same sha256).

:func:`write_package` takes a tarball, :func:`pack_directory` a release directory (only the
top-level entries named in ``roots`` are packed, in name order, with their file system metadata).
Both write to a binary file object and return a :class:`PackageResult`. Any member
``_archive.validate_members`` refuses (absolute paths, ``..``, escaping links, devices) refuses
the whole package with a :class:`~._archive.ArchiveError` naming it.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import tarfile
import zlib

from ansible_collections.erlang.otp.plugins.module_utils._archive import ArchiveError, normalise, validate_members

__all__ = ["PackageResult", "pack_directory", "write_package"]

ADDED_MODE = 0o644
# Level 6, gzip's own default: packages are built often and shipped once to every node, and 9
# costs about twice the time for about 1% less.
COMPRESS_LEVEL = 6


class PackageResult:
    """What was written: ``sha256`` (hex), ``size`` (bytes), member names ``added`` and ``replaced``."""

    def __init__(self, sha256: str, size: int, added: list, replaced: list) -> None:
        self.sha256 = sha256
        self.size = size
        self.added = added
        self.replaced = replaced

    def __repr__(self) -> str:
        return f"PackageResult(sha256={self.sha256!r}, size={self.size}, added={self.added!r})"


class _Hashing(io.RawIOBase):
    """A write-only stream that forwards to ``dest`` and hashes and counts what passes."""

    def __init__(self, dest) -> None:
        super().__init__()
        self._dest = dest
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self._dest.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _check_additions(additions: dict) -> dict:
    checked = {}
    for name, data in additions.items():
        clean = normalise(name)
        if not clean or clean.startswith("/") or ".." in clean.split("/"):
            raise ArchiveError(f"upgrade package: refusing to add {name!r}: not a relative path inside the release")
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"upgrade package: the content of {name!r} must be bytes")
        checked[clean] = bytes(data)
    return checked


class _Writer:
    """Writes tar blocks into a deterministic gzip stream that is hashed as it goes."""

    def __init__(self, dest, mtime: int | None, infos: list) -> None:
        if mtime is None:
            mtime = max((int(info.mtime) for info in infos), default=0)
        self.hashing = _Hashing(dest)
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.hashing, mtime=0, compresslevel=COMPRESS_LEVEL)
        self.mtime = int(mtime)
        self.offset = 0

    def raw(self, data: bytes) -> None:
        self.gz.write(data)
        self.offset += len(data)

    def member(self, info: tarfile.TarInfo, fileobj=None) -> None:
        """A new header for ``info``, then ``info.size`` bytes of ``fileobj``, padded to a block."""
        self.raw(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if info.isreg() and info.size:
            _copy(fileobj, self, info.size)
            self.raw(_padding(info.size))

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = ADDED_MODE
        info.mtime = self.mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self.member(info, io.BytesIO(data))

    def close(self, added: list, replaced: list) -> PackageResult:
        self.raw(b"\0" * (2 * tarfile.BLOCKSIZE))
        self.raw(b"\0" * (-self.offset % tarfile.RECORDSIZE))
        self.gz.close()
        return PackageResult(self.hashing.digest.hexdigest(), self.hashing.size, added, replaced)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def _copy(source, writer: _Writer, size: int) -> None:
    """Copy exactly ``size`` bytes of ``source`` to ``writer``."""
    left = size
    while left:
        chunk = source.read(min(left, 1 << 20))
        if not chunk:
            raise EOFError(f"unexpected end of data, {left} bytes short")
        writer.raw(chunk)
        left -= len(chunk)


def _skip(source, size: int) -> None:
    left = size
    while left:
        chunk = source.read(min(left, 1 << 20))
        if not chunk:
            raise EOFError(f"unexpected end of data, {left} bytes short")
        left -= len(chunk)


def _finish(writer: _Writer, prefix: str, additions: dict, replaced: list) -> PackageResult:
    added = sorted(name for name in additions if name not in replaced)
    for name in added:
        writer.add(prefix + name, additions[name])
    return writer.close(added, sorted(replaced))


def _copy_info(info: tarfile.TarInfo) -> tarfile.TarInfo:
    new = tarfile.TarInfo(info.name)
    for attr in ("size", "mtime", "mode", "type", "linkname", "uid", "gid", "uname", "gname"):
        setattr(new, attr, getattr(info, attr))
    new.pax_headers = dict(info.pax_headers)
    return new


def _decompressed(path: str):
    """The tar stream inside ``path`` (gzip, bzip2, xz or none), as a binary file object."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _end(info: tarfile.TarInfo) -> int:
    """Where a member's blocks end in the tar stream."""
    size = info.size if info.isreg() else 0
    return info.offset_data + size + len(_padding(size))


def write_package(tarball: str | os.PathLike, dest, additions: dict, mtime: int | None = None) -> PackageResult:
    """Copy the release ``tarball`` to the binary file object ``dest`` with ``additions``.

    ``additions`` maps member names (``releases/1.1.0/relup``) to their bytes. The blocks of every
    member not replaced (headers, extended headers and data) are copied as they are.
    """
    label = os.fspath(tarball)
    additions = _check_additions(additions)
    errors = (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError)
    try:
        with tarfile.open(label, "r:*") as source:
            members = validate_members(source.getmembers(), label)
    except ArchiveError:
        raise
    except errors as exc:
        raise ArchiveError(f"{label}: not a readable tar archive: {exc}") from None
    prefix = "./" if members and members[0][1].name.startswith("./") else ""
    writer = _Writer(dest, mtime, [info for _name, info in members])
    replaced = []
    position = 0
    try:
        with _decompressed(label) as stream:
            for name, info in members:
                if not (name in additions and info.isreg()):
                    continue
                _copy(stream, writer, info.offset - position)
                _skip(stream, _end(info) - info.offset)
                position = _end(info)
                new = _copy_info(info)
                new.size = len(additions[name])
                writer.member(new, io.BytesIO(additions[name]))
                replaced.append(name)
            if members:
                _copy(stream, writer, max(_end(info) for _name, info in members) - position)
    except errors as exc:
        raise ArchiveError(f"{label}: corrupt or truncated tar archive: {exc}") from None
    return _finish(writer, prefix, additions, replaced)


def _walk(root: str, rel: str, out: list) -> None:
    path = os.path.join(root, rel)
    st = os.lstat(path)
    out.append((rel, path, st))
    if stat.S_ISDIR(st.st_mode):
        for entry in sorted(os.listdir(path)):
            _walk(root, f"{rel}/{entry}", out)


def pack_directory(
    root: str | os.PathLike, roots: list, dest, additions: dict, mtime: int | None = None
) -> PackageResult:
    """Pack the release directory ``root`` (only its top-level entries ``roots``) with ``additions``.

    Regular files, directories and symbolic links are packed with their mode, owner and mtime;
    anything else (a socket, a device) refuses the package.
    """
    root = os.fspath(root)
    additions = _check_additions(additions)
    entries: list = []
    for top in sorted(set(roots)):
        if os.path.lexists(os.path.join(root, top)):
            _walk(root, top, entries)
    infos = []
    for rel, path, st in entries:
        info = tarfile.TarInfo(rel)
        info.mtime = int(st.st_mtime)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        if stat.S_ISREG(st.st_mode):
            info.size = st.st_size
        elif stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(path)
        else:
            raise ArchiveError(f"{path}: refusing to pack: not a regular file, directory or symbolic link")
        infos.append(info)
    validate_members(infos, root)
    writer = _Writer(dest, mtime, infos)
    replaced = []
    for info, (rel, path, _st) in zip(infos, entries):
        if info.isreg() and rel in additions:
            info.size = len(additions[rel])
            writer.member(info, io.BytesIO(additions[rel]))
            replaced.append(rel)
        elif info.isreg():
            with open(path, "rb") as handle:
                writer.member(info, handle)
        else:
            writer.member(info)
    return _finish(writer, "", additions, replaced)
