# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of ``_child_specs`` that need no Erlang: the JSON form, the id diff, the limits of
the static reading and its promise never to raise.

What Erlang code *means* is tested against OTP itself in ``tests/erlang/test_child_specs.py``;
here synthetic beams (hand-built chunks, abstract code written as terms) exercise what OTP
cannot be asked about: budgets, unreadable input and the exact wording of the reasons.
"""

from __future__ import annotations

import json
import struct

import pytest
from ansible_collections.erlang.otp.plugins.module_utils import _child_specs
from ansible_collections.erlang.otp.plugins.module_utils._beam import read_beam
from ansible_collections.erlang.otp.plugins.module_utils._child_specs import (
    ChildSpec,
    SupervisorChildren,
    diff_children,
    supervisor_children,
)
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.etf_canon import encode

A = Atom
LINE = 1

# --- a synthetic beam ------------------------------------------------------------------------


def _container(chunks: list) -> bytes:
    body = b""
    for chunk_id, data in chunks:
        body += chunk_id.encode() + struct.pack(">I", len(data)) + data + b"\0" * (-len(data) % 4)
    return b"FOR1" + struct.pack(">I", len(body) + 4) + b"BEAM" + body


def _atoms(names: list) -> bytes:
    raw = [n.encode() for n in names]
    return struct.pack(">i", len(raw)) + b"".join(bytes([len(r)]) + r for r in raw)


#: A Code chunk with no function: sub-header (16 bytes), then int_code_end.
EMPTY_CODE = struct.pack(">5I", 16, 0, 184, 0, 0) + b"\x03"


def make_beam(forms: list | None = None, dbgi: bytes | None = None, code: bytes = EMPTY_CODE):
    chunks = [
        ("AtU8", _atoms(["demo"])),
        ("Code", code),
        ("StrT", b""),
        ("ImpT", struct.pack(">I", 0)),
        ("ExpT", struct.pack(">I", 0)),
    ]
    if forms is not None:
        dbgi = b"\x83" + encode((A("debug_info_v1"), A("erl_abstract_code"), (forms, [])))
    if dbgi is not None:
        chunks.append(("Dbgi", dbgi))
    return read_beam(_container(chunks), "demo.beam")


# --- abstract code as terms ------------------------------------------------------------------


def atom(name: str) -> tuple:
    return (A("atom"), LINE, A(name))


def var(name: str) -> tuple:
    return (A("var"), LINE, A(name))


def tup(*elements) -> tuple:
    return (A("tuple"), LINE, list(elements))


def lst(*items, tail=None) -> tuple:
    result = tail if tail is not None else (A("nil"), LINE)
    for item in reversed(items):
        result = (A("cons"), LINE, item, result)
    return result


def call(name: str, *args) -> tuple:
    return (A("call"), LINE, atom(name), list(args))


def rcall(module: str, name: str, *args) -> tuple:
    return (A("call"), LINE, (A("remote"), LINE, atom(module), atom(name)), list(args))


def clause(patterns: list, body: list, guards: list = ()) -> tuple:
    return (A("clause"), LINE, list(patterns), list(guards), list(body))


def function(name: str, *clauses) -> tuple:
    return (A("function"), LINE, A(name), len(clauses[0][2]), list(clauses))


def child(id_expr: tuple) -> tuple:
    """``#{id => Id, start => {Id, start_link, []}}``"""
    return (
        A("map"),
        LINE,
        [
            (A("map_field_assoc"), LINE, atom("id"), id_expr),
            (A("map_field_assoc"), LINE, atom("start"), tup(atom("w"), atom("start_link"), lst())),
        ],
    )


def ok(children: tuple) -> tuple:
    return tup(atom("ok"), tup((A("map"), LINE, []), children))


def module(*functions, name_call: tuple | None = None) -> list:
    forms = [(A("attribute"), LINE, A("module"), A("demo"))]
    exports = [(f[2], f[3]) for f in functions]
    if name_call is not None:
        exports.append((A("start_link"), 0))
    forms.append((A("attribute"), LINE, A("export"), exports))
    forms.extend(functions)
    if name_call is not None:
        forms.append(function("start_link", clause([], [name_call])))
    return forms


def init(*clauses) -> tuple:
    return function("init", *clauses)


# --- JSON form -------------------------------------------------------------------------------


IDS = [A("cart"), (A("pool"), 1), [97, 98], b"bin", -5, 2.5, {A("k"): [A("v")]}, "text", A("Elixir.Foo.Bar")]


def test_to_dict_is_json_and_round_trips():
    result = SupervisorChildren(
        children=[ChildSpec(i, A("m"), "worker") for i in IDS] + [ChildSpec(A("x"), None, None, assumed=True)],
        complete=False,
        reason="part of the child list is built at run time",
        sup_ref=(A("via"), A("gproc"), (A("n"), A("l"), A("sup"))),
        name_reason=None,
        strategy="one_for_one",
        method="beam code",
    )
    data = json.loads(json.dumps(result.to_dict()))
    back = SupervisorChildren.from_dict(data)
    assert back == result
    assert back.to_dict() == data
    assert data["children"][1]["id"] == "{pool,1}"
    assert data["children"][-2]["id"] == "'Elixir.Foo.Bar'"
    local = SupervisorChildren(registered_name=A("shop_sup"), sup_ref=A("shop_sup"))
    assert SupervisorChildren.from_dict(json.loads(json.dumps(local.to_dict()))).sup_ref == A("shop_sup")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not a dict", "expected a dict, got str"),
        ({"children": [{"id": "{unterminated"}]}, "invalid manifest entry: child id:1"),
        ({"children": [{"module": "m"}]}, "invalid manifest entry: 'id'"),
        ({"sup_ref": "Var"}, "invalid manifest entry: sup_ref"),
    ],
)
def test_from_dict_rejects_bad_entries(data, message):
    with pytest.raises(ValueError, match="supervisor children: " + message.replace("{", r"\{")):
        SupervisorChildren.from_dict(data)


def test_diff_children_compares_ids_as_erlang_does():
    old = SupervisorChildren([ChildSpec("ab"), ChildSpec((A("a"), 1)), ChildSpec(A("gone"))])
    new = SupervisorChildren([ChildSpec([97, 98]), ChildSpec((A("a"), 1.0)), ChildSpec(A("new"))])
    added, removed = diff_children(old, new)
    assert [c.id for c in added] == [(A("a"), 1.0), A("new")]  # 1 =/= 1.0
    assert [c.id for c in removed] == [(A("a"), 1), A("gone")]
    assert new.child("ab") is new.children[0]
    assert new.child(A("missing")) is None


# --- reading ---------------------------------------------------------------------------------


def test_literal_children_and_registered_name():
    forms = module(
        init(clause([var("_")], [ok(lst(child(atom("a")), child(tup(atom("b"), (A("integer"), LINE, 2)))))])),
        name_call=rcall("supervisor", "start_link", tup(atom("local"), atom("demo_sup")), atom("demo"), lst()),
    )
    result = supervisor_children(make_beam(forms))
    assert result.complete and result.reason is None
    assert result.method == "erlang debug info"
    assert result.ids == [A("a"), (A("b"), 2)]
    assert [(c.module, c.type) for c in result.children] == [(A("w"), "worker")] * 2
    assert (result.registered_name, result.sup_ref, result.name_reason) == (A("demo_sup"), A("demo_sup"), None)
    assert result.strategy == "one_for_one"


def test_ignore_is_complete_and_empty():
    result = supervisor_children(make_beam(module(init(clause([var("_")], [atom("ignore")])))))
    assert (result.complete, result.children) == (True, [])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([var("Arg")], "init/1 returns the init/1 argument"),
        ([rcall("erlang", "error", atom("bad"))], "init/1 raises an exception on every path"),
        ([ok(lst(child(var("Arg"))))], "a child id known only at run time: the init/1 argument"),
        (
            [ok(rcall("application", "get_env", atom("demo"), atom("children")))],
            "child list built at run time: the result of application:get_env/2 (line 1)",
        ),
        (
            [ok(lst(child(atom("a")), tail=call("more")))],
            "part of the child list is built at run time: the result of erlang:more/0 (line 1)",
        ),
        ([ok(lst((A("map"), LINE, [])))], "a child spec map without id"),
        ([ok(lst((A("receive"), LINE, [])))], "a child spec built at run time: a receive expression (line 1)"),
        ([ok(lst(atom("a")))], "an invalid child spec Atom('a')"),
    ],
)
def test_what_is_not_understood_is_said(body, reason):
    result = supervisor_children(make_beam(module(init(clause([var("Arg")], body)))))
    assert not result.complete
    assert result.reason == reason
    assert result.method == "erlang debug info"


def test_partial_lists_keep_the_known_children():
    body = [ok(lst(child(atom("a")), child(var("Arg")), tail=rcall("m", "f")))]
    result = supervisor_children(make_beam(module(init(clause([var("Arg")], body)))))
    assert result.ids == [A("a")]
    assert result.reason == (
        "part of the child list is built at run time: the result of m:f/0 (line 1); "
        "a child id known only at run time: the init/1 argument"
    )


def test_branch_explosion_is_refused_not_followed():
    choose = (
        A("case"),
        LINE,
        var("Arg"),
        [clause([atom("x")], [atom("x")]), clause([atom("y")], [atom("y")])],
    )
    body = [(A("match"), LINE, var(f"V{i}"), choose) for i in range(10)]
    body.append(ok(lst(*(child(var(f"V{i}")) for i in range(10)))))
    result = supervisor_children(make_beam(module(init(clause([var("Arg")], body)))))
    assert not result.complete
    assert result.reason == (
        f"init/1 is too complex to read: more than {_child_specs.MAX_PATHS} branches that depend on run-time values"
    )


def test_unbounded_recursion_stops_at_the_depth_limit():
    # f(N) -> [child(N) | f(N)]: never ends for an unknown N.
    recursive = function("f", clause([var("N")], [lst(child(var("N")), tail=call("f", var("N")))]))
    body = [ok(call("f", atom("a")))]
    result = supervisor_children(make_beam(module(init(clause([var("_")], body)), recursive)))
    assert not result.complete
    assert result.ids == [A("a")]
    assert f"calls nested deeper than {_child_specs.MAX_DEPTH}" in result.reason


def test_several_names_are_not_guessed():
    start = function(
        "start_other",
        clause([], [rcall("supervisor", "start_link", tup(atom("local"), atom("two")), atom("demo"), lst())]),
    )
    forms = module(
        init(clause([var("_")], [ok(lst())])),
        start,
        name_call=rcall("supervisor", "start_link", tup(atom("local"), atom("one")), atom("demo"), lst()),
    )
    result = supervisor_children(make_beam(forms))
    assert result.complete
    assert (result.registered_name, result.sup_ref) == (None, None)
    assert result.name_reason == "started under several names: one, two"


def test_start_link_of_another_module_is_not_this_supervisor():
    forms = module(
        init(clause([var("_")], [ok(lst())])),
        name_call=rcall("supervisor", "start_link", tup(atom("local"), atom("x")), atom("other_sup"), lst()),
    )
    result = supervisor_children(make_beam(forms))
    assert result.registered_name is None
    assert result.name_reason == "no supervisor start_link call for demo in the module"


# --- never raises ----------------------------------------------------------------------------


def test_no_debug_info():
    result = supervisor_children(make_beam())
    assert not result.complete
    assert result.reason == "no debug info; no init/1 function"
    assert result.method == "beam code"


def test_debug_info_without_abstract_code():
    dbgi = b"\x83" + encode((A("debug_info_v1"), A("erl_abstract_code"), (A("none"), [])))
    assert (
        supervisor_children(make_beam(dbgi=dbgi)).reason == "no debug info (abstract code not kept); no init/1 function"
    )


@pytest.mark.parametrize(
    ("dbgi", "reason"),
    [
        (
            (A("debug_info_v1"), A("elixir_erl"), (A("elixir_v1"), 7, [])),
            "Elixir debug info in an unknown format",
        ),
        ((A("debug_info_v1"), A("lfe"), []), "debug info of an unsupported backend lfe"),
        ((A("something"),), "debug info in an unknown format"),
    ],
)
def test_unknown_debug_info_falls_back_to_the_code(dbgi, reason):
    result = supervisor_children(make_beam(dbgi=b"\x83" + encode(dbgi)))
    assert result.reason == f"{reason}; no init/1 function"


def test_unreadable_chunks_give_reasons():
    garbage_code = struct.pack(">5I", 16, 0, 184, 0, 0) + b"\xfe\x00"  # opcode 254 does not exist
    result = supervisor_children(make_beam(dbgi=b"\x83\xff", code=garbage_code))
    assert not result.complete
    assert result.reason.startswith("unreadable debug info: ")
    assert "; unreadable BEAM code: unknown opcode 254" in result.reason


def test_not_a_beam_at_all():
    result = supervisor_children(b"FOR1")
    assert not result.complete
    assert result.reason == "not a BEAM module: bytes"
