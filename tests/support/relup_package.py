# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Upgrade packages built with OTP's own systools, to prove generated appups on live nodes.

Test machinery, not part of the collection: until the collection's relup port exists, a relup
made by ``systools:make_relup`` is the reference. :func:`build` takes the new release tarball,
the tarballs it upgrades from and the appup texts, writes the appups into the new release's
ebin directories, runs ``systools:make_relup`` over the unpacked releases, and packs the result
as a new tarball with ``releases/<vsn>/relup``.
"""
from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence

from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release

from tests.support.otp import run_escript


def build(new: Path, previous: Sequence[Path], appups: Dict[str, str], dest: Path) -> Path:
    """The upgrade package ``dest/<name>-<vsn>.tar.gz``; ``appups`` maps app name to appup text."""
    release = open_release(new)
    with tempfile.TemporaryDirectory(prefix="relup-package-") as scratch:
        work = Path(scratch)
        top = work / "new"
        extract(new, top)
        bases: List[str] = []
        paths = [str(top / "lib" / "*" / "ebin")]
        for i, tarball in enumerate(previous):
            old = open_release(tarball)
            root = work / f"base{i}"
            extract(tarball, root)
            bases.append(str(root / "releases" / old.vsn / old.name))
            paths.append(str(root / "lib" / "*" / "ebin"))
        for app, text in appups.items():
            ebin = top / "lib" / f"{app}-{release.app_versions[app]}" / "ebin"
            (ebin / f"{app}.appup").write_text(text, encoding="utf-8")
        reldir = top / "releases" / release.vsn
        out = run_escript(
            "make_relup.escript", str(reldir), str(reldir / release.name), ",".join(bases), ",".join(paths)
        )
        assert out.startswith(b"ok"), out
        dest.mkdir(parents=True, exist_ok=True)
        package = dest / f"{release.name}-{release.vsn}.tar.gz"
        with tarfile.open(package, "w:gz") as tar:
            for entry in sorted(top.iterdir()):
                tar.add(entry, arcname=entry.name)
        return package
