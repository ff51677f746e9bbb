# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Can a node running one release be upgraded hot to another? The verdict, with its reasons.

PRIVATE to the erlang.otp collection: may change at any time.

A hot upgrade by ``release_handler`` keeps the VM (and every process) running. It needs, for a
pair of releases (from ``base`` to ``top``, or back):

* ERTS bundled in the new release, and the same ERTS version in both (a different ERTS means
  ``restart_new_emulator``: the VM restarts);
* the OTP libraries bundled in both (``release_handler`` loads them from the release's ``lib/``);
* ``sasl`` in both releases (it runs ``release_handler``);
* the same ``kernel``, ``stdlib`` and ``sasl`` versions (OTP's own appups restart the emulator
  when they change);
* a relup entry for the pair, up and down, that does not restart the emulator.

:func:`verdict` takes the two releases (:class:`~._release.Release` or
:class:`~._release.ReleaseFacts`) and what relup generation gave (the up and down instruction
lists, or the error message) and returns a :class:`Verdict`. The orchestration chooses the hot
path when ``verdict.hot`` is true and the rolling restart otherwise; ``reasons`` say why not.
"""
from __future__ import annotations

from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

__all__ = ["CORE_APPS", "Verdict", "restarts_emulator", "verdict"]

CORE_APPS = ("kernel", "stdlib", "sasl")
_RESTARTS = (Atom("restart_new_emulator"), Atom("restart_emulator"))


class Verdict:
    """``hot`` (bool) and ``reasons`` (one sentence each; empty when ``hot``)."""

    def __init__(self, reasons: list) -> None:
        self.reasons = list(reasons)
        self.hot = not self.reasons

    def to_dict(self) -> dict:
        return {"hot": self.hot, "reasons": list(self.reasons)}

    def __repr__(self) -> str:
        return f"Verdict(hot={self.hot}, reasons={self.reasons!r})"


def restarts_emulator(instructions: list) -> bool:
    """Whether a relup script restarts the emulator (so the upgrade is not hot)."""
    return any(instr in _RESTARTS for instr in instructions)


def _label(release) -> str:
    return f"{release.name} {release.vsn}"


def _release_reasons(release, role: str) -> list:
    reasons = []
    if getattr(release, "erts_bundled", True) is False and role == "target":
        reasons.append(f"ERTS {release.erts_vsn} is not bundled in the {role} release {_label(release)}")
    if release.missing_apps:
        reasons.append(
            f"the {role} release {_label(release)} does not bundle {', '.join(release.missing_apps)} under lib/"
        )
    if "sasl" not in release.app_versions:
        reasons.append(f"sasl is not part of the {role} release {_label(release)}, so release_handler cannot run")
    return reasons


def verdict(top, base, up: list | None = None, down: list | None = None, relup_error: str | None = None) -> Verdict:
    """The verdict for upgrading a node from ``base`` to ``top`` (and back down)."""
    reasons = _release_reasons(top, "target") + _release_reasons(base, "running")
    if top.erts_vsn != base.erts_vsn:
        reasons.append(f"ERTS changes from {base.erts_vsn} to {top.erts_vsn}: the emulator must restart")
    old, new = base.app_versions, top.app_versions
    for app in CORE_APPS:
        if app in old and app in new and old[app] != new[app]:
            reasons.append(f"{app} changes from {old[app]} to {new[app]}: OTP's appup restarts the emulator")
    if relup_error is not None:
        reasons.append(f"no relup from {base.vsn}: {relup_error}")
    elif up is None or down is None:
        reasons.append(f"no relup from {base.vsn}")
    elif restarts_emulator(up) or restarts_emulator(down):
        reasons.append(f"the relup between {base.vsn} and {top.vsn} restarts the emulator")
    return Verdict(_unique(reasons))


def _unique(items: list) -> list:
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
