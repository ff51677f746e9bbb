# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the real ``ansible`` and ``ansible-playbook`` of the test venv against this collection.

Test machinery, not part of the collection. Results come back as JSON through the test-only
callback in ``callback_plugins/test_results.py``, so tests assert on the modules' real return
values; stdout stays Ansible's default, for reading when a test fails. The collection is found through
``.build/collections`` (``tests/conftest.py`` links the repository there).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".build" / "collections"
BIN = Path(sys.executable).parent
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"


class Run:
    """One ansible run: exit code, every task result, raw text."""

    def __init__(self, proc: subprocess.CompletedProcess, events: List[dict]) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.events = events

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


def playbook(path: Path, inventory: Optional[Path] = None, *, extra_vars: Optional[dict] = None, check: bool = False,
             diff: bool = False, verbosity: int = 0, timeout: float = 600, env: Optional[Dict[str, str]] = None) -> Run:
    """Run ``ansible-playbook`` on ``path``; the caller asserts on :class:`Run`."""
    argv = [str(BIN / "ansible-playbook"), str(path), *_options(extra_vars, check, diff, verbosity)]
    if inventory is not None:
        argv += ["-i", str(inventory)]
    return _run(argv, env, None, timeout)


def _options(extra_vars: Optional[dict], check: bool, diff: bool, verbosity: int) -> List[str]:
    out = ["-" + "v" * verbosity] if verbosity else []
    if extra_vars:
        out += ["-e", json.dumps(extra_vars)]
    if check:
        out.append("--check")
    if diff:
        out.append("--diff")
    return out


def _run(argv: List[str], env: Optional[Dict[str, str]], cwd: Optional[Path], timeout: float) -> Run:
    with tempfile.TemporaryDirectory(prefix="ansible-results-") as scratch:
        results = Path(scratch) / "results.json"
        extra = dict(env or {}, ERLANG_OTP_TEST_RESULTS=str(results))
        proc = subprocess.run(argv, capture_output=True, text=True, env=environment(extra), cwd=cwd, timeout=timeout,
                              check=False)
        events = json.loads(results.read_text(encoding="utf-8")) if results.exists() else []
    return Run(proc, events)
