# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""erlang.otp.node_eval over real SSH on the loopback fleet, through ansible-playbook.

One playbook holds the scenarios (values and matches, ``expect``, a parse error, exceptions on
the node, a timeout, check mode) and a second, short one the cookie's (run at ``-vvv`` under a
:class:`ProcessWatch`); both run once for the module and each test asserts on their results.
What the node really holds is asked independently through the release's own script
(``bin/shop eval``), and the verdicts of ``expect`` are compared with OTP's own ``=:=`` on the node.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._node_channel import expected_terms, same_term
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.ansible import Run, playbook
from tests.support.fleet import Fleet
from tests.support.process_watch import ProcessWatch

pytestmark = pytest.mark.fleet

# value expression, expected term text: node_eval's verdict must be OTP's (A) =:= (B)
PAIRS: List[Tuple[str, str]] = [
    ("lists:seq(97, 99)", '"abc"'),
    ("float(3)", "3"),
    ("float(3)", "3.0"),
    ('#{a => "x"}', "#{a => [120]}"),
    ("atom_to_binary(ok)", '"ok"'),
    ("atom_to_binary(ok)", '<<"ok">>'),
    ("{ok, [1 | 2]}", "{ok, [1 | 2]}"),
    ("[]", '""'),
    ("list_to_atom(\"hello world\")", "'hello world'"),
    ("{1, 2.0}", "{1, 2}"),
]

WRONG_COOKIE = "not-the-cookie-4711"


def task(name: str, expression: str, **args) -> dict:
    return {"name": name, "erlang.otp.node_eval": {"expression": expression, **args}, "ignore_errors": True}


def scenarios() -> list:
    on_every_node = [
        task("node name", "node()", expect=[]),
        task("healthy", "is_pid(whereis(shop_sup))"),
    ]
    on_node1 = [
        task("custom expect", 'io:format("printed on the way~n"), {ok, lists:sum([1, 2, 3])}',
             expect=["{error, x}", "{ok, 6}"]),
        task("yaml boolean", "1 < 2", expect=[True]),
        task("mismatch", "{error, down}"),
        task("multi-line parse error", "X = 1,\nX +* 2"),
        task("unbound variable", "X + 1"),
        task("undefined function", "shop_cart:no_such_function(1)"),
        task("throw", "throw(not_healthy)"),
        task("timeout", "timer:sleep(5000)", timeout=1),
        task("bad expect", "ok", expect=["{ok"]),
        {**task("check mode", "persistent_term:put(erlang_otp_eval_check, 1)"), "check_mode": True},
        task("real run", "persistent_term:put(erlang_otp_eval_real, 1), is_process_alive(shop_cart:pid())",
             expect=["true"]),
        # "{ " with a blank: "{{" and "{#" would start Jinja
        task("OTP verdicts", "[" + ", ".join(f"{{ {a}, ({a}) =:= ({b})}}" for a, b in PAIRS) + "]", expect=[]),
    ]  # fmt: skip
    # the node options come from the action group, which node_eval must have joined
    defaults = {"group/erlang.otp.node": {"root": "{{ otp_release_root }}"}}
    return [
        {"name": "every node", "hosts": "fleet", "gather_facts": False, "module_defaults": defaults,
         "tasks": on_every_node},
        {"name": "node1", "hosts": "node1", "gather_facts": False, "module_defaults": defaults, "tasks": on_node1},
    ]  # fmt: skip


def cookie_scenarios() -> list:
    """Run at -vvv under a ProcessWatch (which costs a CPU core while it runs: kept short)."""
    tasks = [
        task("cookie value", "erlang:get_cookie()", expect=[]),
        task("cookie in a reason", "error({boom, erlang:get_cookie()})"),
        task("wrong cookie", "ok", cookie=WRONG_COOKIE),
    ]
    return [{"name": "cookie", "hosts": "node1", "gather_facts": False,
             "module_defaults": {"group/erlang.otp.node": {"root": "{{ otp_release_root }}"}}, "tasks": tasks}]


class Outcome:
    def __init__(self, run: Run, secret_run: Run, watch: ProcessWatch, log_sizes: Dict[Path, int]) -> None:
        self.run = run
        self.secret_run = secret_run  # -vvv, under the watch
        self.watch = watch
        self.log_sizes = log_sizes  # only what was written during the runs counts

    def __getitem__(self, key: Tuple[str, str]) -> dict:
        host, name = key
        found = [e["result"] for r in (self.run, self.secret_run) for e in r.events
                 if e["host"] == host and e["task"] == name]  # fmt: skip
        assert found, f"no task {name!r} ran on {host}"
        return found[-1]

    def status(self, host: str, name: str) -> str:
        """ok, failed, skipped... as the callback saw the task (2.19+ keeps ``skipped`` out of the result)."""
        found = [e["status"] for e in self.run.events if e["host"] == host and e["task"] == name]
        assert found, f"no task {name!r} ran on {host}"
        return found[-1]


@pytest.fixture(scope="module")
def outcome(shop_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    scratch = tmp_path_factory.mktemp("node-eval")
    (scratch / "play.yml").write_text(json.dumps(scenarios(), indent=1))
    (scratch / "cookie.yml").write_text(json.dumps(cookie_scenarios(), indent=1))
    env = {"ANSIBLE_PIPELINING": "True"}
    sizes = {log: log.stat().st_size for log in _node_logs(shop_fleet)}
    run = playbook(scratch / "play.yml", shop_fleet.inventory_path, env=env)
    with ProcessWatch() as watch:
        secret_run = playbook(scratch / "cookie.yml", shop_fleet.inventory_path, verbosity=3, env=env)
    return Outcome(run, secret_run, watch, sizes)


def erl(fleet: Fleet, host: str, expr: str) -> object:
    """An expression on the node through its own script (erl_call), the printed value parsed."""
    return parse_one(fleet.eval(host, expr) + ".")


def failed(res: dict) -> bool:
    return bool(res.get("failed"))


# -- values and matches --------------------------------------------------------------------------------


def test_value_and_match_on_every_node(shop_fleet: Fleet, outcome: Outcome) -> None:
    for host in shop_fleet.hosts:
        name = outcome[host, "node name"]
        assert not failed(name) and name["changed"] is False, name
        assert name["matched"] is True  # expect: [] accepts anything
        assert name["value"] == name["node"] == shop_fleet.nodes[host].node_name
        healthy = outcome[host, "healthy"]
        assert (failed(healthy), healthy["changed"], healthy["value"], healthy["matched"]) == (
            False, False, "true", True)


def test_expect(outcome: Outcome) -> None:
    custom = outcome["node1", "custom expect"]
    assert (failed(custom), custom["value"], custom["matched"]) == (False, "{ok,6}", True), custom
    boolean = outcome["node1", "yaml boolean"]
    assert (failed(boolean), boolean["value"], boolean["matched"]) == (False, "true", True), boolean
    bad = outcome["node1", "bad expect"]
    assert failed(bad) and bad["msg"].startswith("expect[0] '{ok' is not an Erlang term: "), bad


def test_a_value_not_expected_fails_naming_it(outcome: Outcome) -> None:
    res = outcome["node1", "mismatch"]
    assert failed(res) and res["changed"] is False
    assert (res["value"], res["matched"]) == ("{error,down}", False)
    assert res["msg"] == f"node {res['node']}: the expression returned {{error,down}}, expected true or ok"


def test_verdicts_are_those_of_otp(outcome: Outcome) -> None:
    """For each pair, the value as node_eval returns it, compared with the expect text the way the
    module compares, gives the verdict of OTP's own =:= on the node."""
    res = outcome["node1", "OTP verdicts"]
    assert not failed(res), res
    values = parse_one(res["value"] + ".")
    assert len(values) == len(PAIRS)
    ours = [same_term(value, expected_terms([b])[0]) for (value, _otp), (_a, b) in zip(values, PAIRS)]
    otp = [verdict == Atom("true") for _value, verdict in values]
    assert set(otp) == {True, False}
    assert ours == otp, list(zip(PAIRS, ours, otp))


def test_output_printed_by_the_expression_does_not_disturb_the_value(outcome: Outcome) -> None:
    res = outcome["node1", "custom expect"]
    assert "printed on the way" not in json.dumps(res)
    assert (failed(res), res["value"], res["matched"]) == (False, "{ok,6}", True), res


# -- failures ------------------------------------------------------------------------------------------


def test_text_that_is_not_erlang_fails_with_line_and_message(outcome: Outcome) -> None:
    res = outcome["node1", "multi-line parse error"]
    assert failed(res) and (res["value"], res["matched"]) == (None, False)
    assert res["msg"] == "the expression is not valid Erlang: line 2: syntax error before: '*'"
    res = outcome["node1", "unbound variable"]
    assert failed(res) and res["msg"] == "the expression is not valid Erlang: line 1: variable 'X' is unbound"


def test_exceptions_on_the_node(shop_fleet: Fleet, outcome: Outcome) -> None:
    node = shop_fleet.nodes["node1"].node_name
    cases = {
        "undefined function": "error:undef in shop_cart:no_such_function/1",
        "throw": "throw:not_healthy",
    }
    for name, raised in cases.items():
        res = outcome["node1", name]
        assert failed(res) and (res["value"], res["matched"]) == (None, False), res
        assert res["msg"] == f"node {node}: the expression raised {raised}"
    still = outcome["node1", "real run"]  # after the exceptions: the node and its cart are fine
    assert (failed(still), still["value"]) == (False, "true"), still


def test_timeout(outcome: Outcome) -> None:
    res = outcome["node1", "timeout"]
    assert failed(res) and res["msg"].endswith(": the expression did not return within 1 s"), res


def test_wrong_cookie(outcome: Outcome) -> None:
    res = outcome["node1", "wrong cookie"]
    assert failed(res) and "refused the connection: wrong cookie (ours came from option)" in res["msg"], res
    assert WRONG_COOKIE not in json.dumps(res)


# -- check mode ----------------------------------------------------------------------------------------


def test_check_mode_skips_the_evaluation(shop_fleet: Fleet, outcome: Outcome) -> None:
    checked = outcome["node1", "check mode"]
    assert outcome.status("node1", "check mode") == "skipped", checked
    assert checked["msg"] == "remote module (erlang.otp.node_eval) does not support check mode", checked
    real = outcome["node1", "real run"]
    assert (failed(real), real["changed"], real["value"]) == (False, False, "true"), real
    probe = "{persistent_term:get(erlang_otp_eval_check, unset), persistent_term:get(erlang_otp_eval_real, unset)}"
    assert erl(shop_fleet, "node1", probe) == (Atom("unset"), 1)


# -- the cookie ------------------------------------------------------------------------------------------


def test_cookie_in_no_output(shop_fleet: Fleet, outcome: Outcome) -> None:
    run, watch = outcome.run, outcome.watch
    cookie = shop_fleet.cookie
    assert outcome["node1", "cookie value"]["value"] == '"********"'
    reason = outcome["node1", "cookie in a reason"]
    assert failed(reason) and '{boom,"********"}' in reason["msg"], reason
    assert watch.seen, "the watcher saw no process at all"
    assert watch.leaks(cookie) == [], "a process started during the run had the cookie on argv/environ"
    for each in (run, outcome.secret_run):
        for name, text in (("stdout", each.stdout), ("stderr", each.stderr), ("results", json.dumps(each.events))):
            assert cookie not in text, f"cookie in ansible {name}"
    assert "SSH: EXEC ssh" in outcome.secret_run.stdout  # -vvv really was verbose
    logs = _node_logs(shop_fleet)
    assert logs
    for log in logs:
        assert cookie.encode() not in log.read_bytes()[outcome.log_sizes.get(log, 0) :], f"cookie in {log}"


def _node_logs(fleet: Fleet) -> List[Path]:
    """sshd's log and every file under the nodes' log/ and tmp/ directories."""
    logs = [fleet.dir / "sshd.log", *fleet.dir.glob("*.log")]
    for node in fleet.nodes.values():
        for sub in ("log", "tmp"):
            if (node.root / sub).is_dir():
                logs.extend(p for p in (node.root / sub).rglob("*") if p.is_file())
    return sorted(set(logs))
