# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the BEAM reader on containers built here (no Erlang needed).

Real modules, compared with beam_lib, are in tests/erlang/test_beam_vs_beam_lib.py.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._beam import BeamError, read_beam, read_beam_file
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.etf_canon import encode


def container(chunks: list) -> bytes:
    body = b""
    for chunk_id, data in chunks:
        body += chunk_id.encode() + struct.pack(">I", len(data)) + data + b"\0" * (-len(data) % 4)
    return b"FOR1" + struct.pack(">I", len(body) + 4) + b"BEAM" + body


def atom_table(names: list, compact: bool = False) -> bytes:
    if not compact:
        raw = [n.encode("utf-8") for n in names]
        return struct.pack(">i", len(names)) + b"".join(bytes([len(r)]) + r for r in raw)
    out = struct.pack(">i", -len(names))
    for name in names:
        raw = name.encode("utf-8")
        n = len(raw)
        if n < 16:
            out += bytes([n << 4])
        else:  # two-byte form of the compact term format, tag u
            out += bytes([((n >> 3) & 0xE0) | 0x08, n & 0xFF])
        out += raw
    return out


def triples(rows: list) -> bytes:
    return struct.pack(">I", len(rows)) + b"".join(struct.pack(">III", *r) for r in rows)


def etf(term: object) -> bytes:
    return b"\x83" + encode(term)


ATOMS = ("demo", "start", "code_change", "erlang", "load_nif", "supervisor", "gen_server", "init")


def module(extra: list = (), attrs: object = None, atoms: tuple = ATOMS, compact: bool = False) -> list:
    chunks = [
        ("AtU8", atom_table(atoms, compact)),
        ("Code", b"\0\0\0\x10" + b"\0" * 20),
        ("StrT", b""),
        ("ImpT", triples([(4, 5, 2)])),
        ("ExpT", triples([(2, 1, 2), (3, 3, 4), (8, 1, 6)])),
    ]
    if attrs is not None:
        chunks.append(("Attr", etf(attrs)))
    return chunks + list(extra)


def a(name: str) -> Atom:
    return Atom(name)


def test_reads_a_minimal_module():
    beam = read_beam(container(module()), "demo.beam")
    assert beam.module == a("demo")
    assert beam.exports == [(a("start"), 1), (a("code_change"), 3), (a("init"), 1)]
    assert beam.imports == [(a("erlang"), a("load_nif"), 2)]
    assert beam.chunk_ids == ["AtU8", "Code", "StrT", "ImpT", "ExpT"]
    assert beam.atoms[0] == a("demo") and len(beam.atoms) == len(ATOMS)
    assert beam.attributes == [] and beam.behaviours == [] and beam.vsn is None and beam.on_load is None
    assert beam.compile_info == [] and beam.literals() == [] and beam.locals == []
    assert beam.exports_code_change and not beam.exports_system_code_change
    assert beam.loads_nif and not beam.is_supervisor and not beam.is_elixir
    assert beam.exports_function("init", 1) and not beam.exports_function("init", 2)
    assert "demo.beam" in repr(beam)


def test_md5_hashes_the_code_chunks_in_beam_lib_order_with_funt_olduniq_zeroed():
    funt = struct.pack(">I", 2) + b"".join(struct.pack(">6I", 2, 1, 7, 0, 1, 0xDEADBEEF + i) for i in range(2))
    litt = struct.pack(">I", 4) + zlib.compress(b"\0\0\0\0")
    chunks = module([("LitT", litt), ("FunT", funt), ("Dbgi", b"ignored"), ("Meta", b"meta")])
    beam = read_beam(container(chunks), "x")
    data = dict(chunks)
    zeroed = struct.pack(">I", 2) + b"".join(struct.pack(">6I", 2, 1, 7, 0, 1, 0) for _unused in range(2))
    order = [data["AtU8"], data["Code"], data["StrT"], data["ImpT"], data["ExpT"], zeroed, litt, b"meta"]
    assert beam.md5 == hashlib.md5(b"".join(order)).digest()
    assert beam.md5_hex == beam.md5.hex()
    # Chunks outside the list and the OldUniq words do not change it.
    other = read_beam(container(module([("LitT", litt), ("FunT", zeroed), ("Meta", b"meta")])), "y")
    assert other.md5 == beam.md5


def test_compact_atom_table_of_otp_28():
    plain = read_beam(container(module()), "a")
    compact = read_beam(container(module(compact=True)), "b")
    assert compact.atoms == plain.atoms
    assert compact.exports == plain.exports
    assert compact.md5 != plain.md5  # the atom chunk itself is hashed
    long_name = "ä" * 200  # 400 bytes: only the compact form can hold it (two-byte length)
    names = [*ATOMS, "x" * 15, "y" * 16, long_name]
    assert read_beam(container(module(atoms=names, compact=True)), "c").atoms == [a(n) for n in names]


def test_latin1_atom_chunk():
    chunks = module()
    raw = ["démo".encode("latin-1"), *(n.encode() for n in ATOMS[1:])]
    chunks[0] = ("Atom", struct.pack(">i", len(raw)) + b"".join(bytes([len(r)]) + r for r in raw))
    assert read_beam(container(chunks), "x").module == a("démo")


def test_attributes_behaviours_and_vsn():
    attrs = [
        (a("vsn"), [123]),
        (a("behaviour"), [a("gen_server")]),
        (a("custom"), [1, 2]),
        (a("behavior"), [a("supervisor")]),
        (a("behaviour"), [a("Elixir.GenStage")]),
        (a("custom"), [3]),
        (a("on_load"), [(a("init"), 0)]),
    ]
    beam = read_beam(container(module(attrs=attrs)), "x")
    assert beam.attributes == attrs
    assert beam.behaviours == [a("gen_server"), a("supervisor"), a("Elixir.GenStage")]
    assert beam.is_supervisor
    assert beam.vsn == [123]
    assert beam.attribute("custom") == [1, 2, 3] and beam.attribute("missing") is None
    assert beam.attribute_map()[a("custom")] == [1, 2, 3]
    assert beam.on_load == (a("init"), 0)


def test_elixir_detection():
    assert read_beam(container(module(atoms=["Elixir.Foo", *ATOMS[1:]])), "x").is_elixir
    assert read_beam(container(module([("ExCk", b"\x83j")])), "x").is_elixir
    docs = etf((a("docs_v1"), 1, a("elixir"), b"text/markdown", [], {}, []))
    assert read_beam(container(module([("Docs", docs)])), "x").is_elixir
    erlang_docs = etf((a("docs_v1"), 1, a("erlang"), b"application/erlang+html", [], {}, []))
    assert not read_beam(container(module([("Docs", erlang_docs)])), "x").is_elixir


def test_literals_are_decoded_on_demand():
    terms = [[1, 2], (a("ok"), b"bin"), {a("k"): 1.5}]
    table = struct.pack(">I", len(terms))
    for t in terms:
        enc = etf(t)
        table += struct.pack(">I", len(enc)) + enc
    litt = struct.pack(">I", len(table)) + zlib.compress(table)
    beam = read_beam(container(module([("LitT", litt)])), "x")
    assert "literals" not in beam._cache
    assert beam.literals() == terms
    bad = struct.pack(">I", len(table) + 1) + zlib.compress(table)
    with pytest.raises(BeamError, match=r"x: invalid chunk 'LitT': inflates to"):
        read_beam(container(module([("LitT", bad)])), "x").literals()


def test_gzip_compressed_beam():
    data = container(module())
    assert read_beam(gzip.compress(data), "z").md5 == read_beam(data, "p").md5


def test_duplicate_chunks_first_wins_and_size_field_is_not_trusted():
    data = container(module([("ExpT", triples([]))]))
    data = data[:4] + b"\0\0\0\0" + data[8:]
    beam = read_beam(data, "x")
    assert len(beam.exports) == 3
    assert beam.chunk_ids.count("ExpT") == 2


def test_read_beam_file(tmp_path):
    path = tmp_path / "demo.beam"
    path.write_bytes(container(module()))
    assert read_beam_file(path).module == a("demo")
    with pytest.raises(BeamError, match=r"nope\.beam: cannot read"):
        read_beam_file(tmp_path / "nope.beam")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a BEAM file: it is empty"),
        (b"FOR1", "too short"),
        (b"\x7fELF" + b"\0" * 40, "does not start with FOR1"),
        (b"FOR1\0\0\0\x04ABCD", "does not start with FOR1"),
        (b"\x1f\x8bgarbage-not-gzip", "gzip-compressed, but it does not inflate"),
        (gzip.compress(b"hello", mtime=0), "too short"),
        (container(module())[:-3], "truncated BEAM file: chunk 'ExpT'"),
        (container(module()) + b"Code", "truncated chunk header"),
        (container(module()[1:]), "no atom table"),
        (container([c for c in module() if c[0] != "Code"]), "no 'Code' chunk"),
        (container([("AtU8", struct.pack(">i", 0)), *module()[1:]]), "atom table is empty"),
        (container([("AtU8", struct.pack(">i", 3) + b"\x04demo"), *module()[1:]]), "runs past"),
        (container([("AtU8", struct.pack(">i", -2) + b"\x40demo\xf8"), *module()[1:]]), "runs past"),
        (container([("AtU8", b"\0\0"), *module()[1:]]), "shorter than its 4-byte atom count"),
        (container([("AtU8", struct.pack(">i", 1) + b"\x02\xff\xfe"), *module()[1:]]), "not valid utf-8"),
    ],
)
def test_bad_files_raise_beam_error_naming_the_file(data, message):
    with pytest.raises(BeamError, match=message) as info:
        read_beam(data, "/srv/app/ebin/broken.beam")
    assert str(info.value).startswith("/srv/app/ebin/broken.beam: ")


def test_bad_tables_raise_when_read():
    chunks = module()
    chunks[4] = ("ExpT", triples([(99, 1, 2)]))
    beam = read_beam(container(chunks), "m.beam")
    with pytest.raises(BeamError, match=r"m\.beam: invalid chunk 'ExpT': atom index 99 is outside"):
        _unused = beam.exports
    chunks[4] = ("ExpT", struct.pack(">I", 5) + b"\0" * 12)
    with pytest.raises(BeamError, match=r"5 entries need 64 bytes"):
        _unused = read_beam(container(chunks), "m.beam").exports
    bad_attr = module([("Attr", b"\x83h\x09")])
    with pytest.raises(BeamError, match=r"m\.beam: invalid chunk 'Attr': bad external term format"):
        _unused = read_beam(container(bad_attr), "m.beam").attributes
    with pytest.raises(BeamError, match=r"invalid chunk 'Attr': expected a list"):
        _unused = read_beam(container(module(attrs=(1, 2))), "m.beam").attributes
    with pytest.raises(TypeError):
        read_beam("not bytes", "m.beam")


def code_chunk(instructions: bytes) -> bytes:
    # Sub-header size 16: instruction set 0, max opcode, label count, function count.
    return struct.pack(">5I", 16, 0, 184, 3, 1) + instructions + b"\x03"  # int_code_end


# label 1; func_info 'demo' 'init' 0; label 2  (compact term format: value << 4 | tag)
FUNC_HEAD = b"\x01\x10" + b"\x02\x12\x82\x00" + b"\x01\x20"
# move {integer,149} {x,0}: the opcode byte of on_load (0x95) occurs as an operand byte
MOVE_149 = b"\x40\x09\x95\x03"
RETURN = b"\x13"


def test_on_load_is_read_from_the_code():
    with_on_load = module()
    with_on_load[1] = ("Code", code_chunk(FUNC_HEAD + MOVE_149 + b"\x95" + RETURN))
    assert read_beam(container(with_on_load), "x").on_load == (a("init"), 0)
    without = module()
    without[1] = ("Code", code_chunk(FUNC_HEAD + MOVE_149 + RETURN))
    assert read_beam(container(without), "x").on_load is None
    # Extended operands are sized too: select_val x0 {f,2} {list,[{integer,149},{f,2}]}, then
    # move {literal,0} {x,0}; the 0x95 inside the list is not an instruction.
    select = b"\x3b\x03\x25" + b"\x17\x20\x09\x95\x25"
    literal = b"\x40\x47\x00\x03"
    ext = module()
    ext[1] = ("Code", code_chunk(FUNC_HEAD + select + literal + RETURN))
    assert read_beam(container(ext), "x").on_load is None
    ext[1] = ("Code", code_chunk(FUNC_HEAD + select + literal + b"\x95" + RETURN))
    assert read_beam(container(ext), "x").on_load == (a("init"), 0)


def test_on_load_with_unknown_instructions_falls_back_to_debug_info():
    forms = [(a("attribute"), 1, a("on_load"), (a("start"), 0))]
    dbgi = etf((a("debug_info_v1"), a("erl_abstract_code"), (forms, [])))
    chunks = module([("Dbgi", dbgi)])
    chunks[1] = ("Code", code_chunk(FUNC_HEAD + b"\xfe\x95"))  # opcode 254 does not exist
    assert read_beam(container(chunks), "x").on_load == (a("start"), 0)
    chunks = module()
    chunks[1] = ("Code", code_chunk(FUNC_HEAD + b"\xfe\x95"))
    assert read_beam(container(chunks), "x").on_load is None
