# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Upgrade package writing: members kept byte for byte, additions, determinism, refusals."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import random
import tarfile
import zlib

import pytest
from ansible_collections.erlang.otp.plugins.module_utils import _package
from ansible_collections.erlang.otp.plugins.module_utils._archive import ArchiveError
from ansible_collections.erlang.otp.plugins.module_utils._package import (
    crc32_combine,
    gzip_chunks,
    pack_directory,
    write_package,
)

FILES = {
    "bin/r": (b"#!/bin/sh\necho r\n", 0o755),
    "lib/a-1/ebin/a.app": (b"{application,a,[{vsn,\"1\"}]}.\n", 0o644),
    "lib/a-1/ebin/a.appup": (b"old appup\n", 0o644),
    "releases/1/r.rel": (b"{release,{\"r\",\"1\"},{erts,\"13\"},[]}.\n", 0o644),
}


def make_tarball(path, prefix: str = "", extra=None) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for directory in ("bin", "lib", "lib/a-1", "lib/a-1/ebin", "releases", "releases/1"):
            info = tarfile.TarInfo(prefix + directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_600_000_000
            tar.addfile(info)
        for name, (data, mode) in FILES.items():
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode, info.mtime, info.uid, info.uname = len(data), mode, 1_600_000_123, 1000, "builder"
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra or []:
            tar.addfile(info, data)


def members(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        out = {}
        for info in tar.getmembers():
            content = tar.extractfile(info).read() if info.isreg() else None
            out[info.name] = (info.type, info.mode, info.mtime, info.uid, info.uname, content)
        return out


def build(tarball, additions, mtime: int = 7) -> tuple:
    out = io.BytesIO()
    result = write_package(tarball, out, additions, mtime=mtime)
    return out.getvalue(), result


def test_members_are_kept_and_additions_appended(tmp_path):
    tarball = tmp_path / "r-1.tar.gz"
    make_tarball(tarball)
    data, result = build(tarball, {"releases/1/relup": b"relup\n", "lib/a-1/ebin/a.appup": b"new appup\n"})
    before, after = members(tarball.read_bytes()), members(data)
    assert result.added == ["releases/1/relup"]
    assert result.replaced == ["lib/a-1/ebin/a.appup"]
    assert result.sha256 == hashlib.sha256(data).hexdigest() and result.size == len(data)
    for name, header in before.items():
        if name != "lib/a-1/ebin/a.appup":
            assert after[name] == header
    assert after["lib/a-1/ebin/a.appup"] == (*before["lib/a-1/ebin/a.appup"][:5], b"new appup\n")
    assert after["releases/1/relup"] == (tarfile.REGTYPE, 0o644, 7, 0, "", b"relup\n")
    assert list(after)[-1] == "releases/1/relup"


def test_added_members_take_the_newest_member_mtime_by_default(tmp_path):
    tarball = tmp_path / "r-1.tar.gz"
    make_tarball(tarball)
    out = io.BytesIO()
    write_package(tarball, out, {"releases/1/relup": b"r"})
    assert members(out.getvalue())["releases/1/relup"][2] == 1_600_000_123


def raw_blocks(tar_bytes: bytes) -> dict:
    """Each member's tar blocks (extended headers, header, data, padding), by name."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        for info in tar.getmembers():
            size = info.size if info.isreg() else 0
            end = info.offset_data + size + (-size % 512)
            out[info.name] = tar_bytes[info.offset:end]
    return out


@pytest.mark.parametrize("compression", ["gz", "tar"])
def test_unchanged_members_are_copied_block_for_block(tmp_path, compression):
    long_name = "lib/a-1/priv/" + "x" * 120 + ".txt"
    info = tarfile.TarInfo(long_name)
    info.size, info.mode = 3, 0o100644  # a mode with the file type bits, as erl_tar writes it
    plain = tmp_path / "plain.tar"
    make_tarball(tmp_path / "r-1.tar.gz", extra=[(info, io.BytesIO(b"abc"))])
    plain.write_bytes(gzip.decompress((tmp_path / "r-1.tar.gz").read_bytes()))
    source = tmp_path / "r-1.tar.gz" if compression == "gz" else plain
    data, result = build(source, {"lib/a-1/ebin/a.appup": b"new\n", "releases/1/relup": b"r"})
    before, after = raw_blocks(plain.read_bytes()), raw_blocks(gzip.decompress(data))
    assert result.replaced == ["lib/a-1/ebin/a.appup"]
    for name, blocks in before.items():
        if name != "lib/a-1/ebin/a.appup":
            assert after[name] == blocks, name
    assert long_name in after
    assert len(gzip.decompress(data)) % tarfile.RECORDSIZE == 0


def test_same_inputs_give_the_same_bytes(tmp_path):
    tarball = tmp_path / "r-1.tar.gz"
    make_tarball(tarball)
    first = build(tarball, {"releases/1/relup": b"x", "a/b": b"y"})[0]
    second = build(tarball, {"a/b": b"y", "releases/1/relup": b"x"})[0]
    assert first == second
    assert gzip.decompress(first)  # a plain gzip stream
    assert first[4:8] == b"\0\0\0\0"  # no timestamp in the gzip header
    other = build(tarball, {"releases/1/relup": b"z", "a/b": b"y"})[0]
    assert other != first


def test_dot_slash_tarballs_keep_their_prefix(tmp_path):
    tarball = tmp_path / "r-1.tar.gz"
    make_tarball(tarball, prefix="./")
    data, result = build(tarball, {"releases/1/relup": b"r"})
    assert result.added == ["releases/1/relup"]
    assert "./releases/1/relup" in members(data)


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b"])
def test_additions_outside_the_release_are_refused(tmp_path, name):
    tarball = tmp_path / "r-1.tar.gz"
    make_tarball(tarball)
    with pytest.raises(ArchiveError, match="refusing to add"):
        build(tarball, {name: b"x"})


def test_an_unsafe_tarball_is_refused_before_anything_is_written(tmp_path):
    tarball = tmp_path / "r-1.tar.gz"
    link = tarfile.TarInfo("lib/escape")
    link.type, link.linkname = tarfile.SYMTYPE, "../../etc"
    make_tarball(tarball, extra=[(link, None)])
    out = io.BytesIO()
    with pytest.raises(ArchiveError, match=r"r-1.tar.gz: refusing entry 'lib/escape'"):
        write_package(tarball, out, {})
    assert out.getvalue() == b""


def test_a_file_that_is_not_a_tarball_names_itself(tmp_path):
    bad = tmp_path / "r-1.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(ArchiveError, match=r"r-1.tar.gz: not a readable tar archive"):
        build(bad, {})


def test_pack_directory_packs_the_named_roots_deterministically(tmp_path):
    root = tmp_path / "rel"
    for name, (data, mode) in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
    (root / "log").mkdir()
    (root / "log" / "erlang.log.1").write_text("noise")
    os.symlink("a-1", root / "lib" / "a")
    outs = []
    for _run in range(2):
        out = io.BytesIO()
        result = pack_directory(root, ["bin", "lib", "releases"], out, {"releases/1/relup": b"r"}, mtime=5)
        outs.append(out.getvalue())
    assert outs[0] == outs[1]
    got = members(outs[0])
    assert not any(name.startswith("log") for name in got)
    assert got["bin/r"][1] == 0o755 and got["bin/r"][5] == FILES["bin/r"][0]
    assert got["lib/a"][0] == tarfile.SYMTYPE
    assert got["releases/1/relup"][5] == b"r"
    assert result.added == ["releases/1/relup"]


def test_pack_directory_refuses_an_escaping_link(tmp_path):
    root = tmp_path / "rel"
    (root / "lib").mkdir(parents=True)
    os.symlink("../../outside", root / "lib" / "x")
    with pytest.raises(ArchiveError, match="refusing entry 'lib/x'"):
        pack_directory(root, ["lib"], io.BytesIO(), {})


# ---------------------------------------------------------------------------------------------
# The parallel gzip stream
# ---------------------------------------------------------------------------------------------

CHUNK = _package.CHUNK_SIZE


def _sample(size: int) -> bytes:
    """Half random, half repetitive: both kinds of deflate block."""
    rnd = os.urandom(size // 2)
    return (rnd + b"erlang.otp " * (size // 11 + 1))[:size]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12_345])
def test_parallel_gzip_is_a_plain_gzip_stream_whatever_the_thread_count(size):
    data = _sample(size)
    outs = {workers: gzip_chunks(data, workers=workers) for workers in (1, 2, 5)}
    assert outs[1] == outs[2] == outs[5]
    out = outs[1]
    assert gzip.decompress(out) == data
    assert zlib.decompress(out, 31) == data  # one member: zlib alone reads it, trailer checked
    assert out[:4] == b"\x1f\x8b\x08\x00" and out[4:8] == b"\0\0\0\0" and out[9] == 255  # no name, mtime 0


def test_parallel_gzip_primes_each_chunk_with_the_data_before_it():
    """A 20 KiB random block repeated over 8 chunks compresses to about one block: every chunk
    finds the repeats in the 32 KiB before it."""
    block = os.urandom(20 << 10)
    data = block * (8 * CHUNK // len(block))
    out = gzip_chunks(data, workers=2)
    assert gzip.decompress(out) == data
    assert len(out) < len(block) + 8 * 2048


def test_crc32_combine_is_zlibs():
    rng = random.Random(4)
    for _case in range(200):
        first, second = rng.randbytes(rng.randrange(0, 5000)), rng.randbytes(rng.randrange(0, 5000))
        assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)
    big = rng.randbytes(CHUNK)
    assert crc32_combine(zlib.crc32(big), zlib.crc32(big), CHUNK) == zlib.crc32(big + big)


@pytest.mark.parametrize("level", [1, 6, 9])
def test_parallel_gzip_levels(level):
    data = _sample(2 * CHUNK + 5)
    out = gzip_chunks(data, level=level, workers=3)
    assert gzip.decompress(out) == data
    assert out[8] == {1: 4, 9: 2}.get(level, 0)  # XFL, as the gzip module sets it


def test_packages_do_not_depend_on_the_thread_count(tmp_path, monkeypatch):
    tarball = tmp_path / "r-1.tar.gz"
    big = tarfile.TarInfo("lib/a-1/priv/big.bin")
    payload = _sample(3 * CHUNK)
    big.size = len(payload)
    make_tarball(tarball, extra=[(big, io.BytesIO(payload))])
    outs = []
    for workers in (1, 2, 4):
        monkeypatch.setattr(_package, "_workers", lambda workers=workers: workers)
        outs.append(build(tarball, {"releases/1/relup": b"r", "lib/a-1/ebin/a.appup": b"new"})[0])
    assert outs[0] == outs[1] == outs[2]
    assert members(outs[0])["lib/a-1/priv/big.bin"][5] == payload


@pytest.mark.parametrize("compression", ["bz2", "xz"])
def test_other_compressions_are_read_and_the_package_is_gzip(tmp_path, compression):
    gz = tmp_path / "r-1.tar.gz"
    make_tarball(gz)
    plain = gzip.decompress(gz.read_bytes())
    other = tmp_path / f"r-1.tar.{compression}"
    other.write_bytes(bz2.compress(plain) if compression == "bz2" else lzma.compress(plain))
    additions = {"releases/1/relup": b"r"}
    assert build(other, additions)[0] == build(gz, additions)[0]


# ---------------------------------------------------------------------------------------------
# Refusals and the blocks around replaced members
# ---------------------------------------------------------------------------------------------


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize(
    ("extra", "addition", "reason"),
    [
        ([], "lib/a-1/ebin", "the release has a directory of that name"),
        ([_link("releases/1/relup", "r.rel")], "releases/1/relup", "a symbolic link of that name"),
        ([_link("releases/1/relup", "releases/1/r.rel", tarfile.LNKTYPE)], "releases/1/relup", "a hard link"),
        ([_link("lib/b", "a-1")], "lib/b/ebin/b.appup", "below the symbolic link 'lib/b'"),
        ([], "bin/r/x", "below the regular file 'bin/r'"),
    ],
)
def test_additions_that_meet_a_link_or_directory_are_refused(tmp_path, extra, addition, reason):
    tarball = tmp_path / "r-1.tar.gz"
    make_tarball(tarball, extra=extra)
    out = io.BytesIO()
    with pytest.raises(ArchiveError, match=f"refusing to add {addition!r}: .*{reason}"):
        write_package(tarball, out, {addition: b"x"})
    assert out.getvalue() == b""


def test_a_corrupt_tarball_writes_nothing(tmp_path):
    tarball = tmp_path / "r-1.tar.gz"
    big = tarfile.TarInfo("lib/a-1/priv/big.bin")
    payload = os.urandom(3 * CHUNK)
    big.size = len(payload)
    make_tarball(tarball, extra=[(big, io.BytesIO(payload))])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tarball.read_bytes()[: len(payload) // 2])
    out = io.BytesIO()
    with pytest.raises(ArchiveError, match=r"cut\.tar\.gz: corrupt or truncated tar archive"):
        write_package(cut, out, {"releases/1/relup": b"r"})
    assert out.getvalue() == b""


def test_a_replaced_member_with_a_pax_size_gets_its_new_size(tmp_path):
    """The pax ``size`` record of a replaced member is not carried over (it would win over the
    new header's size field)."""
    tarball = tmp_path / "r-1.tar.gz"
    appup = tarfile.TarInfo("lib/a-1/ebin/b.appup")
    appup.size, appup.pax_headers = 3, {"size": "3", "comment": "kept"}
    with tarfile.open(tarball, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(appup, io.BytesIO(b"old"))
    data, result = build(tarball, {"lib/a-1/ebin/b.appup": b"a longer appup\n"})
    assert result.replaced == ["lib/a-1/ebin/b.appup"]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        info = tar.getmember("lib/a-1/ebin/b.appup")
        assert tar.extractfile(info).read() == b"a longer appup\n"
        assert info.pax_headers.get("comment") == "kept"


def test_global_headers_before_a_replaced_member_stay(tmp_path):
    tarball = tmp_path / "r-1.tar.gz"
    first = tarfile.TarInfo("lib/a-1/ebin/a.appup")
    first.size = 3
    with tarfile.open(tarball, "w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": "git 1234"}) as tar:
        tar.addfile(first, io.BytesIO(b"old"))
    data = build(tarball, {"lib/a-1/ebin/a.appup": b"new appup\n"})[0]
    plain = gzip.decompress(data)
    assert plain[156:157] == tarfile.XGLTYPE and b"comment=git 1234" in plain[:1024]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert tar.extractfile("lib/a-1/ebin/a.appup").read() == b"new appup\n"
