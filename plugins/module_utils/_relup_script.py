# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Appup scripts to a low-level relup script, as OTP's ``systools_rc:translate_scripts/4``.

PRIVATE to the erlang.otp collection: may change at any time.

:func:`translate_scripts` is a port of ``systools_rc:translate_scripts/4`` of OTP 25 (sasl 4.2),
the function ``systools_relup`` calls once per base release and direction. Input and output are
terms in the representation of :mod:`._terms`; applications are :class:`Appl` (the four fields of
systools' ``#application{}`` that ``systools_rc`` reads). The pipeline, step by step as systools runs it:

1. ``expand_script`` per script (the short forms; :func:`._appup_syntax.expand_script`);
2. ``merge_scripts``: each script split at its own ``point_of_no_return`` (only ``apply`` and
   ``load_object_code`` before it, at most one), every ``load_object_code`` moved before it; the
   parts before, then ``point_of_no_return``, then the parts after, in script order;
3. ``check_syntax`` (``check_op`` of every instruction, :func:`._appup_syntax.check_op_error`),
   ``normalize_instrs``, the split again, ``check_script`` (a ``load_object_code`` for every
   ``load``, suspend/resume and start/stop balanced);
4. ``add_application``/``remove_application``/``restart_application`` become module
   instructions and ``apply``\\ s (modules from ``appls``, or ``pre_appls`` for what is removed);
   ``add_module`` becomes ``load_module``;
5. the dependency instructions (``update``, ``load_module``, ``add_module``, ``delete_module``):
   one graph (a vertex per module, an edge to each DepMod), and at the first instruction of each
   weakly connected component the whole component in dependency order, as ``suspend``, ``load``
   (dependencies first going up, dependents first going down), ``remove``/``purge``,
   ``code_change`` and ``resume``, with a ``load_object_code`` per loaded module;
6. ``load_object_code``\\ s merged per library, ``restart_new_emulator`` moved to the front (up)
   or turned into a final ``restart_emulator`` (dn), one ``restart_emulator`` at the end, and a
   last ``check_syntax``.

Errors: every ``{error, systools_rc, Reason}`` is a :class:`RelupScriptError` whose ``reason`` is
``Reason`` (``(Atom("undef_module"), Atom("foo"))``, ``Atom("too_many_point_of_no_return")``...)
and whose message is our own: one line naming the module, application, instruction or version at
fault, what is wrong with it and what to do (:func:`format_error` gives it from the reason alone;
the exception's own message adds what only the translation knows, such as the instruction).
Where systools *crashes* instead, ``reason`` says how, since a stack trace cannot be reproduced:
``(Atom("EXIT"), Atom(Kind))`` where ``translate_scripts`` catches the crash (it returns
``{error, systools_rc, {Kind, Stacktrace}}``: ``function_clause`` on an improper list inside an
instruction) and ``(Atom("error"), Atom(Kind))`` where the exception escapes it (``expand_script``
runs outside its ``catch``: ``function_clause`` for a script that is not a proper list,
``badarg`` for an improper list nested in a script); ``crash`` is ``Kind`` then, else ``None``.
The differential tests compare these reasons (and crash kinds) with systools'; the messages are
not systools' text.

**Order inside a dependency component.** systools orders a component by
``digraph_utils:topsort`` of its condensation (the strongly connected components, SCC members
by position) -- dependents before dependencies. When the condensation is not a total order
(e.g. ``m`` depends on ``a`` and ``b``, which do not depend on each other) several orders are
valid and systools' choice follows the iteration order of the ETS tables behind ``digraph``:
the hash of the atoms, i.e. of their index in the VM's atom table, which depends on when each
atom was created. That is not reproducible outside that VM, and can differ between two runs of
the same relup generation. This port breaks such ties deterministically: of the SCCs whose
dependents have all been placed, the one whose first instruction comes first in the script
(smallest position N among the dependency instructions) goes next. The result is always an
order systools can produce, and it equals systools' whenever every component's condensation is
a chain (e.g. appups whose DepMods have been linearised, see :func:`._appup.linearise`). The
differential tests check exactly that: same result when unambiguous; otherwise our order is
valid, and with systools' own choice imposed (``order=`` of :func:`translate_scripts_ordered`)
the results are equal.
"""

from __future__ import annotations

import heapq

from ansible_collections.erlang.otp.plugins.module_utils._appup import strongly_connected
from ansible_collections.erlang.otp.plugins.module_utils._appup_syntax import check_op_error, expand_script
from ansible_collections.erlang.otp.plugins.module_utils._term_text import format_term
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ImproperList, canonical

__all__ = ["Appl", "RelupScriptError", "format_error", "translate_scripts", "translate_scripts_ordered"]

# The quick paths below test exact types on purpose: an Atom is a str and a bool is an int, and
# neither may pass for the other.
# pylint: disable=unidiomatic-typecheck

A = Atom

_PONR = A("point_of_no_return")
_RESTART_NEW_EMULATOR = A("restart_new_emulator")
_RESTART_EMULATOR = A("restart_emulator")
_BRUTAL = A("brutal_purge")
_DEFAULT = A("default")
_APPLICATION = A("application")
_DEP_INSTRS = frozenset(("update", "load_module", "add_module", "delete_module"))
_APPLICATION_INSTRS = frozenset(("add_application", "remove_application", "restart_application"))
_LOAD_MODULE = A("load_module")


# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------


class Appl:
    """The fields of systools' ``#application{}`` that ``systools_rc`` reads.

    ``name``: the application; ``vsn``: its version; ``type``: its ``.rel`` start type
    (``permanent``, ``transient``, ``temporary``, ``load``, ``none``); ``modules``: the ``.app``
    ``modules`` list in its order (the order of the instructions made for
    ``add/remove/restart_application``).
    """

    __slots__ = ("modules", "name", "type", "vsn")

    def __init__(self, name: str, vsn: str, type: str, modules: list) -> None:
        self.name = name
        self.vsn = vsn
        self.type = type
        self.modules = list(modules)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Appl) and (self.name, self.vsn, self.type, self.modules) == (
            other.name,
            other.vsn,
            other.type,
            other.modules,
        )

    def __hash__(self) -> int:
        return hash((str(self.name), str(self.vsn), str(self.type), tuple(str(m) for m in self.modules)))

    def __repr__(self) -> str:
        return f"Appl({self.name!r}, {self.vsn!r}, {self.type!r}, {self.modules!r})"


class RelupScriptError(ValueError):
    """``{error, systools_rc, Reason}`` from ``translate_scripts/4`` (or a systools crash).

    ``reason`` is systools' error term (see the module docstring for crashes); ``crash`` the kind
    of crash (``"function_clause"``, ``"badarg"``) or ``None``. ``str()`` is a one-line message
    of our own naming the module, application, instruction or version at fault, what is wrong and
    what to do (``message``, or :func:`format_error` of ``reason`` when not given).
    """

    def __init__(self, reason: object, message: str | None = None, crash: str | None = None) -> None:
        self.reason = reason
        self.crash = crash
        super().__init__(message if message is not None else format_error(reason))


def translate_scripts(mode: str, scripts: list, appls: list, pre_appls: list) -> list:
    """``systools_rc:translate_scripts(Mode, Scripts, Appls, PreAppls)``: the low-level script.

    ``mode``: ``"up"`` or ``"dn"``; ``scripts``: one instruction list per application (terms as
    :mod:`._terms` represents them); ``appls``: the :class:`Appl`\\ s whose code gets loaded (the
    top release's going up, the base release's going down) and ``pre_appls`` the others (whose
    modules ``remove_application``/``restart_application`` remove). Returns the list systools
    returns in ``{ok, Script}``; raises :class:`RelupScriptError` for each of its errors.
    """
    return translate_scripts_ordered(mode, scripts, appls, pre_appls)


def translate_scripts_ordered(mode: str, scripts: list, appls: list, pre_appls: list, order=None) -> list:
    """:func:`translate_scripts`, where ``order`` (if given) chooses the order of each
    dependency component instead of this port's tie-break.

    ``order(modules)`` gets a component's modules in this port's order and returns them in the
    order to use (a permutation). The differential tests use it to impose the order systools
    chose, which depends on the Erlang VM's atom table (module docstring).
    """
    if mode not in ("up", "dn"):
        raise ValueError(f"mode must be 'up' or 'dn', not {mode!r}")
    appls = [_Record(a) for a in appls]
    pre_appls = [_Record(a) for a in pre_appls]
    expanded = _expand_scripts(_atoms_only(scripts))
    try:
        return _translate_merged(mode, _merge_scripts(expanded), appls, pre_appls, order)
    except _Throw as thrown:
        change = "upgrade" if mode == "up" else "downgrade"
        raise RelupScriptError(thrown.reason, _message(thrown.reason, change, thrown.context)) from None
    except _Crash as crashed:
        raise RelupScriptError((A("EXIT"), A(crashed.kind)), crashed.message, crashed.kind) from None


# ---------------------------------------------------------------------------------------------
# Terms
# ---------------------------------------------------------------------------------------------


class _Throw(Exception):
    """``throw({error, Reason})`` inside ``translate_scripts``' catch; ``context``: what the
    message can say beyond the reason (``instr``: the instruction at fault, ...)."""

    def __init__(self, reason: object, **context: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.context = context


class _Crash(Exception):
    """A runtime error inside ``translate_scripts``' catch (``{'EXIT', {Kind, Stack}}``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Record:
    """An :class:`Appl` as terms: name and type atoms, modules atoms, vsn a string."""

    __slots__ = ("_given", "_modules", "name", "type", "vsn")

    def __init__(self, appl: object) -> None:
        for field in ("name", "vsn", "type", "modules"):
            if not hasattr(appl, field):
                raise TypeError(f"an application needs name, vsn, type and modules, not {appl!r}")
        self.name = _atom(appl.name)
        self.vsn = appl.vsn
        self.type = _atom(appl.type)
        modules = appl.modules
        self._given = modules if type(modules) is list else list(modules)
        self._modules: list | None = None

    @property
    def modules(self) -> list:
        """The modules as atoms (made when first asked for: most records are only searched by
        name, or in part by :func:`_module_index`)."""
        if self._modules is None:
            given = self._given
            if set(map(type, given)) <= _ATOM_TYPE:
                self._modules = given  # atoms already (read only here)
            else:
                self._modules = [_atom(m) for m in given]
        return self._modules


def _module_index(appls: list, wanted: set) -> dict:
    """``get_lib/2``'s search for each module of ``wanted`` (atoms): module -> the first record
    of ``appls`` that lists it; modules no record lists are left out."""
    index: dict = {}
    for appl in appls:
        if not wanted:
            break
        found = wanted.intersection(appl.modules)
        if found:
            index.update(dict.fromkeys(found, appl))
            wanted = wanted - found
    return index


def _atom(value: object) -> Atom:
    if isinstance(value, bool):
        return A("true" if value else "false")
    return value if isinstance(value, Atom) else A(str(value))


#: Types whose values :func:`_atoms_only` returns as they are (exact types: ``bool`` is no member).
_LEAF_TYPES = frozenset((Atom, str, int, float, bytes))


def _atoms_only(term: object) -> object:
    """``term`` with Python booleans as the atoms they stand for (so that atoms compare as atoms)."""
    kind = type(term)
    if kind is list:
        return [t if type(t) in _LEAF_TYPES else _atoms_only(t) for t in term]
    if kind is tuple:
        return tuple([t if type(t) in _LEAF_TYPES else _atoms_only(t) for t in term])
    if kind in _LEAF_TYPES:
        return term
    if isinstance(term, bool):
        return _atom(term)
    if isinstance(term, list):
        return [_atoms_only(t) for t in term]
    if isinstance(term, tuple):
        return tuple(_atoms_only(t) for t in term)
    if isinstance(term, ImproperList):
        return ImproperList([_atoms_only(t) for t in term.items], _atoms_only(term.tail))
    return term


def _is_atom(term: object, name: str) -> bool:
    return isinstance(term, Atom) and str(term) == name


def _tag(term: object) -> str | None:
    if isinstance(term, tuple) and term and isinstance(term[0], Atom):
        return str(term[0])
    return None


def _tagged(term: object, tag: str, size: int) -> bool:
    return isinstance(term, tuple) and len(term) == size and _is_atom(term[0], tag)


def _list_items(term: object) -> tuple[list | None, bool]:
    """The elements of a list term and whether it is proper; ``(None, False)`` for a non-list."""
    if isinstance(term, ImproperList):
        return list(term.items), False
    if isinstance(term, list):
        return term, True
    if isinstance(term, str) and not isinstance(term, Atom):
        return [ord(c) for c in term], True
    return None, False


def _items(term: object) -> list:
    """The elements of a list already checked to be proper."""
    items, _proper = _list_items(term)
    return items if items is not None else []


def _flatten(items: list) -> list:
    """``lists:flatten/1``."""
    out: list = []
    for item in items:
        inner, proper = _list_items(item)
        if inner is not None and proper:
            out.extend(_flatten(inner))
        else:
            out.append(item)
    return out


def _exact_key(term: object) -> object:
    """A hashable value equal for two terms exactly when they are ``=:=``."""
    if isinstance(term, Atom):
        return term  # the common case: module and application names
    return ("$term", repr(_strict(canonical(term))))


def _equal_key(term: object) -> object:
    """A hashable value equal for two terms exactly when they are ``==`` (a string equals its list
    of code points; 1 == 1.0)."""
    if isinstance(term, Atom):
        return term
    return ("$term", repr(_numbers_as_equal(canonical(term))))


def _strict(term: object) -> object:
    if isinstance(term, float):
        return ("$float", term)
    if isinstance(term, list):
        return [_strict(t) for t in term]
    if isinstance(term, tuple):
        return tuple(_strict(t) for t in term)
    if isinstance(term, ImproperList):
        return ImproperList([_strict(t) for t in term.items], _strict(term.tail))
    return term


def _numbers_as_equal(term: object) -> object:
    if isinstance(term, float) and term.is_integer():
        return int(term)
    if isinstance(term, list):
        return [_numbers_as_equal(t) for t in term]
    if isinstance(term, tuple):
        return tuple(_numbers_as_equal(t) for t in term)
    if isinstance(term, ImproperList):
        return ImproperList([_numbers_as_equal(t) for t in term.items], _numbers_as_equal(term.tail))
    return term


def _member(item: object, items: list) -> bool:
    """``lists:member/2`` (``=:=``)."""
    key = _exact_key(item)
    return any(_exact_key(other) == key for other in items)


def _difference(first: list, second: list) -> list:
    """systools_rc's ``difference/2``: the elements of ``first`` that are not in ``second``."""
    keys = {_exact_key(x) for x in second}
    return [x for x in first if _exact_key(x) not in keys]


def _term(term: object) -> str:
    try:
        return format_term(term, width=1 << 30)
    except TypeError:  # a Python value that is no Erlang term
        return repr(term)


# ---------------------------------------------------------------------------------------------
# expand_scripts (outside systools' catch: its crashes are exceptions)
# ---------------------------------------------------------------------------------------------


def _raised(kind: str, message: str) -> RelupScriptError:
    return RelupScriptError((A("error"), A(kind)), message, kind)


def _expand_scripts(scripts: object) -> list:
    items, proper = _list_items(scripts)
    if items is None:
        raise _raised(
            "function_clause",
            f"the scripts {_term(scripts)} are not a list, and systools crashes on that (function_clause); "
            "pass a list holding one list of instructions per application",
        )
    out = []
    for number, script in enumerate(items, 1):
        instrs, script_proper = _list_items(script)
        if instrs is None or not script_proper:
            raise _raised(
                "function_clause",
                f"script {number}, {_term(script)}, is not a proper list, and systools crashes on that "
                "(function_clause); each application's script must be a proper list of instructions",
            )
        try:
            out.append(expand_script(instrs))
        except ValueError as bad:
            raise _raised(
                "badarg",
                f"script {number} holds a nested list of instructions that is not a proper list "
                f"({str(bad).replace(' (systools crashes)', '')}), and systools crashes on that (badarg); make "
                "every nested list of instructions a proper list",
            ) from None
    if not proper:
        raise _raised(
            "function_clause",
            f"the list of scripts ends in the improper tail {_term(scripts.tail)}, and systools crashes on that "
            "(function_clause); make it a proper list",
        )
    return out


# ---------------------------------------------------------------------------------------------
# Split and merge
# ---------------------------------------------------------------------------------------------


def _merge_scripts(scripts: list) -> list:
    before: list = []
    after: list = []
    for script in scripts:
        b, a = _split_script(script)
        before += b
        after += a
    return [*before, _PONR, *after]


def _split_script(script: list) -> tuple[list, list]:
    before, after = _split_instrs(script)
    for instr in before:
        if not (_tagged(instr, "load_object_code", 2) or _tagged(instr, "apply", 2)):
            raise _Throw((A("bad_op_before_point_of_no_return"), instr))
    found: list = []
    rest: list = []
    for instr in after:
        (found if _tagged(instr, "load_object_code", 2) else rest).append(instr)
    return before + found, rest


def _has_atom(items: list) -> bool:
    """Whether an element of ``items`` is an :class:`Atom` (a bare instruction)."""
    return any(issubclass(kind, Atom) for kind in set(map(type, items)))


def _split_instrs(script: list) -> tuple[list, list]:
    if not _has_atom(script):
        return [], list(script)
    for index, instr in enumerate(script):
        if _is_atom(instr, "point_of_no_return"):
            tail = script[index + 1 :]
            if any(_is_atom(i, "point_of_no_return") for i in tail):
                raise _Throw(A("too_many_point_of_no_return"))
            return script[:index], tail
    return [], list(script)


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def _check_syntax(script: list) -> None:
    for instr in script:
        if _well_formed(instr):
            continue
        error = check_op_error(instr)
        if error is None:
            continue
        code, value, message = error
        if code == "improper_list":
            raise _Crash(
                "function_clause",
                f"the instruction {_term(instr)} holds an improper list, on which systools crashes "
                f"(function_clause): {message.replace(' (systools crashes on it)', '')}",
            )
        raise _Throw((A(code), value), instr=instr, detail=message)


_PURGE_METHODS = frozenset((A("soft_purge"), _BRUTAL))
_MOD_TYPES = frozenset((A("static"), A("dynamic")))
_TIMEOUT_ATOMS = frozenset((_DEFAULT, A("infinity")))
_CODE_CHANGE_MODES = frozenset((A("up"), A("down")))
_SOFT = A("soft")
_ADVANCED = A("advanced")
_ATOM_TYPE = frozenset((Atom,))


def _atom_list(term: object) -> bool:
    """A ``list`` of :class:`Atom` s (exactly)."""
    return type(term) is list and (not term or set(map(type, term)) <= _ATOM_TYPE)


def _timeout_ok(term: object) -> bool:
    kind = type(term)
    return (kind is Atom and term in _TIMEOUT_ATOMS) or (kind is int and term > 0)


def _update_ok(op: tuple, size: int) -> bool:
    """``{update, Mod, [ModType,] [Timeout,] Change, PrePurge, PostPurge, DepMods}``."""
    if size == 8:
        if not (type(op[2]) is Atom and op[2] in _MOD_TYPES and _timeout_ok(op[3])):
            return False
    elif size == 7:
        if not _timeout_ok(op[2]):
            return False
    elif size != 6:
        return False
    change, pre, post, mods = op[size - 4 :]
    return (
        type(op[1]) is Atom
        and (
            (type(change) is Atom and change == _SOFT)
            or (type(change) is tuple and len(change) == 2 and type(change[0]) is Atom and change[0] == _ADVANCED)
        )
        and type(pre) is Atom
        and pre in _PURGE_METHODS
        and type(post) is Atom
        and post in _PURGE_METHODS
        and _atom_list(mods)
    )


def _well_formed(op: object) -> bool:
    """A quick ``check_op/1`` for the common instructions in their plainest spelling: ``True``
    only for instructions that ``check_op`` accepts (:func:`._appup_syntax.check_op_error` is
    asked about all the others)."""
    if type(op) is not tuple or not op or type(op[0]) is not Atom:
        return False
    tag = str(op[0])
    size = len(op)
    if tag in ("load", "remove"):
        arg = op[1] if size == 2 else None
        return (
            type(arg) is tuple
            and len(arg) == 3
            and type(arg[0]) is Atom
            and type(arg[1]) is Atom
            and arg[1] in _PURGE_METHODS
            and type(arg[2]) is Atom
            and arg[2] in _PURGE_METHODS
        )
    if tag == "load_object_code":
        arg = op[1] if size == 2 else None
        return (
            type(arg) is tuple and len(arg) == 3 and type(arg[0]) is Atom and type(arg[1]) is str and _atom_list(arg[2])
        )
    if tag == "update":
        return _update_ok(op, size)
    if tag in ("purge", "resume", "stop", "start"):
        return size == 2 and _atom_list(op[1])
    if tag == "suspend":
        return (
            size == 2
            and type(op[1]) is list
            and all(
                type(m) is Atom or (type(m) is tuple and len(m) == 2 and type(m[0]) is Atom and _timeout_ok(m[1]))
                for m in op[1]
            )
        )
    if tag == "code_change":
        return (
            size == 3
            and type(op[1]) is Atom
            and op[1] in _CODE_CHANGE_MODES
            and type(op[2]) is list
            and all(type(m) is tuple and len(m) == 2 and type(m[0]) is Atom for m in op[2])
        )
    if tag == "apply":
        arg = op[1] if size == 2 else None
        return (
            type(arg) is tuple
            and len(arg) == 3
            and type(arg[0]) is Atom
            and type(arg[1]) is Atom
            and type(arg[2]) is list
        )
    if tag == "load_module":
        return (
            size == 5
            and type(op[1]) is Atom
            and type(op[2]) is Atom
            and op[2] in _PURGE_METHODS
            and type(op[3]) is Atom
            and op[3] in _PURGE_METHODS
            and _atom_list(op[4])
        )
    if tag in ("add_module", "delete_module"):
        return size == 3 and type(op[1]) is Atom and _atom_list(op[2])
    return False


def _check_script(before: list, after: list) -> None:
    loads: list = []
    suspends: list = []
    resumes: list = []
    code_changes: list = []
    starts: list = []
    stops: list = []
    for instr in after:
        tag = _tag(instr)
        if tag is None:
            continue
        size = len(instr)
        if size == 2:
            if tag == "load":
                if isinstance(instr[1], tuple) and len(instr[1]) == 3:
                    loads.append(instr)
            elif tag == "suspend":
                suspends.append(instr[1])
            elif tag == "resume":
                resumes.append(instr[1])
            elif tag == "start":
                starts.append(instr[1])
            elif tag == "stop":
                stops.append(instr[1])
        elif size == 3 and tag == "code_change" and isinstance(instr[2], tuple) and len(instr[2]) == 2:
            code_changes.append(instr[2][0])  # {code_change, _, {X, _}}: never after check_syntax
    # check_load: every {load, {Mod, _, _}} needs a load_object_code naming Mod.
    if loads:
        loaded = {_exact_key(m) for b in before if _tagged(b, "load_object_code", 2) for m in _items(b[1][2])}
        for instr in loads:
            mod = instr[1][0]
            if _exact_key(mod) not in loaded:
                raise _Throw((A("no_object_code"), mod), instr=instr)
    # check_suspend_resume
    suspended = [x[0] if isinstance(x, tuple) and len(x) == 2 else x for x in _flatten(suspends)]
    resumed = _flatten(resumes)
    code_changed = _flatten(code_changes)
    for first, second, name in (
        (suspended, resumed, "suspended_not_resumed"),
        (resumed, suspended, "resumed_not_suspended"),
        (code_changed, suspended, "code_change_not_suspended"),
    ):
        left = _difference(first, second)
        if left:
            raise _Throw((A(name), left))
    # check_start_stop
    start = _flatten(starts)
    stop = _flatten(stops)
    for first, second, name in ((start, stop, "start_not_stop"), (stop, start, "stop_not_start")):
        left = _difference(first, second)
        if left:
            raise _Throw((A(name), left))


def _normalize(instr: object) -> object:
    tag = _tag(instr)
    if tag == "update" and len(instr) == 6:
        return (instr[0], instr[1], A("dynamic"), _DEFAULT, *instr[2:])
    if tag == "update" and len(instr) == 7:
        return (instr[0], instr[1], A("dynamic"), *instr[2:])
    if tag in ("add_module", "delete_module") and len(instr) == 2:
        return (instr[0], instr[1], [])
    return instr


# ---------------------------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------------------------


def _translate_merged(mode: str, script: list, appls: list, pre_appls: list, order) -> list:
    _check_syntax(script)
    script = [_normalize(i) for i in script]
    before, after = _split_script(script)
    _check_script(before, after)

    after = _translate_application_instrs(after, appls, pre_appls)
    after = [(_LOAD_MODULE, i[1], _BRUTAL, _BRUTAL, i[2]) if _tagged(i, "add_module", 3) else i for i in after]
    before, after = _translate_dependent_instrs(mode, before, after, appls, order)
    before = _merge_load_object_code(before)
    before, after = _sort_emulator_restart(mode, before, after)
    new_script = [*before, _PONR, *after]
    _check_syntax(new_script)
    return new_script


def _keysearch(name: object, records: list) -> _Record | None:
    for record in records:
        if _equal_key(record.name) == _equal_key(name):
            return record
    return None


def _start_instrs(appl: object, start_type: object) -> list:
    if _is_atom(start_type, "none"):
        return []
    if _is_atom(start_type, "load"):
        return [(A("apply"), (_APPLICATION, A("load"), [appl]))]
    return [(A("apply"), (_APPLICATION, A("start"), [appl, start_type]))]


def _removal(appl: object, mods: list) -> list:
    return [
        (A("apply"), (_APPLICATION, A("stop"), [appl])),
        *[(A("remove"), (m, _BRUTAL, _BRUTAL)) for m in mods],
        (A("purge"), mods),
    ]


def _translate_application_instrs(script: list, appls: list, pre_appls: list) -> list:
    out: list = []
    for instr in script:
        tag = _tag(instr)
        if tag is None or tag not in _APPLICATION_INSTRS:
            out.append(instr)
        elif _tagged(instr, "add_application", 3):
            appl = _keysearch(instr[1], appls)
            if appl is None:
                raise _Throw((A("no_such_application"), instr[1]), instr=instr, missing_in="installed")
            out += [(A("add_module"), m, []) for m in appl.modules]
            out += _start_instrs(instr[1], instr[2])
        elif _tagged(instr, "remove_application", 2):
            if _keysearch(instr[1], appls) is not None:
                raise _Throw((A("removed_application_present"), instr[1]), instr=instr)
            removed = _keysearch(instr[1], pre_appls)
            if removed is None:
                raise _Throw((A("no_such_application"), instr[1]), instr=instr, missing_in="replaced")
            out += _removal(instr[1], removed.modules)
            out.append((A("apply"), (_APPLICATION, A("unload"), [instr[1]])))
        elif _tagged(instr, "restart_application", 2):
            pre = _keysearch(instr[1], pre_appls)
            if pre is None:
                raise _Throw((A("no_such_application"), instr[1]), instr=instr, missing_in="replaced")
            post = _keysearch(instr[1], appls)
            if post is None:
                raise _Throw((A("no_such_application"), instr[1]), instr=instr, missing_in="installed")
            out += _removal(instr[1], pre.modules)
            out += [(A("add_module"), m, []) for m in post.modules]
            out += _start_instrs(instr[1], post.type)
        else:
            out.append(instr)
    return out


def _is_dep(instr: object) -> bool:
    return isinstance(instr, tuple) and len(instr) > 1 and _tag(instr) in _DEP_INSTRS


def _translate_dependent_instrs(mode: str, before: list, after: list, appls: list, order) -> tuple[list, list]:
    # make_dependency_graph: a vertex per module (data: position N and instruction), an edge
    # from each module to each of its DepMods. Vertices are numbered by position (from 0 here).
    is_dep = [_is_dep(i) for i in after]
    dep_instrs = [i for i, dep in zip(after, is_dep) if dep]
    position: dict = {}
    for n, instr in enumerate(dep_instrs):
        mod = instr[1]
        if mod in position:
            raise _Throw((A("muldef_module"), mod))
        position[mod] = n
    targets: list = []  # vertex -> the vertices of its DepMods
    for instr in dep_instrs:
        found = []
        for dep in _items(instr[-1]):
            n = position.get(dep)
            if n is None:
                raise _Throw((A("undef_module"), dep), instr=instr)
            found.append(n)
        targets.append(found)
    component_of = _weak_components(targets)
    index = _module_index(appls, {i[1] for i in dep_instrs if isinstance(i[1], Atom)})

    # translate_dep_loop: at the first instruction of a component, the whole component.
    new_before: list = []
    new_after: list = []
    done = [False] * len(dep_instrs)
    vertex = -1
    for instr, dep in zip(after, is_dep):
        if not dep:
            new_after.append(instr)
            continue
        vertex += 1
        if done[vertex]:
            continue  # emitted with its component
        component = component_of.get(vertex)
        if component is None:  # no DepMods, and in no DepMods: a component of its own
            done[vertex] = True
            vertices = [vertex]
        else:
            for member in component:
                done[member] = True
            vertices = _dependency_order(component, targets)
        if order is not None:
            modules = [dep_instrs[v][1] for v in vertices]
            chosen = list(order(list(modules)))
            if sorted(map(str, chosen)) != sorted(map(str, modules)) or len(set(chosen)) != len(chosen):
                raise ValueError(f"order() must return a permutation of {modules!r}, not {chosen!r}")
            vertices = [position[m] for m in chosen]
        _translate_dep_to_low(mode, [dep_instrs[v] for v in vertices], index, new_before, new_after)
    return before + new_before, new_after


def _weak_components(targets: list) -> dict:
    """Vertex -> the vertices of its weakly connected component, in position order, for every
    vertex with an edge (``targets``: vertex -> the vertices it has edges to); each of the
    others is a component of its own."""
    parent: dict = {}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for n, found in enumerate(targets):
        if not found:
            continue
        parent.setdefault(n, n)
        for d in found:
            parent.setdefault(d, d)
            a, b = root(n), root(d)
            if a != b:
                parent[b] = a
    groups: dict = {}
    for n in sorted(parent):
        groups.setdefault(root(n), []).append(n)
    return {n: groups[root(n)] for n in parent}


def _dependency_order(component: list, targets: list) -> list:
    """The component's vertices as systools orders them (dependents first), ties broken by position.

    SCCs in topological order of the condensation (an SCC comes after every SCC with an edge into
    it); of the SCCs that may come next, the one with the first position; inside an SCC, by
    position (``component``: vertices in position order; ``targets``: vertex -> the vertices it
    has edges to).
    """
    if len(component) == 1:
        return list(component)
    # Most components have no cycle: every SCC is one vertex, and the order is Kahn's algorithm
    # taking the ready vertex of the first position.
    waiting = dict.fromkeys(component, 0)  # vertex -> how many other vertices have edges into it
    outs = {}
    for v in component:
        out = set(targets[v])
        out.discard(v)
        outs[v] = out
        for d in out:
            waiting[d] += 1
    ready = [v for v in component if not waiting[v]]
    heapq.heapify(ready)
    placed: list = []
    while ready:
        pick = heapq.heappop(ready)
        placed.append(pick)
        for d in outs[pick]:
            waiting[d] -= 1
            if not waiting[d]:
                heapq.heappush(ready, d)
    if len(placed) == len(component):
        return placed
    return _dependency_order_sccs(component, targets)


def _dependency_order_sccs(component: list, targets: list) -> list:
    """:func:`_dependency_order` for a component with a cycle: over its SCCs."""
    sccs = strongly_connected(component, {v: targets[v] for v in component})
    scc_of = {}
    for index, scc in enumerate(sccs):
        for v in scc:
            scc_of[v] = index
    first = {index: scc[0] for index, scc in enumerate(sccs)}
    dependents = [set() for _unused in sccs]  # SCC -> the SCCs with an edge into it
    depends_on = [set() for _unused in sccs]
    for v in component:
        for d in targets[v]:
            if scc_of[d] != scc_of[v]:
                dependents[scc_of[d]].add(scc_of[v])
                depends_on[scc_of[v]].add(scc_of[d])
    waiting = [len(s) for s in dependents]
    ready = {i for i, w in enumerate(waiting) if w == 0}
    out: list = []
    while ready:
        pick = min(ready, key=first.__getitem__)
        ready.discard(pick)
        out.extend(sccs[pick])
        for other in depends_on[pick]:
            waiting[other] -= 1
            if waiting[other] == 0:
                ready.add(other)
    return out


_LOAD = A("load")
_REMOVE = A("remove")
_PURGE = A("purge")
_SUSPEND = A("suspend")
_RESUME = A("resume")
_CODE_CHANGE = A("code_change")
_LOAD_OBJECT_CODE = A("load_object_code")
_UP = A("up")
_DOWN = A("down")


def _translate_dep_to_low(mode: str, instrs: list, index: dict, before: list, after: list) -> None:
    """``translate_dep_to_low/3`` for one component (``instrs`` in dependency order): its
    ``load_object_code``\\ s go to the end of ``before``, its low-level instructions to the end
    of ``after``. ``index``: :func:`_module_index`."""
    update_mods: list = []
    groups: list = []  # per instruction, its load or remove+purge (systools' LoadRemoveInstrs0)
    changes: list = []  # up: every {advanced, _} update; down: the dynamic ones
    post: list = []  # down: the static {advanced, _} updates
    up = mode == "up"
    for i in instrs:
        tag = _tag(i)
        size = len(i)
        if size == 8 and tag == "update":
            mod = i[1]
            timeout = i[3]
            update_mods.append(mod if timeout is _DEFAULT or _is_atom(timeout, "default") else (mod, timeout))
            groups.append(((_LOAD, (mod, i[5], i[6])),))
            change = i[4]
            if type(change) is not Atom and _tagged(change, "advanced", 2):
                if up or _is_atom(i[2], "dynamic"):
                    changes.append((mod, change[1]))
                elif _is_atom(i[2], "static"):
                    post.append((mod, change[1]))
        elif size == 5 and tag == "load_module":
            mod = i[1]
            groups.append(((_LOAD, (mod, i[2], i[3])),))
        elif size == 3 and tag == "delete_module":
            groups.append(((_REMOVE, (i[1], _BRUTAL, _BRUTAL)), (_PURGE, [i[1]])))
            continue
        else:
            continue
        appl = index.get(mod) if isinstance(mod, Atom) else None
        if appl is None:
            raise _Throw((A("no_such_module"), mod))
        before.append((_LOAD_OBJECT_CODE, (appl.name, appl.vsn, [mod])))
    if update_mods:
        after.append((_SUSPEND, update_mods))
    if up:
        for group in reversed(groups):
            after.extend(group)
        if changes:
            after.append((_CODE_CHANGE, _UP, changes))
    else:
        if changes:
            after.append((_CODE_CHANGE, _DOWN, changes))
        for group in groups:
            after.extend(group)
        if post:
            after.append((_CODE_CHANGE, _DOWN, post))
    if update_mods:
        after.append((_RESUME, [m[0] if isinstance(m, tuple) else m for m in reversed(update_mods)]))


def _merge_load_object_code(before: list) -> list:
    """``merge_load_object_code/1``: one ``load_object_code`` per library, in first-seen order.

    systools (``mlo/1``) takes the first remaining instruction, splits the others into those of
    the same library and version, and the rest -- throwing ``conflicting_versions`` for the same
    library at another version (its ``split/2`` tests the list from the end, so the *last* such
    instruction is named) -- and goes on with the rest. Grouping by library first is the same.
    """
    found: list = []
    rest: list = []
    for instr in before:
        (found if _tagged(instr, "load_object_code", 2) else rest).append(instr)
    groups: dict = {}  # library (Erlang ==) -> [(version key, instruction)] in script order
    vsn_keys: dict = {}  # version string -> its _equal_key (the same few versions over and over)
    for instr in found:
        lib_vsn = instr[1][1]
        if type(lib_vsn) is str:
            vsn_key = vsn_keys.get(lib_vsn)
            if vsn_key is None:
                vsn_key = vsn_keys[lib_vsn] = _equal_key(lib_vsn)
        else:
            vsn_key = _equal_key(lib_vsn)
        lib = instr[1][0]
        groups.setdefault(lib if type(lib) is Atom else _equal_key(lib), []).append((vsn_key, instr))
    merged: list = []
    for entries in groups.values():
        (vsn_key, head), later = entries[0], entries[1:]
        lib, lib_vsn, mods = head[1]
        conflicts = [instr for key, instr in later if key != vsn_key]
        if conflicts:
            raise _Throw((A("conflicting_versions"), lib, lib_vsn, conflicts[-1][1][1]))
        # union/2 folded from the right over the later instructions: each one's modules not yet
        # collected go in front of those collected; then the first instruction's in front of all.
        keys: set = set()
        chunks: list = []
        for _key, instr in reversed(later):
            fresh = [m for m in _items(instr[1][2]) if (m if type(m) is Atom else _exact_key(m)) not in keys]
            keys.update([m if type(m) is Atom else _exact_key(m) for m in fresh])
            chunks.append(fresh)
        code = [m for chunk in reversed(chunks) for m in chunk]
        first = [m for m in _items(mods) if (m if type(m) is Atom else _exact_key(m)) not in keys]
        merged.append((_LOAD_OBJECT_CODE, (lib, lib_vsn, first + code)))
    return merged + rest


def _sort_emulator_restart(mode: str, before: list, after: list) -> tuple[list, list]:
    if not _has_atom(after):
        return before, after
    without = [i for i in after if not _is_atom(i, "restart_new_emulator")]
    if len(without) != len(after):
        if mode == "up":
            before = [_RESTART_NEW_EMULATOR, *before]
            after = without
        else:
            after = [*without, _RESTART_EMULATOR]
    without = [i for i in after if not _is_atom(i, "restart_emulator")]
    if len(without) != len(after):
        after = [*without, _RESTART_EMULATOR]
    return before, after


# ---------------------------------------------------------------------------------------------
# Messages (our own wording: the tag of the reason, the value it names, what is wrong, what to do)
# ---------------------------------------------------------------------------------------------

_DEP_KINDS = "update, load_module, add_module or delete_module"

# check_op's errors, from the reason alone: what the value must be.
_SYNTAX = {
    "bad_module": "must be an atom (a module name)",
    "bad_code_change": "must be a {Module, Extra} pair in the list of a code_change instruction",
    "bad_change": "must be soft or {advanced, Extra} as the change of an update instruction",
    "bad_mod_type": "must be static or dynamic as the module type of an update instruction",
    "bad_purge_method": "must be soft_purge or brutal_purge as a purge method",
    "bad_list": "must be a list (of modules, DepMods or nodes)",
    "bad_args_list": "must be a list as the arguments of an apply or sync_nodes call",
    "bad_node": "must be an atom (a node name)",
    "bad_application": "must be an atom (an application name)",
    "bad_func": "must be an atom (a function name)",
    "bad_lib": "must be an atom (the application name) in a load_object_code instruction",
    "bad_lib_vsn": "must be a string (the application version) in a load_object_code instruction",
    "bad_timeout": "must be default, infinity or an integer > 0 as a timeout",
    "bad_mode": "must be up or down as the mode of a code_change instruction",
    "bad_start_type": "must be permanent, transient, temporary, load or none as the start type of add_application",
}

# The other reasons with one value: {v} the value, {change} upgrade/downgrade, the rest from context.
_EXPLAIN = {
    "undef_module": "{v} is named in the DepMods of {where}, but no " + _DEP_KINDS + " instruction of this "
    "{change} is about {v}; add such an instruction for {v} (in the appup of its application) or take {v} out "
    "of those DepMods",
    "muldef_module": "{v} is the module of more than one " + _DEP_KINDS + " instruction of this {change}, "
    "and a module may have one only (add_application and restart_application make one for every module of "
    "their application, and the appups of two applications may both name {v}); keep a single instruction "
    "for {v}",
    "no_such_module": "this {change} loads {v}, but no application of the release being installed lists {v} "
    "among the modules of its .app file; add {v} to the modules of its application, or drop the instruction "
    "that loads it",
    "removed_application_present": "{instr} removes {v}, but the release being installed still has it; drop "
    "the instruction, or take {v} out of that release",
    "no_object_code": "{instr} loads {v}, but no load_object_code instruction before point_of_no_return "
    "names {v}; add {v} to a load_object_code instruction, or use load_module or update instead of load",
    "bad_op_before_point_of_no_return": "only apply and load_object_code instructions may come before "
    "point_of_no_return; move this instruction after point_of_no_return",
    "suspended_not_resumed": "suspend instructions of this {change} suspend {v}, but no resume instruction "
    "resumes them; add a resume instruction for them after their code is loaded",
    "resumed_not_suspended": "resume instructions of this {change} resume {v}, which no suspend instruction "
    "suspends; suspend them first, or take them out of the resume instructions",
    "code_change_not_suspended": "code_change instructions of this {change} change the state of {v}, which "
    "no suspend instruction suspends; suspend them before the code_change",
    "start_not_stop": "start instructions of this {change} start {v}, which no stop instruction stops; stop "
    "them first, or take them out of the start instructions",
    "stop_not_start": "stop instructions of this {change} stop {v}, which no start instruction starts again; "
    "add a start instruction for them, or take them out of the stop instructions",
    "no_appl_vsn": "no version is given for application {v}; give its version",
    "not_yet_implemented": "systools does not implement the {v} instruction; remove it from the appup",
}

_BARE = {
    "too_many_point_of_no_return": "the appup script of one application holds point_of_no_return more than "
    "once; keep a single point_of_no_return in it",
    "dup_mnesia_backup": "the script holds more than one mnesia_backup instruction; keep one at most",
    "bad_mnesia_backup": "the mnesia_backup instruction stands where it is not allowed; move or remove it",
}

_NO_SUCH_APPLICATION = {
    ("add_application", "installed"): "{instr} needs {v} in the release being installed, which has no "
    "application {v}; add {v} to that release, or drop the instruction",
    ("remove_application", "replaced"): "{instr} needs {v} in the release being replaced, which has no "
    "application {v}; drop the instruction",
    ("restart_application", "replaced"): "{instr} needs {v} in the release being replaced, which has no "
    "application {v}; use add_application for an application new in the release being installed",
    ("restart_application", "installed"): "{instr} needs {v} in the release being installed, which has no "
    "application {v}; add {v} to that release, or use remove_application for an application it drops",
}
_NO_SUCH_APPLICATION_ALONE = (
    "an add_application, remove_application or restart_application instruction names {v}, which a release "
    "it needs does not have (add_application needs it in the release being installed, remove_application in "
    "the release being replaced, restart_application in both); add {v} to that release, or drop the instruction"
)


def format_error(reason: object) -> str:
    """A one-line message of our own for a ``translate_scripts`` error ``reason``: its tag, the
    module, application, instruction or version it names, what is wrong and what to do.

    :class:`RelupScriptError` messages say more where the translation knows more (the instruction
    at fault, upgrade or downgrade); this is what the reason alone tells.
    """
    return _message(_atoms_only(reason), "upgrade or downgrade", {})


def _message(reason: object, change: str, context: dict) -> str:
    if isinstance(reason, Atom):
        explanation = _BARE.get(str(reason))
        return f"{_term(reason)}: {explanation}" if explanation else _unexpected(reason)
    tag = _tag(reason)
    if tag == "conflicting_versions" and len(reason) == 4:
        _tag_atom, lib, first, last = reason
        return (
            f"conflicting_versions {_term(lib)}: load_object_code instructions of this {change} load application "
            f"{_term(lib)} at version {_term(first)} and at version {_term(last)}; all of them must name the "
            f"version of {_term(lib)} in the release being installed"
        )
    if tag is None or len(reason) != 2:
        return _unexpected(reason)
    value = reason[1]
    v = _term(value)
    instr = context.get("instr")
    if tag == "bad_instruction":
        return (
            f"bad_instruction {v}: {v} is not an appup instruction; write it in one of the forms the appup "
            "manual describes (update, load_module, add_module, delete_module, add_application, apply, ...)"
        )
    if tag in _SYNTAX:
        if instr is not None and context.get("detail"):
            return f"{tag} {v}: in the instruction {_term(instr)}, {context['detail']}"
        return f"{tag} {v}: {v} {_SYNTAX[tag]}; correct the instruction that holds it"
    if tag == "no_such_application":
        template = _NO_SUCH_APPLICATION_ALONE
        if instr is not None:
            template = _NO_SUCH_APPLICATION.get((_tag(instr), context.get("missing_in")), template)
    else:
        template = _EXPLAIN.get(tag)
        if template is None:
            return _unexpected(reason)
    where = f"the instruction for {_term(instr[1])}" if _tag(instr) is not None and len(instr) > 1 else "an instruction"
    if instr is None:
        instr_text = {"no_object_code": "a load instruction", "removed_application_present": "remove_application"}
        shown = instr_text.get(tag, "an instruction")
    else:
        shown = _term(instr)
    return f"{tag} {v}: " + template.format(v=v, change=change, where=where, instr=shown)


def _unexpected(reason: object) -> str:
    return (
        f"{_term(reason)}: systools_rc refused the scripts for a reason this collection does not know; check "
        "the appup instructions that reason names"
    )
