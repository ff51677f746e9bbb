# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The appup grammar exactly as OTP's ``systools`` accepts it.

PRIVATE to the erlang.otp collection: may change at any time.

An ``.appup`` file holds ``{Vsn, UpFrom, DownTo}``; ``UpFrom``/``DownTo`` are lists of
``{VsnOrRegex, Instructions}``. ``systools:make_relup`` reads the first term of the file, picks the
first entry whose key matches the other release's version (a string by equality, a binary as a
PCRE regex whose leftmost match must span the whole version) and hands its instructions to
``systools_rc:translate_scripts/4``, which expands the short forms (``expand_script``) and checks
every instruction (``check_op``) before translating.

This module ports those rules (OTP 25 ``systools_rc.erl`` and ``systools_relup.erl``) so that an
appup can be judged without a release or an Erlang node:

* :func:`expand_script` is ``systools_rc:expand_script/1``;
* :func:`validate_instruction` is ``check_op/1`` after expansion: the first error ``systools`` would
  throw for that instruction, under the same name (``bad_module``, ``bad_purge_method``...);
* :func:`validate_instructions` checks one entry's list as ``translate_scripts`` does with nothing
  else merged in: the syntax of every instruction, ``point_of_no_return`` placement, a
  ``load_object_code`` for every low-level ``load``, balanced ``suspend``/``resume`` and
  ``stop``/``start``, no module named by two dependency instructions (``muldef_module``), every
  DepMod the module of a dependency instruction (``undef_module``), no library loaded at two
  versions (``conflicting_versions``);
* :func:`validate_appup` checks the whole term: its shape, every key and every entry.

What needs the releases (the modules of an application, ``add_application`` of a known
application...) is for :mod:`._appup_check`.

Binary version keys are PCRE regexes. :func:`pcre_to_python` rewrites one into Python ``re`` syntax
with the same meaning, or raises :class:`UnsupportedRegex` for PCRE-only syntax (possessive
quantifiers, atomic groups, ``\\K``, ``\\R``, recursion, backtracking verbs, Unicode properties...);
:func:`version_matches` applies ``systools``' rule (``re:run(Vsn, Key, [unicode, {capture, first,
list}])`` must return the whole version: this is not anchoring, ``<<"1\\\\.0|1\\\\.0\\\\.1">>`` does
not match ``"1.0.1"``).
"""

from __future__ import annotations

import re
import warnings

from ansible_collections.erlang.otp.plugins.module_utils._term_text import TermSyntaxError, format_term, parse
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ImproperList

__all__ = [
    "Finding",
    "UnsupportedRegex",
    "check_op_error",
    "dep_modules",
    "expand_script",
    "find_entry",
    "instruction_text",
    "key_text",
    "normalized_entry",
    "parse_appup",
    "pcre_to_python",
    "regex_problem",
    "term_text",
    "validate_appup",
    "validate_instruction",
    "validate_instructions",
    "version_matches",
]

ERROR = "error"
WARNING = "warning"

#: The high-level instructions that take DepMods (``?DEP_INSTRS`` in systools_rc).
DEP_INSTRS = ("update", "load_module", "add_module", "delete_module")


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------


class Finding:
    """One problem in an appup.

    ``code`` is the name ``systools`` gives the error (``bad_module``, ``undef_module``...) or, for
    checks ``systools`` does not make, a name of ours (``missing_module``, ``not_inverse``...).
    ``direction`` is ``"up"`` or ``"down"``; ``key`` the entry's version key as written (a version,
    or ``<<"regex">>``); ``from_vsn``/``to_vsn`` the versions of the upgrade or downgrade the entry
    is for (the key standing in for the older version); ``instruction`` the instruction as Erlang
    term text; ``index`` its 1-based position in the entry.
    """

    __slots__ = (
        "app",
        "code",
        "direction",
        "from_vsn",
        "index",
        "instruction",
        "key",
        "message",
        "severity",
        "source",
        "to_vsn",
    )

    def __init__(
        self,
        severity: str,
        code: str,
        message: str,
        *,
        source: str | None = None,
        app: str | None = None,
        direction: str | None = None,
        key: str | None = None,
        from_vsn: str | None = None,
        to_vsn: str | None = None,
        instruction: str | None = None,
        index: int | None = None,
    ) -> None:
        if severity not in (ERROR, WARNING):
            raise ValueError(f"severity must be {ERROR!r} or {WARNING!r}, not {severity!r}")
        self.severity = severity
        self.code = code
        self.message = message
        self.source = source
        self.app = app
        self.direction = direction
        self.key = key
        self.from_vsn = from_vsn
        self.to_vsn = to_vsn
        self.instruction = instruction
        self.index = index

    def with_context(self, **context: object) -> Finding:
        """A copy with the given fields filled in where this finding has none."""
        values = {name: getattr(self, name) for name in self.__slots__}
        for name, value in context.items():
            if values.get(name) is None:
                values[name] = value
        severity = values.pop("severity")
        code = values.pop("code")
        message = values.pop("message")
        return Finding(severity, code, message, **values)

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in sorted(self.__slots__)}

    def where(self) -> str:
        """``file: app from -> to (up, instruction 3)``: the parts that are known."""
        parts = []
        if self.source:
            parts.append(self.source)
        what = []
        if self.app:
            what.append(self.app)
        if self.from_vsn is not None or self.to_vsn is not None:
            what.append(f"{self.from_vsn or '?'} -> {self.to_vsn or '?'}")
        detail = []
        if self.direction:
            detail.append(self.direction)
        if self.index is not None:
            detail.append(f"instruction {self.index}")
        if detail:
            what.append(f"({', '.join(detail)})")
        if what:
            parts.append(" ".join(what))
        return ": ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: " if where else ""
        text += f"{self.severity}: {self.message}"
        if self.instruction is not None:
            text += f" [{self.instruction}]"
        return text

    def __repr__(self) -> str:
        return f"Finding({self.severity!r}, {self.code!r}, {self.message!r}, instruction={self.instruction!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.severity, self.code, self.message, self.instruction, self.index))


def term_text(term: object) -> str:
    """``term`` as Erlang prints it with ``~tp``, on one line."""
    return format_term(term, width=1 << 30)


def instruction_text(instr: object) -> str:
    """An instruction as Erlang term text (one line)."""
    return term_text(instr)


def key_text(key: object) -> str:
    """An entry key as written: the version itself for a string, term text otherwise."""
    if isinstance(key, str) and not isinstance(key, Atom):
        return key
    return term_text(key)


# ---------------------------------------------------------------------------------------------
# Erlang type tests on Python terms (see _terms for the mapping)
# ---------------------------------------------------------------------------------------------


def _is_atom(term: object) -> bool:
    return isinstance(term, (Atom, bool))


def _atom_is(term: object, name: str) -> bool:
    if isinstance(term, bool):
        return name == ("true" if term else "false")
    return isinstance(term, Atom) and str(term) == name


def _is_list(term: object) -> bool:
    """``is_list/1``: a string, a list or an improper list (``[a|b]`` is a list to Erlang)."""
    return isinstance(term, (list, ImproperList)) or (isinstance(term, str) and not isinstance(term, Atom))


def _is_integer(term: object) -> bool:
    return isinstance(term, int) and not isinstance(term, bool)


def _elements(term: object) -> tuple[list, bool]:
    """The elements of a list-like term and whether the list is proper."""
    if isinstance(term, ImproperList):
        return list(term.items), False
    if isinstance(term, str):
        return [ord(c) for c in term], True
    return list(term), True


def _tagged(term: object, tag: str, size: int) -> bool:
    return isinstance(term, tuple) and len(term) == size and _atom_is(term[0], tag)


def _is_string(term: object) -> bool:
    """An Erlang string: a ``str`` or a proper list of Unicode code points."""
    if isinstance(term, str) and not isinstance(term, Atom):
        return True
    return isinstance(term, list) and all(
        _is_integer(c) and 0 <= c <= 0x10FFFF and not 0xD800 <= c <= 0xDFFF for c in term
    )


def _string_value(term: object) -> str:
    if isinstance(term, str):
        return str(term)
    return "".join(chr(c) for c in term)


# ---------------------------------------------------------------------------------------------
# expand_script (systools_rc:expand_script/1)
# ---------------------------------------------------------------------------------------------

_BRUTAL = Atom("brutal_purge")


def _expand_one(instr: object) -> object:
    if isinstance(instr, tuple) and instr and isinstance(instr[0], Atom):
        tag, size = str(instr[0]), len(instr)
        if tag == "load_module":
            if size == 2:
                return (instr[0], instr[1], _BRUTAL, _BRUTAL, [])
            if size == 3 and _is_list(instr[2]):
                return (instr[0], instr[1], _BRUTAL, _BRUTAL, instr[2])
        elif tag == "update":
            if size == 2:
                return (instr[0], instr[1], Atom("soft"), _BRUTAL, _BRUTAL, [])
            if size == 3:
                arg = instr[2]
                if _atom_is(arg, "supervisor"):
                    return (
                        instr[0],
                        instr[1],
                        Atom("static"),
                        Atom("default"),
                        (Atom("advanced"), []),
                        _BRUTAL,
                        _BRUTAL,
                        [],
                    )
                if isinstance(arg, tuple) or _atom_is(arg, "soft"):
                    return (instr[0], instr[1], arg, _BRUTAL, _BRUTAL, [])
                if _is_list(arg):
                    return (instr[0], instr[1], Atom("soft"), _BRUTAL, _BRUTAL, arg)
            if size == 4 and (isinstance(instr[2], tuple) or _atom_is(instr[2], "soft")) and _is_list(instr[3]):
                return (instr[0], instr[1], instr[2], _BRUTAL, _BRUTAL, instr[3])
        elif tag == "add_application" and size == 2:
            return (instr[0], instr[1], Atom("permanent"))
    return instr


class _Expanded:
    """One instruction after expansion, with the position of the instruction it came from."""

    __slots__ = ("index", "instr", "original", "spliced")

    def __init__(self, index: int, original: object, instr: object, spliced: bool) -> None:
        self.index = index
        self.original = original
        self.instr = instr
        self.spliced = spliced


def _expand(instrs: list) -> tuple[list, list]:
    """Expanded instructions and the errors met while expanding (nested improper lists)."""
    out: list = []
    errors: list = []
    for index, instr in enumerate(instrs, 1):
        expanded = _expand_one(instr)
        if _is_list(expanded):
            # systools splices a list in place -- without expanding what it holds.
            items, proper = _elements(expanded)
            if not proper:
                errors.append(
                    (
                        index,
                        instr,
                        "improper_list",
                        "a nested instruction list must be a proper list (systools crashes)",
                    )
                )
                continue
            out.extend(_Expanded(index, instr, item, True) for item in items)
        else:
            out.append(_Expanded(index, instr, expanded, False))
    return out, errors


def expand_script(instrs: list) -> list:
    """``systools_rc:expand_script/1``: short forms expanded, nested lists spliced in unexpanded.

    Raises ``ValueError`` where systools crashes (a nested improper list).
    """
    expanded, errors = _expand(instrs)
    if errors:
        raise ValueError(f"instruction {errors[0][0]}: {errors[0][3]}")
    return [e.instr for e in expanded]


# ---------------------------------------------------------------------------------------------
# check_op (systools_rc:check_op/1)
# ---------------------------------------------------------------------------------------------


class _Bad(Exception):
    """What ``check_op/1`` throws: ``{code, value}`` (``value`` is the term systools names)."""

    def __init__(self, code: str, message: str, value: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.value = value


def _check_mod(mod: object, role: str = "module") -> None:
    if not _is_atom(mod):
        raise _Bad("bad_module", f"{role} {term_text(mod)} must be an atom (a module name)", mod)


def _check_mods(mods: object, role: str) -> None:
    _check_list(mods, role)
    items, proper = _elements(mods)
    for mod in items:
        _check_mod(mod, f"{role} element")
    if not proper:
        raise _Bad("improper_list", f"{role} {term_text(mods)} must be a proper list (systools crashes on it)", mods)


def _check_change(change: object) -> None:
    if _atom_is(change, "soft") or (isinstance(change, tuple) and len(change) == 2 and _atom_is(change[0], "advanced")):
        return
    raise _Bad("bad_change", f"change {term_text(change)} must be soft or {{advanced, Extra}}", change)


def _check_mod_type(mod_type: object) -> None:
    if not (_atom_is(mod_type, "static") or _atom_is(mod_type, "dynamic")):
        raise _Bad("bad_mod_type", f"module type {term_text(mod_type)} must be static or dynamic", mod_type)


def _check_purge(purge: object, role: str) -> None:
    if not (_atom_is(purge, "soft_purge") or _atom_is(purge, "brutal_purge")):
        raise _Bad("bad_purge_method", f"{role} method {term_text(purge)} must be soft_purge or brutal_purge", purge)


def _check_list(term: object, role: str) -> None:
    if not _is_list(term):
        raise _Bad("bad_list", f"{role} {term_text(term)} must be a list", term)


def _check_args(args: object) -> None:
    if not _is_list(args):
        raise _Bad("bad_args_list", f"argument list {term_text(args)} must be a list", args)


def _check_node(node: object) -> None:
    if not _is_atom(node):
        raise _Bad("bad_node", f"node {term_text(node)} must be an atom", node)


def _check_appl(appl: object) -> None:
    if not _is_atom(appl):
        raise _Bad("bad_application", f"application {term_text(appl)} must be an atom", appl)


_START_TYPES = ("none", "load", "temporary", "transient", "permanent")


def _check_start_type(start_type: object) -> None:
    if not any(_atom_is(start_type, t) for t in _START_TYPES):
        raise _Bad(
            "bad_start_type", f"start type {term_text(start_type)} must be one of {', '.join(_START_TYPES)}", start_type
        )


def _check_func(func: object) -> None:
    if not _is_atom(func):
        raise _Bad("bad_func", f"function {term_text(func)} must be an atom", func)


def _check_lib(lib: object) -> None:
    if not _is_atom(lib):
        raise _Bad("bad_lib", f"library {term_text(lib)} must be an atom (an application name)", lib)


def _check_lib_vsn(lib_vsn: object) -> None:
    if not _is_list(lib_vsn):
        raise _Bad("bad_lib_vsn", f"library version {term_text(lib_vsn)} must be a string", lib_vsn)


def _check_timeout(timeout: object) -> None:
    if _atom_is(timeout, "default") or _atom_is(timeout, "infinity") or (_is_integer(timeout) and timeout > 0):
        return
    raise _Bad("bad_timeout", f"timeout {term_text(timeout)} must be default, infinity or an integer > 0", timeout)


def _check_mode(mode: object) -> None:
    if not (_atom_is(mode, "up") or _atom_is(mode, "down")):
        raise _Bad("bad_mode", f"code_change mode {term_text(mode)} must be up or down", mode)


def _check_code_change_list(mods: object) -> None:
    items, proper = _elements(mods)
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:
            _check_mod(item[0], "code_change module")
        else:
            raise _Bad("bad_code_change", f"code_change element {term_text(item)} must be {{Module, Extra}}", item)
    if not proper:
        raise _Bad(
            "improper_list", f"code_change list {term_text(mods)} must be a proper list (systools crashes on it)", mods
        )


_BARE = frozenset(("restart", "reboot", "point_of_no_return", "restart_new_emulator", "restart_emulator"))


def _check_op(op: object) -> None:
    """Raise :class:`_Bad` as ``check_op/1`` throws: same clause order, same first error."""
    if isinstance(op, Atom):
        if str(op) in _BARE:
            return
        if str(op) == "mnesia_backup":
            raise _Bad("not_yet_implemented", "mnesia_backup is not implemented by systools", op)
        raise _Bad("bad_instruction", "not an appup instruction", op)
    if not (isinstance(op, tuple) and op and isinstance(op[0], Atom)):
        raise _Bad("bad_instruction", "not an appup instruction", op)
    tag, size = str(op[0]), len(op)
    if tag == "update" and size in (6, 7, 8):
        _check_mod(op[1])
        rest = list(op[2:])
        if size == 8:
            _check_mod_type(rest.pop(0))
        if size >= 7:
            _check_timeout(rest.pop(0))
        change, pre, post, mods = rest
        _check_change(change)
        _check_purge(pre, "pre-purge")
        _check_purge(post, "post-purge")
        _check_mods(mods, "dependency list")
    elif tag == "load_module" and size == 5:
        _check_mod(op[1])
        _check_purge(op[2], "pre-purge")
        _check_purge(op[3], "post-purge")
        _check_mods(op[4], "dependency list")
    elif tag in ("add_module", "delete_module") and size in (2, 3):
        _check_mod(op[1])
        if size == 3:
            _check_mods(op[2], "dependency list")
    elif tag in ("remove_application", "restart_application") and size == 2:
        _check_appl(op[1])
    elif tag == "add_application" and size == 3:
        _check_appl(op[1])
        _check_start_type(op[2])
    elif tag == "load_object_code" and size == 2 and isinstance(op[1], tuple) and len(op[1]) == 3:
        lib, lib_vsn, mods = op[1]
        _check_lib(lib)
        _check_lib_vsn(lib_vsn)
        _check_mods(mods, "module list")
    elif tag in ("load", "remove") and size == 2 and isinstance(op[1], tuple) and len(op[1]) == 3:
        _check_mod(op[1][0])
        _check_purge(op[1][1], "pre-purge")
        _check_purge(op[1][2], "post-purge")
    elif tag in ("purge", "resume", "stop", "start") and size == 2:
        _check_mods(op[1], "module list")
    elif tag == "suspend" and size == 2:
        _check_list(op[1], "module list")
        items, proper = _elements(op[1])
        for item in items:
            if isinstance(item, tuple) and len(item) == 2:
                _check_mod(item[0], "suspended module")
                _check_timeout(item[1])
            else:
                _check_mod(item, "suspended module")
        if not proper:
            raise _Bad(
                "improper_list",
                f"module list {term_text(op[1])} must be a proper list (systools crashes on it)",
                op[1],
            )
    elif tag == "code_change" and size == 2:
        _check_list(op[1], "code_change list")
        _check_code_change_list(op[1])
    elif tag == "code_change" and size == 3:
        _check_list(op[2], "code_change list")
        _check_mode(op[1])
        _check_code_change_list(op[2])
    elif tag == "sync_nodes" and size == 3:
        if isinstance(op[2], tuple) and len(op[2]) == 3:
            _check_mod(op[2][0])
            _check_func(op[2][1])
            _check_args(op[2][2])
        else:
            _check_list(op[2], "node list")
            items, proper = _elements(op[2])
            for node in items:
                _check_node(node)
            if not proper:
                raise _Bad(
                    "improper_list",
                    f"node list {term_text(op[2])} must be a proper list (systools crashes on it)",
                    op[2],
                )
    elif tag == "apply" and size == 2 and isinstance(op[1], tuple) and len(op[1]) == 3:
        _check_mod(op[1][0])
        _check_func(op[1][1])
        _check_args(op[1][2])
    else:
        raise _Bad("bad_instruction", "not an appup instruction", op)


def check_op_error(instr: object) -> tuple | None:
    """``systools_rc:check_op/1`` on one *expanded* instruction: ``None`` when it passes, else
    ``(code, value, message)`` -- systools throws ``{error, {code, value}}`` (``value`` is
    ``mnesia_backup`` for ``not_yet_implemented``), except for ``code`` ``"improper_list"``, where
    it crashes (``function_clause``) on the improper list ``value``."""
    try:
        _check_op(instr)
    except _Bad as bad:
        return bad.code, bad.value, bad.message
    return None


def validate_instruction(instr: object) -> Finding | None:
    """The first error ``systools`` throws for one appup instruction (after expansion), or ``None``.

    The finding's ``code`` is systools' error name (``bad_instruction``, ``bad_module``,
    ``bad_purge_method``, ...; ``improper_list`` where systools crashes instead) and its
    ``instruction`` the instruction as written.
    """
    expanded, errors = _expand([instr])
    if errors:
        return Finding(ERROR, errors[0][2], errors[0][3], instruction=instruction_text(instr))
    for item in expanded:
        try:
            _check_op(item.instr)
        except _Bad as bad:
            return Finding(ERROR, bad.code, _explain(item, bad.message), instruction=instruction_text(instr))
    return None


def _explain(item: _Expanded, message: str) -> str:
    if item.spliced:
        return (
            f"{message}: {instruction_text(item.instr)} sits in a nested list, which systools splices in "
            "without expanding short forms"
        )
    if item.instr is not item.original:
        return f"{message} (in the expanded form {instruction_text(item.instr)})"
    return message


# ---------------------------------------------------------------------------------------------
# One entry's instruction list (translate_scripts with only this script)
# ---------------------------------------------------------------------------------------------


def _normalized(instr: object) -> object:
    """``normalize_instrs``: updates to the 8-tuple form, ``add/delete_module`` with DepMods."""
    if not isinstance(instr, tuple) or not instr or not isinstance(instr[0], Atom):
        return instr
    tag = str(instr[0])
    if tag == "update" and len(instr) == 6:
        return (instr[0], instr[1], Atom("dynamic"), Atom("default"), *instr[2:])
    if tag == "update" and len(instr) == 7:
        return (instr[0], instr[1], Atom("dynamic"), *instr[2:])
    if tag in ("add_module", "delete_module") and len(instr) == 2:
        return (instr[0], instr[1], [])
    return instr


def normalized_entry(instrs: object) -> list[tuple[int, object, object]]:
    """A syntactically valid entry as systools sees it before translating, without
    ``point_of_no_return``: ``(index, instruction as written, instruction expanded and normalised)``
    (a nested list gives several tuples with the same index). Raises ``ValueError`` when
    :func:`validate_instructions` finds an error."""
    problems = [f for f in validate_instructions(instrs) if f.severity == ERROR]
    if problems:
        raise ValueError(str(problems[0]))
    expanded, _errors = _expand(_elements(instrs)[0])
    return [
        (e.index, e.original, _normalized(e.instr)) for e in expanded if not _atom_is(e.instr, "point_of_no_return")
    ]


def dep_modules(instr: object) -> list:
    """The DepMods of a normalised dependency instruction (its last element), as a list."""
    return _elements(instr[-1])[0]


def _is_dep(instr: object) -> bool:
    return isinstance(instr, tuple) and len(instr) > 1 and isinstance(instr[0], Atom) and str(instr[0]) in DEP_INSTRS


def _erl_equal(a: object, b: object) -> bool:
    """``==`` for the atoms and strings met here (an atom never equals a string)."""
    if _is_string(a) and _is_string(b) and not isinstance(a, Atom) and not isinstance(b, Atom):
        return _string_value(a) == _string_value(b)
    return a == b


def validate_instructions(instrs: object) -> list[Finding]:
    """Check one entry's instruction list as ``systools_rc:translate_scripts/4`` does on its own.

    Returns every problem found (``systools`` stops at the first). Findings carry ``index`` (the
    1-based position of the instruction as written) and ``instruction``; the caller adds the file,
    application and versions with :meth:`Finding.with_context`. ``undef_module`` is reported when
    a DepMod names no module of this entry's ``update``/``load_module``/``add_module``/
    ``delete_module`` instructions: ``systools`` fails then unless another application's appup of
    the same upgrade has such an instruction for it.
    """
    if not _is_list(instrs):
        return [Finding(ERROR, "bad_list", f"the instructions {term_text(instrs)} must be a list")]
    items, proper = _elements(instrs)
    findings: list[Finding] = []
    if not proper:
        findings.append(Finding(ERROR, "improper_list", "the instruction list is an improper list (systools crashes)"))
    expanded, errors = _expand(items)
    findings.extend(
        Finding(ERROR, code, message, index=index, instruction=instruction_text(instr))
        for index, instr, code, message in errors
    )

    # merge_scripts/split_script: at most one point_of_no_return, only apply and
    # load_object_code before it.
    ponrs = [e for e in expanded if _atom_is(e.instr, "point_of_no_return")]
    for extra in ponrs[1:]:
        findings.append(
            _at(extra, "too_many_point_of_no_return", "a second point_of_no_return (at most one is allowed)")
        )
    if ponrs:
        for e in expanded:
            if e is ponrs[0]:
                break
            if not (_is_tagged_2(e.instr, "load_object_code") or _is_tagged_2(e.instr, "apply")):
                findings.append(
                    _at(
                        e,
                        "bad_op_before_point_of_no_return",
                        "only apply and load_object_code may come before point_of_no_return",
                    )
                )

    bad_syntax = False
    for e in expanded:
        try:
            _check_op(e.instr)
        except _Bad as bad:
            bad_syntax = True
            findings.append(_at(e, bad.code, _explain(e, bad.message)))
    if bad_syntax or errors or not proper:
        return findings  # the structure below is only meaningful for well-formed instructions

    ordered = [(e, _normalized(e.instr)) for e in expanded if not _atom_is(e.instr, "point_of_no_return")]
    findings.extend(_check_structure(ordered))
    return findings


def _is_tagged_2(instr: object, tag: str) -> bool:
    return isinstance(instr, tuple) and len(instr) == 2 and _atom_is(instr[0], tag)


def _at(e: _Expanded, code: str, message: str, severity: str = ERROR) -> Finding:
    return Finding(severity, code, message, index=e.index, instruction=instruction_text(e.original))


def _check_structure(ordered: list) -> list[Finding]:
    findings: list[Finding] = []
    # check_load: every {load, {M, _, _}} needs a load_object_code naming M.
    object_code = set()
    for _e, instr in ordered:
        if _tagged(instr, "load_object_code", 2):
            object_code.update(_elements(instr[1][2])[0])
    for e, instr in ordered:
        if _tagged(instr, "load", 2) and instr[1][0] not in object_code:
            findings.append(
                _at(e, "no_object_code", f"no load_object_code instruction loads the code of {term_text(instr[1][0])}")
            )

    # check_suspend_resume and check_start_stop (the code_change check of systools never fires).
    def flat(tag: str) -> list:
        out = []
        for e, instr in ordered:
            if _tagged(instr, tag, 2):
                for item in _elements(instr[1])[0]:
                    out.append((e, item[0] if tag == "suspend" and isinstance(item, tuple) else item))
        return out

    for first, second, code, what in (
        ("suspend", "resume", "suspended_not_resumed", "suspended but never resumed"),
        ("resume", "suspend", "resumed_not_suspended", "resumed but never suspended"),
        ("start", "stop", "start_not_stop", "started but never stopped"),
        ("stop", "start", "stop_not_start", "stopped but never started"),
    ):
        others = {m for _e, m in flat(second)}
        for e, mod in flat(first):
            if mod not in others:
                findings.append(_at(e, code, f"{term_text(mod)} is {what}"))

    # make_dependency_graph: one dependency instruction per module, DepMods among them.
    deps = [(e, instr) for e, instr in ordered if _is_dep(instr)]
    seen: dict = {}
    for e, instr in deps:
        mod = instr[1]
        if mod in seen:
            findings.append(
                _at(e, "muldef_module", f"{term_text(mod)} already has an instruction (number {seen[mod].index})")
            )
        else:
            seen[mod] = e
    for e, instr in deps:
        for dep in dep_modules(instr):
            if dep not in seen:
                findings.append(
                    _at(
                        e,
                        "undef_module",
                        f"DepMod {term_text(dep)} is not the module of any update, load_module, add_module or "
                        "delete_module instruction of this entry",
                    )
                )

    # merge_load_object_code: one version per library.
    libs: dict = {}
    for e, instr in ordered:
        if _tagged(instr, "load_object_code", 2):
            lib, lib_vsn = instr[1][0], instr[1][1]
            if lib in libs and not _erl_equal(libs[lib], lib_vsn):
                findings.append(
                    _at(
                        e,
                        "conflicting_versions",
                        f"library {term_text(lib)} is loaded at version {term_text(libs[lib])} and "
                        f"{term_text(lib_vsn)}",
                    )
                )
            libs.setdefault(lib, lib_vsn)
    return findings


# ---------------------------------------------------------------------------------------------
# PCRE version keys
# ---------------------------------------------------------------------------------------------


class UnsupportedRegex(ValueError):
    """A regex Python's ``re`` cannot evaluate the way Erlang's ``re`` (PCRE) does, or an invalid one."""


_SIMPLE_ESCAPES = frozenset("dDwWsSbBAnrtfa")
# PCRE's \h and \v (Unicode mode), and the POSIX classes (ASCII, as without ucp), as Python set items.
_SPACE_SETS = {
    "h": "\\t \\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000",
    "v": "\\n\\x0b\\x0c\\r\\x85\\u2028\\u2029",
}
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "ascii": "\\x00-\\x7f",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\x0b\\x0c\\r ",
    "upper": "A-Z",
    "word": "a-zA-Z0-9_",
    "xdigit": "0-9A-Fa-f",
}
_UNSUPPORTED_ESCAPES = {
    "R": "\\R (any newline)",
    "X": "\\X (extended grapheme)",
    "C": "\\C (one code unit)",
    "K": "\\K (reset match start)",
    "G": "\\G (first match position)",
    "N": "\\N",
    "p": "\\p{...} (Unicode property)",
    "P": "\\P{...} (Unicode property)",
    "g": "\\g (back reference)",
    "k": "\\k (named back reference)",
    "E": "a stray \\E",
    "o": "\\o{...} (octal)",
    "u": "\\u",
    "U": "\\U",
    "l": "\\l",
    "L": "\\L",
}
_GROUP_FLAGS = frozenset("imsx")  # x is refused below: Python's verbose mode differs


def _translate_escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape at ``pattern[i] == '\\'``; return (python text, next index)."""
    if i + 1 >= len(pattern):
        raise UnsupportedRegex("the pattern ends with a lone backslash")
    c = pattern[i + 1]
    j = i + 2
    if c == "Q":
        end = pattern.find("\\E", j)
        literal = pattern[j:] if end < 0 else pattern[j:end]
        nxt = len(pattern) if end < 0 else end + 2
        if in_class:
            return "".join("\\" + ch if not ch.isalnum() else ch for ch in literal), nxt
        return re.escape(literal), nxt
    if c == "z" and not in_class:
        return "\\Z", j
    if c == "Z" and not in_class:
        return "(?=\\n?\\Z)", j
    if c == "e":
        return "\\x1b", j
    if c == "c":
        if j >= len(pattern) or not 32 <= ord(pattern[j]) <= 126:
            raise UnsupportedRegex("\\c must be followed by a printable ASCII character")
        return f"\\x{ord(pattern[j].upper()) ^ 0x40:02x}", j + 1
    if c == "x":
        if j < len(pattern) and pattern[j] == "{":
            end = pattern.find("}", j)
            digits = pattern[j + 1 : end] if end > 0 else ""
            if not digits or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
                raise UnsupportedRegex(f"bad \\x{{...}} escape in {pattern!r}")
            value = int(digits, 16)
            if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise UnsupportedRegex(f"\\x{{{digits}}} is not a Unicode character")
            return f"\\U{value:08x}", end + 1
        k = j
        while k < len(pattern) and k < j + 2 and pattern[k] in "0123456789abcdefABCDEF":
            k += 1
        return f"\\x{int(pattern[j:k] or '0', 16):02x}", k
    if c == "0":
        k = j
        while k < len(pattern) and k < j + 2 and pattern[k] in "01234567":
            k += 1
        return f"\\x{int(pattern[i + 1 : k], 8):02x}", k
    if c.isdigit():
        if in_class:
            raise UnsupportedRegex(f"octal escape \\{c}... inside a character class")
        if j < len(pattern) and pattern[j].isdigit():
            raise UnsupportedRegex("multi-digit back references or octal escapes (\\NN)")
        return "\\" + c, j
    if c.lower() in _SPACE_SETS:
        items = _SPACE_SETS[c.lower()]
        if not in_class:
            return f"[{'^' if c.isupper() else ''}{items}]", j
        if c.isupper():
            raise UnsupportedRegex(f"\\{c} inside a character class")
        return items, j
    if c in _SIMPLE_ESCAPES:
        if in_class and c in "AB":
            raise UnsupportedRegex(f"\\{c} inside a character class")
        return "\\" + c, j
    if c in _UNSUPPORTED_ESCAPES:
        raise UnsupportedRegex(f"PCRE-only escape {_UNSUPPORTED_ESCAPES[c]}")
    if ord(c) > 127:
        return c, j
    if c.isalnum():
        raise UnsupportedRegex(f"unknown escape \\{c}")
    return "\\" + c, j


def _translate_class(pattern: str, i: int) -> tuple[str, int]:
    """Translate a character class starting at ``pattern[i] == '['``."""
    out = ["["]
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        out.append("^")
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        out.append("\\]")
        j += 1
    while j < len(pattern):
        ch = pattern[j]
        if ch == "]":
            out.append("]")
            return "".join(out), j + 1
        if ch == "\\":
            text, j = _translate_escape(pattern, j, in_class=True)
            out.append(text)
            continue
        if ch == "[" and j + 1 < len(pattern) and pattern[j + 1] in ":.=":
            m = re.compile(r"\[:([a-z]+):\]").match(pattern, j)
            if m is None or m.group(1) not in _POSIX_CLASSES:
                raise UnsupportedRegex("POSIX collating elements, negated or unknown POSIX classes ([.x.], [:^alpha:])")
            out.append(_POSIX_CLASSES[m.group(1)])
            j = m.end()
            continue
        if ch in "[&~|":
            # Python warns about (and may one day change) these inside sets: keep them literal.
            out.append("\\" + ch)
            j += 1
            continue
        out.append(ch)
        j += 1
    raise UnsupportedRegex("missing ] at the end of a character class")


_QUANT = re.compile(r"\{(\d+)(,(\d*))?\}")


def pcre_to_python(pattern: str) -> str:
    """Rewrite a PCRE pattern (as Erlang's ``re`` reads it) into Python ``re`` syntax.

    Raises :class:`UnsupportedRegex` for syntax Python's ``re`` has no equivalent for, or that is
    not valid PCRE. Compile the result with ``re.ASCII``: Erlang's ``re`` (``unicode`` without
    ``ucp``) keeps ``\\d``, ``\\s`` and ``\\w`` ASCII-only -- except that a single ``\\w`` (or ``\\b``)
    also takes Latin-1 letters from its tables while a repeated one does not, so
    :func:`version_matches` refuses those escapes on versions with non-ASCII characters.
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    depth = 0
    can_repeat = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            letter = pattern[i + 1 : i + 2]
            text, i = _translate_escape(pattern, i, in_class=False)
            out.append(text)
            can_repeat = letter not in ("b", "B", "A", "z", "Z")  # PCRE refuses to repeat assertions
        elif ch == "[":
            text, i = _translate_class(pattern, i)
            out.append(text)
            can_repeat = True
        elif ch == "(":
            rest = pattern[i + 1 :]
            if rest.startswith("*"):
                raise UnsupportedRegex("PCRE backtracking verbs and options ((*UTF), (*SKIP), ...)")
            if rest.startswith("?"):
                ext = rest[1:]
                if ext.startswith("#"):
                    end = pattern.find(")", i)
                    if end < 0:
                        raise UnsupportedRegex("missing ) after a (?# comment")
                    i = end + 1
                    continue
                if ext[:1] in (":", "=", "!") or ext.startswith(("<=", "<!")):
                    head = "(?" + (ext[:2] if ext.startswith("<") else ext[:1])
                    out.append(head)
                    i += len(head)
                elif ext.startswith("P<"):
                    out.append("(?P<")
                    i += 4
                elif ext.startswith("P="):
                    end = pattern.find(")", i)
                    if end < 0:
                        raise UnsupportedRegex("missing ) after (?P=")
                    out.append(pattern[i : end + 1])
                    i = end + 1
                    can_repeat = True
                    continue
                elif ext.startswith("<") or ext.startswith("'"):
                    close = ">" if ext[0] == "<" else "'"
                    end = pattern.find(close, i + 3)
                    name = pattern[i + 3 : end] if end > 0 else ""
                    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", name):
                        raise UnsupportedRegex(f"bad group name in {pattern!r}")
                    out.append(f"(?P<{name}>")
                    i = end + 1
                else:
                    m = re.match(r"([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])", ext)
                    if m is None:
                        raise UnsupportedRegex(
                            "PCRE-only group syntax (atomic groups, branch reset, recursion, conditionals, callouts)"
                        )
                    on, off, end_char = m.group(1), m.group(2) or "", m.group(3)
                    if not set(on + off) <= _GROUP_FLAGS:
                        raise UnsupportedRegex(f"inline option letters {on + off!r} (Python knows i, m, s)")
                    if "x" in on + off:
                        raise UnsupportedRegex("extended mode (?x)")
                    if end_char == ")":
                        if off or (on and out):
                            raise UnsupportedRegex("an inline option setting (?flags) not at the start of the pattern")
                        if on:
                            out.append(f"(?{on})")
                        i += 2 + m.end()
                        continue
                    out.append(f"(?{on}{'-' + off if off else ''}:" if on or off else "(?:")
                    i += 2 + m.end()
                depth += 1
                can_repeat = False
                continue
            out.append("(")
            i += 1
            depth += 1
            can_repeat = False
        elif ch == ")":
            if depth == 0:
                raise UnsupportedRegex("unmatched ) in the pattern")
            depth -= 1
            out.append(")")
            i += 1
            can_repeat = True
        elif ch in "*+?":
            if not can_repeat:
                raise UnsupportedRegex(f"nothing to repeat before {ch!r}")
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "+":
                raise UnsupportedRegex("possessive quantifiers (*+, ++, ?+, {n,m}+)")
            if i < n and pattern[i] == "?":
                out.append("?")
                i += 1
            if i < n and pattern[i] in "*{" and not (pattern[i] == "{" and not _QUANT.match(pattern, i)):
                raise UnsupportedRegex("a quantifier that follows a quantifier")
            can_repeat = False
        elif ch == "{":
            m = _QUANT.match(pattern, i)
            if m is None:
                out.append("\\{")  # PCRE reads it literally ({,n} too, which Python would repeat)
                i += 1
                can_repeat = True
                continue
            if not can_repeat:
                raise UnsupportedRegex("nothing to repeat before a {n,m} quantifier")
            low = int(m.group(1))
            high = m.group(3)
            if high and int(high) < low:
                raise UnsupportedRegex("numbers out of order in a {n,m} quantifier")
            if low > 65535 or (high and int(high) > 65535):
                raise UnsupportedRegex("a {n,m} quantifier above 65535")
            out.append(m.group(0))
            i = m.end()
            if i < n and pattern[i] == "+":
                raise UnsupportedRegex("possessive quantifiers (*+, ++, ?+, {n,m}+)")
            if i < n and pattern[i] == "?":
                out.append("?")
                i += 1
            if i < n and (pattern[i] in "*+?" or (pattern[i] == "{" and _QUANT.match(pattern, i))):
                raise UnsupportedRegex("a quantifier that follows a quantifier")
            can_repeat = False
        elif ch == "}":
            out.append("\\}")
            i += 1
            can_repeat = True
        else:
            out.append(ch)
            i += 1
            can_repeat = ch not in "^$|"
    if depth:
        raise UnsupportedRegex("missing ) in the pattern")
    return "".join(out)


def _compile(pattern: str) -> re.Pattern:
    python = pcre_to_python(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(python, re.ASCII)
    except re.error as exc:
        raise UnsupportedRegex(f"Python's re cannot compile it ({exc})") from None


def _regex_pattern(key: bytes) -> str:
    try:
        pattern = bytes(key).decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedRegex("the regex is not valid UTF-8 (Erlang's re:run fails with badarg)") from None
    if _caseless(pattern) and any(ord(c) > 127 for c in pattern):
        raise UnsupportedRegex("case-insensitive matching of non-ASCII characters")
    return pattern


def _caseless(pattern: str) -> bool:
    return re.search(r"\(\?[a-zA-Z]*i[a-zA-Z]*[:)]", pattern) is not None


def regex_problem(key: bytes) -> str | None:
    """Why Python cannot evaluate the binary version key ``key`` like Erlang does, or ``None``."""
    try:
        _compile(_regex_pattern(key))
    except UnsupportedRegex as exc:
        return str(exc)
    return None


def version_matches(key: object, vsn: str) -> bool:
    """Whether the entry key ``key`` selects version ``vsn`` (``appup_search_for_version``).

    A string key matches by equality; a binary key matches when the leftmost match of the regex
    in ``vsn`` is the whole of ``vsn``; any other key never matches. Raises
    :class:`UnsupportedRegex` for a binary that cannot be evaluated.
    """
    if isinstance(key, Atom):
        return False
    if isinstance(key, (bytes, bytearray)):
        pattern = _regex_pattern(bytes(key))
        if any(ord(c) > 127 for c in vsn):
            if _caseless(pattern):
                raise UnsupportedRegex("case-insensitive matching of a version with non-ASCII characters")
            if re.search(r"\\[wWbB]", pattern):
                raise UnsupportedRegex("\\w, \\W, \\b or \\B on a version with non-ASCII characters")
        m = _compile(pattern).search(vsn)
        return m is not None and m.group(0) == vsn
    if _is_string(key):
        return _string_value(key) == vsn
    return False


def find_entry(entries: list, vsn: str) -> tuple[int, object] | None:
    """The first ``{Key, Instructions}`` of ``entries`` whose key selects ``vsn``: (index, instructions).

    Entries that are not 2-tuples are skipped, as systools skips them. Raises
    :class:`UnsupportedRegex` when a regex met before the match cannot be evaluated.
    """
    for index, entry in enumerate(entries):
        if isinstance(entry, tuple) and len(entry) == 2 and version_matches(entry[0], vsn):
            return index, entry[1]
    return None


# ---------------------------------------------------------------------------------------------
# The appup file
# ---------------------------------------------------------------------------------------------


def parse_appup(data: bytes | str, source: str) -> tuple[object, list[Finding]]:
    """Read an appup file as ``systools_lib:read_term/1`` does: (first term or ``None``, findings)."""
    try:
        terms = parse(data, source)
    except TermSyntaxError as exc:
        line = f" (line {exc.line})" if exc.line is not None else ""
        return None, [
            Finding(
                ERROR, "file_problem", f"the file cannot be read as Erlang terms{line}: {exc.message}", source=source
            )
        ]
    if not terms:
        return None, [Finding(ERROR, "file_problem", "the file holds no term", source=source)]
    findings = []
    if len(terms) > 1:
        findings.append(
            Finding(
                WARNING,
                "extra_terms",
                f"the file holds {len(terms)} terms; systools reads only the first",
                source=source,
            )
        )
    return terms[0], findings


def validate_appup(term: object, source: str, *, app: str | None = None) -> list[Finding]:
    """Check an appup term: its shape, every entry key and every entry's instructions.

    Errors are what makes ``systools`` fail (or crash) when the entry is used; warnings are what it
    silently ignores but is almost certainly a mistake (an entry that is not ``{Key, Instrs}``, a
    key that can never match, an entry hidden by an earlier one, a regex Python cannot evaluate).
    """
    context = {"source": source, "app": app}
    if not (isinstance(term, tuple) and len(term) == 3):
        return [
            Finding(
                ERROR,
                "file_problem",
                f"an appup is {{Vsn, UpFrom, DownTo}}, not {_short(term)}",
                **context,
            )
        ]
    vsn, up, down = term
    findings: list[Finding] = []
    vsn_text = None
    if _is_string(vsn):
        vsn_text = _string_value(vsn)
    elif isinstance(vsn, (bytes, bytearray)):
        # systools compares it with the application's version as a string (only a bad_vsn
        # warning); erlang.otp's overrides use a regex here to say which versions they serve.
        findings.append(
            Finding(
                WARNING,
                "bad_vsn",
                f"the appup's version {term_text(vsn)} is a binary: systools compares it with the application's "
                "version string and warns (bad_vsn); only an override may use a regex here",
                **context,
            )
        )
    else:
        findings.append(Finding(ERROR, "bad_vsn", f"the appup's version {term_text(vsn)} must be a string", **context))
    for direction, entries in (("up", up), ("down", down)):
        findings.extend(_validate_entries(direction, entries, vsn_text, context))
    return findings


def _short(term: object, limit: int = 60) -> str:
    text = term_text(term)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _validate_entries(direction: str, entries: object, vsn: str | None, context: dict) -> list[Finding]:
    what = "UpFrom" if direction == "up" else "DownTo"
    if not _is_list(entries) or (isinstance(entries, str) and entries):
        return [
            Finding(
                ERROR,
                "bad_list",
                f"{what} {_short(entries)} must be a list of {{Vsn, Instructions}}",
                direction=direction,
                **context,
            )
        ]
    items, proper = _elements(entries)
    findings: list[Finding] = []
    if not proper:
        findings.append(
            Finding(
                ERROR,
                "improper_list",
                f"{what} is an improper list (systools crashes on it)",
                direction=direction,
                **context,
            )
        )
    earlier: list = []  # (key, key text) of the entries before, for shadowing
    for position, entry in enumerate(items, 1):
        if not (isinstance(entry, tuple) and len(entry) == 2):
            findings.append(
                Finding(
                    WARNING,
                    "bad_entry",
                    f"{what} entry {position} {_short(entry)} is not {{Vsn, Instructions}}; systools skips it",
                    direction=direction,
                    **context,
                )
            )
            continue
        key, instrs = entry
        ktext = key_text(key)
        versions = _versions(direction, ktext, vsn)
        where = dict(context, direction=direction, key=ktext, **versions)
        findings.extend(_validate_key(key, ktext, earlier, where))
        earlier.append((key, ktext))
        findings.extend(f.with_context(**where) for f in validate_instructions(instrs))
    return findings


def _versions(direction: str, key: str, vsn: str | None) -> dict:
    if direction == "up":
        return {"from_vsn": key, "to_vsn": vsn}
    return {"from_vsn": vsn, "to_vsn": key}


def _validate_key(key: object, ktext: str, earlier: list, where: dict) -> list[Finding]:
    findings = []
    if isinstance(key, (bytes, bytearray)):
        problem = regex_problem(bytes(key))
        if problem is not None:
            findings.append(
                Finding(
                    WARNING,
                    "unsupported_regex",
                    f"version regex {ktext}: {problem}; which versions it selects cannot be checked here",
                    **where,
                )
            )
        return findings
    if not _is_string(key) or isinstance(key, Atom):
        findings.append(
            Finding(
                WARNING,
                "bad_key",
                f"version key {ktext} is neither a string nor a binary regex; systools never selects this entry",
                **where,
            )
        )
        return findings
    vsn = _string_value(key)
    for other, other_text in earlier:
        try:
            hit = version_matches(other, vsn)
        except UnsupportedRegex:
            continue
        if hit:
            findings.append(
                Finding(
                    WARNING,
                    "shadowed_entry",
                    f"the entry for {vsn} is never used: the earlier entry {other_text} already selects {vsn}",
                    **where,
                )
            )
            break
    return findings
