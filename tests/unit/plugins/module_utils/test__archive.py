# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Safe tarball handling: hostile members are refused before anything is read or written."""
from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._archive import (
    ArchiveError,
    DirectorySource,
    TarballSource,
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
