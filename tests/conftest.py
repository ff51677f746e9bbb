# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the work tree importable as ``ansible_collections.erlang.otp`` for plain pytest runs.

The collection must be imported by its FQCN path (that is how AnsiballZ ships module_utils), so
the tests see the repository through ``.build/collections/ansible_collections/erlang/otp``, a
symlink to the repository root created on first use (``tests/support/collection.py``, shared with
the demo and the bench). Importing this module has that effect, which the benches rely on.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # pytest's rootdir insertion normally did this already
    sys.path.insert(0, str(ROOT))

from tests.support.collection import ensure_collection_path  # noqa: E402

ensure_collection_path()
