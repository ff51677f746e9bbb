# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the real ``ansible`` and ``ansible-playbook`` of the test venv against this collection.

Test machinery, not part of the collection. Results come back as JSON through the test-only
callback in ``callback_plugins/test_results.py``, so tests assert on the modules' real return
values; stdout stays Ansible's default, for reading when a test fails. The collection is found through
``.build/collections`` (``tests/support/collection.py`` links the repository there).

Each event carries ``time`` (epoch seconds when the result arrived), ``started`` (when the task
started on that host, or None) and ``play`` (the play's name); :attr:`Run.stats` is the recap
(per host ``ok``, ``changed``, ``failed``, ``unreachable``, ``rescued``, ``skipped``, ``ignored``)
and :attr:`Run.plays` the plays in the order they started, with their start ``time``.

:func:`start_playbook` runs ``ansible-playbook`` in the background in its own session (so a test
can interrupt it with :func:`kill_playbook`, which also reaches the workers that ansible-core 2.19+
moves into sessions of their own); :func:`finish_playbook` waits for it and returns
the :class:`Run`. ``bin_dir`` selects another venv's ``ansible-playbook`` (e.g. ansible-core 2.17).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from tests.support.fleet import Proc

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".build" / "collections"
BIN = Path(sys.executable).parent
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"


class Run:
    """One ansible run: exit code, every task result, raw text."""

    def __init__(self, proc: subprocess.CompletedProcess, events: List[dict], summary: Optional[dict] = None) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.events = events
        summary = summary or {}
        #: the recap per host: ok, changed, failed, unreachable, rescued, skipped, ignored ({} when
        #: the run ended before the recap)
        self.stats: Dict[str, Dict[str, int]] = summary.get("stats", {})
        #: ``[{"name": play name, "time": epoch}]`` in start order
        self.plays: List[dict] = summary.get("plays", [])

    def results(self, host: str) -> List[dict]:
        """Every task result for ``host``, in play order."""
        return [event["result"] for event in self.events if event["host"] == host]

    def task(self, host: str, name: str) -> dict:
        """The result of the task called ``name`` on ``host`` (the last one, if it ran twice)."""
        found = [event["result"] for event in self.events if event["host"] == host and event["task"] == name]
        assert found, f"no task {name!r} ran on {host}: {self!r}"
        return found[-1]

    def result(self, host: str, index: int = -1) -> dict:
        return self.results(host)[index]

    def __repr__(self) -> str:
        return f"<ansible rc={self.rc}\n{self.stdout[-4000:]}\n{self.stderr[-2000:]}>"


def environment(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_PIPELINING": "True",
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.update(extra or {})
    return env


def adhoc(module: str, args: dict, *, check: bool = False, diff: bool = False, cwd: Optional[Path] = None,
          extra_vars: Optional[dict] = None, timeout: float = 300, env: Optional[Dict[str, str]] = None) -> dict:
    """Run ``ansible localhost -m module -a <json args>`` and return the task result for localhost.

    ``env`` is added to the environment; its ``PATH``, when given, replaces the usual one.
    """
    argv = [str(BIN / "ansible"), "localhost", "-m", module, "-a", json.dumps(args),
            "-e", f"ansible_python_interpreter={sys.executable}", *_options(extra_vars, check, diff, 0)]
    run = _run(argv, env, cwd, timeout)
    results = run.results("localhost")
    assert results, repr(run)
    return results[-1]


def playbook(path: Union[str, Path], inventory: Optional[Path] = None, *, extra_vars: Optional[dict] = None,
             check: bool = False, diff: bool = False, verbosity: int = 0, timeout: float = 600,
             env: Optional[Dict[str, str]] = None, bin_dir: Optional[Path] = None, forks: Optional[int] = None,
             limit: Union[str, Sequence[str], None] = None, args: Sequence[str] = ()) -> Run:
    """Run ``ansible-playbook`` on ``path`` (a file, or a collection playbook's FQCN such as
    ``erlang.otp.upgrade``); the caller asserts on :class:`Run`.

    ``forks`` is ``-f``, ``limit`` is ``--limit`` (a pattern or a list of hosts), ``args`` go last
    on the command line (``["-c", "paramiko"]``), ``bin_dir`` holds the ``ansible-playbook`` to run.
    """
    argv = _playbook_argv(path, inventory, extra_vars, check, diff, verbosity, bin_dir, forks, limit, args)
    return _run(argv, _with_bin(env, bin_dir), None, timeout)


def start_playbook(path: Union[str, Path], inventory: Optional[Path] = None, *, extra_vars: Optional[dict] = None,
                   check: bool = False, diff: bool = False, verbosity: int = 0, env: Optional[Dict[str, str]] = None,
                   bin_dir: Optional[Path] = None, forks: Optional[int] = None,
                   limit: Union[str, Sequence[str], None] = None, args: Sequence[str] = (),
                   output_dir: Optional[Path] = None) -> subprocess.Popen:
    """Start ``ansible-playbook`` in the background, in its own session; the options of :func:`playbook`.

    Standard output and error, the events and the recap go to files in ``output_dir`` (a new
    temporary directory when None; it is ``popen.output_dir``), so a run that is never read cannot
    block on a full pipe. End it with :func:`finish_playbook` or :func:`kill_playbook`.
    """
    out = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="ansible-run-"))
    out.mkdir(parents=True, exist_ok=True)
    argv = _playbook_argv(path, inventory, extra_vars, check, diff, verbosity, bin_dir, forks, limit, args)
    extra = dict(_with_bin(env, bin_dir) or {}, ERLANG_OTP_TEST_RESULTS=str(out / "results.json"),
                 ERLANG_OTP_TEST_STATS=str(out / "stats.json"))
    with open(out / "stdout.txt", "wb") as stdout, open(out / "stderr.txt", "wb") as stderr:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                 env=environment(extra), start_new_session=True)
    popen.output_dir = out  # type: ignore[attr-defined]
    return popen


def kill_playbook(popen: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Interrupt a :func:`start_playbook` run.

    ``SIGKILL`` (a controller that dies): every process of the run goes at once, the process
    group *and* every descendant. ansible-core 2.19+ workers call ``setsid()``, so they are not in
    the group; the tree is frozen with ``SIGSTOP`` first so that nothing forks or is reparented
    while it is collected. Processes that detached themselves (ssh ``ControlPersist`` masters) are
    not touched: they exit on their own, as after a real crash. Any other signal (``SIGINT`` for
    Ctrl-C) goes to the process group only, as a terminal would send it.
    """
    if popen.poll() is not None:
        return
    if sig != signal.SIGKILL:
        _signal_group(popen.pid, sig)
        return
    _signal_group(popen.pid, signal.SIGSTOP)
    frozen: Dict[int, Proc] = {}
    while True:
        found = [p for p in (Proc.of(pid, "playbook") for pid in process_tree(popen.pid)) if p is not None]
        new = [p for p in found if p.pid not in frozen]
        if not new:
            break
        for proc in new:
            proc.kill(signal.SIGSTOP)
            frozen[proc.pid] = proc
    _signal_group(popen.pid, signal.SIGKILL)
    for proc in frozen.values():
        proc.kill(signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def process_tree(root: int) -> List[int]:
    """``root`` and its descendants (by parent pid), from /proc."""
    parents: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def finish_playbook(popen: subprocess.Popen, timeout: float = 600) -> Run:
    """Wait for a :func:`start_playbook` run (killing its process group after ``timeout``) and read it."""
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_playbook(popen)
        popen.wait(timeout=30)
    out: Path = popen.output_dir  # type: ignore[attr-defined]
    proc = subprocess.CompletedProcess(
        popen.args, popen.returncode,
        (out / "stdout.txt").read_text(errors="replace"), (out / "stderr.txt").read_text(errors="replace"),
    )
    return Run(proc, _read_json(out / "results.json", []), _read_json(out / "stats.json", {}))


def _playbook_argv(path: Union[str, Path], inventory: Optional[Path], extra_vars: Optional[dict], check: bool,
                   diff: bool, verbosity: int, bin_dir: Optional[Path], forks: Optional[int],
                   limit: Union[str, Sequence[str], None], args: Sequence[str]) -> List[str]:
    argv = [str(Path(bin_dir or BIN) / "ansible-playbook"), str(path), *_options(extra_vars, check, diff, verbosity)]
    if inventory is not None:
        argv += ["-i", str(inventory)]
    if forks is not None:
        argv += ["-f", str(int(forks))]
    if limit is not None:
        argv += ["--limit", limit if isinstance(limit, str) else ",".join(limit)]
    return argv + list(args)


def _with_bin(env: Optional[Dict[str, str]], bin_dir: Optional[Path]) -> Optional[Dict[str, str]]:
    """Put ``bin_dir`` first on PATH (its ansible-* helpers and python), unless ``env`` sets PATH."""
    if bin_dir is None or (env and "PATH" in env):
        return env
    return dict(env or {}, PATH=f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def _options(extra_vars: Optional[dict], check: bool, diff: bool, verbosity: int) -> List[str]:
    out = ["-" + "v" * verbosity] if verbosity else []
    if extra_vars:
        out += ["-e", json.dumps(extra_vars)]
    if check:
        out.append("--check")
    if diff:
        out.append("--diff")
    return out


def _read_json(path: Path, default):
    if not path.exists():
        return default
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if text.strip() else default


def _run(argv: List[str], env: Optional[Dict[str, str]], cwd: Optional[Path], timeout: float) -> Run:
    with tempfile.TemporaryDirectory(prefix="ansible-results-") as scratch:
        results = Path(scratch) / "results.json"
        stats = Path(scratch) / "stats.json"
        extra = dict(env or {}, ERLANG_OTP_TEST_RESULTS=str(results), ERLANG_OTP_TEST_STATS=str(stats))
        proc = subprocess.run(argv, capture_output=True, text=True, env=environment(extra), cwd=cwd, timeout=timeout,
                              check=False)
        return Run(proc, _read_json(results, []), _read_json(stats, {}))
