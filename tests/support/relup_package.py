# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OTP's own ``systools:make_relup``, the reference for the collection's relup port.

Test machinery, not part of the collection. :func:`build` takes the new release tarball, the
tarballs it upgrades from and the appup texts, writes the appups into the new release's ebin
directories, runs ``systools:make_relup`` over the unpacked releases, and packs the result as a
new tarball with ``releases/<vsn>/relup``. :func:`systools_relup` returns what systools makes of
the appups inside an upgrade package, to compare with the relup the collection put there.
"""
from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps, parse

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


def systools_relup(package: Path, previous: Sequence[Path]) -> Tuple[object, list]:
    """What ``systools:make_relup`` makes of the appups inside ``package``: ``(relup, warnings)``.

    ``package`` is an upgrade package (or any release tarball holding appups); ``previous`` are
    the release tarballs it upgrades from, in the order the relup was asked for. Raises with
    systools' message when it refuses.
    """
    release = open_release(package)
    with tempfile.TemporaryDirectory(prefix="systools-relup-") as scratch:
        work = Path(scratch)
        top = work / "new"
        extract(package, top)
        bases: List[str] = []
        paths = [str(top / "lib" / "*" / "ebin")]
        for i, tarball in enumerate(previous):
            old = open_release(tarball)
            root = work / f"base{i}"
            extract(tarball, root)
            bases.append(str(root / "releases" / old.vsn / old.name))
            paths.append(str(root / "lib" / "*" / "ebin"))
        cases = work / "cases.term"
        case = ("relup", str(top / "releases" / release.vsn / release.name), bases, paths)
        cases.write_text(dumps([[case]]), encoding="utf-8")
        (result,) = parse(run_escript("appup_relup.escript", str(cases)), "appup_relup.escript output")
    outcome = result[1]
    if str(outcome[0]) != "ok":
        raise AssertionError(f"systools refused the appups of {package}: {outcome[1]}")
    return outcome[1], outcome[2]
