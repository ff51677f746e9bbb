# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node discovery (pure): vm.args and -args_file chains, .src templates, mix env.sh and COOKIE,
VM command lines, and the precedence between them. File systems and process lists are dicts.

The command lines below are copied from /proc/<pid>/cmdline of real relx and mix release nodes
(OTP 25, rebar3 3.19, Elixir 1.14); tests/erlang/test_node_target_vs_otp.py checks the argument
file reader against erlexec and the env.sh reader against sh.
"""

from __future__ import annotations

import posixpath

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._node_target import (
    DiscoveryError,
    NodeTarget,
    ProcInfo,
    discover_release_name,
    discover_target,
    envsubst,
    parse_cmdline,
    parse_env_sh,
    parse_vm_args,
    tokenize_args,
)

ROOT = "/srv/shop"
COOKIE = "c0ok1e-S3cret"

RELX_ARGV = [
    f"{ROOT}/bin/shop", "--", "-root", ROOT, "-bindir", f"{ROOT}/erts-13.1.5/bin",
    "-progname", "srv/shop/bin/shop", "--", "-home", "/home/shop", "-epmd_port", "4400", "--",
    "-boot", f"{ROOT}/releases/1.0.0/start", "-mode", "embedded", "-boot_var", "SYSTEM_LIB_DIR",
    f"{ROOT}/lib", "-config", f"{ROOT}/releases/1.0.0/sys.config", "-sname", "shop_a",
    "-setcookie", COOKIE, "--", "--", "console", "", "--relx-disable-hooks", "--",
]  # fmt: skip

MIX_ARGV = [
    f"{ROOT}/erts-13.1.5/bin/beam.smp", "--", "-root", ROOT, "-bindir", f"{ROOT}/erts-13.1.5/bin",
    "-progname", "erl", "--", "-home", "/home/shop", "--", "-noshell", "-s", "elixir", "start_cli",
    "-mode", "embedded", "-setcookie", COOKIE, "-sname", "exshop_a", "-config",
    f"{ROOT}/releases/0.1.0/sys", "-boot", f"{ROOT}/releases/0.1.0/start", "-boot_var", "RELEASE_LIB",
    f"{ROOT}/lib", "--", "-extra", "--no-halt",
]  # fmt: skip

RELX_FILES = {
    "releases/start_erl.data": "13.1.5 1.0.0",
    "releases/RELEASES": '[{release,"shop","1.0.0","13.1.5",[{kernel,"8.5.3","/srv/shop/lib/kernel-8.5.3"}],'
    "permanent}].\n",
    "releases/1.0.0/shop.rel": "",
    "releases/1.0.0/vm.args": f"-sname shop\n-setcookie {COOKIE}\n+K true\n",
}

MIX_FILES = {
    "releases/start_erl.data": "13.1.5 0.1.0",
    "releases/COOKIE": COOKIE + "\n",
    "releases/0.1.0/exshop.rel": "",
    "releases/0.1.0/env.sh": "#!/bin/sh\n# export RELEASE_NODE=commented\n",
    "releases/0.1.0/vm.args": "## -sname is set by the launcher\n+Q 65536\n",
}


class FakeHost:
    """Files (relative to ROOT unless absolute), processes and home directories of one host."""

    def __init__(self, files=None, procs=(), homes=None, owner=None):
        self.files = {}
        for name, content in (files or {}).items():
            path = name if name.startswith("/") else posixpath.join(ROOT, name)
            self.files[path] = content.encode() if isinstance(content, str) else content
        self.procs = list(procs)
        self.homes = {None: "/home/ansible", **(homes or {})}
        self.owner = owner
        self.reads = []

    def read_file(self, path):
        self.reads.append(path)
        return self.files.get(posixpath.normpath(path))

    def list_dir(self, path):
        prefix = posixpath.normpath(path).rstrip("/") + "/"
        return sorted({p[len(prefix) :].split("/")[0] for p in self.files if p.startswith(prefix)})

    def discover(self, **kw):
        return discover_target(
            kw.pop("root", ROOT),
            kw.pop("name", None),
            kw.pop("node", None),
            kw.pop("cookie", None),
            kw.pop("name_type", None),
            read_file=self.read_file,
            proc_cmdlines=lambda: iter(self.procs),
            home=self.homes.get,
            list_dir=self.list_dir,
            root_owner=self.owner,
            **kw,
        )


# -- argument files ----------------------------------------------------------------------------


def test_tokenize_args_comments_quotes_escapes_and_lines() -> None:
    data = "-sname foo # trailing comment\n## whole line\n-setcookie a\\ b\n-x \"q r\" 's t' u#v\n"
    assert tokenize_args(data) == [
        ("-sname", 1), ("foo", 1), ("-setcookie", 3), ("a b", 3), ("-x", 4), ("q r", 4), ("s t", 4), ("u", 4),
    ]  # fmt: skip


def test_parse_cmdline_relx_and_mix() -> None:
    relx = dict((f, v) for f, v in parse_cmdline(RELX_ARGV))
    assert relx["-root"] == [ROOT]
    assert relx["-sname"] == ["shop_a"]
    assert relx["-setcookie"] == [COOKIE]
    assert relx["-epmd_port"] == ["4400"]
    assert relx["-boot_var"] == ["SYSTEM_LIB_DIR", f"{ROOT}/lib"]
    assert "console" not in str(relx.get("-setcookie"))  # plain args after "--" belong to no flag
    mix = dict((f, v) for f, v in parse_cmdline(MIX_ARGV))
    assert mix["-s"] == ["elixir", "start_cli"]
    assert mix["-sname"] == ["exshop_a"]
    assert "--no-halt" not in repr(mix)  # after -extra


def test_envsubst_like_relx_replace_os_vars() -> None:
    text, unset = envsubst("-name ${NODE}@${HOST:-localhost}\n-setcookie ${C}\n", {"NODE": "n1", "HOST": ""})
    assert text == "-name n1@localhost\n-setcookie \n"
    assert unset == ["C"]


def test_args_file_chain_inlined_in_order(tmp_path) -> None:
    host = FakeHost(
        {
            "releases/1.0.0/vm.args": "-sname shop\n-args_file /etc/shop/dist.args\n-args_file extra.args\n",
            "/etc/shop/dist.args": "-proto_dist inet_tls\n-args_file /etc/shop/cookie.args\n",
            "/etc/shop/cookie.args": f"-setcookie {COOKIE}\n",
            "extra.args": "-epmd_module shop_epmd\n",
        }
    )
    flags, files = parse_vm_args(f"{ROOT}/releases/1.0.0/vm.args", host.read_file, ROOT)
    assert [f for f, _v, _w in flags] == ["-sname", "-proto_dist", "-setcookie", "-epmd_module"]
    assert flags[2][2] == "/etc/shop/cookie.args:1"
    assert files == [
        f"{ROOT}/releases/1.0.0/vm.args", "/etc/shop/dist.args", "/etc/shop/cookie.args", f"{ROOT}/extra.args",
    ]  # fmt: skip


def test_args_file_missing_names_the_including_line() -> None:
    host = FakeHost({"releases/1.0.0/vm.args": "-sname shop\n\n-args_file /etc/nope.args\n"})
    with pytest.raises(DiscoveryError, match=r"vm.args:3: -args_file /etc/nope.args: no such file"):
        parse_vm_args(f"{ROOT}/releases/1.0.0/vm.args", host.read_file, ROOT)


def test_args_file_cycle_is_refused() -> None:
    host = FakeHost({"/a.args": "-args_file /b.args\n", "/b.args": "-x 1\n-args_file /a.args\n"})
    with pytest.raises(DiscoveryError, match=r"/b.args:2: circular -args_file reference to /a.args"):
        parse_vm_args("/a.args", host.read_file, ROOT)


# -- env.sh ------------------------------------------------------------------------------------


def test_env_sh_top_level_assignments_with_defaults_and_quotes() -> None:
    env, doubtful = parse_env_sh(
        "export RELEASE_DISTRIBUTION=name\n"
        'RELEASE_NODE="${RELEASE_NAME}@${HOSTNAME:-db1.example.com}"; export RELEASE_NODE\n'
        "export RELEASE_COOKIE='lit$eral'\n",
        {"RELEASE_NAME": "exshop"},
    )
    assert env["RELEASE_DISTRIBUTION"] == "name"
    assert env["RELEASE_NODE"] == "exshop@db1.example.com"
    assert env["RELEASE_COOKIE"] == "lit$eral"
    assert doubtful == {}


def test_env_sh_conditional_and_command_substitution_are_doubtful() -> None:
    env, doubtful = parse_env_sh(
        "case $RELEASE_COMMAND in\n  daemon*)\n    export RELEASE_NODE=inside\n    ;;\nesac\n"
        "export RELEASE_COOKIE=$(cat /etc/cookie)\n"
        "export RELEASE_DISTRIBUTION=sname\n",
        {"RELEASE_NODE": "before"},
    )
    assert env["RELEASE_NODE"] == "before"
    assert "RELEASE_COOKIE" not in env
    assert env["RELEASE_DISTRIBUTION"] == "sname"
    assert set(doubtful) == {"RELEASE_NODE", "RELEASE_COOKIE"}


# -- release name ------------------------------------------------------------------------------


def test_release_name_from_releases_file_then_start_erl_then_single_rel() -> None:
    host = FakeHost(RELX_FILES)
    assert discover_release_name(ROOT, read_file=host.read_file, list_dir=host.list_dir) == ("shop", "1.0.0")
    host = FakeHost(MIX_FILES)  # no RELEASES
    assert discover_release_name(ROOT, read_file=host.read_file, list_dir=host.list_dir) == ("exshop", "0.1.0")
    host = FakeHost({"releases/2.0.0/web.rel": "", "releases/1.0.0/web.rel": ""})  # no start_erl.data
    assert discover_release_name(ROOT, read_file=host.read_file, list_dir=host.list_dir) == ("web", None)


def test_release_name_ambiguous_is_a_clear_error() -> None:
    host = FakeHost({"releases/1/a.rel": "", "releases/2/b.rel": ""})
    with pytest.raises(DiscoveryError, match=r"cannot tell the release name .*a \(1\), b \(2\).*name option"):
        discover_release_name(ROOT, read_file=host.read_file, list_dir=host.list_dir)


# -- discovery and precedence ------------------------------------------------------------------


def test_running_relx_vm_wins_over_files() -> None:
    host = FakeHost(RELX_FILES, [ProcInfo(4242, RELX_ARGV, 1001)])
    target = host.discover()
    assert (target.release_name, target.node, target.name_type, target.cookie) == ("shop", "shop_a", "sname", COOKIE)
    assert target.pid == 4242
    assert target.epmd_port == "4400"
    assert target.erts_dir == f"{ROOT}/erts-13.1.5"
    assert target.source["node"] == target.source["cookie"] == "command line of pid 4242"


def test_options_win_over_everything() -> None:
    host = FakeHost(RELX_FILES, [ProcInfo(4242, RELX_ARGV)])
    target = host.discover(node="shop_a@db1.example.com", cookie="opt")
    assert (target.node, target.name_type, target.cookie) == ("shop_a@db1.example.com", "name", "opt")
    assert target.source["node"] == target.source["cookie"] == "option"
    assert target.epmd_port == "4400"  # the VM of that node still gives the epmd port


def test_node_option_for_another_node_ignores_the_vm() -> None:
    host = FakeHost(RELX_FILES, [ProcInfo(4242, RELX_ARGV)])
    target = host.discover(node="other")
    assert target.pid is None
    assert target.cookie == COOKIE and target.source["cookie"] == "releases/1.0.0/vm.args:2"


def test_stopped_relx_node_from_vm_args() -> None:
    target = FakeHost(RELX_FILES).discover()
    assert (target.node, target.name_type, target.cookie) == ("shop", "sname", COOKIE)
    assert target.source == {
        "name": "release files",
        "node": "releases/1.0.0/vm.args:1",
        "name_type": "releases/1.0.0/vm.args:1",
        "cookie": "releases/1.0.0/vm.args:2",
    }
    assert target.running is False


def test_relx_cookie_precedence_relx_cookie_then_setcookie_then_home() -> None:
    files = {**RELX_FILES, "releases/1.0.0/vm.args": "-name shop@db1.example.com\n",
             "/home/shop/.erlang.cookie": "from-home\n", "/home/ansible/.erlang.cookie": "mine\n"}  # fmt: skip
    assert FakeHost(files).discover(environ={"RELX_COOKIE": "env"}).cookie == "env"
    target = FakeHost(files, owner=1001, homes={1001: "/home/shop"}).discover()
    assert (target.cookie, target.source["cookie"]) == ("from-home", "/home/shop/.erlang.cookie")
    assert target.name_type == "name"
    assert FakeHost(files).discover().cookie == "mine"  # root owner unknown: the module's user


def test_vm_args_src_rendered_from_environment() -> None:
    files = {**RELX_FILES}
    del files["releases/1.0.0/vm.args"]
    files["releases/1.0.0/vm.args.src"] = "-name ${NODE_NAME}\n-setcookie ${COOKIE:-dflt}\n"
    target = FakeHost(files).discover(environ={"NODE_NAME": "shop@h.example.com"})
    assert (target.node, target.cookie, target.name_type) == ("shop@h.example.com", "dflt", "name")
    assert target.source["node"] == "releases/1.0.0/vm.args.src:1"


def test_vm_args_src_with_unset_variable_prefers_the_rendered_copy() -> None:
    files = {**RELX_FILES, "releases/1.0.0/vm.args.src": "-sname ${NODE_NAME}\n-setcookie x\n"}
    target = FakeHost(files).discover()  # NODE_NAME unset here; vm.args was rendered at start
    assert target.node == "shop"
    assert any("${NODE_NAME}" in p for p in target.problems)


def test_vm_args_with_two_names_is_an_error() -> None:
    files = {**RELX_FILES, "releases/1.0.0/vm.args": "-sname a\n-args_file /x.args\n", "/x.args": "-name b@h.c\n"}
    with pytest.raises(DiscoveryError, match=r"more than one node name: -sname a \(releases/1.0.0/vm.args:1\), "
                                             r"-name b@h.c \(/x.args:1\)"):  # fmt: skip
        FakeHost(files).discover()


def test_dist_flags_from_vm_args_chain() -> None:
    files = {**RELX_FILES, "releases/1.0.0/vm.args": "-sname shop\n-args_file /etc/dist.args\n",
             "/etc/dist.args": "-proto_dist inet_tls\n-ssl_dist_optfile /etc/ssl.conf\n-epmd_module e\n"}  # fmt: skip
    target = FakeHost(files).discover()
    assert target.dist_args == ["-proto_dist", "inet_tls", "-ssl_dist_optfile", "/etc/ssl.conf", "-epmd_module", "e"]
    assert target.source["dist_args"] == "releases/1.0.0/vm.args"


def test_mix_stopped_node_defaults_and_cookie_file() -> None:
    target = FakeHost(MIX_FILES).discover()
    assert (target.release_name, target.node, target.name_type, target.cookie) == ("exshop", "exshop", "sname", COOKIE)
    assert target.source["cookie"] == "releases/COOKIE"
    assert target.source["node"] == "mix default (release name)"


def test_mix_env_sh_overrides() -> None:
    files = {**MIX_FILES, "releases/0.1.0/env.sh": 'export RELEASE_DISTRIBUTION=name\n'
             'export RELEASE_NODE="${RELEASE_NAME}@10.0.0.5"\nexport RELEASE_COOKIE=envsh\n'}  # fmt: skip
    target = FakeHost(files).discover()
    assert (target.node, target.name_type, target.cookie) == ("exshop@10.0.0.5", "name", "envsh")
    assert target.source["node"] == "releases/0.1.0/env.sh"


def test_mix_running_node_from_its_command_line() -> None:
    target = FakeHost(MIX_FILES, [ProcInfo(77, MIX_ARGV, env={"ERL_EPMD_PORT": "4500"})]).discover()
    assert (target.node, target.cookie, target.pid, target.epmd_port) == ("exshop_a", COOKIE, 77, "4500")


def test_mix_distribution_none_is_reported() -> None:
    files = {**MIX_FILES, "releases/0.1.0/env.sh": "export RELEASE_DISTRIBUTION=none\n"}
    target = FakeHost(files).discover()
    assert any("RELEASE_DISTRIBUTION=none" in p for p in target.problems)


def test_vm_without_setcookie_uses_its_home_cookie() -> None:
    argv = [a for a in RELX_ARGV if a not in ("-setcookie", COOKIE)]
    files = {**RELX_FILES, "/home/shop/.erlang.cookie": "homecookie\n"}
    target = FakeHost(files, [ProcInfo(5, argv)]).discover()
    assert (target.cookie, target.source["cookie"]) == ("homecookie", "/home/shop/.erlang.cookie")


def test_helpers_from_the_same_root_do_not_count() -> None:
    remsh = [*RELX_ARGV[:-1], "-remsh", "shop_a", "-sname", "remsh_1", "--"]
    hidden = [f"{ROOT}/erts-13.1.5/bin/beam.smp", "--", "-root", ROOT, "--", "-hidden", "-sname", "rpc-1"]
    control = [f"{ROOT}/erts-13.1.5/bin/beam.smp", "--", "-root", ROOT, "--", "-hidden", "-nocookie"]
    procs = [ProcInfo(9, hidden), ProcInfo(10, control), ProcInfo(11, RELX_ARGV), ProcInfo(12, remsh)]
    target = FakeHost(RELX_FILES, procs).discover()
    assert (target.node, target.pid) == ("shop_a", 11)


def test_two_nodes_from_one_root_need_the_node_option() -> None:
    other = [a if a != "shop_a" else "shop_b" for a in RELX_ARGV]
    host = FakeHost(RELX_FILES, [ProcInfo(1, RELX_ARGV), ProcInfo(2, other)])
    with pytest.raises(DiscoveryError, match=r"several nodes run from this root: shop_a \(pid 1\), shop_b \(pid 2\)"):
        host.discover()
    assert host.discover(node="shop_b@vm").pid == 2


def test_release_on_system_erts_matched_by_boot_path() -> None:
    argv = ["/usr/lib/erlang/erts-13.1.5/bin/beam.smp", "--", "-root", "/usr/lib/erlang", "-bindir",
            "/usr/lib/erlang/erts-13.1.5/bin", "--", "-boot", f"{ROOT}/releases/1.0.0/start",
            "-name", "s@h.example"]  # fmt: skip
    target = FakeHost(RELX_FILES, [ProcInfo(3, argv)]).discover()
    assert (target.node, target.name_type, target.erts_dir) == ("s@h.example", "name", "/usr/lib/erlang/erts-13.1.5")


def test_symlinked_root_matches_through_realpath() -> None:
    argv = [a.replace(ROOT, "/data/shop-real") for a in RELX_ARGV]
    host = FakeHost(RELX_FILES, [ProcInfo(8, argv)])
    target = host.discover(realpath=lambda p: p.replace(ROOT, "/data/shop-real"))
    assert target.pid == 8


def test_erts_dir_from_start_erl_data_when_stopped() -> None:
    files = {**RELX_FILES, "erts-13.1.5/bin/escript": "", "erts-12.0/bin/escript": ""}
    assert FakeHost(files).discover().erts_dir == f"{ROOT}/erts-13.1.5"
    assert FakeHost(RELX_FILES).discover().erts_dir is None


def test_epmd_port_from_module_environment_last() -> None:
    target = FakeHost(RELX_FILES).discover(environ={"ERL_EPMD_PORT": "4999"})
    assert (target.epmd_port, target.source["epmd_port"]) == ("4999", "environment")


def test_bad_name_type_option() -> None:
    with pytest.raises(DiscoveryError, match=r"name_type 'long': expected one of name, sname"):
        FakeHost(RELX_FILES).discover(name_type="long")


# -- the cookie stays secret -------------------------------------------------------------------


def test_cookie_never_in_repr_facts_or_errors() -> None:
    target = FakeHost(RELX_FILES, [ProcInfo(4242, RELX_ARGV)]).discover()
    assert target.cookie == COOKIE
    assert COOKIE not in repr(target)
    assert COOKIE not in str(target.facts())
    missing = NodeTarget(ROOT, "shop", "shop", "sname", None, problems=["no readable ~/.erlang.cookie"])
    with pytest.raises(DiscoveryError, match=r"cannot tell the cookie of the release node") as info:
        missing.require()
    assert "~/.erlang.cookie" in str(info.value)
    files = {**RELX_FILES, "releases/1.0.0/vm.args": f"-sname a\n-setcookie {COOKIE}\n-args_file /nope\n"}
    with pytest.raises(DiscoveryError) as info:
        FakeHost(files).discover()
    assert COOKIE not in str(info.value)
