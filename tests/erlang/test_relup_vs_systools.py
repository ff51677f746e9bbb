# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Our make_relup (``_relup.py``) against OTP's ``systools:make_relup`` on the same releases.

Each case is a set of releases written to a temporary root -- ``releases/<vsn>/r.rel`` and
``lib/<app>-<vsn>/ebin/<app>.app`` (+ ``.appup`` for the top release's applications); make_relup
needs no beams -- read by systools through ``{path, ["<root>/lib/*/ebin"]}`` and by us through
``_release.open_release(root, "r", vsn)`` (or, for a case with modules in two applications, which
the release reader refuses on its own, as ``ReleaseFacts`` built from the same files). All cases
of a test run in one escript (``appup_relup.escript``, ``noexec``).

Compared: the relup term (``_terms.canonical``), the warnings (same terms, same order), and for a
refusal systools' module and reason (``#application{}`` records as names, file names relative to
the root: see the escript); where systools crashes we must refuse with ``reason=None``.

Appup scripts only use DepMods that form a path with back edges (each module depends on the next,
sometimes on an earlier one): every component's condensation is then a chain, so systools' order
is determined (see ``_relup_script`` for the tie-break elsewhere).

Cases: hypothesis-generated release sets (1-3 base releases; added, removed, changed, unchanged
applications; start types; ``applications``/``included_applications``/``optional_applications``
and the ``.rel`` Incl form; appups with string and regular-expression keys, distractor entries;
ERTS changes; ``restart_emulator``; descriptions; most error paths), hand-written cases for every
error and warning, and every real fixture pair with appups from our generator.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup import generate
from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._release import AppFacts, ReleaseFacts, open_release
from ansible_collections.erlang.otp.plugins.module_utils._relup import RelupError, make_relup
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps, format_term, parse, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, canonical, text

from tests.support import releases
from tests.support.otp import requires_erlang, run_escript

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

pytestmark = [pytest.mark.erlang, requires_erlang]

A = Atom
ERTS = "13.1.5"
OLD_ERTS = "12.3.2"


# ------------------------------------------------------------------------------------------------
# A case: releases on disk
# ------------------------------------------------------------------------------------------------


class Case:
    """Releases ``rels`` ({vsn: (erts, [.rel app entry term])}), ``.app`` terms per (app, vsn)
    (missing: no file), appups of the top release, the top and base versions, options."""

    def __init__(self, name: str, top: str, bases: List[str]) -> None:
        self.name = name
        self.top = top
        self.bases = bases
        self.rels: Dict[str, tuple] = {}
        self.app_files: Dict[Tuple[str, str], object] = {}
        self.appups: Dict[Tuple[str, str], object] = {}
        self.descriptions: Dict[str, object] = {}
        self.restart_emulator = False
        self.facts = False  # read our side as ReleaseFacts
        self.root: Optional[Path] = None

    def write(self, root: Path) -> None:
        self.root = root
        for vsn, (erts, entries) in self.rels.items():
            path = root / "releases" / vsn / "r.rel"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dumps([(A("release"), ("r", vsn), (A("erts"), erts), entries)]), encoding="utf-8")
        for (app, vsn), spec in self.app_files.items():
            ebin = root / "lib" / f"{app}-{vsn}" / "ebin"
            ebin.mkdir(parents=True, exist_ok=True)
            if spec is not None:
                (ebin / f"{app}.app").write_text(dumps([spec]), encoding="utf-8")
        for (app, vsn), appup in self.appups.items():
            ebin = root / "lib" / f"{app}-{vsn}" / "ebin"
            ebin.mkdir(parents=True, exist_ok=True)
            (ebin / f"{app}.appup").write_text(dumps([appup]), encoding="utf-8")

    def escript_term(self) -> tuple:
        def rel(vsn: str) -> object:
            path = str(self.root / "releases" / vsn / "r")
            return (path, self.descriptions[vsn]) if vsn in self.descriptions else path

        bases = [rel(v) for v in self.bases]
        opts = [A("restart_emulator")] if self.restart_emulator else []
        return (self.name, str(self.root / "releases" / self.top / "r"), bases, bases,
                [str(self.root / "lib" / "*" / "ebin")], opts, [str(self.root)])

    def ours(self):
        load = _facts if self.facts else (lambda root, vsn: open_release(root, "r", vsn))
        top = load(self.root, self.top)
        bases = [load(self.root, v) for v in self.bases]
        return make_relup(top, bases, descriptions=dict(self.descriptions), restart_emulator=self.restart_emulator)

    def describe(self) -> str:
        lines = [f"case {self.name}: top {self.top}, bases {self.bases}, restart_emulator={self.restart_emulator}"]
        for vsn, (erts, entries) in sorted(self.rels.items()):
            lines.append(f"  rel {vsn} erts {erts}: {format_term(entries, width=200)}")
        for key, spec in sorted(self.app_files.items()):
            lines.append(f"  app {key}: {format_term(spec, width=200) if spec is not None else 'MISSING'}")
        for key, appup in sorted(self.appups.items()):
            lines.append(f"  appup {key}: {format_term(appup, width=200)}")
        return "\n".join(lines)


def _facts(root: Path, vsn: str) -> ReleaseFacts:
    """The release ``r`` ``vsn`` of ``root`` as facts: its .rel, each .app and .appup as terms."""
    rel = parse_one((root / "releases" / vsn / "r.rel").read_bytes(), "r.rel")
    apps = []
    for entry in rel[3]:
        name, app_vsn = str(entry[0]), text(entry[1])
        start_type = next((str(x) for x in entry[2:] if isinstance(x, Atom)), "permanent")
        incl = next(([str(a) for a in x] for x in entry[2:] if isinstance(x, list)), None)
        ebin = root / "lib" / f"{name}-{app_vsn}" / "ebin"
        spec = parse_one((ebin / f"{name}.app").read_bytes()) if (ebin / f"{name}.app").exists() else None
        appup = parse_one((ebin / f"{name}.appup").read_bytes()) if (ebin / f"{name}.appup").exists() else None
        apps.append(AppFacts(name, app_vsn, start_type=start_type, appup=appup, included_applications=incl,
                             app_spec=spec))
    return ReleaseFacts("r", vsn, text(rel[2][1]), apps, source=str(root))


def app_spec(name: str, vsn: str, modules: List[str], uses: List[str], **extra: object) -> tuple:
    """A ``.app`` term; list values of ``extra`` are atom lists, others are written as given."""
    registered = extra.pop("registered", [])
    props = [(A("description"), f"{name} test"), (A("vsn"), vsn), (A("modules"), [A(m) for m in modules]),
             (A("registered"), [A(r) for r in registered] if isinstance(registered, list) else registered),
             (A("applications"), [A(u) for u in uses])]
    for key, value in extra.items():
        props.append((A(key), [A(v) for v in value] if isinstance(value, list) else value))
    return (A("application"), A(name), props)


# ------------------------------------------------------------------------------------------------
# Running both sides
# ------------------------------------------------------------------------------------------------


def run_cases(tmp: Path, cases: List[Case], outcomes: Optional[Dict[str, int]] = None) -> List[str]:
    """Write, run systools on all (one escript), compare; returns the mismatches and counts
    systools' results (ok, error, crash) in ``outcomes``."""
    for i, case in enumerate(cases):
        if case.root is None:
            case.write(tmp / f"case{i}")
    spec = tmp / "cases.term"
    spec.write_text(dumps([[c.escript_term() for c in cases]]), encoding="utf-8")
    out = run_escript("appup_relup.escript", str(spec), timeout=600)
    results = parse(out, "appup_relup.escript output")
    assert [text(r[0]) for r in results] == [c.name for c in cases]
    problems = []
    for case, (_name, theirs) in zip(cases, results):
        if outcomes is not None:
            outcomes[str(theirs[0])] = outcomes.get(str(theirs[0]), 0) + 1
        problem = compare(case, theirs)
        if problem:
            problems.append(f"{problem}\n{case.describe()}")
    return problems


def compare(case: Case, theirs: tuple) -> Optional[str]:
    try:
        ours = case.ours()
    except RelupError as exc:
        if theirs[0] == A("ok"):
            return f"we refused, systools did not: {exc} (reason {exc.reason!r})"
        if theirs[0] == A("crash"):
            if exc.reason is not None:
                return f"systools crashed ({format_term(theirs)}), we gave a reason: {exc.reason!r}"
            return None
        _tag, module, reason, message = theirs
        if exc.reason is None and "EXIT" in format_term(reason):
            return None  # systools' reason holds a stack trace
        if str(module) != exc.module or canonical(reason) != canonical(exc.reason):
            return (f"different refusal:\n  systools {module}: {format_term(reason)} ({text(message).strip()})\n"
                    f"  ours {exc.module}: {format_term(exc.reason) if exc.reason is not None else None} ({exc})")
        assert str(exc)
        return None
    if theirs[0] != A("ok"):
        return f"systools refused, we did not: {format_term(theirs)}"
    _tag, relup, warnings = theirs
    if canonical(ours.term) != canonical(relup):
        return f"different relup:\n  systools {format_term(relup)}\n  ours     {format_term(ours.term)}"
    if canonical([w.term for w in ours.warnings]) != canonical(warnings):
        return f"different warnings:\n  systools {format_term(warnings)}\n  ours {[w.term for w in ours.warnings]!r}"
    assert all(w.message for w in ours.warnings)
    return None


# ------------------------------------------------------------------------------------------------
# Hand-written cases
# ------------------------------------------------------------------------------------------------

CORE_VSN = {"kernel": "8.5.3", "stdlib": "4.2", "sasl": "4.2"}


def _core_specs(case: Case, versions: Dict[str, str]) -> None:
    uses = {"kernel": [], "stdlib": ["kernel"], "sasl": ["kernel", "stdlib"]}
    for app, vsn in versions.items():
        case.app_files[(app, vsn)] = app_spec(app, vsn, [f"{app}_core_{vsn.replace('.', '_')}"], uses[app])


def simple_case(name: str, *, top_apps: List[tuple], base_apps: Dict[str, List[tuple]],
                specs: Dict[Tuple[str, str], tuple], appups: Dict[Tuple[str, str], object],
                core: Optional[Dict[str, Dict[str, str]]] = None, erts: Optional[Dict[str, str]] = None) -> Case:
    """A top release "9" and bases (their .rel app entries after kernel, stdlib, sasl)."""
    case = Case(name, "9", list(base_apps))
    core = core or {}
    erts = erts or {}
    for vsn, apps in [("9", top_apps), *base_apps.items()]:
        versions = core.get(vsn, CORE_VSN)
        _core_specs(case, {a: v for a, v in versions.items() if v is not None})
        entries = [(A(a), v) for a, v in versions.items() if v is not None]
        case.rels[vsn] = (erts.get(vsn, ERTS), entries + list(apps))
    case.app_files.update(specs)
    case.appups.update(appups)
    return case


def _load(mods: List[str]) -> list:
    return [(A("load_module"), A(m)) for m in mods]


def handmade() -> List[Case]:
    cases = []
    two = {("a", "1"): app_spec("a", "1", ["a_x", "a_y"], ["kernel", "stdlib"]),
           ("a", "2"): app_spec("a", "2", ["a_y", "a_x", "a_z"], ["kernel", "stdlib"])}
    up = [("1", [(A("load_module"), A("a_x")), (A("add_module"), A("a_z"))])]
    down = [("1", [(A("load_module"), A("a_x")), (A("delete_module"), A("a_z"))])]
    cases.append(simple_case("changed app", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={("a", "2"): ("2", up, down)}))
    # appup version keys: distractors, the leftmost-match quirk, regex that matches
    for label, ups in [
        ("leftmost quirk then exact", [(b"1|1\\.5", [(A("load_module"), A("a_x"))]), ("1.5", _load(["a_y"]))]),
        ("regex matches whole", [("0", []), (A("x"), []), b"junk", (b"1\\.5|1", _load(["a_x"]))]),
        ("regex .*", [(b".*", _load(["a_x", "a_y"]))]),
        ("regex anchored", [(b"^1\\.[0-9]+$", _load(["a_y"]))]),
        ("regex no match", [(b"1\\.4", _load(["a_y"]))]),
        ("regex bad", [(b"(", _load(["a_y"]))]),
        ("regex {,n}", [(b"1\\.5{,3}", _load(["a_y"])), (b"1.{,3}", [])]),
        ("entries not a list", A("none")),
    ]:
        specs = {("a", "1.5"): app_spec("a", "1.5", ["a_x", "a_y"], ["kernel", "stdlib"]),
                 ("a", "2"): app_spec("a", "2", ["a_x", "a_y"], ["kernel", "stdlib"])}
        cases.append(simple_case(f"appup keys: {label}", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1.5")]},
                                 specs=specs, appups={("a", "2"): ("2", ups, [(b".*", [])])}))
    # PCRE syntax that Python spells differently: which entry matched tells the result
    for pattern in [b"1\\.5\\z", b"1\\.5\\Z", b"1[[:punct:]]5", b"[[:digit:]]+\\.[[:digit:]]", b"\\Q1.5\\E",
                    b"\\x{31}\\.5", b"(?<major>1)\\.5", b"1\\.5{,3}", b"1\\.5|1", b"1|1\\.5", b"(?i)1\\.5",
                    b"\\d\\.\\d", b"1\\h?\\.5", b"[^\\]]+", b"1.?5", b"1\\.5(?=$)", b"1(?:\\.[0-9]+)*$"]:
        specs = {("a", "1.5"): app_spec("a", "1.5", ["a_x", "a_y"], ["kernel", "stdlib"]),
                 ("a", "2"): app_spec("a", "2", ["a_x", "a_y"], ["kernel", "stdlib"])}
        ups = [(pattern, _load(["a_x"])), (b".*", _load(["a_y"]))]
        cases.append(simple_case(f"regex {pattern.decode()}", top_apps=[(A("a"), "2")],
                                 base_apps={"1": [(A("a"), "1.5")]}, specs=specs,
                                 appups={("a", "2"): ("2", ups, [(b".*", [])])}))
    cases.append(simple_case("bad_vsn warning", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={("a", "2"): ("2.0", up, down)}))
    cases.append(simple_case("no appup file", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={}))
    cases.append(simple_case("appup not a triple", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={("a", "2"): ("2", up)}))
    cases.append(simple_case("no_relup up", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={("a", "2"): ("2", [], down)}))
    cases.append(simple_case("no_relup down", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={("a", "2"): ("2", up, [("0", [])])}))
    for where in ("9", "1"):
        core = {where: {"kernel": "8.5.3", "stdlib": "4.2", "sasl": None}}
        cases.append(simple_case(f"missing sasl in {where}", top_apps=[(A("a"), "2")],
                                 base_apps={"1": [(A("a"), "1")]}, specs=two,
                                 appups={("a", "2"): ("2", up, down)}, core=core))
    cases.append(simple_case("kernel not permanent", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={("a", "2"): ("2", up, down)}))
    cases[-1].rels["9"][1][0] = (A("kernel"), "8.5.3", A("load"))
    cases.append(simple_case("stdlib missing", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                             specs=two, appups={("a", "2"): ("2", up, down)}))
    del cases[-1].rels["1"][1][1]
    # ERTS changes, pre-R15 sasl (string order: "10.1" < "2.2"), restart_emulator
    specs = dict(two)
    specs[("sasl", "10.1")] = app_spec("sasl", "10.1", ["sasl_core_10_1"], ["kernel", "stdlib"])
    for label, base_sasl, restart in [("erts changed", "4.2", False), ("erts changed, restart_emulator", "4.2", True),
                                      ("erts changed, pre-R15 sasl", "10.1", False),
                                      ("pre-R15 sasl, restart_emulator", "10.1", True)]:
        core = {"1": {"kernel": "8.5.3", "stdlib": "4.2", "sasl": base_sasl}}
        appups = {("a", "2"): ("2", up, down)}
        if base_sasl != "4.2":
            appups[("sasl", "4.2")] = ("4.2", [(b".*", [A("restart_new_emulator")])], [(b".*", [])])
        case = simple_case(label, top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]}, specs=specs,
                           appups=appups, core=core, erts={"1": OLD_ERTS})
        case.restart_emulator = restart
        cases.append(case)
    case = simple_case("restart_emulator only", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                       specs=two, appups={("a", "2"): ("2", up, down)})
    case.restart_emulator = True
    cases.append(case)
    # added/removed applications with start types, Incl forms, several bases and descriptions
    specs = {("a", "1"): app_spec("a", "1", ["a_x"], ["kernel", "stdlib"]),
             ("a", "2"): app_spec("a", "2", ["a_x"], ["kernel", "stdlib", "b"], included_applications=["c"]),
             ("b", "1"): app_spec("b", "1", ["b_1", "b_2"], ["kernel", "stdlib"]),
             ("c", "1"): app_spec("c", "1", ["c_1"], ["kernel", "stdlib"]),
             ("d", "1"): app_spec("d", "1", ["d_1"], ["kernel"]),
             ("e", "1"): app_spec("e", "1", ["e_1"], ["kernel"])}
    case = simple_case("added and removed apps",
                       top_apps=[(A("c"), "1", A("load")), (A("a"), "2", [A("c")]), (A("b"), "1", A("temporary"))],
                       base_apps={"1": [(A("a"), "1"), (A("d"), "1", A("transient"))],
                                  "2": [(A("e"), "1", A("none"), []), (A("a"), "1", A("permanent"), [])]},
                       specs=specs, appups={("a", "2"): ("2", [(b"1", [(A("restart_application"), A("a"))])],
                                                         [(b"1", [(A("restart_application"), A("a"))])])})
    case.descriptions = {"1": "from one", "2": (A("tagged"), [1, 2])}
    cases.append(case)
    facts = simple_case("added and removed apps (facts)", top_apps=case.rels["9"][1][3:], base_apps={
        "1": case.rels["1"][1][3:], "2": case.rels["2"][1][3:]}, specs=specs, appups=case.appups)
    facts.facts = True
    cases.append(facts)
    # errors of get_release
    bad = {("a", "2"): app_spec("a", "2", ["a_x"], ["kernel", "stdlib"]),
           ("b", "1"): app_spec("b", "1", ["a_x", "b_1"], ["kernel", "stdlib"])}
    case = simple_case("duplicate modules", top_apps=[(A("a"), "2"), (A("b"), "1")], base_apps={"1": []},
                       specs=bad, appups={})
    case.facts = True
    cases.append(case)
    cyc = {("a", "2"): app_spec("a", "2", ["a_x"], ["kernel", "stdlib", "b"]),
           ("b", "1"): app_spec("b", "1", ["b_1"], ["kernel", "stdlib", "c"]),
           ("c", "1"): app_spec("c", "1", ["c_1"], ["kernel", "stdlib", "a"])}
    cases.append(simple_case("circular dependencies", top_apps=[(A("a"), "2"), (A("b"), "1"), (A("c"), "1")],
                             base_apps={"1": []}, specs=cyc, appups={}))
    cases.append(simple_case("undefined application", top_apps=[(A("a"), "2"), (A("b"), "1")],
                             base_apps={"1": []}, specs=cyc, appups={}))
    cases.append(simple_case("optional application missing", top_apps=[(A("a"), "2")], base_apps={"1": []},
                             specs={("a", "2"): app_spec("a", "2", ["a_x"], ["kernel", "stdlib", "zz"],
                                                         optional_applications=["zz"])}, appups={}))
    inc = {("a", "2"): app_spec("a", "2", ["a_x"], ["kernel", "stdlib"], included_applications=["c"]),
           ("b", "1"): app_spec("b", "1", ["b_1"], ["kernel", "stdlib"], included_applications=["c"]),
           ("c", "1"): app_spec("c", "1", ["c_1"], ["kernel", "stdlib", "b"])}
    cases.append(simple_case("duplicate include", top_apps=[(A("a"), "2"), (A("b"), "1"), (A("c"), "1")],
                             base_apps={"1": []}, specs=inc, appups={}))
    cases.append(simple_case("override include", top_apps=[(A("a"), "2", [A("b")]), (A("b"), "1"), (A("c"), "1")],
                             base_apps={"1": []}, specs=inc, appups={}))
    reg = {("a", "2"): app_spec("a", "2", ["a_x"], ["kernel", "stdlib"], registered=["srv"]),
           ("b", "1"): app_spec("b", "1", ["b_1"], ["kernel", "stdlib"], registered=["srv"])}
    cases.append(simple_case("duplicate register", top_apps=[(A("a"), "2"), (A("b"), "1")],
                             base_apps={"1": []}, specs=reg, appups={}))
    ghost = simple_case("no .app", top_apps=[(A("ghost"), "1"), (A("ghost2"), "1")], base_apps={"1": []}, specs={
        ("ghost", "1"): None, ("ghost2", "1"): None}, appups={})
    cases.append(ghost)
    for label, props in [("missing description", [(A("vsn"), "1"), (A("modules"), []), (A("registered"), []),
                                                  (A("applications"), [])]),
                         ("bad modules", [(A("description"), "x"), (A("vsn"), "1"), (A("modules"), [A("m"), "x"]),
                                          (A("registered"), []), (A("applications"), [])]),
                         ("bad maxT", [(A("description"), "x"), (A("vsn"), "1"), (A("modules"), []),
                                       (A("registered"), []), (A("applications"), []), (A("maxT"), 0)]),
                         ("bad mod", [(A("description"), "x"), (A("vsn"), "1"), (A("modules"), []),
                                      (A("registered"), []), (A("applications"), []), (A("mod"), A("m"))]),
                         ("vsn not a string", [(A("description"), "x"), (A("vsn"), A("one")), (A("modules"), []),
                                               (A("registered"), []), (A("applications"), [])])]:
        case = simple_case(f".app {label}", top_apps=[(A("odd"), "1")], base_apps={"1": []},
                           specs={("odd", "1"): (A("application"), A("odd"), props)}, appups={})
        case.facts = True  # the release reader checks the .app's vsn itself
        cases.append(case)
    for label, odd in [("other vsn", app_spec("odd", "1.1", [], ["kernel"])),
                       ("other name", app_spec("even", "1", [], ["kernel"])),
                       ("not an application", (A("app"), A("odd"), [])),
                       ("empty lists as strings", app_spec("odd", "1", [], [], registered="", env="",
                                                           start_phases=""))]:
        case = simple_case(f".app {label}", top_apps=[(A("odd"), "1")], base_apps={"1": []},
                           specs={("odd", "1"): odd}, appups={})
        case.facts = True
        cases.append(case)
    # translation errors: undefined module in DepMods, module in no application
    for label, script in [("undef_module", [(A("load_module"), A("a_x"), [A("nowhere")])]),
                          ("no_such_module", [(A("load_module"), A("nowhere"))]),
                          ("muldef", [(A("load_module"), A("a_x")), (A("update"), A("a_x"))]),
                          ("bad instruction", [(A("frobnicate"), A("a_x"))])]:
        cases.append(simple_case(f"translate: {label}", top_apps=[(A("a"), "2")], base_apps={"1": [(A("a"), "1")]},
                                 specs=two, appups={("a", "2"): ("2", [("1", script)], down)}))
    # sort_appls: uses/includes later in the .rel come first
    deps = {("a", "2"): app_spec("a", "2", ["a_x"], ["kernel", "stdlib", "c", "b"]),
            ("b", "1"): app_spec("b", "1", ["b_1"], ["kernel", "stdlib"], included_applications=["d"]),
            ("c", "1"): app_spec("c", "1", ["c_1"], ["kernel", "stdlib", "b"]),
            ("d", "1"): app_spec("d", "1", ["d_1"], ["kernel", "stdlib", "b"])}
    cases.append(simple_case("sort_appls order", top_apps=[(A("a"), "2"), (A("d"), "1"), (A("c"), "1"),
                                                           (A("b"), "1")],
                             base_apps={"1": []}, specs=deps, appups={}))
    return cases


def test_handmade_cases_match_systools(tmp_path: Path):
    problems = run_cases(tmp_path, handmade())
    assert not problems, "\n\n".join(problems)


# ------------------------------------------------------------------------------------------------
# Generated cases
# ------------------------------------------------------------------------------------------------

POOL = ["a0", "a1", "a2", "a3", "a4"]
APP_VSNS = ["1", "1.5", "2", "2.0.1"]
START_TYPES = ["permanent", "transient", "temporary", "load", "none"]


def _chance(draw, percent: float) -> bool:
    """True with probability ``percent``: hypothesis' integers favour the bounds, so the rate
    comes from a ``Random`` that hypothesis seeds (drawn once per case, see :func:`cases`)."""
    return _RNG[-1].random() * 100 < percent


_RNG: list = []


@st.composite
def instructions(draw, modules: List[str], apps: List[str]) -> list:
    """One appup script over ``modules``: DepMods form a path with back edges (see module doc)."""
    chosen = draw(st.permutations(modules)) if modules else []
    chosen = chosen[: draw(st.integers(0, len(chosen)))]
    script: list = []
    start = 0  # where the current path of DepMods began: back edges stay inside it
    linked = False
    for i, module in enumerate(chosen):
        kind = draw(st.sampled_from(["load", "load", "update", "advanced", "supervisor", "add", "delete"]))
        deps = []
        if not linked:
            start = i
        # {update, M, supervisor} has no DepMods: it ends the path
        linked = kind != "supervisor" and i + 1 < len(chosen) and _chance(draw, 50)
        if linked:
            deps.append(A(chosen[i + 1]))
        if kind != "supervisor" and i > start and _chance(draw, 10):
            deps.append(A(chosen[draw(st.integers(start, i - 1))]))
        if _chance(draw, 0.5):
            deps.append(A("undefined_mod"))
        m = A(module)
        if kind == "load":
            script.append((A("load_module"), m, deps) if deps or _chance(draw, 50) else (A("load_module"), m))
        elif kind == "update":
            script.append((A("update"), m, deps) if deps else (A("update"), m))
        elif kind == "advanced":
            script.append((A("update"), m, (A("advanced"), []), deps))
        elif kind == "supervisor":
            script.append((A("update"), m, A("supervisor")))
        elif kind == "add":
            script.append((A("add_module"), m, deps) if deps else (A("add_module"), m))
        else:
            script.append((A("delete_module"), m, deps) if deps else (A("delete_module"), m))
    extra = _RNG[-1].randrange(100)
    if extra < 8:
        script.insert(draw(st.integers(0, len(script))), (A("apply"), (A("io"), A("format"), ["x~n"])))
    elif extra < 11:
        script.append(A("restart_new_emulator"))
    elif extra < 13:
        script.append(A("restart_emulator"))
    elif extra < 14 and apps:
        script.append((A("restart_application"), A(draw(st.sampled_from(apps)))))
    elif extra < 18:
        script.insert(0, A("point_of_no_return"))
    return script


def _key_for(draw, vsn: str) -> object:
    """An appup key that matches ``vsn`` (string or regular expression)."""
    kind = draw(st.sampled_from(["string", "string", "escaped", "anchored", "any", "alternation", "list"]))
    if kind == "string":
        return vsn
    if kind == "list":
        return [ord(c) for c in vsn]  # the same string, spelled as a list of integers
    if kind == "escaped":
        return re.escape(vsn).encode()
    if kind == "anchored":
        return f"^{re.escape(vsn)}$".encode()
    if kind == "any":
        return b".*"
    return f"{re.escape(vsn)}|{re.escape(vsn[0])}".encode()


def _entries(draw, vsns: List[str], script_for) -> list:
    entries: list = []
    for vsn in vsns:
        if _chance(draw, 15):  # a distractor first: the leftmost-match quirk, another version, junk
            entries.append(draw(st.sampled_from([
                (f"{re.escape(vsn[0])}|{re.escape(vsn)}".encode(), [(A("apply"), (A("m"), A("wrong"), []))]),
                ("0.0", []), (A("x"), []), b"junk", (b"9\\..*", [])])))
        if _chance(draw, 1):
            continue  # no entry: no_relup
        entries.append((_key_for(draw, vsn), script_for(vsn)))
    return entries


@st.composite
def cases(draw) -> Case:
    _RNG.append(draw(st.randoms(use_true_random=True)))
    n_bases = draw(st.integers(1, 3))
    rel_vsns = draw(st.permutations(["1", "2", "3", "9"]))[: n_bases + 1]
    top, bases = rel_vsns[0], rel_vsns[1:]
    case = Case("", top, bases)
    # per release: which apps, which versions, start types
    layout: Dict[str, Dict[str, tuple]] = {}
    for vsn in rel_vsns:
        apps: Dict[str, tuple] = {}
        apps["kernel"] = ("8.5.3", "permanent" if not _chance(draw, 1) else "load")
        apps["stdlib"] = ("4.2", "permanent")
        if not _chance(draw, 1.5):
            apps["sasl"] = (draw(st.sampled_from(["4.2", "4.2", "4.2", "10.1", "2.1"])), "permanent")
        for name in POOL:
            if _chance(draw, 65):
                apps[name] = (draw(st.sampled_from(APP_VSNS)), draw(st.sampled_from(START_TYPES)))
        layout[vsn] = apps
    # .app files per (app, vsn)
    used = sorted({(a, v) for apps in layout.values() for a, (v, _t) in apps.items()})
    includes: Dict[Tuple[str, str], List[str]] = {}
    for app, vsn in used:
        if app in ("kernel", "stdlib", "sasl"):
            uses = {"kernel": [], "stdlib": ["kernel"], "sasl": ["kernel", "stdlib"]}[app]
            modules = [f"{app}_{vsn.replace('.', '_')}"]
            case.app_files[(app, vsn)] = app_spec(app, vsn, modules, uses)
            continue
        index = POOL.index(app)
        modules = [f"{app}_m{k}" for k in draw(st.permutations(range(4)))][: draw(st.integers(1, 4))]
        if _chance(draw, 0.7):
            modules.append(f"{draw(st.sampled_from(POOL))}_m0")  # maybe another application's module
        # releases holding this version: a dependency on an app missing from one must be optional
        holders = [apps for apps in layout.values() if apps.get(app, ("",))[0] == vsn]
        everywhere = [d for d in POOL if all(d in apps for apps in holders)]
        deps = [d for d in POOL[:index] if _chance(draw, 35)]
        if index + 1 < len(POOL) and _chance(draw, 1.5):
            deps.append(POOL[draw(st.integers(index + 1, len(POOL) - 1))])  # maybe a cycle
        optional = [d for d in deps if d not in everywhere or _chance(draw, 30)]
        if _chance(draw, 0.5):
            deps.append("nowhere")
        incl = []
        if index + 1 < len(POOL) and POOL[index + 1] in everywhere and _chance(draw, 25):
            incl.append(POOL[index + 1])
        includes[(app, vsn)] = incl
        extra: dict = {}
        if optional:
            extra["optional_applications"] = optional
        if incl:
            extra["included_applications"] = incl
        if _chance(draw, 0.5):
            extra["registered"] = ["srv"]
        case.app_files[(app, vsn)] = app_spec(app, vsn, modules, ["kernel", "stdlib", *deps], **extra)
    # the .rel files
    for vsn in rel_vsns:
        entries = []
        for app, (app_vsn, type_) in layout[vsn].items():
            entry: list = [A(app), app_vsn]
            if type_ != "permanent" or _chance(draw, 50):
                entry.append(A(type_))
            incl = includes.get((app, app_vsn), [])
            if incl and _chance(draw, 50):
                entry.append([A(i) for i in incl[: draw(st.integers(0, len(incl)))]])
                if _chance(draw, 2):
                    entry[-1].append(A("a0"))  # not in the .app: override_include
            entries.append(tuple(entry))
        erts = ERTS if vsn == top or not _chance(draw, 15) else OLD_ERTS
        case.rels[vsn] = (erts, entries)
    # appups of the top release's applications
    top_apps = layout[top]
    all_apps = sorted({a for apps in layout.values() for a in apps})
    for app, (vsn, _t) in top_apps.items():
        olds = sorted({layout[b][app][0] for b in bases if app in layout[b] and layout[b][app][0] != vsn})
        if not olds or _chance(draw, 1):
            continue
        new_mods = [str(m) for m in case.app_files[(app, vsn)][2][2][1]]

        def old_mods(old: str, app: str = app) -> List[str]:
            return [str(m) for m in case.app_files[(app, old)][2][2][1]]

        ups = _entries(draw, olds, lambda old, mods=new_mods: draw(instructions(mods, all_apps)))
        downs = _entries(draw, olds, lambda old, f=old_mods: draw(instructions(f(old), all_apps)))
        appup_vsn = vsn if not _chance(draw, 5) else vsn + ".0"
        case.appups[(app, vsn)] = (appup_vsn, ups, downs)
    case.restart_emulator = _chance(draw, 25)
    for base in bases:
        if _chance(draw, 30):
            case.descriptions[base] = draw(st.sampled_from(["a description", (A("d"), 1), [], "ü"]))
    case.facts = _chance(draw, 25) or any(_shared_module(case, layout[r]) for r in rel_vsns)
    return case


def _shared_module(case: Case, apps: Dict[str, tuple]) -> bool:
    """Some module is in two applications of the release (the release reader refuses that)."""
    seen: set = set()
    for app, (vsn, _t) in apps.items():
        for module in case.app_files[(app, vsn)][2][2][1]:
            if module in seen:
                return True
            seen.add(module)
    return False


GENERATED = 240


def test_generated_cases_match_systools(tmp_path: Path):
    collected: List[Case] = []

    @hypothesis.settings(max_examples=GENERATED, database=None, deadline=None,
                         phases=[hypothesis.Phase.generate],
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(cases())
    def collect(case: Case) -> None:
        case.name = f"generated {len(collected)}"
        collected.append(case)

    collect()
    assert len(collected) >= GENERATED // 2
    outcomes: Dict[str, int] = {}
    problems = run_cases(tmp_path, collected, outcomes)
    assert not problems, f"{len(problems)} of {len(collected)} differ ({outcomes}):\n\n" + "\n\n".join(problems[:5])
    # the generator must reach both results often enough to mean something
    assert outcomes.get("ok", 0) >= len(collected) // 2, outcomes
    assert outcomes.get("error", 0) >= len(collected) // 20, outcomes


# ------------------------------------------------------------------------------------------------
# Real releases with our generated appups
# ------------------------------------------------------------------------------------------------

# (release name, base versions in the given order, top version)
REAL = [
    ("shop", ["1.0.0"], "1.1.0"),
    ("shop", ["1.1.0"], "2.0.0"),
    ("shop", ["1.0.0"], "2.0.0"),
    ("shop", ["1.0.0", "1.1.0"], "2.0.0"),
    ("shop", ["1.1.0", "1.0.0"], "2.0.0"),
    ("exshop", ["0.1.0"], "0.2.0"),
]


def _real_case(tmp: Path, name: str, olds: List[str], new: str) -> Tuple[tuple, Dict[str, tuple], list]:
    for vsn in [*olds, new]:
        why = releases.tool_missing(releases.release(name, vsn).kind)
        if why:
            pytest.skip(f"cannot build {name} {vsn}: {why}")
    roots = {}
    for vsn in [*olds, new]:
        root = tmp / f"{name}-{vsn}"
        if not root.exists():
            extract(releases.tarball(name, vsn), root)
        roots[vsn] = root
    current = open_release(roots[new])
    previous = [open_release(roots[v]) for v in olds]
    result = generate(previous, current)
    assert result.errors == []
    # systools reads a copy of the new release's .rel and .app files with the generated appups
    top_root = tmp / f"top-{name}-{new}-{'-'.join(olds)}"
    (top_root / "releases" / new).mkdir(parents=True)
    rel = roots[new] / "releases" / new / f"{name}.rel"
    shutil.copyfile(rel, top_root / "releases" / new / f"{name}.rel")
    for app in current.apps:
        dst = top_root / "lib" / f"{app.name}-{app.vsn}" / "ebin"
        dst.mkdir(parents=True)
        shutil.copyfile(roots[new] / app.app_file, dst / f"{app.name}.app")
    appups = {}
    for app in result.apps:
        term = parse_one(app.text(), f"{app.name}.appup")
        (top_root / "lib" / f"{app.name}-{app.to_vsn}" / "ebin" / f"{app.name}.appup").write_text(
            app.text(), encoding="utf-8")
        appups[app.name] = (term, f"generated {app.name}.appup")
    paths = [str(top_root / "lib" / "*" / "ebin")] + [str(roots[v] / "lib" / "*" / "ebin") for v in olds]
    bases = [(str(roots[v] / "releases" / v / name), f"from {v}") for v in olds]
    label = f"{name} {new} from {', '.join(olds)}"
    term = (label, str(top_root / "releases" / new / name), bases, bases, paths, [],
            [str(top_root), *(str(roots[v]) for v in olds)])
    return term, appups, [current, previous]


def test_real_releases_match_systools(tmp_path: Path):
    terms, ours = [], []
    for name, olds, new in REAL:
        term, appups, (current, previous) = _real_case(tmp_path, name, olds, new)
        terms.append(term)
        ours.append(make_relup(current, previous, appups=appups, descriptions={v: f"from {v}" for v in olds}))
    spec = tmp_path / "cases.term"
    spec.write_text(dumps([terms]), encoding="utf-8")
    results = parse(run_escript("appup_relup.escript", str(spec), timeout=600), "appup_relup.escript output")
    assert [r[0] for r in results] == [t[0] for t in terms]
    for (label, theirs), relup in zip(results, ours):
        assert theirs[0] == A("ok"), f"{label}: systools refused: {format_term(theirs)}"
        assert canonical(relup.term) == canonical(theirs[1]), label
        assert canonical([w.term for w in relup.warnings]) == canonical(theirs[2]), label
        _vsn, ups, downs = relup.term
        assert len(ups) == len(downs) >= 1
        assert all(A("point_of_no_return") in entry[2] for entry in ups + downs), label
