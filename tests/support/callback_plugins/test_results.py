# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only callback: every task result, per host, written as JSON to $ERLANG_OTP_TEST_RESULTS.

Each event is ``{"host", "task", "status", "result", "play", "time", "started"}``: ``time`` is the
epoch (float seconds) when the result arrived, ``started`` when the task started on that host (None
if unknown). When $ERLANG_OTP_TEST_STATS is set, ``{"stats": {host: recap}, "plays": [{"name",
"time"}]}`` goes there, the recap being ok/changed/failed/unreachable/rescued/skipped/ignored from
``v2_playbook_on_stats``. Both files are replaced atomically, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import os
import time

from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: test_results
type: aggregate
short_description: write task results as JSON for the erlang.otp tests
description: Test machinery of erlang.otp; not part of the collection.
"""


def _write(path: str, data: object) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, cls=AnsibleJSONEncoder)
    os.replace(tmp, path)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "test_results"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events: list = []
        self.plays: list = []
        self.stats: dict = {}
        self.play_name = ""
        self.started: dict = {}

    def _record(self, status: str, result) -> None:
        data = getattr(result, "result", None)
        if not isinstance(data, dict):
            data = result._result
        data = dict(data)
        if status in ("failed", "unreachable"):  # ansible-core 2.19+ keeps these out of the result dict
            data[status] = True
        host = result._host.get_name()
        self.events.append(
            {
                "host": host,
                "task": result._task.get_name(),
                "status": status,
                "result": data,
                "play": self.play_name,
                "time": time.time(),
                "started": self.started.get((host, result._task._uuid)),
            }
        )
        self._flush()

    def _flush(self) -> None:
        path = os.environ.get("ERLANG_OTP_TEST_RESULTS")
        if path:
            _write(path, self.events)

    def _flush_summary(self) -> None:
        path = os.environ.get("ERLANG_OTP_TEST_STATS")
        if path:
            _write(path, {"stats": self.stats, "plays": self.plays})

    def v2_playbook_on_play_start(self, play) -> None:
        self.play_name = play.get_name()
        self.plays.append({"name": self.play_name, "time": time.time()})
        self._flush_summary()

    def v2_runner_on_start(self, host, task) -> None:
        self.started[(host.get_name(), task._uuid)] = time.time()

    def v2_runner_on_ok(self, result) -> None:
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record("failed", result)

    def v2_runner_on_skipped(self, result) -> None:
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result) -> None:
        self._record("unreachable", result)

    def v2_playbook_on_stats(self, stats) -> None:
        recap = {}
        for host in sorted(stats.processed):
            summary = stats.summarize(host)
            recap[host] = {
                "ok": summary.get("ok", 0),
                "changed": summary.get("changed", 0),
                "failed": summary.get("failures", 0),
                "unreachable": summary.get("unreachable", 0),
                "rescued": summary.get("rescued", 0),
                "skipped": summary.get("skipped", 0),
                "ignored": summary.get("ignored", 0),
            }
        self.stats = recap
        self._flush_summary()
