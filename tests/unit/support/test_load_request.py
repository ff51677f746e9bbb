# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of tests/support/load.py: the escript's request line and the fleet totals."""
from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.load import LoadError, request_text, totals

OPTS = {"period_ms": 20, "timeout_ms": 5000, "probe_every": 10, "max_ms": 600000}


def test_request_is_one_line_that_erlang_reads_back() -> None:
    cookie = 'we"ird\\cookie\nwith é'
    call = "'Elixir.Exshop.Counter':value()"
    text = request_text(["shop_n1@vm", "shop_n2@vm"], cookie, call, ["shop_cart:pid()", "is_pid(self())"], **OPTS)
    assert text.endswith(".\n") and text.count("\n") == 1
    term = parse_one(text)  # the reader that follows erl_parse:parse_term/1
    assert term == {
        Atom("nodes"): ["shop_n1@vm", "shop_n2@vm"],
        Atom("cookie"): cookie,
        Atom("name_type"): Atom("shortnames"),
        Atom("call"): call,
        Atom("probes"): ["shop_cart:pid()", "is_pid(self())"],
        **{Atom(k): v for k, v in OPTS.items()},
    }


def test_long_names_are_detected() -> None:
    term = parse_one(request_text(["shop@web1.example.com"], "c", "m:f()", [], **OPTS))
    assert term[Atom("name_type")] == Atom("longnames")


@pytest.mark.parametrize(
    ("nodes", "opts", "culprit"),
    [
        ([], {}, "no nodes"),
        (["shop"], {}, "name@host"),
        (["@vm"], {}, "name@host"),
        (["a@vm"], {"period_ms": 0}, "period_ms=0"),
        (["a@vm"], {"timeout_ms": 1.5}, "timeout_ms=1.5"),
        (["a@vm"], {"max_ms": True}, "max_ms=True"),
    ],
)
def test_bad_requests_name_the_value(nodes: list, opts: dict, culprit: str) -> None:
    with pytest.raises(LoadError, match=culprit):
        request_text(nodes, "c", "m:f()", [], **{**OPTS, **opts})


def test_totals() -> None:
    def host(calls: int, failed: dict, max_ms: float, gap: float, creations: list) -> dict:
        return {"calls": calls, "failed": sum(failed.values()), "failed_by_reason": failed,
                "latency_ms": {"max": max_ms}, "max_gap_ms": gap, "creations": creations}  # fmt: skip

    per_host = {
        "node1": host(100, {}, 3.5, 40.0, [7]),
        "node2": host(90, {"noconnection": 4, "exit:noproc": 1}, 5000.2, 1200.0, [7, 9]),
        "node3": host(95, {"noconnection": 2}, 2.0, 30.0, [8]),
    }
    assert totals(per_host) == {
        "hosts": 3,
        "calls": 285,
        "failed": 7,
        "failed_by_reason": {"exit:noproc": 1, "noconnection": 6},
        "max_latency_ms": 5000.2,
        "max_gap_ms": 1200.0,
        "restarted": ["node2"],
    }
    assert totals({})["calls"] == 0
