# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hand-written appups that win over generated ones.

PRIVATE to the erlang.otp collection: may change at any time.

An override is an appup term ``{Vsn, Up, Down}`` written by hand for one application. It applies
to the application's new version when ``Vsn`` is that version, or a binary regex that matches it
the way ``systools`` matches version keys. For each previous version, the first override entry
whose key matches it replaces the generated entry, separately for up and for down. Override entries
not keyed by one of those versions (regexes, other versions) are kept after the concrete ones, so
the override still serves versions this run did not see (``systools`` takes the first match).
"""
from __future__ import annotations

from ansible_collections.erlang.otp.plugins.module_utils._appup_syntax import version_matches
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

__all__ = ["Merged", "OverrideError", "applies_to", "merge"]


class OverrideError(ValueError):
    """An override that cannot be used: names the file and what is wrong with it."""


class Merged:
    """The merged appup term and, per previous version, where each direction came from."""

    def __init__(self, term: tuple, sources: dict) -> None:
        self.term = term
        #: ``{from_vsn: {"up": "override" | "generated", "down": ...}}``
        self.sources = sources


def _shape(term: object, source: str) -> tuple:
    if not (isinstance(term, tuple) and len(term) == 3 and isinstance(term[1], list) and isinstance(term[2], list)):
        raise OverrideError(f"{source}: an appup is {{Vsn, UpFrom, DownTo}}; this file holds something else")
    for entries, what in ((term[1], "up"), (term[2], "down")):
        for entry in entries:
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], list)):
                raise OverrideError(f"{source}: every {what} entry is {{Vsn, Instructions}}; found {entry!r}")
    return term


def applies_to(term: object, vsn: str, source: str) -> bool:
    """Whether the override ``term`` (read from ``source``) is meant for application version ``vsn``."""
    top = _shape(term, source)[0]
    if not _is_version_key(top):
        raise OverrideError(f"{source}: the appup version must be a string or a binary regex, not {top!r}")
    return version_matches(top, vsn)


def _is_version_key(key: object) -> bool:
    return isinstance(key, (str, bytes)) and not isinstance(key, Atom)


def _pick(entries: list, vsn: str) -> tuple | None:
    for entry in entries:
        if _is_version_key(entry[0]) and version_matches(entry[0], vsn):
            return entry
    return None


def merge(generated: tuple, override: tuple | None, source: str = "<override>") -> Merged:
    """Merge a generated appup term with an override for the same application version.

    ``generated`` has one concrete entry per previous version, in the same order up and down.
    """
    vsn, gen_up, gen_down = generated
    froms = [entry[0] for entry in gen_up]
    if override is None:
        return Merged(generated, {f: {"up": "generated", "down": "generated"} for f in froms})
    _unused, over_up, over_down = _shape(override, source)
    sources: dict = {f: {} for f in froms}
    merged = []
    for direction, gen_entries, over_entries in (("up", gen_up, over_up), ("down", gen_down, over_down)):
        out = []
        for key, instructions in gen_entries:
            hit = _pick(over_entries, key)
            if hit is None:
                out.append((key, instructions))
                sources[key][direction] = "generated"
            else:
                out.append((key, hit[1]))
                sources[key][direction] = "override"
        out.extend(entry for entry in over_entries if entry[0] not in froms)
        merged.append(out)
    return Merged((vsn, merged[0], merged[1]), sources)
