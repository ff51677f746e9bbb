# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side file writing for erlang.otp action plugins.

PRIVATE to the erlang.otp collection: may change at any time.
"""
from __future__ import annotations

import os
import tempfile

__all__ = ["read_text", "write_atomic"]


def read_text(path: str) -> str | None:
    """The UTF-8 text of ``path``, or None when there is no such file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename.

    Several forks may write the same file at once; each rename is atomic, so readers see either
    the old or a complete new file, never a torn one.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".erlang-otp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
