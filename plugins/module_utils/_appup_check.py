# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check a hand-written appup against the releases it upgrades between (``mode: check``).

PRIVATE to the erlang.otp collection: may change at any time.

:func:`check_appup` takes the appup term of one application, that application in every previous
release and in the new one (facts from :mod:`._release`: a release read from disk or a manifest),
and returns :class:`~._appup_syntax.Finding` objects. Errors make the task fail; warnings are
printed. It checks:

* **syntax** exactly as ``systools`` accepts it (:func:`~._appup_syntax.validate_appup`), and that
  the appup's version is the application's;
* **an entry for every previous version**, up and down, found as ``systools`` finds it (first
  matching key; binary keys are regexes) -- a missing one is ``systools``' ``no_relup``;
* **coverage**: going up, every changed module is loaded or updated, every added module loaded,
  every deleted module removed; going down the same for the old version (added modules
  removed, deleted ones loaded back). An entry that restarts the application (or the emulator)
  covers everything;
* **no unknown module**: what is loaded exists in the version loaded, what is removed is gone
  from it; a module loaded though unchanged is a warning;
* **order**: the dependencies :func:`~._appup.dependencies` derives from the beams (callee loaded
  before caller going up, after it going down; a deleted module removed after its callers are
  reloaded) hold in *every* order ``systools`` may produce from the entry's list and DepMods --
  an order left to ``systools``' tie-break (the VM's atom table) is reported too;
* **downgrade the inverse of the upgrade**: each module's operation inverted (add <-> delete,
  a state conversion ``{advanced, _}`` on one side needs one on the other), supervisor child
  starts and stops swapped, a restart on both sides or on neither;
* **classification sanity** (warnings): a supervisor loaded with ``load_module``; a special
  process exporting ``code_change`` loaded with ``load_module``; ``{advanced, _}`` for a module
  without ``code_change``; ``{update, M, supervisor}`` for a module that is no supervisor; a
  supervisor gaining or losing children that the entry does not start or stop; a NIF module
  hot-loaded;
* **refusal**: a previous release with the same application version but different code
  (``systools`` would silently skip the application).
"""

from __future__ import annotations

from ansible_collections.erlang.otp.plugins.module_utils._appup import (
    DOWN,
    SPECIAL,
    UP,
    classify_change,
    dependencies,
    diff_app,
)
from ansible_collections.erlang.otp.plugins.module_utils._appup_syntax import (
    ERROR,
    WARNING,
    Finding,
    UnsupportedRegex,
    find_entry,
    instruction_text,
    key_text,
    normalized_entry,
    term_text,
    validate_appup,
    version_matches,
)
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

__all__ = ["check_appup", "handled_before", "order_verdicts"]

_RESTARTS = ("restart_emulator", "restart_new_emulator")


def _name(term: object) -> str:
    if isinstance(term, bool):
        return "true" if term else "false"
    return str(term)


def _atom_is(term: object, name: str) -> bool:
    return isinstance(term, Atom) and str(term) == name


class _Op:
    """What an entry does to one module."""

    __slots__ = ("change", "deps", "index", "kind", "position", "static", "text")

    def __init__(self, kind: str, index: int, text: str, position: int, deps: list) -> None:
        self.kind = kind  # "load" | "update" | "add" | "delete" | "ll_load" | "ll_remove"
        self.index = index
        self.text = text
        self.position = position  # among the DEP instructions (systools' N), -1 for low-level ones
        self.deps = deps
        self.change: str | None = None  # update: "soft" | "advanced"
        self.static = False

    @property
    def loads(self) -> bool:
        return self.kind in ("load", "update", "add", "ll_load")

    @property
    def removes(self) -> bool:
        return self.kind in ("delete", "ll_remove")

    def describe(self) -> str:
        if self.kind == "update":
            return "updated with {advanced, _}" if self.change == "advanced" else "updated (soft)"
        return {
            "load": "loaded (load_module)",
            "add": "added (add_module)",
            "delete": "deleted (delete_module)",
            "ll_load": "loaded (load)",
            "ll_remove": "removed (remove)",
        }[self.kind]


class _Entry:
    """One entry as systools will translate it."""

    def __init__(self, app: str, direction: str, key: object, instrs: object, context: dict) -> None:
        self.direction = direction
        self.key = key
        self.context = context
        self.ops: dict = {}  # module -> _Op (DEP instructions first, then low-level ones)
        self.nodes: list = []  # DEP modules in list order
        self.applies: list = []  # (index, text, (M, F, A))
        self.app_instrs: list = []  # (index, text, tag, application)
        self.restart = False
        self.valid = True
        try:
            items = normalized_entry(instrs)
        except ValueError:
            self.valid = False  # validate_appup reported why
            return
        for index, original, instr in items:
            text = instruction_text(original)
            if isinstance(instr, Atom):
                if str(instr) in _RESTARTS:
                    self.restart = True
                continue
            tag = str(instr[0])
            if tag in ("update", "load_module", "add_module", "delete_module"):
                module = _name(instr[1])
                kind = {"update": "update", "load_module": "load", "add_module": "add", "delete_module": "delete"}[tag]
                op = _Op(kind, index, text, len(self.nodes), [_name(d) for d in _list(instr[-1])])
                if kind == "update":
                    op.change = "soft" if _atom_is(instr[4], "soft") else "advanced"
                    op.static = _atom_is(instr[2], "static")
                self.nodes.append(module)
                self.ops[module] = op
            elif tag in ("load", "remove"):
                module = _name(instr[1][0])
                self.ops.setdefault(module, _Op("ll_" + tag, index, text, -1, []))
            elif tag in ("add_application", "remove_application", "restart_application"):
                self.app_instrs.append((index, text, tag, _name(instr[1])))
                if tag == "restart_application" and _name(instr[1]) == app:
                    self.restart = True
            elif tag == "apply":
                self.applies.append((index, text, instr[1]))

    def finding(self, severity: str, code: str, message: str, op: _Op | None = None, **extra: object) -> Finding:
        where = dict(self.context)
        if op is not None:
            where.update(index=op.index, instruction=op.text)
        where.update(extra)
        return Finding(severity, code, message, **where)


def _list(term: object) -> list:
    if isinstance(term, list):
        return term
    return []  # "" (an empty string) is the only other list a valid entry can have here


def _vsn_text(term: object) -> str | None:
    if isinstance(term, str) and not isinstance(term, Atom):
        return str(term)
    if isinstance(term, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in term):
        try:
            return "".join(chr(c) for c in term)
        except (ValueError, OverflowError):
            return None
    return None


def check_appup(appup_term: object, previous_apps: list, current_app, source: str, *, release_apps=None) -> list:
    """Check one application's appup term against its previous versions and its current one.

    ``previous_apps``: the application as found in each previous release (facts with ``name``,
    ``vsn``, ``bundled``, ``modules``); versions equal to ``current_app.vsn`` need no entry.
    ``source`` names the appup in findings. ``release_apps`` (optional): the applications of the
    new release, to tell a module of another application from an unknown one and to check
    ``add_application``/``remove_application``. Returns the findings, errors first.
    """
    app = current_app.name
    findings = list(validate_appup(appup_term, source, app=app))
    if not (isinstance(appup_term, tuple) and len(appup_term) == 3):
        return _sorted(findings)
    vsn, up_items, down_items = appup_term
    vsn_text = _vsn_text(vsn)
    if isinstance(vsn, bytes):
        try:
            vsn_text = current_app.vsn if version_matches(vsn, current_app.vsn) else key_text(vsn)
        except UnsupportedRegex:
            vsn_text = None
    if vsn_text is not None and vsn_text != current_app.vsn:
        findings.append(
            Finding(
                ERROR,
                "bad_vsn",
                f"the appup is for version {vsn_text}, but {app} is {current_app.vsn} in this release "
                "(systools only warns with bad_vsn and uses it anyway: a stale appup?)",
                source=source,
                app=app,
            )
        )
    owners = _owners(release_apps, app)
    seen_vsns: dict = {}
    for old in previous_apps:
        if old.vsn in seen_vsns:
            continue
        seen_vsns[old.vsn] = old
        if old.vsn == current_app.vsn:
            findings.extend(_same_version(old, current_app, source))
            continue
        findings.extend(_check_version(app, old, current_app, up_items, down_items, source, owners, release_apps))
    return _sorted(findings)


def _sorted(findings: list) -> list:
    return sorted(findings, key=lambda f: f.severity != ERROR)


def _owners(release_apps, app: str) -> dict:
    owners: dict = {}
    for other in release_apps or ():
        if other.name == app or not getattr(other, "bundled", True):
            continue
        for module in other.modules:
            owners[module] = other.name
    return owners


def _bundled(app_facts) -> bool:
    return bool(getattr(app_facts, "bundled", True))


def _same_version(old, current, source: str) -> list:
    if not (_bundled(old) and _bundled(current)):
        return []
    diff = diff_app(old, current)
    if diff.empty:
        return []
    return [
        Finding(
            ERROR,
            "unchanged_vsn",
            f"{current.name} keeps version {current.vsn}, but its code differs from the previous release's "
            f"({diff.describe()}): systools skips applications whose version did not change, so none of this "
            "would be upgraded; bump the application version",
            source=source,
            app=current.name,
            from_vsn=old.vsn,
            to_vsn=current.vsn,
        )
    ]


def _check_version(app: str, old, current, up_items, down_items, source: str, owners: dict, release_apps) -> list:
    findings: list = []
    entries: dict = {}
    for direction, items in ((UP, up_items), (DOWN, down_items)):
        versions = (
            {"from_vsn": old.vsn, "to_vsn": current.vsn}
            if direction == UP
            else {
                "from_vsn": current.vsn,
                "to_vsn": old.vsn,
            }
        )
        context = {"source": source, "app": app, "direction": direction, **versions}
        if not isinstance(items, list):
            continue  # validate_appup reported it
        listed = [e for e in items if isinstance(e, tuple) and len(e) == 2]
        try:
            hit = find_entry(listed, old.vsn)
        except UnsupportedRegex as exc:
            findings.append(
                Finding(
                    WARNING,
                    "unsupported_regex",
                    f"cannot tell which {direction} entry systools picks for {old.vsn}: {exc}",
                    **context,
                )
            )
            continue
        if hit is None:
            what = "upgrade from" if direction == UP else "downgrade to"
            findings.append(
                Finding(
                    ERROR,
                    "no_relup",
                    f"no {direction} entry matches {old.vsn}: systools cannot make a relup with the {what} "
                    f"{old.vsn} (no_relup)",
                    **context,
                )
            )
            continue
        key = listed[hit[0]][0]
        context["key"] = key_text(key)
        entries[direction] = _Entry(app, direction, key, hit[1], context)
    if not (_bundled(old) and _bundled(current)):
        missing = old.vsn if not _bundled(old) else current.vsn
        findings.append(
            Finding(
                WARNING,
                "not_bundled",
                f"the code of {app} {missing} is not in its release: the entries for {old.vsn} cannot be checked "
                "against the modules",
                source=source,
                app=app,
                from_vsn=old.vsn,
                to_vsn=current.vsn,
            )
        )
        return findings
    diff = diff_app(old, current)
    for entry in entries.values():
        if not entry.valid:
            continue
        findings.extend(_coverage(entry, diff))
        findings.extend(_known_modules(entry, diff, owners))
        findings.extend(_applications(entry, release_apps))
        findings.extend(_classification(entry, diff))
        findings.extend(_order(entry, diff))
        findings.extend(_children(entry, diff))
    up, down = entries.get(UP), entries.get(DOWN)
    if up is not None and down is not None and up.valid and down.valid:
        findings.extend(_inverse(up, down, diff))
    return findings


# ---------------------------------------------------------------------------------------------
# Coverage and unknown modules
# ---------------------------------------------------------------------------------------------


def _coverage(entry: _Entry, diff) -> list:
    if entry.restart:
        return []
    out = []
    old_vsn, new_vsn = diff.old_vsn, diff.new_vsn
    if entry.direction == UP:
        needs = [
            (
                m,
                "load",
                f"module {m} changed from {old_vsn} to {new_vsn}, but the upgrade neither loads nor "
                "updates it: the node would keep running the old code",
            )
            for m in diff.changed
        ]
        needs += [
            (m, "load", f"module {m} is new in {new_vsn}, but the upgrade never loads it (add_module)")
            for m in diff.added
        ]
        needs += [
            (m, "remove", f"module {m} is gone in {new_vsn}, but the upgrade never removes it (delete_module)")
            for m in diff.deleted
        ]
    else:
        needs = [
            (
                m,
                "load",
                f"module {m} changed from {old_vsn} to {new_vsn}, but the downgrade neither loads "
                "nor updates it: the node would keep running the new code",
            )
            for m in diff.changed
        ]
        needs += [
            (m, "remove", f"module {m} does not exist in {old_vsn}, but the downgrade never removes it (delete_module)")
            for m in diff.added
        ]
        needs += [
            (m, "load", f"module {m} exists only in {old_vsn}, but the downgrade never loads it back (add_module)")
            for m in diff.deleted
        ]
    for module, need, message in needs:
        op = entry.ops.get(module)
        if op is not None and (op.loads if need == "load" else op.removes):
            continue
        instead = "" if op is None else f"; it is {op.describe()} instead"
        out.append(entry.finding(ERROR, "missing_module", message + instead, op))
    return out


def _known_modules(entry: _Entry, diff, owners: dict) -> list:
    out = []
    if entry.direction == UP:
        into, into_vsn, out_of, out_of_vsn = diff.new_modules, diff.new_vsn, diff.old_modules, diff.old_vsn
    else:
        into, into_vsn, out_of, out_of_vsn = diff.old_modules, diff.old_vsn, diff.new_modules, diff.new_vsn
    app = diff.app
    for module, op in entry.ops.items():
        if op.loads:
            if module not in into:
                owner = owners.get(module)
                if owner is not None and entry.direction == UP:
                    out.append(
                        entry.finding(
                            WARNING,
                            "other_app_module",
                            f"module {module} belongs to application {owner}, not {app}: load it from {owner}'s appup",
                            op,
                        )
                    )
                else:
                    out.append(
                        entry.finding(
                            ERROR,
                            "unknown_module",
                            f"{app} {into_vsn} has no module {module}"
                            + (" (systools fails with no_such_module)" if op.position >= 0 else ""),
                            op,
                        )
                    )
            elif module in out_of and module not in diff.changed:
                same = "has the same code" + (
                    " (only its debug information changed)" if module in diff.debug_only else ""
                )
                out.append(
                    entry.finding(
                        WARNING,
                        "unchanged_module",
                        f"module {module} {same} in {diff.old_vsn} and {diff.new_vsn}: loading it again is not "
                        "needed (with brutal_purge it kills processes still running its old code)",
                        op,
                    )
                )
        elif op.removes:
            if module in into:
                out.append(
                    entry.finding(
                        ERROR,
                        "removes_kept_module",
                        f"module {module} is removed, but {app} {into_vsn} still has it: the application would lose it",
                        op,
                    )
                )
            elif module not in out_of:
                out.append(
                    entry.finding(
                        ERROR,
                        "unknown_module",
                        f"module {module} is removed, but {app} {out_of_vsn} has no such module",
                        op,
                    )
                )
    return out


def _applications(entry: _Entry, release_apps) -> list:
    """``add_application``/``remove_application``/``restart_application`` against the new release
    (``systools``' ``no_such_application`` and ``removed_application_present``); going down the
    old release's applications are not known here."""
    if release_apps is None or entry.direction != UP:
        return []
    names = {a.name for a in release_apps}
    out = []
    for index, text, tag, name in entry.app_instrs:
        where = {"index": index, "instruction": text}
        if tag in ("add_application", "restart_application") and name not in names:
            out.append(
                entry.finding(
                    ERROR,
                    "no_such_application",
                    f"application {name} is not in the new release (systools: no_such_application)",
                    **where,
                )
            )
        elif tag == "remove_application" and name in names:
            out.append(
                entry.finding(
                    ERROR,
                    "removed_application_present",
                    f"application {name} is removed, but the new release still has it "
                    "(systools: removed_application_present)",
                    **where,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Classification sanity
# ---------------------------------------------------------------------------------------------


def _classification(entry: _Entry, diff) -> list:
    out = []
    old, new = diff.old_modules, diff.new_modules
    for module in diff.changed:
        op = entry.ops.get(module)
        if op is None or op.position < 0:
            continue
        cls = classify_change(module, old[module], new[module], diff.old_vsn, diff.new_vsn)
        supervisor = old[module].is_supervisor or new[module].is_supervisor
        if op.kind in ("load", "add"):
            if supervisor:
                out.append(
                    entry.finding(
                        WARNING,
                        "supervisor_loaded",
                        f"module {module} is a supervisor, but it is {op.describe()}: its init/1 is not run again, "
                        f"so changed child specs do not take effect; use {{update, {module}, supervisor}}",
                        op,
                    )
                )
            elif cls.kind == SPECIAL and cls.change == "advanced":
                behaviours = ", ".join(new[module].behaviours or old[module].behaviours) or "code_change"
                out.append(
                    entry.finding(
                        WARNING,
                        "state_not_converted",
                        f"module {module} runs as a special process ({behaviours}) and exports code_change, but it "
                        f"is {op.describe()}: its processes are not suspended and their state is not converted; "
                        f"use {{update, {module}, {{advanced, Extra}}}}",
                        op,
                    )
                )
        elif op.kind == "update":
            if op.static and not supervisor:
                out.append(
                    entry.finding(
                        WARNING,
                        "not_a_supervisor",
                        f"module {module} is updated as a static module (like a supervisor), but it is no "
                        "supervisor in either version",
                        op,
                    )
                )
            if op.change == "advanced" and not supervisor:
                # Dynamic modules run code_change before loading going down: always the new beam's.
                beam = old[module] if op.static and entry.direction == DOWN else new[module]
                beam_vsn = diff.old_vsn if beam is old[module] else diff.new_vsn
                if not (beam.exports_code_change or beam.exports_system_code_change):
                    out.append(
                        entry.finding(
                            WARNING,
                            "no_code_change",
                            f"module {module} is updated with {{advanced, _}}, but its {beam_vsn} beam exports no "
                            "code_change/3,4 or system_code_change/4: sys:change_code fails for its processes",
                            op,
                        )
                    )
        if op.loads and not entry.restart and (old[module].loads_nif or new[module].loads_nif):
            out.append(
                entry.finding(
                    WARNING,
                    "nif_reload",
                    f"module {module} loads a NIF library and is hot-loaded: this fails unless the library "
                    f"implements the upgrade callback (consider {{restart_application, {diff.app}}})",
                    op,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Order
# ---------------------------------------------------------------------------------------------


class _Graph:
    """The DEP instructions of one entry as systools' dependency graph."""

    def __init__(self, entry: _Entry) -> None:
        self.nodes = list(entry.nodes)
        self.position = {m: i for i, m in enumerate(self.nodes)}
        self.deps = {m: [d for d in entry.ops[m].deps if d in self.position] for m in self.nodes}
        self.component = self._components()
        self.reach = {m: self._reachable(m) for m in self.nodes}

    def _components(self) -> dict:
        parent = {m: m for m in self.nodes}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for m in self.nodes:
            for d in self.deps[m]:
                a, b = find(m), find(d)
                if a != b:
                    parent[max(a, b, key=self.position.__getitem__)] = min(a, b, key=self.position.__getitem__)
        return {m: find(m) for m in self.nodes}

    def _reachable(self, start: str) -> set:
        seen: set = set()
        todo = list(self.deps[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self.deps[node])
        return seen

    def before(self, first: str, second: str, direction: str) -> bool | None:
        """Whether systools handles ``first`` before ``second`` (``None``: it depends on its tie-break)."""
        ca, cb = self.component[first], self.component[second]
        if ca != cb:
            # Each weakly connected component is emitted at its first instruction.
            return self.position[ca] < self.position[cb]
        a_reaches_b = second in self.reach[first]
        b_reaches_a = first in self.reach[second]
        if a_reaches_b and b_reaches_a:
            # One strongly connected component: list position, descending going up.
            if direction == UP:
                return self.position[first] > self.position[second]
            return self.position[first] < self.position[second]
        # systools' "order of dependency" puts dependents first; going up it runs it backwards.
        if direction == UP:
            return True if b_reaches_a else (False if a_reaches_b else None)
        return True if a_reaches_b else (False if b_reaches_a else None)


def order_verdicts(instrs: list, direction: str) -> dict:
    """``{(first, second): verdict}`` for every two modules with an ``update``/``load_module``/
    ``add_module``/``delete_module`` instruction in the (valid) entry ``instrs``: whether
    ``systools`` loads or removes ``first`` before ``second`` going ``direction``, ``None`` when
    its tie-break (the VM's atom table) decides."""
    entry = _Entry("", direction, None, instrs, {})
    if not entry.valid:
        raise ValueError("the instructions are not valid (see validate_instructions)")
    graph = _Graph(entry)
    return {(a, b): graph.before(a, b, direction) for a in entry.nodes for b in entry.nodes if a != b}


def handled_before(instrs: list, first: str, second: str, direction: str) -> bool | None:
    """One verdict of :func:`order_verdicts`."""
    return order_verdicts(instrs, direction)[(first, second)]


def _order(entry: _Entry, diff) -> list:
    if entry.restart or not entry.nodes:
        return []
    graph = _Graph(entry)
    out = []
    for module, deps in dependencies(diff, entry.direction).items():
        if module not in graph.position:
            continue
        for dep in deps:
            if dep not in graph.position:
                continue
            # The dependency module -> dep: going up dep is handled first, going down module is.
            first, second = (dep, module) if entry.direction == UP else (module, dep)
            verdict = graph.before(first, second, entry.direction)
            if verdict:
                continue
            reason = _dependency_reason(module, dep, diff, entry.direction)
            a, b = _act(entry, first), _act(entry, second)
            if verdict is None:
                message = (
                    f"{reason}, so systools must {a} {first} before it {_VERBS[b]} {second}, "
                    "but the entry leaves their "
                    f"order to systools' tie-break (the VM's atom table); add {dep} to the DepMods of {module}"
                )
                code = "ambiguous_order"
            else:
                message = (
                    f"{reason}, so {first} must be {a}ed before {second} is {b}ed, but systools {_VERBS[b]} {second} "
                    f"first; add {dep} to the DepMods of {module}"
                )
                code = "wrong_order"
            out.append(entry.finding(ERROR, code, message, entry.ops[module]))
    return out


_VERBS = {"remov": "removes", "load": "loads"}


def _act(entry: _Entry, module: str) -> str:
    return "remov" if entry.ops[module].removes else "load"


def _dependency_reason(module: str, dep: str, diff, direction: str) -> str:
    if direction == UP:
        if module in diff.deleted:
            return f"the running code of {dep} calls {module}, which {diff.new_vsn} removes"
        return f"the {diff.new_vsn} code of {module} calls {dep}"
    if module in diff.deleted and dep in diff.changed:
        return f"the {diff.old_vsn} code of {dep} calls {module}, which the downgrade adds back"
    if module in diff.changed and dep in diff.added:
        return f"the running {diff.new_vsn} code of {module} calls {dep}, which {diff.old_vsn} does not have"
    return f"the {diff.old_vsn} code of {module} calls {dep} (a downgrade handles callers first)"


# ---------------------------------------------------------------------------------------------
# Supervisor children
# ---------------------------------------------------------------------------------------------


def _apply_ids(entry: _Entry, function: str) -> set:
    ids = set()
    for _index, _text, mfa in entry.applies:
        if _atom_is(mfa[0], "supervisor") and _atom_is(mfa[1], function):
            args = mfa[2]
            if isinstance(args, list) and len(args) == 2:
                ids.add(term_text(args[1]))
    return ids


def _children(entry: _Entry, diff) -> list:
    if entry.restart:
        return []
    out = []
    started = _apply_ids(entry, "restart_child")
    stopped = _apply_ids(entry, "terminate_child")
    for module in diff.changed:
        old_m, new_m = diff.old_modules[module], diff.new_modules[module]
        if not (old_m.is_supervisor and new_m.is_supervisor):
            continue
        old_c, new_c = old_m.supervisor_children, new_m.supervisor_children
        if old_c is None or new_c is None or not (old_c.complete and new_c.complete):
            continue
        if "simple_one_for_one" in (old_c.strategy, new_c.strategy):
            continue
        old_ids = {term_text(c.id) for c in old_c.children}
        new_ids = {term_text(c.id) for c in new_c.children}
        gained, lost = sorted(new_ids - old_ids), sorted(old_ids - new_ids)
        if entry.direction == DOWN:
            gained, lost = lost, gained
        to_vsn = diff.new_vsn if entry.direction == UP else diff.old_vsn
        op = entry.ops.get(module)
        for child in gained:
            if child not in started:
                out.append(
                    entry.finding(
                        WARNING,
                        "child_not_started",
                        f"supervisor {module} has the child {child} in {to_vsn}, but the entry never starts it "
                        f"({{apply, {{supervisor, restart_child, [Sup, {child}]}}}}): it only starts when the "
                        "supervisor restarts",
                        op,
                    )
                )
        for child in lost:
            if child not in stopped:
                out.append(
                    entry.finding(
                        WARNING,
                        "child_not_stopped",
                        f"supervisor {module} no longer has the child {child} in {to_vsn}, but the entry never "
                        "stops it (supervisor terminate_child and delete_child): it keeps running",
                        op,
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------
# Downgrade = inverse of upgrade
# ---------------------------------------------------------------------------------------------


def _inverse(up: _Entry, down: _Entry, diff) -> list:
    """What coverage does not already say: restarts, state conversions and child starts/stops on
    one side only (which module each side must load or remove follows from the diff)."""
    out = []
    if up.restart != down.restart:
        which, other = (up, down) if up.restart else (down, up)
        out.append(
            other.finding(
                ERROR,
                "not_inverse",
                f"the {which.direction} entry restarts the application (or the emulator) but the "
                f"{other.direction} entry does not",
            )
        )
        return out
    if up.restart:
        return out
    for module in diff.changed:
        u, d = up.ops.get(module), down.ops.get(module)
        if u is None or d is None or not (u.loads and d.loads) or "update" not in (u.kind, d.kind):
            continue
        if (u.change == "advanced") != (d.change == "advanced"):
            converted, plain = (up, down) if u.change == "advanced" else (down, up)
            plain_op = plain.ops[module]
            out.append(
                plain.finding(
                    ERROR,
                    "not_inverse",
                    f"module {module} has its processes' state converted going {converted.direction} "
                    f"({{advanced, _}}), but going {plain.direction} it is {plain_op.describe()}: the state is "
                    "not converted back",
                    plain_op,
                )
            )
    for entry, other in ((up, down), (down, up)):
        started = _apply_ids(entry, "restart_child")
        stopped = _apply_ids(other, "terminate_child") & _apply_ids(other, "delete_child")
        for child in sorted(started - stopped):
            out.append(
                other.finding(
                    ERROR,
                    "not_inverse",
                    f"the {entry.direction} entry starts the supervisor child {child} (restart_child), but the "
                    f"{other.direction} entry does not stop it (terminate_child and delete_child)",
                )
            )
    return out
