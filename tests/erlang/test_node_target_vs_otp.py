# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node discovery against the real readers: erlexec for argument files and VM command lines, sh
for mix env.sh files."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._node_target import (
    parse_cmdline,
    parse_env_sh,
    parse_vm_args,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import text

from tests.support.otp import requires_erlang

pytestmark = [pytest.mark.erlang, requires_erlang]

# Flags erlexec hands to init untouched (names it does not interpret itself).
ARG_FILES = {
    "plain.args": "-zz_name shop@h.example.com\n-zz_cookie abc123\n",
    "comments.args": "## header\n-zz_a 1 2 # trailing\n-zz_b x#y\n#-zz_c hidden\n",
    "quotes.args": "-zz_a \"two words\" 'single quoted' mixed\"quo\"ted\n-zz_b a\\ b c\\#d\n",
    "chain.args": "-zz_first 1\n-args_file sub/inner.args\n-zz_last 3\n",
    "sub/inner.args": "-zz_inner \"in ner\"\n-args_file {root}/leaf.args\n",
    "leaf.args": "-zz_leaf leaf\n",
    "multiline.args": "-zz_a\n  continued on\n  more lines\n-zz_b\\\n-zz_c\n",
}

_REPORT = (
    'Args = [{K, V} || {K, V} <- init:get_arguments(), lists:prefix("zz_", atom_to_list(K))],'
    '{ok, Raw} = file:read_file("/proc/" ++ os:getpid() ++ "/cmdline"),'
    'Argv = [binary_to_list(A) || A <- binary:split(Raw, <<0>>, [global]), A =/= <<>>],'
    'io:format("~tp.~n", [{Args, Argv}]), halt().'
)


def erlexec(root: Path, name: str) -> tuple:
    out = subprocess.run(
        ["erl", "-noshell", "-args_file", str(root / name), "-eval", _REPORT],
        cwd=root,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    args, argv = parse_one(out, "erl")
    return [(f"-{k}", [text(v) for v in values]) for k, values in args], [text(a) for a in argv]


@pytest.fixture(scope="module")
def arg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("args")
    for name, content in ARG_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content.replace("{root}", str(root)))
    return root


@pytest.mark.parametrize("name", [n for n in ARG_FILES if "/" not in n and n != "leaf.args"])
def test_vm_args_reader_matches_erlexec(arg_root: Path, name: str) -> None:
    expected, argv = erlexec(arg_root, name)
    flags, _files = parse_vm_args(str(arg_root / name), lambda p: Path(p).read_bytes(), str(arg_root))
    mine = [(f, v) for f, v, _where in flags if f.startswith("-zz_")]
    assert mine == expected
    # ... and the command line erlexec built from it reads back the same way
    assert [(f, v) for f, v in parse_cmdline(argv) if f.startswith("-zz_")] == expected


ENV_SH = [
    "export RELEASE_NODE=plain\n",
    'RELEASE_NODE="${RELEASE_NAME}@host.example"\nexport RELEASE_NODE\n',
    "export RELEASE_NODE=${RELEASE_NODE:-fallback}\nexport RELEASE_DISTRIBUTION='name'\n",
    'export RELEASE_COOKIE="a b\\"c" ; export RELEASE_NODE=$RELEASE_NAME-x\n',
    "# export RELEASE_NODE=commented\nexport RELEASE_DISTRIBUTION=sname # trailing\n",
    'export RELEASE_NODE="${UNSET_VAR:-def}_${RELEASE_VSN}"\n',
]


@pytest.mark.parametrize("script", ENV_SH)
def test_env_sh_reader_matches_sh(tmp_path: Path, script: str) -> None:
    env_sh = tmp_path / "env.sh"
    env_sh.write_text(script)
    base = {"RELEASE_NAME": "exshop", "RELEASE_VSN": "0.1.0", "RELEASE_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    names = ("RELEASE_NODE", "RELEASE_COOKIE", "RELEASE_DISTRIBUTION")
    proc = subprocess.run(
        ["/bin/sh", "-c", '. "$1"; printf "%s\\0%s\\0%s\\0" "$RELEASE_NODE" "$RELEASE_COOKIE" "$RELEASE_DISTRIBUTION"',
         "sh", str(env_sh)],
        env=base, capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    expected = dict(zip(names, proc.stdout.decode().split("\0")))
    env, doubtful = parse_env_sh(script, base)
    assert doubtful == {}
    assert {n: env.get(n, "") for n in names} == expected
