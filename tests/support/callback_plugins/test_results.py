# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only callback: every task result, per host, written as JSON to $ERLANG_OTP_TEST_RESULTS."""
from __future__ import annotations

import json
import os

from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: test_results
type: aggregate
short_description: write task results as JSON for the erlang.otp tests
description: Test machinery of erlang.otp; not part of the collection.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "test_results"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events: list = []

    def _record(self, status: str, result) -> None:
        data = getattr(result, "result", None)
        if not isinstance(data, dict):
            data = result._result
        data = dict(data)
        if status in ("failed", "unreachable"):  # ansible-core 2.19+ keeps these out of the result dict
            data[status] = True
        self.events.append(
            {"host": result._host.get_name(), "task": result._task.get_name(), "status": status, "result": data}
        )
        self._flush()

    def _flush(self) -> None:
        path = os.environ.get("ERLANG_OTP_TEST_RESULTS")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self.events, handle, cls=AnsibleJSONEncoder)

    def v2_runner_on_ok(self, result) -> None:
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record("failed", result)

    def v2_runner_on_skipped(self, result) -> None:
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result) -> None:
        self._record("unreachable", result)
