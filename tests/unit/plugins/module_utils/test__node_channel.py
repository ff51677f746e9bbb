# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of the control channel used by erlang.otp.node_eval: ``expect`` texts parsed as
terms, term comparison as ``=:=``, one-line values, and the messages of a failed ``eval``.

The comparison is checked against OTP's own ``=:=`` on a live node in
tests/integration/test_node_eval.py; the reasons below are written the way the control escript
prints them (tests/integration/test_node_eval.py runs the real thing).
"""

from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._node_channel import (
    EvalError,
    NodeCallError,
    NodeChannel,
    expected_terms,
    flat_text,
    same_term,
)
from ansible_collections.erlang.otp.plugins.module_utils._node_target import NodeTarget
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom


def term(text: str) -> object:
    return parse_one(text + ".")


# -- expect texts -----------------------------------------------------------------------------------


def test_expected_terms_with_and_without_the_final_dot() -> None:
    got = expected_terms(["true", "ok.", " {ok, [1, 2]} ", '"text"', "#{a => <<\"b\">>}", "1.5"])
    assert got == [Atom("true"), Atom("ok"), (Atom("ok"), [1, 2]), "text", {Atom("a"): b"b"}, 1.5]


def test_expected_terms_errors_name_the_entry() -> None:
    with pytest.raises(ValueError, match=r"^expect\[1\] '\{ok' is not an Erlang term: "):
        expected_terms(["ok", "{ok"])
    with pytest.raises(ValueError, match=r"^expect\[0\]: empty"):
        expected_terms(["  "])
    with pytest.raises(ValueError, match=r"^expect\[0\] 'a. b' is not an Erlang term: .*exactly one term"):
        expected_terms(["a. b"])
    with pytest.raises(ValueError, match=r"^expect\[0\] 'True' is not an Erlang term"):
        expected_terms(["True"])  # a variable, not the atom


# -- comparison -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ('"ab"', "[97,98]", True),
        ("[]", '""', True),
        ("{ok, \"x\"}", "{ok, [120]}", True),
        ("#{k => \"v\"}", "#{k => [118]}", True),
        ("1", "1.0", False),
        ("[1.0]", "[1]", False),
        ("#{a => 1}", "#{a => 1.0}", False),
        ("ok", '"ok"', False),
        ("<<\"ab\">>", '"ab"', False),
        ("[a|b]", "[a|b]", True),
        ("[a|b]", "[a,b]", False),
        ("{a,b}", "[a,b]", False),
    ],
)
def test_same_term(a: str, b: str, same: bool) -> None:
    assert same_term(term(a), term(b)) is same
    assert same_term(term(b), term(a)) is same


def test_flat_text_is_one_line_whatever_the_size() -> None:
    big = [(Atom("item"), i, "x" * 20) for i in range(500)]
    text = flat_text(big)
    assert "\n" not in text and len(text) > 10_000
    assert parse_one(text + ".") == big


# -- eval failures ----------------------------------------------------------------------------------


def _error(reason_text: str, timeout: float = 10) -> EvalError:
    target = NodeTarget("/srv/shop", "shop", "shop@web1", "sname", "secret")
    channel = NodeChannel(target, run_command=None)
    reason = term(reason_text)
    if isinstance(reason, tuple) and reason[0] == Atom("badrpc"):  # _reply keeps the inner reason
        reason = reason[1]
    return channel._eval_error(NodeCallError("node shop@web1: eval failed", reason), timeout)


def test_parse_error_message() -> None:
    err = _error('{parse,2,"syntax error before: \')\'"}')
    assert (err.kind, str(err)) == ("parse", "the expression is not valid Erlang: line 2: syntax error before: ')'")


def test_exception_message_names_the_first_frame_outside_the_evaluation() -> None:
    err = _error("{exception,error,undef,[{shop_cart,nope,0,[]},{erl_eval,do_apply,7,"
                 '[{file,"erl_eval.erl"},{line,744}]},{erpc,execute_call,4,[{file,"erpc.erl"},{line,589}]}]}')
    assert err.kind == "exception"
    assert str(err) == "node shop@web1: the expression raised error:undef in shop_cart:nope/0"
    err = _error('{exception,error,{badmatch,2},[{shop,f,1,[{file,"src/shop.erl"},{line,7}]}]}')
    assert str(err) == "node shop@web1: the expression raised error:{badmatch,2} in shop:f/1 (src/shop.erl, line 7)"
    err = _error('{exception,throw,oops,[{erpc,execute_call,4,[{file,"erpc.erl"},{line,589}]}]}')
    assert str(err) == "node shop@web1: the expression raised throw:oops"
    assert err.reason[:2] == (Atom("throw"), Atom("oops"))


def test_long_exception_reasons_are_cut() -> None:
    err = _error("{exception,error,{badarg,\"" + "x" * 5000 + "\"},[]}")
    assert len(str(err)) < 2200 and str(err).endswith("more characters)")


def test_timeout_and_nodedown() -> None:
    err = _error("{badrpc,timeout}", timeout=2.5)
    assert (err.kind, str(err)) == ("timeout", "node shop@web1: the expression did not return within 2.5 s")
    err = _error("{badrpc,nodedown}")
    assert err.kind == "nodedown" and "went down" in str(err)
    err = _error("{badrpc,{something,else}}")
    assert (err.kind, str(err)) == ("badrpc", "node shop@web1: eval failed")
