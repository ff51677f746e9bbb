# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Steady request load on the nodes of a :class:`~tests.support.fleet.Fleet` while something happens.

Test machinery, not part of the collection. Used by the demo, its test and the bench::

    with LoadClient(fleet, period_ms=20) as load:
        run_the_upgrade()
    per_host = load.stop()          # also called by __exit__; the second call returns the same
    assert per_host["node1"]["failed"] == 0

The work is done by ``load_client.escript`` (next to this file): a hidden Erlang node on the fleet's
private epmd (``ERL_EPMD_PORT``) with one worker per node that runs ``erpc:call`` of ``call`` every
``period_ms``, and every ``probe_every``-th call also the ``probes``. Its protocol and the meaning
of every figure are described at the top of the escript. The request, cookie included, goes to the
escript on standard input, never on its command line; closing standard input stops it, and it stops
by itself after ``max_s`` (so a test that dies cannot leave it running for long).

``call`` is an Erlang call text ``Mod:Fun(Args...)`` (the arguments are evaluated once, on the
client, so ``erpc:call/5`` times exactly that function); ``probes`` are Erlang expressions evaluated
on the node (``erl_eval``), such as ``shop_cart:pid()`` or ``is_pid(whereis(shop_sup))``. Use a
read-only call, so the state a test checks is not changed by the load; the defaults depend on the
release (:data:`DEFAULT_CALLS`, :data:`DEFAULT_PROBES`). Elixir modules are called by their atom:
``'Elixir.Exshop.Counter':value()``.

:meth:`LoadClient.stop` returns a dict per inventory host, for example::

    {"node": "shop_node1_40123@vm", "calls": 151, "ok": 151, "failed": 0, "failed_by_reason": {},
     "latency_ms": {"max": 4.1, "p50": 0.3, "p99": 1.2, "mean": 0.4}, "max_latency_at": 1.7e9,
     "max_gap_ms": 24.3, "first_failure_at": None, "last_failure_at": None,
     "probes": {"shop_cart:pid()": ["<0.95.0>"]}, "probe_failures": 0, "creations": [1699]}

Pids in probe values are written as the node itself writes them (``pid_to_list/1`` on the node);
``creations`` lists the node's distinct ``erlang:system_info(creation)`` values, so more than one
means the node was restarted even if a pid text happens to repeat.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Dict, Iterable, List, Optional, Sequence

from ansible_collections.erlang.otp.plugins.module_utils._term_text import format_term
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

ESCRIPT = Path(__file__).resolve().parent / "load_client.escript"

#: Read-only calls per release name: they exercise the process an upgrade converts, and change nothing.
DEFAULT_CALLS = {
    "shop": "shop_cart:items()",
    "shop_noerts": "shop_cart:items()",
    "exshop": "'Elixir.Exshop.Counter':value()",
}
DEFAULT_PROBES = {
    "shop": ("shop_cart:pid()",),
    "shop_noerts": ("shop_cart:pid()",),
    "exshop": ("'Elixir.Exshop.Counter':pid()",),
}


class LoadError(RuntimeError):
    """The load client could not start, or did not report."""


def request_text(
    nodes: Sequence[str],
    cookie: str,
    call: str,
    probes: Sequence[str],
    *,
    period_ms: int,
    timeout_ms: int,
    probe_every: int,
    max_ms: int,
) -> str:
    """The escript's request: one line of Erlang term text (strings as Erlang strings)."""
    if not nodes:
        raise LoadError("no nodes to put load on")
    for name, value in (("period_ms", period_ms), ("timeout_ms", timeout_ms), ("probe_every", probe_every),
                        ("max_ms", max_ms)):  # fmt: skip
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise LoadError(f"{name}={value!r}: must be a positive integer")
    hosts = {node.partition("@")[2] for node in nodes}
    if any(not node.partition("@")[2] or not node.partition("@")[0] for node in nodes):
        raise LoadError(f"nodes {list(nodes)}: every node needs a full name (name@host)")
    term = {
        Atom("nodes"): list(nodes),
        Atom("cookie"): cookie,
        Atom("name_type"): Atom("longnames" if any("." in h for h in hosts) else "shortnames"),
        Atom("call"): call,
        Atom("probes"): list(probes),
        Atom("period_ms"): period_ms,
        Atom("timeout_ms"): timeout_ms,
        Atom("probe_every"): probe_every,
        Atom("max_ms"): max_ms,
    }
    return format_term(term, width=1 << 30) + ".\n"


def totals(per_host: Dict[str, dict]) -> dict:
    """Fleet-wide figures of a :meth:`LoadClient.stop` result (for tables and one-line summaries)."""
    hosts = list(per_host.values())
    by_reason: Dict[str, int] = {}
    for stats in hosts:
        for reason, count in stats.get("failed_by_reason", {}).items():
            by_reason[reason] = by_reason.get(reason, 0) + count
    return {
        "hosts": len(hosts),
        "calls": sum(s.get("calls", 0) for s in hosts),
        "failed": sum(s.get("failed", 0) for s in hosts),
        "failed_by_reason": dict(sorted(by_reason.items())),
        "max_latency_ms": max((s["latency_ms"]["max"] for s in hosts if "latency_ms" in s), default=0.0),
        "max_gap_ms": max((s.get("max_gap_ms", 0.0) for s in hosts), default=0.0),
        "restarted": sorted(h for h, s in per_host.items() if len(s.get("creations", [])) > 1),
    }


class LoadClient:
    """``call`` on every node of ``hosts`` (default: all of the fleet) every ``period_ms``.

    ``call``/``probes`` default to :data:`DEFAULT_CALLS`/:data:`DEFAULT_PROBES` of the fleet's
    release. ``timeout_ms`` bounds each call. :meth:`start` returns once every worker has tried
    to connect; with ``require_connected`` a node that could not be reached is an error.
    """

    def __init__(
        self,
        fleet,
        hosts: Optional[Iterable[str]] = None,
        period_ms: int = 20,
        call: Optional[str] = None,
        probes: Optional[Sequence[str]] = None,
        *,
        timeout_ms: int = 5000,
        probe_every: int = 10,
        max_s: float = 600,
        require_connected: bool = True,
        ready_timeout: float = 60,
    ) -> None:
        self.fleet = fleet
        self.hosts: List[str] = list(fleet.hosts if hosts is None else hosts)
        unknown = [h for h in self.hosts if h not in fleet.nodes]
        if unknown or not self.hosts:
            raise LoadError(f"hosts {unknown or self.hosts}: not in this fleet (hosts: {', '.join(fleet.nodes)})")
        release = fleet.name
        if call is None:
            if release not in DEFAULT_CALLS:
                raise LoadError(f"no default call for release {release!r}: pass call='Mod:Fun(Args)'")
            call = DEFAULT_CALLS[release]
        self.call = call
        self.probes = list(DEFAULT_PROBES.get(release, ()) if probes is None else probes)
        self.period_ms = period_ms
        self.require_connected = require_connected
        self.ready_timeout = ready_timeout
        self._by_node = {fleet.nodes[h].node_name: h for h in self.hosts}
        self._request = request_text(
            list(self._by_node), fleet.cookie, call, self.probes, period_ms=period_ms, timeout_ms=timeout_ms,
            probe_every=probe_every, max_ms=int(max_s * 1000),
        )
        self._wait_s = timeout_ms / 1000 + 30
        self._proc: Optional[subprocess.Popen] = None
        self._lines: queue.Queue = queue.Queue()
        self._reader: Optional[threading.Thread] = None
        self._stderr: Optional[IO[bytes]] = None
        self.connected: Dict[str, bool] = {}
        self.result: Optional[dict] = None  # the escript's whole report, nodes keyed by host
        self._per_host: Optional[Dict[str, dict]] = None

    # -- context manager ---------------------------------------------------------------------

    def __enter__(self) -> LoadClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- public API --------------------------------------------------------------------------

    def start(self) -> LoadClient:
        if self._proc is not None:
            raise LoadError("this load client was already started")
        escript = shutil.which("escript")
        if escript is None:
            raise LoadError("escript not found on PATH")
        env = dict(os.environ, ERL_EPMD_PORT=str(self.fleet.epmd_port))
        env.pop("ERL_FLAGS", None)
        env.pop("ERL_AFLAGS", None)
        env.pop("ERL_ZFLAGS", None)
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [escript, str(ESCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=tempfile.gettempdir(),
        )
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        self._reader.start()
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(self._request.encode())
            self._proc.stdin.flush()
            try:
                first = self._lines.get(timeout=self.ready_timeout)
            except queue.Empty:
                raise LoadError(f"load client not ready after {self.ready_timeout}s{self._stderr_tail()}") from None
            if first is None:
                raise LoadError(f"load client exited before it was ready{self._stderr_tail()}")
            if "error" in first:
                raise LoadError(f"load client refused the request: {first['error']}")
            self.connected = {self._by_node[node]: ok for node, ok in first["connected"].items()}
            down = sorted(h for h, ok in self.connected.items() if not ok)
            if down and self.require_connected:
                raise LoadError(f"load client could not connect to {', '.join(down)}")
        except BaseException:
            self._terminate()
            raise
        return self

    def stop(self) -> Dict[str, dict]:
        """Stop the client (closes its standard input) and return the figures per host."""
        if self._per_host is not None:
            return self._per_host
        if self._proc is None:
            raise LoadError("this load client was never started")
        try:
            self._proc.stdin.close()
        except OSError:
            pass  # it stopped by itself (max_s)
        try:
            self._proc.wait(timeout=self._wait_s)
        except subprocess.TimeoutExpired:
            self._terminate()
            raise LoadError(f"load client did not stop within {self._wait_s}s{self._stderr_tail()}") from None
        if self._reader is not None:
            self._reader.join(timeout=10)
        report = None
        while True:
            try:
                item = self._lines.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                report = item
        if self._proc.returncode != 0 or report is None or "nodes" not in report:
            raise LoadError(f"load client exited {self._proc.returncode} without a report{self._stderr_tail()}")
        per_host = {}
        for node, stats in report["nodes"].items():
            if "error" in stats:
                raise LoadError(f"load client worker for {self._by_node[node]} ({node}): {stats['error']}")
            per_host[self._by_node[node]] = {"node": node, **stats}
        self.result = {**{k: v for k, v in report.items() if k != "nodes"}, "hosts": per_host}
        self._per_host = {h: per_host[h] for h in self.hosts}
        return self._per_host

    # -- internals ---------------------------------------------------------------------------

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                self._lines.put(json.loads(line))
            except ValueError:
                self._lines.put({"error": f"unreadable output line {line[:200]!r}"})
        self._lines.put(None)

    def _terminate(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # our own child, by its Popen
            self._proc.wait(timeout=10)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        if self.fleet.cookie:
            text = text.replace(self.fleet.cookie, "********")
        return f"; stderr: {text[-2000:]}" if text else ""

    def __repr__(self) -> str:
        state = "stopped" if self._per_host is not None else "running" if self._proc is not None else "new"
        return f"<LoadClient {state} {self.call} on {', '.join(self.hosts)} every {self.period_ms} ms>"


def wait_until(cond, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``cond`` until true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return bool(cond())
