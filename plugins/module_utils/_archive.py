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
  the members a predicate selects (nothing is extracted). It reads with :class:`TarReader`, this
  module's own tar header parser (faster than ``tarfile``'s reader and strict where readers
  disagree, ``erl_tar`` first: see its docstring), also used by ``_package``;
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
import re
import tarfile
import zlib
from collections.abc import Iterator

try:  # both are optional parts of a Python build (tarfile imports them only when needed too)
    import bz2
except ImportError:  # pragma: no cover
    bz2 = None  # type: ignore[assignment]
try:
    import lzma
except ImportError:  # pragma: no cover
    lzma = None  # type: ignore[assignment]

__all__ = [
    "ArchiveError",
    "DirectorySource",
    "TarReader",
    "TarballSource",
    "extract",
    "normalise",
    "validate_members",
]

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
# Reading tar streams
# ---------------------------------------------------------------------------------------------

_BLOCK = tarfile.BLOCKSIZE
_ZERO_BLOCK = bytes(_BLOCK)
_READ_SIZE = 1 << 20  # compressed bytes read from the file at a time
_INFLATE_LIMIT = 1 << 20  # decompressed bytes per call: bounds memory on highly compressed input
_REGULAR = frozenset((tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE))
# erl_tar reads no data for these whatever their size field says; for every other type it reads
# ``size`` bytes (tarfile differs for devices and FIFOs, which are refused anyway).
_HEADER_ONLY = frozenset((tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE))
_MAX_EXTENDED = 1 << 20  # bytes of one extended header (names, pax records) at most
_PAX_NUMBER = re.compile(r"[0-9]+\Z")
_PAX_TIME = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
_HIGH_BYTES = bytes(range(128, 256))


class _Corrupt(Exception):
    """A damaged tar stream (raised inside the reader, reported as an :class:`ArchiveError`)."""


# What reading a damaged or unreadable file raises (bz2 raises OSError).
_READ_ERRORS = (_Corrupt, EOFError, zlib.error, OSError) + ((lzma.LZMAError,) if lzma is not None else ())


def _gunzip():
    """A decompressor of one gzip member (it checks the header, the CRC-32 and the size)."""
    return zlib.decompressobj(31)


def _decompressed(handle) -> Iterator:
    """The tar stream in the open file ``handle`` (gzip, bzip2, xz or none), in pieces.

    Concatenated compressed streams are read one after the other (zero padding between or after
    them is skipped, as gzip does); a compressed stream cut short raises :class:`_Corrupt`.
    """
    data = handle.read(_READ_SIZE)
    if data.startswith(b"\x1f\x8b"):
        factory, is_zlib = _gunzip, True
    elif data.startswith(b"BZh"):
        if bz2 is None:
            raise _Corrupt("bzip2-compressed, and this Python has no bz2 module")
        factory, is_zlib = bz2.BZ2Decompressor, False
    elif data.startswith(b"\xfd7zXZ\x00"):
        if lzma is None:
            raise _Corrupt("xz-compressed, and this Python has no lzma module")
        factory, is_zlib = lzma.LZMADecompressor, False
    else:
        while data:
            yield data
            data = handle.read(_READ_SIZE)
        return
    while True:  # one gzip member, bzip2 stream or xz stream per turn
        stream = factory()
        while True:
            out = stream.decompress(data, _INFLATE_LIMIT)
            if out:
                yield out
            if stream.eof:
                break
            if is_zlib:
                data = stream.unconsumed_tail
                more = not data and len(out) < _INFLATE_LIMIT
            else:
                data, more = b"", stream.needs_input
            if more:
                data = handle.read(_READ_SIZE)
                if not data:
                    raise _Corrupt("the compressed stream ends early")
        data = stream.unused_data.lstrip(b"\0")
        while not data:
            data = handle.read(_READ_SIZE)
            if not data:
                return
            data = data.lstrip(b"\0")


class _Stream:
    """Exact reads over an iterator of byte strings; :attr:`offset` counts the bytes consumed."""

    def __init__(self, chunks) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self.offset = 0

    def _next(self) -> bytes | None:
        for chunk in self._chunks:
            if chunk:
                return chunk
        return None

    def block(self) -> bytes | None:
        """The next 512 bytes, or None when the stream ends exactly here."""
        if self._pos == len(self._buf):
            chunk = self._next()
            if chunk is None:
                return None
            self._buf, self._pos = chunk, 0
        return self.read(_BLOCK)

    def pieces(self, size: int) -> Iterator:
        """The next ``size`` bytes as memoryview slices (no copy); :class:`_Corrupt` if fewer."""
        while size:
            pos = self._pos
            have = len(self._buf) - pos
            if not have:
                chunk = self._next()
                if chunk is None:
                    raise _Corrupt(f"unexpected end of data, {size} bytes short")
                self._buf, self._pos = chunk, 0
                continue
            take = min(have, size)
            self._pos = pos + take
            self.offset += take
            size -= take
            yield memoryview(self._buf)[pos:pos + take]

    def read(self, size: int) -> bytes:
        pos = self._pos
        end = pos + size
        if end <= len(self._buf):
            self._pos = end
            self.offset += size
            return self._buf[pos:end]
        return b"".join(self.pieces(size))

    def drain(self) -> None:
        """Consume (and forget) the rest of the stream."""
        while self._next() is not None:
            pass
        self._buf, self._pos = b"", 0

    def skip(self, size: int) -> None:
        end = self._pos + size
        if end <= len(self._buf):
            self._pos = end
            self.offset += size
            return
        for _piece in self.pieces(size):
            pass


def _blocks(size: int) -> int:
    """``size`` rounded up to whole tar blocks."""
    return (size + _BLOCK - 1) // _BLOCK * _BLOCK


def _number(field: bytes) -> int:
    """A numeric header field: octal digits between spaces/NULs, or GNU base-256."""
    digits = field.strip(b" \0")
    if digits.isdigit():  # the usual case: ASCII digits only (no sign, space or underscore)
        try:
            return int(digits, 8)
        except ValueError:  # an 8 or a 9
            pass
    elif not digits:
        return 0
    if field and field[0] & 0x80:
        if field[0] == 0x80:
            return int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:
            return int.from_bytes(field[1:], "big") - (1 << (8 * (len(field) - 1)))
        raise _Corrupt(f"invalid numeric field {bytes(field)!r}")
    digits = field.strip(b" \0")
    # erl_tar skips spaces and NULs anywhere in the field, tarfile stops at the first NUL: a field
    # they would read differently is refused.
    if digits.strip(b"01234567"):
        raise _Corrupt(f"invalid numeric field {bytes(field)!r}")
    return int(digits, 8) if digits else 0


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` of a 512-byte block, in C: the low half of an Adler-32 is one plus the sum
    of the bytes modulo 65521, exact for 256 bytes (at most 65280)."""
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def _checksum(block: bytes) -> int | None:
    """The header's checksum field when it matches the header, else None."""
    try:
        expected = _number(block[148:156])
    except _Corrupt:
        return None
    unsigned = _byte_sum(block) - sum(block[148:156]) + 8 * 32  # the checksum field counts as spaces
    if expected == unsigned:
        return expected
    high = len(block) - len(block.translate(None, _HIGH_BYTES))
    high -= 8 - len(block[148:156].translate(None, _HIGH_BYTES))
    return expected if expected == unsigned - 256 * high else None  # some old tars sum signed bytes


def _text(field: bytes, what: str) -> str:
    try:
        return bytes(field).split(b"\0", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise _Corrupt(f"{what} is not valid UTF-8: {bytes(field)!r}") from None


def _pax_records(data: bytes) -> dict:
    """The records of a pax extended header (``"<len> <key>=<value>\\n"``), as str -> str."""
    records: dict = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 24)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise _Corrupt("malformed pax extended header")
        end = pos + int(digits)
        if end <= space + 1:
            raise _Corrupt("malformed pax extended header")
        key, eq, value = data[space + 1:end - 1].partition(b"=")
        if end > len(data) or data[end - 1:end] != b"\n" or not eq or not key or b"\n" in value:
            # erl_tar splits records at the first newline: a value holding one would be read
            # differently there.
            raise _Corrupt("malformed pax extended header")
        try:
            records[key.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise _Corrupt(f"pax extended header record {bytes(key)!r} is not valid UTF-8") from None
        pos = end
    return records


def _pax_int(records: dict, key: str) -> int:
    value = records[key]
    if not _PAX_NUMBER.match(value):
        raise _Corrupt(f"invalid pax {key} {value!r}")
    return int(value)


class TarReader:
    """A tar archive (plain, gzip, bzip2 or xz) read once, sequentially, without ``tarfile``'s
    reader: :meth:`members` parses the headers itself (ustar, pax ``x`` headers, GNU long names
    and links, v7) into ``tarfile.TarInfo`` objects with ``offset`` (of the member's first header,
    extended ones included, as ``tarfile`` sets it) and ``offset_data``.

    It reads names as ``erl_tar`` (what ``release_handler`` unpacks with) does: the ustar
    ``prefix`` only with the POSIX ``ustar\\0`` magic, GNU long names and pax records. Where
    ``erl_tar`` and other readers would see different members it refuses instead: two extended
    headers giving the same field, a global pax header giving a path, link path or size, an
    extended header followed by a global one, pax values with a newline, numeric fields with
    inner spaces or NULs, base-256 sizes, GNU sparse files, a regular file named like a directory,
    a non-zero block after an end-of-archive block, and names that are not UTF-8. Members are
    not validated here (:func:`validate_members` does that).
    """

    def __init__(self, path: str | os.PathLike, label: str | None = None) -> None:
        self.path = os.fspath(path)
        self.label = label if label is not None else self.path
        try:
            self._handle = open(self.path, "rb")  # pylint: disable=consider-using-with
        except OSError as exc:
            raise ArchiveError(f"{self.label}: not a readable tar archive: {exc}") from None
        self._stream = _Stream(_decompressed(self._handle))
        self._current = None  # (info, where its blocks end) of the member last yielded

    def __enter__(self) -> TarReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._handle.close()

    def _error(self, exc: BaseException) -> ArchiveError:
        why = exc.args[0] if isinstance(exc, _Corrupt) and exc.args else exc
        if self._stream.offset <= _BLOCK:
            return ArchiveError(f"{self.label}: not a readable tar archive: {why}")
        return ArchiveError(f"{self.label}: corrupt or truncated tar archive: {why}")

    def members(self) -> Iterator:
        """``(info, raw, gap)`` per member: ``raw`` holds the member's header blocks (extended
        headers and header) preceded by ``gap`` bytes of global pax headers that belong to no
        member. Between two steps the caller may take the member's data with :meth:`read` or
        :meth:`data_blocks`; what it leaves is skipped."""
        try:
            yield from self._members()
        except _READ_ERRORS as exc:
            raise self._error(exc) from None

    def _members(self) -> Iterator:
        stream = self._stream
        while True:
            if self._current is not None:
                end = self._current[1]
                if stream.offset < end:
                    stream.skip(end - stream.offset)
                self._current = None
            start = stream.offset
            raw: list = []
            gap = 0
            first = None  # offset of the member's first extended header
            gnu: dict = {}  # path / linkpath given by GNU long name and long link headers
            pax: dict = {}  # the records of the pax extended headers
            while True:
                here = stream.offset
                block = stream.block()
                if block is None:
                    if first is not None:
                        raise _Corrupt("the archive ends after an extended header")
                    if here == 0:
                        raise _Corrupt("empty file")
                    return
                if block == _ZERO_BLOCK:
                    if first is not None:
                        raise _Corrupt("the archive ends after an extended header")
                    after = stream.block()
                    if after is not None and after != _ZERO_BLOCK:
                        raise _Corrupt(f"data after the end-of-archive block at offset {here}")
                    stream.drain()  # to the end of the compressed stream, which checks its CRC
                    return
                chksum = _checksum(block)
                if chksum is None:
                    raise _Corrupt(f"bad header checksum at offset {here}")
                kind = block[156:157]
                size = _number(block[124:136])
                if block[124] & 0x80 or size < 0:
                    raise _Corrupt(f"unsupported size field at offset {here}")
                if kind in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                    if size > _MAX_EXTENDED:
                        raise _Corrupt(f"extended header of {size} bytes at offset {here}")
                    data = stream.read(_blocks(size))
                    raw.append(block)
                    raw.append(data)
                    if kind == tarfile.XGLTYPE:
                        if first is not None:
                            raise _Corrupt(f"global pax header after an extended header at offset {here}")
                        given = sorted(set(_pax_records(data[:size])) & {"path", "linkpath", "size"})
                        if given:
                            raise _Corrupt(f"global pax header sets {', '.join(given)} at offset {here}")
                        gap = stream.offset - start
                        continue
                    if first is None:
                        first = here
                    if kind == tarfile.XHDTYPE:
                        records, target = _pax_records(data[:size]), pax
                        if any(key.startswith("GNU.sparse.") for key in records):
                            raise _Corrupt(f"GNU sparse files are not supported (offset {here})")
                    elif kind == tarfile.GNUTYPE_LONGNAME:
                        records, target = {"path": _text(data[:size], "GNU long name")}, gnu
                    else:
                        records, target = {"linkpath": _text(data[:size], "GNU long link name")}, gnu
                    for key, value in records.items():
                        # erl_tar lets the last extended header win, tarfile the first: refused.
                        if pax.get(key, gnu.get(key, value)) != value:
                            raise _Corrupt(f"two extended headers give different {key} values (offset {first})")
                        target[key] = value
                    continue
                raw.append(block)
                break
            if kind == tarfile.GNUTYPE_SPARSE:
                raise _Corrupt(f"GNU sparse files are not supported (offset {here})")
            info = self._info(block, kind, size, gnu, pax)
            info.chksum = chksum
            info.offset = first if first is not None else here
            info.offset_data = stream.offset
            data_size = 0 if kind in _HEADER_ONLY else info.size
            self._current = (info, info.offset_data + _blocks(data_size))
            yield info, b"".join(raw), gap

    @staticmethod
    def _info(block: bytes, kind: bytes, size: int, gnu: dict, pax: dict) -> tarfile.TarInfo:
        name = _text(block[0:100], "member name")
        magic = block[257:263]
        if magic == b"ustar\0":  # POSIX ustar (or star, whose prefix is shorter)
            prefix = _text(block[345:476] if block[508:512] == b"tar\0" else block[345:500], "name prefix")
            if prefix:
                if name.startswith("/"):
                    raise _Corrupt(f"absolute name {name!r} after the prefix {prefix!r}")
                name = f"{prefix}/{name}"
        name = pax.get("path", gnu.get("path", name))
        info = tarfile.TarInfo(name)
        info.mode = _number(block[100:108])
        info.uid = _number(block[108:116])
        info.gid = _number(block[116:124])
        info.size = size
        info.mtime = _number(block[136:148])
        info.type = kind
        link = pax.get("linkpath", gnu.get("linkpath"))
        info.linkname = link if link is not None else _text(block[157:257], "link name")
        info.uname = bytes(block[265:297]).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        info.gname = bytes(block[297:329]).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
            info.devmajor = _number(block[329:337])
            info.devminor = _number(block[337:345])
        if pax:
            for key in ("uid", "gid", "size"):
                if key in pax:
                    setattr(info, key, _pax_int(pax, key))
            if "mtime" in pax:
                if not _PAX_TIME.match(pax["mtime"]):
                    raise _Corrupt(f"invalid pax mtime {pax['mtime']!r}")
                info.mtime = float(pax["mtime"])
            for key in ("uname", "gname"):
                if key in pax:
                    setattr(info, key, pax[key])
            info.pax_headers = dict(pax)
        if kind in _REGULAR and info.name.endswith("/"):
            raise _Corrupt(f"regular file entry with a directory name {info.name!r}")
        if kind == tarfile.DIRTYPE:
            info.name = info.name.rstrip("/") or info.name
        return info

    def _check(self, info: tarfile.TarInfo) -> None:
        if self._current is None or self._current[0] is not info or self._stream.offset != info.offset_data:
            raise ValueError("TarReader: the data of a member is read right after the member, once")

    def read(self, info: tarfile.TarInfo) -> bytes:
        """The data of the regular member ``info`` just yielded by :meth:`members`."""
        self._check(info)
        try:
            return self._stream.read(info.size)
        except _READ_ERRORS as exc:
            raise self._error(exc) from None

    def data_blocks(self, info: tarfile.TarInfo) -> Iterator:
        """The data blocks (data and padding) of the member ``info`` just yielded, in pieces."""
        self._check(info)
        try:
            yield from self._stream.pieces(self._current[1] - info.offset_data)
        except _READ_ERRORS as exc:
            raise self._error(exc) from None


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
        members = []
        with TarReader(self.path, self.label) as reader:
            for info, _raw, _gap in reader.members():
                members.append(info)
                # Keep data now (the archive is read once); it is only exposed once the whole
                # archive has been validated.
                if info.isreg():
                    name = normalise(info.name)
                    if self._want(name):
                        data[name] = reader.read(info)
                    else:
                        data.pop(name, None)
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
        with TarReader(self.path, self.label) as reader:
            for info, _raw, _gap in reader.members():
                name = normalise(info.name)
                if info.isreg() and name in wanted:
                    self._data[name] = reader.read(info)

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
