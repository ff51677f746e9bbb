# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release reader (module_utils/_release.py, _archive.py) on the real sample release tarballs.

Facts are checked against the sources (``tests.support.releases``) and against OTP itself:
``beam_lib:md5`` of every module (``tests/erlang/release_facts.escript``) and ``file:consult`` of
every term file (``tests.support.reference_terms``). Tarballs are extracted with our own
:func:`extract`, so extraction is exercised on real relx and mix tarballs as well.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._release import Release, ReleaseError, open_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, canonical, text

from tests.support import releases
from tests.support.etf_canon import canon
from tests.support.otp import elixir_root, have_erlang, otp_root, run_escript
from tests.support.reference_terms import consult

pytestmark = pytest.mark.skipif(not have_erlang(), reason="Erlang/OTP is not installed")

IDS = [f"{r.name}-{r.vsn}" for r in releases.RELEASES]


def _tarball(rel: releases.Release) -> Path:
    why = releases.tool_missing(rel.kind)
    if why:
        pytest.skip(f"cannot build {rel.name} {rel.vsn}: {why}")
    return releases.tarball(rel.name, rel.vsn)


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory):
    """``unpacked(rel) -> Path``: the tarball of ``rel`` extracted with our extract(), once per module."""
    cache: Dict[str, Path] = {}

    def get(rel: releases.Release) -> Path:
        key = f"{rel.name}-{rel.vsn}"
        if key not in cache:
            dest = tmp_path_factory.mktemp("unpacked") / key
            extract(_tarball(rel), dest)
            cache[key] = dest
        return cache[key]

    return get


@pytest.fixture(scope="module")
def opened():
    """``opened(rel) -> Release`` read from the tarball, once per module."""
    cache: Dict[str, Release] = {}

    def get(rel: releases.Release) -> Release:
        key = f"{rel.name}-{rel.vsn}"
        if key not in cache:
            cache[key] = open_release(_tarball(rel))
        return cache[key]

    return get


def _installed_app_vsn(app: str) -> str:
    """The version of ``app`` in the installed OTP (or Elixir)."""
    found = sorted((otp_root() / "lib").glob(f"{app}-*"))
    if found:
        assert len(found) == 1, found
        return found[0].name[len(app) + 1:]
    ex = elixir_root()
    assert ex is not None, f"{app} is neither an OTP nor an Elixir application here"
    app_file = ex / app / "ebin" / f"{app}.app"
    # Our reader is checked against file:consult/1 on this very file (tests/erlang).
    term = parse_one(app_file.read_bytes(), str(app_file))
    return text(dict(term[2])[Atom("vsn")])


@functools.cache
def _installed_erts() -> str:
    out = subprocess.run(
        ["erl", "-noshell", "-eval", 'io:format("~s", [erlang:system_info(version)]), halt().'],
        capture_output=True, check=True, timeout=60,
    ).stdout
    return out.decode()


def _reference(root: Path) -> tuple:
    out = run_escript("release_facts.escript", str(root)).decode()
    erts = ""
    beams: Dict[str, tuple] = {}
    for line in out.splitlines():
        kind, *rest = line.split()
        if kind == "erts":
            erts = rest[0]
        else:
            beams[rest[0]] = (rest[1], rest[2])
    return erts, beams


@pytest.mark.parametrize("rel", releases.RELEASES, ids=IDS)
def test_release_facts(rel: releases.Release, opened) -> None:
    release = opened(rel)
    assert (release.name, release.vsn) == (rel.name, rel.vsn)
    installed_erts = _installed_erts()
    assert release.erts_vsn == installed_erts
    assert release.erts_bundled is rel.include_erts
    assert release.otp_libs_bundled is rel.system_libs
    assert release.layout == ("mix" if rel.kind == "mix" else "relx")
    ours = releases.app_versions(rel.name, rel.vsn)
    assert {a.name: a.vsn for a in release.apps if a.name in ours} == ours
    for app in release.apps:
        assert app.bundled is (app.name in ours or rel.system_libs), app
        if app.name not in ours:
            assert app.vsn == _installed_app_vsn(app.name), app
    assert release.has_sasl
    assert release.missing_apps == ([] if rel.system_libs else [a.name for a in release.apps if a.name not in ours])
    assert release.start_erl == (installed_erts, rel.vsn)
    assert release.sys_config is not None and release.vm_args is not None
    assert release.relup is None  # the samples ship none on purpose
    assert release.warnings == []
    if rel.kind == "mix":
        assert release.releases_file is None
        assert release.app("iex").start_type == "none"
        assert release.consolidated, "a mix release has consolidated protocols"
        assert all(m.is_elixir for m in release.consolidated.values())
        assert {"Elixir.Enumerable", "Elixir.String.Chars"} <= set(release.consolidated)
    else:
        assert all(a.start_type == "permanent" for a in release.apps)
        assert release.consolidated == {}
        assert (release.releases_file is not None) is rel.system_libs  # relx omits it without OTP libs
        if release.releases_file is not None:
            [(tag, name, vsn, erts, libs, status)] = release.releases_file
            assert (tag, status) == (Atom("release"), Atom("permanent"))
            assert ("".join(name), "".join(vsn), "".join(erts)) == (rel.name, rel.vsn, installed_erts)
            assert [str(lib[0]) for lib in libs] == [a.name for a in release.apps]


def test_shop_modules(opened) -> None:
    for rel in releases.RELEASES:
        if rel.name not in ("shop", "shop_noerts"):
            continue
        release = opened(rel)
        mods = release.app("shop").modules
        cart = mods["shop_cart"]
        assert cart.is_special_process and cart.exports_code_change and cart.behaviours == ["gen_server"]
        assert not cart.is_supervisor and not cart.is_elixir and not cart.loads_nif
        assert "shop_price" in cart.imports and cart.imports == sorted(set(cart.imports))
        assert cart.vsn == [{"1.0.0": 1, "1.1.0": 2, "2.0.0": 3}[rel.vsn]]  # -vsn(N), see README
        sup = mods["shop_sup"]
        assert sup.is_supervisor and sup.is_special_process and sup.behaviours == ["supervisor"]
        assert not mods["shop_price"].is_special_process and mods["shop_price"].behaviours == []
        assert not mods["shop_app"].is_special_process  # an application callback is not a process
        if "shop_stats" in mods:  # gen_server without code_change/3 (optional since OTP 25)
            stats = mods["shop_stats"]
            assert stats.is_special_process and not stats.exports_code_change
        assert set(mods) == set(release.app("shop").listed_modules)
        assert not any(a.loads_nif for a in release.apps)
        if release.otp_libs_bundled:
            stdlib = release.app("stdlib").modules
            assert stdlib["supervisor"].is_special_process
            assert not stdlib["lists"].is_special_process
            assert release.app("kernel").modules["code_server"].exports_system_code_change


def test_exshop_modules(opened) -> None:
    for rel in releases.RELEASES:
        if rel.kind != "mix":
            continue
        release = opened(rel)
        mods = release.app("exshop").modules
        assert all(m.is_elixir for m in mods.values())
        counter = mods["Elixir.Exshop.Counter"]
        assert counter.behaviours == ["Elixir.GenServer"] and counter.is_special_process
        # `use GenServer` injects an overridable code_change/3, so even 0.1.0 exports it.
        assert counter.exports_code_change
        sup = mods["Elixir.Exshop.Supervisor"]
        assert sup.is_supervisor and sup.behaviours == ["Elixir.Supervisor"]
        assert mods["Elixir.Exshop.Application"].behaviours == ["Elixir.Application"]
        assert not mods["Elixir.Exshop.Application"].is_special_process
        assert not mods["Elixir.Exshop.Greeting"].is_special_process
        assert not release.app("stdlib").modules["lists"].is_elixir
        assert release.app("elixir").modules["Elixir.GenServer"].is_elixir


@pytest.mark.erlang
@pytest.mark.parametrize("rel", releases.RELEASES, ids=IDS)
def test_md5_and_terms_match_otp(rel: releases.Release, opened, unpacked) -> None:
    release = opened(rel)
    root = unpacked(rel)
    _erts, reference = _reference(root)
    ours = {m.path: (m.name, m.md5) for a in release.apps for m in a.modules.values()}
    ours.update({m.path: (m.name, m.md5) for m in release.consolidated.values()})
    assert len(reference) > 0
    assert ours == reference
    # Every term file, read by file:consult/1 and by us.
    files = {release.rel_file: release.rel}
    for app in release.apps:
        if app.app_spec is not None:
            files[app.app_file] = app.app_spec
    base = f"releases/{release.vsn}/"
    files[base + "sys.config"] = release.sys_config
    if release.releases_file is not None:
        files["releases/RELEASES"] = release.releases_file
    expected = consult([root / name for name in files])
    for name, term in files.items():
        assert expected[str(root / name)] == {"ok": [canon(term)]}, name


def _summary(release: Release) -> dict:
    return {
        "id": (release.name, release.vsn, release.erts_vsn, release.layout),
        "bundled": (release.erts_bundled, release.otp_libs_bundled, tuple(release.missing_apps)),
        "apps": [
            (a.name, a.vsn, a.start_type, a.bundled, canonical(a.app_spec), canonical(a.appup),
             sorted((m.name, m.md5, m.path, tuple(m.behaviours), m.is_special_process) for m in a.modules.values()))
            for a in release.apps
        ],
        "terms": [canonical(t) for t in (release.rel, release.sys_config, release.relup, release.releases_file)],
        "other": (release.vm_args, release.start_erl, release.has_sasl, release.warnings),
        "consolidated": sorted((m.name, m.md5) for m in release.consolidated.values()),
    }


@pytest.mark.parametrize("rel", releases.RELEASES, ids=IDS)
def test_directory_reads_like_the_tarball(rel: releases.Release, opened, unpacked) -> None:
    root = unpacked(rel)
    assert _summary(open_release(root)) == _summary(opened(rel))
    # our extract() kept the exec bits the release needs
    assert os.access(root / "bin" / rel.name, os.X_OK)
    if rel.include_erts:
        assert os.access(root / f"erts-{opened(rel).erts_vsn}" / "bin" / "beam.smp", os.X_OK)


def test_directory_with_two_versions(tmp_path: Path) -> None:
    old, new = releases.release("shop", "1.0.0"), releases.release("shop", "1.1.0")
    root = tmp_path / "shop"
    extract(_tarball(old), root)
    staging = tmp_path / "staging"
    extract(_tarball(new), staging)
    shutil.copytree(staging / "releases" / "1.1.0", root / "releases" / "1.1.0")
    shutil.copytree(staging / "lib", root / "lib", dirs_exist_ok=True)
    default = open_release(root)
    assert default.vsn == "1.0.0" and default.app("shop").vsn == "0.1.0"
    assert default.start_erl[1] == "1.0.0"
    upgraded = open_release(root, vsn="1.1.0")
    assert upgraded.vsn == "1.1.0"
    assert upgraded.app_versions == {**default.app_versions, "shop": "0.2.0", "shop_audit": "0.1.0"}
    assert "shop_stats" in upgraded.app("shop").modules and "shop_stats" not in default.app("shop").modules
    assert open_release(root, name="shop", vsn="1.0.0").vsn == "1.0.0"
    (root / "releases" / "start_erl.data").unlink()
    with pytest.raises(ReleaseError, match=r"several releases found \(shop 1\.0\.0, shop 1\.1\.0"):
        open_release(root)


def test_open_and_read_every_module_timing(record_property) -> None:
    tarball = _tarball(releases.release("shop", "2.0.0"))
    started = time.perf_counter()
    release = open_release(tarball)
    opened_at = time.perf_counter()
    count = 0
    for app in release.apps:
        for module in app.modules.values():
            facts = (module.md5, module.behaviours, module.is_special_process, module.imports, module.loads_nif,
                     module.is_elixir, module.is_supervisor)
            assert len(facts[0]) == 32
            count += 1
    done = time.perf_counter()
    record_property("open_release_s", round(opened_at - started, 3))
    record_property("all_modules_s", round(done - opened_at, 3))
    record_property("modules", count)
    print(f"shop-2.0.0: open_release {opened_at - started:.3f}s, {count} modules {done - opened_at:.3f}s")
    assert count > 150  # kernel, stdlib and sasl are bundled
    assert done - started < 30, "reading a release should take seconds, not minutes"
