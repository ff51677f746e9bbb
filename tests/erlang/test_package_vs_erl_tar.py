# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Upgrade packages and the tar reader against ``erl_tar``, what ``release_handler`` unpacks with.

One ``erl_tar_read.escript`` run reads every tarball of the test (``erl_tar:table/2`` and
``erl_tar:extract/2`` to memory); for each, the members (name, type, size, mode) and the bytes of
every regular file must be what :class:`~._archive.TarReader` reads. The tarballs: a real release
(``rebar3 tar``) and its upgrade package, synthetic releases in the ustar, GNU and pax formats
(long names split into the ustar prefix, GNU long names and links, pax paths and link paths,
non-ASCII names) and their packages with a long-named member replaced, a package of an unpacked
directory, and hand-made headers where readers could disagree (the ustar prefix field under a
GNU or v7 magic, which erl_tar ignores and tarfile would join).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._archive import TarReader, extract, normalise
from ansible_collections.erlang.otp.plugins.module_utils._package import pack_directory, write_package
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps

from tests.support.otp import requires_erlang, run_escript
from tests.support.releases import tarball as release_tarball

pytestmark = [pytest.mark.erlang, requires_erlang]

TYPES = {
    tarfile.REGTYPE: "regular",
    tarfile.AREGTYPE: "regular",
    tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "link",
}
LONG_DIR = "lib/app-1.0.0/priv/" + "d" * 70 + "/" + "\u00e9" * 20


def ours(path: Path) -> tuple:
    """``(members, {name: md5})`` as TarReader reads ``path``, in erl_tar's terms."""
    members, data = [], {}
    with TarReader(path) as reader:
        for info, _raw, _gap in reader.members():
            name = normalise(info.name)
            size = info.size if info.isreg() else 0
            members.append((name, TYPES[info.type], size, info.mode))
            if info.isreg():
                data[name] = hashlib.md5(reader.read(info)).hexdigest().upper()
    return members, data


def erl_tar(paths: list, tmp_path: Path) -> dict:
    listing = tmp_path / "tarballs.txt"
    listing.write_text(dumps([[str(p) for p in paths]]), encoding="utf-8")
    out = run_escript("erl_tar_read.escript", str(listing)).decode("utf-8").splitlines()
    seen: dict = {}
    current = None
    for line in out:
        kind, _sp, rest = line.partition(" ")
        if kind == "tarball":
            current = seen[rest] = ([], {})
        elif kind == "member":
            name, typ, size, mode = rest.split(" ")
            # erl_tar keeps the trailing '/' of a directory's GNU long name: compare paths
            current[0].append((normalise(bytes.fromhex(name).decode("utf-8")), typ, int(size), int(mode)))
        elif kind == "data":
            name, md5 = rest.split(" ")
            current[1][normalise(bytes.fromhex(name).decode("utf-8"))] = md5
        else:
            raise AssertionError(f"erl_tar_read.escript: {line}")
    return seen


def synthetic(path: Path, fmt: int) -> Path:
    """A small release-like tarball in ``fmt`` with long and non-ASCII names."""
    entries = [
        ("lib", tarfile.DIRTYPE, b"", ""),
        ("lib/app-1.0.0", tarfile.DIRTYPE, b"", ""),
        ("lib/app-1.0.0/ebin", tarfile.DIRTYPE, b"", ""),
        ("lib/app-1.0.0/ebin/app.app", tarfile.REGTYPE, b'{application,app,[{vsn,"1.0.0"}]}.\n', ""),
        ("lib/app-1.0.0/ebin/app.appup", tarfile.REGTYPE, b"old\n", ""),
        (LONG_DIR, tarfile.DIRTYPE, b"", ""),
        (f"{LONG_DIR}/data.bin", tarfile.REGTYPE, os.urandom(3000), ""),
        (f"{LONG_DIR}/short", tarfile.SYMTYPE, b"", "data.bin"),
        ("lib/app-1.0.0/priv/hard", tarfile.LNKTYPE, b"", "lib/app-1.0.0/ebin/app.app"),
        ("releases", tarfile.DIRTYPE, b"", ""),
        ("releases/1.0.0", tarfile.DIRTYPE, b"", ""),
        ("releases/1.0.0/app.rel", tarfile.REGTYPE, b"rel\n", ""),
    ]
    if fmt != tarfile.USTAR_FORMAT:
        entries.append(("lib/app-1.0.0/priv/" + "f" * 120, tarfile.REGTYPE, b"flat long name", ""))
        entries.append(("lib/app-1.0.0/priv/long-link", tarfile.SYMTYPE, b"", "../priv/" + "x" * 100))
    with tarfile.open(path, "w:gz", format=fmt) as tar:
        for name, kind, data, link in entries:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = kind, link, 1_700_000_000
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o100644
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


def _header(name: bytes, data: bytes, magic: bytes, prefix: bytes) -> bytes:
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:124] = b"0000000\0" * 2
    block[124:136] = b"%011o\0" % len(data)
    block[136:148] = b"14540000000\0"
    block[156:157] = b"0"
    block[257:265] = magic
    block[345 : 345 + len(prefix)] = prefix
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + data + b"\0" * (-len(data) % 512)


def hand_made(path: Path) -> Path:
    blob = (
        _header(b"f.beam", b"posix", b"ustar\x0000", b"lib/a-1/ebin")
        + _header(b"g.beam", b"gnu", b"ustar  \0", b"lib/b-1/ebin")
        + _header(b"h.beam", b"v7", b"\0" * 8, b"lib/c-1/ebin")
        + b"\0" * 1024
    )
    path.write_bytes(gzip.compress(blob))
    return path


def test_erl_tar_reads_our_packages_and_our_reader_reads_like_erl_tar(tmp_path: Path) -> None:
    sources = {"shop": release_tarball("shop", "1.0.0"), "handmade": hand_made(tmp_path / "handmade.tar.gz")}
    for fmt, label in ((tarfile.USTAR_FORMAT, "ustar"), (tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")):
        sources[label] = synthetic(tmp_path / f"{label}.tar.gz", fmt)
    additions = {
        "shop": {"releases/1.0.0/relup": b'{"1.0.0",[],[]}.\n', "lib/shop-1.0.0/ebin/shop.appup": b"{}.\n"},
        "handmade": {"lib/a-1/ebin/f.beam": b"replaced"},
    }
    replace_long = {f"{LONG_DIR}/data.bin": b"replaced long-named member", "releases/1.0.0/relup": b"relup"}
    packages = {}
    for label, source in sources.items():
        package = tmp_path / f"{label}-package.tar.gz"
        with open(package, "wb") as handle:
            result = write_package(source, handle, additions.get(label, replace_long))
        assert result.added or result.replaced
        packages[label] = package
    unpacked = tmp_path / "unpacked"
    extract(sources["pax"], unpacked)
    packed = tmp_path / "directory-package.tar.gz"
    with open(packed, "wb") as handle:
        pack_directory(unpacked, ["lib", "releases"], handle, {"releases/1.0.0/relup": b"relup"})
    paths = [*sources.values(), *packages.values(), packed]
    theirs = erl_tar(paths, tmp_path)
    for path in paths:
        members, data = theirs[str(path)]
        assert members, f"erl_tar read no members of {path.name}"
        assert ours(path) == (members, data), path.name
    handmade = [m[0] for m in theirs[str(sources["handmade"])][0]]
    assert handmade == ["lib/a-1/ebin/f.beam", "g.beam", "h.beam"]
    with tarfile.open(sources["handmade"]) as tar:  # where tarfile's reader differs
        assert tar.getnames() == ["lib/a-1/ebin/f.beam", "lib/b-1/ebin/g.beam", "lib/c-1/ebin/h.beam"]
    for label, source in sources.items():
        before, after = ours(source), ours(packages[label])
        changes = additions.get(label, replace_long)
        for name, md5 in before[1].items():
            want = hashlib.md5(changes[name]).hexdigest().upper() if name in changes else md5
            assert after[1][name] == want, (label, name)
        for name, content in changes.items():
            assert after[1][name] == hashlib.md5(content).hexdigest().upper()
