# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Safe tarball handling: hostile members are refused before anything is read or written."""
from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import tracemalloc
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._archive import (
    ArchiveError,
    DirectorySource,
    TarballSource,
    TarReader,
    _byte_sum,
    extract,
    normalise,
)

# An entry: (name, kind, payload) with kind "file" (payload bytes), "exec" (bytes), "dir",
# "sym" (payload = link target), "hard" (payload = member linked to), "fifo", "chr".


def make_tar(path: Path, entries: list, compression: str = "gz") -> Path:
    with tarfile.open(path, f"w:{compression}") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            data = None
            if kind in ("file", "exec"):
                data = payload
                info.size = len(data)
                info.mode = 0o755 if kind == "exec" else 0o644
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
            elif kind == "hard":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chr":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
            else:
                raise AssertionError(kind)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


GOOD_FIRST = ("releases/1.0.0/shop.rel", "file", b"{release, {\"shop\", \"1.0.0\"}, {erts, \"1\"}, []}.\n")

HOSTILE = {
    "dotdot": ([("../x", "file", b"evil")], "../x", "'..' component"),
    "absolute": ([("/etc/x", "file", b"evil")], "/etc/x", "absolute path"),
    "inner-dotdot": ([("a/../../x", "file", b"evil")], "a/../../x", "'..' component"),
    "dotdot-after-good-dir": ([("lib/", "dir", None), ("lib/../../x", "file", b"e")], "lib/../../x", "'..'"),
    "symlink-absolute": ([("passwd", "sym", "/etc/passwd")], "passwd", "absolute"),
    "symlink-up": ([("up", "sym", "../..")], "up", "outside the root"),
    "symlink-up-nested": ([("a/b/up", "sym", "../../..")], "a/b/up", "outside the root"),
    "symlink-via-link": (
        [("here", "sym", "."), ("sneaky", "sym", "here/..")], "sneaky", "outside the root"
    ),
    "symlink-made-unsafe-later": (
        [("sneaky", "sym", "later/.."), ("later", "sym", ".")], "sneaky", "outside the root"
    ),
    "write-through-symlink": (
        [("lib", "sym", "releases"), ("lib/x", "file", b"e")], "lib/x", "below the symbolic link"
    ),
    "hardlink-outside": ([("x", "hard", "../outside")], "x", "outside the root"),
    "hardlink-absolute": ([("x", "hard", "/etc/passwd")], "x", "outside the root"),
    "hardlink-missing": ([("x", "hard", "nowhere")], "x", "not an earlier regular file"),
    "fifo": ([("releases/fifo", "fifo", None)], "releases/fifo", "FIFO"),
    "chardev": ([("dev/null", "chr", None)], "dev/null", "device"),
}


def _snapshot(root: Path) -> set:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tarball_is_refused_and_writes_nothing(tmp_path: Path, case: str) -> None:
    entries, entry, reason = HOSTILE[case]
    box = tmp_path / "box"
    box.mkdir()
    tarball = make_tar(box / "evil.tar.gz", [GOOD_FIRST, *entries])
    before = _snapshot(tmp_path)
    dest = box / "dest" / "root"
    with pytest.raises(ArchiveError) as err:
        extract(tarball, dest)
    message = str(err.value)
    assert str(tarball) in message
    assert repr(entry) in message
    assert reason in message
    assert not dest.exists() and not dest.parent.exists()
    assert _snapshot(tmp_path) == before  # nothing written anywhere, in or outside dest
    with pytest.raises(ArchiveError) as err2:
        TarballSource(tarball)
    assert repr(entry) in str(err2.value)


def test_hostile_member_refused_even_into_existing_dest(tmp_path: Path) -> None:
    tarball = make_tar(tmp_path / "evil.tar", [GOOD_FIRST, ("../x", "file", b"evil")], compression="")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ArchiveError):
        extract(tarball, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "x").exists()


GOOD = [
    ("./", "dir", None),
    ("./bin/", "dir", None),
    ("./bin/shop", "exec", b"#!/bin/sh\necho shop\n"),
    ("./releases/1.0.0/shop.rel", "file", b"rel"),
    ("lib/shop-0.1.0/ebin/shop.app", "file", b"app"),
    ("lib/shop-0.1.0/ebin/shop_app.beam", "file", b"beam"),
    ("lib/shop-0.1.0/priv/readme", "hard", "lib/shop-0.1.0/ebin/shop.app"),
    ("bin/start", "sym", "shop"),
    ("current", "sym", "lib/shop-0.1.0"),
    ("lib/shop-0.1.0/ebin/again.app", "sym", "../../shop-0.1.0/./ebin/shop.app"),
]


def test_good_tarball_extracts_with_links_and_modes(tmp_path: Path) -> None:
    tarball = make_tar(tmp_path / "good.tar.gz", GOOD)
    dest = tmp_path / "out"
    written = extract(tarball, dest)
    assert "bin/shop" in written and "current" in written
    assert (dest / "bin" / "shop").read_bytes() == b"#!/bin/sh\necho shop\n"
    assert os.stat(dest / "bin" / "shop").st_mode & 0o777 == 0o755
    assert os.stat(dest / "releases/1.0.0/shop.rel").st_mode & 0o777 == 0o644
    assert os.readlink(dest / "bin" / "start") == "shop"
    assert (dest / "bin" / "start").read_bytes().startswith(b"#!/bin/sh")
    assert os.readlink(dest / "current") == "lib/shop-0.1.0"
    assert (dest / "current" / "ebin" / "shop_app.beam").read_bytes() == b"beam"
    assert (dest / "lib/shop-0.1.0/ebin/again.app").read_bytes() == b"app"
    hard = dest / "lib/shop-0.1.0/priv/readme"
    assert hard.read_bytes() == b"app" and not hard.is_symlink()
    assert os.stat(dest / "lib/shop-0.1.0/ebin/shop.app").st_mtime == 1_700_000_000
    assert _snapshot(tmp_path) - {"good.tar.gz"} == {"out", *("out/" + p for p in _snapshot(dest))}


def test_extract_over_an_earlier_tree_replaces_files_and_links(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    extract(make_tar(tmp_path / "a.tar.gz", GOOD), dest)
    second = [("bin/start", "file", b"now a file"), ("current", "sym", "bin"), ("bin/shop", "file", b"v2")]
    extract(make_tar(tmp_path / "b.tar.gz", second), dest)
    assert (dest / "bin/start").read_bytes() == b"now a file" and not (dest / "bin/start").is_symlink()
    assert os.readlink(dest / "current") == "bin"
    assert (dest / "bin/shop").read_bytes() == b"v2"
    assert not stat.S_IMODE(os.stat(dest / "bin/shop").st_mode) & 0o111


def test_extract_never_writes_through_an_existing_escaping_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "lib").symlink_to(outside)
    (dest / "f").symlink_to(outside / "f")
    extract(make_tar(tmp_path / "t.tar.gz", [("lib/x", "file", b"x"), ("f", "file", b"f")]), dest)
    assert list(outside.iterdir()) == []
    assert (dest / "lib" / "x").read_bytes() == b"x" and not (dest / "lib").is_symlink()
    assert (dest / "f").read_bytes() == b"f" and not (dest / "f").is_symlink()


def test_tarball_source_reads_only_wanted_members(tmp_path: Path) -> None:
    tarball = make_tar(tmp_path / "good.tar.gz", GOOD)
    src = TarballSource(tarball, want=lambda n: n.startswith(("lib/", "bin/start")))
    assert src.names() == sorted(
        [
            "bin/shop",
            "bin/start",
            "releases/1.0.0/shop.rel",
            "lib/shop-0.1.0/ebin/shop.app",
            "lib/shop-0.1.0/ebin/shop_app.beam",
            "lib/shop-0.1.0/priv/readme",
            "lib/shop-0.1.0/ebin/again.app",
        ]
    )
    assert src.read("lib/shop-0.1.0/ebin/shop.app") == b"app"
    assert src.read("./lib/shop-0.1.0/priv/readme") == b"app"  # hard link
    assert src.read("lib/shop-0.1.0/ebin/again.app") == b"app"  # symlink to a file
    assert src.read("bin/start").startswith(b"#!/bin/sh")  # symlink whose target was not wanted
    assert src.exists("bin/shop") and not src.exists("bin") and not src.exists("nope")
    assert src.isdir("lib/shop-0.1.0") and src.isdir("bin") and src.isdir("") and not src.isdir("lib/shop")
    assert not src.isdir("bin/shop")
    with pytest.raises(ArchiveError, match="not kept in memory"):
        src.read("releases/1.0.0/shop.rel")
    with pytest.raises(ArchiveError, match="no such file"):
        src.read("releases/2.0.0/shop.rel")
    assert src.source_name("./lib/x") == f"{tarball}:lib/x"


@pytest.mark.parametrize("data", [b"", b"not a tarball at all", b"\x1f\x8b\x08\x00garbage"])
def test_unreadable_tarball(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(data)
    for action in (lambda: TarballSource(path), lambda: extract(path, tmp_path / "d")):
        with pytest.raises(ArchiveError, match=r"bad\.tar\.gz"):
            action()
    assert not (tmp_path / "d").exists()


def test_truncated_tarball(tmp_path: Path) -> None:
    good = make_tar(tmp_path / "good.tar.gz", [("big", "file", os.urandom(200_000))])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:-5000])
    with pytest.raises(ArchiveError, match=r"cut\.tar\.gz"):
        TarballSource(cut)


def test_directory_source_follows_only_inner_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    root = tmp_path / "root"
    (root / "lib" / "a-1" / "ebin").mkdir(parents=True)
    (root / "lib" / "a-1" / "ebin" / "a.app").write_bytes(b"app")
    (root / "current").symlink_to("lib/a-1")
    (root / "loop").symlink_to(".")
    (root / "escape").symlink_to(outside)
    (root / "lib" / "secret").symlink_to(outside / "secret")
    src = DirectorySource(root)
    assert src.names() == ["current/ebin/a.app", "lib/a-1/ebin/a.app"]
    assert sorted(src.escaping) == ["escape", "lib/secret"]
    assert src.read("current/ebin/a.app") == b"app"
    assert src.exists("lib/a-1/ebin/a.app") and src.isdir("lib/a-1") and not src.exists("lib/a-1")
    for name in ("escape/secret", "lib/secret"):
        with pytest.raises(ArchiveError, match="leaves"):
            src.read(name)
        with pytest.raises(ArchiveError, match="leaves"):
            src.exists(name)
    with pytest.raises(ArchiveError, match=r"'\.\.' component"):
        src.read("../outside/secret")
    assert src.source_name("lib/a-1") == str(root / "lib" / "a-1")


def test_directory_source_refuses_every_way_out(tmp_path: Path) -> None:
    """Each read resolves its directory once and checks the file itself: a symbolically linked
    file or directory that leaves the root is refused wherever it sits, also next to files
    already read from the same directory, through a chain of inner links, and when the root
    itself is reached through a link; inner links (relative or absolute) keep working."""
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret").write_bytes(b"s")
    (outside / "sub" / "x.beam").write_bytes(b"x")
    real = tmp_path / "real"
    ebin = real / "lib" / "a-1" / "ebin"
    ebin.mkdir(parents=True)
    (ebin / "a.beam").write_bytes(b"a")
    (ebin / "evil.beam").symlink_to("../../../../outside/secret")  # file, relative, leaves
    (ebin / "abs.beam").symlink_to(outside / "secret")  # file, absolute, leaves
    (ebin / "same.beam").symlink_to(ebin / "a.beam")  # file, absolute, stays inside
    (ebin / "up").symlink_to("../../..")  # the root itself: allowed
    (ebin / "out").symlink_to("../../../..")  # the root's parent
    (ebin / "dangling.beam").symlink_to("nowhere.beam")
    (real / "lib" / "b-1").symlink_to("../../outside/sub")  # directory, leaves
    (real / "lib" / "hop").symlink_to("a-1/ebin/out")  # an inner link to a link that leaves
    (real / "lib" / "c-1").symlink_to("a-1")  # directory, stays inside
    (tmp_path / "root").symlink_to(real)
    for root in (real, tmp_path / "root"):
        src = DirectorySource(root)
        assert src.read("lib/a-1/ebin/a.beam") == b"a"  # its directory is now resolved
        for name in (
            "lib/a-1/ebin/evil.beam",
            "lib/a-1/ebin/abs.beam",
            "lib/b-1/x.beam",
            "lib/hop/outside/secret",
            "lib/a-1/ebin/out/outside/secret",
            "lib/c-1/ebin/evil.beam",
        ):
            for call in (src.read, src.exists):
                with pytest.raises(ArchiveError, match="leaves"):
                    call(name)
        for name in ("lib/b-1", "lib/hop", "lib/a-1/ebin/out"):
            with pytest.raises(ArchiveError, match="leaves"):
                src.isdir(name)
        assert src.read("lib/a-1/ebin/same.beam") == b"a"
        assert src.read("lib/c-1/ebin/a.beam") == b"a"
        assert src.read("lib/a-1/ebin/up/lib/a-1/ebin/a.beam") == b"a"
        assert src.isdir("lib/a-1/ebin/up") and src.isdir("lib/c-1")
        with pytest.raises(ArchiveError, match="cannot read"):
            src.read("lib/a-1/ebin/dangling.beam")
        with pytest.raises(ArchiveError, match="cannot read"):
            src.read("lib/a-1/ebin/missing.beam")
        with pytest.raises(ArchiveError, match="cannot read"):
            src.read("lib/a-1/ebin")  # a directory
        assert not src.exists("lib/a-1/ebin/dangling.beam")
        assert "lib/a-1/ebin/a.beam" in src.names() and "lib/a-1/ebin/same.beam" in src.names()
        assert not any(n.startswith(("lib/b-1/", "lib/hop/")) or "evil" in n or "abs" in n for n in src.names())
        leaving = {f"lib/{d}/ebin/{f}" for d in ("a-1", "c-1") for f in ("abs.beam", "evil.beam", "out")}
        assert sorted(src.escaping) == sorted(leaving | {"lib/b-1", "lib/hop"})


def test_normalise() -> None:
    assert normalise("./a//b/./c/") == "a/b/c"
    assert normalise("./") == "" and normalise(".") == ""
    assert normalise("/etc/x") == "/etc/x"
    assert normalise("a/../b") == "a/../b"  # kept, so that validation sees (and refuses) it


# ---------------------------------------------------------------------------------------------
# TarReader: the module's own header parser
# ---------------------------------------------------------------------------------------------

ATTRS = ("name", "type", "size", "mode", "mtime", "linkname", "uid", "gid", "uname", "gname", "offset", "offset_data")
LONG_DIR = "lib/" + "d" * 60 + "/" + "e" * 60  # > 100 characters: ustar prefix, GNU L or pax path
LONG_TARGET = "../" + "t" * 110


def _format_entries(fmt: int) -> list:
    """(TarInfo, data) for a mix of members; the long link target only where the format has one."""
    entries = []

    def add(name, kind=tarfile.REGTYPE, data=b"", linkname="", **attrs):
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mtime, info.mode = kind, linkname, 1_700_000_000, 0o644
        info.uid, info.gid, info.uname, info.gname = 1000, 100, "builder", "staff"
        for key, value in attrs.items():
            setattr(info, key, value)
        if kind == tarfile.REGTYPE:
            info.size = len(data)
        entries.append((info, data))

    add("lib", tarfile.DIRTYPE, mode=0o755)
    add(LONG_DIR, tarfile.DIRTYPE, mode=0o755)
    add(f"{LONG_DIR}/file.beam", data=os.urandom(1500))
    add("lib/empty", data=b"")
    add("lib/caf\u00e9.txt", data="d\u00e9j\u00e0".encode())
    add("lib/x/" + "n" * 150, data=b"long flat name")  # no '/' to split at in the last 100: GNU L / pax only
    add("lib/hard", tarfile.LNKTYPE, linkname="lib/empty")
    add("lib/short-link", tarfile.SYMTYPE, linkname="empty")
    if fmt != tarfile.USTAR_FORMAT:
        add(f"{LONG_DIR}/long-link", tarfile.SYMTYPE, linkname=LONG_TARGET)
    if fmt == tarfile.PAX_FORMAT:
        add("lib/fraction", data=b"x", mtime=1_700_000_000.5)
    return entries


def _write_format(path: Path, fmt: int, compression: str, entries: list) -> Path:
    with tarfile.open(path, f"w:{compression}", format=fmt) as tar:
        for info, data in entries:
            if fmt == tarfile.USTAR_FORMAT and len(info.name) > 100 and "/" not in info.name[-101:]:
                continue
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _fields(info: tarfile.TarInfo) -> tuple:
    # Python < 3.11 keeps the trailing '/' of a directory's GNU long name: compare paths
    return (normalise(info.name), *(getattr(info, a) for a in ATTRS[1:]))


def _tarfile_view(path: Path) -> list:
    with tarfile.open(path, "r:*") as tar:
        return [(_fields(i), tar.extractfile(i).read() if i.isreg() else None) for i in tar.getmembers()]


def _reader_view(path: Path) -> list:
    out = []
    with TarReader(path) as reader:
        for info, _raw, _gap in reader.members():
            out.append((_fields(info), reader.read(info) if info.isreg() else None))
    return out


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", ""])
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tar_reader_reads_what_tarfile_reads(tmp_path: Path, fmt: int, compression: str) -> None:
    """ustar prefixes, GNU long names and links, pax records (long and non-ASCII names, a
    fractional mtime), in every compression: the same members, fields, offsets and data."""
    path = _write_format(tmp_path / "t.tar", fmt, compression, _format_entries(fmt))
    ours, theirs = _reader_view(path), _tarfile_view(path)
    assert [v[0][0] for v in ours] == [v[0][0] for v in theirs]
    assert ours == theirs
    names = {v[0][0] for v in ours}
    assert f"{LONG_DIR}/file.beam" in names and "lib/caf\u00e9.txt" in names


def test_tar_reader_gives_the_raw_blocks_of_each_member(tmp_path: Path) -> None:
    path = _write_format(tmp_path / "t.tar", tarfile.PAX_FORMAT, "", _format_entries(tarfile.PAX_FORMAT))
    data = path.read_bytes()
    with TarReader(path) as reader:
        for info, raw, gap in reader.members():
            assert gap == 0
            assert raw == data[info.offset:info.offset_data]
            blocks = b"".join(reader.data_blocks(info))
            size = info.size if info.isreg() else 0
            assert blocks == data[info.offset_data:info.offset_data + size + (-size % 512)]


def test_tar_reader_reads_concatenated_gzip_members_and_zero_padding(tmp_path: Path) -> None:
    plain = make_tar(tmp_path / "p.tar", GOOD, compression="").read_bytes()
    cut = 512 * 7
    path = tmp_path / "multi.tar.gz"
    path.write_bytes(gzip.compress(plain[:cut]) + gzip.compress(plain[cut:]) + b"\0" * 1000)
    plain_path = tmp_path / "p2.tar"
    plain_path.write_bytes(plain)
    assert _reader_view(path) == _reader_view(plain_path) == _tarfile_view(plain_path)


def test_tar_reader_checks_the_gzip_trailer(tmp_path: Path) -> None:
    data = bytearray(make_tar(tmp_path / "t.tar.gz", GOOD).read_bytes())
    data[-8] ^= 0xFF  # the CRC-32
    bad = tmp_path / "crc.tar.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"crc\.tar\.gz: .*incorrect data check"):
        TarballSource(bad)


# Hand-made headers, for what tarfile cannot (or would not) write.


def _field(value, length: int) -> bytes:
    if isinstance(value, int):
        return (b"%0*o" % (length - 1, value)) + b"\0"
    return value.ljust(length, b"\0")[:length]


def header(
    name: bytes,
    kind: bytes = b"0",
    size: int = 0,
    *,
    linkname: bytes = b"",
    magic: bytes = b"ustar\x0000",
    prefix: bytes = b"",
    size_field: bytes | None = None,
    mode_field: bytes | None = None,
) -> bytes:
    block = bytearray(512)
    block[0:100] = _field(name, 100)
    block[100:108] = mode_field if mode_field is not None else _field(0o644, 8)
    block[108:116] = _field(0, 8)
    block[116:124] = _field(0, 8)
    block[124:136] = size_field if size_field is not None else _field(size, 12)
    block[136:148] = _field(1_700_000_000, 12)
    block[156:157] = kind
    block[157:257] = _field(linkname, 100)
    block[257:265] = magic
    block[345:345 + len(prefix)] = prefix
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def member(name: bytes, data: bytes = b"", kind: bytes = b"0", **kw) -> bytes:
    return header(name, kind, len(data), **kw) + data + b"\0" * (-len(data) % 512)


def pax(records: dict, kind: bytes = b"x") -> bytes:
    body = b""
    for key, value in records.items():
        line = b" " + key + b"=" + value + b"\n"
        length = len(line) + 1
        while len(str(length).encode()) + len(line) != length:
            length = len(str(length).encode()) + len(line)
        body += str(length).encode() + line
    return member(b"PaxHeader", body, kind)


END = b"\0" * 1024


def _raw_tar(tmp_path: Path, blob: bytes, compress: bool = True) -> Path:
    path = tmp_path / ("raw.tar.gz" if compress else "raw.tar")
    path.write_bytes(gzip.compress(blob) if compress else blob)
    return path


def _names(path: Path) -> list:
    with TarReader(path) as reader:
        return [info.name for info, _raw, _gap in reader.members()]


def test_the_ustar_prefix_is_read_only_with_the_posix_magic(tmp_path: Path) -> None:
    """erl_tar joins the prefix field for ``ustar\\0`` headers only (GNU headers keep times
    there); tarfile would join it for any magic. tests/erlang/test_package_vs_erl_tar.py checks
    erl_tar reads these the same way."""
    blob = (
        member(b"f.beam", b"a", prefix=b"lib/a-1/ebin")
        + member(b"g.beam", b"b", magic=b"ustar  \0", prefix=b"lib/b-1/ebin")
        + member(b"h.beam", b"c", magic=b"\0" * 8, prefix=b"lib/c-1/ebin")
        + END
    )
    assert _names(_raw_tar(tmp_path, blob)) == ["lib/a-1/ebin/f.beam", "g.beam", "h.beam"]


def test_an_archive_may_end_without_its_end_blocks_or_with_one(tmp_path: Path) -> None:
    assert _names(_raw_tar(tmp_path, member(b"a", b"x"))) == ["a"]
    assert _names(_raw_tar(tmp_path, member(b"a", b"x") + b"\0" * 512)) == ["a"]
    assert _names(_raw_tar(tmp_path, member(b"a", b"x") + END + b"\0" * 9216)) == ["a"]


REFUSED = {
    "data after the end block": (member(b"a") + b"\0" * 512 + member(b"b"), "data after the end-of-archive block"),
    "bad checksum later": (
        member(b"a") + member(b"b")[:148] + b"0000000\0" + member(b"b")[156:],
        "bad header checksum",
    ),
    "truncated data": (header(b"a", size=5000) + b"x" * 600, "unexpected end of data"),
    "truncated header": (member(b"a", b"x") + member(b"b")[:300], "unexpected end of data"),
    "inner NUL in size": (header(b"a", size_field=b"0000\x000000017\0") + b"\0" * 512 + END, "invalid numeric field"),
    "inner space in mode": (header(b"a", mode_field=b"06 44\0\0\0") + END, "invalid numeric field"),
    "base-256 size": (header(b"a", size_field=b"\x80" + b"\0" * 10 + b"\x05") + b"\0" * 512 + END, "size field"),
    "GNU sparse": (member(b"a", b"x", kind=b"S") + END, "sparse"),
    "pax sparse": (pax({b"GNU.sparse.major": b"1"}) + member(b"a") + END, "sparse"),
    "L and pax path": (
        member(b"././@LongLink", b"lib/one\0", kind=b"L") + pax({b"path": b"lib/two"}) + member(b"x") + END,
        "two extended headers give different path",
    ),
    "two pax sizes": (pax({b"size": b"1"}) + pax({b"size": b"2"}) + member(b"x") + END, "different size"),
    "global path": (pax({b"path": b"lib/evil"}, kind=b"g") + member(b"x") + END, "global pax header sets path"),
    "global after extended": (pax({b"path": b"a"}) + pax({b"comment": b"c"}, kind=b"g") + member(b"x") + END, "global"),
    "newline in pax value": (pax({b"path": b"a\nb"}) + member(b"x") + END, "malformed pax"),
    "bad pax length": (member(b"PaxHeader", b"99 path=a\n", kind=b"x") + member(b"x") + END, "malformed pax"),
    "bad pax number": (pax({b"uid": b"12a"}) + member(b"x") + END, "invalid pax uid"),
    "extended header at the end": (pax({b"path": b"a"}) + END, "ends after an extended header"),
    "huge extended header": (header(b"PaxHeader", b"x", 2 << 20) + b"\0" * (2 << 20) + END, "extended header of"),
    "regular file named like a directory": (member(b"lib/", b"", kind=b"\0") + END, "directory name"),
    "name not UTF-8": (member(b"lib/\xff.beam", b"x") + END, "not valid UTF-8"),
    "absolute name after a prefix": (member(b"/etc/x", b"x", prefix=b"lib") + END, "absolute name"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_tar_reader_refuses_damaged_or_ambiguous_archives(tmp_path: Path, case: str) -> None:
    blob, reason = REFUSED[case]
    path = _raw_tar(tmp_path, blob)
    with pytest.raises(ArchiveError, match=r"raw\.tar\.gz: ") as err:
        TarballSource(path)
    assert reason in str(err.value)


def test_tarfile_would_silently_stop_at_a_damaged_header(tmp_path: Path) -> None:
    """Why the reader is stricter than tarfile: a damaged second header ends tarfile's member list
    without an error, so a check of the members would miss everything after it."""
    blob, _reason = REFUSED["bad checksum later"]
    path = _raw_tar(tmp_path, blob + member(b"../evil", b"x") + END)
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["a"]
    with pytest.raises(ArchiveError, match="bad header checksum"):
        TarballSource(path)


def test_global_pax_headers_are_kept_as_a_gap(tmp_path: Path) -> None:
    glob = pax({b"comment": b"built by a test"}, kind=b"g")
    blob = member(b"a", b"1") + glob + member(b"b", b"2") + END
    path = _raw_tar(tmp_path, blob, compress=False)
    with TarReader(path) as reader:
        seen = [(info.name, info.offset, gap, len(raw)) for info, raw, gap in reader.members()]
    assert seen == [("a", 0, 0, 512), ("b", 1024 + len(glob), len(glob), len(glob) + 512)]
    assert _tarfile_view(path)[1][0][ATTRS.index("offset")] == 1024 + len(glob)


def test_tar_reader_data_is_taken_once_right_after_its_member(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "t.tar.gz", GOOD)
    with TarReader(path) as reader:
        members = reader.members()
        first, _raw, _gap = next(members)
        second, _raw, _gap = next(members)
        with pytest.raises(ValueError, match="right after the member"):
            reader.read(first)
        if second.isreg():
            reader.read(second)
            with pytest.raises(ValueError, match="once"):
                reader.read(second)


def test_tar_reader_bounds_the_memory_of_a_decompression_bomb(tmp_path: Path) -> None:
    """64 MiB of zeros after one member compress to 64 KiB: they are inflated to the end of the
    gzip stream (whose CRC is checked) in pieces, never held in memory at once."""
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(gzip.compress(member(b"a", b"x") + b"\0" * (64 << 20), 1))
    tracemalloc.start()
    try:
        assert _names(path) == ["a"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20  # half of what a one-piece inflate would hold


def test_the_header_byte_sum_is_the_sum_of_the_bytes() -> None:
    blocks = [bytes(512), b"\xff" * 512, bytes(range(256)) * 2, *(os.urandom(512) for _block in range(200))]
    assert [_byte_sum(b) for b in blocks] == [sum(b) for b in blocks]
