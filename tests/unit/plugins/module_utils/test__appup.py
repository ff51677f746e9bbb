# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Appup generation (_appup) on release facts built in Python: every rule, no Erlang.

The ordering proofs use :func:`systools_orders` below, a separate, deliberately naive model of
``systools_rc:translate_dependent_instrs`` that enumerates *every* order systools may produce
(every topological order of the transitively closed condensation of each weakly connected
component, members of a strongly connected component by list position). A linearised list has
exactly one. ``tests/erlang/test_appup_systools.py`` checks the same lists against OTP itself.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup import (
    DOWN,
    PLAIN,
    SPECIAL,
    SUPERVISOR,
    UP,
    GenerateOptions,
    GenerationError,
    PurgeOptions,
    ambiguous_components,
    classify,
    classify_change,
    dependencies,
    diff_app,
    generate,
    generate_app,
    instruction_deps,
    linearise,
    strongly_connected,
    systools_order,
)
from ansible_collections.erlang.otp.plugins.module_utils._child_specs import ChildSpec, SupervisorChildren
from ansible_collections.erlang.otp.plugins.module_utils._release import (
    AppFacts,
    ModuleFacts,
    ReleaseError,
    ReleaseFacts,
    release_from_manifest,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import format_term, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

A = Atom
DEP = ("update", "load_module", "add_module", "delete_module")


# ------------------------------------------------------------------------------------------------
# Building facts
# ------------------------------------------------------------------------------------------------


def md5(seed: str) -> str:
    return hashlib.md5(seed.encode()).hexdigest()


def mod(name: str, code: str = "v1", imports=(), behaviours=(), debug: str | None = None, **flags) -> ModuleFacts:
    """A module whose code MD5 derives from ``code`` and whose other chunks from ``debug``."""
    return ModuleFacts(
        name,
        md5(f"{name}:{code}"),
        chunks_md5=md5(f"{name}:{code}:{debug or ''}"),
        behaviours=behaviours,
        imports=imports,
        **flags,
    )


def app(name: str, vsn: str, *modules: ModuleFacts, **kw) -> AppFacts:
    return AppFacts(name, vsn, list(modules), **kw)


def rel(vsn: str, *apps: AppFacts, consolidated: dict | None = None, name: str = "r") -> ReleaseFacts:
    return ReleaseFacts(name, vsn, "13.1.5", list(apps), consolidated=consolidated)


def names(instrs: list) -> list:
    return [(str(i[0]), str(i[1])) for i in instrs]


def sup_children(*ids, name: str | None = "the_sup", complete: bool = True, reason=None) -> SupervisorChildren:
    return SupervisorChildren(
        children=[
            ChildSpec(A(i) if isinstance(i, str) else i, A(i) if isinstance(i, str) else None, "worker") for i in ids
        ],
        complete=complete,
        reason=reason,
        registered_name=None if name is None else A(name),
        sup_ref=None if name is None else A(name),
    )


def one(previous, current, **kw):
    """Generate from one previous release and return (result, the app result of 'a')."""
    result = generate([previous], current, **kw)
    return result, result.app("a")


# ------------------------------------------------------------------------------------------------
# An independent model of systools' ordering (systools_rc.erl 418-548), used as the oracle
# ------------------------------------------------------------------------------------------------


def _deps_of(instr: tuple) -> list:
    """DepMods after systools_rc:expand_script: the last element when it is a list, else none."""
    return [str(d) for d in instr[-1]] if isinstance(instr[-1], list) else []


def systools_orders(instrs: list, mode: str) -> set:
    """Every order in which systools may load/remove the DEP instructions' modules."""
    dep_is = [i for i in instrs if isinstance(i, tuple) and str(i[0]) in DEP]
    nodes = [str(i[1]) for i in dep_is]
    n_of = {m: k for k, m in enumerate(nodes)}
    edges = {str(i[1]): _deps_of(i) for i in dep_is}
    reach = {m: {m} for m in nodes}
    changed = True
    while changed:  # transitive closure, the slow and obvious way
        changed = False
        for m in nodes:
            for d in edges[m]:
                new = reach[d] - reach[m]
                if new:
                    reach[m] |= new
                    changed = True
    undirected = {m: set(edges[m]) | {x for x in nodes if m in edges[x]} for m in nodes}
    components, seen = [], set()
    for m in nodes:  # in order of the first member, as translate_dep_loop emits them
        if m in seen:
            continue
        comp, todo = set(), [m]
        while todo:
            x = todo.pop()
            if x not in comp:
                comp.add(x)
                todo.extend(undirected[x])
        seen |= comp
        components.append(comp)
    per_component = []
    for comp in components:
        sccs = []
        for m in sorted(comp, key=n_of.get):
            scc = frozenset(x for x in comp if x in reach[m] and m in reach[x])
            if scc not in sccs:
                sccs.append(scc)
        orders = []
        for perm in itertools.permutations(sccs):
            # a topological order of the condensation, dependents first: no SCC reaches an earlier one
            if not any(
                perm[earlier] & reach[next(iter(perm[later]))] for later in range(len(perm)) for earlier in range(later)
            ):
                flat = [x for scc in perm for x in sorted(scc, key=n_of.get)]
                orders.append(flat[::-1] if mode == UP else flat)
        per_component.append(orders)
    return {tuple(x for part in combo for x in part) for combo in itertools.product(*per_component)}


def assert_one_order(instrs: list, mode: str, expected: list) -> None:
    orders = systools_orders(instrs, mode)
    assert orders == {tuple(expected)}, (mode, orders, expected)
    assert systools_order(instrs, mode) == expected
    assert ambiguous_components(instrs) == []


def dep_instrs(nodes: list, deps: dict) -> list:
    return [
        (A("load_module"), A(m), A("brutal_purge"), A("brutal_purge"), [A(d) for d in deps.get(m, [])]) for m in nodes
    ]


def test_oracle_sees_the_reference_tie():
    """Reference 5.6: root depends on dep_1..dep_8: systools may pick any order of the deps."""
    deps = {"root": [f"dep_{i}" for i in range(1, 5)]}
    nodes = ["root"] + [f"dep_{i}" for i in range(1, 5)]
    instrs = dep_instrs(nodes, deps)
    assert len(systools_orders(instrs, UP)) == 24
    assert ambiguous_components(instrs) == [nodes]


# ------------------------------------------------------------------------------------------------
# Diff
# ------------------------------------------------------------------------------------------------


def test_diff_added_deleted_changed_debug_only():
    old = app("a", "1", mod("same"), mod("gone"), mod("chg", "v1"), mod("dbg", debug="x"))
    new = app("a", "2", mod("same"), mod("new"), mod("chg", "v2"), mod("dbg", debug="y"))
    diff = diff_app(old, new)
    assert (diff.added, diff.deleted, diff.changed, diff.debug_only) == (["new"], ["gone"], ["chg"], ["dbg"])
    assert not diff.empty
    assert "changed: chg" in diff.describe()
    assert diff_app(old, old).empty


def test_debug_only_change_is_reported_not_upgraded():
    old = rel("1", app("a", "1", mod("m", debug="one"), mod("x")))
    new = rel("2", app("a", "2", mod("m", debug="two"), mod("x", "v2")))
    result, a = one(old, new)
    assert result.debug_only == {"a": ["m"]}
    assert a.debug_only == ["m"]
    assert names(a.up["1"]) == [("load_module", "x")]


# ------------------------------------------------------------------------------------------------
# Classification
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "kind"),
    [
        (mod("m", behaviours=["supervisor"]), SUPERVISOR),
        (mod("m", behaviours=["Elixir.Supervisor"]), SUPERVISOR),
        (mod("m", behaviours=["application", "supervisor"]), SUPERVISOR),
        (mod("m", behaviours=["gen_server"]), SPECIAL),
        (mod("m", behaviours=["gen_statem"]), SPECIAL),
        (mod("m", behaviours=["gen_event"]), SPECIAL),
        (mod("m", behaviours=["Elixir.GenServer"]), SPECIAL),
        (mod("m", behaviours=["gen_batch_server"]), SPECIAL),  # any gen_* behaviour
        (mod("m", exports_code_change=True), SPECIAL),
        (mod("m", exports_system_code_change=True), SPECIAL),
        (mod("m", behaviours=["gen_server", "poolgirl_worker"]), SPECIAL),  # several, one unknown
        (mod("m", behaviours=["poolgirl_worker"]), PLAIN),  # unknown/custom behaviour
        (mod("m", behaviours=["application"]), PLAIN),
        (mod("m", behaviours=["{weird,term}"]), PLAIN),
        (mod("m"), PLAIN),
    ],
)
def test_classify(module, kind):
    assert classify(module) == kind


def test_supervisor_in_old_or_new_beam_wins_with_a_warning():
    old, new = mod("s", behaviours=["supervisor"]), mod("s", "v2", behaviours=["gen_server"], exports_code_change=True)
    for a_, b_ in ((old, new), (new, old)):
        cls = classify_change("s", a_, b_, "1", "2")
        assert cls.kind == SUPERVISOR
        assert any("supervisor" in w and "special process" in w for w in cls.warnings)


def test_special_in_either_beam():
    cls = classify_change("m", mod("m", exports_code_change=True), mod("m", "v2", exports_code_change=True))
    assert (cls.kind, cls.change, cls.warnings) == (SPECIAL, "advanced", [])
    cls = classify_change("m", mod("m", behaviours=["gen_server"]), mod("m", "v2", exports_code_change=True))
    assert (cls.kind, cls.change) == (SPECIAL, "advanced")
    assert cls.warnings == []  # both special: nothing to warn about
    cls = classify_change("m", mod("m"), mod("m", "v2", exports_code_change=True), "1", "2")
    assert cls.kind == SPECIAL
    assert "a plain module in 1 and a special process in 2" in cls.warnings[0]


def test_special_without_code_change_is_a_soft_update():
    cls = classify_change("m", mod("m", behaviours=["gen_server"]), mod("m", "v2", behaviours=["gen_server"]))
    assert (cls.kind, cls.change) == (SPECIAL, "soft")
    assert "exports no code_change" in cls.warnings[0]
    old = rel("1", app("a", "1", mod("m", behaviours=["gen_server"])))
    new = rel("2", app("a", "2", mod("m", "v2", behaviours=["gen_server"])))
    _r, a = one(old, new)
    assert a.up["1"] == [(A("update"), A("m"), A("soft"), A("brutal_purge"), A("brutal_purge"), [])]
    assert any("soft" in w for w in a.warnings)


def test_instruction_shapes():
    old = rel(
        "1",
        app(
            "a",
            "1",
            mod("sup", behaviours=["supervisor"]),
            mod("srv", behaviours=["gen_server"], exports_code_change=True),
            mod("lib"),
            mod("gone"),
        ),
    )
    new = rel(
        "2",
        app(
            "a",
            "2",
            mod("sup", "v2", behaviours=["supervisor"]),
            mod("srv", "v2", behaviours=["gen_server"], exports_code_change=True),
            mod("lib", "v2"),
            mod("fresh"),
        ),
    )
    _r, a = one(old, new)
    up = {str(i[1]): i for i in a.up["1"]}
    assert up["sup"] == (A("update"), A("sup"), A("supervisor"))
    assert up["srv"] == (A("update"), A("srv"), (A("advanced"), []), A("brutal_purge"), A("brutal_purge"), [])
    assert up["lib"] == (A("load_module"), A("lib"), A("brutal_purge"), A("brutal_purge"), [])
    assert up["fresh"] == (A("add_module"), A("fresh"), [])
    assert up["gone"] == (A("delete_module"), A("gone"), [])
    down = {str(i[1]): i for i in a.down["1"]}
    assert down["fresh"] == (A("delete_module"), A("fresh"), [])
    assert down["gone"] == (A("add_module"), A("gone"), [])
    assert down["sup"] == up["sup"]


def test_supervisor_with_deps_uses_the_static_8_tuple():
    old = rel("1", app("a", "1", mod("sup", behaviours=["supervisor"]), mod("w")))
    new = rel("2", app("a", "2", mod("sup", "v2", behaviours=["supervisor"], imports=["w"]), mod("w", "v2")))
    _r, a = one(old, new)
    sup = next(i for i in a.up["1"] if i[1] == A("sup"))
    assert sup == (
        A("update"),
        A("sup"),
        A("static"),
        A("default"),
        (A("advanced"), []),
        A("brutal_purge"),
        A("brutal_purge"),
        [A("w")],
    )


# ------------------------------------------------------------------------------------------------
# Dependencies
# ------------------------------------------------------------------------------------------------


def test_dependencies_up_and_down():
    old = app("a", "1", mod("c", imports=["p", "f", "lists"]), mod("p"), mod("f"), mod("u"))
    new = app(
        "a",
        "2",
        mod("c", "v2", imports=["p", "n", "u", "lists", "c"]),
        mod("p", "v2", imports=["n"]),
        mod("n"),
        mod("u"),
    )
    diff = diff_app(old, new)
    assert dependencies(diff, UP) == {"c": ["n", "p"], "p": ["n"], "n": [], "f": ["c"]}
    # down: the removed f is re-added before its old caller c (f depends on c, systools runs
    # dependents first going down), and c stops calling the added n before n is removed
    assert dependencies(diff, DOWN) == {"c": ["n", "p"], "p": ["n"], "n": [], "f": ["c"]}
    with pytest.raises(ValueError, match="direction"):
        dependencies(diff, "sideways")


def test_downgrade_is_the_upgrade_reversed_for_added_and_deleted_modules():
    old = rel("1", app("a", "1", mod("c", imports=["gone"]), mod("gone")))
    new = rel("2", app("a", "2", mod("c", "v2", imports=["fresh"]), mod("fresh")))
    _r, a = one(old, new)
    up, down = a.order["1"][UP], a.order["1"][DOWN]
    assert up.index("c") < up.index("gone")  # new c no longer calls gone: load it, then remove gone
    assert up.index("fresh") < up.index("c")
    assert down.index("c") < down.index("fresh")  # old c does not call fresh: load it, then remove fresh
    assert down.index("gone") < down.index("c")  # gone is re-added before the old c that calls it
    for direction in (UP, DOWN):
        instrs = a.up["1"] if direction == UP else a.down["1"]
        assert_one_order(instrs, direction, a.order["1"][direction])


def test_new_code_calling_a_deleted_module_is_warned():
    old = rel("1", app("a", "1", mod("c"), mod("gone")))
    new = rel("2", app("a", "2", mod("c", "v2", imports=["gone"])))
    _r, a = one(old, new)
    assert any("calls gone" in w for w in a.warnings)


def test_dependencies_outside_the_app_or_unchanged_are_ignored():
    old = rel("1", app("a", "1", mod("c"), mod("lib")), app("b", "1", mod("other")))
    new = rel(
        "2",
        app("a", "2", mod("c", "v2", imports=["lib", "other", "kernel"]), mod("lib")),
        app("b", "2", mod("other", "v2")),
    )
    result, a = one(old, new)
    assert a.up["1"] == [(A("load_module"), A("c"), A("brutal_purge"), A("brutal_purge"), [])]
    assert result.app("b").up["1"][0][1] == A("other")


# ------------------------------------------------------------------------------------------------
# Strongly connected components and linearisation
# ------------------------------------------------------------------------------------------------


def test_strongly_connected_components():
    deps = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e"], "f": ["x"]}
    sccs = strongly_connected(["a", "b", "c", "d", "e", "f"], deps)
    assert sccs == [["d"], ["a", "b", "c"], ["e"], ["f"]]


def test_strongly_connected_long_chain_is_not_recursive():
    nodes = [f"m{i}" for i in range(5000)]
    deps = {nodes[i]: [nodes[i + 1]] for i in range(len(nodes) - 1)}
    deps[nodes[-1]] = [nodes[0]]
    assert strongly_connected(nodes, deps) == [nodes]


FAN = [f"dep_{i}" for i in range(1, 7)]
GRAPHS = {
    "fan-out (reference 5.6)": (["root", *FAN], {"root": FAN}),
    "diamond": (["top", "l", "r", "bottom"], {"top": ["l", "r"], "l": ["bottom"], "r": ["bottom"]}),
    "two callers of one callee": (["a", "b", "lib"], {"a": ["lib"], "b": ["lib"]}),
    "2-cycle": (["x", "y"], {"x": ["y"], "y": ["x"]}),
    "3-cycle with a tail and a head": (
        ["h", "a", "b", "c", "t"],
        {"h": ["a"], "a": ["b"], "b": ["c"], "c": ["a", "t"]},
    ),
    "two cycles side by side": (
        ["a1", "a2", "b1", "b2", "top"],
        {"a1": ["a2"], "a2": ["a1"], "b1": ["b2"], "b2": ["b1"], "top": ["a1", "b1"]},
    ),
    "two components and a loner": (["p", "q", "solo", "r", "s"], {"q": ["p"], "s": ["r"]}),
    "self-dependency only": (["a"], {"a": []}),
}


@pytest.mark.parametrize("mode", [UP, DOWN])
@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_linearise_leaves_exactly_one_order(graph, mode):
    nodes, deps = GRAPHS[graph]
    before = dep_instrs(nodes, deps)
    lin = linearise(nodes, deps, mode)
    for m, ds in deps.items():  # only adds DepMods
        assert set(ds) <= set(lin.deps[m])
    after = dep_instrs(nodes, lin.deps)
    assert_one_order(after, mode, lin.order)
    assert lin.order in [list(o) for o in systools_orders(before, mode)]  # one of systools' own choices
    assert sorted(lin.order) == sorted(nodes)
    for m, added in lin.added.items():
        assert set(added) == set(lin.deps[m]) - set(deps.get(m, []))


def test_linearise_orders_callees_first_going_up_and_callers_first_going_down():
    nodes, deps = GRAPHS["diamond"]
    assert linearise(nodes, deps, UP).order[0] == "bottom"
    assert linearise(nodes, deps, UP).order[-1] == "top"
    assert linearise(nodes, deps, DOWN).order[0] == "top"
    assert linearise(nodes, deps, DOWN).order[-1] == "bottom"


def test_cycles_are_ordered_by_list_position():
    lin = linearise(["x", "y", "z"], {"x": ["y"], "y": ["z"], "z": ["x"]}, UP)
    assert lin.order == ["z", "y", "x"]  # systools: members by position, the whole reversed going up
    assert lin.added == {}
    assert linearise(["x", "y", "z"], {"x": ["y"], "y": ["z"], "z": ["x"]}, DOWN).order == ["x", "y", "z"]


def test_chain_needs_no_extra_deps():
    lin = linearise(["a", "b", "c"], {"a": ["b"], "b": ["c"]}, UP)
    assert lin.added == {}
    assert lin.order == ["c", "b", "a"]


def test_linearise_prefers_existing_edges():
    # discount, stats are both callees of the chain: price -> discount, cart -> price, cart -> stats
    nodes = ["discount", "stats", "price", "cart"]
    deps = {"price": ["discount"], "cart": ["price", "stats"]}
    lin = linearise(nodes, deps, UP)
    assert sum(len(v) for v in lin.added.values()) == 1
    assert_one_order(dep_instrs(nodes, lin.deps), UP, lin.order)


def random_graph(rng: random.Random, size: int) -> tuple:
    nodes = [f"m{i:02d}" for i in range(size)]
    rng.shuffle(nodes)
    deps = {}
    for m in nodes:
        deps[m] = sorted({rng.choice(nodes) for _unused in range(rng.choice([0, 0, 1, 1, 2, 3]))} - {m})
    return nodes, deps


@pytest.mark.parametrize("seed", range(60))
def test_linearise_random_graphs(seed):
    rng = random.Random(seed)
    nodes, deps = random_graph(rng, rng.randint(2, 8))
    for mode in (UP, DOWN):
        lin = linearise(nodes, deps, mode)
        assert_one_order(dep_instrs(nodes, lin.deps), mode, lin.order)
        assert lin.order in [list(o) for o in systools_orders(dep_instrs(nodes, deps), mode)]


@pytest.mark.parametrize("seed", range(40))
def test_generated_entries_have_one_order_each_way(seed):
    """Random apps (changed, added, deleted modules with random imports, cycles included)."""
    rng = random.Random(1000 + seed)
    size = rng.randint(3, 8)
    names_ = [f"m{i}" for i in range(size)]
    old_mods, new_mods = [], []
    for m in names_:
        fate = rng.choice(["same", "changed", "changed", "added", "deleted"])
        old_imports = rng.sample(names_, rng.randint(0, 3))
        new_imports = rng.sample(names_, rng.randint(0, 3))
        if fate != "added":
            old_mods.append(mod(m, "v1", imports=old_imports))
        if fate != "deleted":
            new_mods.append(
                mod(m, "v1" if fate == "same" else "v2", imports=new_imports if fate != "same" else old_imports)
            )
    result = generate([rel("1", app("a", "1", *old_mods))], rel("2", app("a", "2", *new_mods)))
    if not result.apps[0].up["1"]:
        return
    a = result.app("a")
    up, down = a.up["1"], a.down["1"]
    assert_one_order(up, UP, a.order["1"][UP])
    assert_one_order(down, DOWN, a.order["1"][DOWN])
    # the dependency graph of each direction is kept (only completed)
    diff = a.diffs["1"]
    for direction, instrs in ((UP, up), (DOWN, down)):
        got = {str(i[1]): {str(d) for d in instruction_deps(i)} for i in instrs}
        for m, ds in dependencies(diff, direction).items():
            assert set(ds) <= got[m]


# ------------------------------------------------------------------------------------------------
# Downgrade: the exact inverse
# ------------------------------------------------------------------------------------------------


INVERSE = {
    "add_module": "delete_module",
    "delete_module": "add_module",
    "load_module": "load_module",
    "update": "update",
}


def _inverse_shape(instr: tuple) -> tuple:
    tag = str(instr[0])
    if tag == "apply":
        fun = str(instr[1][1])
        return ("apply", fun, format_term(instr[1][2]))
    return (INVERSE[tag], str(instr[1]))


def test_down_is_the_exact_inverse():
    old = rel(
        "1",
        app(
            "a",
            "1",
            mod("sup", behaviours=["supervisor"], supervisor=sup_children("w1", "old_child")),
            mod("w1"),
            mod("old_child"),
            mod("c", imports=["w1"]),
            mod("gone"),
        ),
    )
    new = rel(
        "2",
        app(
            "a",
            "2",
            mod("sup", "v2", behaviours=["supervisor"], supervisor=sup_children("w1", "new_child")),
            mod("w1", "v2"),
            mod("new_child"),
            mod("c", "v2", imports=["w1", "new_child"]),
        ),
    )
    _r, a = one(old, new)
    up, down = a.up["1"], a.down["1"]
    # children: stops first, starts last, each way
    assert up[:2] == [
        (A("apply"), (A("supervisor"), A("terminate_child"), [A("the_sup"), A("old_child")])),
        (A("apply"), (A("supervisor"), A("delete_child"), [A("the_sup"), A("old_child")])),
    ]
    assert up[-1] == (A("apply"), (A("supervisor"), A("restart_child"), [A("the_sup"), A("new_child")]))
    assert down[:2] == [
        (A("apply"), (A("supervisor"), A("terminate_child"), [A("the_sup"), A("new_child")])),
        (A("apply"), (A("supervisor"), A("delete_child"), [A("the_sup"), A("new_child")])),
    ]
    assert down[-1] == (A("apply"), (A("supervisor"), A("restart_child"), [A("the_sup"), A("old_child")]))
    # code instructions: reversed, add <-> delete
    code_up = [i for i in up if str(i[0]) != "apply"]
    code_down = [i for i in down if str(i[0]) != "apply"]
    assert [_inverse_shape(i) for i in reversed(code_up)] == [(str(i[0]), str(i[1])) for i in code_down]
    assert len([i for i in up if i[1] == A("sup")]) == 1  # never two updates of one supervisor


def test_supervisor_children_by_real_id_and_name():
    children_old = SupervisorChildren(
        children=[ChildSpec((A("pool"), 1), A("w"), "worker")], registered_name=None, sup_ref=(A("global"), A("top"))
    )
    children_new = SupervisorChildren(
        children=[ChildSpec((A("pool"), 1), A("w"), "worker"), ChildSpec((A("pool"), 2), A("w"), "worker")],
        sup_ref=(A("global"), A("top")),
    )
    old = rel("1", app("a", "1", mod("s", behaviours=["supervisor"], supervisor=children_old)))
    new = rel("2", app("a", "2", mod("s", "v2", behaviours=["supervisor"], supervisor=children_new)))
    _r, a = one(old, new)
    assert a.up["1"][-1] == (
        A("apply"),
        (A("supervisor"), A("restart_child"), [(A("global"), A("top")), (A("pool"), 2)]),
    )


def test_supervisor_name_unknown_falls_back_to_module_with_warning():
    old = rel("1", app("a", "1", mod("s", behaviours=["supervisor"], supervisor=sup_children("x", name=None))))
    children = sup_children("x", "y", name=None)
    new = rel("2", app("a", "2", mod("s", "v2", behaviours=["supervisor"], supervisor=children)))
    _r, a = one(old, new)
    assert a.up["1"][-1] == (A("apply"), (A("supervisor"), A("restart_child"), [A("s"), A("y")]))
    assert any("registered name is not known" in w for w in a.warnings)


def test_supervisor_children_unknown_warns_and_adds_nothing():
    old = rel("1", app("a", "1", mod("s", behaviours=["supervisor"], supervisor=sup_children("x"))))
    new = rel(
        "2",
        app(
            "a",
            "2",
            mod("s", "v2", behaviours=["supervisor"], supervisor=sup_children(complete=False, reason="no debug info")),
        ),
    )
    _r, a = one(old, new)
    assert a.up["1"] == [(A("update"), A("s"), A("supervisor"))]
    assert any("no debug info" in w for w in a.warnings)
    old2 = rel("1", app("a", "1", mod("s", behaviours=["supervisor"])))  # no child facts at all
    _r, a = one(old2, new)
    assert any("cannot be read (unknown)" in w for w in a.warnings)


def test_supervisor_child_changing_module_warns():
    before = SupervisorChildren(children=[ChildSpec(A("c"), A("w1"), "worker")], sup_ref=A("s"))
    after = SupervisorChildren(children=[ChildSpec(A("c"), A("w2"), "worker")], sup_ref=A("s"))
    old = rel("1", app("a", "1", mod("s", behaviours=["supervisor"], supervisor=before)))
    new = rel("2", app("a", "2", mod("s", "v2", behaviours=["supervisor"], supervisor=after)))
    _r, a = one(old, new)
    assert a.up["1"] == [(A("update"), A("s"), A("supervisor"))]
    assert any("now starts w2 instead of w1" in w for w in a.warnings)


# ------------------------------------------------------------------------------------------------
# Several previous versions
# ------------------------------------------------------------------------------------------------


def test_one_entry_per_previous_version():
    r1 = rel("1", app("a", "1", mod("m", "v1")))
    r2 = rel("2", app("a", "2", mod("m", "v2"), mod("n")))
    r2b = rel("2b", app("a", "2", mod("m", "v2"), mod("n")))
    r3 = rel("3", app("a", "3", mod("m", "v3")))
    result = generate([r2, r1, r2b], r3)
    a = result.app("a")
    assert a.from_vsns == ["2", "1"]
    assert names(a.up["2"]) == [("load_module", "m"), ("delete_module", "n")]
    assert names(a.up["1"]) == [("load_module", "m")]
    term = a.term
    assert term[0] == "3"
    assert [k for k, _v in term[1]] == ["2", "1"]
    assert [k for k, _v in term[2]] == ["2", "1"]
    assert parse_one(a.text(), "<appup>") == term


def test_same_version_different_code_in_two_previous_releases_is_an_error():
    r1 = rel("1", app("a", "1", mod("m", "v1")))
    r1b = rel("1b", app("a", "1", mod("m", "other")))
    result = generate([r1, r1b], rel("2", app("a", "2", mod("m", "v2"))))
    assert any("a 1 differs between two previous releases" in e for e in result.errors)


def test_previous_release_equal_to_current_needs_no_entry():
    r2 = rel("2", app("a", "2", mod("m", "v2")))
    result = generate([rel("1", app("a", "1", mod("m"))), r2], r2)
    assert result.app("a").from_vsns == ["1"]
    assert result.unchanged_apps == ["a"]


# ------------------------------------------------------------------------------------------------
# Refusals, added and removed applications, moved modules
# ------------------------------------------------------------------------------------------------


def test_changed_beams_with_unchanged_version_is_an_error():
    old = rel("1", app("a", "1", mod("m"), mod("x")), app("b", "1", mod("b1")))
    new = rel("2", app("a", "1", mod("m", "v2"), mod("y")), app("b", "1", mod("b1")))
    result = generate([old], new)
    assert result.apps == []
    [error] = result.errors
    assert "application a 1" in error
    assert "changed: m" in error
    assert "added: y" in error
    assert "deleted: x" in error
    assert result.unchanged_apps == ["b"]


def test_added_and_removed_apps_are_reported_not_generated():
    old = rel("1", app("a", "1", mod("m")), app("gone", "1", mod("g")))
    new = rel("2", app("a", "2", mod("m", "v2")), app("fresh", "1", mod("f")))
    result = generate([old], new)
    assert [r.name for r in result.apps] == ["a"]
    assert result.added_apps == ["fresh"]
    assert result.removed_apps == ["gone"]
    assert result.errors == []


def test_app_added_relative_to_one_previous_release_only():
    r1 = rel("1", app("a", "1", mod("m")))
    r2 = rel("2", app("a", "1", mod("m")), app("b", "1", mod("x")))
    result = generate([r1, r2], rel("3", app("a", "2", mod("m", "v2")), app("b", "1", mod("x"))))
    assert result.added_apps == ["b"]
    assert result.unchanged_apps == ["b"]


def test_module_moved_between_apps_is_an_error_naming_both():
    old = rel("1", app("a", "1", mod("m"), mod("moving")), app("b", "1", mod("x")))
    new = rel("2", app("a", "2", mod("m", "v2")), app("b", "2", mod("x"), mod("moving")))
    result = generate([old], new)
    [error] = result.errors
    assert "module moving moved from application a 1" in error
    assert "to application b 2" in error


def test_module_moved_out_of_a_removed_app_is_an_error():
    old = rel("1", app("a", "1", mod("m")), app("legacy", "1", mod("moving")))
    new = rel("2", app("a", "2", mod("m", "v2"), mod("moving")))
    result = generate([old], new)
    assert any("moved from application legacy 1" in e and "to application a 2" in e for e in result.errors)


def test_unbundled_apps_are_warned_about():
    old = rel("1", app("kernel", "8.5", bundled=False), app("a", "1", mod("m")))
    new = rel("2", app("kernel", "8.6", bundled=False), app("a", "2", mod("m", "v2")))
    result = generate([old], new)
    assert [r.name for r in result.apps] == ["a"]
    assert any("kernel 8.5 -> 8.6" in w and "not in its release" in w for w in result.warnings)


def test_app_with_new_version_and_no_code_change_gets_an_empty_entry():
    result = generate([rel("1", app("a", "1", mod("m")))], rel("2", app("a", "2", mod("m"))))
    assert result.app("a").term == ("2", [("1", [])], [("1", [])])


# ------------------------------------------------------------------------------------------------
# NIFs
# ------------------------------------------------------------------------------------------------


def test_changed_nif_module_restarts_the_application():
    old = rel("1", app("a", "1", mod("nif", loads_nif=True), mod("m")))
    new = rel("2", app("a", "2", mod("nif", "v2", loads_nif=True), mod("m", "v2")))
    _r, a = one(old, new)
    assert a.up["1"] == [(A("restart_application"), A("a"))]
    assert a.down["1"] == [(A("restart_application"), A("a"))]
    assert a.restart == ["1"]
    assert any("nif loads a NIF library" in w and "restart_application" in w for w in a.warnings)


def test_nif_load_module_option_keeps_the_instructions():
    old = rel("1", app("a", "1", mod("nif", loads_nif=True)))
    new = rel("2", app("a", "2", mod("nif", "v2", loads_nif=True)))
    _r, a = one(old, new, options={"nif": "load_module"})
    assert names(a.up["1"]) == [("load_module", "nif")]
    assert any("upgrade callback" in w for w in a.warnings)
    with pytest.raises(GenerationError, match="nif"):
        GenerateOptions(nif="reboot")


def test_added_or_unchanged_nif_module_is_no_reason_to_restart():
    old = rel("1", app("a", "1", mod("keep", loads_nif=True), mod("m")))
    new = rel("2", app("a", "2", mod("keep", loads_nif=True), mod("m", "v2"), mod("fresh", loads_nif=True)))
    _r, a = one(old, new)
    assert a.restart == []
    assert sorted(names(a.up["1"])) == [("add_module", "fresh"), ("load_module", "m")]


# ------------------------------------------------------------------------------------------------
# Purge options
# ------------------------------------------------------------------------------------------------


def test_purge_default_and_per_module():
    old = rel(
        "1",
        app(
            "a",
            "1",
            mod("m"),
            mod("g", behaviours=["gen_server"], exports_code_change=True),
            mod("s", behaviours=["supervisor"]),
        ),
    )
    new = rel(
        "2",
        app(
            "a",
            "2",
            mod("m", "v2"),
            mod("g", "v2", behaviours=["gen_server"], exports_code_change=True),
            mod("s", "v2", behaviours=["supervisor"]),
        ),
    )
    purge = PurgeOptions(
        pre="soft_purge", modules={"g": (None, "soft_purge"), "s": {"pre": "brutal_purge"}, "nowhere": "soft"}
    )
    result, a = one(old, new, purge=purge)
    up = {str(i[1]): i for i in a.up["1"]}
    assert up["m"][2:4] == (A("soft_purge"), A("brutal_purge"))
    assert up["g"][3:5] == (A("soft_purge"), A("soft_purge"))
    assert up["s"] == (A("update"), A("s"), A("supervisor"))  # brutal/brutal: the short form
    result, a = one(old, new, purge={"modules": {"s": {"post": "soft_purge"}}})
    up = {str(i[1]): i for i in a.up["1"]}
    assert up["s"] == (
        A("update"),
        A("s"),
        A("static"),
        A("default"),
        (A("advanced"), []),
        A("brutal_purge"),
        A("soft_purge"),
        [],
    )
    result, _a = one(old, new, purge=purge)
    assert any("purge: module nowhere" in w for w in result.warnings)


@pytest.mark.parametrize(
    "bad",
    [
        {"pre": "gentle"},
        {"modules": {"m": {"pre": "hard"}}},
        {"modules": {"m": {"when": "soft_purge"}}},
        {"modules": {"m": 3}},
        {"colour": "red"},
        "soft",
    ],
)
def test_bad_purge_options(bad):
    with pytest.raises(GenerationError, match="purge"):
        generate([rel("1", app("a", "1"))], rel("2", app("a", "2")), purge=bad)


def test_no_previous_release_is_an_error():
    with pytest.raises(GenerationError, match="previous"):
        generate([], rel("2", app("a", "2")))


# ------------------------------------------------------------------------------------------------
# Consolidated protocols (mix releases)
# ------------------------------------------------------------------------------------------------


def proto(name: str, code: str, vsn: str, data: bytes | None = b"BEAM") -> ModuleFacts:
    return ModuleFacts(
        name,
        md5(name + code),
        path=f"releases/{vsn}/consolidated/{name}.beam",
        data=None if data is None else data + code.encode(),
    )


def test_changed_protocol_is_loaded_by_the_app_defining_it_after_the_code():
    old = rel(
        "1",
        app("other", "1", mod("o")),
        app("a", "1", mod("Elixir.P"), mod("x")),
        consolidated={"Elixir.P": proto("Elixir.P", "1", "1"), "Elixir.Same": proto("Elixir.Same", "s", "1")},
    )
    new = rel(
        "2",
        app("other", "2", mod("o", "v2")),
        app("a", "2", mod("Elixir.P", "v2"), mod("x", "v2")),
        consolidated={"Elixir.P": proto("Elixir.P", "2", "2"), "Elixir.Same": proto("Elixir.Same", "s", "2")},
    )
    result = generate([old], new)
    a = result.app("a")
    up, down = a.up["1"], a.down["1"]
    load = (
        A("apply"),
        (A("code"), A("load_binary"), [A("Elixir.P"), "releases/2/consolidated/Elixir.P.beam", b"BEAM2"]),
    )
    assert up[-2:] == [(A("apply"), (A("code"), A("soft_purge"), [A("Elixir.P")])), load]
    old_path = "releases/1/consolidated/Elixir.P.beam"
    assert down[-1] == (A("apply"), (A("code"), A("load_binary"), [A("Elixir.P"), old_path, b"BEAM1"]))
    assert all(str(i[0]) != "apply" for i in result.app("other").up["1"])
    assert format_term(up[-1]).startswith("{apply,{code,load_binary,")


def test_protocol_goes_to_the_app_with_a_changed_implementation_else_the_first():
    consolidated_old = {
        "Elixir.String.Chars": proto("Elixir.String.Chars", "1", "1"),
        "Elixir.Enumerable": proto("Elixir.Enumerable", "1", "1"),
    }
    consolidated_new = {
        "Elixir.String.Chars": proto("Elixir.String.Chars", "2", "2"),
        "Elixir.Enumerable": proto("Elixir.Enumerable", "2", "2"),
    }
    old = rel(
        "1",
        app("elixir", "1.14", mod("Elixir.String.Chars")),
        app("first", "1", mod("f")),
        app("impl", "1", mod("i")),
        consolidated=consolidated_old,
    )
    new = rel(
        "2",
        app("elixir", "1.14", mod("Elixir.String.Chars")),
        app("first", "2", mod("f", "v2")),
        app("impl", "2", mod("i"), mod("Elixir.String.Chars.Impl.Visit")),
        consolidated=consolidated_new,
    )
    result = generate([old], new)

    def loaded(name):
        instrs = result.app(name).up["1"]
        return [str(i[1][2][0]) for i in instrs if str(i[0]) == "apply" and i[1][1] == A("load_binary")]

    assert loaded("impl") == ["Elixir.String.Chars"]
    assert loaded("first") == ["Elixir.Enumerable"]


def test_protocol_without_any_changed_app_is_warned():
    old = rel("1", app("a", "1", mod("m")), consolidated={"Elixir.P": proto("Elixir.P", "1", "1")})
    new = rel("2", app("a", "1", mod("m")), consolidated={"Elixir.P": proto("Elixir.P", "2", "2")})
    result = generate([old], new)
    assert any("consolidated protocol Elixir.P changed" in w for w in result.warnings)


def test_protocol_from_a_manifest_has_no_downgrade_binary():
    old = rel("1", app("a", "1", mod("m")), consolidated={"Elixir.P": proto("Elixir.P", "1", "1", data=None)})
    new = rel(
        "2",
        app("a", "2", mod("m", "v2")),
        consolidated={"Elixir.P": proto("Elixir.P", "2", "2"), "Elixir.New": proto("Elixir.New", "n", "2")},
    )
    result = generate([old], new)
    a = result.app("a")
    assert [str(i[1][2][0]) for i in a.up["1"] if str(i[0]) == "apply" and i[1][1] == A("load_binary")] == [
        "Elixir.New",
        "Elixir.P",
    ]
    assert [i for i in a.down["1"] if str(i[0]) == "apply"] == []
    assert any("not available" in w for w in a.warnings)
    assert any("Elixir.New is new" in w for w in a.warnings)


def test_protocol_before_child_starts():
    children = sup_children("w")
    old = rel(
        "1",
        app("a", "1", mod("s", behaviours=["supervisor"], supervisor=children)),
        consolidated={"Elixir.P": proto("Elixir.P", "1", "1")},
    )
    new = rel(
        "2",
        app("a", "2", mod("s", "v2", behaviours=["supervisor"], supervisor=sup_children("w", "v")), mod("v")),
        consolidated={"Elixir.P": proto("Elixir.P", "2", "2")},
    )
    _r, a = one(old, new)
    tags = [str(i[1][1]) if str(i[0]) == "apply" else str(i[0]) for i in a.up["1"]]
    assert tags == ["add_module", "update", "soft_purge", "load_binary", "restart_child"]


# ------------------------------------------------------------------------------------------------
# Shipped appups, results, manifests
# ------------------------------------------------------------------------------------------------


def test_shipped_appup_wins_entry_by_entry():
    shipped = (
        "2",
        [("1", [(A("restart_application"), A("a"))]), (b"0\\..*", [A("restart_new_emulator")])],
        [("1", [(A("restart_application"), A("a"))])],
    )
    r1 = rel("1", app("a", "1", mod("m")))
    r0 = rel("0.9", app("a", "0.9", mod("m", "old")))
    new = rel("2", app("a", "2", mod("m", "v2"), appup=shipped))
    a = generate([r1, r0], new).app("a")
    assert a.up["1"] == [(A("restart_application"), A("a"))]
    assert a.up["0.9"] == [A("restart_new_emulator")]
    assert names(a.down["0.9"]) == [("load_module", "m")]
    assert a.sources == {"1": {"up": "shipped", "down": "shipped"}, "0.9": {"up": "shipped", "down": "generated"}}
    a = generate([r1], new, options={"use_shipped": False}).app("a")
    assert names(a.up["1"]) == [("load_module", "m")]
    stale = rel("2", app("a", "2", mod("m", "v2"), appup=("1.5", [], [])))
    a = generate([r1], stale).app("a")
    assert names(a.up["1"]) == [("load_module", "m")]
    assert any("is for version 1.5" in w for w in a.warnings)


def test_result_to_dict_is_json():
    old = rel("1", app("a", "1", mod("m")))
    new = rel("2", app("a", "2", mod("m", "v2")))
    result = generate([old], new)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["apps"]["a"]["up"] == {"1": ["{load_module,m,brutal_purge,brutal_purge,[]}"]}
    assert data["apps"]["a"]["order"] == {"1": {"up": ["m"], "down": ["m"]}}
    with pytest.raises(KeyError):
        result.app("nope")


def test_generate_app_alone():
    a = generate_app("a", [app("a", "1", mod("m")), app("a", "2", mod("m", "v2"))], app("a", "2", mod("m", "v2")))
    assert a.from_vsns == ["1"]
    assert generate_app("a", [app("a", "2", mod("m", "v2"))], app("a", "2", mod("m", "v2"))) is None


def facts_release() -> ReleaseFacts:
    return rel(
        "1",
        app(
            "a",
            "1",
            mod("s", behaviours=["supervisor"], supervisor=sup_children("w")),
            mod("g", behaviours=["gen_server", "custom"], exports_code_change=True, imports=["lib", "s"]),
            mod("lib", debug="d", loads_nif=True),
            mod("x", exports_system_code_change=True, is_elixir=True),
            applications=["kernel"],
            appup=("1", [("0", [])], [("0", [])]),
            priv_so=["priv/x.so"],
            app_spec=(A("application"), A("a"), [(A("vsn"), "1"), (A("modules"), [A("x"), A("s"), A("g"), A("lib")])]),
        ),
        app("k", "8", bundled=False, start_type="load"),
        consolidated={"Elixir.P": proto("Elixir.P", "1", "1")},
    )


def test_manifest_round_trip():
    facts = facts_release()
    manifest = facts.manifest()
    text = json.dumps(manifest)
    again = release_from_manifest(text, "<m>")
    assert again.manifest() == manifest
    a = again.app("a")
    assert a.appup == ("1", [("0", [])], [("0", [])])
    assert a.app_spec[2][1] == (A("modules"), [A("x"), A("s"), A("g"), A("lib")])
    assert again.app("k").app_spec is None
    assert a.loads_nif
    assert again.app("k").bundled is False
    g = a.modules["g"]
    assert (g.behaviours, g.imports, g.exports_code_change, g.is_special_process) == (
        ["gen_server", "custom"],
        ["lib", "s"],
        True,
        True,
    )
    s = a.modules["s"]
    assert s.is_supervisor
    assert s.supervisor_children.ids == [A("w")]
    assert again.consolidated["Elixir.P"].data is None
    assert again.consolidated["Elixir.P"].path == "releases/1/consolidated/Elixir.P.beam"


def test_generation_from_a_manifest_equals_generation_from_facts():
    old = facts_release()
    new = rel(
        "2",
        app(
            "a",
            "2",
            mod("s", "v2", behaviours=["supervisor"], supervisor=sup_children("w", "v")),
            mod("g", "v2", behaviours=["gen_server"], exports_code_change=True, imports=["lib"]),
            mod("lib", "v2"),
            mod("v"),
        ),
        app("k", "8", bundled=False),
    )
    direct = generate([old], new).to_dict()
    via = generate([release_from_manifest(old.manifest(), "<m>")], new).to_dict()
    assert via == direct


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(format="other"), "format: expected"),
        (lambda m: m.pop("name"), "name: expected a non-empty string"),
        (lambda m: m.update(apps={}), "apps: expected a list"),
        (lambda m: m["apps"][0].update(vsn=3), r"apps\[0\] \(a\).vsn"),
        (lambda m: m["apps"][0].update(start_type="forever"), "start_type"),
        (lambda m: m["apps"][0]["modules"]["g"].update(md5="XYZ"), r"apps\[0\] \(a\).modules.g.md5"),
        (lambda m: m["apps"][0]["modules"]["g"].update(colour="red"), "unknown key"),
        (lambda m: m["apps"][0]["modules"]["g"].update(imports="lib"), "imports: expected a list"),
        (lambda m: m["apps"][0]["modules"]["g"].update(code_change="yes"), "code_change: expected true or false"),
        (lambda m: m["apps"][0].update(appup="{1,"), r"apps\[0\] \(a\).appup"),
        (lambda m: m["apps"][0].update(app="{application, b, []}."), r"apps\[0\] \(a\).app: expected"),
        (lambda m: m["apps"][0].update(app="{application, a, ["), r"apps\[0\] \(a\).app"),
        (lambda m: m["apps"].append(dict(m["apps"][0])), "listed twice"),
        (lambda m: m["consolidated"]["Elixir.P"].pop("md5"), "consolidated.Elixir.P.md5"),
    ],
)
def test_bad_manifest_names_the_key(change, message):
    manifest = json.loads(json.dumps(facts_release().manifest()))
    change(manifest)
    with pytest.raises(ReleaseError, match=message) as info:
        release_from_manifest(manifest, "node1 manifest")
    assert str(info.value).startswith("node1 manifest: ")


def test_manifest_that_is_not_json():
    with pytest.raises(ReleaseError, match="not JSON"):
        release_from_manifest("{", "m")


# ------------------------------------------------------------------------------------------------
# systools_order / instruction_deps on hand-written forms
# ------------------------------------------------------------------------------------------------


def test_instruction_deps_follows_systools_expansion():
    cases = {
        "{load_module,m}": [],
        "{load_module,m,[a]}": ["a"],
        "{load_module,m,soft_purge,soft_purge,[a]}": ["a"],
        "{update,m}": [],
        "{update,m,supervisor}": [],
        "{update,m,soft}": [],
        "{update,m,{advanced,x}}": [],
        "{update,m,[a]}": ["a"],
        "{update,m,{advanced,x},[a]}": ["a"],
        "{update,m,soft,brutal_purge,brutal_purge,[a]}": ["a"],
        "{update,m,soft,1000,brutal_purge,brutal_purge,[a]}": ["a"],
        "{update,m,static,default,soft,brutal_purge,brutal_purge,[a]}": ["a"],
        "{add_module,m}": [],
        "{add_module,m,[a]}": ["a"],
        "{delete_module,m}": [],
        "{delete_module,m,[a]}": ["a"],
    }
    for text_, deps in cases.items():
        assert instruction_deps(parse_one(text_ + ".", "t")) == [A(d) for d in deps], text_
    assert instruction_deps((A("apply"), (A("m"), A("f"), []))) is None
    assert instruction_deps(A("restart_new_emulator")) is None


def test_systools_order_refuses_what_systools_refuses():
    with pytest.raises(ValueError, match="muldef_module"):
        systools_order([(A("load_module"), A("m")), (A("add_module"), A("m"))], UP)
    with pytest.raises(ValueError, match="undef_module"):
        systools_order([(A("load_module"), A("m"), [A("x")])], UP)


def test_systools_order_keeps_unrelated_instructions_out():
    instrs = [(A("load_module"), A("a1")), (A("apply"), (A("m"), A("f"), [])), (A("add_module"), A("a2"), [A("a1")])]
    assert systools_order(instrs, UP) == ["a1", "a2"]
    assert systools_order(instrs, DOWN) == ["a2", "a1"]
