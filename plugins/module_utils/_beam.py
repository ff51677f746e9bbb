# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read compiled Erlang modules (``.beam`` files) the way OTP's ``beam_lib`` does.

PRIVATE to the erlang.otp collection: may change at any time.

A BEAM file is an IFF container: ``FOR1``, a 32-bit size, ``BEAM``, then chunks, each a 4-byte id,
a 32-bit big-endian size, the data and zero padding to a multiple of 4. Like ``beam_lib``, a
gzip-compressed file is inflated first, the container's size field is not trusted, and when a
chunk id occurs twice the first one counts.

:func:`read_beam` splits the container and reads the atom table (``AtU8``, else ``Atom``); the
rest is decoded on first use: exports, imports, locals, attributes (``Attr``), compile info
(``CInf``) and the literal table (``LitT``). :attr:`Beam.md5` is what ``beam_lib:md5/1`` and
``Module:module_info(md5)`` return: the MD5 of the chunks ``Atom``, ``AtU8``, ``Code``, ``StrT``,
``ImpT``, ``ExpT``, ``FunT``, ``LitT``, ``Meta`` that are present, in that order, with the
``OldUniq`` word of every ``FunT`` entry replaced by zeros.

OTP 28 writes the atom table with a negative count; the atom lengths are then in the compact
term encoding (tag ``u``) instead of one byte each. Both forms are read.

Every error is a :class:`BeamError` whose message starts with the ``source`` given to
:func:`read_beam` (a file name, normally).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib

from ansible_collections.erlang.otp.plugins.module_utils._etf import ATOM_CACHE, EtfError, decode, decode_prefix
from ansible_collections.erlang.otp.plugins.module_utils._etf import intern_atom as _atom
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

_HEADER = struct.Struct(">4sI4s")
_CHUNK = struct.Struct(">4sI")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")

#: Chunks hashed by ``beam_lib:md5/1``, in hashing order.
MD5_CHUNKS = ("Atom", "AtU8", "Code", "StrT", "ImpT", "ExpT", "FunT", "LitT", "Meta")
#: Chunks ``beam_lib`` requires in every module.
MANDATORY_CHUNKS = ("Code", "ExpT", "ImpT", "StrT")
#: Chunks only Elixir's compiler writes: ExCk (type checker data), ExDc and ExDp (docs and
#: deprecations of Elixir before 1.7, which then moved docs to the EEP 48 ``Docs`` chunk).
ELIXIR_CHUNKS = ("ExCk", "ExDp", "ExDc")


class BeamError(ValueError):
    """A file that is not a readable BEAM module; the message names the file."""


def _compact_u(data: bytes, pos: int, end: int) -> tuple:
    """Decode one compact-term-format unsigned value at ``pos``; return ``(value, next_pos)``."""
    if pos >= end:
        raise IndexError(pos)
    first = data[pos]
    if not first & 0x08:
        return first >> 4, pos + 1
    if not first & 0x10:
        if pos + 1 >= end:
            raise IndexError(pos)
        return ((first & 0xE0) << 3) | data[pos + 1], pos + 2
    count = (first >> 5) + 2
    pos += 1
    if count == 9:
        extra, pos = _compact_u(data, pos, end)
        count = extra + 9
    if pos + count > end:
        raise IndexError(pos)
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def _inflate(data: bytes, source: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise BeamError(f"{source}: gzip-compressed, but it does not inflate: {exc}") from None


class Beam:
    """One module read from a BEAM file. Build it with :func:`read_beam`."""

    def __init__(self, data: bytes, source: str, chunks: dict, chunk_ids: list, atom_table: tuple) -> None:
        self.data = data
        self.source = source
        self._chunks = chunks  # id -> (start, size) of the first chunk with that id
        self.chunk_ids = chunk_ids  # every chunk id in file order, duplicates included
        self._atom_chunk, self._encoding, self._starts, self._stops = atom_table
        self._names: list = [None] * len(self._starts)  # atoms decoded so far
        self._cache: dict = {}
        self.module: Atom = self._atom_at(self._atom_chunk, 1)

    def __repr__(self) -> str:
        return f"<Beam {self.module!s} from {self.source}>"

    # --- chunks --------------------------------------------------------------------------------

    def has_chunk(self, chunk_id: str) -> bool:
        return chunk_id in self._chunks

    def chunk(self, chunk_id: str) -> bytes | None:
        """The raw data of the first chunk ``chunk_id``, or ``None`` when there is none."""
        where = self._chunks.get(chunk_id)
        if where is None:
            return None
        start, size = where
        return self.data[start : start + size]

    def _error(self, chunk_id: str, message: str) -> BeamError:
        return BeamError(f"{self.source}: invalid chunk {chunk_id!r}: {message}")

    def _atom_at(self, chunk_id: str, index: int) -> Atom:
        """Atom number ``index`` (1-based, as the chunks refer to them); decoded on first use."""
        try:
            atom = self._names[index - 1]
        except IndexError:
            atom = None
        if atom is not None and index > 0:
            return atom
        if not 1 <= index <= len(self._names):
            raise self._error(chunk_id, f"atom index {index} is outside the atom table (1..{len(self._names)})")
        start = self._starts[index - 1]
        stop = self._stops[index - 1] if self._stops is not None else start + self.data[start - 1]
        raw = self.data[start:stop]
        try:
            name = raw.decode(self._encoding)
        except UnicodeDecodeError:
            raise self._error(self._atom_chunk, f"atom {index} is not valid {self._encoding}: {raw!r}") from None
        atom = ATOM_CACHE.get(name)
        if atom is None:
            atom = _atom(name)
        self._names[index - 1] = atom
        return atom

    @property
    def atoms(self) -> list:
        """The whole atom table; ``atoms[0]`` is atom number 1, the module name."""
        return [self._atom_at(self._atom_chunk, i) for i in range(1, len(self._names) + 1)]

    def _triples(self, chunk_id: str) -> list:
        data = self.chunk(chunk_id)
        if data is None:
            raise BeamError(f"{self.source}: no {chunk_id!r} chunk")
        if len(data) < 4:
            raise self._error(chunk_id, "shorter than its 4-byte count")
        count = _U32.unpack_from(data, 0)[0]
        if len(data) < 4 + 12 * count:
            raise self._error(chunk_id, f"{count} entries need {4 + 12 * count} bytes, it has {len(data)}")
        return list(struct.iter_unpack(">III", data[4 : 4 + 12 * count]))

    # --- symbol tables -------------------------------------------------------------------------

    def _resolver(self, chunk_id: str, indices: set) -> dict:
        """``{index: Atom}`` for the atom numbers a table refers to, each decoded once."""
        names = self._names
        count = len(names)
        if indices and (min(indices) < 1 or max(indices) > count):
            bad = min(indices) if min(indices) < 1 else max(indices)
            raise self._error(chunk_id, f"atom index {bad} is outside the atom table (1..{count})")
        data = self.data
        starts = self._starts
        stops = self._stops
        encoding = self._encoding
        cache = ATOM_CACHE
        found = {}
        try:
            for index in indices:
                atom = names[index - 1]
                if atom is None:
                    start = starts[index - 1]
                    name = data[start : stops[index - 1] if stops is not None else start + data[start - 1]].decode(
                        encoding
                    )
                    atom = cache.get(name)
                    if atom is None:
                        atom = _atom(name)
                    names[index - 1] = atom
                found[index] = atom
        except UnicodeDecodeError:
            raise self._error(self._atom_chunk, f"atom {index} is not valid {encoding}") from None
        return found

    @property
    def exports(self) -> list:
        """``[(Function, Arity)]`` in file order (``beam_lib`` sorts them)."""
        result = self._cache.get("exports")
        if result is None:
            triples = self._triples("ExpT")
            atom = self._resolver("ExpT", {f for f, _a, _l in triples})
            result = [(atom[f], a) for f, a, _label in triples]
            self._cache["exports"] = result
        return result

    @property
    def labeled_exports(self) -> list:
        """``[(Function, Arity, Label)]`` in file order."""
        return [(self._atom_at("ExpT", f), a, lbl) for f, a, lbl in self._triples("ExpT")]

    @property
    def imports(self) -> list:
        """``[(Module, Function, Arity)]`` in import-table order (``beam_lib`` sorts them)."""
        result = self._cache.get("imports")
        if result is None:
            triples = self._triples("ImpT")
            indices = {m for m, _f, _a in triples}
            indices.update(f for _m, f, _a in triples)
            atom = self._resolver("ImpT", indices)
            result = [(atom[m], atom[f], a) for m, f, a in triples]
            self._cache["imports"] = result
        return result

    @property
    def locals(self) -> list:
        """``[(Function, Arity)]`` of the local (not exported) functions; ``[]`` without ``LocT``."""
        if "LocT" not in self._chunks:
            return []
        return [(self._atom_at("LocT", f), a) for f, a, _label in self._triples("LocT")]

    def exports_function(self, name: str, arity: int) -> bool:
        return (_atom(name), arity) in self._export_set()

    def _export_set(self) -> frozenset:
        result = self._cache.get("export_set")
        if result is None:
            result = self._cache["export_set"] = frozenset(self.exports)
        return result

    def imports_function(self, module: str, name: str, arity: int) -> bool:
        return (_atom(module), _atom(name), arity) in self.imports

    # --- ETF chunks ----------------------------------------------------------------------------

    def _etf_chunk(self, chunk_id: str) -> object:
        data = self.chunk(chunk_id)
        if data is None:
            return None
        try:
            return decode(data)
        except EtfError as exc:
            raise self._error(chunk_id, f"bad external term format: {exc}") from None

    @property
    def attributes(self) -> list:
        """``[(Name, Value)]`` exactly as in the ``Attr`` chunk, in file order.

        The compiler wraps a value that is not a list: ``-vsn(1).`` is ``(vsn, [1])``, while
        ``-vsn("1").`` is ``(vsn, [49])``. Use :meth:`attribute_map` for
        ``beam_lib:chunks(F, [attributes])``'s grouping.
        """
        result = self._cache.get("attributes")
        if result is None:
            term = self._etf_chunk("Attr")
            if term is None:
                term = []
            if not isinstance(term, list):
                raise self._error("Attr", f"expected a list of attributes, got {type(term).__name__}")
            result = []
            for item in term:
                if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Atom)):
                    raise self._error("Attr", f"expected {{Name, Value}} attributes, got {item!r}")
                result.append(item)
            self._cache["attributes"] = result
        return result

    def attribute_map(self) -> dict:
        """``{Name: Values}`` with the values of every attribute ``Name`` appended in file order.

        This is ``beam_lib:chunks(F, [attributes])``'s grouping (it fails, as here, on a value
        that is not a list).
        """
        grouped: dict = {}
        for name, value in self.attributes:
            if not isinstance(value, list):
                raise self._error("Attr", f"attribute {name!s} has a value that is not a list: {value!r}")
            grouped.setdefault(name, []).extend(value)
        return grouped

    def attribute(self, name: str, default: object = None) -> object:
        """All values of attribute ``name`` (a list), or ``default`` when there is none."""
        key = _atom(name)
        found = [v for k, v in self.attributes if k == key]
        if not found:
            return default
        merged: list = []
        for value in found:
            if isinstance(value, list):
                merged.extend(value)
            else:
                merged.append(value)
        return merged

    @property
    def behaviours(self) -> list:
        """Every ``-behaviour`` and ``-behavior`` value, in file order."""
        result = self._cache.get("behaviours")
        if result is None:
            result = []
            attr = self.chunk("Attr")
            if attr is None or (attr[1:2] != b"P" and b"behavio" not in attr):
                # Neither atom can occur in an uncompressed chunk without its text: skip decoding.
                self._cache["behaviours"] = result
                return result
            for name, value in self.attributes:
                if name in _BEHAVIOUR_KEYS:
                    result.extend(value if isinstance(value, list) else [value])
            self._cache["behaviours"] = result
        return result

    @property
    def vsn(self) -> list | None:
        """What ``beam_lib:version/1`` returns (a list), or ``None`` when there is no ``vsn``.

        The compiler stores a list value as is and wraps any other in a list: ``-vsn("1.2")`` gives
        ``[49, 46, 50]``, ``-vsn(3)`` gives ``[3]``; without ``-vsn`` it adds ``[MD5 as an integer]``.
        """
        return self.attribute("vsn")

    @property
    def on_load(self) -> tuple | None:
        """``(Function, Arity)`` named by ``-on_load``, or ``None`` when there is none or it is unknown.

        The compiler turns ``-on_load`` into an ``on_load`` instruction at the start of that
        function, not an ``Attr`` entry, so the ``Code`` chunk is walked (instruction by
        instruction, as ``beam_disasm`` does) when this is first asked. Code with an instruction
        this reader does not know (a newer OTP) falls back to the abstract code kept by
        ``debug_info``, else ``None``. :attr:`loads_nif` answers the NIF question without this.
        """
        if "on_load" not in self._cache:
            self._cache["on_load"] = self._find_on_load()
        return self._cache["on_load"]

    def _find_on_load(self) -> tuple | None:
        values = self.attribute("on_load")
        if values:
            return _function_ref(values[0])
        try:
            found = _on_load_in_code(self.chunk("Code") or b"")
        except _UnknownCode:
            return self._on_load_from_debug_info()
        if found is None:
            return None
        return (self._atom_at("Code", found[0]), found[1])

    def _on_load_from_debug_info(self) -> tuple | None:
        for chunk_id in ("Dbgi", "Abst"):
            if chunk_id not in self._chunks:
                continue
            try:
                term = self._etf_chunk(chunk_id)
            except BeamError:
                return None  # encrypted or foreign debug info: not an error for this question
            forms = None
            if isinstance(term, tuple) and len(term) == 3 and term[1] == _atom("erl_abstract_code"):
                if isinstance(term[2], tuple) and term[2]:
                    forms = term[2][0]
            elif isinstance(term, tuple) and len(term) == 2 and term[0] == _atom("raw_abstract_v1"):
                forms = term[1]
            if isinstance(forms, list):
                for form in forms:
                    if isinstance(form, tuple) and len(form) == 4 and form[0] == _ATTRIBUTE and form[2] == _ON_LOAD:
                        return _function_ref(form[3])
            return None
        return None

    @property
    def compile_info(self) -> object:
        """The ``CInf`` term (a proplist such as ``[{version, ...}, {options, ...}, ...]``), or ``[]``."""
        if "compile_info" not in self._cache:
            term = self._etf_chunk("CInf")
            self._cache["compile_info"] = [] if term is None else term
        return self._cache["compile_info"]

    def literals(self) -> list:
        """The literal table (``LitT``): the constant terms the code refers to, in index order."""
        if "literals" in self._cache:
            return self._cache["literals"]
        data = self.chunk("LitT")
        result: list = []
        if data is not None:
            if len(data) < 4:
                raise self._error("LitT", "shorter than its 4-byte size")
            size = _U32.unpack_from(data, 0)[0]
            if size == 0:
                table = data[4:]  # OTP 28 may store the table uncompressed
            else:
                try:
                    table = zlib.decompress(data[4:])
                except zlib.error as exc:
                    raise self._error("LitT", f"does not inflate: {exc}") from None
                if len(table) != size:
                    raise self._error("LitT", f"inflates to {len(table)} bytes, header says {size}")
            if len(table) < 4:
                raise self._error("LitT", "literal table shorter than its count")
            count = _U32.unpack_from(table, 0)[0]
            pos = 4
            for index in range(count):
                if pos + 4 > len(table):
                    raise self._error("LitT", f"literal {index} is truncated")
                length = _U32.unpack_from(table, pos)[0]
                pos += 4
                if pos + length > len(table):
                    raise self._error("LitT", f"literal {index} is truncated")
                try:
                    term, _end = decode_prefix(table[pos : pos + length])
                except EtfError as exc:
                    raise self._error("LitT", f"literal {index}: {exc}") from None
                result.append(term)
                pos += length
        self._cache["literals"] = result
        return result

    # --- MD5 -----------------------------------------------------------------------------------

    @property
    def md5(self) -> bytes:
        """``beam_lib:md5/1`` of this module (equal to ``Module:module_info(md5)``)."""
        result = self._cache.get("md5")
        if result is None:
            digest = hashlib.md5()  # the module checksum OTP defines, not a security use
            for chunk_id in MD5_CHUNKS:
                data = self.chunk(chunk_id)
                if data is None:
                    continue
                if chunk_id == "FunT" and len(data) >= 28:
                    data = _zero_old_uniq(data)
                digest.update(data)
            result = self._cache["md5"] = digest.digest()
        return result

    @property
    def md5_hex(self) -> str:
        return self.md5.hex()

    # --- questions asked by appup generation ---------------------------------------------------

    @property
    def exports_code_change(self) -> bool:
        """``code_change/3`` (gen_server & co.) or ``code_change/4`` (gen_statem) is exported."""
        exported = self._export_set()
        return (_CODE_CHANGE, 3) in exported or (_CODE_CHANGE, 4) in exported

    @property
    def exports_system_code_change(self) -> bool:
        """``system_code_change/4`` (special processes using ``sys``) is exported."""
        return (_atom("system_code_change"), 4) in self._export_set()

    @property
    def loads_nif(self) -> bool:
        """The module calls ``erlang:load_nif/2`` (what an ``-on_load`` NIF loader does).

        Any call to it, from the ``on_load`` function or elsewhere, is an import.
        """
        return (_ERLANG, _LOAD_NIF, 2) in self.imports

    @property
    def is_supervisor(self) -> bool:
        """Implements ``supervisor`` (Erlang) or ``Elixir.Supervisor`` (``use Supervisor``)."""
        return any(b in _SUPERVISORS for b in self.behaviours)

    @property
    def is_elixir(self) -> bool:
        """Compiled by Elixir: named ``Elixir.*``, or has an Elixir-only chunk or Elixir docs."""
        if self.module.startswith("Elixir.") or any(c in self._chunks for c in ELIXIR_CHUNKS):
            return True
        if "Docs" in self._chunks:
            try:
                docs = self._etf_chunk("Docs")
            except BeamError:
                return False
            return isinstance(docs, tuple) and len(docs) > 2 and docs[2] == _atom("elixir")
        return False


_ATTRIBUTE = _atom("attribute")
_ON_LOAD = _atom("on_load")
_BEHAVIOUR_KEYS = frozenset((_atom("behaviour"), _atom("behavior")))
_SUPERVISORS = frozenset((_atom("supervisor"), _atom("Elixir.Supervisor")))
_CODE_CHANGE = _atom("code_change")
_ERLANG = _atom("erlang")
_LOAD_NIF = _atom("load_nif")


class _UnknownCode(Exception):
    """The Code chunk uses an instruction or operand this reader cannot size."""


# Operand counts of the generic BEAM instructions by opcode (genop.tab): 1..180 as in OTP 25,
# 181 update_record/5 and 182 bs_match/3 (OTP 26), 183 executable_line/2 (OTP 27), 184
# debug_line/4 (OTP 28). Index 0 is unused.
_OPCODE_ARITY = bytes(
    int(c)
    for c in (
        "01302322324523232110000211244444444444333333322222"  # 0..49
        "22222222333121233333211011322255542112255521012244"  # 50..99
        "44312111263512235777532256222213408626545454333330"  # 100..149
        "11715523340022234322431211163015324"  # 150..184
    )
)
_OP_FUNC_INFO = 2
_OP_INT_CODE_END = 3
_OP_ON_LOAD = 149


def _skip_operand(code: bytes, pos: int) -> int:
    """Position after the compact-term-format operand at ``pos``."""
    first = code[pos]
    if first & 7 != 7:  # u, i, a, x, y, f, h: a value
        return _compact_u(code, pos, len(code))[1]
    ext = first >> 4
    pos += 1
    if ext == 1:  # list: a count, then the elements
        count, pos = _compact_u(code, pos, len(code))
        for _unused in range(count):
            pos = _skip_operand(code, pos)
        return pos
    if ext == 3:  # allocation list: a count, then (kind, amount) pairs
        count, pos = _compact_u(code, pos, len(code))
        for _unused in range(2 * count):
            pos = _skip_operand(code, pos)
        return pos
    if ext in (2, 4):  # float register, literal: one number
        return _compact_u(code, pos, len(code))[1]
    if ext == 5:  # typed register: the register, then a type index
        return _skip_operand(code, _skip_operand(code, pos))
    if ext == 0:  # float literal of old compilers: 8 bytes
        return pos + 8
    raise _UnknownCode(f"extended operand {ext}")


def _on_load_in_code(code: bytes) -> tuple | None:
    """``(function atom index, arity)`` of the function holding ``on_load``, or ``None``."""
    if len(code) < 4 or _OP_ON_LOAD not in code:
        return None
    pos = 4 + _U32.unpack_from(code, 0)[0]  # skip the sub-header (instruction set, counts)
    arities = _OPCODE_ARITY
    end = len(code)
    current = None
    try:
        while pos < end:
            opcode = code[pos]
            if opcode == 0 or opcode >= len(arities):
                raise _UnknownCode(f"opcode {opcode}")
            pos += 1
            if opcode == _OP_ON_LOAD:
                return current
            if opcode == _OP_INT_CODE_END:
                return None
            if opcode == _OP_FUNC_INFO:
                pos = _skip_operand(code, pos)  # module
                name, pos = _compact_u(code, pos, end)  # function: an atom index, tag a
                arity, pos = _compact_u(code, pos, end)
                current = (name, arity)
                continue
            for _unused in range(arities[opcode]):
                pos = _skip_operand(code, pos)
    except IndexError:
        raise _UnknownCode("truncated code") from None
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _function_ref(value: object) -> tuple | None:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Atom) and _is_int(value[1]):
        return value
    return None


def _zero_old_uniq(funt: bytes) -> bytes:
    """``FunT`` with bytes 20..23 of every complete 24-byte entry zeroed, as beam_lib hashes it."""
    buf = bytearray(funt)
    zero = b"\0\0\0\0"
    for off in range(4 + 20, len(buf) - 3, 24):
        buf[off : off + 4] = zero
    return bytes(buf)


def _atom_bounds(data: bytes, start: int, size: int, source: str, chunk_id: str) -> tuple:
    """Find the atoms of an atom table chunk without decoding them: ``(starts, stops)``."""
    end = start + size
    if size < 4:
        raise BeamError(f"{source}: invalid chunk {chunk_id!r}: shorter than its 4-byte atom count")
    count = _I32.unpack_from(data, start)[0]
    pos = start + 4
    starts: list = []
    stops: list | None = None  # classic tables: an atom ends at start + its length byte
    try:
        if count >= 0:
            append = starts.append
            for _unused in range(count):
                pos += 1
                append(pos)
                pos += data[pos - 1]
        else:
            stops = []
            for _unused in range(-count):
                length, begin = _compact_u(data, pos, end)
                pos = begin + length
                starts.append(begin)
                stops.append(pos)
    except IndexError:
        pos = end + 1
    if pos > end:
        raise BeamError(
            f"{source}: invalid chunk {chunk_id!r}: atom {len(starts)} of {abs(count)} runs past the chunk's end"
        )
    if not starts:
        raise BeamError(f"{source}: invalid chunk {chunk_id!r}: the atom table is empty (no module name)")
    return starts, stops


def read_beam(data: bytes, source: str = "<beam>") -> Beam:
    """Parse a BEAM file's bytes (plain or gzip-compressed); ``source`` names it in errors."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"read_beam needs bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:2] == b"\x1f\x8b":
        data = _inflate(data, source)
    if len(data) < 12:
        if not data:
            raise BeamError(f"{source}: not a BEAM file: it is empty")
        raise BeamError(f"{source}: not a BEAM file: {len(data)} bytes is too short for the FOR1/BEAM header")
    form, _size, kind = _HEADER.unpack_from(data, 0)
    if form != b"FOR1" or kind != b"BEAM":
        raise BeamError(f"{source}: not a BEAM file: it does not start with FOR1....BEAM")
    chunks: dict = {}
    chunk_ids: list = []
    pos = 12
    total = len(data)
    while pos < total:
        if pos + 8 > total:
            raise BeamError(f"{source}: invalid BEAM file: truncated chunk header at byte {pos}")
        raw_id, size = _CHUNK.unpack_from(data, pos)
        chunk_id = raw_id.decode("latin-1")
        start = pos + 8
        if start + size > total:
            raise BeamError(
                f"{source}: truncated BEAM file: chunk {chunk_id!r} at byte {pos} has size {size}, "
                f"but only {total - start} bytes follow"
            )
        chunk_ids.append(chunk_id)
        if chunk_id not in chunks:
            chunks[chunk_id] = (start, size)
        pos = start + ((size + 3) & ~3)
    if "AtU8" in chunks:
        atom_id, encoding = "AtU8", "utf-8"
    elif "Atom" in chunks:
        atom_id, encoding = "Atom", "latin-1"
    else:
        raise BeamError(f"{source}: invalid BEAM file: no atom table (neither 'AtU8' nor 'Atom' chunk)")
    for required in MANDATORY_CHUNKS:
        if required not in chunks:
            raise BeamError(f"{source}: invalid BEAM file: no {required!r} chunk")
    start, size = chunks[atom_id]
    starts, stops = _atom_bounds(data, start, size, source, atom_id)
    return Beam(data, source, chunks, chunk_ids, (atom_id, encoding, starts, stops))


def read_beam_file(path: str) -> Beam:
    """Read and parse the BEAM file at ``path``."""
    path = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise BeamError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return read_beam(data, path)
