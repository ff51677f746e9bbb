# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for tests that need real release nodes behind a real sshd on 127.0.0.1.

- ``release_tarball(name, vsn) -> Path``: a built release tarball (``tests.support.releases``).
- ``fleet_factory(name, vsn, nodes=3, tarball=None) -> Fleet``: function-scoped; every fleet it
  made is stopped after the test, pass or fail. ``tarball`` overrides the built release (any
  relx or mix release tarball whose release is called ``name``).
- ``shop_fleet``: module-scoped fleet of three ``shop`` 1.0.0 nodes.

Teardown stops nodes, epmd and sshd by the pids the fleet recorded (see
``tests/support/fleet.py``); a teardown that leaves a process alive fails the test.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

from tests.support import releases
from tests.support.fleet import SSHD, Fleet, FleetError

SHOP = ("shop", "1.0.0")


def _missing_tools() -> List[str]:
    missing = [tool for tool in ("ssh", "ssh-keygen", "epmd", "erl") if shutil.which(tool) is None]
    if not Path(SSHD).is_file():
        missing.append(SSHD)
    return missing


@pytest.fixture(scope="session")
def fleet_tools() -> None:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"fleet tests need {', '.join(missing)}")


@pytest.fixture(scope="session")
def release_tarball() -> Callable[[str, str], Path]:
    """``release_tarball(name, vsn)``: build (or take from the cache) a test release tarball."""
    def get(name: str, vsn: str) -> Path:
        why = releases.tool_missing(releases.release(name, vsn).kind)
        if why:
            pytest.skip(f"cannot build {name} {vsn}: {why}")
        return releases.tarball(name, vsn)

    return get


@pytest.fixture
def fleet_factory(
    fleet_tools: None, release_tarball: Callable[[str, str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Fleet]]:
    fleets: List[Fleet] = []

    def make(name: str, vsn: str, nodes: int = 3, tarball: Optional[Path] = None, **options) -> Fleet:
        """A started fleet; ``options`` go to :class:`Fleet` (e.g. ``tarballs={"node3": path}``)."""
        path = Path(tarball) if tarball is not None else release_tarball(name, vsn)
        fleet = Fleet(path, name, nodes, base_dir=tmp_path_factory.mktemp(f"fleet-{name}"), **options)
        fleets.append(fleet)  # before start(): start() stops what it started if it fails
        return fleet.start()

    yield make
    errors = []
    for fleet in reversed(fleets):
        try:
            fleet.stop()
        except FleetError as exc:
            errors.append(str(exc))
    if errors:
        pytest.fail("fleet teardown left processes behind: " + "; ".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def shop_fleet(
    fleet_tools: None, release_tarball: Callable[[str, str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    """Three nodes of ``shop`` 1.0.0, shared by the tests of one module."""
    fleet = Fleet(release_tarball(*SHOP), SHOP[0], 3, base_dir=tmp_path_factory.mktemp("fleet-shop"))
    with fleet:
        yield fleet
