# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet plan of the erlang.otp.upgrade role: who goes hot, who restarts, in which batches.

PRIVATE to the erlang.otp collection: may change at any time.

Pure logic, standard library only. The action plugin ``erlang.otp.upgrade_plan`` reads the
inventory and the facts of every host (what ``erlang.otp.release_info`` returned) and calls:

* :func:`package_requests` - which upgrade packages to build on the controller (one per version,
  serving both the up-installs to it and the down entries from it), each built by one
  ``erlang.otp.relup`` task;
* :func:`decide` - the plan: per host one of :data:`ACTIONS`, from -> to, why, the package, the
  releases to remove afterwards; plus the rollout order and the batch settings, and ``lines`` to
  print;
* :func:`batch_gate` - at the end of a batch, whether the rollout stops (the rule of Ansible's
  ``max_fail_percentage``: the percentage must be exceeded);
* :func:`summary` - the table printed at the end.

Every error is a :class:`PlanError` whose message names the host, the variable and its value.
Everything returned is plain JSON data (dicts, lists, str, int, float, bool, None).
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field

__all__ = [
    "ACTIONS",
    "HEALTH_DEFAULTS",
    "HOT_ACTIONS",
    "ROLLING_ACTIONS",
    "STRATEGIES",
    "HostInput",
    "PackageRequest",
    "PlanError",
    "PlanErrors",
    "batch_gate",
    "batches",
    "compare_versions",
    "decide",
    "fleet_setting",
    "node_blockers",
    "normalize_health",
    "package_requests",
    "releases_to_remove",
    "summary",
    "version_key",
]

ACTIONS = ("noop", "commit", "hot_up", "hot_down", "rolling_up", "rolling_down")
HOT_ACTIONS = ("commit", "hot_up", "hot_down")
ROLLING_ACTIONS = ("rolling_up", "rolling_down")
STRATEGIES = ("auto", "hot", "rolling")
LABELS = {
    "noop": "unchanged",
    "commit": "commit",
    "hot_up": "hot up",
    "hot_down": "hot down",
    "rolling_up": "rolling up",
    "rolling_down": "rolling down",
}
HEALTH_DEFAULTS = {"erlang": None, "url": None, "status_code": 200, "retries": 5, "delay": 2, "timeout": 10}
# Statuses of a release that is still on the node (its files are there).
ON_NODE = ("old", "unpacked", "permanent", "current")
# Statuses remove_release may take away (never the permanent or the running release).
REMOVABLE = ("old", "unpacked")
# Phases of erlang.otp.release (phase_failed) that leave the node untouched.
BEFORE_PONR = ("unpack", "check", "install_before_ponr")


class PlanError(ValueError):
    """A fleet that cannot be planned. The message names the host, the variable and the value."""

    def __init__(self, message: str, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host


class PlanErrors(PlanError):
    """Several :class:`PlanError` at once, with the plan lines computed for the other hosts."""

    def __init__(self, errors: list, lines: list | None = None) -> None:
        self.errors = list(errors)
        self.lines = list(lines or [])
        count = len(self.errors)
        head = "the fleet cannot be planned" + (f" ({count} errors)" if count > 1 else "")
        super().__init__(head + ": " + "; ".join(str(e) for e in self.errors))


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------

_IDENT = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?$"
)
_TOKEN = re.compile(r"\d+|[^\d.\-]+")


def _sign(a, b) -> int:
    return (a > b) - (a < b)


def _semver(text: str):
    found = _SEMVER.match(text)
    if not found:
        return None
    pre = found.group(4)
    return (int(found.group(1)), int(found.group(2)), int(found.group(3))), pre.split(".") if pre else []


def _compare_pre(a: list, b: list) -> int:
    """SemVer 2.0 precedence of two pre-release lists (an empty list is a release, and ranks higher)."""
    if not a or not b:
        return _sign(not a, not b)
    for x, y in zip(a, b):
        xn, yn = x.isdigit(), y.isdigit()
        if xn and yn:
            c = _sign(int(x), int(y))
        elif xn != yn:
            c = -1 if xn else 1  # numeric identifiers rank lower than alphanumeric ones
        else:
            c = _sign(x, y)
        if c:
            return c
    return _sign(len(a), len(b))


def _natural(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in _TOKEN.findall(text)]


def _compare_natural(a: list, b: list) -> int:
    """Part by part; numbers as numbers; a missing part is 0; text ranks below a number ("1.0-rc1" < "1.0")."""
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else 0
        y = b[i] if i < len(b) else 0
        if isinstance(x, int) == isinstance(y, int):
            c = _sign(x, y)
        else:
            c = -1 if isinstance(x, str) else 1
        if c:
            return c
    return 0


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as release version ``a`` is older than, the same as, or newer than ``b``.

    SemVer 2.0 precedence when both are ``X.Y.Z[-pre][+build]``; otherwise natural order of the
    parts separated by dots and dashes, digits compared as numbers. Two different strings that
    compare equal (``1.0`` and ``1.0.0``, or ``1.0.0+a`` and ``1.0.0+b``) cannot be ordered: PlanError.
    """
    for value in (a, b):
        if not isinstance(value, str) or not value:
            raise PlanError(f"cannot order versions {a!r} and {b!r}: {value!r} is not a version string")
    if a == b:
        return 0
    sa, sb = _semver(a), _semver(b)
    if sa is not None and sb is not None:
        c = _sign(sa[0], sb[0]) or _compare_pre(sa[1], sb[1])
    else:
        c = _compare_natural(_natural(a), _natural(b))
    if c == 0:
        raise PlanError(
            f"cannot order versions {a!r} and {b!r}: they differ but neither is newer "
            "(build metadata after '+' and trailing '.0' do not count); rename one of them"
        )
    return c


version_key = functools.cmp_to_key(compare_versions)


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


def _int(value, var: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An int from an int or a string of digits (``-e`` gives strings); PlanError naming ``var`` otherwise."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        number = int(value)
    if number is None or (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = []
        if minimum is not None:
            bounds.append(f">= {minimum}")
        if maximum is not None:
            bounds.append(f"<= {maximum}")
        wanted = "an integer" + (" " + " and ".join(bounds) if bounds else "")
        raise PlanError(f"{var}: {value!r} is not {wanted}")
    return number


def _number(value, var: str, positive: bool = False) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d*)?\s*", value):
        number = float(value) if "." in value else int(value)
    else:
        number = -1
    if number < 0 or (positive and number == 0):
        raise PlanError(f"{var}: {value!r} is not a {'positive' if positive else 'non-negative'} number")
    return number


def normalize_health(value) -> dict | None:
    """The health check setting as one dict, or None when there is none.

    ``""``, None and ``{}`` mean no check. A string starting with ``http://`` or ``https://`` is
    ``{"url": value}``; any other string is ``{"erlang": value}`` (an Erlang expression that must
    return ``true`` or ``ok`` on the node). A dict may give ``erlang`` and/or ``url``, and
    ``status_code``, ``retries``, ``delay`` and ``timeout``; the result has all six keys.
    """
    var = "otp_release_health_check"
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        given = {"url": text} if text.startswith(("http://", "https://")) else {"erlang": text}
    elif isinstance(value, dict):
        if not value:
            return None
        given = dict(value)
    else:
        raise PlanError(
            f"{var}: {value!r} is a {type(value).__name__}; expected an Erlang expression, "
            "an http(s) URL, or a dict with erlang and/or url"
        )
    unknown = sorted(str(k) for k in given if k not in HEALTH_DEFAULTS)
    if unknown:
        raise PlanError(f"{var}: unknown key(s) {', '.join(unknown)} (known: {', '.join(HEALTH_DEFAULTS)})")
    health = dict(HEALTH_DEFAULTS)
    for key, item in given.items():
        if item is not None and item != "":
            health[key] = item
    erlang, url = health["erlang"], health["url"]
    if erlang is not None and not (isinstance(erlang, str) and erlang.strip()):
        raise PlanError(f"{var}.erlang: {erlang!r} is not an Erlang expression (a string)")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise PlanError(f"{var}.url: {url!r} is not an http:// or https:// URL")
    if erlang is None and url is None:
        raise PlanError(f"{var}: {value!r} gives neither erlang nor url")
    codes = health["status_code"]
    if isinstance(codes, list):
        health["status_code"] = [_int(c, f"{var}.status_code", 100, 599) for c in codes]
        if not codes:
            raise PlanError(f"{var}.status_code: [] names no status code")
    else:
        health["status_code"] = _int(codes, f"{var}.status_code", 100, 599)
    health["retries"] = _int(health["retries"], f"{var}.retries", 0)
    health["delay"] = _number(health["delay"], f"{var}.delay")
    health["timeout"] = _number(health["timeout"], f"{var}.timeout", positive=True)
    return health


def fleet_setting(values: dict, key: str, default):
    """The one value of a fleet-wide variable: every host must give the same.

    ``values`` maps host -> value; a host that is missing, or gives None, has ``default``. The play
    keywords ``serial`` and ``max_fail_percentage`` are templated without a host, so they cannot
    read per-host variables: the plan carries the value, and hosts that disagree are an error.
    """
    first_host, first = None, default
    for host, given in values.items():
        value = default if given is None else given
        if first_host is None:
            first_host, first = host, value
        elif value != first:
            raise PlanError(
                f"{key} differs between hosts: {first_host} has {first!r}, {host} has {value!r}. "
                "Set it once for the whole fleet (group_vars/all or -e): play keywords such as serial "
                "cannot read per-host variables"
            )
    return first


def _batch_size(item, var: str):
    if isinstance(item, str) and item.strip().endswith("%"):
        pct = _int(item.strip()[:-1], var, 1, 100)
        return f"{pct}%"
    return _int(item, var, 1)


def _batch_setting(value, var: str):
    """A ``serial`` value: a batch size (int >= 1 or "N%"), or a non-empty list of them."""
    if isinstance(value, str) and value.strip().startswith("["):
        raise PlanError(
            f"{var}: {value!r} is a string; pass a list as JSON, for example -e "
            f"'{{\"{var}\": [1, \"100%\"]}}'"
        )
    hint = "; a batch size is an integer >= 1 or a percentage such as '25%'"
    if isinstance(value, (list, tuple)):
        if not value:
            raise PlanError(f"{var}: [] names no batch size")
        try:
            return [_batch_size(item, var) for item in value]
        except PlanError as exc:
            raise PlanError(f"{exc} (in {list(value)!r}){hint}") from None
    try:
        return _batch_size(value, var)
    except PlanError as exc:
        raise PlanError(f"{exc}{hint}") from None


def _pct_to_int(value, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return int(int(value[:-1]) / 100.0 * total) or 1
    return int(value)


def batches(hosts: list, serial) -> list:
    """``hosts`` split into batches the way Ansible splits a play by its ``serial`` keyword.

    A list is used item by item and its last item repeats; a percentage is of all the hosts
    (rounded down, at least 1).
    """
    sizes = serial if isinstance(serial, (list, tuple)) else [serial]
    sizes = list(sizes) or [-1]
    remaining, total, out, index = list(hosts), len(hosts), [], 0
    while remaining:
        size = _pct_to_int(sizes[index], total)
        if size <= 0:
            out.append(remaining)
            break
        out.append(remaining[:size])
        remaining = remaining[size:]
        index = min(index + 1, len(sizes) - 1)
    return out


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass
class HostInput:
    """One host of the fleet: its inventory variables and its ``erlang.otp.release_info`` result.

    ``facts`` holds the keys release_info returns (reachable, unreachable_reason, name,
    running_version, permanent_version, boot_version, releases, erts, otp_libs_bundled, sasl,
    release_handler, drift, drift_checked, relup, manifest), or None when the host gave none.
    ``health`` is the raw ``otp_release_health_check`` (see :func:`normalize_health`). Hooks are
    controller paths, already checked to exist.
    """

    host: str
    name: str | None
    root: str | None
    target: object
    strategy: str = "auto"
    keep: object = 2
    health: object = None
    service: str | None = None
    before_hook: str | None = None
    after_hook: str | None = None
    facts: dict | None = None


@dataclass
class PackageRequest:
    """One upgrade package to build with ``erlang.otp.relup``: ``current`` with a relup from each of ``previous``."""

    name: str
    vsn: str
    current: str
    previous: list = field(default_factory=list)
    dest: str = ""
    bases: list = field(default_factory=list)
    overrides: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "vsn": self.vsn,
            "current": self.current,
            "previous": list(self.previous),
            "dest": self.dest,
            "bases": list(self.bases),
            "overrides": self.overrides,
        }


def _fleet_name(hosts: list) -> str:
    names = {}
    for h in hosts:
        if not isinstance(h.name, str) or not h.name:
            raise PlanError(f"{h.host}: otp_release_name is {h.name!r}; set it to the release name", h.host)
        names.setdefault(h.name, h.host)
    if len(names) > 1:
        listed = ", ".join(f"{host} has {name!r}" for name, host in names.items())
        raise PlanError(
            f"otp_release_name differs between hosts ({listed}): run once per release, with "
            "-e otp_release_hosts=<group>"
        )
    if not names:
        raise PlanError("no hosts to plan: otp_release_hosts matched none")
    return next(iter(names))


def _usable_facts(h: HostInput):
    """The facts when rule 1 passes (reachable, the right release, a running version), else None."""
    facts = h.facts
    if not isinstance(facts, dict) or facts.get("failed") or facts.get("unreachable") or facts.get("skipped"):
        return None
    if facts.get("reachable") is not True or facts.get("name") != h.name:
        return None
    if not isinstance(facts.get("running_version"), str):
        return None
    return facts


def _check_facts(h: HostInput) -> dict:
    """Rule 1: the facts, or PlanError saying why this host cannot be planned."""
    facts = h.facts
    if not isinstance(facts, dict) or not facts:
        raise PlanError(
            f"{h.host}: no facts from erlang.otp.release_info (the host failed or was unreachable over SSH "
            "in the facts play)",
            h.host,
        )
    if facts.get("unreachable") or facts.get("failed") or facts.get("skipped"):
        why = facts.get("msg") or ("unreachable" if facts.get("unreachable") else "the task did not run")
        raise PlanError(f"{h.host}: erlang.otp.release_info failed: {why}", h.host)
    if "reachable" not in facts:
        raise PlanError(
            f"{h.host}: the facts have no 'reachable' key; they are not an erlang.otp.release_info result", h.host
        )
    if facts.get("reachable") is not True:
        reason = facts.get("unreachable_reason") or "no reason given"
        raise PlanError(
            f"{h.host}: node {facts.get('node') or '?'} of release {facts.get('name') or h.name} under "
            f"{facts.get('root') or h.root} does not answer (reachable: false): {reason}. Start it, or leave "
            "the host out (--limit)",
            h.host,
        )
    if facts.get("name") != h.name:
        raise PlanError(
            f"{h.host}: otp_release_name is {h.name!r}, but the release under {facts.get('root') or h.root} "
            f"is {facts.get('name')!r}",
            h.host,
        )
    if not isinstance(facts.get("running_version"), str) or not facts.get("running_version"):
        raise PlanError(
            f"{h.host}: the node runs no known version of {h.name} (running_version: "
            f"{facts.get('running_version')!r}); release_handler reported: {facts.get('hot_upgrade_reasons') or []}",
            h.host,
        )
    return facts


def _target(h: HostInput) -> str:
    value = h.target
    if isinstance(value, bool) or value is None or value == "":
        raise PlanError(f"{h.host}: otp_release_version is {value!r}; set it to the version the node must run", h.host)
    if isinstance(value, float):
        raise PlanError(
            f"{h.host}: otp_release_version is the number {value!r}; quote it in YAML (\"{value}\" may not be "
            "what you wrote, for example 1.10 reads as 1.1)",
            h.host,
        )
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise PlanError(f"{h.host}: otp_release_version is {value!r}, not a version string", h.host)
    return value.strip()


def _strategy(h: HostInput) -> str:
    value = h.strategy if h.strategy not in (None, "") else "auto"
    if value not in STRATEGIES:
        raise PlanError(f"{h.host}: otp_release_strategy is {value!r}; expected one of {', '.join(STRATEGIES)}", h.host)
    return value


def _known(facts: dict, name: str) -> dict:
    """version -> status of the releases of ``name`` that the node knows."""
    out = {}
    for rel in facts.get("releases") or []:
        if isinstance(rel, dict) and rel.get("name") in (None, name) and isinstance(rel.get("version"), str):
            out[rel["version"]] = rel.get("status")
    return out


def node_blockers(facts: dict) -> list:
    """Why this node cannot take any hot upgrade, from the raw facts (not from hot_upgrade_reasons).

    A missing ``releases/RELEASES`` is not a reason: erlang.otp.release writes one.
    """
    reasons = []
    erts = facts.get("erts") or {}
    if facts.get("release_handler") is not True:
        reasons.append("release_handler does not run on the node (sasl is not started)")
    if erts.get("release") not in (erts.get("bundled") or []):
        bundled = ", ".join(erts.get("bundled") or []) or "none"
        reasons.append(f"ERTS {erts.get('release')} is not bundled under the root (bundled: {bundled})")
    if not facts.get("otp_libs_bundled"):
        reasons.append("the OTP libraries (kernel, stdlib, ...) are not all bundled under lib/")
    if not (facts.get("sasl") or {}).get("in_release"):
        reasons.append("sasl is not part of the release, so release_handler cannot run")
    if erts.get("running") != erts.get("release"):
        reasons.append(f"the node runs ERTS {erts.get('running')}, the release names ERTS {erts.get('release')}")
    drift = facts.get("drift") or []
    if drift:
        names = ", ".join(str(d.get("module")) for d in drift[:5] if isinstance(d, dict))
        more = f" and {len(drift) - 5} more" if len(drift) > 5 else ""
        reasons.append(f"loaded code differs from the release files (drift) in {len(drift)} module(s): {names}{more}")
    return reasons


def _relup_down(facts: dict, target: str):
    """The running relup's down entry to ``target`` ({"restarts_emulator": bool}), or None."""
    relup = facts.get("relup")
    if not isinstance(relup, dict):
        return None
    entry = (relup.get("down") or {}).get(target)
    return entry if isinstance(entry, dict) else None


def _down_in_running_relup(facts: dict, target: str) -> bool:
    entry = _relup_down(facts, target)
    return entry is not None and not entry.get("restarts_emulator")


def _tarball_name(name: str, vsn: str) -> str:
    return f"{name}-{vsn}.tar.gz"


# ---------------------------------------------------------------------------------------------
# Package requests
# ---------------------------------------------------------------------------------------------


def package_requests(hosts: list, tarballs: dict, build_dir: str, overrides: str | None) -> list:
    """The upgrade packages to build, one per version, in version order.

    * For a version V that hosts go up to: ``current`` is the tarball of V (required), ``previous``
      the manifest of each running version older than V (of the first host running it, in
      inventory order; else that version's tarball when present). Hosts with
      ``otp_release_strategy: rolling`` never use a relup and add nothing.
    * For the running version V of a host pinned down to T that is still on the node, when the
      running relup has no usable down entry to T: the tarball of T joins ``previous`` of V, when
      the tarballs of V and T are both present (old tarballs are used when present, never required).

    Hosts that cannot be planned (no facts, node down, ...) are skipped here; :func:`decide`
    reports them.
    """
    name = _fleet_name(hosts)
    wanted: dict = {}  # vsn -> {base vsn: source}
    errors = []

    def add(vsn: str, base: str, source) -> None:
        bases = wanted.setdefault(vsn, {})
        if base not in bases and base != vsn:
            bases[base] = source

    for h in hosts:
        facts = _usable_facts(h)
        if facts is None:
            continue
        try:
            target = _target(h)
            strategy = _strategy(h)
            running = facts["running_version"]
            if target == running:
                continue
            direction = compare_versions(target, running)
        except PlanError:
            continue  # decide() reports it
        if direction > 0:
            if target not in tarballs:
                errors.append(
                    PlanError(
                        f"{h.host}: otp_release_version is {target}, but otp_release_packages has no "
                        f"{_tarball_name(name, target)}",
                        h.host,
                    )
                )
                continue
            if strategy == "rolling" or node_blockers(facts):
                continue  # this host restarts whatever the package holds
            source = facts.get("manifest") if isinstance(facts.get("manifest"), dict) else tarballs.get(running)
            if source is not None:
                add(target, running, source)
        else:
            if strategy == "rolling" or node_blockers(facts):
                continue
            if _known(facts, name).get(target) not in ON_NODE or _down_in_running_relup(facts, target):
                continue
            if running in tarballs and target in tarballs:
                add(running, target, tarballs[target])
    if errors:
        raise PlanErrors(errors)

    requests = []
    for vsn in sorted(wanted, key=version_key):
        bases = wanted[vsn]
        if not bases:
            continue  # nothing to relup from: the hosts going there restart from the tarball
        dest = os.path.join(build_dir, _tarball_name(name, vsn))
        if os.path.normpath(dest) == os.path.normpath(tarballs[vsn]):
            raise PlanError(
                f"otp_release_build_dir is {build_dir}, the directory of otp_release_packages: the built "
                f"package would overwrite {tarballs[vsn]}; use another directory"
            )
        ordered = sorted(bases, key=version_key)
        requests.append(
            PackageRequest(
                name=name,
                vsn=vsn,
                current=tarballs[vsn],
                previous=[bases[b] for b in ordered],
                dest=dest,
                bases=ordered,
                overrides=overrides or None,
            )
        )
    return requests


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------


def releases_to_remove(releases: list, target: str, keep: int) -> list:
    """The versions to remove after the node runs ``target``, newest first.

    ``releases`` are dicts with ``version`` and ``status`` as they will be after the change. The
    ``old`` and ``unpacked`` ones other than ``target`` are ranked newest first; the first ``keep``
    stay, the rest go. The permanent release and ``target`` are never removed.
    """
    keep = _int(keep, "otp_release_keep", 0)
    candidates = []
    for rel in releases:
        vsn = rel.get("version")
        if rel.get("status") in REMOVABLE and vsn != target and vsn not in candidates:
            candidates.append(vsn)
    candidates.sort(key=version_key, reverse=True)
    return candidates[keep:]


def _after(releases: dict, target: str) -> list:
    """The releases once ``target`` is permanent: the previously running ones become ``old``."""
    out = []
    for vsn, status in releases.items():
        if vsn == target:
            continue
        out.append({"version": vsn, "status": "old" if status in ("permanent", "current") else status})
    out.append({"version": target, "status": "permanent"})
    return out


def _short(checksum) -> str:
    if not isinstance(checksum, str):
        return "no checksum"
    algo, _sep, digest = checksum.rpartition(":")
    return f"{algo or 'sha256'}:{digest[:12]}…"


def _package_entry(built: dict, vsn: str):
    entry = built.get(vsn)
    return entry if isinstance(entry, dict) else None


def _verdict_reasons(package, vsn: str, base: str, quiet: bool = False) -> list:
    """Why the package of ``vsn`` does not take a node from ``base`` hot (empty when it does).

    ``quiet``: the node is blocked anyway, so a package that was not built for it is no reason.
    """
    entry = (package.get("upgrades") or {}).get(base) if package is not None else None
    if not isinstance(entry, dict):
        if quiet:
            return []
        if package is None:
            return [f"no upgrade package of {vsn} with a relup from {base} was built (no manifest or tarball of it)"]
        return [f"the upgrade package of {vsn} has no relup entry for {base}"]
    if entry.get("hot"):
        return []
    return list(entry.get("reasons") or [f"the relup between {base} and {vsn} is not hot"])


def _decide_host(h: HostInput, name: str, tarballs: dict, built: dict) -> dict:
    facts = _check_facts(h)
    target = _target(h)
    strategy = _strategy(h)
    try:
        keep = _int(h.keep if h.keep not in (None, "") else 2, "otp_release_keep", 0)
    except PlanError as exc:
        raise PlanError(f"{h.host}: {exc}", h.host) from None
    try:
        health = normalize_health(h.health)
    except PlanError as exc:
        raise PlanError(f"{h.host}: {exc}", h.host) from None
    running = facts["running_version"]
    permanent = facts.get("permanent_version")
    boot = facts.get("boot_version")
    known = _known(facts, name)
    entry = {
        "action": "noop",
        "method": None,
        "from": running,
        "to": target,
        "reasons": [],
        "package": None,
        "checksum": None,
        "remove": [],
        "health": health,
        "service": h.service or None,
        "before_hook": h.before_hook or None,
        "after_hook": h.after_hook or None,
    }

    def rolling_or_fail(action: str, reasons: list) -> None:
        if strategy == "hot":
            raise PlanError(
                f"{h.host}: otp_release_strategy is hot, but {running} -> {target} cannot go hot: "
                + "; ".join(reasons),
                h.host,
            )
        entry.update(action=action, method="rolling", reasons=reasons)

    if target == running:
        if permanent == target and boot in (target, None):
            return entry
        reasons = []
        if permanent != target:
            reasons.append(f"{target} runs but is not permanent (permanent: {permanent})")
        elif boot not in (target, None):
            reasons.append(f"{target} is permanent but a restart would boot {boot}")
        entry.update(action="commit", method="hot", reasons=reasons, **{"from": permanent or running})
    else:
        try:
            direction = compare_versions(target, running)
        except PlanError as exc:
            raise PlanError(f"{h.host}: otp_release_version {target} vs the running {running}: {exc}", h.host) from None
        blockers = node_blockers(facts)
        if direction > 0:
            package = _package_entry(built, target)
            if strategy == "rolling":
                reasons = ["otp_release_strategy: rolling"]
            else:
                reasons = blockers + _verdict_reasons(package, target, running, quiet=bool(blockers))
            if not reasons:
                entry.update(action="hot_up", method="hot")
                entry.update(package=package.get("dest"), checksum=package.get("checksum"))
            else:
                rolling_or_fail("rolling_up", reasons)
                if package is not None and package.get("dest"):
                    entry.update(package=package.get("dest"), checksum=package.get("checksum"))
                elif target in tarballs:
                    entry["package"] = tarballs[target]
                else:
                    raise PlanError(
                        f"{h.host}: otp_release_version is {target}, but otp_release_packages has no "
                        f"{_tarball_name(name, target)}",
                        h.host,
                    )
        else:
            on_node = known.get(target) in ON_NODE
            in_relup = _down_in_running_relup(facts, target)
            package = _package_entry(built, running)
            package_hot = package is not None and not _verdict_reasons(package, running, target)
            if strategy == "rolling":
                reasons = ["otp_release_strategy: rolling"]
            else:
                reasons = list(blockers)
                if not on_node:
                    reasons.append(f"{target} is no longer on the node")
                elif not (in_relup or package_hot):
                    down = _relup_down(facts, target)
                    if down is not None:
                        reasons.append(f"the down script of the running relup to {target} restarts the emulator")
                    else:
                        reasons.append(f"the relup of the running release {running} has no down script to {target}")
                    if package is not None:
                        reasons += _verdict_reasons(package, running, target, quiet=bool(blockers))
                    elif not blockers:
                        reasons.append(
                            f"no rebuilt package of {running} adds one (it needs {_tarball_name(name, running)} and "
                            f"{_tarball_name(name, target)} in otp_release_packages)"
                        )
            if not reasons:
                entry.update(action="hot_down", method="hot")
                if not in_relup:
                    entry.update(package=package.get("dest"), checksum=package.get("checksum"))
            else:
                rolling_or_fail("rolling_down", reasons)
                if not on_node:
                    if target not in tarballs:
                        raise PlanError(
                            f"cannot downgrade {h.host} to {target} (otp_release_version): not on the node and "
                            f"no {_tarball_name(name, target)} in otp_release_packages",
                            h.host,
                        )
                    entry["package"] = tarballs[target]
    try:
        entry["remove"] = releases_to_remove(_after(known, target), target, keep)
    except PlanError as exc:
        raise PlanError(f"{h.host}: the releases on the node: {exc}", h.host) from None
    return entry


def _kind(action: str) -> str:
    return "hot" if action in HOT_ACTIONS else "rolling" if action in ROLLING_ACTIONS else "unchanged"


def _fmt_serial(value) -> str:
    return repr(list(value)) if isinstance(value, (list, tuple)) else str(value)


def _detail(entry: dict) -> str:
    action = entry["action"]
    if action == "noop":
        text = f"runs {entry['to']}, permanent"
    elif action == "hot_up":
        text = f"relup from {entry['from']}, package {_short(entry['checksum'])}"
    elif action == "hot_down":
        if entry["package"]:
            text = f"down script from the rebuilt package of {entry['from']} ({_short(entry['checksum'])})"
        else:
            text = f"down script in the running relup of {entry['from']}"
    elif action == "commit":
        text = "; ".join(entry["reasons"]) + ": health check, then make it permanent"
    else:
        text = "; ".join(entry["reasons"])
        if entry["package"] is None:
            text += f"; {entry['to']} is still on the node"
    if entry["remove"]:
        text += f"; then removes {', '.join(entry['remove'])}"
    return text


def _plan_lines(plan: dict) -> list:
    hosts = plan["hosts"]
    counts = {"hot": 0, "rolling": 0, "unchanged": 0}
    for entry in hosts.values():
        counts[_kind(entry["action"])] += 1
    lines = [
        f"Fleet plan for {plan['name']}: {len(hosts)} host{'s' if len(hosts) != 1 else ''} ({counts['hot']} hot, "
        f"{counts['rolling']} rolling, {counts['unchanged']} unchanged); hot batches {_fmt_serial(plan['serial'])}, "
        f"rolling batches {_fmt_serial(plan['rolling_serial'])}; stop when more than "
        f"{plan['max_fail_percentage']}% of a batch fails"
    ]
    width = max([len(h) for h in hosts] + [4])
    for host, entry in hosts.items():
        span = f"{entry['from']} -> {entry['to']}" if entry["action"] != "noop" else entry["to"]
        lines.append(f"{host:<{width}}  {LABELS[entry['action']]:<12} {span}  {_detail(entry)}")
    if plan.get("check_mode"):
        lines.append("check mode: nothing will be changed")
    return lines


def decide(
    hosts: list,
    tarballs: dict,
    built: dict,
    *,
    serial,
    rolling_serial,
    max_fail_percentage,
    check_mode: bool,
    started: float | None = None,
) -> dict:
    """The fleet plan (see the module docstring). Raises :class:`PlanErrors` listing every error.

    ``tarballs`` maps version -> controller path of ``<name>-<vsn>.tar.gz``; ``built`` maps version
    -> the result of the ``erlang.otp.relup`` task that built it (``dest``, ``checksum``,
    ``upgrades``). The first rule that matches wins, per host (R running, P permanent, B boot
    version, T target, S strategy):

    1. no usable facts, node down, another release -> error;
    2. T == R, P == T, B in (T, None) -> ``noop``;
    3. T == R -> ``commit`` (health check, make permanent), from P;
    4. T > R, S != rolling, no node blockers, the package of T is hot from R -> ``hot_up``;
    5. T > R -> ``rolling_up`` (the package of T if built, else its tarball);
    6. T < R, T on the node, no blockers, S != rolling, a down script without restart (in the
       running relup, or in the rebuilt package of R) -> ``hot_down``;
    7. T < R -> ``rolling_down`` (from the node, else the tarball of T).

    With S == hot, rules 5 and 7 are errors. In check mode the rollout lists are empty.
    """
    errors: list = []
    try:
        name = _fleet_name(hosts)
    except PlanError as exc:
        raise PlanErrors([exc]) from None
    settings = {}
    for key, value, var in (
        ("serial", serial, "otp_release_serial"),
        ("rolling_serial", rolling_serial, "otp_release_rolling_serial"),
    ):
        try:
            settings[key] = _batch_setting(value, var)
        except PlanError as exc:
            errors.append(exc)
            settings[key] = value
    try:
        settings["max_fail_percentage"] = _int(max_fail_percentage, "otp_release_max_fail_percentage", 0, 100)
    except PlanError as exc:
        errors.append(exc)
        settings["max_fail_percentage"] = max_fail_percentage
    entries = {}
    for h in hosts:
        if h.host in entries:
            continue
        try:
            entries[h.host] = _decide_host(h, name, tarballs, built or {})
        except PlanError as exc:
            errors.append(exc if exc.host else PlanError(f"{h.host}: {exc}", h.host))
    rollout = not check_mode
    plan = {
        "name": name,
        "started": started,
        "check_mode": bool(check_mode),
        "serial": settings["serial"],
        "rolling_serial": settings["rolling_serial"],
        "max_fail_percentage": settings["max_fail_percentage"],
        "hot": [h for h, e in entries.items() if e["action"] in HOT_ACTIONS] if rollout else [],
        "rolling": [h for h, e in entries.items() if e["action"] in ROLLING_ACTIONS] if rollout else [],
        "hosts": entries,
    }
    plan["lines"] = _plan_lines(plan)
    if errors:
        raise PlanErrors(errors, plan["lines"])
    return plan


# ---------------------------------------------------------------------------------------------
# During and after the rollout
# ---------------------------------------------------------------------------------------------


def _succeeded(outcome) -> bool:
    return isinstance(outcome, dict) and outcome.get("result") == "ok"


def batch_gate(batch: list, outcomes: dict, max_fail_percentage: int, number: int | None = None) -> dict:
    """Whether the rollout stops after this batch.

    A host of the batch whose outcome is missing (it became unreachable) or not ``ok`` failed.
    The rollout stops when ``failed * 100 > max_fail_percentage * len(batch)``: the percentage
    must be exceeded, as with Ansible's ``max_fail_percentage``. So 0 stops on any failure and 100
    never stops (unlike Ansible, an all-failed batch does not stop it then).
    """
    pct = _int(max_fail_percentage, "otp_release_max_fail_percentage", 0, 100)
    batch = list(batch)
    failed = [h for h in batch if not _succeeded(outcomes.get(h))]
    stop = len(failed) * 100 > pct * len(batch)
    which = f"batch {number}" if number is not None else "the batch"
    noun = "host" if len(batch) == 1 else "hosts"
    limit = f"more than {pct}%" if stop else f"at most {pct}% may fail"
    return {
        "stop": stop,
        "failed": failed,
        "hosts": batch,
        "batch": number,
        "size": len(batch),
        "reason": f"{len(failed)} of {len(batch)} {noun} of {which} failed ({limit})",
    }


def _failure_text(entry: dict, outcome: dict) -> str:
    phase = outcome.get("phase")
    running = outcome.get("running") or "an unknown version"
    if outcome.get("result") == "rollback_failed":
        return f"failed ({phase or 'unknown phase'}) and the rollback failed: running {running}"
    if phase in BEFORE_PONR:
        return f"failed before the point of no return, untouched, serving {running}"
    if phase == "install_after_ponr":
        return f"failed after the point of no return: node restarted on {running}"
    if phase in ("health", "permanent"):
        what = "health check" if phase == "health" else "make permanent"
        if not outcome.get("rolled_back"):
            return f"{what} failed, not rolled back, serving {running}"
        if outcome.get("node_restarted") or entry.get("method") == "rolling":
            return f"{what} failed, restarted on {running}"
        return f"{what} failed, rolled back hot to {running}"
    if phase == "restart":
        return f"restart into {entry.get('to')} failed: restarted on {running}"
    return f"failed ({phase or 'unknown phase'}), serving {running}"


def summary(plan: dict, outcomes: dict, stopped: dict | None, started: float, finished: float) -> dict:
    """The summary of a rollout: one row per host of the plan, the lines to print, the failed hosts.

    Each row has ``host``, ``action``, ``from``, ``to``, ``method``, ``seconds``, ``status`` (ok,
    failed, not run, unchanged, planned), ``result`` (a sentence), ``message`` and ``line`` (its
    line of ``lines``).

    ``outcomes`` maps host -> the ``_otp_release_outcome`` the role recorded (``result`` ``ok``,
    ``failed`` or ``rollback_failed``, with ``phase``, ``running``, ``rolled_back``,
    ``node_restarted``, ``seconds``, ``removed``, ``warnings``, ``message``), or None. ``stopped`` is
    the :func:`batch_gate` result that stopped the rollout, or None.
    """
    rows, failed = [], []
    counts = {"ok": 0, "failed": 0, "not run": 0, "unchanged": 0, "planned": 0}
    stop_batch = (stopped or {}).get("hosts") or []
    for host, entry in plan["hosts"].items():
        outcome = outcomes.get(host)
        message = None
        seconds = None
        if entry["action"] == "noop":
            status, result = "unchanged", "unchanged"
        elif plan.get("check_mode"):
            status, result = "planned", "check mode: not changed"
        elif isinstance(outcome, dict):
            seconds = outcome.get("seconds")
            message = outcome.get("message")
            if outcome.get("result") == "ok":
                status, result = "ok", "ok"
                if outcome.get("removed"):
                    result += f", removed {', '.join(str(v) for v in outcome['removed'])}"
                for warning in outcome.get("warnings") or []:
                    result += f"; warning: {warning}"
            else:
                status, result = "failed", _failure_text(entry, outcome)
        elif stopped and host not in stop_batch:
            kind = "rolling batch" if stopped.get("kind") == "rolling" else "batch"
            status = "not run"
            result = (
                f"not run: rollout stopped after {kind} {stopped.get('batch') or '?'} "
                f"({len(stopped.get('failed') or [])} of {stopped.get('size') or '?'} failed)"
            )
        else:
            status = "failed"
            result = "failed: no outcome recorded (the host failed outside the rollback or became unreachable)"
        counts[status] += 1
        if status == "failed":
            failed.append(host)
        rows.append(
            {
                "host": host,
                "action": entry["action"],
                "from": entry["from"],
                "to": entry["to"],
                "method": entry["method"],
                "seconds": seconds,
                "status": status,
                "result": result,
                "message": message,
            }
        )
    total = round(float(finished) - float(started), 1)
    shown = [k for k in ("ok", "failed", "not run", "unchanged", "planned") if counts[k] or k in ("ok", "failed")]
    head = f"Upgrade summary for {plan['name']}: " + ", ".join(f"{counts[k]} {k}" for k in shown)
    lines = [head]
    width = max([len(r["host"]) for r in rows] + [4])
    for row in rows:
        span = f"{row['from']} -> {row['to']}" if row["action"] != "noop" else row["to"]
        secs = f"{row['seconds']:.1f} s" if isinstance(row["seconds"], (int, float)) else "-"
        label, method = LABELS[row["action"]], row["method"] or "-"
        text = f"{row['host']:<{width}}  {label:<12} {span}  {method:<7} {secs:>8}  {row['result']}"
        if row["status"] == "failed" and row["message"]:
            note = str(row["message"])
            text += f" ({note[:200]}{'…' if len(note) > 200 else ''})"
        row["line"] = text
        lines.append(text)
    if stopped:
        lines.append(f"Rollout stopped: {stopped.get('reason')}")
    if plan.get("check_mode"):
        lines.append("check mode: nothing changed")
    lines.append(f"Total time {total:.1f} s")
    return {"rows": rows, "lines": lines, "failed": failed, "seconds": total}
