# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Appup generation: diff two releases, classify modules, order them, write both directions.

PRIVATE to the erlang.otp collection: may change at any time.

Input is *facts*, not files: a :class:`~._release.Release` read from a directory or tarball, or a
:class:`~._release.ReleaseFacts` made from a manifest (:func:`~._release.release_from_manifest`).
Both offer ``name``, ``vsn``, ``apps`` (``.rel`` order; each with ``name``, ``vsn``, ``bundled``,
``appup``, ``modules``: name -> module facts) and ``consolidated``. Module facts: ``md5``
(``beam_lib:md5``), ``chunks_md5`` (``beam_lib:cmp``), ``behaviours``, ``imports``,
``exports_code_change``, ``exports_system_code_change``, ``is_supervisor``,
``is_special_process``, ``loads_nif``, ``supervisor_children``, ``path``, ``data``.

Rules (issue 3; reference ``appup-relup-generation.md`` sections 5.6 and 7):

* **Diff** (:func:`diff_app`): identical files are unchanged (compared first, so that they are
  never parsed); otherwise by code MD5; equal code with other chunks different is
  ``debug_only`` (reported, not upgraded).
* **Classification** (:func:`classify_change`), from the old *and* the new beam: a supervisor
  (behaviour ``supervisor`` or ``Elixir.Supervisor``) gets ``{update, M, supervisor}``; a special
  process (a known special-process or ``gen_*`` behaviour, or an export of ``code_change/3,4`` or
  ``system_code_change/4``) gets ``{update, M, {advanced, []}, Pre, Post, Deps}`` -- or ``soft``
  with a warning when the new beam exports no ``code_change``, since ``{advanced, _}`` would make
  ``sys:change_code`` fail there; anything else gets ``{load_module, M, Pre, Post, Deps}``. Added
  modules get ``{add_module, M, Deps}``, deleted ones ``{delete_module, M, Deps}``. A class that
  differs between the two beams is warned about. Behaviours are only compared as names, so
  unknown, custom or several behaviours never fail.
* **DepMods** (:func:`dependencies`): going up, the imports of the new beams among the changed and
  added modules of the application; going down, those of the old beams among the changed and
  deleted ones. A removed module is ordered after the modules whose running code calls it: going
  up its ``delete_module`` lists those callers (systools loads dependencies first); going down,
  where systools runs dependents first, the removed module is listed in the callers' DepMods.
* **Linearisation** (:func:`linearise`): systools orders each weakly connected component of the
  DepMods graph by a topological sort of its strongly connected components and breaks ties by
  ETS order, which depends on the VM's atom table. Extra DepMods are added so that the components
  of every component form a chain: then there is exactly one order, the one :func:`systools_order`
  computes. Inside a cycle systools orders by list position (descending going up, ascending going
  down); so do we.
* **Supervisor children**, read statically by :mod:`._child_specs`: a removed child is
  terminated and deleted before anything else, an added child is started with
  ``supervisor:restart_child`` after everything else, by its real id.
* **Downgrade**: the exact inverse of the upgrade -- the instructions in reverse order, adds and
  deletes swapped, child starts and stops swapped -- with DepMods of the old code. One exception:
  consolidated protocols are loaded after the code in both directions (below).
* **NIFs**: a changed module that calls ``erlang:load_nif/2`` (which only loads NIFs for the
  calling module, so the NIF module itself imports it, normally from its ``-on_load`` function)
  cannot be hot-loaded safely (the library needs an ``upgrade`` callback): its application gets
  ``{restart_application, App}`` with a warning (option ``nif="load_module"`` keeps the
  instructions and only warns).
* **Refusals** (errors): beams changed while the application version did not (systools would skip
  the application); a module that moved from one application to another.
* **Added and removed applications** are left to the relup (as systools does) and reported.
* **Consolidated protocols** of mix releases (``releases/<vsn>/consolidated``, never loaded by
  ``release_handler``): each changed one is loaded with ``code:soft_purge/1`` and
  ``code:load_binary/3`` right after the code instructions of one changed application (the
  application defining the protocol, else one holding a changed implementation
  ``<Protocol>.<Type>``, else the first changed application in ``.rel`` order).
* **Appups shipped** in the new release (e.g. by OTP applications) win, entry by entry, over
  generated ones (option ``use_shipped``).

Entry points: :func:`generate` for whole releases, :func:`generate_app` for one application.
"""

from __future__ import annotations

from ansible_collections.erlang.otp.plugins.module_utils._appup_syntax import version_matches
from ansible_collections.erlang.otp.plugins.module_utils._child_specs import diff_children
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps, format_term
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, canonical, text

__all__ = [
    "DOWN",
    "PLAIN",
    "SPECIAL",
    "SUPERVISOR",
    "UP",
    "AppDiff",
    "AppupResult",
    "Classification",
    "GenerateOptions",
    "GenerationError",
    "GenerationResult",
    "Linearisation",
    "PurgeOptions",
    "ambiguous_components",
    "classify",
    "classify_change",
    "dependencies",
    "diff_app",
    "generate",
    "generate_app",
    "instruction_deps",
    "linearise",
    "strongly_connected",
    "systools_order",
]

UP = "up"
DOWN = "down"
SUPERVISOR = "supervisor"
SPECIAL = "special_process"
PLAIN = "plain"

BRUTAL = "brutal_purge"
SOFT = "soft_purge"
_PURGES = (BRUTAL, SOFT)
_NIF_CHOICES = ("restart_application", "load_module")
_DEP_INSTRUCTIONS = frozenset(("update", "load_module", "add_module", "delete_module"))

A = Atom


class GenerationError(ValueError):
    """Options or inputs that generation cannot work with; the message says which and why."""


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------


def _purge_value(value: object, where: str) -> str:
    if value in ("soft", "brutal"):
        value = f"{value}_purge"
    if value not in _PURGES:
        raise GenerationError(f"{where}: {value!r} is not one of {', '.join(_PURGES)}")
    return str(value)


class PurgeOptions:
    """PrePurge/PostPurge of ``load_module`` and ``update``: a default and per-module settings.

    ``modules`` maps a module name to ``(pre, post)`` (``None`` = the default), a dict with
    ``pre``/``post`` keys, or one value for both. Values: ``brutal_purge`` or ``soft_purge``
    (``brutal``/``soft`` accepted). The default of both is ``brutal_purge``, as in systools
    (``None`` means that default).
    """

    def __init__(self, pre: str | None = BRUTAL, post: str | None = BRUTAL, modules: dict | None = None) -> None:
        self.pre = _purge_value(pre or BRUTAL, "purge.pre")
        self.post = _purge_value(post or BRUTAL, "purge.post")
        self.modules: dict = {}
        for name, setting in (modules or {}).items():
            where = f"purge.modules.{name}"
            if isinstance(setting, dict):
                unknown = set(setting) - {"pre", "post"}
                if unknown:
                    raise GenerationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use pre and post")
                pair = (setting.get("pre"), setting.get("post"))
            elif isinstance(setting, (tuple, list)) and len(setting) == 2:
                pair = (setting[0], setting[1])
            elif isinstance(setting, str):
                pair = (setting, setting)
            else:
                raise GenerationError(f"{where}: expected (pre, post), a dict with pre/post, or one purge value")
            self.modules[str(name)] = tuple(
                None if v is None else _purge_value(v, f"{where}.{k}") for k, v in zip(("pre", "post"), pair)
            )

    @classmethod
    def coerce(cls, value: object) -> PurgeOptions:
        """``None``, a :class:`PurgeOptions`, or a dict ``{pre, post, modules}``."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"pre", "post", "modules"}
            if unknown:
                raise GenerationError(f"purge: unknown key(s) {', '.join(sorted(unknown))}; use pre, post and modules")
            return cls(value.get("pre") or BRUTAL, value.get("post") or BRUTAL, value.get("modules"))
        raise GenerationError(f"purge: expected a dict with pre, post and modules, got {type(value).__name__}")

    def for_module(self, name: str) -> tuple:
        """``(pre, post)`` for module ``name``."""
        pre, post = self.modules.get(name, (None, None))
        return (pre or self.pre, post or self.post)

    def __repr__(self) -> str:
        return f"PurgeOptions(pre={self.pre!r}, post={self.post!r}, modules={self.modules!r})"


class GenerateOptions:
    """Options of :func:`generate` and :func:`generate_app`.

    ``purge``: :class:`PurgeOptions` (or what :meth:`PurgeOptions.coerce` takes).
    ``nif``: ``"restart_application"`` (default) or ``"load_module"`` for an application with a
    changed NIF module. ``use_shipped``: let an appup shipped in the new release's ``ebin`` win,
    entry by entry, over the generated one (default true).
    """

    def __init__(self, purge: object = None, nif: str = "restart_application", use_shipped: bool = True) -> None:
        self.purge = PurgeOptions.coerce(purge)
        if nif not in _NIF_CHOICES:
            raise GenerationError(f"nif: {nif!r} is not one of {', '.join(_NIF_CHOICES)}")
        self.nif = nif
        self.use_shipped = bool(use_shipped)

    @classmethod
    def coerce(cls, value: object, purge: object = None) -> GenerateOptions:
        """``None``, a :class:`GenerateOptions` or a dict of its keyword arguments; ``purge`` wins if given."""
        if value is None:
            options = cls()
        elif isinstance(value, cls):
            options = value
        elif isinstance(value, dict):
            unknown = set(value) - {"purge", "nif", "use_shipped"}
            if unknown:
                raise GenerationError(f"options: unknown key(s) {', '.join(sorted(unknown))}")
            options = cls(**value)
        else:
            raise GenerationError(f"options: expected a dict, got {type(value).__name__}")
        if purge is not None:
            options = cls(purge, options.nif, options.use_shipped)
        return options


# ---------------------------------------------------------------------------------------------
# Diff
# ---------------------------------------------------------------------------------------------


class AppDiff:
    """What changed in one application between two versions; module names are sorted."""

    def __init__(self, old_app, new_app) -> None:
        self.app = new_app.name
        self.old_app = old_app
        self.new_app = new_app
        self.old_vsn = old_app.vsn
        self.new_vsn = new_app.vsn
        self.old_modules: dict = dict(old_app.modules)
        self.new_modules: dict = dict(new_app.modules)
        old, new = self.old_modules, self.new_modules
        self.added = sorted(set(new) - set(old))
        self.deleted = sorted(set(old) - set(new))
        self.changed = []
        self.debug_only = []
        for name in sorted(set(old) & set(new)):
            before, after = old[name], new[name]
            if before.data is not None and before.data == after.data:
                continue  # the same file: unchanged, without parsing or hashing it
            if not _same(before, after, "same_code", "md5"):
                self.changed.append(name)
            elif not _same(before, after, "same_chunks", "chunks_md5"):
                self.debug_only.append(name)

    @property
    def empty(self) -> bool:
        """No module added, deleted or changed (debug-only differences do not count)."""
        return not (self.added or self.deleted or self.changed)

    def describe(self) -> str:
        parts = [f"{what}: {', '.join(names)}" for what, names in
                 (("changed", self.changed), ("added", self.added), ("deleted", self.deleted)) if names]
        return "; ".join(parts) or "no change"

    def __repr__(self) -> str:
        return f"AppDiff({self.app!r}, {self.old_vsn!r} -> {self.new_vsn!r}: {self.describe()})"


def _same(before, after, method: str, attribute: str) -> bool:
    """Module facts compare with their own ``same_code``/``same_chunks`` (a release's modules then
    compare their bytes, no hashing), else by the MD5 attribute."""
    compare = getattr(before, method, None)
    if compare is not None:
        return compare(after)
    return getattr(before, attribute) == getattr(after, attribute)


def diff_app(old_app, new_app) -> AppDiff:
    """Compare two versions of one application (``.modules`` of each: name -> module facts)."""
    return AppDiff(old_app, new_app)


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


def classify(module) -> str:
    """:data:`SUPERVISOR`, :data:`SPECIAL` or :data:`PLAIN` for one beam's facts."""
    if module.is_supervisor:
        return SUPERVISOR
    if module.is_special_process:
        return SPECIAL
    return PLAIN


class Classification:
    """How a changed module is upgraded: ``kind`` and, for special processes, ``change``
    (``"advanced"`` or ``"soft"``); ``warnings`` explain surprises."""

    def __init__(self, kind: str, change: str | None, warnings: list) -> None:
        self.kind = kind
        self.change = change
        self.warnings = warnings

    def __repr__(self) -> str:
        return f"Classification({self.kind!r}, {self.change!r})"


_KIND_TEXT = {SUPERVISOR: "a supervisor", SPECIAL: "a special process", PLAIN: "a plain module"}


def classify_change(name: str, old, new, old_vsn: str = "old", new_vsn: str = "new") -> Classification:
    """Classify a module changed between two beams (facts ``old`` and ``new``), looking at both."""
    old_kind, new_kind = classify(old), classify(new)
    warnings = []
    if SUPERVISOR in (old_kind, new_kind):
        kind = SUPERVISOR
    elif SPECIAL in (old_kind, new_kind):
        kind = SPECIAL
    else:
        kind = PLAIN
    if old_kind != new_kind:
        warnings.append(
            f"module {name} is {_KIND_TEXT[old_kind]} in {old_vsn} and {_KIND_TEXT[new_kind]} in {new_vsn}; "
            f"it is upgraded as {_KIND_TEXT[kind]}: check that its running processes survive this"
        )
    change = None
    if kind == SPECIAL:
        if new.exports_code_change or new.exports_system_code_change:
            change = "advanced"
        else:
            change = "soft"
            behaviours = ", ".join(new.behaviours or old.behaviours) or "no behaviour"
            warnings.append(
                f"module {name} ({behaviours}) runs as a special process but its {new_vsn} beam exports no "
                "code_change: it is updated with 'soft' (suspended while loaded, state kept as it is)"
            )
    return Classification(kind, change, warnings)


# ---------------------------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------------------------


def dependencies(diff: AppDiff, direction: str) -> dict:
    """DepMods per module for one direction: ``{module: [modules it depends on]}`` (sorted).

    ``up``: keys are the changed, added and deleted modules; a changed or added module depends on
    the changed and added modules its new beam imports; a deleted module depends on the changed
    modules whose old beam imports it (they are loaded before it is removed). ``down``: keys are
    the same modules; a changed or deleted (re-added) module depends on the changed and deleted
    modules its old beam imports, except that a module deleted going up depends on its changed old
    callers instead, and a changed module whose new beam imports an added module depends on it.
    systools runs dependents first going down, so a re-added module is loaded before the old
    callers that need it, and a caller stops calling an added module before that module is
    removed: the downgrade is the upgrade reversed.
    """
    if direction not in (UP, DOWN):
        raise ValueError(f"direction must be {UP!r} or {DOWN!r}, not {direction!r}")
    changed = set(diff.changed)
    added = set(diff.added)
    deleted = set(diff.deleted)
    old, new = diff.old_modules, diff.new_modules
    deps: dict = {m: set() for m in sorted(changed | added | deleted)}
    if direction == UP:
        targets = changed | added
        for m in changed | added:
            deps[m].update(d for d in new[m].imports if d in targets and d != m)
        for caller in changed:
            for d in old[caller].imports:
                if d in deleted:
                    deps[d].add(caller)
    else:
        targets = changed | deleted
        for m in changed | deleted:
            deps[m].update(d for d in old[m].imports if d in targets and d != m and not (m in changed and d in deleted))
        for caller in changed:
            for d in old[caller].imports:
                if d in deleted:
                    deps[d].add(caller)
        for caller in changed:
            for d in new[caller].imports:
                if d in added:
                    deps[caller].add(d)
    return {m: sorted(v) for m, v in deps.items()}


# ---------------------------------------------------------------------------------------------
# Graphs: strongly connected components, systools' order, linearisation
# ---------------------------------------------------------------------------------------------


def strongly_connected(nodes: list, deps: dict) -> list:
    """Strongly connected components (Tarjan, iterative), each sorted by position in ``nodes``.

    ``deps`` maps a node to the nodes it has edges to; edges to nodes outside ``nodes`` are ignored.
    The components come out dependencies first (a component after every one it reaches).
    """
    position = {n: i for i, n in enumerate(nodes)}
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    result: list = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter([d for d in deps.get(root, ()) if d in position]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter([d for d in deps.get(nxt, ()) if d in position])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(sorted(component, key=position.__getitem__))
    return result


def _weak_components(nodes: list, deps: dict) -> list:
    """Weakly connected components, each sorted by position, in order of their first member."""
    position = {n: i for i, n in enumerate(nodes)}
    parent = {n: n for n in nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for n in nodes:
        for d in deps.get(n, ()):
            if d in position:
                a, b = find(n), find(d)
                if a != b:
                    parent[max(a, b, key=position.__getitem__)] = min(a, b, key=position.__getitem__)
    groups: dict = {}
    for n in nodes:
        groups.setdefault(find(n), []).append(n)
    return sorted(groups.values(), key=lambda g: position[g[0]])


def _component_sequence(component: list, deps: dict, position: dict, mode: str, linked: bool = False) -> tuple:
    """The SCCs of one weak component in execution order, and whether that order was forced.

    Going up, a component's SCCs run dependencies first; going down, dependents first (systools'
    topological order). Ties (no unique order) go to the SCC with the smallest position; with
    ``linked``, to an SCC with a direct edge to or from the previous one first (so that
    :func:`linearise` has fewer DepMods to add).
    """
    members = set(component)
    sccs = strongly_connected(component, {m: [d for d in deps.get(m, ()) if d in members] for m in component})
    of = {}
    for i, scc in enumerate(sccs):
        for m in scc:
            of[m] = i
    succ = [set() for _unused in sccs]  # SCC -> SCCs it depends on
    pred = [set() for _unused in sccs]
    for m in component:
        for d in deps.get(m, ()):
            if d in members and of[d] != of[m]:
                succ[of[m]].add(of[d])
                pred[of[d]].add(of[m])
    waiting_on = succ if mode == UP else pred
    released_by = pred if mode == UP else succ
    remaining = [len(s) for s in waiting_on]
    ready = {i for i, r in enumerate(remaining) if r == 0}
    key = [position[scc[0]] for scc in sccs]
    sequence = []
    unique = True
    while ready:
        if len(ready) > 1:
            unique = False
        choice = ready
        if linked and sequence and len(ready) > 1:
            last = sequence[-1]
            near = {i for i in ready if (last in succ[i] if mode == UP else i in succ[last])}
            choice = near or ready
        pick = min(choice, key=key.__getitem__)
        ready.discard(pick)
        sequence.append(pick)
        for other in released_by[pick]:
            remaining[other] -= 1
            if remaining[other] == 0:
                ready.add(other)
    return [sccs[i] for i in sequence], unique


def _reaches(start: str, goal: set, deps: dict, members: set) -> bool:
    seen = {start}
    todo = [start]
    while todo:
        node = todo.pop()
        if node in goal:
            return True
        for d in deps.get(node, ()):
            if d in members and d not in seen:
                seen.add(d)
                todo.append(d)
    return False


class Linearisation:
    """DepMods completed so that systools has exactly one order (see :func:`linearise`).

    ``deps``: the completed DepMods (sorted); ``added``: only the DepMods added; ``sccs``: the
    strongly connected components in execution order, component after component; ``order``: the
    modules in the order systools executes them for the list order given.
    """

    def __init__(self, deps: dict, added: dict, sccs: list, order: list) -> None:
        self.deps = deps
        self.added = added
        self.sccs = sccs
        self.order = order

    def __repr__(self) -> str:
        return f"Linearisation(order={self.order!r}, added={self.added!r})"


def linearise(nodes: list, deps: dict, mode: str) -> Linearisation:
    """Add DepMods so that every weakly connected component of the DEP instructions ``nodes`` (in
    list order) has exactly one systools order, and return that order.

    The components' SCCs are put in execution order -- ``mode`` ``up``: dependencies first,
    ``down``: dependents first; when several are possible, one with a direct edge to (up) or from
    (down) the previous SCC, then the SCC whose first member comes first in ``nodes`` -- and an
    edge is added between two consecutive SCCs when the later
    (up) or the earlier (down) does not already reach the other, from and to the first member of
    each. Following an order that is already topological, this never closes a cycle; and when
    every SCC reaches the next, the transitive condensation systools sorts is a total order.
    """
    if mode not in (UP, DOWN):
        raise ValueError(f"mode must be {UP!r} or {DOWN!r}, not {mode!r}")
    position = {n: i for i, n in enumerate(nodes)}
    work = {n: list(deps.get(n, ())) for n in nodes}
    added: dict = {}
    all_sccs = []
    for component in _weak_components(nodes, work):
        members = set(component)
        sequence, _unique = _component_sequence(component, work, position, mode, linked=True)
        for earlier, later in zip(sequence, sequence[1:]):
            source, target = (later, earlier) if mode == UP else (earlier, later)
            if not _reaches(source[0], set(target), work, members):
                work[source[0]].append(target[0])
                added.setdefault(source[0], []).append(target[0])
        all_sccs.extend(sequence)
    completed = {n: sorted(set(work[n]), key=str) for n in nodes}
    order = _systools_sequence(nodes, completed, mode)[0]
    return Linearisation(completed, {k: sorted(v) for k, v in added.items()}, all_sccs, order)


def _systools_sequence(nodes: list, deps: dict, mode: str) -> tuple:
    """``(order, ambiguous)``: the order systools gives DEP instructions ``nodes`` (list order)
    with DepMods ``deps``; ``ambiguous`` lists the components without a unique order (for those,
    the order given breaks ties by list position, where systools uses ETS order)."""
    position = {n: i for i, n in enumerate(nodes)}
    order = []
    ambiguous = []
    for component in _weak_components(nodes, deps):
        sequence, unique = _component_sequence(component, deps, position, DOWN)
        if not unique:
            ambiguous.append(list(component))
        flat = [m for scc in sequence for m in scc]
        order.extend(reversed(flat) if mode == UP else flat)
    return order, ambiguous


def instruction_deps(instr: object) -> list | None:
    """The DepMods of a DEP instruction (``update``, ``load_module``, ``add_module``,
    ``delete_module``) as systools expands it, or ``None`` for any other instruction."""
    if not (isinstance(instr, tuple) and len(instr) >= 2 and instr[0] in _DEP_ATOMS):
        return None
    last = instr[-1]
    size = len(instr)
    name = str(instr[0])
    if name == "update":
        if size in (3, 4):
            return list(last) if isinstance(last, list) else []
        return list(last) if size >= 6 and isinstance(last, list) else []
    if name == "load_module" and size == 4:
        return []
    return list(last) if size >= 3 and isinstance(last, list) else []


_DEP_ATOMS = frozenset(A(n) for n in _DEP_INSTRUCTIONS)


def _dep_graph(instructions: list) -> tuple:
    nodes = []
    deps = {}
    for instr in instructions:
        found = instruction_deps(instr)
        if found is None:
            continue
        module = str(instr[1])
        if module in deps:
            raise ValueError(f"module {module} has two DEP instructions (systools: muldef_module)")
        nodes.append(module)
        deps[module] = [str(d) for d in found]
    for module, found in deps.items():
        for d in found:
            if d not in deps:
                raise ValueError(f"DepMods of {module} name {d}, which has no DEP instruction (systools: undef_module)")
    return nodes, deps


def systools_order(instructions: list, mode: str) -> list:
    """The order in which systools (``systools_rc:translate_dependent_instrs``) loads or removes
    the modules of the DEP instructions in ``instructions`` (``mode`` ``up`` or ``down``).

    Where systools' order is not unique (see :func:`ambiguous_components`), ties are broken by
    list position. Raises ``ValueError`` for what systools refuses (``muldef_module``,
    ``undef_module``).
    """
    nodes, deps = _dep_graph(instructions)
    return _systools_sequence(nodes, deps, mode)[0]


def ambiguous_components(instructions: list) -> list:
    """The weakly connected components of the DEP instructions that systools may order in more
    than one way (it then breaks ties by the VM's atom table order); ``[]`` when linearised."""
    nodes, deps = _dep_graph(instructions)
    return _systools_sequence(nodes, deps, UP)[1]


# ---------------------------------------------------------------------------------------------
# Instructions
# ---------------------------------------------------------------------------------------------


def _atoms(names) -> list:
    return [A(n) for n in names]


def _code_instruction(module: str, what: str, cls: Classification | None, deps: list, purge: PurgeOptions) -> tuple:
    m = A(module)
    if what == "add":
        return (A("add_module"), m, _atoms(deps))
    if what == "delete":
        return (A("delete_module"), m, _atoms(deps))
    pre, post = purge.for_module(module)
    if cls.kind == SUPERVISOR:
        if not deps and pre == BRUTAL and post == BRUTAL:
            return (A("update"), m, A("supervisor"))
        return (A("update"), m, A("static"), A("default"), (A("advanced"), []), A(pre), A(post), _atoms(deps))
    if cls.kind == SPECIAL:
        change = (A("advanced"), []) if cls.change == "advanced" else A("soft")
        return (A("update"), m, change, A(pre), A(post), _atoms(deps))
    return (A("load_module"), m, A(pre), A(post), _atoms(deps))


def _sup_call(function: str, sup: object, child_id: object) -> tuple:
    return (A("apply"), (A("supervisor"), A(function), [sup, child_id]))


def _stop_child(sup: object, child_id: object) -> list:
    return [_sup_call("terminate_child", sup, child_id), _sup_call("delete_child", sup, child_id)]


def _load_protocol(module: str, path: str, data: bytes) -> list:
    m = A(module)
    return [
        (A("apply"), (A("code"), A("soft_purge"), [m])),
        (A("apply"), (A("code"), A("load_binary"), [m, path, data])),
    ]


# ---------------------------------------------------------------------------------------------
# One application
# ---------------------------------------------------------------------------------------------


class _Entry:
    """One previous version's up and down lists, kept in parts until the protocols are known."""

    def __init__(self, from_vsn: str, diff: AppDiff) -> None:
        self.from_vsn = from_vsn
        self.diff = diff
        self.parts = {UP: ([], [], []), DOWN: ([], [], [])}  # (before code, code, after code)
        self.protocols: dict = {UP: {}, DOWN: {}}  # module -> [apply, apply]
        self.order: dict = {UP: [], DOWN: []}
        self.shipped: dict = {UP: None, DOWN: None}  # instructions of a shipped appup that win
        self.restart = False

    def instructions(self, direction: str) -> list:
        if self.shipped[direction] is not None:
            return list(self.shipped[direction])
        before, code, after = self.parts[direction]
        protocols = [i for m in sorted(self.protocols[direction]) for i in self.protocols[direction][m]]
        return before + code + protocols + after


class AppupResult:
    """The appup of one application.

    ``name``, ``to_vsn``, ``from_vsns`` (one entry each, in the order the previous releases were
    given), ``up``/``down`` (``{from_vsn: [instruction]}`` as Erlang terms), ``order``
    (``{from_vsn: {"up": [module], "down": [module]}}``: the order systools will load or remove
    the modules), ``diffs`` (``{from_vsn: AppDiff}``), ``debug_only`` (modules whose only change
    is debug information, any version), ``restart`` (from-versions that restart the application),
    ``sources`` (``{from_vsn: {"up": "generated" | "shipped", "down": ...}}``), ``warnings``,
    ``errors``; :attr:`term` is ``{Vsn, [{From, Up}], [{From, Down}]}`` for
    ``_term_text.dumps``, :meth:`text` the file.
    """

    def __init__(self, name: str, to_vsn: str) -> None:
        self.name = name
        self.to_vsn = to_vsn
        self._entries: list = []
        self.warnings: list = []
        self.errors: list = []

    @property
    def from_vsns(self) -> list:
        return [e.from_vsn for e in self._entries]

    @property
    def up(self) -> dict:
        return {e.from_vsn: e.instructions(UP) for e in self._entries}

    @property
    def down(self) -> dict:
        return {e.from_vsn: e.instructions(DOWN) for e in self._entries}

    @property
    def order(self) -> dict:
        return {e.from_vsn: {UP: list(e.order[UP]), DOWN: list(e.order[DOWN])} for e in self._entries}

    @property
    def diffs(self) -> dict:
        return {e.from_vsn: e.diff for e in self._entries}

    @property
    def debug_only(self) -> list:
        return sorted({m for e in self._entries for m in e.diff.debug_only})

    @property
    def restart(self) -> list:
        return [e.from_vsn for e in self._entries if e.restart]

    @property
    def sources(self) -> dict:
        return {
            e.from_vsn: {d: "generated" if e.shipped[d] is None else "shipped" for d in (UP, DOWN)}
            for e in self._entries
        }

    @property
    def term(self) -> tuple:
        return (
            self.to_vsn,
            [(e.from_vsn, e.instructions(UP)) for e in self._entries],
            [(e.from_vsn, e.instructions(DOWN)) for e in self._entries],
        )

    def text(self, header: str | None = None) -> str:
        """The ``.appup`` file, as ``io:format("~tp.~n")`` writes it."""
        return dumps([self.term], header=header)

    def to_dict(self) -> dict:
        """A JSON-able summary: instructions as Erlang term text."""
        return {
            "from": self.from_vsns,
            "to": self.to_vsn,
            "up": {k: [format_term(i) for i in v] for k, v in self.up.items()},
            "down": {k: [format_term(i) for i in v] for k, v in self.down.items()},
            "order": self.order,
            "debug_only": self.debug_only,
            "restart_application": self.restart,
            "sources": self.sources,
            "warnings": list(self.warnings),
            "errors": list(self.errors),
        }

    def __repr__(self) -> str:
        return f"AppupResult({self.name!r}, {self.from_vsns!r} -> {self.to_vsn!r})"


def _sup_ref(children) -> object:
    ref = getattr(children, "sup_ref", None)
    return children.registered_name if ref is None else ref


def _children_changes(name: str, old, new, diff: AppDiff, warnings: list) -> tuple | None:
    """``(sup_ref, removed, added)`` child specs of a changed supervisor, or ``None``."""
    where = f"supervisor {name} ({diff.old_vsn} -> {diff.new_vsn})"
    if not (old.is_supervisor and new.is_supervisor):
        warnings.append(f"{where}: not a supervisor in both versions; its children are not compared")
        return None
    old_children, new_children = old.supervisor_children, new.supervisor_children
    for vsn, children in ((diff.old_vsn, old_children), (diff.new_vsn, new_children)):
        if children is None or not children.complete:
            reason = "unknown" if children is None else (children.reason or "not understood")
            warnings.append(
                f"{where}: the child specs of {vsn} cannot be read ({reason}); add restart_child or "
                "terminate_child/delete_child instructions in an override if its children changed"
            )
            return None
    added, removed = diff_children(old_children, new_children)
    for child in new_children.children:
        before = old_children.child(child.id)
        if before is not None and None not in (before.module, child.module) and before.module != child.module:
            warnings.append(
                f"{where}: child {format_term(child.id)} now starts {child.module} instead of {before.module}; "
                "the running child keeps its old code until it is restarted"
            )
    if not (removed or added):
        return None
    sup = _sup_ref(old_children)
    renamed = _sup_ref(new_children)
    if sup is None:
        sup = renamed
    elif renamed is not None and canonical(renamed) != canonical(sup):
        warnings.append(
            f"{where}: registered as {format_term(sup)} in {diff.old_vsn} and {format_term(renamed)} in "
            f"{diff.new_vsn}; the running process keeps {format_term(sup)}"
        )
    if sup is None:
        sup = A(name)
        warnings.append(
            f"{where}: its registered name is not known; the child instructions use the module name {name}"
        )
    return sup, removed, added


def _build_entry(app: str, diff: AppDiff, options: GenerateOptions, result: AppupResult) -> _Entry:
    entry = _Entry(diff.old_vsn, diff)
    warnings = result.warnings
    old, new = diff.old_modules, diff.new_modules
    nif = [m for m in diff.changed if old[m].loads_nif or new[m].loads_nif]
    if nif:
        if options.nif == "restart_application":
            warnings.append(
                f"{app} {diff.old_vsn} -> {diff.new_vsn}: {', '.join(nif)} loads a NIF library and cannot be "
                "hot-loaded safely (the library needs an upgrade callback): the application is restarted "
                "(restart_application); use an override to load it instead"
            )
            entry.restart = True
            for direction in (UP, DOWN):
                entry.parts[direction][1].append((A("restart_application"), A(app)))
            return entry
        warnings.append(
            f"{app} {diff.old_vsn} -> {diff.new_vsn}: {', '.join(nif)} loads a NIF library and is hot-loaded; "
            "this fails unless the library implements the upgrade callback"
        )

    classes = {}
    for m in diff.changed:
        cls = classify_change(m, old[m], new[m], diff.old_vsn, diff.new_vsn)
        classes[m] = cls
        warnings.extend(f"{app}: {w}" for w in cls.warnings)
    for m in diff.changed + diff.added:
        gone = [d for d in new[m].imports if d in diff.deleted]
        if gone:
            warnings.append(
                f"{app} {diff.new_vsn}: module {m} calls {', '.join(gone)}, which {diff.new_vsn} no longer has"
            )

    base = diff.added + diff.changed + diff.deleted
    up_deps = dependencies(diff, UP)
    first = linearise(base, up_deps, UP)
    up_list = [m for scc in first.sccs for m in scc]
    up = linearise(up_list, up_deps, UP)
    down_list = list(reversed(up_list))
    down = linearise(down_list, dependencies(diff, DOWN), DOWN)
    entry.order[UP] = up.order
    entry.order[DOWN] = down.order
    what_up = {m: "add" for m in diff.added}
    what_up.update({m: "delete" for m in diff.deleted})
    what_down = {m: "delete" for m in diff.added}
    what_down.update({m: "add" for m in diff.deleted})
    purge = options.purge
    entry.parts[UP][1].extend(
        _code_instruction(m, what_up.get(m, "change"), classes.get(m), up.deps[m], purge) for m in up_list
    )
    entry.parts[DOWN][1].extend(
        _code_instruction(m, what_down.get(m, "change"), classes.get(m), down.deps[m], purge) for m in down_list
    )

    for m in diff.changed:
        if classes[m].kind != SUPERVISOR:
            continue
        found = _children_changes(m, old[m], new[m], diff, warnings)
        if found is None:
            continue
        sup, removed, added = found
        for child in reversed(removed):
            entry.parts[UP][0].extend(_stop_child(sup, child.id))
        for child in added:
            entry.parts[UP][2].append(_sup_call("restart_child", sup, child.id))
        for child in reversed(added):
            entry.parts[DOWN][0].extend(_stop_child(sup, child.id))
        for child in removed:
            entry.parts[DOWN][2].append(_sup_call("restart_child", sup, child.id))
    return entry


def _same_code(a, b) -> bool:
    return {m: f.md5 for m, f in a.modules.items()} == {m: f.md5 for m, f in b.modules.items()}


def _shipped_entries(current_app, result: AppupResult, entries: list) -> None:
    """Let the appup shipped in ``current_app``'s ebin win, entry by entry."""
    term = current_app.appup
    where = f"{current_app.name} {current_app.vsn}: the appup shipped in {current_app.lib_dir}/ebin"
    if not (isinstance(term, tuple) and len(term) == 3 and isinstance(term[1], list) and isinstance(term[2], list)):
        result.warnings.append(f"{where} is not {{Vsn, Up, Down}}; it is ignored")
        return
    try:
        vsn = text(term[0])
    except TypeError:
        result.warnings.append(f"{where} has no version string; it is ignored")
        return
    if vsn != current_app.vsn:
        result.warnings.append(f"{where} is for version {vsn}, not {current_app.vsn}; it is ignored")
        return
    for entry in entries:
        for direction, items in ((UP, term[1]), (DOWN, term[2])):
            for item in items:
                if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], list)):
                    continue
                try:
                    matches = version_matches(item[0], entry.from_vsn)
                except ValueError:
                    matches = False
                if matches:
                    entry.shipped[direction] = list(item[1])
                    break
        used = [d for d in (UP, DOWN) if entry.shipped[d] is not None]
        if used:
            result.warnings.append(f"{where} is used for {' and '.join(used)} from {entry.from_vsn}")


def _generate_app(app_name: str, previous_apps: list, current_app, options: GenerateOptions) -> AppupResult | None:
    result = AppupResult(app_name, current_app.vsn)
    by_vsn: dict = {}
    for old in previous_apps:
        if old.vsn == current_app.vsn:
            continue
        seen = by_vsn.get(old.vsn)
        if seen is None:
            by_vsn[old.vsn] = old
        elif old.bundled and seen.bundled and not _same_code(seen, old):
            result.errors.append(
                f"application {app_name} {old.vsn} differs between two previous releases "
                "(same version, different code): its appup entry cannot serve both"
            )
    if not by_vsn and not result.errors:
        return None
    entries = []
    for old_vsn, old in by_vsn.items():
        if not (old.bundled and current_app.bundled):
            missing = old_vsn if not old.bundled else current_app.vsn
            result.warnings.append(
                f"application {app_name} {old_vsn} -> {current_app.vsn}: the code of {missing} is not in its "
                "release, so no appup entry is generated from it"
            )
            continue
        entries.append(_build_entry(app_name, diff_app(old, current_app), options, result))
    result._entries = entries
    if options.use_shipped and getattr(current_app, "appup", None) is not None:
        _shipped_entries(current_app, result, entries)
    return result


def generate_app(app_name: str, previous_apps: list, current_app, options: object = None) -> AppupResult | None:
    """The appup of one application: one entry per distinct version among ``previous_apps``
    (versions equal to ``current_app``'s are skipped); ``None`` when no previous version differs.
    A result without entries (``from_vsns == []``) only carries warnings or errors.

    Release-level rules (refusal of changed beams under an unchanged version, moved modules,
    consolidated protocols) need whole releases: see :func:`generate`.
    """
    return _generate_app(app_name, previous_apps, current_app, GenerateOptions.coerce(options))


# ---------------------------------------------------------------------------------------------
# Whole releases
# ---------------------------------------------------------------------------------------------


class GenerationResult:
    """The result of :func:`generate`.

    ``apps``: :class:`AppupResult` per application that needs an appup, in the new ``.rel``
    order; ``added_apps`` / ``removed_apps``: names of the applications only in the new release
    (missing from at least one previous one) / only in a previous one; ``unchanged_apps``: in a
    previous release with the same version and code; ``debug_only``: ``{app: [module]}`` whose only
    change is debug information; ``warnings``: release-level warnings (each :class:`AppupResult`
    has its own too); ``errors``: every error, release-level and per application -- the appups must
    not be used when there is one.
    """

    def __init__(self) -> None:
        self.apps: list = []
        self.added_apps: list = []
        self.removed_apps: list = []
        self.unchanged_apps: list = []
        self.debug_only: dict = {}
        self.warnings: list = []
        self._errors: list = []

    @property
    def errors(self) -> list:
        return self._errors + [e for app in self.apps for e in app.errors]

    def app(self, name: str) -> AppupResult:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(f"no appup was generated for application {name!r}")

    def to_dict(self) -> dict:
        return {
            "apps": {a.name: a.to_dict() for a in self.apps},
            "added_apps": list(self.added_apps),
            "removed_apps": list(self.removed_apps),
            "unchanged_apps": list(self.unchanged_apps),
            "debug_only": {k: list(v) for k, v in self.debug_only.items()},
            "warnings": list(self.warnings),
            "errors": self.errors,
        }

    def __repr__(self) -> str:
        return f"GenerationResult(apps={[a.name for a in self.apps]!r}, errors={len(self.errors)})"


def _moved_modules(previous, current, errors: list) -> None:
    new_owner = {m: app for app in current.apps for m in app.modules}
    reported = set()
    for rel in previous:
        for app in rel.apps:
            for module in app.modules:
                target = new_owner.get(module)
                if target is None or target.name == app.name or (module, app.name, target.name) in reported:
                    continue
                reported.add((module, app.name, target.name))
                errors.append(
                    f"module {module} moved from application {app.name} {app.vsn} (release {rel.name} {rel.vsn}) "
                    f"to application {target.name} {target.vsn}: systools would load it twice "
                    "(muldef_module) and the old application's removal would delete it; keep it in one application "
                    "or upgrade with a restart"
                )


def _protocol_owner(module: str, candidates: list, diffs: dict) -> AppupResult | None:
    for result in candidates:
        if module in diffs[result.name].new_modules:
            return result
    prefix = module + "."
    for result in candidates:
        diff = diffs[result.name]
        if any(m.startswith(prefix) for m in diff.changed + diff.added):
            return result
    return candidates[0] if candidates else None


def _protocols(previous, current, results: list, out: GenerationResult) -> None:
    new = getattr(current, "consolidated", None) or {}
    for rel in previous:
        old = getattr(rel, "consolidated", None) or {}
        changed = [m for m in sorted(new) if m not in old or old[m].md5 != new[m].md5]
        gone = [m for m in sorted(old) if m not in new]
        if gone:
            out.warnings.append(
                f"consolidated protocols of {rel.name} {rel.vsn} that {current.vsn} no longer has stay loaded "
                f"after the upgrade: {', '.join(gone)}"
            )
        if not changed:
            continue
        app_vsns = rel.app_versions
        candidates, entries, diffs = [], {}, {}
        for result in results:
            old_vsn = app_vsns.get(result.name)
            entry = next((e for e in result._entries if e.from_vsn == old_vsn), None)
            if entry is not None and entry.shipped[UP] is None:
                candidates.append(result)
                entries[result.name] = entry
                diffs[result.name] = entry.diff
        for module in changed:
            owner = _protocol_owner(module, candidates, diffs)
            if owner is None:
                out.warnings.append(
                    f"consolidated protocol {module} changed between {rel.vsn} and {current.vsn}, but no application "
                    f"has a generated appup entry from {rel.vsn} to load it: it keeps its old implementations "
                    "until the node restarts"
                )
                continue
            entry = entries[owner.name]
            fresh = new[module]
            if fresh.data is None:
                owner.errors.append(
                    f"consolidated protocol {module} of {current.vsn} changed but its beam is not available "
                    "(the new release must be a directory or tarball)"
                )
                continue
            entry.protocols[UP].setdefault(module, _load_protocol(module, fresh.path, fresh.data))
            before = old.get(module)
            if before is None:
                owner.warnings.append(
                    f"consolidated protocol {module} is new in {current.vsn}; the downgrade to {entry.from_vsn} "
                    "leaves it loaded"
                )
            elif before.data is None:
                owner.warnings.append(
                    f"consolidated protocol {module}: the beam of {rel.vsn} is not available (a manifest has "
                    f"none), so the downgrade to {entry.from_vsn} does not restore it"
                )
            else:
                instrs = _load_protocol(module, before.path, before.data)
                known = entry.protocols[DOWN].setdefault(module, instrs)
                if known != instrs:
                    owner.warnings.append(
                        f"consolidated protocol {module} differs between previous releases with {owner.name} "
                        f"{entry.from_vsn}; the downgrade restores the first one's"
                    )


def generate(
    previous_releases: list, current_release, options: object = None, purge: object = None
) -> GenerationResult:
    """The appups that upgrade every release in ``previous_releases`` to ``current_release``.

    Releases are :class:`~._release.Release` or :class:`~._release.ReleaseFacts` (manifest).
    ``options``: :class:`GenerateOptions` or a dict of its arguments; ``purge``: a
    :class:`PurgeOptions` (or its dict) that wins over ``options``. Bad options raise
    :class:`GenerationError`; problems of the releases are reported in the result's ``errors``.
    """
    options = GenerateOptions.coerce(options, purge)
    previous = list(previous_releases)
    if not previous:
        raise GenerationError("previous: give at least one release to upgrade from")
    out = GenerationResult()
    current_names = [a.name for a in current_release.apps]
    by_name = {a.name: a for a in current_release.apps}

    for app in current_release.apps:
        holders = [rel for rel in previous if app.name in rel.app_versions]
        olds = [rel.app(app.name) for rel in holders]
        if len(olds) < len(previous):
            out.added_apps.append(app.name)
        same = [(rel, o) for rel, o in zip(holders, olds) if o.vsn == app.vsn]
        unchanged = bool(same)
        refused = False
        for rel, old in same:
            if not (old.bundled and app.bundled):
                continue
            diff = diff_app(old, app)
            if diff.debug_only:
                out.debug_only.setdefault(app.name, [])
                out.debug_only[app.name] = sorted(set(out.debug_only[app.name]) | set(diff.debug_only))
            if not diff.empty and not refused:
                unchanged = False
                refused = True
                out._errors.append(
                    f"application {app.name} {app.vsn}: the code changed since release {rel.name} {rel.vsn} but the "
                    f"version did not ({diff.describe()}); systools would skip the application: give it a new version"
                )
        if unchanged:
            out.unchanged_apps.append(app.name)
        result = _generate_app(app.name, olds, app, options)
        if result is not None and not result.from_vsns:
            out.warnings.extend(result.warnings)
            out._errors.extend(result.errors)
        elif result is not None:
            out.apps.append(result)
            if result.debug_only:
                out.debug_only[app.name] = sorted(set(out.debug_only.get(app.name, [])) | set(result.debug_only))

    for rel in previous:
        for app in rel.apps:
            if app.name not in by_name and app.name not in out.removed_apps:
                out.removed_apps.append(app.name)

    _moved_modules(previous, current_release, out._errors)
    order = {name: i for i, name in enumerate(current_names)}
    out.apps.sort(key=lambda r: order[r.name])
    _protocols(previous, current_release, out.apps, out)

    loaded = {m for r in out.apps for e in r._entries if not e.restart for m in e.diff.changed}
    for module in sorted(options.purge.modules):
        if module not in loaded:
            out.warnings.append(f"purge: module {module} is not loaded by any generated appup")
    return out
