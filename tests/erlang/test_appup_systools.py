# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generated appups against OTP's own ``systools:make_relup``.

Every generated appup -- for the real shop and exshop release pairs and for synthetic applications
with dependency chains, fans, diamonds and cycles -- is compiled by systools (one escript run,
``tests/erlang/appup_relup.escript``). Each must be accepted, and the order in which the relup
loads and removes each application's modules (after the point of no return, both directions)
must be exactly the order the generator's linearised DepMods promise (``AppupResult.order``):
systools breaks ties by the VM's atom table, so only a linearised appup passes this reliably.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup import DOWN, UP, generate
from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._child_specs import ChildSpec, SupervisorChildren
from ansible_collections.erlang.otp.plugins.module_utils._release import (
    AppFacts,
    ModuleFacts,
    ReleaseFacts,
    open_release,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps, format_term, parse
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, text

from tests.support import releases
from tests.support.otp import otp_root, requires_erlang, run_escript

pytestmark = [pytest.mark.erlang, requires_erlang]

A = Atom

# (case name, release name, previous versions, new version)
REAL_PAIRS = [
    ("shop 1.0.0 -> 1.1.0", "shop", ["1.0.0"], "1.1.0"),
    ("shop 1.1.0 -> 2.0.0", "shop", ["1.1.0"], "2.0.0"),
    ("shop 1.0.0, 1.1.0 -> 2.0.0", "shop", ["1.0.0", "1.1.0"], "2.0.0"),
    ("exshop 0.1.0 -> 0.2.0", "exshop", ["0.1.0"], "0.2.0"),
]


#: What a synthetic release holds besides its own application (systools wants sasl).
OTP_APPS = ("kernel", "stdlib", "sasl")


def _installed(app: str) -> Tuple[str, str]:
    [lib] = sorted((otp_root() / "lib").glob(f"{app}-*"))
    return lib.name[len(app) + 1:], str(lib / "ebin")


def _erts() -> str:
    return sorted(otp_root().glob("erts-*"))[0].name[len("erts-"):]


# ------------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------------


class Case:
    """One make_relup run: the generation result, the release files and what to compare."""

    def __init__(self, name: str, result, top: Path, bases: List[Path], paths: List[str]) -> None:
        self.name = name
        self.result = result
        self.top = top
        self.bases = bases
        self.paths = paths

    def term(self) -> tuple:
        return (self.name, str(self.top), [str(b) for b in self.bases], self.paths)


def _write_appups(result, lib: Path) -> None:
    for app in result.apps:
        ebin = lib / f"{app.name}-{app.to_vsn}" / "ebin"
        (ebin / f"{app.name}.appup").write_text(app.text(), encoding="utf-8")


def _real_case(tmp: Path, name: str, rel_name: str, olds: List[str], new: str) -> Case:
    for vsn in [*olds, new]:
        why = releases.tool_missing(releases.release(rel_name, vsn).kind)
        if why:
            pytest.skip(f"cannot build {rel_name} {vsn}: {why}")
    roots = {}
    for vsn in [*olds, new]:
        root = tmp / f"{rel_name}-{vsn}"
        if not root.exists():
            extract(releases.tarball(rel_name, vsn), root)
        roots[vsn] = root
    current = open_release(roots[new])
    previous = [open_release(roots[v]) for v in olds]
    result = generate(previous, current)
    assert result.errors == []
    top_root = tmp / f"top-{len(list(tmp.iterdir()))}"
    # the appups go into a private copy of the new release's ebin directories
    top_root.mkdir()
    (top_root / "releases" / new).mkdir(parents=True)
    rel_file = roots[new] / "releases" / new / f"{rel_name}.rel"
    (top_root / "releases" / new / f"{rel_name}.rel").write_bytes(rel_file.read_bytes())
    for app in current.apps:
        src = roots[new] / "lib" / f"{app.name}-{app.vsn}" / "ebin"
        dst = top_root / "lib" / f"{app.name}-{app.vsn}" / "ebin"
        dst.mkdir(parents=True)
        for item in src.glob("*.app"):
            (dst / item.name).write_bytes(item.read_bytes())
    _write_appups(result, top_root / "lib")
    paths = [str(top_root / "lib" / "*" / "ebin")] + [str(roots[v] / "lib" / "*" / "ebin") for v in olds]
    bases = [roots[v] / "releases" / v / rel_name for v in olds]
    return Case(name, result, top_root / "releases" / new / rel_name, bases, paths)


def _app_file(path: Path, app: AppFacts) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = (A("application"), A(app.name), [
        (A("description"), app.name),
        (A("vsn"), app.vsn),
        (A("modules"), [A(m) for m in sorted(app.modules)]),
        (A("registered"), []),
        (A("applications"), [A("kernel"), A("stdlib")]),
    ])
    path.write_text(dumps([spec]), encoding="utf-8")


def _rel_file(path: Path, rel: ReleaseFacts) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    apps = [(A(otp), _installed(otp)[0]) for otp in OTP_APPS] + [(A(a.name), a.vsn) for a in rel.apps]
    path.write_text(dumps([(A("release"), (rel.name, rel.vsn), (A("erts"), _erts()), apps)]), encoding="utf-8")


def _synthetic_case(tmp: Path, name: str, previous: List[ReleaseFacts], current: ReleaseFacts) -> Case:
    root = tmp / f"synthetic-{len(list(tmp.iterdir()))}"
    for rel in [*previous, current]:
        _rel_file(root / "releases" / rel.vsn / "r.rel", rel)
        for app in rel.apps:
            _app_file(root / "lib" / f"{app.name}-{app.vsn}" / "ebin" / f"{app.name}.app", app)
    result = generate(previous, current)
    assert result.errors == []
    _write_appups(result, root / "lib")
    paths = [str(root / "lib" / "*" / "ebin")] + [_installed(otp)[1] for otp in OTP_APPS]
    bases = [root / "releases" / r.vsn / "r" for r in previous]
    return Case(name, result, root / "releases" / current.vsn / "r", bases, paths)


def _md5(seed: str) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.md5(seed.encode()).hexdigest()


def _mod(name: str, code: str, imports=(), **kw) -> ModuleFacts:
    return ModuleFacts(name, _md5(name + code), imports=imports, **kw)


def _random_release_pair(seed: int) -> Tuple[ReleaseFacts, ReleaseFacts]:
    rng = random.Random(seed)
    size = rng.randint(4, 12)
    names = [f"s{seed}_m{i}" for i in range(size)]
    old, new = [], []
    for m in names:
        fate = rng.choice(["same", "changed", "changed", "changed", "added", "deleted"])
        old_imports = rng.sample(names, rng.randint(0, 3))
        new_imports = rng.sample(names, rng.randint(0, 3))
        special = rng.random() < 0.3
        kw = {"behaviours": ["gen_server"], "exports_code_change": True} if special else {}
        if fate != "added":
            old.append(_mod(m, "1", old_imports, **kw))
        if fate != "deleted":
            new.append(_mod(m, "1" if fate == "same" else "2", old_imports if fate == "same" else new_imports, **kw))
    return (ReleaseFacts("r", "1", _erts(), [AppFacts("a", "1", old)]),
            ReleaseFacts("r", "2", _erts(), [AppFacts("a", "2", new)]))


def _children(*ids: str) -> SupervisorChildren:
    return SupervisorChildren(children=[ChildSpec(A(i), A(i), "worker") for i in ids], registered_name=A("top_sup"),
                              sup_ref=A("top_sup"))


def _handmade() -> List[Tuple[str, List[ReleaseFacts], ReleaseFacts]]:
    fan = [f"dep_{i}" for i in range(1, 9)]
    cases = []
    # reference 5.6: root depends on dep_1..dep_8 (systools alone would pick an atom-table order)
    old = ReleaseFacts("r", "1", _erts(), [AppFacts("fan", "1", [_mod("root", "1")] + [_mod(d, "1") for d in fan])])
    root = _mod("root", "2", fan, behaviours=["gen_server"], exports_code_change=True)
    new = ReleaseFacts("r", "2", _erts(), [AppFacts("fan", "2", [root] + [_mod(d, "2") for d in fan])])
    cases.append(("fan-out", [old], new))
    # cycles: x <-> y, z -> x, plus a 3-cycle with a tail, and a deleted module with callers
    old = ReleaseFacts("r", "1", _erts(), [AppFacts("cyc", "1", [
        _mod("cx", "1", ["cy"]), _mod("cy", "1", ["cx"]), _mod("cz", "1"), _mod("c1", "1"), _mod("c2", "1"),
        _mod("c3", "1"), _mod("ctail", "1"), _mod("cgone", "1"), _mod("ccaller", "1", ["cgone"])])])
    new = ReleaseFacts("r", "2", _erts(), [AppFacts("cyc", "2", [
        _mod("cx", "2", ["cy"]), _mod("cy", "2", ["cx"]), _mod("cz", "2", ["cx"]), _mod("c1", "2", ["c2"]),
        _mod("c2", "2", ["c3"]), _mod("c3", "2", ["c1", "ctail"]), _mod("ctail", "2"), _mod("ccaller", "2", ["cnew"]),
        _mod("cnew", "1")])])
    cases.append(("cycles", [old], new))
    # a supervisor gaining and losing children, with workers that call each other; two previous versions
    v1 = ReleaseFacts("r", "1", _erts(), [AppFacts("sup", "1", [
        _mod("top_sup", "1", behaviours=["supervisor"], supervisor=_children("w_old", "w_keep")),
        _mod("w_old", "1"), _mod("w_keep", "1")])])
    v2 = ReleaseFacts("r", "2", _erts(), [AppFacts("sup", "2", [
        _mod("top_sup", "2", behaviours=["supervisor"], supervisor=_children("w_keep")), _mod("w_keep", "2")])])
    v3 = ReleaseFacts("r", "3", _erts(), [AppFacts("sup", "3", [
        _mod("top_sup", "3", ["w_new"], behaviours=["supervisor"], supervisor=_children("w_keep", "w_new")),
        _mod("w_keep", "3", ["w_new"], behaviours=["gen_server"], exports_code_change=True),
        _mod("w_new", "1")])])
    cases.append(("supervisor children, two previous versions", [v1, v2], v3))
    return cases


# ------------------------------------------------------------------------------------------------
# Running systools and reading the relups
# ------------------------------------------------------------------------------------------------


def _code_order(instrs: list, modules: set) -> List[str]:
    """The modules of ``modules`` in the order the relup script loads or removes them."""
    after = instrs[instrs.index(A("point_of_no_return")) + 1:]
    order = []
    for instr in after:
        if isinstance(instr, tuple) and len(instr) == 2 and instr[0] in (A("load"), A("remove")):
            module = str(instr[1][0])
            if module in modules:
                order.append(module)
    return order


@pytest.fixture(scope="module")
def relups(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, tuple]:
    """``{case name: (Case, {"ok"/"error": ...})}`` for every case, from one escript run."""
    tmp = tmp_path_factory.mktemp("appup-systools")
    cases = [_real_case(tmp, *pair) for pair in REAL_PAIRS]
    for name, previous, current in _handmade():
        cases.append(_synthetic_case(tmp, name, previous, current))
    for seed in range(25):
        old, new = _random_release_pair(seed)
        cases.append(_synthetic_case(tmp, f"random {seed}", [old], new))
    spec = tmp / "cases.term"
    spec.write_text(dumps([[c.term() for c in cases]]), encoding="utf-8")
    out = run_escript("appup_relup.escript", str(spec), timeout=600)
    results = parse(out, "appup_relup.escript output")
    assert [text(r[0]) for r in results] == [c.name for c in cases]
    return {c.name: (c, r[1]) for c, r in zip(cases, results)}


CASE_NAMES = [p[0] for p in REAL_PAIRS] + ["fan-out", "cycles", "supervisor children, two previous versions"] + [
    f"random {seed}" for seed in range(25)]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_systools_accepts_and_orders_as_promised(relups, name):
    case, outcome = relups[name]
    assert outcome[0] == A("ok"), f"systools refused the generated appups of {name}: {text(outcome[1])}"
    relup, warnings = outcome[1], outcome[2]
    assert warnings == [], warnings
    _top_vsn, ups, downs = relup
    checked = 0
    for direction, entries in ((UP, ups), (DOWN, downs)):
        scripts = {text(vsn): instrs for vsn, _descr, instrs in entries}
        for app in case.result.apps:
            for base, script in scripts.items():
                from_vsn = _app_vsn_in(case, base, app.name)
                if from_vsn not in app.from_vsns:
                    continue
                instrs = app.up[from_vsn] if direction == UP else app.down[from_vsn]
                modules = {str(i[1]) for i in instrs if isinstance(i, tuple) and str(i[0]) in
                           ("update", "load_module", "add_module", "delete_module")}
                expected = app.order[from_vsn][direction]
                assert _code_order(script, modules) == expected, (name, app.name, direction, base)
                checked += 1
    if any(a.from_vsns for a in case.result.apps):
        assert checked


def _app_vsn_in(case: Case, rel_vsn: str, app: str) -> str | None:
    for base in case.bases:
        if base.parent.name == rel_vsn:
            rel = parse(base.with_suffix(".rel").read_bytes(), str(base))[0]
            for entry in rel[3]:
                if str(entry[0]) == app:
                    return text(entry[1])
    return None


def test_supervisor_child_calls_surround_the_code(relups):
    case, outcome = relups["shop 1.0.0 -> 1.1.0"]
    _vsn, [(_base, _d, up)], [(_base2, _d2, down)] = outcome[1]
    after = up[up.index(A("point_of_no_return")) + 1:]
    restart = (A("apply"), (A("supervisor"), A("restart_child"), [A("shop_sup"), A("shop_stats")]))
    assert restart in after
    loads = [i for i, instr in enumerate(after) if isinstance(instr, tuple) and instr[0] == A("load")
             and str(instr[1][0]).startswith("shop_")]
    assert after.index(restart) > max(loads)
    after_down = down[down.index(A("point_of_no_return")) + 1:]
    terminate = (A("apply"), (A("supervisor"), A("terminate_child"), [A("shop_sup"), A("shop_stats")]))
    first_code = min(i for i, instr in enumerate(after_down) if isinstance(instr, tuple)
                     and instr[0] in (A("load"), A("suspend"), A("remove")))
    assert after_down.index(terminate) < first_code
    assert format_term(restart) in case.result.app("shop").text()


def test_consolidated_protocols_load_after_the_code(relups):
    _case, outcome = relups["exshop 0.1.0 -> 0.2.0"]
    _vsn, [(_b, _d, up)], [(_b2, _d2, down)] = outcome[1]
    for script, vsn in ((up, "0.2.0"), (down, "0.1.0")):
        after = script[script.index(A("point_of_no_return")) + 1:]
        binaries = [i for i, instr in enumerate(after) if instr[0] == A("apply") and instr[1][1] == A("load_binary")]
        loaded = {str(after[i][1][2][0]) for i in binaries}
        assert {"Elixir.Exshop.Describe", "Elixir.String.Chars"} <= loaded
        loads = [i for i, instr in enumerate(after) if instr[0] in (A("load"), A("remove"))
                 and str(instr[1][0]).startswith("Elixir.Exshop")]
        assert min(binaries) > max(loads)
        for i in binaries:
            assert text(after[i][1][2][1]).startswith(f"releases/{vsn}/consolidated/")


@pytest.mark.parametrize(("name", "old", "new"), [("shop", "1.0.0", "1.1.0"), ("shop", "1.1.0", "2.0.0"),
                                                  ("exshop", "0.1.0", "0.2.0")])
def test_debug_only_is_beam_lib_cmp_without_a_code_change(tmp_path: Path, name: str, old: str, new: str):
    """``chunks_md5`` equal exactly when ``beam_lib:cmp/2`` says ``ok``; debug-only = code equal, cmp not."""
    roots = {}
    for vsn in (old, new):
        why = releases.tool_missing(releases.release(name, vsn).kind)
        if why:
            pytest.skip(f"cannot build {name} {vsn}: {why}")
        roots[vsn] = tmp_path / vsn
        extract(releases.tarball(name, vsn), roots[vsn])
    before, after = open_release(roots[old]), open_release(roots[new])
    pairs = []
    for app in after.apps:
        if app.name not in before.app_versions:
            continue
        old_modules = before.app(app.name).modules
        for module, facts in sorted(app.modules.items()):
            if module in old_modules:
                pairs.append((old_modules[module], facts))
    assert pairs
    spec = tmp_path / "pairs.term"
    spec.write_text(dumps([[(str(roots[old] / a.path), str(roots[new] / b.path)) for a, b in pairs]]), encoding="utf-8")
    answers = run_escript("beam_cmp.escript", str(spec)).decode().splitlines()
    assert len(answers) == len(pairs)
    debug_only = 0
    for (a, b), answer in zip(pairs, answers):
        assert (a.chunks_md5 == b.chunks_md5) == (answer == "same"), (a.path, answer)
        if a.md5 == b.md5 and answer != "same":
            debug_only += 1
            assert answer.split()[1] not in ("Code", "AtU8", "ImpT", "ExpT", "LitT", "FunT", "StrT")
    if name == "shop" and old == "1.0.0":
        assert debug_only  # shop_legacy is rebuilt unchanged: its debug info differs, its code does not
