# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the work tree importable and runnable as the collection ``erlang.otp``.

Test machinery, not part of the collection. The collection must be imported by its FQCN path
(that is how AnsiballZ ships module_utils), and ``ansible``/``ansible-playbook`` find it through
``ANSIBLE_COLLECTIONS_PATH``; both see the repository through
``.build/collections/ansible_collections/erlang/otp``, a symlink to the repository root created on
first use. Used by ``tests/conftest.py`` (so by every pytest run), and by the demo and the bench,
which run as plain scripts::

    from tests.support.collection import ensure_collection_path
    ensure_collection_path()
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "erlang" / "otp"


def inside_collection_tree(root: Path = ROOT) -> bool:
    """True when ``root`` already sits at ``.../ansible_collections/erlang/otp`` (ansible-test's copy)."""
    return root.parent.name == "erlang" and root.parents[1].name == "ansible_collections"


def ensure_collection_path() -> Path:
    """Create the link if needed and put the collection (and the repository, for ``tests.support``)
    on ``sys.path``; return the directory to use as ``ANSIBLE_COLLECTIONS_PATH``.

    Inside an ``ansible_collections`` tree (ansible-test's copy) the real path already works: only
    that tree's root is added. Safe to call more than once.
    """
    if inside_collection_tree():
        _prepend(ROOT.parents[2])
        return ROOT.parents[2]
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(ROOT, LINK)
        except FileExistsError:
            pass
    _prepend(COLLECTIONS)
    _prepend(ROOT)  # for tests.support
    return COLLECTIONS


def _prepend(path: Path) -> None:
    """Put ``path`` first on ``sys.path`` (moving it there if it is already present)."""
    entry = str(path)
    while entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
