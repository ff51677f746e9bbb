# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hot-upgrade verdict and its reasons."""
from __future__ import annotations

from ansible_collections.erlang.otp.plugins.module_utils._release import AppFacts, ReleaseFacts
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom
from ansible_collections.erlang.otp.plugins.module_utils._upgrade_verdict import restarts_emulator, verdict

A = Atom
UP = [
    (A("load_object_code"), ("a", "2", [A("m")])),
    A("point_of_no_return"),
    (A("load"), (A("m"), A("brutal_purge"), A("brutal_purge"))),
]


def release(vsn: str, erts: str = "13.1.5", kernel: str = "8.5.3", sasl: bool = True, bundled: bool = True, **apps):
    listed = [AppFacts("kernel", kernel, bundled=bundled), AppFacts("stdlib", "4.2", bundled=bundled)]
    if sasl:
        listed.append(AppFacts("sasl", "4.2", bundled=bundled))
    listed += [AppFacts(name, v) for name, v in apps.items()]
    return ReleaseFacts("r", vsn, erts, listed)


def test_same_erts_and_core_with_a_relup_is_hot():
    got = verdict(release("2", a="2"), release("1", a="1"), UP, UP)
    assert got.hot and got.reasons == []
    assert got.to_dict() == {"hot": True, "reasons": []}


def test_each_obstacle_is_a_reason():
    top = release("2", erts="13.2", kernel="8.6", a="2")
    base = release("1", sasl=False, bundled=False, a="1")
    got = verdict(top, base, relup_error="no_relup for a")
    assert not got.hot
    text = "\n".join(got.reasons)
    assert "ERTS changes from 13.1.5 to 13.2" in text
    assert "kernel changes from 8.5.3 to 8.6" in text
    assert "running release r 1 does not bundle kernel, stdlib under lib/" in text
    assert "sasl is not part of the running release r 1" in text
    assert "no relup from 1: no_relup for a" in text


def test_a_relup_that_restarts_the_emulator_is_not_hot():
    restart = [A("restart_new_emulator"), *UP]
    got = verdict(release("2", a="2"), release("1", a="1"), restart, UP)
    assert not got.hot and got.reasons == ["the relup between 1 and 2 restarts the emulator"]
    assert restarts_emulator([*UP, A("restart_emulator")])
    assert not restarts_emulator(UP)


def test_a_missing_relup_is_a_reason():
    got = verdict(release("2", a="2"), release("1", a="1"))
    assert got.reasons == ["no relup from 1"]
