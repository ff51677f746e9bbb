# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options every erlang.otp node module takes (documented in plugins/doc_fragments/node.py).

PRIVATE to the erlang.otp collection: may change at any time.
"""
from __future__ import annotations

__all__ = ["NODE_OPTIONS", "node_argument_spec"]

NODE_OPTIONS = {
    "root": {"type": "path", "required": True},
    "name": {"type": "str"},
    "node": {"type": "str"},
    "cookie": {"type": "str", "no_log": True},
    "name_type": {"type": "str", "choices": ["name", "sname"]},
}


def node_argument_spec(**module_options: dict) -> dict:
    """The node options followed by the module's own (copied, so callers may not share state)."""
    spec = {key: dict(value) for key, value in NODE_OPTIONS.items()}
    spec.update(module_options)
    return spec
