# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Relup generation in pure Python: a port of OTP's ``systools:make_relup``.

PRIVATE to the erlang.otp collection: may change at any time.

What is ported (OTP-25.2.3, ``lib/sasl/src``): ``systools_relup`` (``mk_relup`` with ``noexec``)
and the parts of ``systools_make:get_release/2`` that it depends on -- the ``.rel`` checks
(``check_rel``, ``mandatory_applications``), reading each ``.app`` (``parse_application``,
``override_include``), ``check_applications`` (undefined applications, duplicate registered names
and includes, ``add_top_apps_to_uses``), ``sort_used_and_incl_appls``, the duplicate-module check
of ``check_modules`` and ``sort_appls`` (the order of the applications in every script). The
low-level translation (``systools_rc:translate_scripts/4``) is
:func:`._relup_script.translate_scripts`.

Input is release *facts*: a :class:`~._release.Release` or :class:`~._release.ReleaseFacts` (see
:func:`make_relup`). systools searches a code path for each ``.app`` and ``.appup``; here each
application's ``app_spec`` and the top release's ``appup`` (or the ``appups`` argument) stand for
``lib/<app>-<vsn>/ebin/<app>.app`` and ``.appup``, and that relative directory is what error terms
name where systools names the directory it found (``Dir``, ``File``).

Results equal systools' (compared by ``tests/erlang/test_relup_vs_systools.py``):

* ``Relup.term`` is ``{TopVsn, UpList, DnList}`` with both lists in **reverse** order of
  ``bases`` (systools accumulates and never reverses).
* ``Relup.warnings`` are systools' warnings in its order (newest first): ``{bad_vsn, {AppupVsn,
  AppVsn}}``, ``{erts_vsn_changed, {{N1, V1}, {N2, V2}}}``, ``pre_R15_emulator_upgrade``; for every
  base the upgrade's warnings come before (in time) the downgrade's, all upgrades first.
* Errors are :class:`RelupError` whose ``module``/``reason`` are systools'
  ``{error, Module, Reason}``, with two representations: an ``#application{}`` record in a reason
  (``no_relup``) is given as the application's name, and file and directory names are relative to
  the release root as above. The ``#release{}`` record of ``missing_sasl`` is given in full
  (``{release, Name, Vsn, ErtsVsn, [{App, Vsn, Type}], [{App, [Incl]}]}``).

Where systools does not give an error term, we still refuse with a :class:`RelupError` whose
``reason`` is ``None``: systools crashes (an appup regular expression PCRE cannot compile, an up
or down list that is not a list), never returns (applications that include each other in a circle
hang ``add_top_apps_to_uses``), or gives a reason holding a stack trace (a ``.app`` value that
``unicode:characters_to_list`` rejects, a ``.app`` property list that is not a proper list).

Appup version keys that are binaries are regular expressions: systools accepts an entry when the
*leftmost* match of ``re:run(BaseVsn, Key, [unicode])`` spans the whole base version (so
``<<"1\\.0|1\\.0\\.1">>`` does not match ``"1.0.1"``). :func:`._appup_syntax.version_matches`
evaluates them the way PCRE does and refuses, with a clear error, what it cannot evaluate.

The order of the DepMods instructions inside a dependency component whose strongly connected
components do not form a chain is not determined by systools (``digraph_utils:topsort`` over ETS
order): :mod:`._relup_script` documents the deterministic tie-break it uses instead.
"""

from __future__ import annotations

from ansible_collections.erlang.otp.plugins.module_utils._appup_syntax import UnsupportedRegex, version_matches
from ansible_collections.erlang.otp.plugins.module_utils._relup_script import (
    Appl,
    RelupScriptError,
    translate_scripts,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import format_term
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ImproperList, canonical

__all__ = [
    "R15_SASL_VSN",
    "Relup",
    "RelupError",
    "RelupWarning",
    "appup_search_for_version",
    "get_release",
    "make_relup",
    "relup_entries",
    "sort_appls",
]

A = Atom

#: ``?R15_SASL_VSN``: an upgrade from a release whose sasl is older (Erlang string order) gets the
#: emulator restart at the end (``fix_r15_sasl_upgrade``).
R15_SASL_VSN = "2.2"

_APP_TYPES = ("permanent", "transient", "temporary", "none", "load")

_SYSTOOLS_MAKE = "systools_make"
_SYSTOOLS_RELUP = "systools_relup"
_SYSTOOLS_RC = "systools_rc"


class RelupError(ValueError):
    """Relup generation refused. ``module``/``reason``: systools' ``{error, Module, Reason}`` (the
    reason in the representation of the module docstring), or ``None`` where systools crashes."""

    def __init__(self, message: str, reason: object = None, module: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.module = module


class RelupWarning:
    """One of systools' warnings: ``term`` as systools returns it, ``message`` in English."""

    __slots__ = ("message", "term")

    def __init__(self, term: object, message: str) -> None:
        self.term = term
        self.message = message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RelupWarning) and canonical(self.term) == canonical(other.term)

    def __hash__(self) -> int:
        return hash(format_term(self.term))

    def __repr__(self) -> str:
        return f"RelupWarning({format_term(self.term)})"

    def __str__(self) -> str:
        return self.message


class Relup:
    """``term``: ``(TopVsn, UpList, DnList)`` as systools builds it; ``warnings``: [RelupWarning]."""

    __slots__ = ("term", "warnings")

    def __init__(self, term: tuple, warnings: list) -> None:
        self.term = term
        self.warnings = warnings

    def __repr__(self) -> str:
        return f"Relup({self.term[0]!r}, {len(self.term[1])} up, {len(self.term[2])} down)"


# ---------------------------------------------------------------------------------------------
# Erlang helpers
# ---------------------------------------------------------------------------------------------


def _subtract(items: list, remove: list) -> list:
    """``Items -- Remove``: each element of ``remove`` deletes its first occurrence."""
    out = list(items)
    for item in remove:
        for i, have in enumerate(out):
            if have == item:
                del out[i]
                break
    return out


def _make_set(items: list) -> list:
    """``systools_make:make_set/1``: first occurrences, in order (``""`` dropped)."""
    out: list = []
    for item in items:
        if item == "" or item in out:
            continue
        out.append(item)
    return out


def _duplicates(items: list) -> list:
    """``systools_make:duplicates/1``: adjacent pairs with equal keys after a stable key sort,
    newest first."""
    if len({t[0] for t in items}) == len(items):
        return []  # no key twice (the common case, without the sort)
    ordered = sorted(items, key=lambda t: _atom_key(t[0]))
    found: list = []
    for first, second in zip(ordered, ordered[1:]):
        if first[0] == second[0]:
            found.insert(0, (first, second))
    return found


def _atom_key(name: str) -> str:
    return str(name)  # atoms compare by their text, as code points


def _is_string(term: object) -> bool | None:
    """``string_p/1``: ``True``/``False``; ``None`` where ``unicode:characters_to_list`` crashes."""
    if isinstance(term, Atom):
        return None
    if isinstance(term, str):
        return term.isascii() or all(not 0xD800 <= ord(c) <= 0xDFFF for c in term)
    if isinstance(term, list):
        for item in term:
            if isinstance(item, bool):
                return None
            if isinstance(item, int):
                if item < 0 or item > 0x10FFFF or 0xD800 <= item <= 0xDFFF:
                    return False  # characters_to_list returns {error, ...}
            elif isinstance(item, (list, bytes)) or (isinstance(item, str) and not isinstance(item, Atom)):
                return False  # a deep list or a binary: characters_to_list flattens it
            else:
                return None
        return True
    if isinstance(term, bytes):
        return False
    return None


def _is_atom_list(term: object) -> bool:
    """``a_list_p/1``: a proper list of atoms."""
    if not isinstance(term, list):
        return False
    return set(map(type, term)) <= _ATOM_TYPE or all(isinstance(a, Atom) for a in term)


_ATOM_TYPE = frozenset((Atom,))


def _is_tagged_list(term: object) -> bool:
    """``t_list_p/1``: a proper list of ``{Atom, _}``."""
    return isinstance(term, list) and all(
        isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], Atom) for t in term
    )


def _same(a: object, b: object) -> bool:
    """Erlang ``=:=`` on terms (strings in any spelling)."""
    return canonical(a) == canonical(b)


def _text(term: object) -> str:
    if isinstance(term, str) and not isinstance(term, Atom):
        return term
    return format_term(term)


def _where(release, path: str) -> str:
    """The name of ``path`` (relative to the release root) for messages."""
    source = getattr(release, "source", None)
    name = getattr(source, "source_name", None)
    if callable(name):
        return name(path)
    if isinstance(source, str) and source:
        return f"{source}: {path}"
    return path


class _Where:
    """:func:`_where` made when a message needs it (``f"{where}"``), not for every application."""

    __slots__ = ("path", "release")

    def __init__(self, release, path: str) -> None:
        self.release = release
        self.path = path

    def __str__(self) -> str:
        return _where(self.release, self.path)


def _label(release) -> str:
    return f"release {release.name} {release.vsn}"


# ---------------------------------------------------------------------------------------------
# systools_make:get_release/2
# ---------------------------------------------------------------------------------------------


class _Rel:
    """``#release{}``: name, vsn, erts_vsn, applications ``[(name, vsn, type)]``, incl_apps."""

    def __init__(self, release) -> None:
        self.release = release
        self.name = release.name
        self.vsn = release.vsn
        self.erts_vsn = release.erts_vsn
        self.applications: list = []
        self.incl_apps: list = []
        self._vsns: dict | None = None

    def term(self) -> tuple:
        return (
            A("release"),
            self.name,
            self.vsn,
            self.erts_vsn,
            [(A(n), v, A(t)) for n, v, t in self.applications],
            [(A(n), [A(i) for i in incl]) for n, incl in self.incl_apps],
        )

    def vsn_of(self, name: str) -> str | None:
        return self._versions().get(name)

    def has(self, name: str) -> bool:
        return name in self._versions()

    def _versions(self) -> dict:
        """``{name: vsn}`` of the first entry of each application (made on first use: the
        applications are all in by then, :func:`_read_release` adds them)."""
        if self._vsns is None:
            self._vsns = {}
            for app, vsn, _type in self.applications:
                self._vsns.setdefault(app, vsn)
        return self._vsns


class _App:
    """``#application{}``: the fields relup needs (names are ``str``, modules :class:`Atom`)."""

    def __init__(self, source, name: str, vsn: str, type_: str) -> None:
        self.source = source  # the App / AppFacts object
        self.name = name
        self.vsn = vsn
        self.type = type_
        self.modules: list = []
        self.uses: list = []
        self.optional: list = []
        self.includes: list = []
        self.regs: list = []
        lib_dir = getattr(source, "lib_dir", None) or f"lib/{name}-{vsn}"
        self.dir = f"{lib_dir}/ebin"
        self._appl: Appl | None = None

    @property
    def key(self) -> tuple:
        return (self.name, self.vsn)

    def appl(self) -> Appl:
        """The :class:`Appl` of this application (made once: up and down both translate it)."""
        if self._appl is None:
            self._appl = Appl(self.name, self.vsn, self.type, self.modules)
        return self._appl

    def __repr__(self) -> str:
        return f"_App({self.name!r}, {self.vsn!r})"


class _Context:
    """A release checked by :func:`get_release`: ``rel`` (``#release{}``), ``apps`` (sorted)."""

    def __init__(self, release, rel: _Rel, apps: list, missing_sasl: bool) -> None:
        self.release = release
        self.rel = rel
        self.apps = apps
        self.missing_sasl = missing_sasl


def _make_error(release, message: str, reason: object, located: bool = False) -> RelupError:
    """``located``: ``message`` names its files already; else it is about the ``.rel`` file."""
    if located:
        return RelupError(f"{_label(release)}: {message}", reason, _SYSTOOLS_MAKE)
    where = _where(release, f"releases/{release.vsn}/{release.name}.rel")
    return RelupError(f"{where}: {_label(release)}: {message}", reason, _SYSTOOLS_MAKE)


def get_release(release) -> _Context:
    """``systools_make:get_release/2`` on release facts (with ``{false, false}``: no beam checks).

    Returns the checked release: ``.rel`` (its ``#release{}``), ``.apps`` in ``sort_appls`` order,
    ``.missing_sasl``. Raises :class:`RelupError` (module ``systools_make``) as systools fails.
    """
    rel, missing_sasl = _read_release(release)
    apps = _collect_applications(release, rel)
    _check_applications(release, apps)
    _sort_used_and_incl_appls(apps, rel)
    _check_modules(release, apps)
    return _Context(release, rel, sort_appls(apps, release), missing_sasl)


def _read_release(release) -> tuple:
    rel = _Rel(release)
    for what, value, reason in (
        ("name", release.name, (A("illegal_name"), release.name)),
        ("version", release.vsn, (A("illegal_form"), release.vsn)),
        ("ERTS version", release.erts_vsn, (A("illegal_form"), (A("erts"), release.erts_vsn))),
    ):
        if not isinstance(value, str) or not _is_string(value):
            raise _make_error(release, f"the {what} {value!r} is not a string", reason)
    illegal = []
    for app in release.apps:
        incl = app.included_applications
        if app.start_type not in _APP_TYPES or (incl is not None and not all(isinstance(i, str) for i in incl)):
            entry = (A(app.name), app.vsn, A(str(app.start_type)))
            illegal.append(entry if incl is None else (*entry, [A(str(i)) for i in incl]))
    if illegal:
        raise _make_error(
            release,
            "illegal application entries in the .rel file: " + ", ".join(format_term(e) for e in illegal),
            (A("illegal_applications"), illegal),
        )
    for app in release.apps:
        rel.applications.append((app.name, app.vsn, app.start_type))
        if app.included_applications is not None:
            rel.incl_apps.append((app.name, list(app.included_applications)))
    types: dict = {}
    for name, _vsn, type_ in rel.applications:
        if name in ("kernel", "stdlib", "sasl") and name not in types:
            types[name] = type_
    for mandatory in ("kernel", "stdlib"):
        type_ = types.get(mandatory)
        if type_ is None:
            raise _make_error(
                release,
                f"the mandatory application {mandatory} is not in the .rel file",
                (A("missing_mandatory_app"), A(mandatory)),
            )
        if type_ != "permanent":
            raise _make_error(
                release,
                f"the mandatory application {mandatory} must be permanent, the .rel file makes it {type_}",
                (A("mandatory_app"), A(mandatory), A(type_)),
            )
    return rel, "sasl" not in types


_APP_ITEMS = (
    "vsn",
    "id",
    "description",
    "modules",
    "registered",
    "applications",
    "optional_applications",
    "included_applications",
    "mod",
    "start_phases",
    "env",
    "maxT",
    "maxP",
)
_APP_ITEM_KEYS = {item: A(item) for item in _APP_ITEMS}
_OPTIONAL_DEFAULTS = {
    "optional_applications": [],
    "included_applications": [],
    "mod": [],
    "env": [],
    "id": [],
    "start_phases": A("undefined"),
    "maxT": A("infinity"),
    "maxP": A("infinity"),
}


class _Crash(Exception):
    """Where systools crashes instead of returning an error term."""


def _first_keys(props: list) -> dict:
    """``{Key: Tuple}``: the first tuple of ``props`` whose first element is the atom ``Key``
    (what ``lists:keysearch(Key, 1, Props)`` finds)."""
    found: dict = {}
    for prop in props:
        if isinstance(prop, tuple) and prop and isinstance(prop[0], Atom) and prop[0] not in found:
            found[prop[0]] = prop
    return found


def _check_item(props: dict, item: str) -> object:
    """``check_item(keysearch(Item, 1, Dict), Item)``: the value, or raise ``(bad|missing)_param``.
    ``props``: :func:`_first_keys` of the property list."""
    found = props.get(_APP_ITEM_KEYS[item])
    if found is None:
        if item in _OPTIONAL_DEFAULTS:
            return _OPTIONAL_DEFAULTS[item]
        raise _Param("missing_param", item)
    if len(found) != 2:
        raise _Param("missing_param", item)
    value = found[1]
    check = _ITEM_CHECKS[item]
    if value == "" and check is not _string_item:
        value = []  # "" is [] in Erlang
    return check(value, item)


def _string_item(value: object, item: str) -> object:
    ok = _is_string(value)
    if ok is None:
        raise _Crash(f"{item} {format_term(value)} is not a string")
    if not ok:
        raise _Param("bad_param", item)
    return value


def _mod_item(value: object, item: str) -> object:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Atom):
        return value
    if value == []:
        return []
    raise _Param("missing_param", item)


def _atom_list_item(value: object, item: str) -> object:
    if not _is_atom_list(value):
        raise _Param("bad_param", item)
    return value


def _start_phases_item(value: object, item: str) -> object:
    if value == A("undefined"):
        return value
    return _tagged_list_item(value, item)


def _tagged_list_item(value: object, item: str) -> object:
    if not _is_tagged_list(value):
        raise _Param("bad_param", item)
    return value


def _limit_item(value: object, item: str) -> object:
    if (isinstance(value, int) and not isinstance(value, bool) and value > 0) or value == A("infinity"):
        return value
    raise _Param("bad_param", item)


#: How each ``.app`` key is checked (``check_item/2``'s clauses).
_ITEM_CHECKS = {
    "vsn": _string_item,
    "id": _string_item,
    "description": _string_item,
    "modules": _atom_list_item,
    "registered": _atom_list_item,
    "applications": _atom_list_item,
    "optional_applications": _atom_list_item,
    "included_applications": _atom_list_item,
    "mod": _mod_item,
    "start_phases": _start_phases_item,
    "env": _tagged_list_item,
    "maxT": _limit_item,
    "maxP": _limit_item,
}


class _Param(Exception):
    def __init__(self, kind: str, item: str) -> None:
        super().__init__(kind, item)
        self.kind = kind
        self.item = item


def _collect_applications(release, rel: _Rel) -> list:
    """``collect_applications`` + ``read_application`` + ``parse_application``."""
    apps: list = []
    errors: list = []
    messages: list = []
    incls = dict(rel.incl_apps)
    for app, (name, vsn, type_) in zip(release.apps, rel.applications):
        file_ = f"lib/{name}-{vsn}/ebin/{name}.app"
        lib_dir = getattr(app, "lib_dir", None)
        if lib_dir:
            file_ = f"{lib_dir}/ebin/{name}.app"
        where = _Where(release, file_)
        spec = getattr(app, "app_spec", None)
        if spec is None:
            errors.insert(0, (A("error_reading"), (A(name), (A("not_found"), f"{name}.app"))))
            messages.append(f"{where}: no .app file for application {name} {vsn} (relup needs every .app)")
            continue
        if not (isinstance(spec, tuple) and len(spec) == 3 and spec[0] == A("application")
                and isinstance(spec[1], Atom) and isinstance(spec[2], list)):
            if isinstance(spec, tuple) and len(spec) == 3 and spec[0] == A("application") and isinstance(
                    spec[2], ImproperList) and isinstance(spec[1], Atom):
                raise RelupError(f"{where}: the properties of application {name} are not a proper list")
            errors.insert(0, (A("error_reading"), (A(name), (A("badly_formatted_application"), spec))))
            messages.append(f"{where}: expected {{application, Name, [Key-Value]}}, got {format_term(spec)}")
            continue
        props = _first_keys(spec[2])
        try:
            values = {item: _check_item(props, item) for item in _APP_ITEMS}
        except _Param as exc:
            errors.insert(0, (A("error_reading"), (A(name), ((A(exc.kind), A(exc.item)), spec))))
            problem = "is missing" if exc.kind == "missing_param" else "has a bad value"
            messages.append(f"{where}: the .app key {exc.item} {problem}")
            continue
        except _Crash as exc:
            raise RelupError(f"{where}: {exc}") from None
        if not _same(values["vsn"], vsn):
            found = values["vsn"]
            errors.insert(0, (A("error_reading"), (A(name), (A("no_valid_version"), (
                ("should be", vsn), ("found file", file_, found))))))
            messages.append(f"{where}: application {name} has vsn {_text(found)}, the .rel file lists {vsn}")
            continue
        app_name = str(spec[1])
        includes = [str(a) for a in values["included_applications"]]
        given = incls.get(app_name)
        if given is not None:
            not_spec = [i for i in given if i not in includes]
            if not_spec:
                errors.insert(0, (A("error_reading"), (A(name), (A("override_include"), [A(i) for i in not_spec]))))
                messages.append(
                    f"{where}: the .rel file includes {', '.join(not_spec)} in {name}, "
                    "which its .app does not list in included_applications"
                )
                continue
            includes = list(given)
        if app_name != name:
            errors.insert(0, (A("bad_application_name"), (A(name), (A(app_name), values["vsn"]))))
            messages.append(f"{where}: the file describes application {app_name}, not {name}")
            continue
        record = _App(app, name, vsn, type_)
        record.modules = list(values["modules"])  # atoms (an Appl's modules as systools_rc reads them)
        record.uses = [str(a) for a in values["applications"]]
        record.optional = [str(a) for a in values["optional_applications"]]
        record.includes = includes
        record.regs = [str(r) for r in values["registered"]]
        apps.append(record)
    if errors:
        raise _make_error(release, "; ".join(messages), errors, located=True)
    return apps


def _check_applications(release, apps: list) -> None:
    defined = [a.name for a in apps]
    used: list = []
    for app in apps:
        used.extend(_subtract(app.uses, app.optional) + app.includes)
    undefined = _make_set([u for u in used if u not in defined])
    if undefined:
        raise _make_error(
            release,
            "applications used or included but not in the release: " + ", ".join(undefined),
            (A("undefined_applications"), [A(u) for u in undefined]),
        )
    regs = [(reg, app.name, app.vsn, app.dir) for app in apps for reg in app.regs]
    dups = _duplicates(regs)
    if dups:
        raise _make_error(
            release,
            "registered names claimed twice: "
            + ", ".join(f"{a[0]} by {a[1]} and {b[1]}" for a, b in dups),
            (A("duplicate_register"), [(_reg_term(a), _reg_term(b)) for a, b in dups]),
        )
    incs = [(inc, app.name, app.vsn, app.dir) for app in apps for inc in app.includes]
    dups = _duplicates(incs)
    if dups:
        raise _make_error(
            release,
            "applications included twice: " + ", ".join(f"{a[0]} by {a[1]} and {b[1]}" for a, b in dups),
            (A("duplicate_include"), [(_reg_term(a), _reg_term(b)) for a, b in dups]),
        )
    _add_top_apps_to_uses(release, incs, apps)


def _reg_term(entry: tuple) -> tuple:
    name, app, vsn, dir_ = entry
    return (A(name), A(app), vsn, dir_)


def _find_top_app(release, app: str, includer_of: dict) -> str:
    """``find_top_app/2``: ``includer_of`` maps an application to the first one that includes it."""
    seen = set()
    while True:
        top = includer_of.get(app)
        if top is None:
            return app
        if app in seen:
            raise RelupError(
                f"{_where(release, f'releases/{release.vsn}/{release.name}.rel')}: {_label(release)}: "
                f"applications include each other in a circle ({', '.join(sorted(seen))}); "
                "systools never returns on this"
            )
        seen.add(app)
        app = top


def _add_top_apps_to_uses(release, incl_apps: list, apps: list) -> None:
    includer_of: dict = {}  # included application -> the first application including it
    for inc, includer, _vsn, _dir in incl_apps:
        includer_of.setdefault(inc, includer)
    for app in apps:
        my_top = _find_top_app(release, app.name, includer_of)
        acc = list(app.uses)
        for used in app.uses:
            if used == my_top:
                acc = _subtract(acc, [my_top])
                continue
            owner = includer_of.get(used)
            if owner is None:
                continue
            used_top = _find_top_app(release, owner, includer_of)
            if used_top in acc:
                acc = _subtract(acc, [used])
            elif my_top == used_top:
                pass
            else:
                acc = [*_subtract(acc, [used]), used_top]
        app.uses = acc


def _sort_used_and_incl_appls(apps: list, rel: _Rel) -> None:
    rank: dict = {}  # name -> its first position in the .rel
    for index, (name, _v, _t) in enumerate(rel.applications):
        rank.setdefault(name, index)

    def sort_list(names: list) -> list:
        if len(names) <= 1:
            return names
        # keysort on {Position, Name} / {optional, Name}: numbers sort before atoms, stably
        return sorted(names, key=lambda n: (0, rank[n]) if n in rank else (1, 0))

    for app in apps:
        app.includes = sort_list(app.includes)
        app.uses = sort_list(app.uses)


def _check_modules(release, apps: list) -> None:
    count = sum(len(app.modules) for app in apps)
    if len(set().union(*(app.modules for app in apps))) == count:
        return  # no module twice (the common case, without the sort)
    mods = [(mod, app.name, app.dir) for app in apps for mod in app.modules]
    dups = _duplicates(mods)
    if dups:
        raise _make_error(
            release,
            "modules in more than one application: "
            + ", ".join(f"{a[0]} in {a[1]} and {b[1]}" for a, b in dups),
            (A("duplicate_modules"), [((A(a[0]), A(a[1]), a[2]), (A(b[0]), A(b[1]), b[2])) for a, b in dups]),
        )


def sort_appls(apps: list, release=None) -> list:
    """``systools_make:sort_appls/1``: each application after the ones it uses and includes that
    come later, otherwise in the given order. ``apps``: objects with ``name``, ``vsn``, ``uses``,
    ``includes``, ``optional``. Raises :class:`RelupError` on a cycle or an undefined application."""
    pending = list(apps)
    out: list = []
    missing: list = []
    circular: list = []
    visited: list = []  # keys (name, vsn), newest first
    while pending:
        app, rest = pending[0], pending[1:]
        key = (app.name, app.vsn)
        uses, rest1, not_found1 = _find_all(app.name, list(reversed(app.uses)), rest, visited)
        incs, rest2, not_found2 = _find_all(app.name, list(reversed(app.includes)), rest1, visited)
        missing = _subtract(not_found1, app.optional) + not_found2 + missing
        before = uses + incs
        if not before:
            out.append(app)
            pending = rest
            visited.insert(0, key)
            continue
        new_circular = [(b.name, b.vsn) for b in before for v in visited if (b.name, b.vsn) == v]
        if new_circular:
            circular = [key, *new_circular, *circular]
        pending = [*before, app, *rest2]
        for dead in new_circular:
            for i, item in enumerate(pending):
                if (item.name, item.vsn) == dead:
                    del pending[i]
                    break
        visited.insert(0, key)
    if not missing and not circular:
        return out
    undefined = [A(m) for m in _make_set(missing)]
    cycle = [(A(n), v) for n, v in _make_set(circular)]
    names = ", ".join(f"{n} {v}" for n, v in _make_set(circular))
    if release is None:
        where = "applications"
    else:
        where = f"{_where(release, f'releases/{release.vsn}/{release.name}.rel')}: {_label(release)}"
    if not circular:
        raise RelupError(
            f"{where}: applications used or included but not in the release: {', '.join(map(str, undefined))}",
            (A("undefined_applications"), undefined),
            _SYSTOOLS_MAKE,
        )
    if not missing:
        raise RelupError(
            f"{where}: circular dependencies among applications: {names}",
            (A("circular_dependencies"), cycle),
            _SYSTOOLS_MAKE,
        )
    raise RelupError(
        f"{where}: circular dependencies among applications: {names}; and applications used or "
        f"included but not in the release: {', '.join(map(str, undefined))}",
        (A("apps"), [(A("circular_dependencies"), cycle), (A("undefined_applications"), undefined)]),
        _SYSTOOLS_MAKE,
    )


def _find_all(checking: str, names: list, pending: list, visited: list) -> tuple:
    found: list = []
    not_found: list = []
    visited_names = {n for n, _v in visited}
    for name in names:
        app = None
        for candidate in pending:
            if candidate.name == name:
                app = candidate
                break
        if app is not None and checking not in app.includes:
            pending = [a for a in pending if a is not app]
            found.insert(0, app)
        elif name not in visited_names:
            not_found.insert(0, name)
    return found, pending, not_found


# ---------------------------------------------------------------------------------------------
# Appups
# ---------------------------------------------------------------------------------------------

def regex_matches(base_vsn: str, key: bytes) -> bool:
    """systools' test of a binary appup key: the leftmost match of ``key`` in ``base_vsn`` is all
    of ``base_vsn`` (:func:`._appup_syntax.version_matches`). Raises ``ValueError`` for a pattern
    that cannot be evaluated the way PCRE would."""
    try:
        return version_matches(bytes(key), base_vsn)
    except UnsupportedRegex as exc:
        raise ValueError(f"cannot use the regular expression {format_term(bytes(key))}: {exc}") from None


def appup_search_for_version(base_vsn: str, entries: object) -> tuple:
    """``systools_relup:appup_search_for_version/2``: ``(True, Script)`` for the first entry of
    ``entries`` that matches ``base_vsn``, else ``(False, None)``. ``ValueError`` where systools
    crashes (``entries`` not a list, a bad regular expression)."""
    tail_ok = True
    if entries == "":
        entries = []  # "" is [] in Erlang
    if isinstance(entries, ImproperList):
        items, tail_ok = entries.items, False
    elif isinstance(entries, list):
        items = entries
    else:
        raise ValueError(f"expected a list of {{Vsn, Instructions}}, got {format_term(entries)}")
    base = canonical(base_vsn)
    for entry in items:
        if not (isinstance(entry, tuple) and len(entry) == 2):
            continue
        key, script = entry
        if canonical(key) == base and not isinstance(key, (Atom, bytes)):
            return True, script
        if isinstance(key, bytes) and regex_matches(base_vsn, key):
            return True, script
    if not tail_ok:
        raise ValueError("the list of {Vsn, Instructions} is not a proper list")
    return False, None


# ---------------------------------------------------------------------------------------------
# systools_relup
# ---------------------------------------------------------------------------------------------


def _relup_error(message: str, reason: object) -> RelupError:
    return RelupError(message, reason, _SYSTOOLS_RELUP)


def _check_sasl(ctx: _Context) -> None:
    if ctx.missing_sasl:
        release = ctx.release
        raise _relup_error(
            f"{_where(release, f'releases/{release.vsn}/{release.name}.rel')}: {_label(release)} has no sasl "
            "application: it cannot be upgraded or downgraded with a relup",
            (A("missing_sasl"), ctx.rel.term()),
        )


def _appup_of(top: _Context, app: _App, appups: dict | None) -> tuple:
    """``(term, source name)`` of the appup systools reads for ``app`` of the top release."""
    if appups and app.name in appups:
        term, source = appups[app.name]
        return term, source
    term = getattr(app.source, "appup", None)
    return term, _where(top.release, f"{app.dir}/{app.name}.appup")


def _script_from_appup(mode: str, top: _Context, app: _App, base: _Context, base_vsn: str,
                       appups: dict | None, warnings: list) -> object:
    """``get_script_from_appup/5``: the appup script of ``app`` for ``base_vsn``."""
    fname = f"{app.dir}/{app.name}.appup"
    term, source = _appup_of(top, app, appups)
    direction = "upgrade from" if mode == "up" else "downgrade to"
    needed = f"to {direction} {_label(base.release)}, where {app.name} is {base_vsn}"
    if term is None:
        raise _relup_error(
            f"{source}: no appup for application {app.name} {app.vsn} ({needed})",
            (A("file_problem"), (fname, (A("error"), (A("open"), fname, A("enoent"))))),
        )
    if not (isinstance(term, tuple) and len(term) == 3):
        raise _relup_error(
            f"{source}: the appup of {app.name} is not {{Vsn, UpFrom, DownTo}}: {format_term(term)}",
            (A("file_problem"), (fname, (A("ok"), term))),
        )
    top_vsn, ups, downs = term
    if not _same(app.vsn, top_vsn):
        warnings.insert(0, RelupWarning(
            (A("bad_vsn"), (top_vsn, app.vsn)),
            f"{source}: the appup is for version {_text(top_vsn)} of {app.name}, the release has {app.vsn}",
        ))
    try:
        found, script = appup_search_for_version(base_vsn, ups if mode == "up" else downs)
    except ValueError as exc:
        raise RelupError(f"{source}: {exc} ({needed})") from None
    if not found:
        which = "UpFrom" if mode == "up" else "DownTo"
        raise _relup_error(
            f"{source}: the appup of {app.name} {app.vsn} has no {which} entry for version {base_vsn} ({needed})",
            (A("no_relup"), fname, A(app.name), base_vsn),
        )
    return script


def _collect_appup_scripts(mode: str, top: _Context, base: _Context, appups, warnings: list) -> list:
    scripts = []
    for app in top.apps:
        base_vsn = base.rel.vsn_of(app.name)
        if base_vsn is None or base_vsn == app.vsn:
            continue
        scripts.append(_script_from_appup(mode, top, app, base, base_vsn, appups, warnings))
    return scripts


def _added(from_rel: _Rel, to_rel: _Rel) -> list:
    return [[(A("add_application"), A(n), A(t))] for n, _v, t in to_rel.applications if not from_rel.has(n)]


def _removed(from_rel: _Rel, to_rel: _Rel) -> list:
    return [[(A("remove_application"), A(n))] for n, _v, _t in from_rel.applications if not to_rel.has(n)]


def _emulator_restart(top: _Context, base: _Context, scripts: list, warnings: list, restart_emulator: bool) -> list:
    if top.rel.erts_vsn != base.rel.erts_vsn:
        scripts = [[A("restart_new_emulator")], *scripts]
        first, second = (top.rel.name, top.rel.erts_vsn), (base.rel.name, base.rel.erts_vsn)
        warnings.insert(0, RelupWarning(
            (A("erts_vsn_changed"), (first, second)),
            f"the ERTS version changes between {_label(top.release)} (erts {top.rel.erts_vsn}) and "
            f"{_label(base.release)} (erts {base.rel.erts_vsn}): the relup restarts the emulator",
        ))
    if restart_emulator:
        scripts = [*scripts, [A("restart_emulator")]]
    return scripts


def _translate(mode: str, scripts: list, appls: list, pre_appls: list, top: _Context, base: _Context) -> list:
    try:
        return translate_scripts(mode, scripts, [a.appl() for a in appls], [a.appl() for a in pre_appls])
    except RelupScriptError as exc:
        direction = "upgrade from" if mode == "up" else "downgrade to"
        crash = getattr(exc, "crash", None)  # systools crashes, or its reason holds a stack trace
        raise RelupError(
            f"{_label(top.release)}: the relup script to {direction} {_label(base.release)}: {exc}",
            None if crash else exc.reason,
            None if crash else _SYSTOOLS_RC,
        ) from None


def _fix_r15_sasl_upgrade(script: list, warnings: list, base: _Context) -> list:
    if not script or script[0] != A("restart_new_emulator"):
        return script
    sasl = next((a for a in base.apps if a.name == "sasl"), None)
    if sasl is None or not sasl.vsn < R15_SASL_VSN:
        return script
    rest = list(script[1:])
    if A("restart_emulator") in rest:
        rest.remove(A("restart_emulator"))
    warnings.insert(0, RelupWarning(
        A("pre_R15_emulator_upgrade"),
        f"{_label(base.release)} has sasl {sasl.vsn}, older than R15 (string order): the emulator "
        "restarts last, so new code should be compiled with the old emulator",
    ))
    return [*rest, A("restart_new_emulator")]


def _up(top: _Context, base: _Context, appups, description, restart_emulator: bool, warnings: list) -> tuple:
    scripts = _collect_appup_scripts("up", top, base, appups, warnings)
    scripts = _added(base.rel, top.rel) + scripts
    scripts = scripts + _removed(base.rel, top.rel)
    scripts = _emulator_restart(top, base, scripts, warnings, restart_emulator)
    script = _translate("up", scripts, top.apps, base.apps, top, base)
    script = _fix_r15_sasl_upgrade(script, warnings, base)
    return (base.rel.vsn, description, script)


def _dn(top: _Context, base: _Context, appups, description, restart_emulator: bool, warnings: list) -> tuple:
    scripts = _collect_appup_scripts("dn", top, base, appups, warnings)
    scripts = _added(top.rel, base.rel) + scripts
    scripts = scripts + _removed(top.rel, base.rel)
    scripts = _emulator_restart(top, base, scripts, warnings, restart_emulator)
    script = _translate("dn", scripts, base.apps, top.apps, top, base)
    return (base.rel.vsn, description, script)


def _checked(release) -> _Context:
    ctx = get_release(release)
    _check_sasl(ctx)
    return ctx


def relup_entries(top, base, *, appups: dict | None = None, description: object = None,
                  restart_emulator: bool = False) -> tuple:
    """``(UpEntry, DnEntry, warnings)`` for one base release: each entry ``{BaseVsn, Descr,
    Instructions}``; warnings as ``make_relup(top, [base])`` gives them. ``description``: the
    ``Descr`` (default ``[]``). See :func:`make_relup` for the rest."""
    descr = [] if description is None else description
    top_ctx = _checked(top)
    base_ctx = _checked(base)
    warnings: list = []
    up = _up(top_ctx, base_ctx, appups, descr, restart_emulator, warnings)
    down = _dn(top_ctx, base_ctx, appups, descr, restart_emulator, warnings)
    return up, down, warnings


def make_relup(top, bases: list, *, appups: dict | None = None, descriptions: dict | None = None,
               restart_emulator: bool = False) -> Relup:
    """``systools:make_relup(Top, Bases, Bases, [noexec | restart_emulator])`` on release facts.

    ``top``, ``bases``: :class:`~._release.Release` or :class:`~._release.ReleaseFacts`; each
    application needs ``name``, ``vsn``, ``start_type``, ``included_applications`` (the ``.rel``
    Incl or ``None``), ``app_spec`` (the parsed ``.app``; ``None`` is systools' "not found") and,
    in the top release, ``appup`` (parsed, or ``None``). ``appups``: ``{app: (term, source name)}``
    used instead of the top release's own appups. ``descriptions``: ``{base vsn: Descr}``
    (default ``[]``). ``restart_emulator``: systools' option of that name.

    Raises :class:`RelupError` for every error systools returns (and where it crashes).
    """
    descriptions = descriptions or {}
    top_ctx = _checked(top)
    warnings: list = []
    ups: list = []
    contexts = []
    for base in bases:
        ctx = _checked(base)
        contexts.append(ctx)
        ups.insert(0, _up(top_ctx, ctx, appups, descriptions.get(base.vsn, []), restart_emulator, warnings))
    downs: list = []
    for ctx in contexts:
        downs.insert(0, _dn(top_ctx, ctx, appups, descriptions.get(ctx.rel.vsn, []), restart_emulator, warnings))
    return Relup((top_ctx.rel.vsn, ups, downs), warnings)
