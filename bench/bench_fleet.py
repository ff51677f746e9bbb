# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: a fleet hot rollout through the playbook ``erlang.otp.upgrade``, against bare tools.

Every scenario runs on a fresh loopback fleet (``tests.support.fleet.Fleet``: a private sshd on
127.0.0.1, a private epmd and ``--nodes`` nodes of the test release ``shop`` 1.0.0); starting and
stopping the fleet is not timed. The target is ``shop`` 1.1.0 (a hot pair: a state conversion, a
new supervised child, an application added and one removed). The upgrade package P is built once,
before the runs, by an ad-hoc ``erlang.otp.relup`` (current: the 1.1.0 tarball, previous: the 1.0.0
tarball); the playbook builds its own package from the same inputs, and the bench checks that it
has the same sha256 (the relup module is deterministic), so both sides install the same bytes.

Speed, in the same run (the order of the two sides alternates per rep):

A. ``ansible-playbook -f N -i inventory erlang.otp.upgrade`` with ``otp_release_serial:
   ["100%"]``, no health check (``ANSIBLE_PIPELINING=True``, as in the tests). The wall time of the
   command, and the rollout alone (from the start of the play "hot, in batches" to the start of
   the next play, from the test callback's timestamps). Per-task spans go into ``--json`` and into
   the printed breakdown.
B. relx's own upgrade: for every node in parallel, one ssh session that writes P to
   ``<root>/releases/1.1.0/shop.tar.gz`` (from its standard input) and runs ``bin/shop upgrade
   1.1.0`` (relx 4.7's ``install_upgrade.escript``: ``unpack_release``,
   ``check_install_release``, ``install_release`` with ``update_paths``, ``make_permanent``). The
   wall time from the first session's start to the last one's exit.

Ratio A / B (target: at most 2) and A-rollout / B; also the CPU seconds the whole machine used
during each side (``/proc/stat``; other jobs on the machine count too).

Load, in the same run (each scenario on its own fresh fleet, under the same ``LoadClient``:
``shop_cart:items()`` on every node every ``--period-ms``):

H. the hot rollout through the playbook, as in A;
R. a rolling one: ``otp_release_strategy: rolling``, ``otp_release_rolling_serial: "50%"``;
X. P staged beforehand with ``erlang.otp.release state=unpacked`` (not under load, not timed), then
   a bare ``release_handler:install_release("1.1.0", [{update_paths, true}])`` followed by
   ``make_permanent`` on every node in parallel, from one hidden node
   (``bench/fleet_release_handler.escript``; no ssh, no start script).

Diagnosis (skipped with ``--no-diagnosis``), to tell where H's stall comes from:

U. P copied into ``releases/1.1.0/`` beforehand, then from one hidden node, on every node in
   parallel, what relx's escript asks of the node: ``unpack_release``, ``check_install_release``,
   ``install_release``, ``make_permanent`` (no ssh, no VM start per node);
Y. B under load: relx's ``bin/shop upgrade`` over ssh on every node in parallel;
N. after H, on H's fleet and under the same load, the same playbook again: nothing to change
   (``changed=0`` is checked), so its longest call is what the controller and the read-only tasks
   cost the nodes without any install (a diagnosis of H, not a target).

Per scenario: failed calls, the longest call (the stall), the longest time without a successful
reply, p99, and which hosts had their slowest call while the install (restart) ran. Targets: H
has 0 failed calls and its longest call is at most 1.5 x X's (the median of the reps; each rep's
ratio is printed too).

Before any figure is printed the outcome is checked: every node runs 1.1.0, permanent (read from
``release_handler:which_releases/0`` on the node), the playbook exited 0 with no failed or
rescued host, and on every hot path (all but R) no node restarted and every ``shop_cart`` kept
its pid.

    python bench/bench_fleet.py [--nodes 10] [--reps 3] [--period-ms 20] [--quick] [--json PATH]
                                [--only speed|load] [--no-diagnosis]

``--quick`` is 3 nodes and 1 rep (for development). Figures: docs/benchmarks.md. Not part of
``make test``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.collection import ensure_collection_path  # noqa: E402

ensure_collection_path()

from tests.support import releases  # noqa: E402
from tests.support.ansible import adhoc, playbook  # noqa: E402
from tests.support.fleet import Fleet  # noqa: E402
from tests.support.load import LoadClient, totals  # noqa: E402

RELEASE, OLD, NEW = "shop", "1.0.0", "1.1.0"
PLAYBOOK = "erlang.otp.upgrade"
HELPER = Path(__file__).resolve().parent / "fleet_release_handler.escript"
BUILD_TASK = "Plan | build each upgrade package once, on the controller"
HOT_PLAY = "Upgrade | hot, in batches"
ROLLING_PLAY = "Upgrade | rolling restarts, in batches"


def cpu_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (``/proc/stat``: all but idle and
    iowait); the difference over a run is what every process together used, ours and others'."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """An outcome is not what the bench requires; no figure is printed."""


def say(line: str = "") -> None:
    print(line, flush=True)


# ---------------------------------------------------------------------------------------------
# talking to the nodes without their start scripts


class Helper:
    """``fleet_release_handler.escript`` ``op`` on every node of ``fleet`` (see its header).

    :meth:`start` returns once it is connected (for ``install``, it then waits for :meth:`go`);
    :meth:`finish` returns its report with the nodes keyed by host.
    """

    def __init__(self, fleet: Fleet, op: str, timeout: float = 600) -> None:
        self.fleet, self.op, self.timeout = fleet, op, timeout
        self.by_node = {fleet.nodes[h].node_name: h for h in fleet.hosts}
        cookie = fleet.cookie.replace("\\", "\\\\").replace('"', '\\"')
        nodes = ", ".join(f'"{n}"' for n in self.by_node)
        self.request = (f'#{{nodes => [{nodes}], cookie => "{cookie}", name_type => shortnames, op => {op}, '
                        f'vsn => "{NEW}", package => "{NEW}/{RELEASE}", timeout_ms => 300000}}.\n')
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> Helper:
        env = dict(os.environ, ERL_EPMD_PORT=str(self.fleet.epmd_port))
        for var in ("ERL_FLAGS", "ERL_AFLAGS", "ERL_ZFLAGS"):
            env.pop(var, None)
        self.proc = subprocess.Popen(["escript", str(HELPER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=tempfile.gettempdir())
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(self.request)
        self.proc.stdin.flush()
        if self.op != "releases":
            line = self.proc.stdout.readline()
            if '"ready"' not in line:
                self.finish(extra=line)
        return self

    def close(self) -> None:
        """Kill it if it still runs (our own child, by its Popen)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def go(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self, extra: str = "") -> dict:
        assert self.proc is not None
        try:
            out, err = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its Popen
            out, err = self.proc.communicate()
        out = extra + out
        lines = [line for line in out.splitlines() if line.startswith('{"')]
        if self.proc.returncode != 0 or not lines or '"nodes"' not in lines[-1]:
            raise BenchError(f"{HELPER.name} {self.op}: exit {self.proc.returncode}: {out[-1000:]} "
                             f"{err.replace(self.fleet.cookie, '********')[-2000:]}")
        report = json.loads(lines[-1])
        report["hosts"] = {self.by_node[node]: result for node, result in report.pop("nodes").items()}
        return report


def helper(fleet: Fleet, op: str, timeout: float = 600) -> dict:
    """Run ``fleet_release_handler.escript`` ``op`` on every node; its report, keyed by host."""
    return Helper(fleet, op, timeout).start().finish()


def node_states(fleet: Fleet) -> Dict[str, dict]:
    """Per host: ``releases`` ({vsn: status}), ``cart_pid``, ``os_pid``."""
    out = {}
    for host, result in helper(fleet, "releases", timeout=120)["hosts"].items():
        if "error" in result:
            raise BenchError(f"{host}: {result['error']}")
        out[host] = {"releases": dict(map(tuple, result["releases"])), "cart_pid": result["cart_pid"],
                     "os_pid": result["os_pid"]}
    return out


def check_outcome(what: str, before: Dict[str, dict], after: Dict[str, dict], hot: bool) -> None:
    """Every node on NEW, permanent, nothing current besides; for a hot path also no restart and
    every cart process kept."""
    problems = []
    for host, state in after.items():
        rels = state["releases"]
        if rels.get(NEW) != "permanent" or "current" in rels.values():
            problems.append(f"{host}: releases {rels}, expected {NEW} permanent and running")
        if hot and state["os_pid"] != before[host]["os_pid"]:
            problems.append(f"{host}: the VM restarted (OS pid {before[host]['os_pid']} -> {state['os_pid']})")
        if hot and state["cart_pid"] != before[host]["cart_pid"]:
            problems.append(f"{host}: shop_cart changed pid {before[host]['cart_pid']} -> {state['cart_pid']}")
    if problems:
        raise BenchError(f"{what}: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# the sides


def new_fleet(args: argparse.Namespace, tarballs: Dict[str, Path]) -> Fleet:
    fleet = Fleet(tarballs[OLD], RELEASE, args.nodes)
    fleet.start()
    return fleet


def packages_dir(work: Path, tag: str, tarballs: Dict[str, Path]) -> Path:
    """A fresh ``otp_release_packages`` directory (so the playbook builds its package from scratch)."""
    directory = work / f"packages-{tag}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for vsn, path in tarballs.items():
        shutil.copy(path, directory / f"{RELEASE}-{vsn}.tar.gz")
    return directory


def spans(run, t0: float) -> List[dict]:
    """Per task, in the order it first started: the first start and last end over the hosts, in
    seconds from ``t0`` (the command's start), and the longest single host."""
    out: Dict[tuple, dict] = {}
    for event in run.events:
        started, ended = event.get("started"), event.get("time")
        key = (event.get("play"), event["task"])
        span = out.setdefault(key, {"play": key[0], "task": key[1].split(" : ", 1)[-1], "hosts": 0,
                                    "from": None, "to": None, "longest": 0.0})
        span["hosts"] += 1
        if started is not None:
            span["from"] = started - t0 if span["from"] is None else min(span["from"], started - t0)
            span["longest"] = max(span["longest"], ended - started)
        span["to"] = ended - t0 if span["to"] is None else max(span["to"], ended - t0)
    rows = sorted(out.values(), key=lambda s: s["from"] if s["from"] is not None else s["to"])
    for row in rows:
        for k in ("from", "to", "longest"):
            row[k] = None if row[k] is None else round(row[k], 2)
    return rows


def run_playbook(fleet: Fleet, args: argparse.Namespace, work: Path, tag: str, tarballs: Dict[str, Path],
                 package_sha: str, extra_vars: Optional[dict] = None, noop: bool = False) -> dict:
    """``ansible-playbook erlang.otp.upgrade`` on ``fleet``; its timings and checks."""
    pk = packages_dir(work, tag, tarballs)
    fleet.set_vars(group_vars={"all": {"otp_release_name": RELEASE, "otp_release_version": NEW,
                                       "otp_release_packages": str(pk), "otp_release_serial": ["100%"],
                                       **(extra_vars or {})}})
    t0, c0 = time.time(), cpu_busy()
    run = playbook(PLAYBOOK, fleet.inventory_path, forks=args.nodes, timeout=1200)
    wall, cpu = time.time() - t0, cpu_busy() - c0
    if run.rc != 0:
        raise BenchError(f"{tag}: ansible-playbook exited {run.rc}:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}")
    failed = {h: s for h, s in run.stats.items() if s.get("failed") or s.get("unreachable") or s.get("rescued")}
    if failed:
        raise BenchError(f"{tag}: recap shows failures: {failed}")
    built = [e for e in run.events if e["task"].endswith(BUILD_TASK)]
    results = built[0]["result"].get("results", []) if built else []
    rolling = bool(extra_vars and extra_vars.get("otp_release_strategy") == "rolling")
    # the hot path must install P itself; the rolling path restarts from the plain tarball
    if not rolling and not noop and (len(results) != 1 or results[0].get("sha256") != package_sha):
        raise BenchError(f"{tag}: the playbook's package is not P ({package_sha}): {results}")
    # Ansible announces a play once per serial batch: keep each play's first start
    plays: Dict[str, float] = {}
    for play in run.plays:
        plays.setdefault(play["name"], play["time"] - t0)
    names = list(plays)
    rollout_play = ROLLING_PLAY if rolling else HOT_PLAY
    if rollout_play not in plays:
        raise BenchError(f"{tag}: no play {rollout_play!r} ran: {names}")
    i = names.index(rollout_play)
    rollout = (plays[names[i + 1]] if i + 1 < len(names) else wall) - plays[rollout_play]
    loadavg = Path("/proc/loadavg").read_text().split()[0]
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 1), "rollout_s": round(rollout, 2),
            "plays": {k: round(v, 2) for k, v in plays.items()}, "tasks": spans(run, t0),
            "module_steps": module_steps(run), "recap": run.stats, "t0": t0, "loadavg_1min_after": loadavg}


def module_steps(run) -> dict:
    """Where the time of ``erlang.otp.release`` goes on each host: its own steps (RV(steps) seconds)
    and the rest of the task (copying the package, AnsiballZ, the control node's start), per host."""
    out: Dict[str, dict] = {}
    for event in run.events:
        result = event.get("result") or {}
        if not event["task"].endswith(("install the target version through release_handler",
                                       "restart into the target version")) or "steps" not in result:
            continue
        steps = {}
        for step in result["steps"]:
            steps[step["action"]] = round(steps.get(step["action"], 0.0) + (step.get("seconds") or 0.0), 2)
        task_s = (event["time"] - event["started"]) if event.get("started") else None
        out[event["host"]] = {"task_s": None if task_s is None else round(task_s, 2), "steps": steps,
                              "outside_steps_s": None if task_s is None else round(task_s - sum(steps.values()), 2)}
    return out


def side_a(args: argparse.Namespace, work: Path, tarballs: Dict[str, Path], package_sha: str, rep: int) -> dict:
    fleet = new_fleet(args, tarballs)
    try:
        before = node_states(fleet)
        figures = run_playbook(fleet, args, work, f"A{rep}", tarballs, package_sha)
        check_outcome(f"A rep {rep}", before, node_states(fleet), hot=True)
        return figures
    finally:
        fleet.stop()


def relx_upgrade(fleet: Fleet, package: Path) -> Dict[str, dict]:
    """One ssh per node, all in parallel: P from stdin into releases/NEW/, then ``bin/shop upgrade``."""
    out: Dict[str, dict] = {}

    def one(host: str) -> None:
        root = shlex.quote(str(fleet.nodes[host].root))
        command = (f"mkdir -p {root}/releases/{NEW} && cat > {root}/releases/{NEW}/{RELEASE}.tar.gz && "
                   f"cd {root} && bin/{RELEASE} upgrade {NEW}")
        t = time.time()
        with open(package, "rb") as stdin:
            proc = subprocess.run([*fleet.ssh_argv(), command], stdin=stdin, capture_output=True, timeout=600,
                                  check=False)
        out[host] = {"rc": proc.returncode, "start": t, "end": time.time(),
                     "stdout": proc.stdout.decode(errors="replace"), "stderr": proc.stderr.decode(errors="replace")}

    threads = [threading.Thread(target=one, args=(h,)) for h in fleet.hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {h: out[h] for h in fleet.hosts}


def side_b(args: argparse.Namespace, tarballs: Dict[str, Path], package: Path, rep: int) -> dict:
    fleet = new_fleet(args, tarballs)
    try:
        before = node_states(fleet)
        t0, c0 = time.time(), cpu_busy()
        per_host = relx_upgrade(fleet, package)
        wall, cpu = time.time() - t0, cpu_busy() - c0
        bad = {h: r for h, r in per_host.items() if r["rc"] != 0 or "Made release permanent" not in r["stdout"]}
        if bad:
            raise BenchError(f"B rep {rep}: bin/{RELEASE} upgrade failed: {bad}")
        check_outcome(f"B rep {rep}", before, node_states(fleet), hot=True)
        return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 1),
                "per_host_s": {h: round(r["end"] - r["start"], 2) for h, r in per_host.items()}}
    finally:
        fleet.stop()


def stage(fleet: Fleet, work: Path, package: Path) -> float:
    """P unpacked on every node with ``erlang.otp.release state=unpacked`` (not timed in X)."""
    book = work / "stage.yml"
    book.write_text(json.dumps([{
        "name": "Stage the package", "hosts": "fleet", "gather_facts": False,
        "tasks": [{"name": "Unpack P", "erlang.otp.release": {
            "root": "{{ otp_release_root }}", "name": "{{ otp_release_name }}", "node": "{{ otp_release_node }}",
            "version": NEW, "state": "unpacked", "package": str(package)}}],
    }], indent=1) + "\n")
    t0 = time.time()
    run = playbook(book, fleet.inventory_path, forks=fleet.count, timeout=600)
    if run.rc != 0:
        raise BenchError(f"staging P failed: {run!r}")
    return time.time() - t0


def under_load(fleet: Fleet, args: argparse.Namespace, action: Callable[[], dict]) -> dict:
    with LoadClient(fleet, period_ms=args.period_ms) as load:
        figures = action()
    per_host = load.stop()
    sums = totals(per_host)
    figures["load"] = {
        "calls": sums["calls"], "failed": sums["failed"], "failed_by_reason": sums["failed_by_reason"],
        "max_latency_ms": round(sums["max_latency_ms"], 1), "max_gap_ms": round(sums["max_gap_ms"], 1),
        "p99_ms": round(max(s["latency_ms"]["p99"] for s in per_host.values()), 1),
        "restarted": sums["restarted"],
        "per_host": {h: {"calls": s["calls"], "failed": s["failed"], "max_latency_ms": s["latency_ms"]["max"],
                         "max_latency_at": s.get("max_latency_at"), "p99_ms": s["latency_ms"]["p99"],
                         "max_gap_ms": s.get("max_gap_ms")} for h, s in per_host.items()},
    }
    return figures


def install_window(figures: dict) -> Optional[tuple]:
    """(first start, last end) in epoch seconds of the release_handler install on the nodes."""
    if "window" in figures:
        return tuple(figures["window"])
    if "helper" in figures:
        hosts = figures["helper"]["hosts"].values()
        return min(h["started_at"] for h in hosts), max(h["ended_at"] for h in hosts)
    ends = ("install the target version through release_handler", "restart into the target version")
    rows = [t for t in figures.get("tasks", []) if t["task"].endswith(ends)]
    if not rows:
        return None
    return figures["t0"] + min(r["from"] for r in rows), figures["t0"] + max(r["to"] for r in rows)


def stall_in_window(figures: dict) -> dict:
    """Which hosts had their slowest call while the install ran (+0.5 s for the queued calls to
    drain), and the largest such call: a lower bound of the longest stall the install caused."""
    window = install_window(figures)
    per_host = figures["load"]["per_host"]
    inside = [h for h, f in per_host.items()
              if window is not None and f["max_latency_at"] is not None
              and window[0] <= f["max_latency_at"] <= window[1] + 0.5]
    return {"hosts_inside": len(inside), "hosts": len(per_host),
            "max_inside_ms": round(max((per_host[h]["max_latency_ms"] for h in inside), default=0.0), 1),
            "window_s": None if window is None else round(window[1] - window[0], 2)}


def scenario_h(args, work, tarballs, package_sha, rep) -> dict:
    fleet = new_fleet(args, tarballs)
    try:
        before = node_states(fleet)
        figures = under_load(fleet, args, lambda: run_playbook(fleet, args, work, f"H{rep}", tarballs, package_sha))
        after = node_states(fleet)
        check_outcome(f"H rep {rep}", before, after, hot=True)
        if figures["load"]["restarted"]:
            raise BenchError(f"H rep {rep}: the load client saw restarts on {figures['load']['restarted']}")
        # N: the same playbook again on the same fleet, under the same load; nothing to change, so it
        # is the controller's and the read-only tasks' share of the stall, without any install
        noop = under_load(fleet, args, lambda: run_playbook(fleet, args, work, f"N{rep}", tarballs, package_sha,
                                                            noop=True))
        check_outcome(f"N rep {rep}", after, node_states(fleet), hot=True)
        changed = {h: s["changed"] for h, s in noop["recap"].items() if s.get("changed")}
        if changed:
            raise BenchError(f"N rep {rep}: the second run changed {changed}")
        figures["noop"] = noop
        return figures
    finally:
        fleet.stop()


def scenario_r(args, work, tarballs, package_sha, rep) -> dict:
    fleet = new_fleet(args, tarballs)
    try:
        before = node_states(fleet)
        extra = {"otp_release_strategy": "rolling", "otp_release_rolling_serial": "50%"}
        figures = under_load(fleet, args, lambda: run_playbook(fleet, args, work, f"R{rep}", tarballs, package_sha,
                                                               extra))
        check_outcome(f"R rep {rep}", before, node_states(fleet), hot=False)
        return figures
    finally:
        fleet.stop()


def scenario_x(args, work, tarballs, package: Path, rep) -> dict:
    """X: P unpacked beforehand (not timed), then a bare install_release + make_permanent."""
    return bare(args, work, tarballs, package, rep, "X", "install")


def scenario_u(args, work, tarballs, package: Path, rep) -> dict:
    """U (diagnosis): P copied into releases/ beforehand, then unpack_release, check_install_release,
    install_release, make_permanent from one hidden node: what relx asks of the node, without ssh
    or a VM start per node."""
    return bare(args, work, tarballs, package, rep, "U", "full")


def bare(args, work, tarballs, package: Path, rep, key: str, op: str) -> dict:
    fleet = new_fleet(args, tarballs)
    cleanups: List[Callable[[], None]] = []
    try:
        t0 = time.time()
        if op == "install":
            staged = stage(fleet, work, package)
        else:
            for node in fleet.nodes.values():  # where relx's escript puts it (releases/<vsn>/<name>.tar.gz)
                (node.root / "releases" / NEW).mkdir()
                shutil.copy(package, node.root / "releases" / NEW / f"{RELEASE}.tar.gz")
            staged = time.time() - t0
        before = node_states(fleet)
        want = "unpacked" if op == "install" else None
        if any(s["releases"].get(NEW) != want for s in before.values()):
            raise BenchError(f"{key} rep {rep}: {NEW} should be {want or 'unknown'} everywhere: {before}")

        installer = Helper(fleet, op)
        cleanups.append(installer.close)
        installer.start()  # connected before the load starts

        def action() -> dict:
            time.sleep(1.0)  # a second of plain load before and after, as the playbook has its plan and summary
            t0 = time.time()
            installer.go()
            report = installer.finish()
            wall = time.time() - t0
            time.sleep(1.0)
            bad = {h: r for h, r in report["hosts"].items() if r.get("install") != "ok" or r.get("permanent") != "ok"}
            if bad:
                raise BenchError(f"{key} rep {rep}: release_handler failed: {bad}")
            return {"wall_s": round(wall, 2), "helper": report}

        figures = under_load(fleet, args, action)
        figures["stage_s"] = round(staged, 2)
        hosts = figures["helper"]["hosts"].values()
        figures["steps_ms_max"] = {k[:-3]: round(max(r[k] for r in hosts), 1) for k in
                                   ("unpack_ms", "check_ms", "install_ms", "permanent_ms") if k in next(iter(hosts))}
        check_outcome(f"{key} rep {rep}", before, node_states(fleet), hot=True)
        if figures["load"]["restarted"]:
            raise BenchError(f"{key} rep {rep}: the load client saw restarts on {figures['load']['restarted']}")
        return figures
    finally:
        for cleanup in cleanups:
            cleanup()
        fleet.stop()


def scenario_y(args, tarballs, package: Path, rep) -> dict:
    """Y (diagnosis): B under load, relx's bin/shop upgrade on every node over ssh."""
    fleet = new_fleet(args, tarballs)
    try:
        before = node_states(fleet)

        def action() -> dict:
            t0 = time.time()
            per_host = relx_upgrade(fleet, package)
            wall = time.time() - t0
            bad = {h: r for h, r in per_host.items() if r["rc"] != 0 or "Made release permanent" not in r["stdout"]}
            if bad:
                raise BenchError(f"Y rep {rep}: bin/{RELEASE} upgrade failed: {bad}")
            return {"wall_s": round(wall, 2), "window": (min(r["start"] for r in per_host.values()),
                                                         max(r["end"] for r in per_host.values()))}

        figures = under_load(fleet, args, action)
        check_outcome(f"Y rep {rep}", before, node_states(fleet), hot=True)
        return figures
    finally:
        fleet.stop()


# ---------------------------------------------------------------------------------------------
# report


def median(values: List[float]) -> float:
    return round(statistics.median(values), 2) if values else float("nan")


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    otp = subprocess.run(["erl", "-noshell", "-eval",
                          'io:format("~s ~s", [erlang:system_info(otp_release), erlang:system_info(version)]), '
                          "halt()."], capture_output=True, text=True, check=False).stdout
    ansible = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--version"],
                             capture_output=True, text=True, check=False).stdout.splitlines()[:1]
    return {"cpus": os.cpu_count(), "cpu": cpu, "otp_erts": otp, "python": platform.python_version(),
            "ansible": ansible[0] if ansible else "", "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}


def print_breakdown(title: str, figures: dict) -> None:
    say(f"  {title}: wall {figures['wall_s']:.1f} s; plays start at "
        + ", ".join(f"{name.split('| ', 1)[-1]} {t:.1f}" for name, t in figures["plays"].items()))
    for row in figures["tasks"]:
        if row["from"] is None or row["to"] - row["from"] < 0.2:
            continue
        say(f"    {row['from']:6.1f} .. {row['to']:6.1f} s  longest host {row['longest']:5.1f} s  "
            f"x{row['hosts']:<3} {row['task']}")
    steps = figures.get("module_steps") or {}
    if steps:
        actions: Dict[str, List[float]] = {}
        for host in steps.values():
            for action, seconds in host["steps"].items():
                actions.setdefault(action, []).append(seconds)
        say("    erlang.otp.release on each host, median (max) seconds: task "
            f"{median([h['task_s'] for h in steps.values()])} ({max(h['task_s'] for h in steps.values())}); "
            + "; ".join(f"{a} {median(v)} ({max(v)})" for a, v in actions.items())
            + f"; outside its steps {median([h['outside_steps_s'] for h in steps.values()])}")


def report(args: argparse.Namespace, results: dict) -> None:
    speed, load = results["speed"], results["load"]
    say()
    say(f"== Results ({args.nodes} nodes, {args.reps} rep(s), load period {args.period_ms} ms)")
    if speed:
        a = [r["A"]["wall_s"] for r in speed]
        ar = [r["A"]["rollout_s"] for r in speed]
        b = [r["B"]["wall_s"] for r in speed]
        ratios = [r["A"]["wall_s"] / r["B"]["wall_s"] for r in speed]
        rratios = [r["A"]["rollout_s"] / r["B"]["wall_s"] for r in speed]
        say("Speed (seconds; median over reps; per rep in brackets):")
        say(f"  A playbook, whole command   {median(a):7.2f}  {a}")
        say(f"  A playbook, rollout play    {median(ar):7.2f}  {ar}")
        say(f"  B relx bin/shop upgrade     {median(b):7.2f}  {b}")
        say(f"  A / B                       {median(ratios):7.2f}  {[round(x, 2) for x in ratios]}  target <= 2: "
            f"{'met' if median(ratios) <= 2 else 'MISSED'}")
        say(f"  A rollout / B               {median(rratios):7.2f}  {[round(x, 2) for x in rratios]}")
        acpu, bcpu = [r["A"]["cpu_s"] for r in speed], [r["B"]["cpu_s"] for r in speed]
        say(f"  CPU seconds used by the whole machine meanwhile: A {acpu}, B {bcpu} "
            f"(A/B {median([x / y for x, y in zip(acpu, bcpu)])})")
        results["summary"]["speed"] = {"A_wall_s": median(a), "A_rollout_s": median(ar), "B_wall_s": median(b),
                                       "A_over_B": median(ratios), "A_rollout_over_B": median(rratios),
                                       "A_cpu_s": median(acpu), "B_cpu_s": median(bcpu)}
        print_breakdown("A, last rep", speed[-1]["A"])
    if load:
        say("Load (per scenario: median over reps of the fleet-wide figure; per rep in brackets):")
        summary = {}
        scenarios = [("H", "H hot via playbook"), ("R", "R rolling via playbook"), ("X", "X bare install_release")]
        if "U" in load[0]:
            scenarios += [("U", "U bare unpack..permanent"), ("Y", "Y relx upgrade over ssh")]
        for key, title in scenarios:
            rows = [r[key]["load"] for r in load]
            fig = {k: [row[k] for row in rows] for k in ("failed", "calls", "max_latency_ms", "max_gap_ms", "p99_ms")}
            summary[key] = {k: median(v) for k, v in fig.items()}
            say(f"  {title:24} failed {fig['failed']} of {fig['calls']} calls; longest call {fig['max_latency_ms']} ms;"
                f" longest gap {fig['max_gap_ms']} ms; p99 {fig['p99_ms']} ms")
            for r in load:
                w = r[key]["stall_in_window"] = stall_in_window(r[key])
                say(f"      rep: {w['hosts_inside']} of {w['hosts']} hosts had their slowest call during the "
                    f"install/restart window ({w['window_s']} s); the largest of those: {w['max_inside_ms']} ms")
        noop = [r["H"]["noop"]["load"] for r in load]
        say(f"  N playbook, nothing to do   failed {[n['failed'] for n in noop]} of {[n['calls'] for n in noop]} "
            f"calls; longest call {[n['max_latency_ms'] for n in noop]} ms; longest gap "
            f"{[n['max_gap_ms'] for n in noop]} ms; p99 {[n['p99_ms'] for n in noop]} ms; wall "
            f"{[r['H']['noop']['wall_s'] for r in load]} s")
        noop_keys = ("failed", "calls", "max_latency_ms", "max_gap_ms", "p99_ms")
        summary["N"] = {k: median([n[k] for n in noop]) for k in noop_keys}
        stall = [r["H"]["load"]["max_latency_ms"] / r["X"]["load"]["max_latency_ms"] for r in load]
        h_failed = sum(r["H"]["load"]["failed"] for r in load)
        say(f"  H failed calls: {h_failed}  target 0: {'met' if h_failed == 0 else 'MISSED'}")
        say(f"  H / X longest call          {median(stall):7.2f}  {[round(x, 2) for x in stall]}  target <= 1.5: "
            f"{'met' if median(stall) <= 1.5 else 'MISSED'} (reps within: {sum(s <= 1.5 for s in stall)}/{len(stall)})")
        for key in ("X", "U"):
            if key in load[0]:
                say(f"  {key}: slowest node per release_handler call, ms: {[r[key]['steps_ms_max'] for r in load]}")
        summary["H_over_X_stall"] = median(stall)
        summary["H_failed"] = h_failed
        results["summary"]["load"] = summary
        print_breakdown("H, last rep", load[-1]["H"])


# ---------------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--period-ms", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 nodes, 1 rep")
    parser.add_argument("--only", choices=("speed", "load"))
    parser.add_argument("--no-diagnosis", action="store_true", help="skip the load scenarios U and Y")
    parser.add_argument("--json", metavar="PATH", help="write every figure to PATH")
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.reps = 3, 1
    if args.nodes < 1 or args.reps < 1 or args.period_ms < 1:
        parser.error("--nodes, --reps and --period-ms must be positive")

    results: dict = {"args": vars(args), "machine": machine(), "speed": [], "load": [], "summary": {}}
    say(f"bench_fleet: {args.nodes} nodes, {args.reps} rep(s); load average {results['machine']['loadavg_start']}")
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        tarballs = {OLD: releases.tarball(RELEASE, OLD), NEW: releases.tarball(RELEASE, NEW)}
        t0 = time.monotonic()
        (work / "P").mkdir()
        built = adhoc("erlang.otp.relup", {"current": str(tarballs[NEW]), "previous": [str(tarballs[OLD])],
                                           "dest": str(work / "P")})
        if built.get("failed") or built.get("hot_from") != [OLD]:
            raise BenchError(f"erlang.otp.relup did not build a hot package: {built}")
        package = Path(built["dest"])
        package_sha = hashlib.sha256(package.read_bytes()).hexdigest()
        if package_sha != built["sha256"]:
            raise BenchError(f"{package}: sha256 {package_sha} != the module's {built['sha256']}")
        results["package"] = {"sha256": package_sha, "size": package.stat().st_size,
                              "build_s": round(time.monotonic() - t0, 2)}
        say(f"P: {package.name} {package.stat().st_size:,} bytes sha256 {package_sha[:16]}… "
            f"(ad-hoc erlang.otp.relup, {results['package']['build_s']} s)")
        for rep in range(1, args.reps + 1):
            if args.only in (None, "speed"):
                sides = {"A": lambda r=rep: side_a(args, work, tarballs, package_sha, r),
                         "B": lambda r=rep: side_b(args, tarballs, package, r)}
                row = {}
                for key in ("AB" if rep % 2 else "BA"):
                    t = time.monotonic()
                    row[key] = sides[key]()
                    say(f"rep {rep} {key}: {row[key]['wall_s']:.2f} s  (with fleet start/stop "
                        f"{time.monotonic() - t:.0f} s; load {Path('/proc/loadavg').read_text().split()[0]})")
                results["speed"].append(row)
            if args.only in (None, "load"):
                scen = {"H": lambda r=rep: scenario_h(args, work, tarballs, package_sha, r),
                        "R": lambda r=rep: scenario_r(args, work, tarballs, package_sha, r),
                        "X": lambda r=rep: scenario_x(args, work, tarballs, package, r),
                        "U": lambda r=rep: scenario_u(args, work, tarballs, package, r),
                        "Y": lambda r=rep: scenario_y(args, tarballs, package, r)}
                base = "HRX" + ("" if args.no_diagnosis else "UY")
                shift = (rep - 1) % len(base)
                order = base[shift:] + base[:shift]
                row = {}
                for key in order:
                    row[key] = scen[key]()
                    ld = row[key]["load"]
                    say(f"rep {rep} {key}: failed {ld['failed']}/{ld['calls']}, longest call {ld['max_latency_ms']} ms,"
                        f" longest gap {ld['max_gap_ms']} ms, p99 {ld['p99_ms']} ms  "
                        f"(load {Path('/proc/loadavg').read_text().split()[0]})")
                results["load"].append(row)
        results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
        report(args, results)
    except BenchError as exc:
        say(f"\nbench_fleet FAILED: {exc}")
        return 1
    finally:
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
