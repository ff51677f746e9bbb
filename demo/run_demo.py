# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo`: a hot upgrade of a live fleet under load, then a downgrade by pinning the version.

What it does, on this machine only (127.0.0.1, nothing is installed outside the repository):

1. builds the test release ``shop`` at 1.0.0 and 1.1.0 with rebar3 (cached in ``.cache/releases``
   after the first run) and copies both tarballs to ``<work>/packages``;
2. starts a fleet: a private sshd on 127.0.0.1, a private epmd, and ``--nodes`` (3) ``shop``
   1.0.0 nodes, with an Ansible inventory and ``group_vars/fleet.yml`` asking for 1.1.0;
3. puts a steady load on every node (``shop_cart:items()`` every 20 ms from a hidden Erlang
   node) and runs ``ansible-playbook -i inventory.yml erlang.otp.upgrade``, showing its output;
4. prints a table per node: version before and after, calls, failed calls, the longest call, and
   whether the ``shop_cart`` process (whose state the upgrade converts) kept its pid;
5. pins ``otp_release_version: 1.0.0`` in ``group_vars/fleet.yml`` and runs the same playbook
   again: a hot downgrade, with the same load and the same table;
6. stops everything it started and removes ``<work>/fleet`` (also after an error or Ctrl-C).

Exit status: 0 when both runs succeeded with no failed call, every cart process kept its pid and
no node restarted; 1 otherwise; 130 after Ctrl-C. ``--json PATH`` writes every figure (the
integration test ``tests/integration/test_demo.py`` reads it).

Run it with ``make demo`` (which installs what is missing first) or, once set up,
``.venv/bin/python demo/run_demo.py [--nodes N] [--json PATH] [--work-dir DIR]``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.collection import ensure_collection_path  # noqa: E402

ensure_collection_path()

from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one  # noqa: E402
from ansible_collections.erlang.otp.plugins.module_utils._terms import text  # noqa: E402

from tests.support import releases  # noqa: E402
from tests.support.ansible import finish_playbook, kill_playbook, start_playbook  # noqa: E402
from tests.support.fleet import SSHD, Fleet  # noqa: E402
from tests.support.load import LoadClient, totals  # noqa: E402

RELEASE = "shop"
OLD, NEW = "1.0.0", "1.1.0"
PLAYBOOK = "erlang.otp.upgrade"
DEFAULT_WORK = ROOT / "demo" / ".work"
PLAYBOOK_TIMEOUT = 900  # seconds; each run takes well under a minute here
HEALTH_CHECK = "is_pid(whereis(shop_sup))"
# One round trip per node gives everything the table compares: the releases and their status,
# the cart's pid, what is in the cart, and the OS pid of the VM (a restart would change it).
STATE_EXPR = (
    "{[{V, S} || {_, V, _, S} <- release_handler:which_releases()],"
    " pid_to_list(shop_cart:pid()), shop_cart:items(), os:getpid()}"
)


class DemoError(RuntimeError):
    """Something the demo needs is missing or broke before the figures could be taken."""


# ---------------------------------------------------------------------------------------------
# output


class Out:
    """Numbered steps with their duration; everything goes to stdout, flushed."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.n = 0
        self.t0 = time.monotonic()

    def step(self, title: str) -> None:
        self.n += 1
        say(f"\n[{self.n}/{self.steps}] {title}")

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def say(line: str = "") -> None:
    print(line, flush=True)


def rel(path: Path) -> str:
    """``path`` relative to the repository when inside it (shorter lines)."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def timed(fn: Callable[[], object]):
    t0 = time.monotonic()
    value = fn()
    return value, time.monotonic() - t0


# ---------------------------------------------------------------------------------------------
# preconditions


def missing_tools() -> List[str]:
    missing = [tool for tool in ("erl", "escript", "epmd", "rebar3", "ssh", "ssh-keygen") if shutil.which(tool) is None]
    if not Path(SSHD).is_file():
        missing.append(SSHD)
    if not (Path(sys.executable).parent / "ansible-playbook").is_file():
        missing.append(f"ansible-playbook next to {sys.executable}")
    return missing


def procs_under(directory: Path) -> List[int]:
    """Pids of processes whose command line or executable lies under ``directory``."""
    prefix = str(directory.resolve()).rstrip("/") + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            exe = os.readlink(entry / "exe") if (entry / "exe").exists() else ""
        except OSError:
            continue
        if exe.startswith(prefix) or any(prefix in arg for arg in argv):
            found.append(int(entry.name))
    return found


def clear_stale(fleet_dir: Path) -> None:
    """Remove what an interrupted earlier run left in ``fleet_dir``; refuse while it still runs."""
    if not fleet_dir.exists():
        return
    alive = procs_under(fleet_dir)
    if alive:
        raise DemoError(
            f"{rel(fleet_dir)} is still in use by pids {', '.join(map(str, alive))} (another demo running, or one "
            f"killed with SIGKILL); stop those processes or pass --work-dir, then run again"
        )
    shutil.rmtree(fleet_dir)


# ---------------------------------------------------------------------------------------------
# node state and figures


def node_state(fleet: Fleet, host: str) -> dict:
    """What :data:`STATE_EXPR` returns on ``host``, as plain Python values."""
    out = fleet.eval(host, STATE_EXPR)
    rels, cart, items, os_pid = parse_one(out + ".", f"{host}: {STATE_EXPR}")
    statuses = {text(vsn): str(status) for vsn, status in rels}
    current = [v for v, s in statuses.items() if s == "current"]
    permanent = [v for v, s in statuses.items() if s == "permanent"]
    return {
        "version": (current or permanent or ["?"])[0],
        "permanent": permanent[0] if permanent else None,
        "releases": statuses,
        "cart_pid": text(cart),
        "cart_items": repr(items),
        "os_pid": text(os_pid),
    }


def on_every_host(fleet: Fleet, fn: Callable[[str], object]) -> Dict[str, object]:
    """``fn(host)`` for every host of the fleet, in parallel (each is an ssh round trip)."""
    found: Dict[str, object] = {}
    errors: List[str] = []

    def one(host: str) -> None:
        try:
            found[host] = fn(host)
        except Exception as exc:  # reported below, with the host
            errors.append(f"{host}: {exc}")

    threads = [threading.Thread(target=one, args=(h,)) for h in fleet.hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise DemoError("; ".join(errors))
    return {h: found[h] for h in fleet.hosts}


def states(fleet: Fleet) -> Dict[str, dict]:
    """:func:`node_state` of every host."""
    return on_every_host(fleet, lambda host: node_state(fleet, host))  # type: ignore[return-value]


def host_figures(target: str, before: dict, after: dict, load: dict) -> dict:
    probe_pids = load.get("probes", {}).get("shop_cart:pid()", [])
    pid_kept = before["cart_pid"] == after["cart_pid"] and set(probe_pids) <= {before["cart_pid"]}
    restarted = before["os_pid"] != after["os_pid"] or len(load.get("creations", [])) > 1
    return {
        "version_before": before["version"],
        "version_after": after["version"],
        "permanent_after": after["permanent"],
        "reached": after["version"] == target and after["permanent"] == target,
        "calls": load["calls"],
        "failed": load["failed"],
        "failed_by_reason": load.get("failed_by_reason", {}),
        "max_latency_ms": load["latency_ms"]["max"],
        "p99_latency_ms": load["latency_ms"]["p99"],
        "max_gap_ms": load.get("max_gap_ms"),
        "cart_pid_before": before["cart_pid"],
        "cart_pid_after": after["cart_pid"],
        "cart_pids_seen": probe_pids,
        "pid_kept": pid_kept,
        "cart_items_before": before["cart_items"],
        "cart_items_after": after["cart_items"],
        "cart_items_kept": before["cart_items"] == after["cart_items"],
        "os_pid_before": before["os_pid"],
        "os_pid_after": after["os_pid"],
        "restarted": restarted,
    }


def task_times(events: List[dict]) -> List[dict]:
    """Per task (in the order they ran; a task of several batches once per batch): the longest it
    took on any host, in seconds. Where the playbook's time goes."""
    out: List[dict] = []
    for event in events:
        started, ended = event.get("started"), event.get("time")
        seconds = round(ended - started, 2) if started and ended else None
        if out and out[-1]["task"] == event["task"] and out[-1]["play"] == event.get("play"):
            if seconds is not None and (out[-1]["seconds"] or 0) < seconds:
                out[-1]["seconds"] = seconds
            out[-1]["hosts"] += 1
        else:
            out.append({"play": event.get("play"), "task": event["task"], "seconds": seconds, "hosts": 1,
                        "start": started})
    return out


def table(hosts: Dict[str, dict]) -> List[str]:
    head = ("node", "version", "calls", "failed", "longest call", "cart pid kept")
    rows = [
        (
            host,
            f"{f['version_before']} -> {f['version_after']}",
            f"{f['calls']:,}",
            f"{f['failed']:,}",
            f"{f['max_latency_ms']:.1f} ms",
            f"yes {f['cart_pid_after']}" if f["pid_kept"] else f"NO {f['cart_pid_before']} -> {f['cart_pid_after']}",
        )
        for host, f in hosts.items()
    ]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    right = {2, 3, 4}

    def fmt(row) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "    " + "   ".join(cells).rstrip()

    return [fmt(head), "    " + "-" * (sum(widths) + 3 * (len(widths) - 1)), *map(fmt, rows)]


# ---------------------------------------------------------------------------------------------
# the playbook, streamed


class Playbook:
    """``ansible-playbook`` in the background, its output copied to the terminal as it comes."""

    def __init__(self, inventory: Path, output_dir: Path) -> None:
        env = {"ANSIBLE_DISPLAY_SKIPPED_HOSTS": "False"}
        if sys.stdout.isatty():
            env.update(ANSIBLE_NOCOLOR="0", ANSIBLE_FORCE_COLOR="1")
        shutil.rmtree(output_dir, ignore_errors=True)
        self.popen = start_playbook(PLAYBOOK, inventory, env=env, output_dir=output_dir)
        self.stdout = output_dir / "stdout.txt"

    def stream(self, prefix: str = "    | ", timeout: float = PLAYBOOK_TIMEOUT) -> None:
        """Print the run's output until it exits (:class:`DemoError` after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        pos = 0
        pending = b""
        while True:
            done = self.popen.poll() is not None
            with open(self.stdout, "rb") as handle:
                handle.seek(pos)
                chunk = handle.read()
            pos += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                line_text = line.decode(errors="replace").rstrip()
                if line_text:
                    say(prefix + line_text)
            if done:
                if pending.strip():
                    say(prefix + pending.decode(errors="replace").rstrip())
                return
            if time.monotonic() > deadline:
                self.interrupt()
                raise DemoError(f"ansible-playbook did not finish in {timeout:.0f} s; interrupted")
            time.sleep(0.1)

    def finish(self):
        return finish_playbook(self.popen, timeout=60)

    def interrupt(self) -> None:
        """As Ctrl-C would (the run is in its own session), then SIGKILL if it does not stop."""
        if self.popen.poll() is not None:
            return
        kill_playbook(self.popen, signal.SIGINT)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_playbook(self.popen)
            self.popen.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# the demo


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir).resolve()
        self.fleet_dir = self.work / "fleet"
        self.packages = self.work / "packages"
        self.fleet: Optional[Fleet] = None
        self.load: Optional[LoadClient] = None
        self.playbook: Optional[Playbook] = None
        self.out = Out(steps=5)
        self.report: dict = {
            "release": RELEASE,
            "nodes": args.nodes,
            "period_ms": args.period_ms,
            "phases": [],
            "seconds": {},
            "ok": False,
        }

    # -- steps ---------------------------------------------------------------------------------

    def tarballs(self) -> None:
        self.out.step(f"Release tarballs: {RELEASE} {OLD} and {NEW}")
        t0 = time.monotonic()
        # a fresh packages directory each run: the upgrade package is built from scratch every time
        shutil.rmtree(self.packages, ignore_errors=True)
        self.packages.mkdir(parents=True)
        for vsn in (OLD, NEW):
            cached = releases.cached_path(releases.release(RELEASE, vsn)).is_file()
            if not cached:
                say(f"    building {RELEASE} {vsn} with rebar3 (first run only) ...")
            path, took = timed(lambda v=vsn: releases.tarball(RELEASE, v))
            shutil.copy(path, self.packages / f"{RELEASE}-{vsn}.tar.gz")
            say(f"    {RELEASE}-{vsn}.tar.gz  {'cached' if cached else f'built in {took:.1f} s'}")
        say(f"    copied to {rel(self.packages)}/ (the controller's otp_release_packages)")
        self.report["seconds"]["tarballs"] = round(time.monotonic() - t0, 2)

    def start_fleet(self) -> None:
        self.out.step(f"Fleet: {self.args.nodes} nodes of {RELEASE} {OLD} on 127.0.0.1, behind a private sshd")
        tarball = releases.tarball(RELEASE, OLD)
        self.fleet = Fleet(tarball, RELEASE, self.args.nodes, base_dir=self.fleet_dir, remove_dir=True)
        t0 = time.monotonic()
        with children_ignore_sigint():
            self.fleet.start()
        self.fleet.set_vars(group_vars={"fleet": {
            "otp_release_version": NEW,
            "otp_release_packages": str(self.packages),
            "otp_release_health_check": HEALTH_CHECK,
        }})
        took = time.monotonic() - t0
        self.report["seconds"]["fleet_start"] = round(took, 2)
        fleet = self.fleet
        say(f"    sshd 127.0.0.1:{fleet.sshd_port}, epmd port {fleet.epmd_port}, started in {took:.1f} s")
        for host, node in fleet.nodes.items():
            say(f"    {host}: {node.node_name}  (beam OS pid {node.beam.pid if node.beam else '?'})")
        say(f"    inventory: {rel(fleet.inventory_path)}")
        self.show_group_vars()
        # something in every cart, so the table can show the state survived the conversions
        on_every_host(fleet, lambda host: fleet.eval(host, "shop_cart:add(apple, 2)"))

    def show_group_vars(self) -> None:
        assert self.fleet is not None
        path = self.fleet.dir / "group_vars" / "fleet.yml"
        say(f"    {rel(path)}:")
        for key, value in json.loads(path.read_text()).items():
            say(f"      {key}: {value}")

    def phase(self, name: str, target: str) -> dict:
        """One playbook run under load; returns (and records) its figures."""
        fleet = self.fleet
        assert fleet is not None
        before = states(fleet)
        # what drives this run: the inventory's own files, as ansible-playbook reads them
        inventory_vars = {
            f"{kind}/{path.stem}": json.loads(path.read_text())
            for kind in ("group_vars", "host_vars")
            for path in sorted((fleet.dir / kind).glob("*.yml"))
        }
        t0 = time.monotonic()
        with children_ignore_sigint():
            self.load = LoadClient(fleet, period_ms=self.args.period_ms).start()
        say(f"    load: {self.load.call} on every node every {self.args.period_ms} ms (a hidden Erlang node)")
        say(f"    $ ansible-playbook -i {rel(fleet.inventory_path)} {PLAYBOOK}")
        self.playbook = Playbook(fleet.inventory_path, self.work / f"run-{name}")
        t_play = time.monotonic()
        self.playbook.stream()
        run = self.playbook.finish()
        play_s = time.monotonic() - t_play
        self.playbook = None
        per_host = self.load.stop()
        self.load = None
        after = states(fleet)
        hosts = {h: host_figures(target, before[h], after[h], per_host[h]) for h in fleet.hosts}
        sums = totals(per_host)
        figures = {
            "name": name,
            "target": target,
            "playbook_rc": run.rc,
            "playbook_seconds": round(play_s, 2),
            "seconds": round(time.monotonic() - t0, 2),
            "inventory_vars": inventory_vars,
            "recap": run.stats,
            "tasks": task_times(run.events),
            "hosts": hosts,
            "calls": sums["calls"],
            "failed": sums["failed"],
            "failed_by_reason": sums["failed_by_reason"],
            "max_latency_ms": sums["max_latency_ms"],
            "max_gap_ms": sums["max_gap_ms"],
            "all_pids_kept": all(f["pid_kept"] for f in hosts.values()),
            "all_items_kept": all(f["cart_items_kept"] for f in hosts.values()),
            "restarted": sorted(h for h, f in hosts.items() if f["restarted"]),
            "all_reached": all(f["reached"] for f in hosts.values()),
        }
        figures["ok"] = (
            run.rc == 0 and figures["failed"] == 0 and figures["all_pids_kept"] and not figures["restarted"]
            and figures["all_reached"]
        )
        self.report["phases"].append(figures)
        say()
        say(f"    Result of the {name} (playbook exit {run.rc}, {play_s:.1f} s):")
        for line in table(hosts):
            say(line)
        say()
        say("    " + verdict(figures))
        if run.rc != 0:
            say(f"    the playbook failed (exit {run.rc}); its output is above, its standard error:")
            for line in run.stderr.strip().splitlines()[-40:]:
                say("    ! " + line)
        return figures

    def pin(self) -> None:
        assert self.fleet is not None
        self.fleet.set_vars(group_vars={"fleet": {"otp_release_version": OLD}})
        path = self.fleet.dir / "group_vars" / "fleet.yml"
        say(f"    {rel(path)}:  otp_release_version: {NEW} -> {OLD}  (nothing else changes)")

    def cleanup(self) -> None:
        """Stop what runs, in reverse order; never raises (reports instead)."""
        steps = []
        if self.playbook is not None:
            steps.append(("ansible-playbook", self.playbook.interrupt))
        if self.load is not None:
            load = self.load
            steps.append(("load client", lambda: _stop_load(load)))
        if self.fleet is not None:
            steps.append(("fleet", self.fleet.stop))
        problems = []
        for what, fn in steps:
            try:
                fn()
            except Exception as exc:
                problems.append(f"{what}: {exc}")
        self.playbook = self.load = None
        left = []
        if self.fleet is not None:  # else the directory may be another run's (see clear_stale)
            shutil.rmtree(self.fleet_dir, ignore_errors=True)
            for path in self.work.glob("run-*"):
                shutil.rmtree(path, ignore_errors=True)
            left = procs_under(self.fleet_dir)
        if left:
            problems.append(f"still running from {rel(self.fleet_dir)}: pids {', '.join(map(str, left))}")
        self.report["cleanup_problems"] = problems
        if problems:
            say("    clean-up problems: " + "; ".join(problems))
        elif self.fleet is None:
            say("    no fleet was started")
        else:
            say(f"    nodes, epmd and sshd stopped; {rel(self.fleet_dir)} removed")

    def write_json(self) -> None:
        if self.args.json:
            self.report["seconds"]["total"] = round(self.out.elapsed(), 2)
            path = Path(self.args.json)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.report, indent=2) + "\n")

    # -- the whole -----------------------------------------------------------------------------

    def run(self) -> int:
        say(f"erlang.otp demo: a hot upgrade of a {self.args.nodes}-node fleet under load, then a downgrade by pin")
        missing = missing_tools()
        if missing:
            say(f"\nerror: missing {', '.join(missing)}; `make demo` installs them (Debian/Ubuntu, root or sudo)")
            return 1
        status = 1
        try:
            clear_stale(self.fleet_dir)  # first: the work directory may belong to a demo still running
            self.tarballs()
            self.start_fleet()
            self.out.step(f"Hot upgrade {OLD} -> {NEW} through the playbook, under load")
            up = self.phase("upgrade", NEW)
            if up["playbook_rc"] == 0:
                self.out.step(f"Downgrade by pinning otp_release_version: {OLD} in group_vars")
                self.pin()
                self.phase("downgrade", OLD)
            else:
                self.out.step("Downgrade skipped: the upgrade failed")
            self.report["ok"] = all(p["ok"] for p in self.report["phases"]) and len(self.report["phases"]) == 2
            status = 0 if self.report["ok"] else 1
        except KeyboardInterrupt:
            say("\ninterrupted: cleaning up")
            status = 130
        except Exception as exc:
            say(f"\nerror: {exc}")
            self.report["error"] = str(exc)
            status = 1
        finally:
            with ignoring_sigint():
                self.out.n = self.out.steps - 1
                self.out.step("Clean-up")
                _unused, took = timed(self.cleanup)
                self.report["seconds"]["cleanup"] = round(took, 2)
                self.write_json()
        total = self.out.elapsed()
        if status == 0:
            say(f"\nDemo passed in {total:.0f} s: hot up and hot down, no failed call, every process kept its pid.")
        elif status == 1:
            say(f"\nDemo FAILED after {total:.0f} s (see above).")
        else:
            say(f"\nDemo interrupted after {total:.0f} s.")
        if self.args.json:
            say(f"Figures: {self.args.json}")
        return status


def verdict(figures: dict) -> str:
    calls, failed = figures["calls"], figures["failed"]
    parts = [f"{failed:,} of {calls:,} calls failed"]
    if failed:
        parts[0] += " (" + ", ".join(f"{r}: {n}" for r, n in figures["failed_by_reason"].items()) + ")"
    parts.append("every shop_cart kept its pid" if figures["all_pids_kept"] else "SOME shop_cart CHANGED PID")
    parts.append("no node restarted" if not figures["restarted"] else f"RESTARTED: {', '.join(figures['restarted'])}")
    if figures["all_items_kept"]:
        parts.append("every cart kept its items")
    if not figures["all_reached"]:
        parts.append(f"NOT every node runs {figures['target']} permanently")
    return ", ".join(parts) + "."


def _stop_load(load: LoadClient) -> None:
    try:
        load.stop()
    finally:
        load._terminate()  # our own child, by its Popen; no-op once it exited


class children_ignore_sigint:
    """Start children with SIGINT ignored (inherited through exec): Ctrl-C at the terminal then
    reaches only this script, whose clean-up stops them in order, instead of killing epmd, sshd
    and the load client under it."""

    def __enter__(self):
        self.old = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.old)


class ignoring_sigint(children_ignore_sigint):
    """A second Ctrl-C during the clean-up does not cut it short."""


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="run_demo.py", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=3, metavar="N", help="fleet size, at least 3 (default 3)")
    parser.add_argument("--json", metavar="PATH", help="write every figure to PATH as JSON")
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK), metavar="DIR",
                        help=f"where the packages and the fleet live (default {rel(DEFAULT_WORK)})")
    parser.add_argument("--period-ms", type=int, default=20, metavar="MS",
                        help="one call per node every MS milliseconds (default 20)")
    args = parser.parse_args(argv)
    if args.nodes < 3:
        parser.error(f"--nodes {args.nodes}: the demo needs at least 3 nodes (a canary and two more)")
    if args.period_ms < 1:
        parser.error(f"--period-ms {args.period_ms}: must be at least 1")
    # Ctrl-C and SIGTERM both end in the clean-up, even when started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm)
    return Demo(args).run()


if __name__ == "__main__":
    sys.exit(main())
