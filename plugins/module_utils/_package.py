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
among the packed members). An addition whose name is a directory or a link of the release, or
lies below a link or a file, is refused.

The gzip stream is deflated in parallel (:class:`_ChunkedGzip`: fixed chunks of the tar, each
primed with the 32 KiB before it, as ``pigz`` does) and has no name and a zero timestamp: the
same inputs and level always give the same bytes (and so the same sha256), whatever the number of
threads. It is a plain single-member gzip file that ``gzip``, ``tarfile`` and ``erl_tar`` read.

:func:`write_package` takes a tarball (read once, in one pass, by :class:`~._archive.TarReader`),
:func:`pack_directory` a release directory (only the top-level entries named in ``roots`` are
packed, in name order, with their file system metadata). Both write to a binary file object and
return a :class:`PackageResult`. Any member ``_archive.validate_members`` refuses (absolute paths,
``..``, escaping links, devices) refuses the whole package with a :class:`~._archive.ArchiveError`
naming it, before anything is written.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import io
import os
import stat
import struct
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.erlang.otp.plugins.module_utils._archive import (
    ArchiveError,
    TarReader,
    normalise,
    validate_members,
)

__all__ = ["PackageResult", "crc32_combine", "gzip_chunks", "pack_directory", "write_package"]

ADDED_MODE = 0o644
# Level 6, gzip's own default: packages are built often and shipped once to every node; on a
# 25 MB release, level 1 saves about a third of the deflate time for a package 5% bigger, 9 costs
# about twice the time for about 1% less.
COMPRESS_LEVEL = 6
#: Bytes of tar per deflate job. The chunks are cut at fixed offsets of the tar stream, so the
#: output never depends on the number of threads.
CHUNK_SIZE = 1 << 18
_WINDOW = 1 << 15  # deflate's window: each chunk is primed with the 32 KiB of tar before it
_MAX_WORKERS = 8


class PackageResult:
    """What was written: ``sha256`` (hex), ``size`` (bytes), member names ``added`` and ``replaced``."""

    def __init__(self, sha256: str, size: int, added: list, replaced: list) -> None:
        self.sha256 = sha256
        self.size = size
        self.added = added
        self.replaced = replaced

    def __repr__(self) -> str:
        return f"PackageResult(sha256={self.sha256!r}, size={self.size}, added={self.added!r})"


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


def _check_places(members: list, additions: dict, label: str) -> None:
    """Refuse an addition that would meet a directory or link of the release: one of the same
    name (that is not a regular file, which is replaced) or one above it."""
    kinds: dict = {}
    for name, info in members:
        if info.isdir():
            kinds[name] = "directory"
        elif info.issym():
            kinds[name] = "symbolic link"
        elif info.islnk():
            kinds[name] = "hard link"
        else:
            kinds[name] = "regular file"
    for name in sorted(additions):
        kind = kinds.get(name)
        if kind not in (None, "regular file"):
            raise ArchiveError(f"{label}: refusing to add {name!r}: the release has a {kind} of that name")
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            kind = kinds.get(parent)
            if kind not in (None, "directory"):
                raise ArchiveError(f"{label}: refusing to add {name!r}: it would lie below the {kind} {parent!r}")


# ---------------------------------------------------------------------------------------------
# gzip, deflated in parallel
# ---------------------------------------------------------------------------------------------


def _workers() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return max(1, min(count, _MAX_WORKERS))


def _deflate(chunk, zdict, level: int, last: bool) -> tuple:
    """``(CRC-32, raw deflate)`` of one chunk, primed with ``zdict`` (the tar before it), ending on
    a byte boundary (``Z_SYNC_FLUSH``, no final block) unless it is the ``last``."""
    if zdict is not None:
        engine = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY, zdict)
    else:
        engine = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY)
    return zlib.crc32(chunk), engine.compress(chunk) + engine.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


# CRC-32 of a concatenation from the CRC-32s of its parts (zlib's crc32_combine, which Python's
# zlib module does not expose): crc(A + B) = crc(A) * x^(8 * len(B)) mod P  xor  crc(B), with
# polynomials over GF(2) in zlib's reflected bit order (x^0 is the high bit).
_CRC_POLY = 0xEDB88320


def _crc_multiply(a: int, b: int) -> int:
    """``a(x) * b(x) mod P(x)``."""
    product = 0
    mask = 1 << 31
    while mask and a:
        if a & mask:
            product ^= b
            a ^= mask
        mask >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


@functools.lru_cache(maxsize=16)
def _crc_shift(length: int) -> int:
    """``x^(8 * length) mod P(x)``: what multiplies a CRC to move it ``length`` bytes on."""
    result = 1 << 31  # x^0
    power = 1 << 23  # x^8
    while length:
        if length & 1:
            result = _crc_multiply(power, result)
        length >>= 1
        power = _crc_multiply(power, power)
    return result


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)``."""
    return _crc_multiply(_crc_shift(length2), crc1) ^ crc2


class _ChunkedGzip:
    """A single-member gzip stream whose deflate data is made chunk by chunk in a thread pool
    (zlib releases the GIL), the way ``pigz`` does: the tar is cut every :data:`CHUNK_SIZE`
    bytes, each chunk is deflated on its own with the 32 KiB before it as its dictionary and
    flushed to a byte boundary, and the pieces are concatenated in order. The bytes depend only
    on the data and the level, never on the thread count or the scheduling. The header has no
    name and a zero mtime; the trailer is the CRC-32 and the size, as in any gzip file.

    The compressed bytes go to ``sink`` (a callable), in order.
    """

    def __init__(self, sink, level: int = COMPRESS_LEVEL, workers: int | None = None) -> None:
        self._sink = sink
        self._level = level
        workers = _workers() if workers is None else max(1, workers)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="erlang-otp-gzip") if workers > 1 else None
        self._window = 2 * workers  # chunks in flight at most
        self._pending: collections.deque = collections.deque()
        self._parts: list = []
        self._have = 0
        self._zdict = None
        self._crc = 0
        self._size = 0
        self._shift = _crc_shift(CHUNK_SIZE)
        xfl = b"\x02" if level == 9 else b"\x04" if level == 1 else b"\x00"
        sink(b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + xfl + b"\xff")  # no flags, mtime 0, OS unknown

    def write(self, data) -> None:
        if not len(data):
            return
        self._parts.append(data)
        self._have += len(data)
        if self._have >= CHUNK_SIZE:
            blob = b"".join(self._parts)
            view = memoryview(blob)
            whole = len(blob) - len(blob) % CHUNK_SIZE
            for start in range(0, whole, CHUNK_SIZE):
                self._submit(view[start:start + CHUNK_SIZE], False)
            rest = blob[whole:]
            self._parts = [rest] if rest else []
            self._have = len(rest)

    def _submit(self, chunk, last: bool) -> None:
        zdict, self._zdict = self._zdict, chunk[-_WINDOW:]
        if self._pool is None:
            self._done(len(chunk), _deflate(chunk, zdict, self._level, last))
            return
        self._pending.append((len(chunk), self._pool.submit(_deflate, chunk, zdict, self._level, last)))
        while len(self._pending) > self._window:
            self._collect()

    def _collect(self) -> None:
        length, future = self._pending.popleft()
        self._done(length, future.result())

    def _done(self, length: int, result: tuple) -> None:
        """A chunk's deflate data, in order; its CRC joins the stream's."""
        crc, data = result
        shift = self._shift if length == CHUNK_SIZE else _crc_shift(length)
        self._crc = _crc_multiply(shift, self._crc) ^ crc
        self._size += length
        self._sink(data)

    def close(self) -> None:
        """Deflate what is left (the last chunk, maybe empty) and write the trailer."""
        self._submit(memoryview(b"".join(self._parts)), True)
        self._parts = []
        while self._pending:
            self._collect()
        self.shutdown()
        self._sink(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))

    def shutdown(self) -> None:
        """Stop the threads (also after an error: pending chunks are dropped)."""
        for _length, future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def gzip_chunks(data, level: int = COMPRESS_LEVEL, workers: int | None = None) -> bytes:
    """``data`` as the gzip stream the package writers make of a tar (for tests and tools)."""
    out: list = []
    gz = _ChunkedGzip(out.append, level, workers)
    try:
        gz.write(data)
        gz.close()
    finally:
        gz.shutdown()
    return b"".join(out)


# ---------------------------------------------------------------------------------------------
# Tar
# ---------------------------------------------------------------------------------------------


class _Writer:
    """Writes tar blocks into a :class:`_ChunkedGzip`."""

    def __init__(self, sink, level: int) -> None:
        self.gz = _ChunkedGzip(sink, level)
        self.offset = 0

    def raw(self, data) -> None:
        self.gz.write(data)
        self.offset += len(data)

    def member(self, info: tarfile.TarInfo, fileobj=None) -> None:
        """A new header for ``info``, then ``info.size`` bytes of ``fileobj``, padded to a block."""
        self.raw(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if info.isreg() and info.size:
            _copy(fileobj, self, info.size)
            self.raw(_padding(info.size))

    def add(self, name: str, data: bytes, mtime: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = ADDED_MODE
        info.mtime = mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self.member(info, io.BytesIO(data))

    def close(self) -> None:
        self.raw(b"\0" * (2 * tarfile.BLOCKSIZE))
        self.raw(b"\0" * (-self.offset % tarfile.RECORDSIZE))
        self.gz.close()


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


def _default_mtime(infos: list, mtime: int | None) -> int:
    if mtime is None:
        mtime = max((int(info.mtime) for info in infos), default=0)
    return int(mtime)


def _finish(writer: _Writer, prefix: str, additions: dict, replaced: list, mtime: int) -> tuple:
    added = sorted(name for name in additions if name not in replaced)
    for name in added:
        writer.add(prefix + name, additions[name], mtime)
    writer.close()
    return added, sorted(replaced)


def _replacement(info: tarfile.TarInfo, size: int) -> tarfile.TarInfo:
    """``info`` with another size (its pax records but the size, which the new header states)."""
    new = tarfile.TarInfo(info.name)
    for attr in ("mtime", "mode", "type", "linkname", "uid", "gid", "uname", "gname"):
        setattr(new, attr, getattr(info, attr))
    new.pax_headers = {k: v for k, v in info.pax_headers.items() if k != "size"}
    new.size = size
    return new


class _Hashing:
    """Hashes and counts what passes, and forwards it to ``dest`` (a callable)."""

    def __init__(self, dest) -> None:
        self._dest = dest
        self.digest = hashlib.sha256()
        self.size = 0

    def __call__(self, data) -> None:
        self.digest.update(data)
        self.size += len(data)
        self._dest(data)


def write_package(
    tarball: str | os.PathLike, dest, additions: dict, mtime: int | None = None, level: int = COMPRESS_LEVEL
) -> PackageResult:
    """Copy the release ``tarball`` to the binary file object ``dest`` with ``additions``.

    ``additions`` maps member names (``releases/1.1.0/relup``) to their bytes. The blocks of every
    member not replaced (headers, extended headers and data) are copied as they are.

    The tarball is read once (:class:`~._archive.TarReader`) while the package is deflated in
    threads into memory; ``dest`` gets nothing unless every member passed
    :func:`~._archive.validate_members`.
    """
    label = os.fspath(tarball)
    additions = _check_additions(additions)
    out: list = []
    hashing = _Hashing(out.append)  # held until every member has been checked
    writer = _Writer(hashing, level)
    try:
        infos = []
        replaced = []
        with TarReader(label) as reader:
            for info, raw, gap in reader.members():
                infos.append(info)
                name = normalise(info.name)
                if info.isreg() and name in additions:
                    writer.raw(raw[:gap])  # global headers before the member stay
                    writer.member(_replacement(info, len(additions[name])), io.BytesIO(additions[name]))
                    replaced.append(name)
                    continue
                writer.raw(raw)
                for piece in reader.data_blocks(info):
                    writer.raw(piece)
        members = validate_members(infos, label)
        _check_places(members, additions, label)
        prefix = "./" if members and members[0][1].name.startswith("./") else ""
        added, replaced = _finish(writer, prefix, additions, replaced, _default_mtime([i for _n, i in members], mtime))
    finally:
        writer.gz.shutdown()
    for piece in out:
        dest.write(piece)
    return PackageResult(hashing.digest.hexdigest(), hashing.size, added, replaced)


def _walk(root: str, rel: str, out: list) -> None:
    path = os.path.join(root, rel)
    st = os.lstat(path)
    out.append((rel, path, st))
    if stat.S_ISDIR(st.st_mode):
        for entry in sorted(os.listdir(path)):
            _walk(root, f"{rel}/{entry}", out)


def pack_directory(
    root: str | os.PathLike,
    roots: list,
    dest,
    additions: dict,
    mtime: int | None = None,
    level: int = COMPRESS_LEVEL,
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
    members = validate_members(infos, root)
    _check_places(members, additions, root)
    hashing = _Hashing(dest.write)
    writer = _Writer(hashing, level)
    try:
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
        added, replaced = _finish(writer, "", additions, replaced, _default_mtime(infos, mtime))
    finally:
        writer.gz.shutdown()
    return PackageResult(hashing.digest.hexdigest(), hashing.size, added, replaced)
