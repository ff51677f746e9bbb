# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sample release tarballs of tests/releases: what they contain, and that one really boots.

Tarball contents are read back with OTP itself (``file:consult`` of the ``.rel`` and ``.app``
files, ``beam_lib:md5`` of the modules) and compared with the sources.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from tests.support import releases

# Prints one line per fact about an unpacked release root (first argument), for the tests below.
_INSPECT = r"""
[Root, Name, Vsn] = init:get_plain_arguments(),
{ok, [{release, {_, RelVsn}, {erts, Erts}, Apps}]} =
    file:consult(filename:join([Root, "releases", Vsn, Name ++ ".rel"])),
io:format("rel ~s ~s~n", [RelVsn, Erts]),
[io:format("app ~s ~s~n", [element(1, A), element(2, A)]) || A <- Apps],
lists:foreach(
    fun(AppFile) ->
        {ok, [{application, App, Props}]} = file:consult(AppFile),
        Lib = filename:basename(filename:dirname(filename:dirname(AppFile))),
        io:format("appfile ~s ~s ~s~n", [Lib, App, proplists:get_value(vsn, Props)]),
        [io:format("listed ~s ~s~n", [Lib, M]) || M <- proplists:get_value(modules, Props, [])]
    end,
    filelib:wildcard(filename:join([Root, "lib", "*", "ebin", "*.app"]))),
lists:foreach(
    fun(Beam) ->
        {ok, {Mod, Md5}} = beam_lib:md5(Beam),
        Lib = filename:basename(filename:dirname(filename:dirname(Beam))),
        io:format("beam ~s ~s ~s~n", [Lib, Mod, binary:encode_hex(Md5)])
    end,
    filelib:wildcard(filename:join([Root, "lib", "*", "ebin", "*.beam"]))),
halt().
"""


class Facts:
    """What OTP reads from an unpacked release root."""

    def __init__(self, text: str) -> None:
        self.rel_vsn = ""
        self.erts = ""
        self.apps: Dict[str, str] = {}
        self.app_files: Dict[str, Tuple[str, str]] = {}  # lib dir -> (app, vsn)
        self.listed: Dict[str, Set[str]] = {}
        self.beams: Dict[str, Dict[str, str]] = {}  # lib dir -> module -> md5
        for line in text.splitlines():
            kind, *rest = line.split()
            if kind == "rel":
                self.rel_vsn, self.erts = rest
            elif kind == "app":
                self.apps[rest[0]] = rest[1]
            elif kind == "appfile":
                self.app_files[rest[0]] = (rest[1], rest[2])
            elif kind == "listed":
                self.listed.setdefault(rest[0], set()).add(rest[1])
            elif kind == "beam":
                self.beams.setdefault(rest[0], {})[rest[1]] = rest[2]


def _skip_without(kind: str) -> None:
    why = releases.tool_missing(kind)
    if why:
        pytest.skip(f"cannot build {kind} releases: {why}")


def _unpack(name: str, vsn: str, dest: Path) -> Tuple[Path, List[str]]:
    path = releases.tarball(name, vsn)
    with tarfile.open(path) as tar:
        members = tar.getnames()
        # Our own tarball; the "tar" filter (where this Python has filters) keeps modes and links.
        tar.extractall(dest, **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
    return dest, members


def _facts(root: Path, name: str, vsn: str) -> Facts:
    proc = subprocess.run(
        ["erl", "-noshell", "-boot", "no_dot_erlang", "-eval", _INSPECT, "-extra", str(root), name, vsn],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Facts(proc.stdout)


_UNPACKED: Dict[Tuple[str, str], Tuple[Facts, List[str]]] = {}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    """Facts and member names of a tarball, unpacked once per module."""

    def get(name: str, vsn: str) -> Tuple[Facts, List[str]]:
        if (name, vsn) not in _UNPACKED:
            _skip_without(releases.release(name, vsn).kind)
            root, members = _unpack(name, vsn, tmp_path_factory.mktemp(f"{name}-{vsn}"))
            _UNPACKED[name, vsn] = (_facts(root, name, vsn), members)
        return _UNPACKED[name, vsn]

    yield get
    _UNPACKED.clear()


@pytest.mark.parametrize("rel", releases.RELEASES, ids=lambda r: f"{r.name}-{r.vsn}")
def test_tarball_contents(rel, unpacked):
    facts, members = unpacked(rel.name, rel.vsn)
    names = set(members)

    assert f"releases/{rel.vsn}/{rel.name}.rel" in names
    assert f"bin/{rel.name}" in names
    assert facts.rel_vsn == rel.vsn
    assert facts.apps.get("sasl"), "sasl must be in the release for release_handler"

    erts_members = {m for m in names if m.startswith("erts-")}
    if rel.include_erts:
        assert f"erts-{facts.erts}/bin/beam.smp" in names
    else:
        assert not erts_members

    # OTP and Elixir applications are bundled exactly when system_libs is on.
    ours = releases.app_versions(rel.name, rel.vsn)
    for app, vsn in facts.apps.items():
        bundled = f"lib/{app}-{vsn}/ebin/{app}.app" in names
        assert bundled == (rel.system_libs or app in ours), (app, vsn)

    # Our own applications: in the .rel with the source versions, all listed modules compiled.
    for app, vsn in ours.items():
        assert facts.apps.get(app) == vsn, (app, facts.apps)
        lib = f"{app}-{vsn}"
        assert facts.app_files[lib] == (app, vsn)
        assert facts.listed[lib] == set(facts.beams[lib]), lib
        assert facts.beams[lib]
    assert {app for app in facts.apps if app in ours} == set(ours)

    if rel.kind == "mix":
        assert "releases/COOKIE" in names
        assert f"releases/{rel.vsn}/env.sh" in names
    else:
        assert f"releases/{rel.vsn}/vm.args" in names


def _series(name: str) -> List[str]:
    return [rel.vsn for rel in releases.RELEASES if rel.name == name]


def _pairs() -> List[Tuple[str, str, str]]:
    out = []
    for name in dict.fromkeys(rel.name for rel in releases.RELEASES):
        vsns = _series(name)
        out += [(name, old, new) for i, old in enumerate(vsns) for new in vsns[i + 1 :]]
    return out


@pytest.mark.parametrize("name,old,new", _pairs(), ids=lambda v: v)
def test_app_version_bumped_iff_code_changed(name, old, new, unpacked):
    """Appups can only be made when every changed application has a new version, and vice versa."""
    before, _unused = unpacked(name, old)
    after, _unused = unpacked(name, new)
    ours = set(releases.app_versions(name, old)) & set(releases.app_versions(name, new))
    assert ours, "the versions share no application"
    for app in ours:
        old_lib, new_lib = f"{app}-{before.apps[app]}", f"{app}-{after.apps[app]}"
        same_code = before.beams[old_lib] == after.beams[new_lib]
        assert same_code == (before.apps[app] == after.apps[app]), (app, before.apps[app], after.apps[app])


def test_shop_versions_cover_every_upgrade_situation(unpacked):
    """The shop series exercises what tests/releases/README.md promises (read back from the tarballs)."""
    facts = {vsn: unpacked("shop", vsn)[0] for vsn in _series("shop")}
    mods = {
        vsn: {m for lib, beams in f.beams.items() if lib.startswith("shop") for m in beams} for vsn, f in facts.items()
    }
    apps = {vsn: {a for a in f.apps if a.startswith("shop")} for vsn, f in facts.items()}
    pairs = list(zip(list(facts)[:-1], list(facts)[1:]))
    for old, new in pairs:
        assert mods[new] - mods[old], f"{old}->{new}: no added module"
        assert mods[old] - mods[new], f"{old}->{new}: no removed module"
        changed = {
            m
            for lib, beams in facts[new].beams.items()
            for m, md5 in beams.items()
            if any(beams_old.get(m) not in (None, md5) for beams_old in facts[old].beams.values())
        }
        assert {"shop_cart", "shop_price"} <= changed, f"{old}->{new}: {changed}"
    assert any(apps[new] - apps[old] for old, new in pairs), "no added application"
    assert any(apps[old] - apps[new] for old, new in pairs), "no removed application"


# ---------------------------------------------------------------------------------------------
# One real node


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pids_under(root: Path) -> List[int]:
    """Processes whose command line mentions ``root`` (the node's beam and run_erl)."""
    needle = str(root).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _kill(pids: List[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.fleet
def test_shop_boots_as_daemon_and_answers(tmp_path):
    _skip_without("rebar3")
    root, _unused = _unpack("shop", "1.0.0", tmp_path / "shop")
    port = _free_port()
    node = f"shop_t{port}"
    vm_args = root / "releases" / "1.0.0" / "vm.args"
    vm_args.write_text(re.sub(r"(?m)^-sname .*$", f"-sname {node}", vm_args.read_text()))
    env = dict(os.environ, ERL_EPMD_PORT=str(port), HOME=str(tmp_path), PIPE_DIR=f"{tmp_path}/pipes/")
    for key in [k for k in env if k.startswith(("RELX_", "ERL_FLAGS", "ERL_AFLAGS", "ERL_ZFLAGS"))]:
        del env[key]
    epmd_bin = next(root.glob("erts-*/bin/epmd"))
    epmd = subprocess.Popen([str(epmd_bin), "-port", str(port)], env=env)

    def shop(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(root / "bin" / "shop"), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    try:
        started = shop("daemon")
        assert started.returncode == 0, started.stdout + started.stderr
        deadline = time.monotonic() + 30
        while (ping := shop("ping")).stdout.strip() != "pong":
            assert time.monotonic() < deadline, ping.stdout + ping.stderr
            time.sleep(0.3)

        which = shop("eval", "release_handler:which_releases().")
        assert which.returncode == 0, which.stderr
        listed = r'\{"shop",\s*"1\.0\.0",\s*\[[^]]*"shop-0\.1\.0"[^]]*\],\s*permanent\}'
        assert re.search(listed, which.stdout), which.stdout

        cart = shop("eval", "ok = shop_cart:add(apple, 2), {shop_cart:state(), node(shop_cart:pid())}.")
        assert cart.stdout.startswith("{{state, [{apple, 2}]}, " + node + "@"), cart.stdout + cart.stderr

        beam_pid = int(shop("pid").stdout.strip())
        assert beam_pid in _pids_under(root)
        stopped = shop("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        deadline = time.monotonic() + 15
        while Path(f"/proc/{beam_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(f"/proc/{beam_pid}").exists(), "the node did not stop"
    finally:
        _kill(_pids_under(root))
        epmd.kill()
        epmd.wait(timeout=10)
        shutil.rmtree(tmp_path / "pipes", ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The build and cache machinery, on a scratch copy of the sources


@pytest.fixture
def scratch_sources(tmp_path, monkeypatch):
    """A copy of tests/releases and an empty cache, both under tmp_path."""
    sources = tmp_path / "releases"
    shutil.copytree(releases.SOURCES, sources)
    monkeypatch.setattr(releases, "SOURCES", sources)
    monkeypatch.setattr(releases, "CACHE", tmp_path / "cache")
    return sources


def test_cache_key_follows_the_sources(scratch_sources):
    _skip_without("rebar3")
    rel = releases.release("shop", "1.1.0")
    key = releases.cache_key(rel)
    assert releases.cache_key(rel) == key
    other_project = scratch_sources / "exshop" / "0.1.0" / "lib" / "exshop" / "greeting.ex"
    other_project.write_text(other_project.read_text() + "\n")
    assert releases.cache_key(rel) == key
    later_version = scratch_sources / "shop" / "2.0.0" / "apps" / "shop" / "src" / "shop_tax.erl"
    later_version.write_text(later_version.read_text() + "\n")
    assert releases.cache_key(rel) == key
    earlier_layer = scratch_sources / "shop" / "1.0.0" / "apps" / "shop" / "src" / "shop_price.erl"
    earlier_layer.write_text(earlier_layer.read_text() + "%% edited\n")
    assert releases.cache_key(rel) != key


def test_remove_of_a_missing_path_names_the_file(scratch_sources, tmp_path):
    remove = scratch_sources / "shop" / "2.0.0" / "REMOVE"
    remove.write_text("apps/shop/src/no_such_module.erl\n")
    with pytest.raises(releases.ReleaseBuildError, match=r"2\.0\.0/REMOVE.*no_such_module\.erl"):
        releases.compose(releases.release("shop", "2.0.0"), tmp_path / "out")


def test_build_failure_carries_the_compiler_output(scratch_sources):
    _skip_without("rebar3")
    broken = scratch_sources / "shop" / "1.0.0" / "apps" / "shop" / "src" / "shop_price.erl"
    broken.write_text(broken.read_text().replace("price(_) -> 100.", "price(_) -> 100"))
    with pytest.raises(releases.ReleaseBuildError, match=r"rebar3 tar exited[\s\S]*shop_price\.erl"):
        releases.tarball("shop", "1.0.0")
    assert not list(releases.CACHE.glob("shop-1.0.0-*")), "a failed build left something in the cache"


def test_concurrent_requests_build_once(scratch_sources):
    _skip_without("rebar3")
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(lambda _: releases.tarball("shop_noerts", "1.0.0"), range(2)))
    assert paths[0] == paths[1]
    assert paths[0].is_file()
    assert [p.name for p in releases.CACHE.iterdir() if p.is_dir()] == [paths[0].parent.name]
    assert releases.tarball("shop_noerts", "1.0.0") == paths[0]
