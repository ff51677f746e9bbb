# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Watch the processes that appear while a test runs, to prove a secret is on no command line.

Test machinery, not part of the collection::

    with ProcessWatch() as watch:
        run_something()
    assert watch.leaks(cookie) == []

A thread polls ``/proc`` every few milliseconds and keeps ``cmdline`` and ``environ`` of every
process that was not there (same pid and start time) when the watch began. Processes of other
users whose environment is unreadable are recorded with their argv only.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional


def _start_time(pid: int) -> Optional[int]:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(raw[raw.rindex(")") + 2 :].split()[19])


def _snapshot() -> Dict[int, Optional[int]]:
    return {int(p): _start_time(int(p)) for p in os.listdir("/proc") if p.isdigit()}


class ProcessWatch:
    """Records argv and environment of every process that appears while it is active."""

    def __init__(self) -> None:
        self.seen: Dict[tuple, bytes] = {}
        self._stop = threading.Event()
        self._before = _snapshot()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, start in _snapshot().items():
                if self._before.get(pid) == start or (pid, start) in self.seen:
                    continue
                data = b""
                for what in ("cmdline", "environ"):
                    try:
                        data += Path(f"/proc/{pid}/{what}").read_bytes() + b"\n"
                    except OSError:
                        pass
                if data.strip():
                    self.seen[(pid, start)] = data
            time.sleep(0.005)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def leaks(self, secret: str) -> List[str]:
        return [
            data.split(b"\0")[0].decode(errors="replace") for data in self.seen.values() if secret.encode() in data
        ]
