# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release model on small synthetic releases (beams built here are minimal containers; real
ones are covered by the integration tests on release tarballs)."""
from __future__ import annotations

import gzip
import struct
import tarfile
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup import diff_app
from ansible_collections.erlang.otp.plugins.module_utils._archive import DirectorySource, TarballSource
from ansible_collections.erlang.otp.plugins.module_utils._beam import BeamError, read_beam
from ansible_collections.erlang.otp.plugins.module_utils._release import (
    Module,
    ModuleFacts,
    ReleaseError,
    _quick_look,
    open_release,
    read_release,
    wanted_member,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import TermSyntaxError
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom


def rel_text(name: str, vsn: str, apps: str, erts: str = "13.1.5") -> str:
    return f'{{release, {{"{name}", "{vsn}"}}, {{erts, "{erts}"}}, [{apps}]}}.\n'


def app_text(name: str, vsn: str, modules: str = "") -> str:
    return f'{{application, {name}, [{{description, "d"}}, {{vsn, "{vsn}"}}, {{modules, [{modules}]}}, ' \
        f'{{applications, [kernel, stdlib]}}]}}.\n'


BASE_APPS = '{kernel, "8.5.3"}, {stdlib, "4.2"}, {demo, "1.0.0"}'


def write(root: Path, files: dict) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def demo_files(vsn: str = "1.0.0", apps: str = BASE_APPS) -> dict:
    return {
        f"releases/{vsn}/demo.rel": rel_text("demo", vsn, apps),
        "lib/demo-1.0.0/ebin/demo.app": app_text("demo", "1.0.0"),
        "lib/kernel-8.5.3/ebin/kernel.app": app_text("kernel", "8.5.3"),
        "lib/stdlib-4.2/ebin/stdlib.app": app_text("stdlib", "4.2"),
    }


def as_tarball(root: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for item in sorted(root.rglob("*")):
            tar.add(item, arcname="./" + item.relative_to(root).as_posix(), recursive=False)
    return path


@pytest.fixture(params=["dir", "tarball"])
def opener(request, tmp_path: Path):
    """``opener(files, **kw)``: write ``files`` into a root and read the release from it."""

    def open_(files: dict, **kwargs):
        root = write(tmp_path / "root", files)
        if request.param == "dir":
            return read_release(DirectorySource(root), **kwargs)
        return read_release(TarballSource(as_tarball(root, tmp_path / "r.tar.gz"), want=wanted_member), **kwargs)

    return open_


def test_basic_release(opener) -> None:
    files = demo_files(apps='{kernel, "8.5.3"}, {stdlib, "4.2"}, {sasl, "4.2", load}, '
                            '{demo, "1.0.0", temporary, [inc]}, {inc, "2.0", none, []}')
    files.update(
        {
            "releases/start_erl.data": "13.1.5 1.0.0\n",
            "releases/RELEASES": '[{release,"demo","1.0.0","13.1.5",[],permanent}].\n',
            "releases/1.0.0/sys.config": "%% comment\n[{demo, [{port, 8080}]}].\n",
            "releases/1.0.0/vm.args": "-name demo@127.0.0.1\n",
            "releases/1.0.0/relup": '{"1.0.0", [], []}.\n',
            "erts-13.1.5/bin/beam.smp": "x",
            "lib/demo-1.0.0/priv/demo_nif.so": "elf",
            "lib/demo-1.0.0/ebin/demo.appup": '{"1.0.0", [], []}.\n',
        }
    )
    rel = opener(files)
    assert (rel.name, rel.vsn, rel.erts_vsn, rel.layout) == ("demo", "1.0.0", "13.1.5", "relx")
    assert rel.erts_bundled
    assert [(a.name, a.vsn, a.start_type, a.bundled) for a in rel.apps] == [
        ("kernel", "8.5.3", "permanent", True),
        ("stdlib", "4.2", "permanent", True),
        ("sasl", "4.2", "load", False),
        ("demo", "1.0.0", "temporary", True),
        ("inc", "2.0", "none", False),
    ]
    assert rel.app("demo").included_applications == ["inc"]
    assert rel.app("inc").included_applications == []
    assert rel.app("kernel").included_applications is None
    assert rel.missing_apps == ["sasl", "inc"]
    assert not rel.otp_libs_bundled
    assert rel.has_sasl
    demo = rel.app("demo")
    assert demo.app_spec[1] == Atom("demo")
    assert demo.applications == ["kernel", "stdlib"] and demo.description == "d"
    assert demo.appup == ("1.0.0", [], [])
    assert demo.loads_nif  # priv/*.so, no beam needed
    assert demo.modules == {} and demo.module_names == []
    assert rel.app("sasl").app_spec is None and rel.app("sasl").modules == {}
    assert rel.sys_config == [(Atom("demo"), [(Atom("port"), 8080)])]
    assert rel.vm_args == "-name demo@127.0.0.1\n"
    assert rel.relup == ("1.0.0", [], [])
    assert rel.releases_file[0][1] == "demo"
    assert rel.start_erl == ("13.1.5", "1.0.0")
    assert rel.consolidated == {}
    assert rel.warnings == []
    assert rel.app_versions["demo"] == "1.0.0"
    with pytest.raises(KeyError, match="no application 'nope'"):
        rel.app("nope")


def test_optional_files_absent(opener) -> None:
    rel = opener(demo_files())
    assert rel.relup is None and rel.sys_config is None and rel.vm_args is None
    assert rel.releases_file is None and rel.start_erl is None
    assert not rel.erts_bundled and rel.otp_libs_bundled and rel.missing_apps == []
    assert not rel.has_sasl and not rel.app("demo").loads_nif


def test_mix_layout(opener) -> None:
    files = demo_files()
    files["releases/COOKIE"] = "SECRET"
    assert opener(files).layout == "mix"
    files = demo_files()
    files["releases/1.0.0/env.sh"] = "#!/bin/sh\n"
    assert opener(files).layout == "mix"


def test_erts_dir_without_bin_files_is_not_bundled(opener) -> None:
    files = demo_files()
    files["erts-13.1.5/lib/x"] = "y"
    assert not opener(files).erts_bundled


def two_versions() -> dict:
    files = demo_files()
    files["releases/1.1.0/demo.rel"] = rel_text("demo", "1.1.0", BASE_APPS)
    return files


def test_several_versions_need_start_erl(opener) -> None:
    with pytest.raises(ReleaseError, match=r"several releases found \(demo 1.0.0, demo 1.1.0; versions 1.0.0, 1.1.0\)"):
        opener(two_versions())


def test_start_erl_picks_the_version(opener) -> None:
    files = two_versions()
    files["releases/start_erl.data"] = "13.1.5 1.1.0"
    assert opener(files).vsn == "1.1.0"
    rel = opener(files, vsn="1.0.0")
    assert rel.vsn == "1.0.0"
    assert any("start_erl.data" in w and "1.1.0" in w for w in rel.warnings)
    assert opener(files, name="demo").vsn == "1.1.0"


def test_start_erl_naming_an_absent_version_does_not_pick(opener) -> None:
    files = two_versions()
    files["releases/start_erl.data"] = "13.1.5 9.9.9"
    with pytest.raises(ReleaseError, match="several releases"):
        opener(files)


def test_unknown_version_lists_what_exists(opener) -> None:
    with pytest.raises(ReleaseError, match=r"no releases/<vsn>/<name>.rel for demo 2.0.0 \(found: demo 1.0.0\)"):
        opener(demo_files(), name="demo", vsn="2.0.0")
    with pytest.raises(ReleaseError, match=r"for other \(found: demo 1.0.0\)"):
        opener(demo_files(), name="other")


def test_no_release_at_all(opener) -> None:
    with pytest.raises(ReleaseError, match=r"found: none"):
        opener({"lib/x-1/ebin/x.app": "{application, x, []}.\n"})


def test_top_level_rel_file_is_not_a_version(opener) -> None:
    files = demo_files()
    files["releases/demo.rel"] = rel_text("demo", "1.0.0", BASE_APPS)
    assert opener(files).vsn == "1.0.0"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (rel_text("other", "1.0.0", BASE_APPS), "says release 'other' version '1.0.0', but its path says 'demo'"),
        (rel_text("demo", "1.0.1", BASE_APPS), "version '1.0.1', but its path says 'demo' version '1.0.0'"),
        ('{release, "demo", "1.0.0"}.\n', "expected {release, {Name, Vsn}, {erts, ErtsVsn}, [AppSpec]}"),
        ('{release, {"demo", "1.0.0"}, {erts, 13}, []}.\n', "expected {release"),
        (rel_text("demo", "1.0.0", '{kernel, "8.5.3", sometimes}'), "unknown start type 'sometimes'"),
        (rel_text("demo", "1.0.0", '{kernel, 8}'), "bad application entry {kernel,8}"),
        (rel_text("demo", "1.0.0", '{kernel, "8.5.3", permanent, [a], x}'), "bad application entry"),
        (rel_text("demo", "1.0.0", '{kernel, "8.5.3"}, {kernel, "8.5.3"}'), "kernel is listed twice"),
    ],
)
def test_bad_rel(opener, content: str, message: str) -> None:
    files = demo_files()
    files["releases/1.0.0/demo.rel"] = content
    with pytest.raises(ReleaseError) as err:
        opener(files)
    assert message in str(err.value)
    assert "releases/1.0.0/demo.rel" in str(err.value)


def test_app_vsn_mismatch(opener) -> None:
    files = demo_files()
    files["lib/demo-1.0.0/ebin/demo.app"] = app_text("demo", "1.0.1")
    with pytest.raises(ReleaseError) as err:
        opener(files)
    text = str(err.value)
    assert "lib/demo-1.0.0/ebin/demo.app" in text and "'1.0.1'" in text and "lists '1.0.0'" in text


def test_app_file_for_another_application(opener) -> None:
    files = demo_files()
    files["lib/demo-1.0.0/ebin/demo.app"] = app_text("other", "1.0.0")
    with pytest.raises(ReleaseError, match="describes application other, not demo"):
        opener(files)


def test_listed_module_without_beam_is_a_warning(opener) -> None:
    files = demo_files()
    files["lib/demo-1.0.0/ebin/demo.app"] = app_text("demo", "1.0.0", "demo_app, demo_sup")
    rel = opener(files)
    assert rel.app("demo").listed_modules == ["demo_app", "demo_sup"]
    assert len(rel.warnings) == 2
    assert all("lib/demo-1.0.0/ebin/demo.app" in w and ".beam is missing" in w for w in rel.warnings)


def test_lib_dir_without_app_file_is_a_warning(opener) -> None:
    files = demo_files()
    del files["lib/demo-1.0.0/ebin/demo.app"]
    files["lib/demo-1.0.0/ebin/README"] = "x"
    rel = opener(files)
    assert rel.app("demo").bundled and rel.app("demo").app_spec is None
    assert any("no ebin/demo.app" in w for w in rel.warnings)


def test_duplicated_module_names_both_apps(opener) -> None:
    files = demo_files()
    files["lib/demo-1.0.0/ebin/demo.app"] = app_text("demo", "1.0.0", "lists")
    files["lib/stdlib-4.2/ebin/stdlib.app"] = app_text("stdlib", "4.2", "lists")
    with pytest.raises(ReleaseError) as err:
        opener(files)
    text = str(err.value)
    assert "duplicated module lists in applications stdlib" in text and "and demo" in text
    assert "lib/stdlib-4.2" in text and "lib/demo-1.0.0" in text


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("lib/demo-1.0.0/ebin/demo.app", 3),
        ("releases/1.0.0/demo.rel", 2),
        ("releases/1.0.0/sys.config", 4),
        ("releases/RELEASES", 1),
        ("lib/demo-1.0.0/ebin/demo.appup", 2),
    ],
)
def test_syntax_error_names_file_and_line(opener, tmp_path: Path, name: str, line: int) -> None:
    files = demo_files()
    files[name] = "\n" * (line - 1) + "{broken, [}.\n"
    with pytest.raises(TermSyntaxError) as err:
        opener(files)
    assert err.value.line == line
    assert err.value.source.endswith(name)
    assert str(tmp_path) in err.value.source
    assert f"{name}:{line}:" in str(err.value)


def test_tarball_source_name_in_errors(tmp_path: Path) -> None:
    files = demo_files()
    files["lib/demo-1.0.0/ebin/demo.app"] = "{application, demo,\n [oops}.\n"
    root = write(tmp_path / "root", files)
    tarball = as_tarball(root, tmp_path / "demo-1.0.0.tar.gz")
    with pytest.raises(TermSyntaxError) as err:
        open_release(tarball)
    assert err.value.source == f"{tarball}:lib/demo-1.0.0/ebin/demo.app"
    assert err.value.line == 2


def test_bad_start_erl(opener) -> None:
    files = demo_files()
    files["releases/start_erl.data"] = "13.1.5\n"
    with pytest.raises(ReleaseError, match=r"start_erl.data: expected '<erts vsn> <release vsn>'"):
        opener(files)


def test_open_release_picks_the_source(tmp_path: Path) -> None:
    root = write(tmp_path / "root", demo_files())
    assert isinstance(open_release(root).source, DirectorySource)
    assert isinstance(open_release(as_tarball(root, tmp_path / "t.tar.gz")).source, TarballSource)


def test_wanted_member() -> None:
    assert wanted_member("releases/1.0.0/sys.config")
    assert wanted_member("lib/shop-1/ebin/shop.beam")
    assert not wanted_member("lib/shop-1/priv/x.so")
    assert not wanted_member("lib/shop-1/ebin/sub/x.beam")
    assert not wanted_member("erts-13.1.5/bin/beam.smp")


# --- modules: read when the application's modules are asked for, parsed on first use ---------


def beam_file(module: str, *, code: bytes = b"\0" * 24, strt: bytes = b"", cinf: bytes = b"",
              atom_chunk: str = "AtU8", atoms: bytes | None = None, extra: list = ()) -> bytes:
    """A minimal BEAM container holding ``module`` (what read_beam needs, plus a CInf chunk)."""
    if atoms is None:
        raw = module.encode("utf-8" if atom_chunk == "AtU8" else "latin-1")
        atoms = struct.pack(">i", 1) + bytes([len(raw)]) + raw
    chunks = [(atom_chunk, atoms), ("Code", code), ("StrT", strt), ("ImpT", b"\0\0\0\0"),
              ("ExpT", b"\0\0\0\0"), ("CInf", cinf), *extra]
    body = b"".join(c.encode() + struct.pack(">I", len(d)) + d + b"\0" * (-len(d) % 4) for c, d in chunks)
    return b"FOR1" + struct.pack(">I", len(body) + 4) + b"BEAM" + body


GOOD = beam_file("demo")
QUICK_LOOK_CASES = {
    "AtU8": beam_file("démo_ü"),
    "Atom (latin-1)": beam_file("dém", atom_chunk="Atom"),
    "AtU8 wins over Atom": beam_file("demo", extra=[("Atom", struct.pack(">i", 1) + b"\x05other")]),
    "first AtU8 counts": beam_file("demo", extra=[("AtU8", struct.pack(">i", 1) + b"\x05other")]),
    "OTP 28 compact atom table": beam_file("x", atoms=struct.pack(">i", -1) + bytes([4 << 4]) + b"demo"),
    "gzip-compressed": gzip.compress(GOOD, mtime=0),
    "empty file": b"",
    "not a beam": b"FOR1\0\0\0\4ELF!" + GOOD[12:],
    "truncated chunk": GOOD[:-3],
    "truncated chunk header": GOOD + b"Li",
    "no atom table": GOOD.replace(b"AtU8", b"XtU8"),
    "no Code chunk": GOOD.replace(b"Code", b"Cxde"),
    "empty atom table": beam_file("x", atoms=struct.pack(">i", 0)),
    "first atom past the chunk": beam_file("x", atoms=struct.pack(">i", 1) + b"\x09demo"),
    "first atom not UTF-8": beam_file("x", atoms=struct.pack(">i", 1) + b"\x02\xff\xfe"),
}


@pytest.mark.parametrize("case", sorted(QUICK_LOOK_CASES))
def test_quick_module_name_agrees_with_read_beam(case: str) -> None:
    """The quick look names the module exactly when it can, and leaves every doubt to read_beam."""
    data = QUICK_LOOK_CASES[case]
    try:
        expected = str(read_beam(data, case).module)
    except BeamError:
        expected = None
    look = _quick_look(data)
    name = None if look is None else look[0]
    assert name is None or name == expected
    if case in ("AtU8", "Atom (latin-1)", "AtU8 wins over Atom", "first AtU8 counts"):
        assert name == expected and name is not None


def beam_release(tmp_path: Path, vsn: str, beams: dict, app_vsn: str = "1.0.0") -> object:
    rel = f'{{demo, "{app_vsn}"}}'
    files = {
        f"releases/{vsn}/demo.rel": rel_text("demo", vsn, rel),
        f"lib/demo-{app_vsn}/ebin/demo.app": app_text("demo", app_vsn),
    }
    files.update({f"lib/demo-{app_vsn}/ebin/{name}.beam": data for name, data in beams.items()})
    return open_release(write(tmp_path / vsn, files))


def test_module_in_a_misnamed_file_is_keyed_by_its_name(tmp_path: Path) -> None:
    rel = beam_release(tmp_path, "1.0.0", {"demo": GOOD, "other": beam_file("renamed"),
                                           "packed": gzip.compress(beam_file("packed"), mtime=0)})
    modules = rel.app("demo").modules
    assert sorted(modules) == ["demo", "packed", "renamed"]
    assert modules["renamed"].path == "lib/demo-1.0.0/ebin/other.beam"
    assert [w.split(": ", 1)[1] for w in rel.warnings] == ["the file holds module 'renamed', not 'other'"]
    assert modules["packed"].data == beam_file("packed")  # inflated
    assert modules["demo"].data == GOOD and modules["demo"].md5 == read_beam(GOOD).md5_hex


@pytest.mark.parametrize("case", ["truncated chunk", "no atom table", "not a beam", "first atom not UTF-8"])
def test_broken_beam_is_refused_when_modules_are_read(tmp_path: Path, case: str) -> None:
    rel = beam_release(tmp_path, "1.0.0", {"demo": GOOD, "broken": QUICK_LOOK_CASES[case]})
    with pytest.raises(BeamError, match=r"lib/demo-1\.0\.0/ebin/broken\.beam: "):
        rel.app("demo").modules  # noqa: B018


def test_identical_files_are_never_parsed(tmp_path: Path) -> None:
    """diff_app compares bytes: equal files first, then the chunks MD5 would hash; no module is parsed."""
    same = beam_file("same")
    old = beam_release(tmp_path, "1.0.0", {"same": same, "debug": beam_file("debug"), "code": beam_file("code"),
                                           "cinf": beam_file("cinf", cinf=b"old path")})
    new = beam_release(tmp_path, "1.1.0", {"same": same, "debug": beam_file("debug", extra=[("Dbgi", b"x")]),
                                           "code": beam_file("code", code=b"\1" * 24),
                                           "cinf": beam_file("cinf", cinf=b"new path!")}, app_vsn="1.1.0")
    diff = diff_app(old.app("demo"), new.app("demo"))
    assert (diff.changed, diff.debug_only, diff.added, diff.deleted) == (["code"], ["debug"], [], [])
    for rel in (old, new):
        modules = rel.app("demo").modules
        assert all(m._beam is None for m in modules.values())
        assert modules["code"].md5 == read_beam(modules["code"].data).md5_hex and modules["code"]._beam is None
        assert modules["code"].imports == []
        assert modules["code"]._beam is not None  # parsed on first use


def funt(*entries: tuple) -> bytes:
    """A FunT chunk: (function, arity, offset, index, nfree, old uniq) per entry."""
    return struct.pack(">I", len(entries)) + b"".join(struct.pack(">IIIIII", *e) for e in entries)


COMPARED = {
    "base": beam_file("m"),
    "other CInf": beam_file("m", cinf=b"elsewhere"),
    "other Dbgi": beam_file("m", extra=[("Dbgi", b"debug")]),
    "other Code": beam_file("m", code=b"\2" * 24),
    "FunT": beam_file("m", extra=[("FunT", funt((1, 1, 2, 0, 0, 7), (1, 2, 3, 1, 0, 7)))]),
    "FunT, other old uniq": beam_file("m", extra=[("FunT", funt((1, 1, 2, 0, 0, 9), (1, 2, 3, 1, 0, 9)))]),
    "FunT, other arity": beam_file("m", extra=[("FunT", funt((1, 2, 2, 0, 0, 7), (1, 2, 3, 1, 0, 7)))]),
    "Atom table": beam_file("m", atom_chunk="Atom"),
    "chunk boundary moved": beam_file("m", code=b"\0" * 23, strt=b"\0"),
    "gzip": gzip.compress(beam_file("m", cinf=b"elsewhere"), mtime=0),
}


def test_module_comparisons_agree_with_the_md5s() -> None:
    """same_code/same_chunks (bytes, no parsing) answer exactly as comparing md5/chunks_md5 of
    the parsed beams; md5 of an unparsed module is the beam's."""
    def fresh(data: bytes) -> Module:
        return Module(None, "lib/x-1/ebin/m.beam", "m.beam", data=data)

    def parsed(data: bytes) -> Module:
        return Module(read_beam(data, "m.beam"), "lib/x-1/ebin/m.beam", "m.beam")

    for a in COMPARED.values():
        assert fresh(a).md5 == read_beam(a).md5_hex == parsed(a).md5
        for b in COMPARED.values():
            code = parsed(a).md5 == parsed(b).md5
            chunks = parsed(a).chunks_md5 == parsed(b).chunks_md5
            for x, y in ((fresh(a), fresh(b)), (parsed(a), fresh(b)), (fresh(a), parsed(b))):
                assert (x.same_code(y), x.same_chunks(y)) == (code, chunks)
            facts = ModuleFacts("m", parsed(b).md5, chunks_md5=parsed(b).chunks_md5)
            assert (fresh(a).same_code(facts), fresh(a).same_chunks(facts)) == (code, chunks)
            assert (facts.same_code(fresh(a)), facts.same_chunks(fresh(a))) == (code, chunks)
    base = COMPARED["base"]
    assert fresh(base).same_code(fresh(COMPARED["FunT"])) is False
    assert fresh(COMPARED["FunT"]).same_code(fresh(COMPARED["FunT, other old uniq"]))
    assert not fresh(COMPARED["FunT"]).same_chunks(fresh(COMPARED["FunT, other old uniq"]))
    assert fresh(base).same_chunks(fresh(COMPARED["other CInf"])) and fresh(base).same_chunks(fresh(COMPARED["gzip"]))
    assert not fresh(base).same_chunks(fresh(COMPARED["other Dbgi"]))
    assert fresh(base).same_code(fresh(COMPARED["chunk boundary moved"]))  # as beam_lib:md5/1 says
