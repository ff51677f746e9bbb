# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``_relup_script.translate_scripts`` against OTP's own ``systools_rc:translate_scripts/4``.

``tests/erlang/rc_translate.escript`` runs the installed, unmodified ``systools_rc`` on a batch of
cases (one VM per batch) and reports, for each, what it returned (or how it crashed) and -- by call
tracing -- the dependency graph input and the order it chose for every dependency component. The
port must give the equal term (``_terms.canonical``): the same low-level script, or the same error
reason, or the same kind of crash. (Error messages are our own wording, not systools'
``format_error`` text, so they are not compared; the unit tests check what they name.)

**Tie-break.** When a component's condensation is not a total order, systools' choice depends on
the VM's atom table and cannot be reproduced (see the ``_relup_script`` docstring). For every
case we therefore check: (1) each order systools chose is a valid one by our model (SCCs
contiguous, members by position, dependents before their dependencies); (2) the port, with
systools' choice imposed through ``translate_scripts_ordered(order=...)``, gives the identical
result; (3) the port on its own gives a valid order for every component, and the identical result
whenever every component has a single valid order.

Cases: hand-written ones (every instruction kind and every error, both directions) and
hypothesis-generated ones (random applications and appup scripts, mostly valid in one batch, with
mutations in the other; about 300 cases per batch, new ones on every run). Generation only
collects cases (no shrinking): a mismatch reports the case as Erlang terms, to be added to the
hand-written ones. Finally, every value hard-coded in the unit tests
(``tests/unit/plugins/module_utils/test__relup_script.py``, ``otp_facts()``) is checked to be what
OTP itself gives.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._etf import decode
from ansible_collections.erlang.otp.plugins.module_utils._relup_script import (
    Appl,
    RelupScriptError,
    translate_scripts_ordered,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps, format_term, parse
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ImproperList, canonical
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.otp import requires_erlang, run_escript

pytestmark = [pytest.mark.erlang, requires_erlang]

A = Atom
DEP = ("update", "load_module", "add_module", "delete_module")


# ------------------------------------------------------------------------------------------------
# Running both sides
# ------------------------------------------------------------------------------------------------


class Case:
    def __init__(self, mode: str, scripts: object, appls: list, pre_appls: list, label: str = "") -> None:
        self.mode = mode
        self.scripts = scripts
        self.appls = appls
        self.pre_appls = pre_appls
        self.label = label

    def term(self, number: int) -> tuple:
        def apps(appls: list) -> list:
            return [(A(a.name), a.vsn, A(a.type), [A(m) for m in a.modules]) for a in appls]

        return (number, A(self.mode), self.scripts, apps(self.appls), apps(self.pre_appls))

    def text(self) -> str:
        return format_term(self.term(0), width=100)


def _otp(cases: list, tmp_path: Path) -> list:
    cases_file = tmp_path / "cases.terms"
    out_file = tmp_path / "out.etf"
    cases_file.write_text(dumps([c.term(i) for i, c in enumerate(cases)]), encoding="utf-8")
    run_escript("rc_translate.escript", str(cases_file), str(out_file))
    results = decode(out_file.read_bytes())
    assert [r[0] for r in results] == list(range(len(cases)))
    return results


def _ours(case: Case, order=None) -> tuple:
    """The outcome in the escript's shape."""
    try:
        script = translate_scripts_ordered(case.mode, case.scripts, case.appls, case.pre_appls, order)
    except RelupScriptError as exc:
        if exc.crash is None:
            return A("error"), exc.reason
        if exc.reason[0] == A("EXIT"):
            return exc.reason
        return (A("raised"), *exc.reason)
    return A("ok"), script


# ------------------------------------------------------------------------------------------------
# What systools may choose: an independent model of digraph_utils:topsort over the condensation
# ------------------------------------------------------------------------------------------------


def _graph(after: list) -> tuple:
    """(modules in position order, DepMods) of the DEP instructions in make_dependency_graph's input."""
    nodes = []
    deps = {}
    for instr in after:
        if isinstance(instr, tuple) and len(instr) > 1 and isinstance(instr[0], Atom) and str(instr[0]) in DEP:
            nodes.append(instr[1])
            last = instr[-1]
            deps[instr[1]] = [ord(c) for c in last] if isinstance(last, str) else list(last)
    return nodes, deps


def _reach(deps: dict, start: object) -> set:
    seen = {start}
    todo = [start]
    while todo:
        for d in deps.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def _judge(nodes: list, deps: dict, order: list) -> tuple[str | None, bool]:
    """(why ``order`` cannot be systools' order of its component or None, whether it is the only one)."""
    position = {m: i for i, m in enumerate(nodes)}
    reach = {m: _reach(deps, m) for m in order}
    if len(set(order)) != len(order) or any(m not in position for m in order):
        return f"not a set of DEP modules: {order}", False
    members = set(order)
    for m in order:
        if not reach[m] <= members:
            return f"{m} depends on modules outside the component", False
    unique = True
    for i, j in itertools.combinations(range(len(order)), 2):
        a, b = order[i], order[j]
        same = b in reach[a] and a in reach[b]
        if same:
            if position[a] > position[b]:
                return f"{a} and {b} are one SCC but not in position order", False
            if any(not (order[k] in reach[a] and a in reach[order[k]]) for k in range(i + 1, j)):
                return f"the SCC of {a} and {b} is not contiguous", False
        elif a in reach[b]:
            return f"{b} depends on {a} but comes after it", False
        elif b not in reach[a]:
            unique = False
    return None, unique


def _check(case: Case, otp: tuple) -> str | None:
    """None when the port agrees with systools on ``case``, else what differs."""
    _number, outcome, graphs, orders = otp
    nodes, deps = _graph(graphs[0]) if graphs else ([], {})
    chosen = [[instr[1] for instr in depis] for depis in orders]
    for order in chosen:
        why, _unique = _judge(nodes, deps, order)
        if why:
            return f"systools chose an order our model rejects ({why}): {order}"

    imposed = iter(chosen)

    def follow(modules: list) -> list:
        theirs = next(imposed)
        assert sorted(map(str, theirs)) == sorted(map(str, modules)), (theirs, modules)
        return theirs

    forced = _ours(case, follow)
    if canonical(forced) != canonical(outcome):
        return f"with systools' order imposed:\n  ours    {_text(forced)}\n  systools {_text(outcome)}"

    mine: list = []

    def record(modules: list) -> list:
        mine.append(list(modules))
        return modules

    alone = _ours(case, record)
    all_unique = True
    for order in mine:
        why, unique = _judge(nodes, deps, order)
        if why:
            return f"our tie-break gives an order systools could not ({why}): {order}"
        all_unique &= unique
    if all_unique and canonical(alone) != canonical(outcome):
        return f"unambiguous case differs:\n  ours    {_text(alone)}\n  systools {_text(outcome)}"
    plain = _ours(case)
    if canonical(plain) != canonical(alone):
        return "translate_scripts differs from translate_scripts_ordered without a choice"
    return _message_problem(case)


def _message_problem(case: Case) -> str | None:
    """None unless our message for a refused case is not one line naming the reason's tag and value."""
    try:
        translate_scripts_ordered(case.mode, case.scripts, case.appls, case.pre_appls)
    except RelupScriptError as exc:
        message = str(exc)
        if exc.crash is not None:
            expected = exc.crash
        elif isinstance(exc.reason, tuple):
            expected = f"{exc.reason[0]} {format_term(exc.reason[1], width=1 << 30)}"
        else:
            expected = f"{exc.reason}:"
        if "\n" in message or expected not in message:
            return f"our message does not name {expected!r} on one line: {message!r}"
    return None


def _text(term: object) -> str:
    return format_term(term, width=100, col=12)


def _compare_all(cases: list, tmp_path: Path) -> dict:
    results = _otp(cases, tmp_path)
    failures = []
    kinds: dict = {}
    for case, otp in zip(cases, results):
        problem = _check(case, otp)
        if problem:
            failures.append(f"case {case.label}:\n{case.text()}\n{problem}")
        kind = str(otp[1][0])
        if kind == "error":
            kind = f"error:{otp[1][1][0] if isinstance(otp[1][1], tuple) else otp[1][1]}"
        kinds[kind] = kinds.get(kind, 0) + 1
    assert not failures, f"{len(failures)} of {len(cases)} cases differ:\n\n" + "\n\n".join(failures[:5])
    return kinds


# ------------------------------------------------------------------------------------------------
# Hand-written cases
# ------------------------------------------------------------------------------------------------

TOP = [
    Appl("test", "1.0", "permanent", ["foo", "bar", "baz", "new_mod", "x", "y", "z"]),
    Appl("lib2", "2.0", "transient", ["l1", "l2"]),
    Appl("added", "1", "temporary", ["a1", "a2"]),
    Appl("loaded", "1", "load", ["ld1"]),
    Appl("inert", "1", "none", ["in1"]),
]
BASE = [
    Appl("test", "0.9", "permanent", ["foo", "bar", "baz", "old_mod", "x", "y", "z"]),
    Appl("lib2", "1.0", "transient", ["l1", "l3"]),
    Appl("gone", "3", "permanent", ["g1", "g2"]),
    Appl("loaded", "0", "permanent", ["ld1"]),
    Appl("inert", "0", "load", ["in1"]),
]

# Each entry: the list of scripts (one per application), run up (TOP/BASE) and dn (BASE/TOP).
HAND = r"""
[[{load_module, foo}]].
[[{load_module, foo, [bar]}, {load_module, bar}]].
[[{load_module, foo, soft_purge, brutal_purge, []}]].
[[{update, foo}]].
[[{update, foo, supervisor}]].
[[{update, foo, soft}]].
[[{update, foo, {advanced, extra}}]].
[[{update, foo, [bar]}, {update, bar, {advanced, []}, [baz]}, {update, baz, soft, [foo]}]].
[[{update, foo, soft, soft_purge, soft_purge, []}]].
[[{update, foo, 5000, {advanced, 1}, soft_purge, brutal_purge, []}]].
[[{update, foo, infinity, soft, soft_purge, brutal_purge, []}]].
[[{update, foo, static, default, {advanced, x}, soft_purge, soft_purge, [bar]},
  {update, bar, dynamic, 100, {advanced, y}, brutal_purge, soft_purge, []}]].
[[{update, foo, soft, soft_purge, soft_purge, [bar, baz]},
  {update, bar, {advanced, []}, soft_purge, soft_purge, []},
  {update, baz, {advanced, baz}, soft_purge, soft_purge, [bar]}]].
[[{update, foo, soft, soft_purge, soft_purge, [bar]}, {update, bar, soft, soft_purge, soft_purge, [foo]}]].
[[{update, foo, soft, soft_purge, soft_purge, [baz]}, {update, y, soft, soft_purge, soft_purge, [bar]},
  {update, x, soft, soft_purge, soft_purge, [y, z]}, {update, z, soft, soft_purge, soft_purge, [x]},
  {update, bar, soft, soft_purge, soft_purge, [baz]}, {update, baz, soft, soft_purge, soft_purge, [bar]}]].
[[{update, foo, soft, soft_purge, soft_purge, [baz]}, {apply, {m, f, [1]}},
  {update, y, soft, soft_purge, soft_purge, [bar]}, {apply, {m, f, [2]}},
  {update, bar, soft, soft_purge, soft_purge, [baz]}, {apply, {m, f, [3]}},
  {update, baz, soft, soft_purge, soft_purge, []}]].
[[{load_module, x}, {apply, {m, f, []}}, {add_module, y, [x]}]].
[[{add_module, new_mod}, {add_module, y, [new_mod]}]].
[[{delete_module, old_mod}]].
[[{delete_module, old_mod, [foo]}, {load_module, foo}]].
[[{load_module, foo, [old_mod]}, {delete_module, old_mod, []}, {add_module, new_mod, [foo]}]].
[[{add_application, added}]].
[[{add_application, added, load}], [{add_application, loaded, none}]].
[[{add_application, inert, temporary}, {add_application, added, transient}]].
[[{remove_application, gone}]].
[[{restart_application, test}]].
[[{restart_application, loaded}], [{restart_application, inert}], [{restart_application, lib2}]].
[[{add_application, added}], [{update, foo, [bar]}, {load_module, bar}], [{remove_application, gone}]].
[[restart_new_emulator], [{load_module, foo}]].
[[{load_module, foo}, restart_new_emulator, restart_emulator, restart_new_emulator]].
[[restart_emulator, {load_module, foo}, restart_emulator], [restart_emulator]].
[[restart_new_emulator]].
[[restart_emulator]].
[[]].
[].
[[], [], []].
[[{apply, {m, f, [a]}}, {load_object_code, {tst, "1.0", [new_mod]}}, point_of_no_return,
  {update, bar, {advanced, extra}, brutal_purge, brutal_purge, []},
  {update, foo, soft, soft_purge, soft_purge, [bar]}, {load, {new_mod, soft_purge, soft_purge}},
  {remove, {old_mod, soft_purge, soft_purge}}, {purge, [m1, m2]}, {suspend, [m1]},
  {code_change, [{m1, extra}]}, {resume, [m1]}, {stop, [m3, m4]}, {start, [m3, m4]},
  {sync_nodes, id1, {m, f, [a]}}, {sync_nodes, id2, [cp1, cp2]}, {apply, {m, f, [a]}},
  restart_new_emulator, restart_emulator]].
[[{apply, {m, f, [1]}}, point_of_no_return, {load_module, foo}],
 [{load_object_code, {test, "1.0", [bar]}}, {apply, {m, f, [2]}}, point_of_no_return, {load_module, bar}]].
[[{load_object_code, {lib9, "1", [a]}}, {load_object_code, {lib9, "1", [b]}}, {load_object_code, {lib9, "1", [a, c]}}]].
[[{load_object_code, {test, "1.0", [zz]}}, {load_module, foo}], [{load_object_code, {lib2, "2.0", [l2]}}]].
[[{suspend, [{m, 100}, n]}, {code_change, up, [{m, 1}]}, {code_change, down, [{n, 1}]}, {resume, [n, m]}]].
[[restart, reboot, {load_module, foo}]].
[[{load_module, foo}, point_of_no_return]].
[[{sync_nodes, id, {m, f, []}}, {sync_nodes, id, []}]].
[[{load_module, foo}], [{load_module, foo}]].
[[{load_module, foo, [nope]}]].
[[{update, foo, [bar]}], [{update, bar}]].
[[{add_application, added}, {load_module, a1}]].
[[{restart_application, test}, {load_module, foo}]].
[[{load_module, g1}, {remove_application, gone}]].
[[{load_module, foo, [g1]}, {remove_application, gone}]].
[[{load_module, nomod}]].
[[{load_module, foo}, {load_module, nomod, [foo]}]].
[[{add_application, nope}]].
[[{remove_application, nope}]].
[[{remove_application, test}]].
[[{restart_application, gone}]].
[[{restart_application, added}]].
[[{restart_application, nope}]].
[[{load_object_code, {test, "1.0", [foo]}}, {load_object_code, {test, "2", [bar]}},
  {load_object_code, {test, "3", [baz]}}]].
[[{load_module, foo}], [{load_object_code, {test, "0.5", [bar]}}]].
[[{load, {foo, brutal_purge, brutal_purge}}]].
[[{load_object_code, {t, "1", [bar]}}, {load, {foo, brutal_purge, brutal_purge}}]].
[[{suspend, [a, a, b]}, {resume, [b]}]].
[[{suspend, [{a, 10}]}]].
[[{resume, [a, b]}, {suspend, [b]}]].
[[{start, [a]}]].
[[{stop, [a, b]}, {start, [b]}]].
[[{load_module, foo}, point_of_no_return, point_of_no_return]].
[[{load_module, foo}], [point_of_no_return, {load_module, bar}, point_of_no_return]].
[[{load_module, foo}, point_of_no_return]].
[[{update, foo, static, default, {advanced, [aaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbb, "cccccccccccccccccccccc"]},
   brutal_purge, brutal_purge, [bar, baz, x, y, z]}, point_of_no_return]].
[[{suspend, [module_number_one, module_number_two, module_number_three, {module_number_four, 5000}]}]].
[[{suspend, [m1]}, point_of_no_return]].
[[restart_new_emulator, point_of_no_return]].
[[{load_object_code, {test, "1.0", [foo]}}, {sync_nodes, a, [b]}, point_of_no_return]].
[[{apply, {m, f, a}}]].
[[{apply, {m, 3, a}}]].
[[{apply, {m, f}}]].
[[{apply, {"m", f, []}}]].
[[{load_object_code, hej}]].
[[{load_object_code, {342, "1.0", [foo]}}]].
[[{load_object_code, {tets, "1.0", foo}}]].
[[{load_object_code, {tets, '1.0', [foo]}}]].
[[{load_object_code, {tets, "1.0", [foo, 1]}}]].
[[{update, bar, advanced, brutal_purge, brutal_purge, []}]].
[[{update, bar, {advanced, extra}, rutal_purge, brutal_purge, [ba]}]].
[[{update, bar, {advanced, extra}, brutal_purge, rutal_purge, [ba]}]].
[[{update, bar, {advanced, extra}, brutal_purge, brutal_purge, ba}]].
[[{update, bar, sticky, default, soft, brutal_purge, brutal_purge, []}]].
[[{update, bar, 0, soft, brutal_purge, brutal_purge, []}]].
[[{update, bar, -5, soft, brutal_purge, brutal_purge, []}]].
[[{update, bar, 1.5, soft, brutal_purge, brutal_purge, []}]].
[[{update, "bar"}]].
[[{update, bar, hard}]].
[[{update, bar, supervisor, [foo]}]].
[[{load_module, foo, [bar, "baz"]}]].
[[{load_module, foo, ""}]].
[[{load_module, foo, "ab"}]].
[[{code_change, [module]}]].
[[{code_change, sideways, [{m, x}]}]].
[[{code_change, up, [{1, x}]}]].
[[{code_change, m}]].
[[{sync_nodes, id, [a@h, "b"]}]].
[[{sync_nodes, id, {m, "f", []}}]].
[[{sync_nodes, id, x}]].
[[{add_application, "a"}]].
[[{add_application, added, restart}]].
[[{remove_application, 1}]].
[[{purge, m}]].
[[{suspend, [{m, 0}]}]].
[[{suspend, [{m, 1, 2}]}]].
[[mnesia_backup]].
[[bogus]].
[[{bogus, m}]].
[[42]].
[["ab"]].
[[[{load_module, foo}], [restart_emulator]]].
[[[[{load_module, foo}]]]].
[[{load_module, foo, [bar | baz]}, {load_module, bar}]].
[[{load_object_code, {test, "1.0", [foo | bar]}}]].
[[{code_change, up, [{m, x} | y]}]].
[[{sync_nodes, id, [a | b]}]].
[[{suspend, [m | n]}]].
[[{load_module, foo} | bar]].
[[[{load_module, foo} | bar]]].
[[[a | b]], [x | y]].
[[x | y], [[a | b]]].
[[{load_module, foo}] | more].
foo.
[foo].
[[{load_module, foo}], "x"].
[[{update, x, {advanced, "state"}, [y]}, {update, y, static, 10, {advanced, <<"bin">>}, soft_purge, soft_purge, [z]},
  {update, z, dynamic, infinity, {advanced, {a, 1.5}}, brutal_purge, brutal_purge, [x]}]].
[[{update, foo, {advanced, []}, [bar, baz, x]}, {load_module, bar}, {load_module, baz}, {load_module, x}]].
[[{load_module, foo, [bar]}, {load_module, bar, [baz]}, {load_module, baz, [x]}, {load_module, x}]].
[[{load_module, foo, [foo]}]].
[[{load_module, foo, [bar, bar]}, {load_module, bar}]].
[[{load_module, foo, [l1]}], [{update, l1, {advanced, []}, [foo]}]].
[[{update, foo, {advanced, 'Weird Atom'}, [bar]}, {load_module, bar}]].
[[{load_module, foo}, {apply, {m, f, ["string", <<"bin">>, 1.5, -3, {t, [a | b]}]}}]].
[[{remove_application, gone}, {add_application, added}, {restart_application, lib2}, {load_module, foo}]].
[[{load_object_code, {lib9, [49], [a]}}, {load_object_code, {lib9, "1", [b, a]}}]].
[[{load_object_code, {lib9, [1], [a]}}, {load_object_code, {lib9, [1.0], [b]}}]].
[[{load_object_code, {lib9, [a | b], [m]}}, {load_object_code, {lib9, [a | b], [n]}}]].
[[{load_object_code, {lib9, [a], [m]}}, {load_object_code, {lib9, [b], [n]}}]].
[[{load_object_code, {lib9, "1", []}}, {load_object_code, {lib8, "1", [m, m]}}, {load_object_code, {lib9, "1", ""}}]].
[[{update, true, [false]}, {load_module, false}]].
"""


def _hand_cases() -> list:
    cases = []
    for number, scripts in enumerate(parse(HAND, "HAND"), 1):
        cases.append(Case("up", scripts, TOP, BASE, f"hand {number} up"))
        cases.append(Case("dn", scripts, BASE, TOP, f"hand {number} dn"))
    return cases


def test_hand_written_cases(tmp_path: Path) -> None:
    kinds = _compare_all(_hand_cases(), tmp_path)
    # The hand-written cases reach every outcome systools has.
    for expected in (
        "ok",
        "EXIT",
        "raised",
        "error:bad_instruction",
        "error:bad_module",
        "error:bad_code_change",
        "error:bad_change",
        "error:bad_mod_type",
        "error:bad_purge_method",
        "error:bad_list",
        "error:bad_args_list",
        "error:bad_node",
        "error:bad_application",
        "error:bad_func",
        "error:bad_lib",
        "error:bad_lib_vsn",
        "error:bad_timeout",
        "error:bad_mode",
        "error:bad_start_type",
        "error:not_yet_implemented",
        "error:bad_op_before_point_of_no_return",
        "error:too_many_point_of_no_return",
        "error:no_object_code",
        "error:suspended_not_resumed",
        "error:resumed_not_suspended",
        "error:start_not_stop",
        "error:stop_not_start",
        "error:no_such_application",
        "error:removed_application_present",
        "error:muldef_module",
        "error:undef_module",
        "error:no_such_module",
        "error:conflicting_versions",
    ):
        assert kinds.get(expected), f"no hand-written case gives {expected}: {sorted(kinds)}"


def _unit_facts() -> list:
    path = Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils" / "test__relup_script.py"
    spec = importlib.util.spec_from_file_location("relup_script_unit_facts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.otp_facts()


def test_unit_test_expectations_are_otps(tmp_path: Path) -> None:
    """The values hard-coded in tests/unit/.../test__relup_script.py are what OTP itself gives."""
    facts = _unit_facts()
    cases = [
        Case(mode, parse(scripts + ".", label)[0], appls, pre, label) for label, mode, appls, pre, scripts, _o in facts
    ]
    results = _otp(cases, tmp_path)
    wrong = []
    for (label, _m, _a, _p, _s, outcome), result in zip(facts, results):
        if canonical(parse(outcome + ".", label)[0]) != canonical(result[1]):
            wrong.append(f"{label}: OTP gives {_text(result[1])}")
    assert not wrong, "\n".join(wrong)
    assert len(facts) > 60


# ------------------------------------------------------------------------------------------------
# Generated cases
# ------------------------------------------------------------------------------------------------

TYPES = ("permanent", "transient", "temporary", "load", "none")
PURGES = (A("soft_purge"), A("brutal_purge"))
EXTRAS = ([], A("extra"), (A("state"), 1), "v1", 7, b"x")


def _rare(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in ``one_in`` draws (hypothesis favours small integers, so test the top)."""
    return draw(st.integers(1, one_in)) == one_in


class World:
    """Applications of a base and a top release, and which modules are where."""

    def __init__(self, top: list, base: list, presence: dict) -> None:
        self.top = top
        self.base = base
        self.presence = presence  # app name -> "both" | "top" | "base"
        self.top_mods = {m for a in top for m in a.modules}
        self.base_mods = {m for a in base for m in a.modules}

    def modules(self, app: str) -> list:
        found = [m for a in self.top + self.base if a.name == app for m in a.modules]
        return list(dict.fromkeys(found))


@st.composite
def worlds(draw: st.DrawFn) -> World:
    count = draw(st.integers(1, 4))
    top, base, presence = [], [], {}
    for i in range(count):
        name = f"app{i}"
        mods = [f"{name}_m{j}" for j in range(draw(st.integers(1, 6)))]
        where = draw(st.sampled_from(("both", "both", "both", "top", "base")))
        old = [m for m in mods if draw(st.integers(0, 3))] + [f"{name}_old"]
        new = [*mods, f"{name}_new"]
        if draw(st.booleans()):
            new = draw(st.permutations(new))
        presence[name] = where
        if where in ("both", "top"):
            top.append(Appl(name, f"{i}.2", draw(st.sampled_from(TYPES)), new))
        if where in ("both", "base"):
            base.append(Appl(name, f"{i}.1", draw(st.sampled_from(TYPES)), old))
    if top and _rare(draw, 10):  # a module in two applications: the first one owns it
        top.append(Appl("dup", "1", "permanent", [top[0].modules[0]]))
    return World(top, base, presence)


def _deps(draw: st.DrawFn, pool: list, me: str, strangers: bool) -> list:
    if not pool or not draw(st.integers(0, 2)):
        return []
    picked = draw(st.lists(st.sampled_from(pool), max_size=3))
    if strangers and _rare(draw, 12):
        picked.append("stranger")  # undef_module
    if me in picked and draw(st.booleans()):
        picked.remove(me)
    return [A(m) for m in picked]


def _dep_instr(draw: st.DrawFn, kind: str, mod: str, deps: list) -> tuple:
    m = A(mod)
    if kind == "load_module":
        form = draw(st.integers(0, 2))
        if form == 0 and not deps:
            return (A(kind), m)
        if form == 1:
            return (A(kind), m, deps)
        return (A(kind), m, draw(st.sampled_from(PURGES)), draw(st.sampled_from(PURGES)), deps)
    if kind in ("add_module", "delete_module"):
        return (A(kind), m) if not deps and draw(st.booleans()) else (A(kind), m, deps)
    change = draw(st.sampled_from((A("soft"), None)))
    if change is None:
        change = (A("advanced"), draw(st.sampled_from(EXTRAS)))
    form = draw(st.integers(0, 7))
    if form == 0 and not deps:
        return (A("update"), m)
    if form == 1 and not deps:
        return (A("update"), m, A("supervisor"))
    if form == 2 and not deps:
        return (A("update"), m, change)
    if form == 3 and isinstance(change, Atom):
        return (A("update"), m, deps)
    if form == 4:
        return (A("update"), m, change, deps)
    pre, post = draw(st.sampled_from(PURGES)), draw(st.sampled_from(PURGES))
    timeout = draw(st.sampled_from((A("default"), A("infinity"), 1, 5000)))
    if form == 5:
        return (A("update"), m, change, pre, post, deps)
    if form == 6:
        return (A("update"), m, timeout, change, pre, post, deps)
    mod_type = draw(st.sampled_from((A("static"), A("dynamic"))))
    return (A("update"), m, mod_type, timeout, change, pre, post, deps)


def _kind(draw: st.DrawFn, world: World, mod: str, mutate: bool) -> str:
    """A DEP instruction for ``mod`` that both directions can translate (unless ``mutate``)."""
    if mutate:
        return draw(st.sampled_from(DEP))
    if mod not in world.base_mods:
        return "add_module"
    if mod not in world.top_mods:
        return "delete_module"
    return draw(st.sampled_from(("update", "update", "load_module", "load_module", "add_module", "delete_module")))


def _plain_instr(draw: st.DrawFn, world: World) -> object:
    """An instruction that needs no application, or a balanced group of low-level ones."""
    mods = sorted(world.top_mods & world.base_mods) or ["q"]
    choice = draw(st.integers(0, 7))
    if choice == 0:
        return (A("apply"), (A("m"), A("f"), [draw(st.integers(0, 9))]))
    if choice == 1:
        return draw(st.sampled_from((A("restart_new_emulator"), A("restart_emulator"), A("restart"), A("reboot"))))
    if choice == 2:
        if draw(st.booleans()):
            return (A("sync_nodes"), A("sync"), [A("n1@h"), A("n2@h")])
        return (A("sync_nodes"), A("sync"), (A("m"), A("f"), []))
    if choice == 3:
        mod = A(draw(st.sampled_from(mods)))
        change = (A("code_change"), A("up"), [(mod, [])]) if draw(st.booleans()) else (A("code_change"), [(mod, 1)])
        return [(A("suspend"), [(mod, 100)]), change, (A("resume"), [mod])]
    if choice == 4:
        return [(A("stop"), [A("s1"), A("s2")]), (A("start"), [A("s2"), A("s1")])]
    if choice == 5:
        mod = A(draw(st.sampled_from(["low1", "low2"])))
        load = (A("load"), (mod, A("brutal_purge"), A("soft_purge")))
        return [(A("load_object_code"), (A("lowlib"), "1", [mod])), load]
    if choice == 6:
        return (A("purge"), [A("p1")])
    return (A("remove"), (A("r1"), A("soft_purge"), A("soft_purge")))


def _app_instr(draw: st.DrawFn, world: World, free: list) -> object | None:
    """add/remove/restart_application of an application that allows it in both directions."""
    added = [a for a in free if world.presence[a] == "top"]
    removed = [a for a in world.presence if world.presence[a] == "base"]
    restarted = [a for a in free if world.presence[a] == "both"]
    choice = draw(st.integers(0, 2))
    if choice == 0 and added:
        app = draw(st.sampled_from(added))
        free.remove(app)
        if draw(st.booleans()):
            return (A("add_application"), A(app))
        return (A("add_application"), A(app), A(draw(st.sampled_from(TYPES))))
    if choice == 1 and removed:
        return (A("remove_application"), A(draw(st.sampled_from(removed))))
    if choice == 2 and restarted:
        app = draw(st.sampled_from(restarted))
        free.remove(app)
        return (A("restart_application"), A(app))
    return None


def _any_instr(draw: st.DrawFn, world: World) -> object:
    names = [*world.presence, "nope"]
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return (A("add_application"), A(draw(st.sampled_from(names))), A(draw(st.sampled_from(TYPES))))
    if choice == 1:
        return (A("add_application"), A(draw(st.sampled_from(names))))
    if choice == 2:
        return (A("remove_application"), A(draw(st.sampled_from(names))))
    if choice == 3:
        return (A("restart_application"), A(draw(st.sampled_from(names))))
    app = draw(st.sampled_from(world.top + world.base)) if world.top + world.base else Appl("x", "1", "load", ["x"])
    vsn = app.vsn if draw(st.integers(0, 3)) else "9.9"
    mods = draw(st.lists(st.sampled_from(app.modules), max_size=3))
    return (A("load_object_code"), (A(app.name), vsn, [A(m) for m in mods]))


def _inverse(instr: object) -> object:
    """The downgrade counterpart used for the dn case of a valid upgrade script."""
    if isinstance(instr, list):
        return [_inverse(i) for i in instr]
    if not (isinstance(instr, tuple) and instr and isinstance(instr[0], Atom)):
        return instr
    tag = str(instr[0])
    if tag == "add_module":
        return (A("delete_module"), *instr[1:])
    if tag == "delete_module":
        return (A("add_module"), *instr[1:])
    if tag == "add_application":
        return (A("remove_application"), instr[1])
    if tag == "remove_application":
        return (A("add_application"), instr[1])
    return instr


MUTATIONS = (
    (A("update"), A("m"), A("hard")),
    (A("load_module"), "m"),
    (A("load_module"), A("m"), A("maybe_purge"), A("brutal_purge"), []),
    (A("load_module"), A("m"), A("brutal_purge"), A("brutal_purge"), A("x")),
    (A("load_module"), A("m"), [A("a"), 1]),
    (A("load_module"), A("m"), ImproperList([A("a")], A("b"))),
    (A("update"), A("m"), 0, A("soft"), A("soft_purge"), A("soft_purge"), []),
    (A("update"), A("m"), A("sticky"), A("default"), A("soft"), A("soft_purge"), A("soft_purge"), []),
    (A("apply"), (A("m"), A("f"), A("x"))),
    (A("apply"), (A("m"), 1, [])),
    (A("add_application"), A("a"), A("forever")),
    (A("remove_application"), "a"),
    (A("code_change"), A("sideways"), []),
    (A("code_change"), [A("x")]),
    (A("sync_nodes"), A("i"), [A("a"), 1]),
    (A("load_object_code"), (A("l"), A("v"), [])),
    (A("load_object_code"), (1, "1", [])),
    (A("suspend"), [(A("m"), -1)]),
    (A("resume"), [A("never_suspended")]),
    (A("suspend"), [A("never_resumed")]),
    (A("start"), [A("only_started")]),
    (A("stop"), [A("only_stopped")]),
    (A("load"), (A("no_code"), A("brutal_purge"), A("brutal_purge"))),
    A("mnesia_backup"),
    A("point_of_no_return"),
    A("bogus"),
    17,
    "ab",
    [[A("nested")]],
    ImproperList([(A("load_module"), A("m"))], A("t")),
)


@st.composite
def scripted_cases(draw: st.DrawFn, mutate: bool) -> list:
    """An up and a dn case over one world. Unless ``mutate``, the scripts are meant to translate
    (the dn scripts are the inverse of the up ones); with it, anything goes."""
    world = draw(worlds())
    names = list(world.presence)
    both = [a for a in names if world.presence[a] == "both"] or names
    scripted = draw(st.lists(st.sampled_from(both if not mutate else names), min_size=1, max_size=3, unique=True))
    # The modules of the DEP instructions are decided first, so that DepMods can name any of them.
    plans = []
    for app in scripted:
        pool = world.modules(app)
        if _rare(draw, 6):
            pool = pool + world.modules(draw(st.sampled_from(names)))  # cross-app, maybe muldef
        pool = list(dict.fromkeys(pool))
        count = min(draw(st.integers(0, 7)), len(pool))
        chosen = draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count, unique=not mutate))
        plans.append((chosen, [_kind(draw, world, m, mutate) for m in chosen], draw(st.integers(0, 3))))
    dep_modules = [m for chosen, _kinds, _others in plans for m in chosen]
    free = [a for a in names if not set(world.modules(a)) & set(dep_modules)]
    scripts: list = []
    for chosen, kinds, others in plans:
        instrs = [_dep_instr(draw, k, m, _deps(draw, dep_modules, m, mutate)) for m, k in zip(chosen, kinds)]
        for _unused in range(others):
            extra = None
            if mutate and draw(st.booleans()):
                extra = _any_instr(draw, world)
            elif draw(st.booleans()):
                extra = _app_instr(draw, world, free)
            if extra is None:
                extra = _plain_instr(draw, world)
            instrs.insert(draw(st.integers(0, len(instrs))), extra)
        if draw(st.booleans()):  # point_of_no_return after the leading applies and load_object_codes
            lead = 0
            while (
                lead < len(instrs)
                and isinstance(instrs[lead], tuple)
                and str(instrs[lead][0])
                in (
                    "apply",
                    "load_object_code",
                )
            ):
                lead += 1
            instrs.insert(lead, A("point_of_no_return"))
        if mutate and draw(st.booleans()):
            instrs.insert(draw(st.integers(0, len(instrs))), draw(st.sampled_from(MUTATIONS)))
        scripts.append(instrs)
    if mutate and _rare(draw, 15):
        scripts.append(ImproperList([A("x")], A("y")))
    down = scripts if mutate else [_inverse(s) for s in scripts]
    return [Case("up", scripts, world.top, world.base), Case("dn", down, world.base, world.top)]


def _collect(strategy: st.SearchStrategy, count: int) -> list:
    cases: list = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def gather(pair: list) -> None:
        cases.extend(pair)

    gather()
    for number, case in enumerate(cases):
        case.label = f"generated {number} {case.mode}"
    return cases


def test_generated_valid_scripts(tmp_path: Path) -> None:
    cases = _collect(scripted_cases(mutate=False), 150)
    kinds = _compare_all(cases, tmp_path)
    assert kinds.get("ok", 0) >= len(cases) // 2, kinds


def test_generated_mutated_scripts(tmp_path: Path) -> None:
    cases = _collect(scripted_cases(mutate=True), 150)
    kinds = _compare_all(cases, tmp_path)
    assert len(kinds) >= 8, kinds
