# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test machinery, not part of the collection: write every task result as one JSON line.

Enable with ``ANSIBLE_CALLBACK_PLUGINS=<this directory>``, ``ANSIBLE_CALLBACKS_ENABLED=otp_results``
and ``OTP_RESULTS_FILE=<path>`` (ad hoc ``ansible`` also needs ``ANSIBLE_LOAD_CALLBACK_PLUGINS=1``).
Each line: ``{"host", "task", "status", "result"}`` with ``status`` one of ok, failed, skipped,
unreachable; ``result["failed"]``/``result["unreachable"]`` are set to match. Works with every
ansible-core the collection supports (the ``json`` stdout callback lives in ansible.posix, and
``tree`` is deprecated).
"""
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: otp_results
type: aggregate
short_description: Task results as JSON lines (erlang.otp tests)
description: Writes every task result to the file named by the OTP_RESULTS_FILE environment variable.
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "otp_results"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status: str) -> None:
        path = os.environ.get("OTP_RESULTS_FILE")
        if not path:
            return
        data = dict(result._result)
        if status == "failed":
            data["failed"] = True
        elif status == "unreachable":
            data["unreachable"] = True
        line = {"host": result._host.get_name(), "task": result._task.get_name(), "status": status, "result": data}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, default=str) + "\n")

    def v2_runner_on_ok(self, result) -> None:
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._write(result, "failed")

    def v2_runner_on_skipped(self, result) -> None:
        self._write(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:
        self._write(result, "unreachable")
