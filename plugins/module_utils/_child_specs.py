# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A supervisor's static children, read from its ``.beam`` without executing any of its code.

PRIVATE to the erlang.otp collection: may change at any time.

:func:`supervisor_children` answers "which children does ``init/1`` return, by child id, and
under which name is this supervisor registered" so that appup generation can start new children
(``supervisor:restart_child/2``) and stop removed ones (``terminate_child``/``delete_child``).

The module's code is *read*, never run. Three readers share one small abstract interpreter in
which a value is an Erlang term (see :mod:`._terms`) that may contain :class:`Unknown` parts --
anything that only exists at run time (the ``init/1`` argument, a call to another module,
``application:get_env/2``...):

* Erlang debug info (``Dbgi`` chunk ``{debug_info_v1, erl_abstract_code, {Forms, Opts}}``, or the
  old ``Abst`` chunk ``{raw_abstract_v1, Forms}``): the abstract code of ``init/1`` and of the
  local functions it calls is evaluated (macros are already expanded, records are read from the
  ``-record`` forms). Bound variables, ``++``, ``case``/``if``, guards, maps, local helper
  functions and list comprehensions over known lists are followed.
* Elixir debug info (``{debug_info_v1, elixir_erl, {elixir_v1, Map, Specs}}``): the expanded
  Elixir AST of the ``definitions``, with ``Supervisor.init/2`` and ``Supervisor.child_spec/2``
  understood the way Elixir 1.14 implements them (a module ``M`` or ``{M, Arg}`` stands for
  ``M.child_spec(Arg)``).
* The BEAM code itself (``Code`` + ``LitT``), for modules without debug info -- what ``mix
  release`` and relx's prod mode ship: the instructions of ``init/1`` are followed register by
  register (literals, ``put_list``/``put_tuple2``/``put_map_*``, local calls, tests and
  branches, calls to ``erlang:'++'/2``, ``lists:append`` and ``Elixir.Supervisor``).

Several ``init/1`` clauses give the union of their children. A child is understood when its id
is a known term; ``module``/``type`` are ``None`` when they are not known statically. Anything
not understood makes the result ``complete=False`` with a precise ``reason``; the function never
raises.

Elixir children given as a module (or ``{Module, Arg}``) take their id and type from
``Module.child_spec/1`` at run time. Pass ``resolve`` (module name -> :class:`Beam` or ``None``)
to read that function from the child's own beam; otherwise the documented default of
``use GenServer``/``use Supervisor`` is assumed (id = the module) and the child is marked
``assumed=True`` with ``type=None``.
"""

from __future__ import annotations

import struct

from ansible_collections.erlang.otp.plugins.module_utils._beam import _OPCODE_ARITY, Beam
from ansible_collections.erlang.otp.plugins.module_utils._etf import decode
from ansible_collections.erlang.otp.plugins.module_utils._term_text import format_term, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ImproperList, canonical

__all__ = ["ChildSpec", "SupervisorChildren", "Unknown", "diff_children", "started_supervisors", "supervisor_children"]

#: Local calls followed from ``init/1`` before a value counts as unknown.
MAX_DEPTH = 24
#: Alternative outcomes (branches not decided statically) kept before giving up.
MAX_PATHS = 256
#: Evaluation steps allowed per analysed entry function.
MAX_STEPS = 200_000

_OK = Atom("ok")
_IGNORE = Atom("ignore")
_TRUE = Atom("true")
_FALSE = Atom("false")
_NIL = Atom("nil")
_UNDEFINED = Atom("undefined")
_ID = Atom("id")
_START = Atom("start")
_TYPE = Atom("type")
_STRATEGY = Atom("strategy")
_WORKER = Atom("worker")
_SUPERVISOR = Atom("supervisor")
_LOCAL = Atom("local")
_GLOBAL = Atom("global")
_VIA = Atom("via")
_NAME = Atom("name")
_INIT = Atom("init")
_ERLANG = Atom("erlang")
_EX_SUPERVISOR = Atom("Elixir.Supervisor")
_CHILD_TYPES = (_WORKER, _SUPERVISOR)


# --- results ----------------------------------------------------------------------------------


class ChildSpec:
    """One static child: its id (an Erlang term), start module and type when known.

    ``assumed`` is true for an Elixir child given as ``Module``/``{Module, Arg}`` whose
    ``child_spec/1`` could not be read: the id is then the module (Elixir's default) and the type
    unknown.
    """

    __slots__ = ("assumed", "id", "module", "type")

    def __init__(self, id: object, module: Atom | None = None, type: str | None = None, assumed: bool = False):
        self.id = id
        self.module = module
        self.type = type
        self.assumed = assumed

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChildSpec) and (
            canonical(self.id),
            self.module,
            self.type,
            self.assumed,
        ) == (canonical(other.id), other.module, other.type, other.assumed)

    def __hash__(self) -> int:
        return hash(_freeze(canonical(self.id)))

    def __repr__(self) -> str:
        extra = ", assumed=True" if self.assumed else ""
        return f"ChildSpec({self.id!r}, {self.module!r}, {self.type!r}{extra})"

    def to_dict(self) -> dict:
        """JSON-able: ``id`` as Erlang term text (``file:consult`` syntax), module as a string."""
        return {
            "id": format_term(self.id, width=1_000_000),
            "module": None if self.module is None else str(self.module),
            "type": self.type,
            "assumed": self.assumed,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ChildSpec:
        module = data.get("module")
        return cls(
            parse_one(data["id"] + ".", "child id"),
            None if module is None else Atom(module),
            data.get("type"),
            bool(data.get("assumed", False)),
        )


class SupervisorChildren:
    """What :func:`supervisor_children` found.

    * ``registered_name``: the atom of ``{local, Name}`` (Elixir ``name: Name``), else ``None``;
    * ``sup_ref``: what ``supervisor:restart_child/2`` takes as its first argument: the local
      name, ``{global, Name}`` or ``{via, Module, Name}``; ``None`` when unknown or unregistered;
    * ``name_reason``: why the name is ``None`` (or a note when it is a best guess);
    * ``children``: :class:`ChildSpec` in spec order (union over ``init/1`` clauses);
    * ``complete``/``reason``: whether every child was understood, and why not;
    * ``strategy``: ``one_for_one``, ``simple_one_for_one``... when known (the children of a
      ``simple_one_for_one`` supervisor are a template, not static children);
    * ``method``: what was read: ``"erlang debug info"``, ``"elixir debug info"``,
      ``"beam code"``, or ``None``.
    """

    __slots__ = ("children", "complete", "method", "name_reason", "reason", "registered_name", "strategy", "sup_ref")

    def __init__(
        self,
        children: list | None = None,
        complete: bool = True,
        reason: str | None = None,
        registered_name: Atom | None = None,
        sup_ref: object = None,
        name_reason: str | None = None,
        strategy: str | None = None,
        method: str | None = None,
    ) -> None:
        self.children = list(children or [])
        self.complete = complete
        self.reason = reason
        self.registered_name = registered_name
        self.sup_ref = sup_ref
        self.name_reason = name_reason
        self.strategy = strategy
        self.method = method

    def __repr__(self) -> str:
        return (
            f"SupervisorChildren(children={self.children!r}, complete={self.complete!r}, reason={self.reason!r}, "
            f"registered_name={self.registered_name!r}, strategy={self.strategy!r}, method={self.method!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SupervisorChildren) and self.to_dict() == other.to_dict()

    __hash__ = None  # mutable

    @property
    def ids(self) -> list:
        return [c.id for c in self.children]

    def child(self, child_id: object) -> ChildSpec | None:
        key = canonical(child_id)
        for spec in self.children:
            if canonical(spec.id) == key:
                return spec
        return None

    def to_dict(self) -> dict:
        """A JSON-able dict; Erlang terms (ids, ``sup_ref``) are written as Erlang term text."""
        return {
            "registered_name": None if self.registered_name is None else str(self.registered_name),
            "sup_ref": None if self.sup_ref is None else format_term(self.sup_ref, width=1_000_000),
            "name_reason": self.name_reason,
            "children": [c.to_dict() for c in self.children],
            "complete": self.complete,
            "reason": self.reason,
            "strategy": self.strategy,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SupervisorChildren:
        """The inverse of :meth:`to_dict`. Raises ``ValueError`` naming the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"supervisor children: expected a dict, got {type(data).__name__}")
        try:
            children = [ChildSpec.from_dict(c) for c in data.get("children", [])]
            name = data.get("registered_name")
            ref = data.get("sup_ref")
            return cls(
                children=children,
                complete=bool(data.get("complete", False)),
                reason=data.get("reason"),
                registered_name=None if name is None else Atom(name),
                sup_ref=None if ref is None else parse_one(ref + ".", "sup_ref"),
                name_reason=data.get("name_reason"),
                strategy=data.get("strategy"),
                method=data.get("method"),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"supervisor children: invalid manifest entry: {exc}") from None


def diff_children(old: SupervisorChildren, new: SupervisorChildren) -> tuple:
    """``(added, removed)``: the :class:`ChildSpec` of ``new`` whose id is not in ``old`` and the
    ones of ``old`` not in ``new``, each in spec order. Ids compare with Erlang's ``=:=``."""
    old_ids = {_freeze(canonical(c.id)) for c in old.children}
    new_ids = {_freeze(canonical(c.id)) for c in new.children}
    added = [c for c in new.children if _freeze(canonical(c.id)) not in old_ids]
    removed = [c for c in old.children if _freeze(canonical(c.id)) not in new_ids]
    return added, removed


# --- the value domain -------------------------------------------------------------------------


class Unknown:
    """A value that exists only at run time; ``reason`` says where it comes from."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unknown({self.reason!r})"


class _ChildSpecCall(Unknown):
    """``Module.child_spec(Arg)`` (an Elixir child) with ``Supervisor.child_spec/2`` overrides."""

    __slots__ = ("arg", "module", "overrides")

    def __init__(self, module: Atom, arg: object, overrides: dict) -> None:
        super().__init__(f"result of {_ex_name(module)}.child_spec/1 at run time")
        self.module = module
        self.arg = arg
        self.overrides = overrides


class _Fun(Unknown):
    """A fun of the analysed module: ``invoke(args, depth)`` gives its possible results."""

    __slots__ = ("arity", "invoke")

    def __init__(self, arity: int, invoke, what: str) -> None:
        super().__init__(f"a call of {what}")
        self.arity = arity
        self.invoke = invoke


class _Crash(Exception):
    """The analysed path certainly raises an exception: it returns nothing."""


class _TooComplex(Exception):
    """The code has more branches or steps than is reasonable to follow statically."""


def _ex_name(module: object) -> str:
    text = str(module)
    return text[7:] if text.startswith("Elixir.") else text


def _is_text(value: object) -> bool:
    return isinstance(value, str) and not isinstance(value, Atom)


def _as_list(value: object) -> object:
    """A string value as its list of code points (Erlang does not tell them apart)."""
    if _is_text(value):
        return [ord(c) for c in value]
    return value


def _unknown_in(value: object) -> Unknown | None:
    """The first :class:`Unknown` inside ``value``, or ``None`` when it is fully known."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Unknown):
            return item
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, ImproperList):
            stack.extend(item.items)
            stack.append(item.tail)
    return None


def _freeze(value: object) -> object:
    """A hashable key for a value (Unknowns by identity), used to drop duplicate outcomes."""
    if isinstance(value, Unknown):
        return ("?", id(value))
    if isinstance(value, Atom):
        return ("a", str(value))
    if isinstance(value, str):
        return ("l", tuple(ord(c) for c in value))
    if isinstance(value, list):
        return ("l", tuple(_freeze(v) for v in value))
    if isinstance(value, tuple):
        return ("t", tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("m", tuple(sorted((repr(_freeze(k)), _freeze(v)) for k, v in value.items())))
    if isinstance(value, ImproperList):
        return ("L", tuple(_freeze(v) for v in value.items), _freeze(value.tail))
    if isinstance(value, float):
        return ("f", value)
    if isinstance(value, int):
        return ("i", value)
    try:
        hash(value)
    except TypeError:
        return ("r", repr(value))
    return ("o", value)


def _dedupe(values: list) -> list:
    seen = set()
    result = []
    for value in values:
        key = _freeze(value)
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


#: ``(types, kind)`` in the order :func:`_kind` tries them (an Atom is a str, a bool an int).
_KINDS = (
    (Atom, "atom"),
    ((str, list, ImproperList), "list"),
    (tuple, "tuple"),
    (dict, "map"),
    (bytes, "binary"),
    (bool, "atom"),
    (int, "integer"),
    (float, "float"),
)


def _kind(value: object) -> str | None:
    """The Erlang type of a value, ``None`` when it is unknown."""
    if isinstance(value, Unknown):
        return None
    for types, kind in _KINDS:
        if isinstance(value, types):
            return kind
    return "other"


def _same(a: object, b: object, exact: bool = True) -> bool | None:
    """Erlang ``=:=`` (``exact``) or ``==`` on two values: ``None`` when it depends on unknowns."""
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return None
    a = _as_list(a)
    b = _as_list(b)
    if isinstance(a, Atom) or isinstance(b, Atom):
        return isinstance(a, Atom) and isinstance(b, Atom) and str(a) == str(b)
    ka, kb = _kind(a), _kind(b)
    if ka in ("integer", "float") and kb in ("integer", "float"):
        if exact and ka != kb:
            return False
        return a == b
    if ka != kb:
        return False
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            return False
        return _all_same(zip(a, b), exact)
    if isinstance(a, ImproperList) or isinstance(b, ImproperList):
        ia = a.items if isinstance(a, ImproperList) else a
        ib = b.items if isinstance(b, ImproperList) else b
        ta = a.tail if isinstance(a, ImproperList) else []
        tb = b.tail if isinstance(b, ImproperList) else []
        if isinstance(ta, Unknown) or isinstance(tb, Unknown):
            prefix = _all_same(zip(ia, ib), exact)
            return False if prefix is False else None
        if len(ia) != len(ib):
            return False
        return _all_same([*zip(ia, ib), (ta, tb)], exact)
    if isinstance(a, dict) and isinstance(b, dict):
        if _unknown_in(list(a)) or _unknown_in(list(b)):
            return None
        if len(a) != len(b):
            return False
        keys_b = {_freeze(canonical(k)): k for k in b}
        pairs = []
        for key, value in a.items():
            other = keys_b.get(_freeze(canonical(key)))
            if other is None:
                return False
            pairs.append((value, b[other]))
        return _all_same(pairs, exact)
    return a == b


def _all_same(pairs, exact: bool) -> bool | None:
    result: bool | None = True
    for x, y in pairs:
        same = _same(x, y, exact)
        if same is False:
            return False
        if same is None:
            result = None
    return result


def _bool(value: bool | None) -> object:
    if value is None:
        return Unknown("a comparison of values known only at run time")
    return _TRUE if value else _FALSE


def _map_get(mapping: dict, key: object) -> tuple:
    """``(found, value)``; ``found`` is ``None`` when the keys cannot be compared."""
    if _unknown_in(key) is not None or _unknown_in(list(mapping)) is not None:
        return None, None
    wanted = _freeze(canonical(key))
    for k, v in mapping.items():
        if _freeze(canonical(k)) == wanted:
            return True, v
    return False, None


def _map_put(mapping: dict, key: object, value: object) -> object:
    if _unknown_in(key) is not None:
        return Unknown("a map with a key known only at run time")
    try:
        hash(key)
    except TypeError:
        return Unknown("a map with a list or map as a key")
    result = {}
    wanted = _freeze(canonical(key))
    for k, v in mapping.items():
        if _freeze(canonical(k)) != wanted:
            result[k] = v
    result[key] = value
    return result


def _cons(head: object, tail: object) -> object:
    tail = _as_list(tail)
    if isinstance(tail, list):
        return [head, *tail]
    if isinstance(tail, ImproperList):
        return ImproperList([head, *tail.items], tail.tail)
    return ImproperList([head], tail)


def _uncons(value: object) -> tuple | None:
    """``(head, tail)`` of a non-empty list, else ``None``."""
    value = _as_list(value)
    if isinstance(value, list) and value:
        return value[0], value[1:]
    if isinstance(value, ImproperList):
        return value.items[0], ImproperList(value.items[1:], value.tail) if len(value.items) > 1 else value.tail
    return None


def _append(left: object, right: object) -> object:
    """``Left ++ Right`` keeping what is known: ``[a] ++ Unknown`` is ``[a | Unknown]``."""
    left = _as_list(left)
    if isinstance(left, Unknown):
        return left
    if isinstance(left, ImproperList):
        if isinstance(left.tail, Unknown):
            return left
        raise _Crash
    if not isinstance(left, list):
        raise _Crash
    if not left:
        return right
    right = _as_list(right)
    if isinstance(right, list):
        return left + right
    if isinstance(right, ImproperList):
        return ImproperList(left + right.items, right.tail)
    return ImproperList(list(left), right)


def _proper(value: object) -> list | None:
    """``value`` as a Python list when it is a proper list (elements may be unknown)."""
    value = _as_list(value)
    return value if isinstance(value, list) else None


def _truthy(value: object) -> bool | None:
    """Elixir truthiness: everything but ``nil`` and ``false``."""
    if isinstance(value, Unknown):
        return None
    return not (isinstance(value, Atom) and value in (_NIL, _FALSE))


def _keyword_get(opts: object, key: Atom) -> tuple:
    """``(found, value)`` in a keyword list; ``found`` is ``None`` when it cannot be told."""
    items = _proper(opts)
    if items is None:
        return None, None
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            return None, None
        same = _same(item[0], key)
        if same is None:
            return None, None
        if same:
            return True, item[1]
    return False, None


# --- functions of other modules whose result is known --------------------------------------------


def _need_int(*values: object) -> None:
    for value in values:
        if isinstance(value, Unknown):
            raise _Unknowable
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Crash


class _Unknowable(Exception):
    """The function's result depends on unknown arguments."""


def _need(types, *values: object) -> None:
    """Raise :class:`_Unknowable` when one of ``values`` is unknown, else :class:`_Crash` when one
    is not an instance of ``types``."""
    if any(isinstance(value, Unknown) for value in values):
        raise _Unknowable
    if not all(isinstance(value, types) for value in values):
        raise _Crash


def _need_list(value: object) -> list:
    """``value`` as a proper list; raises like :func:`_need`."""
    items = _proper(value)
    if items is None:
        raise _Unknowable if isinstance(_as_list(value), (Unknown, ImproperList)) else _Crash
    return items


def _type_test(kinds: tuple):
    def test(args: list) -> object:
        kind = _kind(args[0])
        return Unknown("a type test on a value known only at run time") if kind is None else _bool(kind in kinds)

    return test


def _bif_element(args: list) -> object:
    index, tup = args
    _need_int(index)
    _need(tuple, tup)
    if not 1 <= index <= len(tup):
        raise _Crash
    return tup[index - 1]


def _bif_tuple_size(args: list) -> object:
    _need(tuple, args[0])
    return len(args[0])


def _bif_length(args: list) -> object:
    value = _as_list(args[0])
    if isinstance(value, list):
        return len(value)
    if isinstance(value, Unknown) or (isinstance(value, ImproperList) and isinstance(value.tail, Unknown)):
        raise _Unknowable
    raise _Crash


def _bif_hd_tl(index: int):
    def part(args: list) -> object:
        pair = _uncons(args[0])
        if pair is None:
            raise _Unknowable if isinstance(args[0], Unknown) else _Crash
        return pair[index]

    return part


def _is_boolean(args: list) -> object:
    if isinstance(args[0], Unknown):
        raise _Unknowable
    return _bool(isinstance(args[0], Atom) and args[0] in (_TRUE, _FALSE))


def _compare(op: str):
    def compare(args: list) -> object:
        a, b = args
        if op in ("=:=", "=/=", "==", "/="):
            same = _same(a, b, exact=op in ("=:=", "=/="))
            if same is None:
                raise _Unknowable
            return _bool(same if op in ("=:=", "==") else not same)
        ka, kb = _kind(a), _kind(b)
        if ka in ("integer", "float") and kb in ("integer", "float"):
            x, y = a, b
        elif ka == kb == "atom":
            x, y = str(a), str(b)
        else:
            raise _Unknowable
        return _bool({"<": x < y, ">": x > y, "=<": x <= y, ">=": x >= y}[op])

    return compare


def _boolean(op: str):
    def combine(args: list) -> object:
        values = []
        for value in args:
            if isinstance(value, Unknown):
                values.append(None)
            elif isinstance(value, Atom) and value in (_TRUE, _FALSE):
                values.append(value == _TRUE)
            else:
                raise _Crash
        a = values[0]
        if op == "not":
            if a is None:
                raise _Unknowable
            return _bool(not a)
        b = values[1]
        decisive = op in ("or", "orelse")  # the value of one operand that decides and/or alone
        if op != "xor" and (a is decisive or (op in ("and", "or") and b is decisive)):
            return _bool(decisive)
        if a is None or b is None:
            raise _Unknowable
        return _bool(a != b if op == "xor" else b)

    return combine


def _arith(op: str):
    def arith(args: list) -> object:
        if len(args) == 1:
            value = args[0]
            if isinstance(value, Unknown):
                raise _Unknowable
            if _kind(value) not in ("integer", "float"):
                raise _Crash
            return -value if op == "-" else value
        a, b = args
        if isinstance(a, Unknown) or isinstance(b, Unknown):
            raise _Unknowable
        if _kind(a) not in ("integer", "float") or _kind(b) not in ("integer", "float"):
            raise _Crash
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        _need_int(a, b)
        if b == 0:
            raise _Crash
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return quotient if op == "div" else a - b * quotient

    return arith


def _fn_append1(args: list) -> object:
    result: object = []
    for item in reversed(_need_list(args[0])):
        result = _append(item, result)
    return result


def _fn_reverse(args: list) -> object:
    tail = args[1] if len(args) > 1 else []
    return _append(list(reversed(_need_list(args[0]))), tail)


def _fn_subtract(args: list) -> object:
    a, b = _proper(args[0]), _proper(args[1])
    if a is None or b is None or _unknown_in(a) or _unknown_in(b):
        raise _Unknowable
    result = list(a)
    for item in b:
        for index, have in enumerate(result):
            if _same(have, item):
                del result[index]
                break
    return result


def _fn_flatten(args: list) -> object:
    if _unknown_in(args[0]) is not None:
        raise _Unknowable
    out: list = []

    def walk(value: object) -> None:
        value = _as_list(value)
        if isinstance(value, list):
            for item in value:
                walk(item)
        else:
            out.append(value)

    if _proper(args[0]) is None:
        raise _Crash
    walk(args[0])
    return out


def _fn_maps_merge(args: list) -> object:
    result, other = args
    _need(dict, result, other)
    for key, value in other.items():
        result = _fn_maps_put([key, value, result])
    return result


def _fn_maps_put(args: list) -> object:
    key, value, mapping = args
    _need(dict, mapping)
    result = _map_put(mapping, key, value)
    if isinstance(result, Unknown):
        raise _Unknowable
    return result


def _fn_map_put_elixir(args: list) -> object:
    mapping, key, value = args
    return _fn_maps_put([key, value, mapping])


def _fn_maps_get(args: list) -> object:
    key, mapping = args[0], args[1]
    _need(dict, mapping)
    found, value = _map_get(mapping, key)
    if found is None:
        raise _Unknowable
    if found:
        return value
    if len(args) == 3:
        return args[2]
    raise _Crash


def _fn_map_get_elixir(args: list) -> object:
    mapping, key = args[0], args[1]
    default = args[2] if len(args) > 2 else _NIL
    return _fn_maps_get([key, mapping, default])


def _fn_keyword_get(args: list) -> object:
    opts, key = args[0], args[1]
    default = args[2] if len(args) > 2 else _NIL
    if isinstance(opts, dict):
        return _fn_map_get_elixir([opts, key, default])
    found, value = _keyword_get(opts, key)
    if found is None:
        raise _Unknowable
    return value if found else default


def _fn_raise(_args: list) -> object:
    raise _Crash


_EX_OVERRIDE_KEYS = frozenset(Atom(k) for k in ("id", "start", "restart", "shutdown", "type", "modules", "significant"))


def _ex_init_child(child: object) -> object:
    """Elixir 1.14 ``Supervisor.init_child/1`` (a ``child_spec/1`` call stays symbolic)."""
    if isinstance(child, Unknown):
        return child
    if isinstance(child, Atom):
        return _ChildSpecCall(child, [], {})
    if isinstance(child, tuple) and len(child) == 2:
        if isinstance(child[0], Atom):
            return _ChildSpecCall(child[0], child[1], {})
        if isinstance(child[0], Unknown):
            return Unknown(f"a {{Module, Arg}} child whose module is known only at run time ({child[0].reason})")
        raise _Crash
    if isinstance(child, dict) or (isinstance(child, tuple) and len(child) == 6):
        return child
    raise _Crash


def _fn_ex_supervisor_init(args: list) -> object:
    children, opts = args
    flags: object = Unknown("supervisor flags from options known only at run time")
    found, strategy = _keyword_get(opts, _STRATEGY)
    if found is False:
        raise _Crash  # "expected :strategy option to be given"
    if found:
        intensity = _keyword_get(opts, Atom("max_restarts"))
        period = _keyword_get(opts, Atom("max_seconds"))
        if intensity[0] is not None and period[0] is not None:
            flags = {
                _STRATEGY: strategy,
                Atom("intensity"): intensity[1] if intensity[0] else 3,
                Atom("period"): period[1] if period[0] else 5,
            }
    value = _as_list(children)
    if isinstance(value, list):
        specs: object = [_ex_init_child(c) for c in value]
    elif isinstance(value, ImproperList) and isinstance(value.tail, Unknown):
        specs = ImproperList([_ex_init_child(c) for c in value.items], value.tail)
    elif isinstance(value, Unknown):
        specs = value
    else:
        raise _Crash
    return (_OK, (flags, specs))


def _fn_ex_child_spec(args: list) -> object:
    spec, overrides = args
    if isinstance(spec, tuple) and len(spec) == 6:
        raise _Crash
    spec = _ex_init_child(spec)
    items = _proper(overrides)
    if items is None or _unknown_in([i[0] for i in items if isinstance(i, tuple) and len(i) == 2]):
        if isinstance(_as_list(overrides), (Unknown, ImproperList)):
            return Unknown("Supervisor.child_spec/2 with overrides known only at run time")
        raise _Crash
    changes = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Atom)):
            raise _Crash
        if item[0] not in _EX_OVERRIDE_KEYS:
            raise _Crash
        changes[item[0]] = item[1]
    return _apply_overrides(spec, changes)


def _apply_overrides(spec: object, changes: dict) -> object:
    if isinstance(spec, _ChildSpecCall):
        merged = dict(spec.overrides)
        merged.update(changes)
        return _ChildSpecCall(spec.module, spec.arg, merged)
    if isinstance(spec, Unknown):
        return spec
    if not isinstance(spec, dict):
        raise _Crash
    result: object = spec
    for key, value in changes.items():
        result = _map_put(result, key, value)
    return result


#: ``(module, function, arity) -> (implementation, strict)``; a strict function needs fully known
#: arguments. An implementation returns a value, or raises :class:`_Crash`/:class:`_Unknowable`.
_PURE: dict = {}


def _register(module: str, names, arity: int, fn, strict: bool = False) -> None:
    for name in [names] if isinstance(names, str) else names:
        _PURE[(Atom(module), Atom(name), arity)] = (fn, strict)


for _name, _kinds in (
    ("is_atom", ("atom",)),
    ("is_list", ("list",)),
    ("is_tuple", ("tuple",)),
    ("is_map", ("map",)),
    ("is_integer", ("integer",)),
    ("is_float", ("float",)),
    ("is_number", ("integer", "float")),
    ("is_binary", ("binary",)),
    ("is_bitstring", ("binary",)),
):
    _register("erlang", _name, 1, _type_test(_kinds))
_register("erlang", "is_boolean", 1, _is_boolean)
_register("erlang", "element", 2, _bif_element)
_register("erlang", "tuple_size", 1, _bif_tuple_size)
_register("erlang", "length", 1, _bif_length)
_register("erlang", "hd", 1, _bif_hd_tl(0))
_register("erlang", "tl", 1, _bif_hd_tl(1))
for _op in ("=:=", "=/=", "==", "/=", "<", ">", "=<", ">="):
    _register("erlang", _op, 2, _compare(_op))
for _op in ("and", "or", "xor", "andalso", "orelse"):
    _register("erlang", _op, 2, _boolean(_op))
_register("erlang", "not", 1, _boolean("not"))
for _op in ("+", "-", "*", "div", "rem"):
    _register("erlang", _op, 2, _arith(_op))
_register("erlang", "-", 1, _arith("-"))
_register("erlang", "+", 1, _arith("+"))
_register("erlang", "++", 2, lambda a: _append(a[0], a[1]))
_register("lists", "append", 2, lambda a: _append(a[0], a[1]))
_register("lists", "append", 1, _fn_append1)
_register("lists", "reverse", 1, _fn_reverse)
_register("lists", "reverse", 2, _fn_reverse)
_register("lists", "flatten", 1, _fn_flatten)
_register("erlang", "--", 2, _fn_subtract)
_register("lists", "subtract", 2, _fn_subtract)
_register("maps", "merge", 2, _fn_maps_merge)
_register("maps", "put", 3, _fn_maps_put)
_register("maps", "get", 2, _fn_maps_get)
_register("maps", "get", 3, _fn_maps_get)
_register("erlang", "map_get", 2, _fn_maps_get)
_register("erlang", ("error", "exit", "throw", "nif_error"), 1, _fn_raise)
_register("erlang", ("error", "nif_error"), 2, _fn_raise)
_register("erlang", ("error", "raise"), 3, _fn_raise)
_register("Elixir.Supervisor", "init", 2, _fn_ex_supervisor_init)
_register("Elixir.Supervisor", "child_spec", 2, _fn_ex_child_spec)
_register("Elixir.Enum", "concat", 2, lambda a: _append(a[0], a[1]))
_register("Elixir.Enum", "concat", 1, _fn_append1)
_register("Elixir.List", "flatten", 1, _fn_flatten)
_register("Elixir.Map", "merge", 2, _fn_maps_merge)
_register("Elixir.Map", "put", 3, _fn_map_put_elixir)
_register("Elixir.Map", "get", 2, _fn_map_get_elixir)
_register("Elixir.Map", "get", 3, _fn_map_get_elixir)
_register("Elixir.Keyword", "get", 2, _fn_keyword_get)
_register("Elixir.Keyword", "get", 3, _fn_keyword_get)
_register("Elixir.Access", "get", 2, _fn_keyword_get)


_RANGE = Atom("Elixir.Range")
_STRUCT = Atom("__struct__")
#: Longest Elixir range expanded into its elements.
MAX_RANGE = 1000


def _fn_range_new(args: list) -> object:
    first, last = args[0], args[1]
    step = (
        args[2] if len(args) > 2 else (1 if isinstance(last, int) and isinstance(first, int) and last >= first else -1)
    )
    _need_int(first, last, step)
    return {_STRUCT: _RANGE, Atom("first"): first, Atom("last"): last, Atom("step"): step}


_register("Elixir.Range", "new", 2, _fn_range_new)
_register("Elixir.Range", "new", 3, _fn_range_new)


def _enumerable(value: object) -> list:
    """The elements of a list or an Elixir range; raises :class:`_Unknowable` otherwise."""
    items = _proper(value)
    if items is not None:
        return items
    if isinstance(value, dict) and _same(value.get(_STRUCT), _RANGE):
        first, last, step = (value.get(Atom(k)) for k in ("first", "last", "step"))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (first, last, step)) and step:
            stop = last + (1 if step > 0 else -1)
            if abs(stop - first) <= MAX_RANGE:
                return list(range(first, stop, step))
    raise _Unknowable


def _ho_map(items: object, fun: object, apply) -> object:
    return [apply(fun, [item]) for item in _enumerable(items)]


def _ho_flat_map(items: object, fun: object, apply) -> object:
    result: object = []
    for item in reversed(_enumerable(items)):
        result = _append(apply(fun, [item]), result)
    return result


def _ho_fold(items: object, acc: object, fun: object, apply, right: bool = False) -> object:
    elements = _enumerable(items)
    for item in reversed(elements) if right else elements:
        acc = apply(fun, [item, acc])
    return acc


def _ho_filter(items: object, fun: object, apply, elixir: bool) -> object:
    kept = []
    for item in _enumerable(items):
        keep = apply(fun, [item])
        truth = _truthy(keep) if elixir else _same(keep, _TRUE)
        if truth is None:
            raise _Unknowable
        if truth:
            kept.append(item)
    return kept


#: ``(module, function, arity) -> implementation(args, apply)`` for functions that call a fun of
#: the analysed module; ``apply(fun, args)`` gives the one result of a call (or raises).
_HIGHER_ORDER = {
    (Atom("lists"), Atom("map"), 2): lambda a, ap: _ho_map(a[1], a[0], ap),
    (Atom("lists"), Atom("flatmap"), 2): lambda a, ap: _ho_flat_map(a[1], a[0], ap),
    (Atom("lists"), Atom("foldl"), 3): lambda a, ap: _ho_fold(a[2], a[1], a[0], ap),
    (Atom("lists"), Atom("foldr"), 3): lambda a, ap: _ho_fold(a[2], a[1], a[0], ap, right=True),
    (Atom("lists"), Atom("filter"), 2): lambda a, ap: _ho_filter(a[1], a[0], ap, elixir=False),
    (Atom("Elixir.Enum"), Atom("map"), 2): lambda a, ap: _ho_map(a[0], a[1], ap),
    (Atom("Elixir.Enum"), Atom("flat_map"), 2): lambda a, ap: _ho_flat_map(a[0], a[1], ap),
    (Atom("Elixir.Enum"), Atom("reduce"), 3): lambda a, ap: _ho_fold(a[0], a[1], a[2], ap),
    (Atom("Elixir.Enum"), Atom("filter"), 2): lambda a, ap: _ho_filter(a[0], a[1], ap, elixir=True),
    (Atom("Elixir.Enum"), Atom("to_list"), 1): lambda a, ap: _enumerable(a[0]),
}


def _apply_pure(mfa: tuple, args: list, where: str) -> object:
    """The result of calling ``mfa`` (raises :class:`_Crash` when it certainly fails)."""
    module, name, arity = mfa
    label = f"{_call_name(module, name, arity)}{where}"
    entry = _PURE.get(mfa)
    if entry is None:
        return Unknown(f"the result of {label}")
    fn, strict = entry
    if strict and any(_unknown_in(a) is not None for a in args):
        return Unknown(f"the result of {label} on values known only at run time")
    try:
        return fn(args)
    except _Unknowable:
        return Unknown(f"the result of {label} on values known only at run time")


def _call_name(module: object, name: object, arity: int) -> str:
    if str(module).startswith("Elixir."):
        return f"{_ex_name(module)}.{name}/{arity}"
    return f"{format_term(module)}:{format_term(name)}/{arity}"


# --- supervisor name from start_link calls -------------------------------------------------------

_START_LINKS = frozenset(
    {
        (Atom("supervisor"), Atom("start_link"), 2),
        (Atom("supervisor"), Atom("start_link"), 3),
        (_EX_SUPERVISOR, Atom("start_link"), 2),
        (_EX_SUPERVISOR, Atom("start_link"), 3),
    }
)


class _Starts:
    """What the ``start_link`` calls for one supervisor module pass as its name."""

    __slots__ = ("names", "unknown", "unregistered")

    def __init__(self) -> None:
        self.names: list = []  # known sup refs
        self.unregistered = False
        self.unknown: list = []  # reasons


class _NameCollector:
    """Records the name each ``supervisor:start_link``-like call gives, per started module."""

    def __init__(self) -> None:
        self.starts: dict = {}  # module -> _Starts
        self.unknown_targets: list = []  # reasons: calls whose module is known only at run time
        self.failures: list = []  # functions too complex to follow

    def __call__(self, mfa: tuple, args: list) -> None:
        if mfa not in _START_LINKS:
            return
        module, _name, arity = mfa
        if module == _EX_SUPERVISOR:
            target = args[0]
            if isinstance(_as_list(target), (list, ImproperList)):
                return  # Supervisor.start_link(children, opts): Elixir's own Supervisor.Default
            name: object = None
            if arity == 3:
                found, value = _keyword_get(args[2], _NAME)
                if found is None:
                    name = Unknown("start options known only at run time")
                elif found:
                    name = self._elixir_ref(value)
        else:
            target = args[1] if arity == 3 else args[0]
            name = self._erlang_ref(args[0]) if arity == 3 else None
        if not isinstance(target, Atom):
            self.unknown_targets.append("a start_link call for a module known only at run time")
            return
        starts = self.starts.setdefault(target, _Starts())
        if name is None:
            starts.unregistered = True
        elif isinstance(name, Unknown):
            starts.unknown.append(name.reason)
        else:
            starts.names.append(name)

    @staticmethod
    def _erlang_ref(value: object) -> object:
        if isinstance(value, tuple) and len(value) == 2 and value[0] in (_LOCAL, _GLOBAL):
            if _unknown_in(value[1]) is not None:
                return Unknown(f"a {value[0]} name known only at run time")
            if value[0] == _LOCAL:
                return value[1] if isinstance(value[1], Atom) else Unknown("a local name that is not an atom")
            return value
        if isinstance(value, tuple) and len(value) == 3 and value[0] == _VIA:
            if _unknown_in(value) is not None:
                return Unknown("a via name known only at run time")
            return value
        if isinstance(value, Unknown):
            return Unknown(f"a name known only at run time ({value.reason})")
        return Unknown(f"an unrecognised name {_short(value)}")

    @staticmethod
    def _elixir_ref(value: object) -> object:
        if isinstance(value, Atom):
            return value if value != _NIL else None
        return _NameCollector._erlang_ref(value)

    def result(self, module: Atom) -> tuple:
        """``(registered_name, sup_ref, name_reason)`` of ``module``."""
        starts = self.starts.get(module)
        unknown = [*(starts.unknown if starts else []), *self.unknown_targets, *self.failures]
        refs = _dedupe(starts.names) if starts else []
        if len(refs) == 1:
            ref = refs[0]
            note = None
            if unknown or starts.unregistered:
                other = "; ".join(_dedupe(unknown)) or "without a registered name"
                note = f"best guess: the module is also started another way ({other})"
            return (ref if isinstance(ref, Atom) else None), ref, note
        if len(refs) > 1:
            shown = ", ".join(format_term(r) for r in refs)
            return None, None, f"started under several names: {shown}"
        if unknown:
            return None, None, "registered name known only at run time: " + "; ".join(_dedupe(unknown))
        if starts and starts.unregistered:
            return None, None, "started without a registered name"
        return None, None, f"no supervisor start_link call for {format_term(module)} in the module"


# --- shared interpreter pieces ----------------------------------------------------------------


class _Program:
    """Statically evaluates functions of one module. Subclasses read one kind of code."""

    method = ""

    def __init__(self, module: Atom) -> None:
        self.module = module
        self.steps = 0
        self.hook = None  # called with (mfa, args) on every call to another module
        self.functions: dict = {}  # (name, arity) -> what ``run`` takes
        self.exports: set = set()

    def reset(self) -> None:
        self.steps = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _TooComplex(f"more than {MAX_STEPS} evaluation steps")

    @staticmethod
    def check_paths(paths: list) -> None:
        if len(paths) > MAX_PATHS:
            raise _TooComplex(f"more than {MAX_PATHS} branches that depend on run-time values")

    def has_function(self, name: Atom, arity: int) -> bool:
        return (name, arity) in self.functions

    def call(self, name: Atom, arity: int, args: list, depth: int = 0) -> list:
        """Possible return values of ``name(args...)``; paths that crash give nothing."""
        entry = self.functions.get((name, arity))
        if entry is None:
            return [Unknown(f"the result of the undefined function {name}/{arity}")]
        return self.run(entry, args, depth, f"{name}/{arity}")

    def run(self, entry: object, args: list, depth: int, what: str) -> list:
        """Possible return values of the function ``what`` stored as ``entry`` in ``functions``."""
        raise NotImplementedError

    def name_entries(self) -> list:
        """Exported functions from which a ``start_link`` call may be reached."""
        callees, seeds = self.call_graph()
        return sorted(k for k in _reachable(callees, seeds) if k in self.exports)

    def call_graph(self) -> tuple:
        """``(callees, seeds)``: the local functions each function calls, and the functions that
        call one of :data:`_START_LINKS`."""
        raise NotImplementedError

    def external(self, mfa: tuple, args: list, where: str, depth: int = 0) -> object:
        """The result of calling another module's function (raises :class:`_Crash`)."""
        if self.hook is not None:
            self.hook(mfa, args)
        higher = _HIGHER_ORDER.get(mfa)
        if higher is None:
            return _apply_pure(mfa, args, where)

        def apply(fun: object, fun_args: list) -> object:
            if not isinstance(fun, _Fun) or fun.arity != len(fun_args):
                raise _Unknowable
            values = fun.invoke(fun_args, depth + 1)
            if len(values) != 1:
                raise _Unknowable
            return values[0]

        try:
            return higher(args, apply)
        except _Unknowable:
            return Unknown(f"the result of {_call_name(*mfa)}{where} on values known only at run time")


def _reachable(callees: dict, seeds: set) -> set:
    """Functions from which one of ``seeds`` is reachable in the local call graph ``callees``."""
    callers: dict = {}
    for fn, targets in callees.items():
        for target in targets:
            callers.setdefault(target, set()).add(fn)
    found = set(seeds)
    todo = list(seeds)
    while todo:
        for caller in callers.get(todo.pop(), ()):
            if caller not in found:
                found.add(caller)
                todo.append(caller)
    return found


def _walk(term: object):
    stack = [term]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, (list, tuple)):
            stack.extend(item)


def _matched(same: bool | None, env: dict) -> tuple | None:
    """The match outcome of a pattern that compares equal (``same``) to the value."""
    return None if same is False else (env, same is True)


#: What :meth:`_Syntax.callee` gives for a call to one of :data:`_START_LINKS`.
_STARTS_SUPERVISOR = object()


class _Syntax(_Program):
    """An interpreter of one module's syntax tree (Erlang abstract code or the Elixir AST).

    ``eval(expr, env, depth)`` gives ``[(value, env)]``, one element per possible outcome;
    ``match(pattern, value, env)`` gives ``(env, certain)``, or ``None`` when it cannot match. The
    two trees differ in how nodes are spelt, not in what they mean, so besides those two a reader
    only says where the parts of a node are:

    * ``callee(node)``: ``(name, arity)`` of a local call, :data:`_STARTS_SUPERVISOR`, or ``None``;
    * ``function_clause(clause)``, like the ``shape`` given to :meth:`clauses`: ``(patterns,
      guard sequences, body expressions)``, ``None`` when the clause cannot be read;
    * ``generator(qual)``: ``(pattern, list expression)``, ``None`` for a filter, whose value
      ``filter_truth(value)`` says whether the element is kept (``None``: not known);
    * ``new_var(node)``: ``(env key, name, location)`` of a variable a pattern binds, else ``None``;
    * ``empty_body()``: the value of a body without expressions.
    """

    def eval(self, expr: object, env: dict, depth: int) -> list:
        raise NotImplementedError

    def match(self, pattern: object, value: object, env: dict) -> tuple | None:
        raise NotImplementedError

    def callee(self, node: object) -> object:
        raise NotImplementedError

    @staticmethod
    def function_clause(clause: object) -> tuple | None:
        raise NotImplementedError

    def generator(self, qual: object) -> tuple | None:
        raise NotImplementedError

    @staticmethod
    def filter_truth(value: object) -> bool | None:
        raise NotImplementedError

    @staticmethod
    def new_var(node: object) -> tuple | None:
        raise NotImplementedError

    @staticmethod
    def empty_body() -> object:
        raise NotImplementedError

    # -- program interface

    def run(self, entry: object, args: list, depth: int, what: str) -> list:
        readable = [c for c in entry if self.function_clause(c) is not None]
        return self.outcomes(what, readable, args, {}, depth, self.function_clause, depth + 1)

    def call_graph(self) -> tuple:
        callees: dict = {}
        seeds = set()
        for key, clauses in self.functions.items():
            targets = set()
            for node in _walk(clauses):
                called = self.callee(node)
                if called is _STARTS_SUPERVISOR:
                    seeds.add(key)
                elif called is not None:
                    targets.add(called)
            callees[key] = targets
        return callees, seeds

    # -- clauses

    def outcomes(self, what, clauses, args, env, depth, shape, body_depth=None) -> list:
        """The possible results of calling ``clauses`` (a function or a fun) with ``args``."""
        if depth > MAX_DEPTH:
            return [Unknown(f"the result of {what}: calls nested deeper than {MAX_DEPTH}")]
        return _dedupe([v for v, _e in self.clauses(clauses, args, env, depth, shape, body_depth)])

    def clauses(self, clauses: list, values: list, env: dict, depth: int, shape, body_depth=None) -> list:
        """``[(value, env)]`` of the clauses that may match ``values``, up to the first one that
        certainly does; ``shape(clause)`` gives its ``(patterns, guards, body)``."""
        result = []
        for clause in clauses:
            parts = shape(clause)
            if parts is None:
                return [(Unknown("an unreadable clause"), env)]
            patterns, guards, body = parts
            matched = self.match_list(patterns, values, env)
            if matched is None:
                continue
            bound, certain = matched
            passed = self.guard(guards, bound, depth)
            if passed is False:
                continue
            result.extend(self.body(body, bound, depth if body_depth is None else body_depth))
            self.check_paths(result)
            if certain and passed:
                break
        return result

    def case(self, subject: object, clauses: list, env: dict, depth: int, shape) -> list:
        result = []
        for value, after in self.eval(subject, env, depth):
            result.extend(self.clauses(clauses, [value], after, depth, shape))
        return result

    def guard(self, guards: list, env: dict, depth: int) -> bool | None:
        """Whether one of the guard sequences holds (all of its tests are ``true``)."""
        if not guards:
            return True
        answer: bool | None = False
        for sequence in guards:
            seq: bool | None = True
            for test in sequence:
                outcomes = self.eval(test, env, depth)
                values = [v for v, _e in outcomes]
                if not values:
                    seq = False
                elif all(_same(v, _TRUE) for v in values):
                    continue
                elif all(_unknown_in(v) is None for v in values):
                    seq = False
                else:
                    seq = None
                if seq is False:
                    break
            if seq is True:
                return True
            if seq is None:
                answer = None
        return answer

    # -- expressions

    def eval_all(self, exprs: list, env: dict, depth: int) -> list:
        """``[(values, env)]`` for a list of expressions evaluated left to right."""
        states = [([], env)]
        for expr in exprs:
            new = []
            for values, current in states:
                for value, after in self.eval(expr, current, depth):
                    new.append(([*values, value], after))
            self.check_paths(new)
            states = new
        return states

    def body(self, exprs: list, env: dict, depth: int) -> list:
        states = [(self.empty_body(), env)]
        for expr in exprs if isinstance(exprs, list) else []:
            new = []
            for _value, current in states:
                new.extend(self.eval(expr, current, depth))
            self.check_paths(new)
            states = new
        return states

    def build_tuple(self, exprs: list, env: dict, depth: int) -> list:
        return [(tuple(values), after) for values, after in self.eval_all(exprs, env, depth)]

    def build_list(self, items: list, tail: object, env: dict, depth: int) -> list:
        """``[items... | tail]``; a ``tail`` of ``None`` stands for a proper list."""
        result = []
        for values, after in self.eval_all(items if tail is None else [*items, tail], env, depth):
            value = values
            if tail is not None:
                value = values[-1]
                for head in reversed(values[:-1]):
                    value = _cons(head, value)
            result.append((value, after))
        return result

    def build_map(self, pairs: list, exact: list, base_expr: object, env: dict, depth: int) -> list:
        """A map of the ``(key, value)`` expressions ``pairs`` (over ``base_expr`` when it is not
        ``None``); ``exact[i]`` says pair ``i`` must update a key that is already there."""
        exprs = [x for pair in pairs for x in pair]
        if base_expr is not None:
            exprs.append(base_expr)
        result = []
        for values, after in self.eval_all(exprs, env, depth):
            mapping: object = values[-1] if base_expr is not None else {}
            if isinstance(mapping, Unknown):
                result.append((mapping, after))
                continue
            if not isinstance(mapping, dict):
                continue  # badmap
            for index, must_exist in enumerate(exact):
                key, value = values[2 * index], values[2 * index + 1]
                if must_exist and isinstance(mapping, dict) and _map_get(mapping, key)[0] is False:
                    break  # badkey
                mapping = mapping if isinstance(mapping, Unknown) else _map_put(mapping, key, value)
            else:
                result.append((mapping, after))
        return result

    def bind(self, pattern: object, expr: object, env: dict, depth: int) -> list:
        """``Pattern = Expr``."""
        result = []
        for value, after in self.eval(expr, env, depth):
            matched = self.match(pattern, value, after)
            if matched is not None:
                result.append((value, matched[0]))
        return result

    def local_call(self, name: Atom, arg_exprs: list, env: dict, depth: int) -> list:
        result = []
        for values, after in self.eval_all(arg_exprs, env, depth):
            result.extend((v, after) for v in self.call(name, len(arg_exprs), values, depth + 1))
        self.check_paths(result)
        return result

    def call_fun(self, exprs: list, env: dict, depth: int, where: str) -> list:
        """``Fun(Args...)`` where ``exprs`` is ``[Fun, Args...]``."""
        result = []
        for values, after in self.eval_all(exprs, env, depth):
            called, args = values[0], values[1:]
            if isinstance(called, _Fun) and called.arity == len(args):
                result.extend((v, after) for v in called.invoke(args, depth + 1))
            else:
                result.append((Unknown(f"the result of calling a fun{where}"), after))
        return result

    def local_fun(self, name: Atom, arity: int, what: str) -> _Fun:
        return _Fun(arity, lambda args, d: self.call(name, arity, args, d), what)

    def closure(self, arity: int, clauses: list, env: dict, shape, what: str) -> _Fun:
        """A fun of ``clauses`` that sees ``env``; ``what`` names it (``"fun (line 3)"``)."""
        return _Fun(arity, lambda args, d: self.outcomes(f"a {what}", clauses, args, env, d, shape), f"the {what}")

    # -- comprehensions

    def comprehension(self, what: str, expr: object, quals: list, env: dict, depth: int) -> list:
        try:
            return [(self.comprehend(expr, quals, env, depth), env)]
        except _NotLiteral as exc:
            return [(Unknown(f"{what} over {exc}"), env)]

    def comprehend(self, expr: object, quals: list, env: dict, depth: int) -> list:
        if not quals:
            return [_single(self.eval(expr, env, depth), "values that depend on run-time branches")]
        qual, rest = quals[0], quals[1:]
        generator = self.generator(qual)
        if generator is not None:
            pattern, source = generator
            value = _single(self.eval(source, env, depth), "values that depend on run-time branches")
            items = _proper(value)
            if items is None:
                raise _NotLiteral(_described(value, "a list known only at run time"))
            result = []
            for item in items:
                matched = self.match(pattern, item, env)
                if matched is None:
                    continue
                if not matched[1]:
                    raise _NotLiteral("elements known only at run time")
                result.extend(self.comprehend(expr, rest, matched[0], depth))
            return result
        truth = self.filter_truth(_single(self.eval(qual, env, depth), "a filter known only at run time"))
        if truth is None:
            raise _NotLiteral("a filter known only at run time")
        return self.comprehend(expr, rest, env, depth) if truth else []

    # -- patterns

    def match_list(self, patterns: list, values: list, env: dict) -> tuple | None:
        if not isinstance(patterns, list) or len(patterns) != len(values):
            return None
        certain = True
        for pattern, value in zip(patterns, values):
            matched = self.match(pattern, value, env)
            if matched is None:
                return None
            env = matched[0]
            certain = certain and matched[1]
        return env, certain

    @staticmethod
    def match_var(key: object, value: object, env: dict) -> tuple:
        if key in env:
            return _matched(_same(env[key], value), env)
        bound = dict(env)
        bound[key] = value
        return bound, True

    def match_both(self, first: object, second: object, value: object, env: dict) -> tuple | None:
        """``First = Second`` as a pattern: both match ``value``."""
        one = self.match(first, value, env)
        if one is None:
            return None
        two = self.match(second, value, one[0])
        if two is None:
            return None
        return two[0], one[1] and two[1]

    def match_tuple(self, elements: list, pattern: object, value: object, env: dict) -> tuple | None:
        if isinstance(value, tuple):
            return self.match_list(elements, list(value), env)
        return self.bind_unknown(pattern, env) if isinstance(value, Unknown) else None

    def match_map(self, assocs: list, pattern: object, value: object, env: dict) -> tuple | None:
        """``#{Key := Pattern}``: ``assocs`` are ``(key expression, value pattern)`` pairs."""
        if isinstance(value, Unknown):
            return self.bind_unknown(pattern, env)
        if not isinstance(value, dict):
            return None
        certain = True
        for key_expr, value_pattern in assocs:
            keys = self.eval(key_expr, env, 0)
            if len(keys) != 1:
                return self.bind_unknown(pattern, env)
            found, item = _map_get(value, keys[0][0])
            if found is False:
                return None
            if found is None:
                return self.bind_unknown(pattern, env)
            matched = self.match(value_pattern, item, env)
            if matched is None:
                return None
            env, certain = matched[0], certain and matched[1]
        return env, certain

    def bind_unknown(self, pattern: object, env: dict) -> tuple:
        """A match that cannot be decided: bind the pattern's new variables to unknowns."""
        bound = dict(env)
        for node in _walk(pattern):
            var = self.new_var(node)
            if var is not None and var[0] not in bound:
                bound[var[0]] = Unknown(f"the variable {var[1]} bound by a pattern{var[2]}")
        return bound, False


class _NotLiteral(Exception):
    """A comprehension whose result is not known statically; the message says why."""


def _single(outcomes: list, why: str) -> object:
    """The value of the one outcome in ``outcomes`` (of a comprehension's part)."""
    if len(outcomes) != 1:
        raise _NotLiteral(why)
    return outcomes[0][0]


def _described(value: object, default: str) -> str:
    unknown = value if isinstance(value, Unknown) else None
    if isinstance(value, ImproperList) and isinstance(value.tail, Unknown):
        unknown = value.tail
    return unknown.reason if unknown is not None else default


# --- Erlang abstract code -------------------------------------------------------------------


def _line(anno: object) -> int | None:
    if isinstance(anno, int) and not isinstance(anno, bool):
        return anno
    if isinstance(anno, tuple) and anno and isinstance(anno[0], int):
        return anno[0]
    if isinstance(anno, list):
        for item in anno:
            if isinstance(item, tuple) and len(item) == 2 and item[0] == Atom("location"):
                return _line(item[1])
    return None


def _at(anno: object) -> str:
    line = _line(anno)
    return f" (line {line})" if line is not None else ""


_A = Atom
_ERL_LITERALS = (_A("atom"), _A("integer"), _A("char"), _A("float"), _A("string"), _A("nil"))


def _erl_clause(clause: tuple) -> tuple:
    """``{clause, Anno, Patterns, GuardSequences, Body}``."""
    return clause[2], clause[3], clause[4]


class _ErlangForms(_Syntax):
    method = "erlang debug info"

    def __init__(self, module: Atom, forms: list) -> None:
        super().__init__(module)
        self.records: dict = {}
        self.imports: dict = {}  # (name, arity) -> module, from -import
        for form in forms:
            if not isinstance(form, tuple) or len(form) < 3:
                continue
            if form[0] == _A("function") and len(form) == 5:
                self.functions[(form[2], form[3])] = form[4]
            elif form[0] == _A("attribute") and len(form) == 4:
                if form[2] == _A("record") and isinstance(form[3], tuple) and len(form[3]) == 2:
                    self.records[form[3][0]] = self._record_fields(form[3][1])
                elif form[2] == _A("export") and isinstance(form[3], list):
                    self.exports.update(tuple(x) for x in form[3] if isinstance(x, tuple))
                elif form[2] == _A("import") and isinstance(form[3], tuple) and len(form[3]) == 2:
                    for fa in form[3][1] if isinstance(form[3][1], list) else []:
                        if isinstance(fa, tuple) and len(fa) == 2:
                            self.imports[tuple(fa)] = form[3][0]
        self.dispatch = {
            **dict.fromkeys(_ERL_LITERALS, lambda e, env, d: [(e[2], env)]),
            _A("nil"): lambda e, env, d: [([], env)],
            _A("var"): self._var,
            _A("cons"): self._cons,
            _A("tuple"): lambda e, env, d: self.build_tuple(e[2], env, d),
            _A("map"): self._map,
            _A("match"): lambda e, env, d: self.bind(e[2], e[3], env, d),
            _A("op"): self._op,
            _A("call"): self._call,
            _A("case"): lambda e, env, d: self.case(e[2], e[3], env, d, _erl_clause),
            _A("if"): lambda e, env, d: self.clauses(e[2], [], env, d, _erl_clause),
            _A("block"): lambda e, env, d: self.body(e[2], env, d),
            _A("lc"): lambda e, env, d: self.comprehension(f"a list comprehension{_at(e[1])}", e[2], e[3], env, d),
            _A("record"): self._record,
            _A("record_field"): self._record_field,
            _A("record_index"): self._record_index,
            _A("bin"): self._bin,
            _A("fun"): self._fun,
        }

    @staticmethod
    def _record_fields(fields: object) -> list:
        result = []
        for item in fields if isinstance(fields, list) else []:
            field = item[1] if isinstance(item, tuple) and item and item[0] == _A("typed_record_field") else item
            if isinstance(field, tuple) and len(field) >= 3 and field[0] == _A("record_field"):
                name = field[2][2] if isinstance(field[2], tuple) and len(field[2]) == 3 else None
                result.append((name, field[3] if len(field) > 3 else None))
        return result

    # -- how the abstract format is spelt

    def callee(self, node: object) -> object:
        if not (isinstance(node, tuple) and len(node) == 4 and node[0] == _A("call")):
            return None
        fun = node[2]
        arity = len(node[3]) if isinstance(node[3], list) else -1
        if isinstance(fun, tuple) and len(fun) == 3 and fun[0] == _A("atom"):
            return fun[2], arity
        if isinstance(fun, tuple) and len(fun) == 4 and fun[0] == _A("remote"):
            mod, name = _lit_atom(fun[2]), _lit_atom(fun[3])
            if mod == self.module:
                return name, arity
            if (mod, name, arity) in _START_LINKS:
                return _STARTS_SUPERVISOR
        return None

    @staticmethod
    def function_clause(clause: object) -> tuple | None:
        return _erl_clause(clause) if isinstance(clause, tuple) and len(clause) == 5 else None

    def generator(self, qual: object) -> tuple | None:
        if isinstance(qual, tuple) and qual and qual[0] == _A("generate"):
            return qual[2], qual[3]
        if isinstance(qual, tuple) and qual and qual[0] in (_A("b_generate"), _A("m_generate")):
            raise _NotLiteral("a binary or map generator")
        return None

    @staticmethod
    def filter_truth(value: object) -> bool | None:
        return None if _unknown_in(value) is not None else _same(value, _TRUE)

    @staticmethod
    def new_var(node: object) -> tuple | None:
        if _is_erl_var(node) and node[2] != _A("_"):
            return node[2], node[2], _at(node[1])
        return None

    @staticmethod
    def empty_body() -> object:
        return Unknown("an empty body")

    # -- expressions

    def eval(self, expr: object, env: dict, depth: int) -> list:
        self.tick()
        if not (isinstance(expr, tuple) and expr):
            return [(Unknown("an unreadable expression"), env)]
        handler = self.dispatch.get(expr[0])
        if handler is None:
            return [(Unknown(f"a {expr[0]} expression{_at(expr[1] if len(expr) > 1 else None)}"), env)]
        return handler(expr, env, depth)

    @staticmethod
    def _var(expr, env, depth):
        name = expr[2]
        if name in env:
            return [(env[name], env)]
        return [(Unknown(f"the unbound variable {name}{_at(expr[1])}"), env)]

    def _cons(self, expr, env, depth):
        heads = []
        node = expr
        while isinstance(node, tuple) and len(node) == 4 and node[0] == _A("cons"):
            heads.append(node[2])
            node = node[3]
        return self.build_list(heads, node, env, depth)

    def _map(self, expr, env, depth):
        base_expr, assocs = (expr[2], expr[3]) if len(expr) == 4 else (None, expr[2])
        pairs = [(assoc[2], assoc[3]) for assoc in assocs]
        exact = [assoc[0] == _A("map_field_exact") for assoc in assocs]
        return self.build_map(pairs, exact, base_expr, env, depth)

    def _op(self, expr, env, depth):
        op, anno = expr[2], expr[1]
        if len(expr) == 4:
            result = [(self._apply((_ERLANG, op, 1), [v], anno, depth), e) for v, e in self.eval(expr[3], env, depth)]
        elif op in (_A("andalso"), _A("orelse")):
            result = []
            for left, after in self.eval(expr[3], env, depth):
                if left == (_FALSE if op == _A("andalso") else _TRUE):
                    result.append((left, after))
                    continue
                for right, final in self.eval(expr[4], after, depth):
                    result.append((self._apply((_ERLANG, op, 2), [left, right], anno, depth), final))
        else:
            result = [
                (self._apply((_ERLANG, op, 2), values, anno, depth), after)
                for values, after in self.eval_all([expr[3], expr[4]], env, depth)
            ]
        return [(v, e) for v, e in result if v is not _CRASHED]

    def _apply(self, mfa: tuple, args: list, anno: object, depth: int) -> object:
        try:
            return self.external(mfa, args, _at(anno), depth)
        except _Crash:
            return _CRASHED

    def _call(self, expr, env, depth):
        fun, arg_exprs = expr[2], expr[3]
        arity = len(arg_exprs)
        mfa = None
        if isinstance(fun, tuple) and len(fun) == 3 and fun[0] == _A("atom"):
            if (fun[2], arity) in self.functions:
                return self.local_call(fun[2], arg_exprs, env, depth)
            mfa = (self.imports.get((fun[2], arity), _ERLANG), fun[2], arity)  # -import()ed, else a BIF
        elif isinstance(fun, tuple) and len(fun) == 4 and fun[0] == _A("remote"):
            mod, name = _lit_atom(fun[2]), _lit_atom(fun[3])
            if mod is None or name is None:
                return [
                    (Unknown(f"a call to a module or function known only at run time{_at(expr[1])}"), after)
                    for _v, after in self.eval_all(arg_exprs, env, depth)
                ]
            if mod == self.module and (name, arity) in self.functions:
                return self.local_call(name, arg_exprs, env, depth)
            mfa = (mod, name, arity)
        if mfa is None:  # a fun value
            self.eval_all(arg_exprs, env, depth)  # unused: kept so that step counts stay as they were
            result = self.call_fun([fun, *arg_exprs], env, depth, _at(expr[1]))
        else:
            result = []
            for args, after in self.eval_all(arg_exprs, env, depth):
                value = self._apply(mfa, args, expr[1], depth)
                if value is not _CRASHED:
                    result.append((value, after))
        self.check_paths(result)
        return result

    def _fun(self, expr, env, depth):
        spec = expr[2]
        if isinstance(spec, tuple) and len(spec) == 3 and spec[0] == _A("function"):
            name, arity = spec[1], spec[2]
        elif isinstance(spec, tuple) and len(spec) == 4 and spec[0] == _A("function"):
            module, name = _lit_atom(spec[1]), _lit_atom(spec[2])
            arity = spec[3][2] if isinstance(spec[3], tuple) and len(spec[3]) == 3 else None
            if module != self.module:
                return [(Unknown(f"a fun of another module{_at(expr[1])}"), env)]
        elif isinstance(spec, tuple) and len(spec) == 2 and spec[0] == _A("clauses") and spec[1]:
            clauses = spec[1]
            names = {node[2] for node in _walk([c[2] for c in clauses]) if _is_erl_var(node)}
            outer = {k: v for k, v in env.items() if k not in names}  # fun heads shadow
            return [(self.closure(len(clauses[0][2]), clauses, outer, _erl_clause, f"fun{_at(expr[1])}"), env)]
        else:
            return [(Unknown(f"a fun{_at(expr[1])}"), env)]
        if (name, arity) not in self.functions:
            return [(Unknown(f"a fun of an unknown function{_at(expr[1])}"), env)]
        return [(self.local_fun(name, arity, f"fun {name}/{arity}"), env)]

    def _record(self, expr, env, depth):
        if len(expr) == 5:
            base_expr, name, fields = expr[2], expr[3], expr[4]
        else:
            base_expr, name, fields = None, expr[2], expr[3]
        definition = self.records.get(name)
        if definition is None:
            return [(Unknown(f"an undefined record #{name}{_at(expr[1])}"), env)]
        names = [f for f, _d in definition]
        given = _record_given(fields)
        wildcard = given.pop(_A("_"), None)
        exprs = []
        for fname, default in definition:
            if fname in given:
                exprs.append(given[fname])
            elif base_expr is None:
                exprs.append(wildcard if wildcard is not None else default or (_A("atom"), expr[1], _UNDEFINED))
        if base_expr is not None:
            exprs.append(base_expr)
        result = []
        for values, after in self.eval_all(exprs, env, depth):
            if base_expr is None:
                result.append(((name, *values), after))
                continue
            base = values[-1]
            if isinstance(base, Unknown):
                result.append((base, after))
                continue
            if not (isinstance(base, tuple) and len(base) == len(names) + 1 and base[0] == name):
                continue  # badrecord
            updated = list(base)
            it = iter(values[:-1])
            for index, fname in enumerate(names):
                if fname in given:
                    updated[index + 1] = next(it)
            result.append((tuple(updated), after))
        return result

    def _record_field(self, expr, env, depth):
        if len(expr) != 5:
            return [(Unknown(f"a record field{_at(expr[1])}"), env)]
        name, field = expr[3], _lit_atom(expr[4])
        definition = self.records.get(name)
        names = [f for f, _d in definition or []]
        if field not in names:
            return [(Unknown(f"an unknown record field #{name}.{field}{_at(expr[1])}"), env)]
        index = names.index(field) + 1
        result = []
        for value, after in self.eval(expr[2], env, depth):
            if isinstance(value, tuple) and len(value) == len(names) + 1 and value[0] == name:
                result.append((value[index], after))
            elif isinstance(value, Unknown):
                result.append((Unknown(f"a field of a record known only at run time{_at(expr[1])}"), after))
        return result

    def _record_index(self, expr, env, depth):
        names = [f for f, _d in self.records.get(expr[2]) or []]
        field = _lit_atom(expr[3])
        if field not in names:
            return [(Unknown(f"an unknown record field index{_at(expr[1])}"), env)]
        return [(names.index(field) + 2, env)]

    def _bin(self, expr, env, depth):
        data = bytearray()
        for element in expr[2]:
            value, size, types = element[2], element[3], element[4]
            if size != _A("default") or types != _A("default"):
                return [(Unknown(f"a binary with typed segments{_at(expr[1])}"), env)]
            if isinstance(value, tuple) and value[0] == _A("string"):
                data.extend(c & 0xFF for c in _as_list(value[2]))
            elif isinstance(value, tuple) and value[0] in (_A("integer"), _A("char")):
                data.append(value[2] & 0xFF)
            else:
                return [(Unknown(f"a binary built at run time{_at(expr[1])}"), env)]
        return [(bytes(data), env)]

    # -- patterns

    def match(self, pattern: object, value: object, env: dict) -> tuple | None:
        self.tick()
        tag = pattern[0] if isinstance(pattern, tuple) and pattern else None
        if tag == _A("var"):
            return (env, True) if pattern[2] == _A("_") else self.match_var(pattern[2], value, env)
        if tag in _ERL_LITERALS:
            return _matched(_same([] if tag == _A("nil") else pattern[2], value), env)
        if tag == _A("match"):
            return self.match_both(pattern[2], pattern[3], value, env)
        if tag == _A("cons"):
            pair = _uncons(value)
            if pair is None:
                return self.bind_unknown(pattern, env) if isinstance(value, Unknown) else None
            return self.match_list([pattern[2], pattern[3]], list(pair), env)
        if tag == _A("tuple"):
            return self.match_tuple(pattern[2], pattern, value, env)
        if tag == _A("map") and len(pattern) == 3:
            return self.match_map([(a[2], a[3]) for a in pattern[2]], pattern, value, env)
        if tag == _A("record") and len(pattern) == 4 and pattern[2] in self.records:
            anno = pattern[1]
            given = _record_given(pattern[3])
            rest = given.pop(_A("_"), (_A("var"), anno, _A("_")))
            elements = [given.get(f, rest) for f, _d in self.records[pattern[2]]]
            return self.match((_A("tuple"), anno, [(_A("atom"), anno, pattern[2]), *elements]), value, env)
        if tag == _A("op") and len(pattern) == 4:
            outcomes = self.eval(pattern, env, 0)
            if len(outcomes) == 1 and _unknown_in(outcomes[0][0]) is None:
                return _matched(_same(outcomes[0][0], value), env)
        return self.bind_unknown(pattern, env)


def _record_given(fields: list) -> dict:
    """``#r{f = E, _ = W}``: ``{f: E, '_': W}`` (the last of repeated names wins)."""
    given = {}
    for field in fields:
        given[field[2][2] if isinstance(field[2], tuple) and len(field[2]) == 3 else None] = field[3]
    return given


def _is_erl_var(node: object) -> bool:
    return isinstance(node, tuple) and len(node) == 3 and node[0] == _A("var")


#: Marks a call that certainly raises (filtered out of the outcomes).
_CRASHED = Unknown("crash")


def _lit_atom(node: object) -> Atom | None:
    if isinstance(node, tuple) and len(node) == 3 and node[0] == _A("atom") and isinstance(node[2], Atom):
        return node[2]
    return None


# --- Elixir expanded AST ----------------------------------------------------------------------


def _meta_get(meta: object, key: str) -> object:
    if isinstance(meta, list):
        wanted = Atom(key)
        for item in meta:
            if isinstance(item, tuple) and len(item) == 2 and item[0] == wanted:
                return item[1]
    return None


def _ex_at(meta: object) -> str:
    line = _meta_get(meta, "line")
    return f" (line {line})" if isinstance(line, int) else ""


def _is_var(node: object) -> bool:
    return (
        isinstance(node, tuple)
        and len(node) == 3
        and isinstance(node[0], Atom)
        and isinstance(node[2], Atom)
        and isinstance(node[1], list)
    )


def _var_key(node: tuple) -> tuple:
    version = _meta_get(node[1], "version")
    if version is not None:
        return (node[0], version)
    return (node[0], _freeze(_meta_get(node[1], "counter")), node[2])


def _is_call(node: object, name: str) -> bool:
    """``node`` is ``{name, Meta, Args}``."""
    return isinstance(node, tuple) and len(node) == 3 and node[0] == _A(name)


def _bar_tail(items: list) -> tuple:
    """``[a, b | t]``: ``([a, b], t)``; ``(items, None)`` for a list without ``|``."""
    if items and _is_call(items[-1], "|"):
        return [*items[:-1], items[-1][2][0]], items[-1][2][1]
    return list(items), None


def _when(patterns: list) -> tuple:
    """``(patterns, guards)`` of the head of a ``->`` clause (``[X when Guard]``)."""
    if len(patterns) == 1 and _is_call(patterns[0], "when"):
        parts = patterns[0][2]
        return parts[:-1], [parts[-1]]
    return patterns, []


def _arrow_clause(clause: object) -> tuple | None:
    """``{'->', Meta, [Patterns, Body]}``: one guard sequence per ``when`` (they are ``or``ed)."""
    if not _is_call(clause, "->"):
        return None
    patterns, body = clause[2]
    patterns, guards = _when(patterns)
    return patterns, [[g] for g in guards], [body]


_EX_LITERAL_TYPES = (Atom, int, float, bytes)


class _ElixirDefs(_Syntax):
    method = "elixir debug info"

    def __init__(self, module: Atom, definitions: list) -> None:
        super().__init__(module)
        for definition in definitions:
            if not (isinstance(definition, tuple) and len(definition) == 4 and isinstance(definition[0], tuple)):
                continue
            key = definition[0]
            self.functions[key] = definition[3]
            if definition[1] in (_A("def"), _A("defmacro")):
                self.exports.add(key)
        self.special = {
            _A("{}"): lambda e, env, d: self.build_tuple(e[2], env, d),
            _A("%{}"): self._map,
            _A("="): lambda e, env, d: self.bind(*e[2], env, d),
            _A("__block__"): lambda e, env, d: self.body(e[2], env, d),
            _A("case"): self._case,
            _A("cond"): self._cond,
            _A("for"): self._for,
            _A("<<>>"): self._bin,
            _A("fn"): self._fn,
            _A("&"): self._capture,
        }

    # -- how the Elixir AST is spelt

    def callee(self, node: object) -> object:
        if not (isinstance(node, tuple) and len(node) == 3 and isinstance(node[2], list)):
            return None
        head, arity = node[0], len(node[2])
        if isinstance(head, Atom):
            return head, arity
        if _is_call(head, ".") and isinstance(head[2], list) and len(head[2]) == 2:
            if (head[2][0], head[2][1], arity) in _START_LINKS:
                return _STARTS_SUPERVISOR
            if head[2][0] == self.module:
                return head[2][1], arity
        return None

    @staticmethod
    def function_clause(clause: object) -> tuple | None:
        """``{Meta, Args, Guards, Body}`` (the guards are ``or``ed)."""
        if not (isinstance(clause, tuple) and len(clause) == 4):
            return None
        return clause[1], [[g] for g in clause[2]], [clause[3]]

    def generator(self, qual: object) -> tuple | None:
        if not _is_call(qual, "<-"):
            return None
        pattern, source = qual[2]
        if _is_call(pattern, "when"):
            raise _NotLiteral("a generator with a guard")
        return pattern, source

    filter_truth = staticmethod(_truthy)

    @staticmethod
    def new_var(node: object) -> tuple | None:
        if _is_var(node) and not str(node[0]).startswith("_"):
            return _var_key(node), node[0], _ex_at(node[1])
        return None

    @staticmethod
    def empty_body() -> object:
        return _NIL

    # -- expressions

    def eval(self, expr: object, env: dict, depth: int) -> list:
        self.tick()
        if isinstance(expr, _EX_LITERAL_TYPES):
            return [(expr, env)]
        if isinstance(expr, list):
            return self.build_list(*_bar_tail(expr), env, depth)
        if isinstance(expr, tuple) and len(expr) == 2:
            return self.build_tuple(list(expr), env, depth)
        if not (isinstance(expr, tuple) and len(expr) == 3):
            return [(Unknown("an unreadable expression"), env)]
        head, meta, args = expr
        if _is_var(expr):
            key = _var_key(expr)
            if key in env:
                return [(env[key], env)]
            return [(Unknown(f"the variable {head}{_ex_at(meta)}"), env)]
        if isinstance(head, Atom) and isinstance(args, list):
            handler = self.special.get(head)
            if handler is not None:
                return handler(expr, env, depth)
            if (head, len(args)) in self.functions:
                return self.local_call(head, args, env, depth)
            return [(Unknown(f"a {head} expression{_ex_at(meta)}"), env)]
        if _is_call(head, ".") and isinstance(args, list):
            return self._remote(expr, env, depth)
        return [(Unknown(f"an expression{_ex_at(meta)}"), env)]

    def _map(self, expr, env, depth):
        pairs = expr[2]
        base_expr = None
        if len(pairs) == 1 and _is_call(pairs[0], "|"):
            base_expr, pairs = pairs[0][2][0], pairs[0][2][1]
        if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            return [(Unknown(f"a map{_ex_at(expr[1])}"), env)]
        return self.build_map(pairs, [base_expr is not None] * len(pairs), base_expr, env, depth)  # %{m | k: v}

    def _remote(self, expr, env, depth):
        head, meta, args = expr
        target = head[2]
        if isinstance(target, list) and len(target) == 1:  # fun.(args)
            return self.call_fun([target[0], *args], env, depth, _ex_at(meta))
        if not (isinstance(target, list) and len(target) == 2 and isinstance(target[1], Atom)):
            return [(Unknown(f"a call{_ex_at(meta)}"), env)]
        module_expr, name = target
        arity = len(args)
        result = []
        for values, after in self.eval_all([module_expr, *args], env, depth):
            module, call_args = values[0], values[1:]
            if isinstance(module, dict) and not call_args:
                found, value = _map_get(module, name)  # map.field
                if found:
                    result.append((value, after))
                elif found is None:
                    result.append((Unknown(f"a map field{_ex_at(meta)}"), after))
                continue
            if not isinstance(module, Atom):
                result.append((Unknown(f"a call on a value known only at run time{_ex_at(meta)}"), after))
                continue
            if module == self.module and (name, arity) in self.functions:
                result.extend((v, after) for v in self.call(name, arity, call_args, depth + 1))
                continue
            try:
                result.append((self.external((module, name, arity), call_args, _ex_at(meta), depth), after))
            except _Crash:
                continue
        self.check_paths(result)
        return result

    def _fn(self, expr, env, depth):
        clauses = expr[2]
        first = clauses[0] if clauses else None
        if not (isinstance(first, tuple) and len(first) == 3 and isinstance(first[2], list) and first[2]):
            return [(Unknown(f"a fn{_ex_at(expr[1])}"), env)]
        arity = len(_when(first[2][0])[0])
        return [(self.closure(arity, clauses, env, _arrow_clause, f"fn{_ex_at(expr[1])}"), env)]

    def _capture(self, expr, env, depth):
        inner = expr[2][0] if len(expr[2]) == 1 else None
        if _is_call(inner, "/") and len(inner[2]) == 2:
            target, arity = inner[2]
            name = None
            if isinstance(target, tuple) and len(target) == 3 and isinstance(target[0], Atom):
                name = target[0]
            elif isinstance(target, tuple) and len(target) == 3 and isinstance(target[0], tuple):
                dot = target[0]
                if len(dot) == 3 and dot[0] == _A(".") and len(dot[2]) == 2 and dot[2][0] == self.module:
                    name = dot[2][1]
            if name is not None and (name, arity) in self.functions:
                return [(self.local_fun(name, arity, f"&{name}/{arity}"), env)]
        return [(Unknown(f"a captured function{_ex_at(expr[1])}"), env)]

    def _case(self, expr, env, depth):
        subject, options = expr[2][0], expr[2][1]
        clauses = _do_block(options)
        if clauses is None:
            return [(Unknown(f"a case expression{_ex_at(expr[1])}"), env)]
        return self.case(subject, clauses, env, depth, _arrow_clause)

    def _cond(self, expr, env, depth):
        clauses = _do_block(expr[2][0]) if expr[2] else None
        if clauses is None:
            return [(Unknown(f"a cond expression{_ex_at(expr[1])}"), env)]
        states = [env]
        result = []
        for clause in clauses:
            condition, body = clause[2][0][0], clause[2][1]
            next_states = []
            for current in states:
                for value, after in self.eval(condition, current, depth):
                    truth = _truthy(value)
                    if truth is not False:
                        result.extend(self.eval(body, after, depth))
                    if truth is not True:
                        next_states.append(after)
            self.check_paths(result)
            states = next_states
            if not states:
                break
        return result

    def _for(self, expr, env, depth):
        args = expr[2]
        options = args[-1] if args else None
        body = _do_block(options) if isinstance(options, list) else None
        if body is None or len(options) != 1:
            return [(Unknown(f"a for comprehension with options{_ex_at(expr[1])}"), env)]
        return self.comprehension(f"a for comprehension{_ex_at(expr[1])}", body, args[:-1], env, depth)

    def _bin(self, expr, env, depth):
        data = bytearray()
        for part in expr[2]:
            if isinstance(part, bytes):
                data.extend(part)
                continue
            if _is_call(part, "::") and isinstance(part[2][0], bytes) and _is_call(part[2][1], "binary"):
                data.extend(part[2][0])
                continue
            return [(Unknown(f"a binary built at run time{_ex_at(expr[1])}"), env)]
        return [(bytes(data), env)]

    # -- patterns

    def match(self, pattern: object, value: object, env: dict) -> tuple | None:
        self.tick()
        if isinstance(pattern, _EX_LITERAL_TYPES) or (isinstance(pattern, list) and not pattern):
            return _matched(_same(pattern, value), env)
        if isinstance(pattern, list):
            items, tail_pattern = _bar_tail(pattern)
            certain = True
            current = value
            for item in items:
                pair = _uncons(current)
                if pair is None:
                    return self.bind_unknown(pattern, env) if isinstance(current, Unknown) else None
                matched = self.match(item, pair[0], env)
                if matched is None:
                    return None
                env, certain, current = matched[0], certain and matched[1], pair[1]
            matched = self.match([] if tail_pattern is None else tail_pattern, current, env)
            if matched is None:
                return None
            return matched[0], certain and matched[1]
        if isinstance(pattern, tuple) and len(pattern) == 2:
            return self.match_tuple(list(pattern), pattern, value, env)
        if not (isinstance(pattern, tuple) and len(pattern) == 3):
            return self.bind_unknown(pattern, env)
        head = pattern[0]
        if _is_var(pattern):
            return (env, True) if str(head).startswith("_") else self.match_var(_var_key(pattern), value, env)
        if head == _A("^") and pattern[2] and _is_var(pattern[2][0]):
            key = _var_key(pattern[2][0])
            if key not in env:
                return self.bind_unknown(pattern, env)
            return _matched(_same(env[key], value), env)
        if head == _A("="):
            return self.match_both(pattern[2][0], pattern[2][1], value, env)
        if head == _A("{}"):
            return self.match_tuple(pattern[2], pattern, value, env)
        if head == _A("%{}") and all(isinstance(p, tuple) and len(p) == 2 for p in pattern[2]):
            return self.match_map(pattern[2], pattern, value, env)
        return self.bind_unknown(pattern, env)


def _do_block(options: object) -> object:
    if isinstance(options, list):
        for item in options:
            if isinstance(item, tuple) and len(item) == 2 and item[0] == _A("do"):
                return item[1]
    return None


# --- BEAM code --------------------------------------------------------------------------------

_OP_LABEL, _OP_FUNC_INFO, _OP_INT_CODE_END = 1, 2, 3
_OP_CALL, _OP_CALL_LAST, _OP_CALL_ONLY = 4, 5, 6
_OP_CALL_EXT, _OP_CALL_EXT_LAST, _OP_CALL_EXT_ONLY = 7, 8, 78
_OP_CALL_FUN, _OP_CALL_FUN2, _OP_MAKE_FUN2, _OP_MAKE_FUN3 = 75, 178, 103, 171
_OP_BIF0, _OP_BIF1, _OP_BIF2 = 9, 10, 11
_OP_GC_BIF1, _OP_GC_BIF2, _OP_GC_BIF3 = 124, 125, 152
_OP_ALLOCATE = frozenset((12, 13, 14, 15))
_OP_TEST_HEAP, _OP_INIT, _OP_DEALLOCATE, _OP_RETURN = 16, 17, 18, 19
_OP_SELECT_VAL, _OP_SELECT_TUPLE_ARITY, _OP_JUMP = 59, 60, 61
_OP_MOVE, _OP_GET_LIST, _OP_GET_TUPLE_ELEMENT = 64, 65, 66
_OP_PUT_LIST, _OP_PUT_TUPLE, _OP_PUT = 69, 70, 71
_OP_CRASH = frozenset((72, 73, 74, 107, 108, 161, 180))  # badmatch, if_end, case_end, try_case_end, raise...
_OP_TRIM, _OP_LINE = 136, 153
_OP_PUT_MAP_ASSOC, _OP_PUT_MAP_EXACT, _OP_HAS_MAP_FIELDS, _OP_GET_MAP_ELEMENTS = 154, 155, 157, 158
_OP_IS_TAGGED_TUPLE, _OP_GET_HD, _OP_GET_TL, _OP_PUT_TUPLE2, _OP_SWAP, _OP_INIT_YREGS = 159, 162, 163, 164, 169, 172
_OP_NOOP = frozenset((_OP_LABEL, _OP_TEST_HEAP, _OP_LINE, 183, 184))  # + executable_line, debug_line
#: Type tests: opcode -> the kinds (see :func:`_kind`) that pass.
_OP_TYPE_TESTS = {
    45: ("integer",),
    46: ("float",),
    47: ("integer", "float"),
    48: ("atom",),
    53: ("binary",),
    55: ("list",),
    57: ("tuple",),
    129: ("binary",),
    156: ("map",),
}
#: is_pid, is_reference, is_port, is_function, is_function2: never true of a term built from
#: literals, unknown for anything else.
_OP_OPAQUE_TESTS = frozenset((49, 50, 51, 77, 115))
_OP_COMPARE = {39: "<", 40: ">=", 41: "==", 42: "/=", 43: "=:=", 44: "=/="}
_OP_IS_NIL, _OP_IS_NONEMPTY_LIST, _OP_TEST_ARITY, _OP_IS_BOOLEAN = 52, 56, 58, 114


#: Compact-term tags that name a kind of operand (see :class:`_Operand`).
_TAG_KINDS = {0: "u", 3: "x", 4: "y", 5: "f"}


class _Operand:
    """A decoded compact-term operand: ``kind`` is x, y, f, a, i, u, lit, list, or other."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: object) -> None:
        self.kind = kind
        self.value = value

    def __repr__(self) -> str:
        return f"{self.kind}:{self.value!r}"


class _Code:
    """The decoded instructions of a ``Code`` chunk."""

    def __init__(self, code: bytes, atoms: list, literals: list) -> None:
        self.code = code
        self.atoms = atoms
        self.literals = literals
        self.instructions: list = []  # (opcode, [operands])
        self.labels: dict = {}  # label -> instruction index
        self.functions: dict = {}  # (name, arity) -> entry label
        self.function_at: dict = {}  # entry label -> (name, arity)
        self._decode()

    def _operand(self, pos: int) -> tuple:
        code = self.code
        first = code[pos]
        tag = first & 7
        if tag == 7:
            ext = first >> 4
            pos += 1
            if ext == 1:  # list
                count, pos = self._number(pos, signed=False)
                items = []
                for _unused in range(count):
                    item, pos = self._operand(pos)
                    items.append(item)
                return _Operand("list", items), pos
            if ext == 3:  # allocation list
                count, pos = self._number(pos, signed=False)
                for _unused in range(2 * count):
                    _item, pos = self._operand(pos)
                return _Operand("other", None), pos
            if ext == 4:  # literal
                index, pos = self._number(pos, signed=False)
                if index >= len(self.literals):
                    raise _BadCode(f"literal {index} is outside the literal table")
                return _Operand("lit", self.literals[index]), pos
            if ext == 2:  # float register
                number, pos = self._number(pos, signed=False)
                return _Operand("fr", number), pos
            if ext == 5:  # typed register: the register, then a type index
                register, pos = self._operand(pos)
                _type, pos = self._operand(pos)
                return register, pos
            if ext == 0:  # old float literal
                return _Operand("lit", struct.unpack(">d", code[pos : pos + 8])[0]), pos + 8
            raise _BadCode(f"extended operand {ext}")
        value, pos = self._number(pos, signed=tag == 1)
        if tag == 2:
            if value == 0:
                return _Operand("lit", []), pos
            if value > len(self.atoms):
                raise _BadCode(f"atom {value} is outside the atom table")
            return _Operand("lit", self.atoms[value - 1]), pos
        return _Operand(_TAG_KINDS.get(tag, "lit"), value), pos  # i and h (a character): literals

    def _number(self, pos: int, signed: bool) -> tuple:
        code = self.code
        first = code[pos]
        if not first & 0x08:
            return first >> 4, pos + 1
        if not first & 0x10:
            return ((first & 0xE0) << 3) | code[pos + 1], pos + 2
        count = (first >> 5) + 2
        pos += 1
        if count == 9:
            extra, pos = self._operand(pos)
            count = extra.value + 9
        if pos + count > len(code):
            raise IndexError(pos)
        return int.from_bytes(code[pos : pos + count], "big", signed=signed), pos + count

    def _decode(self) -> None:
        code = self.code
        if len(code) < 4:
            raise _BadCode("the Code chunk is too short")
        pos = 4 + struct.unpack_from(">I", code, 0)[0]
        end = len(code)
        pending_function = None
        try:
            while pos < end:
                opcode = code[pos]
                pos += 1
                if opcode == 0 or opcode >= len(_OPCODE_ARITY):
                    raise _BadCode(f"unknown opcode {opcode}")
                operands = []
                for _unused in range(_OPCODE_ARITY[opcode]):
                    operand, pos = self._operand(pos)
                    operands.append(operand)
                index = len(self.instructions)
                self.instructions.append((opcode, operands))
                if opcode == _OP_LABEL:
                    label = operands[0].value
                    self.labels[label] = index
                    if pending_function is not None:
                        self.functions.setdefault(pending_function, label)
                        self.function_at[label] = pending_function
                        pending_function = None
                elif opcode == _OP_FUNC_INFO:
                    pending_function = (operands[1].value, operands[2].value)
                elif opcode == _OP_INT_CODE_END:
                    break
        except IndexError:
            raise _BadCode("truncated code") from None


class _BadCode(Exception):
    """The ``Code`` chunk cannot be decoded by this reader."""


class _Frame:
    """Registers of one path through a function."""

    __slots__ = ("pc", "x", "y")

    def __init__(self, pc: int, x: dict, y: dict) -> None:
        self.pc = pc
        self.x = x
        self.y = y

    def fork(self, pc: int) -> _Frame:
        return _Frame(pc, dict(self.x), dict(self.y))


class _Bytecode(_Program):
    method = "beam code"

    def __init__(self, module: Atom, code: _Code, imports: list, exports: list, funs: bytes | None = None) -> None:
        super().__init__(module)
        self.code = code
        self.imports = imports
        self.exports = {(name, arity) for name, arity, _label in exports}
        self.functions = {(name, arity): label for name, arity, label in exports}
        self.functions.update(code.functions)
        self.funs: list = []  # FunT: (arity, label, free variables)
        if funs and len(funs) >= 4:
            count = struct.unpack_from(">I", funs, 0)[0]
            for index in range(min(count, (len(funs) - 4) // 24)):
                _name, arity, label, _index, free, _uniq = struct.unpack_from(">6I", funs, 4 + 24 * index)
                self.funs.append((arity, label, free))

    def _make_fun(self, index: int, env: list, depth_where: str) -> object:
        if not 0 <= index < len(self.funs):
            return Unknown(f"a fun{depth_where}")
        arity, label, free = self.funs[index]
        env = list(env[:free])

        def invoke(args: list, depth: int) -> list:
            return self.run(label, [*args, *env], depth)

        return _Fun(arity - free, invoke, f"a fun{self._where(label)}")

    def call_graph(self) -> tuple:
        callees: dict = {}
        seeds = set()
        current = None
        for opcode, operands in self.code.instructions:
            if opcode == _OP_FUNC_INFO:
                current = (operands[1].value, operands[2].value)
                callees.setdefault(current, set())
            elif current is None:
                continue
            elif opcode in (_OP_CALL, _OP_CALL_LAST, _OP_CALL_ONLY):
                target = self.code.function_at.get(operands[1].value)
                if target is not None:
                    callees[current].add(target)
            elif opcode in (_OP_CALL_EXT, _OP_CALL_EXT_LAST, _OP_CALL_EXT_ONLY):
                index = operands[1].value
                if 0 <= index < len(self.imports) and tuple(self.imports[index]) in _START_LINKS:
                    seeds.add(current)
        return callees, seeds

    def _where(self, label: int) -> str:
        function = self.code.function_at.get(label)
        return f" in {function[0]}/{function[1]}" if function else ""

    def run(self, entry: int, args: list, depth: int, what: str = "") -> list:
        """Possible return values of the function whose entry is the label ``entry`` (which says
        where it is: ``what`` is not needed)."""
        where = self._where(entry)
        if depth > MAX_DEPTH:
            return [Unknown(f"a result{where}: calls nested deeper than {MAX_DEPTH}")]
        start = self.code.labels.get(entry)
        if start is None:
            return [Unknown(f"a call to the missing label {entry}")]
        results: list = []
        paths = [_Frame(start, dict(enumerate(args)), {})]
        forks = 0
        while paths:
            frame = paths.pop()
            try:
                forks += self._step_path(frame, paths, results, depth, where)
            except _Crash:
                continue
            if forks > MAX_PATHS or len(results) > MAX_PATHS:
                raise _TooComplex(f"more than {MAX_PATHS} branches that depend on run-time values{where}")
        return _dedupe(results)

    def _step_path(self, frame: _Frame, paths: list, results: list, depth: int, where: str) -> int:
        """Follow one path until it returns or crashes; push forks onto ``paths``."""
        instructions = self.code.instructions
        labels = self.code.labels
        forks = 0
        unknown = Unknown(f"a value computed at run time{where}")

        def read(operand: _Operand) -> object:
            kind = operand.kind
            if kind == "lit":
                return operand.value
            if kind == "x":
                return frame.x.get(operand.value, unknown)
            if kind == "y":
                return frame.y.get(operand.value, unknown)
            return unknown

        def write(operand: _Operand, value: object) -> None:
            if operand.kind == "x":
                frame.x[operand.value] = value
            elif operand.kind == "y":
                frame.y[operand.value] = value

        def branch(target: int) -> None:
            nonlocal forks
            if target:
                index = labels.get(target)
                if index is None:
                    raise _BadCode(f"jump to the missing label {target}")
                paths.append(frame.fork(index))
                forks += 1

        def jump(target: int) -> None:
            index = labels.get(target)
            if index is None:
                raise _BadCode(f"jump to the missing label {target}")
            frame.pc = index

        def test(outcome: bool | None, fail: int) -> None:
            """A test instruction: go on when it passes, jump to ``fail`` when it does not."""
            if outcome is None:
                branch(fail)
            elif not outcome:
                jump(fail)
                return
            frame.pc += 1

        while True:
            self.tick()
            if frame.pc >= len(instructions):
                raise _Crash
            opcode, ops = instructions[frame.pc]
            if opcode in _OP_NOOP:
                frame.pc += 1
            elif opcode == _OP_MOVE:
                write(ops[1], read(ops[0]))
                frame.pc += 1
            elif opcode == _OP_RETURN:
                results.append(frame.x.get(0, unknown))
                return forks
            elif opcode in (_OP_FUNC_INFO, _OP_INT_CODE_END) or opcode in _OP_CRASH:
                raise _Crash
            elif opcode in (_OP_CALL, _OP_CALL_LAST, _OP_CALL_ONLY, _OP_CALL_FUN, _OP_CALL_FUN2):
                if opcode == _OP_CALL_FUN:
                    arity, fun = ops[0].value, frame.x.get(ops[0].value, unknown)
                elif opcode == _OP_CALL_FUN2:
                    arity, fun = ops[1].value, read(ops[2])
                else:
                    arity, fun = ops[0].value, None
                args = [frame.x.get(i, unknown) for i in range(arity)]
                if fun is None:
                    values = self.run(ops[1].value, args, depth + 1)
                elif isinstance(fun, _Fun) and fun.arity == arity:
                    values = fun.invoke(args, depth + 1)
                else:
                    values = [Unknown(f"the result of calling a fun{where}")]
                if opcode in (_OP_CALL_LAST, _OP_CALL_ONLY):
                    results.extend(values)
                    return forks
                if not values:
                    raise _Crash
                frame.pc += 1
                for value in values[1:]:
                    other = frame.fork(frame.pc)
                    other.x = {0: value}
                    paths.append(other)
                    forks += 1
                frame.x = {0: values[0]}
            elif opcode in (_OP_CALL_EXT, _OP_CALL_EXT_LAST, _OP_CALL_EXT_ONLY):
                arity, index = ops[0].value, ops[1].value
                mfa = self._import(index)
                value = self.external(mfa, [frame.x.get(i, unknown) for i in range(arity)], where, depth)
                if opcode != _OP_CALL_EXT:
                    results.append(value)
                    return forks
                frame.x = {0: value}
                frame.pc += 1
            elif opcode in (_OP_BIF0, _OP_BIF1, _OP_BIF2, _OP_GC_BIF1, _OP_GC_BIF2, _OP_GC_BIF3):
                if opcode == _OP_BIF0:
                    fail, bif, args, dest = 0, ops[0], [], ops[1]
                elif opcode in (_OP_BIF1, _OP_BIF2):
                    fail, bif, args, dest = ops[0].value, ops[1], ops[2:-1], ops[-1]
                else:
                    fail, bif, args, dest = ops[0].value, ops[2], ops[3:-1], ops[-1]
                mfa = self._import(bif.value)
                try:
                    value = _apply_pure(mfa, [read(a) for a in args], where)
                except _Crash:
                    if not fail:
                        raise
                    jump(fail)
                    continue
                if isinstance(value, Unknown):
                    branch(fail)
                write(dest, value)
                frame.pc += 1
            elif opcode in _OP_ALLOCATE:
                live = ops[-1].value
                frame.x = {k: v for k, v in frame.x.items() if k < live}
                frame.y = {}
                frame.pc += 1
            elif opcode == _OP_DEALLOCATE:
                frame.y = {}
                frame.pc += 1
            elif opcode == _OP_INIT:
                write(ops[0], [])
                frame.pc += 1
            elif opcode == _OP_INIT_YREGS:
                for register in ops[0].value:
                    write(register, [])
                frame.pc += 1
            elif opcode == _OP_TRIM:
                count = ops[0].value
                frame.y = {k - count: v for k, v in frame.y.items() if k >= count}
                frame.pc += 1
            elif opcode == _OP_JUMP:
                jump(ops[0].value)
            elif opcode in _OP_TYPE_TESTS:
                kind = _kind(read(ops[1]))
                test(None if kind is None else kind in _OP_TYPE_TESTS[opcode], ops[0].value)
            elif opcode in _OP_COMPARE:
                try:
                    outcome = _compare(_OP_COMPARE[opcode])([read(ops[1]), read(ops[2])])
                    passed = _same(outcome, _TRUE)
                except _Unknowable:
                    passed = None
                test(passed, ops[0].value)
            elif opcode in _OP_OPAQUE_TESTS:
                kind = _kind(read(ops[1]))
                test(None if kind in (None, "other") else False, ops[0].value)
            elif opcode == _OP_IS_NIL:
                test(_same(read(ops[1]), []), ops[0].value)
            elif opcode == _OP_IS_BOOLEAN:
                value = read(ops[1])
                test(None if isinstance(value, Unknown) else value in (_TRUE, _FALSE), ops[0].value)
            elif opcode == _OP_IS_NONEMPTY_LIST:
                value = _as_list(read(ops[1]))
                if isinstance(value, Unknown):
                    test(None, ops[0].value)
                else:
                    test(isinstance(value, ImproperList) or (isinstance(value, list) and bool(value)), ops[0].value)
            elif opcode == _OP_TEST_ARITY:
                value = read(ops[1])
                outcome = (
                    None if isinstance(value, Unknown) else isinstance(value, tuple) and len(value) == ops[2].value
                )
                test(outcome, ops[0].value)
            elif opcode == _OP_IS_TAGGED_TUPLE:
                value = read(ops[1])
                if isinstance(value, Unknown):
                    outcome = None
                elif isinstance(value, tuple) and len(value) == ops[2].value and value:
                    outcome = _same(value[0], read(ops[3]))
                else:
                    outcome = False
                test(outcome, ops[0].value)
            elif opcode == _OP_SELECT_VAL:
                self._select(frame, read(ops[0]), ops[1].value, ops[2].value, False, branch, jump)
            elif opcode == _OP_SELECT_TUPLE_ARITY:
                self._select(frame, read(ops[0]), ops[1].value, ops[2].value, True, branch, jump)
            elif opcode == _OP_GET_LIST:
                head, tail = _split(read(ops[0]), unknown)
                write(ops[1], head)
                write(ops[2], tail)
                frame.pc += 1
            elif opcode == _OP_GET_HD:
                write(ops[1], _split(read(ops[0]), unknown)[0])
                frame.pc += 1
            elif opcode == _OP_GET_TL:
                write(ops[1], _split(read(ops[0]), unknown)[1])
                frame.pc += 1
            elif opcode == _OP_GET_TUPLE_ELEMENT:
                value = read(ops[0])
                index = ops[1].value
                if isinstance(value, tuple) and 0 <= index < len(value):
                    write(ops[2], value[index])
                else:
                    write(ops[2], unknown)
                frame.pc += 1
            elif opcode == _OP_PUT_LIST:
                write(ops[2], _cons(read(ops[0]), read(ops[1])))
                frame.pc += 1
            elif opcode == _OP_PUT_TUPLE2:
                write(ops[0], tuple(read(o) for o in ops[1].value))
                frame.pc += 1
            elif opcode == _OP_PUT_TUPLE:
                size, dest = ops[0].value, ops[1]
                elements = []
                frame.pc += 1
                while len(elements) < size and instructions[frame.pc][0] == _OP_PUT:
                    elements.append(read(instructions[frame.pc][1][0]))
                    frame.pc += 1
                write(dest, tuple(elements) if len(elements) == size else unknown)
            elif opcode in (_OP_PUT_MAP_ASSOC, _OP_PUT_MAP_EXACT):
                fail, source, dest, pairs = ops[0].value, read(ops[1]), ops[2], ops[4].value
                mapping: object = source
                for i in range(0, len(pairs) - 1, 2):
                    if not isinstance(mapping, dict):
                        break
                    key = read(pairs[i])
                    if opcode == _OP_PUT_MAP_EXACT and _map_get(mapping, key)[0] is False:
                        if not fail:
                            raise _Crash
                        jump(fail)
                        break
                    mapping = _map_put(mapping, key, read(pairs[i + 1]))
                else:
                    if not isinstance(mapping, dict):
                        mapping = mapping if isinstance(mapping, Unknown) else unknown
                    write(dest, mapping)
                    frame.pc += 1
            elif opcode == _OP_GET_MAP_ELEMENTS:
                fail, source, pairs = ops[0].value, read(ops[1]), ops[2].value
                missing = False
                doubtful = not isinstance(source, dict)
                for i in range(0, len(pairs) - 1, 2):
                    if isinstance(source, dict):
                        found, value = _map_get(source, read(pairs[i]))
                        if found is False:
                            missing = True
                            break
                        if found is None:
                            doubtful = True
                            value = unknown
                    else:
                        value = unknown
                    write(pairs[i + 1], value)
                if missing:
                    jump(fail)
                else:
                    if doubtful:
                        branch(fail)
                    frame.pc += 1
            elif opcode == _OP_HAS_MAP_FIELDS:
                source = read(ops[1])
                outcome: bool | None = None
                if isinstance(source, dict):
                    found = [_map_get(source, read(k))[0] for k in ops[2].value]
                    outcome = False if False in found else (None if None in found else True)
                elif not isinstance(source, Unknown):
                    outcome = False
                test(outcome, ops[0].value)
            elif opcode == _OP_MAKE_FUN3:
                write(ops[1], self._make_fun(ops[0].value, [read(o) for o in ops[2].value], where))
                frame.pc += 1
            elif opcode == _OP_MAKE_FUN2:
                index = ops[0].value
                free = self.funs[index][2] if 0 <= index < len(self.funs) else 0
                fun = self._make_fun(index, [frame.x.get(i, unknown) for i in range(free)], where)
                frame.x = {0: fun}
                frame.pc += 1
            elif opcode == _OP_SWAP:
                a, b = read(ops[0]), read(ops[1])
                write(ops[0], b)
                write(ops[1], a)
                frame.pc += 1
            else:
                # Not modelled: every label it names may be reached, every register it names and
                # every x register may now hold anything.
                for operand in ops:
                    if operand.kind == "f":
                        branch(operand.value)
                    elif operand.kind == "list":
                        for item in operand.value:
                            if item.kind == "f":
                                branch(item.value)
                frame.x = {}
                for operand in ops:
                    if operand.kind == "y":
                        frame.y[operand.value] = unknown
                frame.pc += 1

    def _select(self, frame, value, fail, pairs, by_arity, branch, jump) -> None:
        if isinstance(value, Unknown):
            seen = set()
            for i in range(1, len(pairs), 2):
                target = pairs[i].value
                if target not in seen:
                    seen.add(target)
                    branch(target)
            jump(fail)
            return
        for i in range(0, len(pairs) - 1, 2):
            if by_arity:
                matches = isinstance(value, tuple) and len(value) == pairs[i].value
            else:
                matches = _same(value, pairs[i].value) is True
            if matches:
                jump(pairs[i + 1].value)
                return
        jump(fail)

    def _import(self, index: int) -> tuple:
        if not 0 <= index < len(self.imports):
            raise _BadCode(f"import {index} is outside the import table")
        return tuple(self.imports[index])


def _split(value: object, unknown: Unknown) -> tuple:
    return _uncons(value) or (unknown, unknown)


# --- reading the results of init/1 -----------------------------------------------------------


class _Reader:
    """Turns the values ``init/1`` may return into :class:`ChildSpec` objects."""

    def __init__(self, resolve) -> None:
        self.resolve = resolve
        self.children: list = []
        self.seen: set = set()
        self.problems: list = []
        self.strategies: list = []
        self.resolved: dict = {}

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def init_result(self, value: object) -> None:
        if isinstance(value, Unknown):
            self.problem(f"init/1 returns {value.reason}")
            return
        if isinstance(value, Atom) and value == _IGNORE:
            return
        if not (isinstance(value, tuple) and len(value) == 2 and _same(value[0], _OK)):
            return  # not a valid supervisor init/1 result: the supervisor would not start
        spec = value[1]
        if isinstance(spec, Unknown):
            self.problem(f"init/1 returns a specification built at run time: {spec.reason}")
            return
        if not (isinstance(spec, tuple) and len(spec) == 2):
            return
        flags, children = spec
        self.strategies.append(_strategy(flags))
        children = _as_list(children)
        if isinstance(children, Unknown):
            self.problem(f"child list built at run time: {children.reason}")
            return
        items = children if isinstance(children, list) else None
        if isinstance(children, ImproperList):
            items = children.items
            if isinstance(children.tail, Unknown):
                self.problem(f"part of the child list is built at run time: {children.tail.reason}")
        if items is None:
            return
        for item in items:
            child = self.child(item)
            if isinstance(child, str):
                self.problem(child)
                continue
            key = _freeze(canonical(child.id))
            if key not in self.seen:
                self.seen.add(key)
                self.children.append(child)

    def child(self, item: object) -> ChildSpec | str:
        """The :class:`ChildSpec` of one element of the child list, or why it is not understood."""
        if isinstance(item, _ChildSpecCall):
            return self.child_spec_call(item)
        if isinstance(item, Unknown):
            return f"a child spec built at run time: {item.reason}"
        if isinstance(item, dict):
            found, child_id = _map_get(item, _ID)
            if not found:
                return "a child spec map without a known id" if found is None else "a child spec map without id"
            found_start, start = _map_get(item, _START)
            found_type, child_type = _map_get(item, _TYPE)
            if found_type is False:
                child_type = _WORKER
            return self.make(child_id, start if found_start else None, child_type)
        if isinstance(item, tuple) and len(item) == 6:
            return self.make(item[0], item[1], item[4])
        return f"an invalid child spec {_short(item)}"

    @staticmethod
    def make(child_id: object, start: object, child_type: object, assumed: bool = False) -> ChildSpec | str:
        unknown = _unknown_in(child_id)
        if unknown is not None:
            return f"a child id known only at run time: {unknown.reason}"
        try:
            format_term(child_id)
        except (TypeError, ValueError):
            return f"a child id that cannot be written as a term: {child_id!r}"
        module = start[0] if isinstance(start, tuple) and start and isinstance(start[0], Atom) else None
        kind = str(child_type) if isinstance(child_type, Atom) and child_type in _CHILD_TYPES else None
        return ChildSpec(child_id, module, kind, assumed)

    def child_spec_call(self, call: _ChildSpecCall) -> ChildSpec | str:
        spec = self.resolved_spec(call.module, call.arg)
        if spec is not None:
            try:
                merged = _apply_overrides(spec, call.overrides)
            except _Crash:
                return f"an invalid override of {_ex_name(call.module)}.child_spec/1"
            return self.child(merged)
        overrides = call.overrides
        child_id = overrides.get(_ID, call.module)
        start = overrides.get(_START, (call.module, Atom("start_link"), [call.arg]))
        child_type = overrides.get(_TYPE)
        return self.make(child_id, start, child_type, assumed=_ID not in overrides)

    def resolved_spec(self, module: Atom, arg: object) -> object:
        """``module.child_spec(arg)`` read from the child's own beam, or ``None``."""
        if self.resolve is None:
            return None
        key = (module, _freeze(arg))
        if key in self.resolved:
            return self.resolved[key]
        self.resolved[key] = None
        try:
            beam = self.resolve(module)
        except Exception:  # a resolver failure only means "not known"
            beam = None
        if beam is None:
            return None
        for program in _programs(beam)[0]:
            try:
                values = program.call(Atom("child_spec"), 1, [arg])
            except (_TooComplex, _BadCode, RecursionError):
                continue
            values = [v for v in values if not isinstance(v, Unknown) or isinstance(v, _ChildSpecCall)]
            if len(values) == 1 and not isinstance(values[0], _ChildSpecCall):
                self.resolved[key] = values[0]
                return values[0]
        return None


def _strategy(flags: object) -> str | None:
    if isinstance(flags, dict):
        found, value = _map_get(flags, _STRATEGY)
        if found is False:
            return "one_for_one"
        return str(value) if found and isinstance(value, Atom) else None
    if isinstance(flags, tuple) and len(flags) == 3 and isinstance(flags[0], Atom):
        return str(flags[0])
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- entry point ------------------------------------------------------------------------------


def _debug_program(beam) -> tuple:
    """``(program, None)`` from the module's debug info, or ``(None, why not)``."""
    term = None
    for chunk_id in ("Dbgi", "Abst"):
        data = beam.chunk(chunk_id)
        if data:
            term = decode(data)
            break
    if term is None:
        return None, "no debug info"
    if isinstance(term, tuple) and len(term) == 2 and term[0] == Atom("raw_abstract_v1"):
        return _ErlangForms(beam.module, term[1]), None
    if not (isinstance(term, tuple) and len(term) == 3 and term[0] == Atom("debug_info_v1")):
        return None, "debug info in an unknown format"
    backend, data = term[1], term[2]
    if backend == Atom("erl_abstract_code"):
        if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], list):
            return _ErlangForms(beam.module, data[0]), None
        return None, "no debug info (abstract code not kept)"
    if backend == Atom("elixir_erl"):
        if isinstance(data, tuple) and len(data) >= 2 and data[0] == Atom("elixir_v1") and isinstance(data[1], dict):
            definitions = data[1].get(Atom("definitions"))
            if isinstance(definitions, list):
                return _ElixirDefs(beam.module, definitions), None
        return None, "Elixir debug info in an unknown format"
    return None, f"debug info of an unsupported backend {backend}"


def _programs(beam) -> tuple:
    """``([programs], notes)``: the readers available for ``beam``, best first."""
    programs: list = []
    notes: list = []
    try:
        program, why = _debug_program(beam)
    except Exception as exc:  # a damaged chunk only means "not readable"
        program, why = None, f"unreadable debug info: {exc}"
    if program is not None:
        programs.append(program)
    else:
        notes.append(why)
    try:
        code = _Code(beam.chunk("Code") or b"", beam.atoms, beam.literals())
        programs.append(_Bytecode(beam.module, code, beam.imports, beam.labeled_exports, beam.chunk("FunT")))
    except Exception as exc:  # unknown or damaged code: this reader is unavailable
        notes.append(f"unreadable BEAM code: {exc}")
    return programs, notes


def _analyse(program: _Program, resolve) -> SupervisorChildren:
    reader = _Reader(resolve)
    program.reset()
    if not program.has_function(_INIT, 1):
        return SupervisorChildren(complete=False, reason="no init/1 function", method=program.method)
    try:
        values = program.call(_INIT, 1, [Unknown("the init/1 argument")])
    except (_TooComplex, _BadCode) as exc:
        return SupervisorChildren(complete=False, reason=f"init/1 is too complex to read: {exc}", method=program.method)
    except RecursionError:
        return SupervisorChildren(complete=False, reason="init/1 is nested too deeply to read", method=program.method)
    if not values:
        reader.problem("init/1 raises an exception on every path")
    for value in values:
        reader.init_result(value)
    strategies = _dedupe([s for s in reader.strategies if s is not None])
    return SupervisorChildren(
        children=reader.children,
        complete=not reader.problems,
        reason="; ".join(reader.problems) or None,
        strategy=strategies[0] if len(strategies) == 1 and None not in reader.strategies else None,
        method=program.method,
    )


def _collect_names(program: _Program) -> _NameCollector:
    """Follow every exported function that may reach a ``start_link`` call, recording them."""
    collector = _NameCollector()
    program.hook = collector
    try:
        for name, arity in program.name_entries():
            program.reset()
            try:
                program.call(name, arity, [Unknown(f"argument {i + 1} of {name}/{arity}") for i in range(arity)])
            except (_TooComplex, _BadCode, RecursionError):
                collector.failures.append(f"{name}/{arity} is too complex to read")
    finally:
        program.hook = None
    return collector


def _name(program: _Program) -> tuple:
    return _collect_names(program).result(program.module)


def started_supervisors(beam) -> dict:
    """``{module: (registered_name, sup_ref, name_reason)}`` for every supervisor module that the
    code in ``beam`` starts with ``supervisor:start_link/2,3`` or Elixir's
    ``Supervisor.start_link/2,3`` -- for a supervisor whose own module does not say its name
    (e.g. an application callback calling ``supervisor:start_link({local, x_sup}, x_sup, [])``).
    Never raises; a module that cannot be read gives ``{}``.
    """
    if not isinstance(beam, Beam):
        return {}
    try:
        programs, _notes = _programs(beam)
        for program in programs:
            collector = _collect_names(program)
            if collector.starts or program is programs[-1]:
                return {module: collector.result(module) for module in collector.starts}
    except Exception:  # a damaged module only means "nothing known"
        return {}
    return {}


def supervisor_children(beam, resolve=None) -> SupervisorChildren:
    """The static children and registered name of the supervisor in ``beam`` (a :class:`Beam`).

    ``resolve(module)`` may return the :class:`Beam` of a child module so that an Elixir child
    given as a module takes its id and type from that module's ``child_spec/1``. Never raises:
    what is not understood gives ``complete=False`` and a ``reason``.
    """
    if not isinstance(beam, Beam):
        return SupervisorChildren(complete=False, reason=f"not a BEAM module: {type(beam).__name__}")
    try:
        return _supervisor_children(beam, resolve)
    except Exception as exc:  # the promise: a reason, never an exception
        return SupervisorChildren(complete=False, reason=f"cannot read {getattr(beam, 'source', beam)}: {exc}")


def _supervisor_children(beam, resolve) -> SupervisorChildren:
    programs, notes = _programs(beam)
    if not programs:
        return SupervisorChildren(complete=False, reason="; ".join(notes))
    results = []
    chosen = None
    for program in programs:
        result = _analyse(program, resolve)
        results.append((program, result))
        if result.complete:
            chosen = (program, result)
            break
    if chosen is None:
        chosen = results[0]
    program, result = chosen
    if notes and not result.complete:
        result.reason = "; ".join([*notes, result.reason or ""]).rstrip("; ")
    first_reason = None
    for candidate in [program, *[p for p in programs if p is not program]]:
        name, ref, why = _name(candidate)
        if ref is not None:
            result.registered_name, result.sup_ref, result.name_reason = name, ref, why
            break
        if first_reason is None:
            first_reason = why
    else:
        result.name_reason = first_reason
    return result
