# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the work tree importable as ``ansible_collections.erlang.otp`` for plain pytest runs.

The collection must be imported by its FQCN path (that is how AnsiballZ ships module_utils), so
the tests see the repository through ``.build/collections/ansible_collections/erlang/otp``, a
symlink to the repository root created on first use.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_COLLECTIONS = ROOT / ".build" / "collections"
_LINK = _COLLECTIONS / "ansible_collections" / "erlang" / "otp"


def _ensure_collection_path() -> None:
    # Inside an ansible_collections tree (ansible-test's copy) the real path already works.
    if ROOT.parent.name == "erlang" and ROOT.parents[1].name == "ansible_collections":
        sys.path.insert(0, str(ROOT.parents[2]))
        return
    if not _LINK.exists():
        _LINK.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(ROOT, _LINK)
        except FileExistsError:
            pass
    sys.path.insert(0, str(_COLLECTIONS))
    sys.path.insert(0, str(ROOT))  # for tests.support


_ensure_collection_path()
