# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control escript's failure paths that need no node: bad requests, crashes, no distribution.
Whatever happens, exactly one reply term after the marker, and never the cookie."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._control_escript import REPLY_END_MARKER, REPLY_MARKER, render
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.otp import requires_erlang

pytestmark = [pytest.mark.erlang, requires_erlang]

SECRET = "s3cr3t-cookie-value"


def run(tmp_path: Path, request: str) -> tuple:
    script = tmp_path / "ctl.escript"
    script.write_text(render([]))
    proc = subprocess.run(
        ["escript", str(script)], input=request.encode(), capture_output=True, cwd=tmp_path, timeout=120, check=False
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert SECRET not in out and SECRET not in err
    assert not (tmp_path / "erl_crash.dump").exists()
    _before, marker, body = out.rpartition(REPLY_MARKER)
    assert marker, out + err
    return proc.returncode, parse_one(body)


@pytest.mark.parametrize(
    "request_text",
    [
        f'#{{node => "a@b", cookie => "{SECRET}", op => ping',  # unterminated
        f'garbage "{SECRET}" ]]',
        f'#{{node => "a@b", cookie => "{SECRET}", name_type => shortnames, op => format_disk}}.',
        f'{{"{SECRET}"}}.',
        "",
    ],
)
def test_bad_requests_are_refused_without_echo(tmp_path: Path, request_text: str) -> None:
    rc, reply = run(tmp_path, request_text)
    assert rc == 2
    assert reply[0] == Atom("error") and reply[1][0] == Atom("bad_request")


def test_a_crash_is_one_masked_reply(tmp_path: Path) -> None:
    # a timeout that is no number crashes the deadline arithmetic; the cookie is in the request
    rc, reply = run(
        tmp_path,
        f'#{{node => "a@b", cookie => "{SECRET}", name_type => shortnames, op => ping, timeout => "{SECRET}"}}.',
    )
    assert rc == 2
    assert reply[1][0] == Atom("internal")


def test_distribution_that_cannot_start_is_reported(tmp_path: Path) -> None:
    rc, reply = run(
        tmp_path,
        f'#{{node => "x@no.such.host.invalid", cookie => "{SECRET}", name_type => shortnames, op => ping}}.',
    )
    assert rc == 2
    assert reply[1][0] == Atom("distribution_failed")
    assert reply[1][2] == Atom("shortnames")


def test_a_session_answers_each_request_and_halts_at_the_end_of_input(tmp_path: Path) -> None:
    script = tmp_path / "ctl.escript"
    script.write_text(render([]))
    request = (f'#{{node => "x@no.such.host.invalid", cookie => "{SECRET}", name_type => shortnames, op => ping, '
               "session => true}.\n")
    proc = subprocess.run(["escript", str(script)], input=(request * 2 + "garbage ]].\n").encode(),
                          capture_output=True, cwd=tmp_path, timeout=120, check=False)
    out = proc.stdout.decode()
    assert SECRET not in out and SECRET not in proc.stderr.decode()
    assert proc.returncode == 0, out
    bodies = [chunk.split(REPLY_END_MARKER)[0] for chunk in out.split(REPLY_MARKER + "\n")[1:]]
    assert out.count(REPLY_END_MARKER) == 3 and len(bodies) == 3
    replies = [parse_one(body) for body in bodies]
    for reply in replies[:2]:
        assert reply[1][0] == Atom("distribution_failed") and reply[2] == {Atom("exit"): 2}
    assert replies[2][1][0] == Atom("bad_request") and replies[2][2] == {Atom("exit"): 2}


def test_render_refuses_flags_with_blanks() -> None:
    with pytest.raises(ValueError, match=r"'-ssl_dist_optfile /a b'"):
        render(["-ssl_dist_optfile /a b"])
    assert render(["-proto_dist", "inet_tls"]).splitlines()[1].endswith("-proto_dist inet_tls")
