# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The BEAM reader against ``beam_lib`` and the loader, on every module OTP and Elixir ship."""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import subprocess

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._beam import Beam, read_beam, read_beam_file
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.etf_canon import canon
from tests.support.otp import elixir_root, otp_root, requires_erlang, run_escript

pytestmark = [pytest.mark.erlang, requires_erlang]

FIELDS = (
    "module",
    "md5",
    "exports",
    "imports",
    "behaviours",
    "attributes",
    "compile_info",
    "locals",
    "atoms",
    "literals",
    "chunks",
)


def _key(pair: tuple) -> tuple:
    return tuple(str(x) if isinstance(x, Atom) else x for x in pair)


def our_facts(beam: Beam) -> dict:
    """The same fields as beam_facts.escript prints, computed by the Python reader."""
    literals = hashlib.md5("".join(canon(t) + "\n" for t in beam.literals()).encode()).hexdigest()
    return {
        "module": canon(beam.module),
        "md5": beam.md5_hex.upper(),
        "exports": canon(sorted(beam.exports, key=_key)),
        "imports": canon(sorted(beam.imports, key=_key)),
        "behaviours": canon(beam.behaviours),
        "attributes": canon(sorted(beam.attribute_map().items(), key=_key)),
        "compile_info": canon(beam.compile_info),
        "locals": canon(sorted(beam.locals, key=_key)),
        "atoms": canon(list(enumerate(beam.atoms, 1))),
        "literals": literals.upper(),
        "chunks": ",".join(beam.chunk_ids),
    }


def otp_facts(paths: list) -> dict:
    out = run_escript("beam_facts.escript", stdin="".join(f"{p}\n" for p in paths).encode(), timeout=900)
    facts = {}
    for line in out.decode("ascii").splitlines():
        path, *fields = line.split("\t")
        assert fields[0] != "ERROR", f"beam_lib cannot read {path}: {fields[1:]}"
        assert len(fields) == len(FIELDS), line[:300]
        facts[path] = dict(zip(FIELDS, fields))
    return facts


def compare(paths: list) -> int:
    reference = otp_facts(paths)
    assert sorted(reference) == sorted(str(p) for p in paths)
    mismatches = []
    for path in paths:
        ours = our_facts(read_beam_file(str(path)))
        theirs = reference[str(path)]
        bad = [f for f in FIELDS if ours[f] != theirs[f]]
        if bad:
            ours_text = [ours[f][:200] for f in bad]
            theirs_text = [theirs[f][:200] for f in bad]
            mismatches.append(f"{path}: {bad}: ours {ours_text} beam_lib {theirs_text}")
    assert not mismatches, "\n".join(mismatches[:20])
    return len(paths)


@functools.cache
def shipped_beams() -> tuple:
    paths = sorted((otp_root() / "lib").glob("*/ebin/*.beam"))
    assert len(paths) > 1000, f"expected OTP to ship over 1000 modules, found {len(paths)}"
    if elixir_root() is not None:
        elixir = sorted(elixir_root().glob("*/ebin/*.beam"))
        assert len(elixir) > 100
        paths += elixir
    return tuple(paths)


def test_every_shipped_beam_reads_as_beam_lib_reads_it():
    assert compare(list(shipped_beams())) == len(shipped_beams())


def _member(item: object, list_text: str) -> bool:
    """Whether the canonical text of a flat list of atoms or {atom, ...} tuples holds ``item``."""
    text = canon(item)
    return any(f"{a}{text}{b}" in list_text for a in "(," for b in ",)")


def test_predicates_agree_with_beam_lib_facts():
    # The appup helpers, checked on what beam_lib says of every shipped module.
    reference = otp_facts([str(p) for p in shipped_beams()])
    supervisors = nifs = code_change = elixir = 0
    for path in shipped_beams():
        beam = read_beam_file(str(path))
        facts = reference[str(path)]
        sup = any(_member(Atom(b), facts["behaviours"]) for b in ("supervisor", "Elixir.Supervisor"))
        assert beam.is_supervisor == sup, path
        nif = _member((Atom("erlang"), Atom("load_nif"), 2), facts["imports"])
        assert beam.loads_nif == nif, path
        cc = any(_member((Atom("code_change"), n), facts["exports"]) for n in (3, 4))
        assert beam.exports_code_change == cc, path
        scc = _member((Atom("system_code_change"), 4), facts["exports"])
        assert beam.exports_system_code_change == scc, path
        assert beam.is_elixir == path.name.startswith("Elixir."), path
        supervisors += sup
        nifs += nif
        code_change += cc
        elixir += beam.is_elixir
    assert supervisors > 20 and nifs > 5 and code_change > 50
    assert elixir == (0 if elixir_root() is None else sum(p.name.startswith("Elixir.") for p in shipped_beams()))


def loaded_md5(beam_dirs: list, modules: list) -> dict:
    """``Module:module_info(md5)`` of each module, loaded into a fresh node (no distribution)."""
    code = (
        "[begin {module, M} = code:ensure_loaded(M), "
        'io:format("~s ~s~n", [M, binary:encode_hex(M:module_info(md5))]) end '
        f"|| M <- [{','.join(repr(str(m)).replace(chr(34), '') for m in modules)}]], halt()."
    )
    args = ["erl", "-noshell"]
    for directory in beam_dirs:
        args += ["-pa", str(directory)]
    proc = subprocess.run([*args, "-eval", code], capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace") + proc.stdout.decode(errors="replace")
    result = {}
    for line in proc.stdout.decode().splitlines():
        name, digest = line.rsplit(" ", 1)
        result[name] = digest.lower()
    return result


def test_md5_equals_module_info_md5_of_the_loaded_module():
    names = [
        "lists",
        "gen_server",
        "supervisor",
        "crypto",
        "ssl",
        "beam_lib",
        "erl_eval",
        "asn1rt_nif",
        "mnesia",
        "dbg",
        "wx",
        "snmp",
        "os_mon",
        "public_key",
        "xmerl_scan",
    ]
    beams = {}
    for path in shipped_beams():
        if path.stem in names and path.stem not in beams:
            beams[path.stem] = read_beam_file(str(path))
    assert len(beams) == len(names)
    live = loaded_md5([], [Atom(n) for n in names])
    assert {n: beams[n].md5_hex for n in names} == {n: live[n] for n in names}


def disasm_on_load(paths: list) -> dict:
    out = run_escript("beam_on_load.escript", stdin="".join(f"{p}\n" for p in paths).encode(), timeout=900)
    return dict(line.split("\t") for line in out.decode().splitlines())


def _on_load_text(beam: Beam) -> str:
    return "none" if beam.on_load is None else f"{beam.on_load[0]!s}/{beam.on_load[1]}"


def test_on_load_found_in_the_code_as_beam_disasm_finds_it():
    # Walking every module's code is the slow part: all modules with an on_load function, plus a
    # fixed sample of the others (beam_disasm is slower still).
    beams = [read_beam_file(str(p)) for p in shipped_beams()]
    with_on_load = [b for b in beams if b.on_load is not None]
    assert len(with_on_load) >= 3  # crypto, asn1rt_nif, dyntrace, ...
    others = [b for b in beams if b.on_load is None][::25]
    sample = with_on_load + others
    reference = disasm_on_load([b.source for b in sample])
    assert {b.source: _on_load_text(b) for b in sample} == reference
    crypto = next(b for b in beams if b.module == Atom("crypto"))
    assert crypto.loads_nif and crypto.on_load is not None


# Modules with unusual features, compiled here.

SOURCES = {
    "plain_mod": """
-module(plain_mod).
-export([f/1, code_change/3]).
-vsn("1.2.3").
-my_attr([a, b]).
-my_attr({x, "y"}).
f(X) -> lists:map(fun(Y) -> {Y, X} end, [1, 2]).
code_change(_, S, _) -> {ok, S}.
""",
    "multi_beh": """
-module(multi_beh).
-behaviour(gen_server).
-behavior(supervisor).
-behaviour(application).
-export([init/1, handle_call/3, handle_cast/2, start/2, stop/1]).
init(A) -> {ok, A}.
handle_call(_, _, S) -> {reply, ok, S}.
handle_cast(_, S) -> {noreply, S}.
start(_, _) -> ok.
stop(_) -> ok.
""",
    "nif_mod": """
-module(nif_mod).
-on_load(init/0).
-export([add/2]).
init() -> _ = (catch erlang:load_nif("/nonexistent/nif_mod", 0)), ok.
add(_, _) -> erlang:nif_error(not_loaded).
""",
    "uni_mod": """
%% -*- coding: utf-8 -*-
-module(uni_mod).
-export(['日本語'/0, 'ünï'/1, system_code_change/4]).
-'åttr'('välue').
'日本語'() -> ['ünï', <<"bin"/utf8>>, #{'ключ' => [1.5, -3]}, fun 'ünï'/1].
'ünï'(X) -> {'😀', X}.
system_code_change(S, _, _, _) -> {ok, S}.
""",
    "funs_mod": """
-module(funs_mod).
-export([mk/1]).
mk(N) -> [fun() -> N end, fun(X) -> X + N end, fun lists:reverse/1, <<N:3>>, 16#FFFFFFFFFFFFFFFFFFFF].
""",
}

VARIANTS = {
    "debug": ["+debug_info"],
    "nodebug": [],
    "compressed": ["+compressed", "+debug_info"],
    "noline": ["+no_line_info", "+deterministic"],
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    if shutil.which("erlc") is None:
        pytest.skip("erlc is not installed")
    root = tmp_path_factory.mktemp("beams")
    src = root / "src"
    src.mkdir()
    for name, text in SOURCES.items():
        (src / f"{name}.erl").write_text(text, encoding="utf-8")
    dirs = {}
    for variant, opts in VARIANTS.items():
        out = root / variant
        out.mkdir()
        subprocess.run(
            ["erlc", *opts, "-o", str(out), *sorted(str(p) for p in src.glob("*.erl"))],
            check=True,
            capture_output=True,
            timeout=300,
        )
        dirs[variant] = out
    # beam_lib:strip/1 output: gzip-compressed, only the significant chunks.
    stripped = root / "stripped"
    shutil.copytree(dirs["debug"], stripped)
    code = f'{{ok, _}} = beam_lib:strip_files(filelib:wildcard("{stripped}/*.beam")), halt().'
    subprocess.run(["erl", "-noshell", "-eval", code], check=True, capture_output=True, timeout=120)
    dirs["stripped"] = stripped
    return dirs


def test_compiled_variants_read_as_beam_lib_reads_them(compiled):
    paths = sorted(p for d in compiled.values() for p in d.glob("*.beam"))
    assert len(paths) == len(SOURCES) * len(compiled)
    assert compare(paths) == len(paths)
    # The compressed and stripped variants really are gzip files.
    for variant in ("compressed", "stripped"):
        assert (compiled[variant] / "plain_mod.beam").read_bytes()[:2] == b"\x1f\x8b"


def test_compiled_variants_on_load_as_beam_disasm_finds_it(compiled):
    paths = sorted(str(p) for d in compiled.values() for p in d.glob("*.beam"))
    reference = disasm_on_load(paths)
    assert {p: _on_load_text(read_beam_file(p)) for p in paths} == reference
    assert sum(v == "init/0" for v in reference.values()) == len(compiled)


def test_compiled_variants_md5_equals_loaded_md5(compiled):
    for variant, directory in compiled.items():
        live = loaded_md5([directory], [Atom(n) for n in SOURCES])
        for name in SOURCES:
            assert read_beam_file(str(directory / f"{name}.beam")).md5_hex == live[name], (variant, name)


def test_compiled_features(compiled):
    d = compiled["debug"]
    plain = read_beam_file(str(d / "plain_mod.beam"))
    assert plain.vsn == [ord(c) for c in "1.2.3"]  # a list value is stored as is, like beam_lib:version/1
    assert read_beam_file(str(d / "funs_mod.beam")).vsn == [int.from_bytes(plain_md5(d / "funs_mod.beam"), "big")]
    assert plain.attribute("my_attr") == [Atom("a"), Atom("b"), (Atom("x"), [ord("y")])]
    assert plain.exports_code_change and not plain.exports_system_code_change
    assert plain.has_chunk("FunT") and plain.on_load is None and not plain.is_elixir
    multi = read_beam_file(str(d / "multi_beh.beam"))
    assert multi.behaviours == [Atom("gen_server"), Atom("supervisor"), Atom("application")]
    assert multi.is_supervisor and not multi.exports_code_change
    nif = read_beam_file(str(d / "nif_mod.beam"))
    assert nif.on_load == (Atom("init"), 0) and nif.loads_nif
    # Without debug info the on_load function is only an instruction in the code.
    nodebug_nif = read_beam_file(str(compiled["nodebug"] / "nif_mod.beam"))
    assert nodebug_nif.loads_nif and nodebug_nif.on_load == (Atom("init"), 0)
    assert nodebug_nif._on_load_from_debug_info() is None  # its Dbgi holds no abstract code
    uni = read_beam_file(str(d / "uni_mod.beam"))
    assert (Atom("日本語"), 0) in uni.exports and uni.exports_system_code_change
    assert uni.attribute("åttr") == [Atom("välue")]
    assert any(isinstance(t, dict) and Atom("ключ") in t for t in _walk(uni.literals()))
    nodebug = read_beam_file(str(compiled["nodebug"] / "plain_mod.beam"))
    assert nodebug.md5 == plain.md5  # debug info is not part of the code MD5


def plain_md5(path) -> bytes:
    return read_beam_file(str(path)).md5


def _walk(terms):
    for t in terms:
        yield t
        if isinstance(t, (list, tuple)):
            yield from _walk(t)


def test_gzip_and_plain_bytes_give_the_same_module(compiled):
    data = (compiled["debug"] / "funs_mod.beam").read_bytes()
    assert read_beam(gzip.compress(data), "x").md5 == read_beam(data, "y").md5


@pytest.mark.skipif(shutil.which("elixirc") is None, reason="Elixir is not installed")
def test_elixir_compiled_modules(tmp_path):
    (tmp_path / "sup.ex").write_text(
        "defmodule My.Sup do\n  use Supervisor\n  def init(_), do: Supervisor.init([], strategy: :one_for_one)\nend\n"
        "defmodule My.Srv do\n  use GenServer\n  def init(a), do: {:ok, a}\nend\n",
        encoding="utf-8",
    )
    env = dict(os.environ, MIX_HOME=str(tmp_path / "mix"))
    subprocess.run(
        ["elixirc", "-o", str(tmp_path), str(tmp_path / "sup.ex")],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
    paths = sorted(tmp_path.glob("*.beam"))
    assert compare(paths) == 2
    sup = read_beam_file(str(tmp_path / "Elixir.My.Sup.beam"))
    srv = read_beam_file(str(tmp_path / "Elixir.My.Srv.beam"))
    assert sup.is_elixir and sup.is_supervisor and srv.is_elixir and not srv.is_supervisor
    assert srv.exports_code_change
