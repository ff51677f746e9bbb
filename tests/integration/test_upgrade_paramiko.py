# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hot rollout over the ``paramiko`` connection (and on the oldest supported ansible-core).

ansible-core 2.21 no longer has a paramiko connection, so this runs the playbook with the
``.venv-2.17`` of ``make setup`` (ansible-core 2.17 and paramiko, tests/requirements-sanity-2.17.txt):
it is also the end-to-end run on the oldest core that meta/runtime.yml promises.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ansible import playbook
from tests.support.rollout import cart_pid, events, packages, releases

pytestmark = pytest.mark.fleet

OLDEST = Path(__file__).resolve().parents[2] / ".venv-2.17" / "bin"


@pytest.mark.skipif(not (OLDEST / "ansible-playbook").exists(), reason="no .venv-2.17 (run make setup)")
def test_hot_rollout_over_paramiko_on_the_oldest_core(fleet_factory, release_tarball, tmp_path):
    probe = playbook("erlang.otp.upgrade", None, bin_dir=OLDEST, args=["--version"])
    assert "core 2.17" in probe.stdout, probe
    fleet = fleet_factory("shop", "1.0.0", nodes=2)
    pk = packages(tmp_path, release_tarball, ["1.0.0", "1.1.0"])
    fleet.set_vars(group_vars={"all": {"otp_release_name": "shop", "otp_release_version": "1.1.0",
                                       "otp_release_packages": str(pk), "ansible_connection": "paramiko"}})
    pids = {h: cart_pid(fleet, h) for h in fleet.hosts}
    run = playbook("erlang.otp.upgrade", fleet.inventory_path, bin_dir=OLDEST, verbosity=3)
    assert run.rc == 0, run
    assert "paramiko" in run.stdout.lower(), "the run must really use the paramiko connection"
    assert "SSH: EXEC ssh" not in run.stdout, "no OpenSSH command may run"
    for host in fleet.hosts:
        assert releases(fleet, host) == {"1.1.0": "permanent", "1.0.0": "old"}, host
        assert cart_pid(fleet, host) == pids[host], host
    assert events(run, "Summary | show it")[0]["result"]["msg"][0].startswith("Upgrade summary for shop: 2 ok")
