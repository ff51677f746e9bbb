# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Erlang terms as Python values.

PRIVATE to the erlang.otp collection: may change at any time.

The mapping, chosen so that atom, string, binary and list of integers stay apart and a term read
from a file is written back the same way:

============================  ==========================================================
Erlang                        Python
============================  ==========================================================
atom ``ok``, ``'Foo'``        :class:`Atom` (a ``str`` subclass that never equals a ``str``)
string ``"abc"``              ``str`` (a list of code points written with double quotes)
list ``[1,2]``, ``[]``        ``list``
improper list ``[a|b]``       :class:`ImproperList`
tuple ``{a,b}``               ``tuple``
binary ``<<"ab">>``           ``bytes``
integer, float                ``int``, ``float``
map ``#{k => v}``             ``dict`` (keys must be hashable: no list or map keys)
``fun m:f/1``                 :class:`ExternalFun`
pid, port, reference          :class:`Opaque` (only from the external term format)
============================  ==========================================================

In Erlang a string *is* a list of integers: ``"ab" =:= [97,98]``. Python keeps the spelling the
file used (``str`` for ``"ab"``, ``list`` for ``[97,98]``) and the writers keep it too, so values
round-trip exactly; the one exception is the empty string, which Erlang (and so the writer)
spells ``[]``. :func:`canonical` maps both spellings to the same value when Erlang's own equality
is wanted. ``True``/``False`` are accepted by the writers
as the atoms ``true``/``false``; readers always return :class:`Atom`.
"""

from __future__ import annotations


class Atom(str):
    """An Erlang atom. ``Atom("ok") != "ok"``: atoms and strings are different terms."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atom) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    # The hash of the text (computed once per object by ``str``, in C): an atom and the string of
    # the same text share a hash but never compare equal, so dicts and sets keep them apart.
    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Atom({str.__repr__(self)})"


class ImproperList:
    """``[H1, H2 | Tail]`` where ``Tail`` is not a list."""

    __slots__ = ("items", "tail")

    def __init__(self, items: list, tail: object) -> None:
        if not items:
            raise ValueError("an improper list needs at least one element before '|'")
        if isinstance(tail, (list, ImproperList)) or (isinstance(tail, str) and not isinstance(tail, Atom)):
            raise ValueError("the tail of an improper list must not be a list; flatten it instead")
        self.items = list(items)
        self.tail = tail

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImproperList) and self.items == other.items and self.tail == other.tail

    def __hash__(self) -> int:
        return hash(("erlang-improper-list", tuple(_hashable(i) for i in self.items), _hashable(self.tail)))

    def __repr__(self) -> str:
        return f"ImproperList({self.items!r}, {self.tail!r})"


class ExternalFun:
    """``fun Module:Function/Arity``."""

    __slots__ = ("arity", "function", "module")

    def __init__(self, module: Atom, function: Atom, arity: int) -> None:
        self.module = module
        self.function = function
        self.arity = arity

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExternalFun) and (self.module, self.function, self.arity) == (
            other.module,
            other.function,
            other.arity,
        )

    def __hash__(self) -> int:
        return hash(("erlang-fun", self.module, self.function, self.arity))

    def __repr__(self) -> str:
        return f"ExternalFun({self.module!r}, {self.function!r}, {self.arity!r})"


class Opaque:
    """A pid, port, reference or local fun seen in the external term format.

    Kept as its tag and raw encoding: it can be compared, not interpreted or written as text.
    """

    __slots__ = ("kind", "raw")

    def __init__(self, kind: str, raw: bytes) -> None:
        self.kind = kind
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and self.kind == other.kind and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(("erlang-opaque", self.kind, self.raw))

    def __repr__(self) -> str:
        return f"Opaque({self.kind!r}, {self.raw!r})"


def empty_strings_as_lists(term: object) -> object:
    """``term`` with every ``""`` replaced by ``[]``: what writing and reading it back gives."""
    if isinstance(term, str) and not isinstance(term, Atom):
        return term if term else []
    if isinstance(term, list):
        return [empty_strings_as_lists(t) for t in term]
    if isinstance(term, tuple):
        return tuple(empty_strings_as_lists(t) for t in term)
    if isinstance(term, ImproperList):
        return ImproperList([empty_strings_as_lists(t) for t in term.items], term.tail)
    if isinstance(term, dict):
        return {k: empty_strings_as_lists(v) for k, v in term.items()}
    return term


def _hashable(value: object) -> object:
    if isinstance(value, list):
        return ("list", tuple(_hashable(v) for v in value))
    if isinstance(value, dict):
        return ("map", tuple(sorted((repr(k), _hashable(v)) for k, v in value.items())))
    if isinstance(value, tuple):
        return tuple(_hashable(v) for v in value)
    return value


def canonical(term: object) -> object:
    """Return ``term`` with every string turned into its list of code points, recursively.

    Two values are the same Erlang term exactly when their canonical forms are equal (``=:=``),
    e.g. ``canonical("ab") == canonical([97, 98])``. Booleans become the atoms true/false.
    """
    if isinstance(term, bool):
        return Atom("true" if term else "false")
    if isinstance(term, Atom):
        return term
    if isinstance(term, str):
        return [ord(c) for c in term]
    if isinstance(term, list):
        return [canonical(t) for t in term]
    if isinstance(term, tuple):
        return tuple(canonical(t) for t in term)
    if isinstance(term, ImproperList):
        items = [canonical(t) for t in term.items]
        tail = canonical(term.tail)
        return ImproperList(items, tail)
    if isinstance(term, dict):
        return {_canonical_key(k): canonical(v) for k, v in term.items()}
    return term


def _canonical_key(key: object) -> object:
    value = canonical(key)
    if isinstance(value, list):
        # Strings as map keys: keep them hashable while still comparing by code points.
        return ("$erlang-list-key", tuple(value))
    return value


def text(term: object) -> str:
    """Return a string-like term (``"abc"``, ``[97,98,99]``, ``<<"abc">>`` or ``'abc'``) as ``str``.

    For fields such as versions that Erlang files spell as strings. Raises ``TypeError`` when the
    term is not text.
    """
    if isinstance(term, str):
        return str(term)
    if isinstance(term, bytes):
        return term.decode("utf-8")
    if isinstance(term, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in term):
        try:
            return "".join(chr(c) for c in term)
        except (ValueError, OverflowError):
            pass
    raise TypeError(f"expected an Erlang string, got {term!r}")
