# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decoder for Erlang's external term format (what ``term_to_binary/1,2`` writes).

PRIVATE to the erlang.otp collection: may change at any time.

Terms come back as the types of :mod:`._terms`:

=====================================  ====================================================
External tag                           Python value
=====================================  ====================================================
SMALL_INTEGER, INTEGER, SMALL/LARGE_BIG  ``int``
FLOAT (old text form), NEW_FLOAT       ``float``
ATOM, SMALL_ATOM, (SMALL_)ATOM_UTF8    :class:`Atom` (``true``/``false`` stay atoms)
SMALL/LARGE_TUPLE                      ``tuple``
NIL                                    ``[]``
STRING                                 ``list`` of ``int``: ``term_to_binary`` writes every
                                       list of bytes this way, whatever the source spelled,
                                       so the encoding says nothing about "string-ness"
LIST                                   ``list``, or :class:`ImproperList` when the tail is not
                                       ``[]``
BINARY                                 ``bytes``
BIT_BINARY                             :class:`Opaque` ``("bitstring", raw)``
MAP                                    ``dict``; a key that is a list of code points becomes
                                       the equal ``str`` (a Python list cannot be a key);
                                       any other list or map key is an error
EXPORT                                 :class:`ExternalFun`
NEW_FUN, FUN                           :class:`Opaque` ``("fun", raw)``
PID, NEW_PID                           :class:`Opaque` ``("pid", raw)``
PORT, NEW_PORT, V4_PORT                :class:`Opaque` ``("port", raw)``
REFERENCE, NEW_/NEWER_REFERENCE        :class:`Opaque` ``("reference", raw)``
=====================================  ====================================================

``raw`` of an :class:`Opaque` is the term's own encoding, tag byte included, i.e.
``term_to_binary(X)`` without its leading version byte. A compressed term (tag 80, zlib) is
inflated first. Atom cache references and distribution headers only occur on the wire between
connected nodes and are rejected.

Like ``binary_to_term/1``, :func:`decode` ignores bytes after the term; :func:`decode_prefix`
reports where the term ended. Every error is an :class:`EtfError` carrying the byte offset.
"""

from __future__ import annotations

import struct
import zlib

from ansible_collections.erlang.otp.plugins.module_utils._terms import (
    Atom,
    ExternalFun,
    ImproperList,
    Opaque,
)

VERSION = 131

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_F64 = struct.Struct(">d")

# Atoms repeat a lot (module names, record tags, true/false): one Atom object per name, shared by
# every term and module read (bounded: a long-lived process reading many unrelated modules must not
# grow without limit). The BEAM reader shares this table.
ATOM_CACHE: dict = {}
_ATOM_CACHE_MAX = 200000


class EtfError(ValueError):
    """Bad external term format; ``offset`` is the byte position where decoding failed."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset


def intern_atom(name: str) -> Atom:
    """The shared :class:`Atom` for ``name``."""
    atom = ATOM_CACHE.get(name)
    if atom is None:
        atom = Atom(name)
        if len(ATOM_CACHE) < _ATOM_CACHE_MAX:
            ATOM_CACHE[name] = atom
    return atom


def _truncated(what: str, pos: int, count: int, end: int) -> EtfError:
    return EtfError(f"truncated {what}: needs {count} bytes, {max(end - pos, 0)} left", pos)


def _make_decoder(data: bytes):
    """Return ``term(pos) -> (term, end)`` for ``data``: one closure, common tags inlined for speed."""
    end = len(data)
    u16 = _U16.unpack_from
    u32 = _U32.unpack_from
    atom_cache = ATOM_CACHE

    def atom_text(pos: int, length: int, encoding: str) -> tuple:
        stop = pos + length
        if stop > end:
            raise _truncated("atom text", pos, length, end)
        raw = data[pos:stop]
        try:
            name = raw.decode(encoding)
        except UnicodeDecodeError:
            raise EtfError(f"atom text is not valid {encoding}: {bytes(raw)!r}", pos) from None
        atom = atom_cache.get(name)
        if atom is None:
            atom = intern_atom(name)
        return atom, stop

    def elements(pos: int, count: int) -> tuple:
        # Each element takes at least one byte: reject absurd counts before looping.
        if pos + count > end:
            raise _truncated("elements", pos, count, end)
        items = []
        append = items.append
        for _unused in range(count):
            value, pos = term(pos)
            append(value)
        return items, pos

    def term(pos: int) -> tuple:
        if pos >= end:
            raise EtfError("truncated term: expected a tag byte", pos)
        tag = data[pos]
        pos += 1
        if tag == 104:  # SMALL_TUPLE_EXT
            if pos >= end:
                raise _truncated("SMALL_TUPLE_EXT", pos, 1, end)
            items, pos = elements(pos + 1, data[pos])
            return tuple(items), pos
        if tag in (119, 115):  # SMALL_ATOM_UTF8_EXT, SMALL_ATOM_EXT
            if pos >= end:
                raise _truncated("small atom", pos, 1, end)
            return atom_text(pos + 1, data[pos], "utf-8" if tag == 119 else "latin-1")
        if tag == 107:  # STRING_EXT
            if pos + 2 > end:
                raise _truncated("STRING_EXT", pos, 2, end)
            stop = pos + 2 + u16(data, pos)[0]
            if stop > end:
                raise _truncated("STRING_EXT characters", pos + 2, stop - pos - 2, end)
            return list(data[pos + 2 : stop]), stop
        if tag == 106:  # NIL_EXT
            return [], pos
        if tag == 97:  # SMALL_INTEGER_EXT
            if pos >= end:
                raise _truncated("SMALL_INTEGER_EXT", pos, 1, end)
            return data[pos], pos + 1
        if tag == 108:  # LIST_EXT
            if pos + 4 > end:
                raise _truncated("LIST_EXT", pos, 4, end)
            items, tail_pos = elements(pos + 4, u32(data, pos)[0])
            tail, pos = term(tail_pos)
            if isinstance(tail, list):
                # [] ends a proper list; a list tail (never written by OTP) just continues it.
                if tail:
                    items.extend(tail)
                return items, pos
            if not items:
                return tail, pos  # binary_to_term accepts a zero-length LIST_EXT: it is its tail
            if isinstance(tail, ImproperList):
                return ImproperList(items + tail.items, tail.tail), pos
            return ImproperList(items, tail), pos
        if tag in (100, 118):  # ATOM_EXT, ATOM_UTF8_EXT
            if pos + 2 > end:
                raise _truncated("atom", pos, 2, end)
            return atom_text(pos + 2, u16(data, pos)[0], "utf-8" if tag == 118 else "latin-1")
        if tag == 109:  # BINARY_EXT
            if pos + 4 > end:
                raise _truncated("BINARY_EXT", pos, 4, end)
            stop = pos + 4 + u32(data, pos)[0]
            if stop > end:
                raise _truncated("BINARY_EXT data", pos + 4, stop - pos - 4, end)
            return bytes(data[pos + 4 : stop]), stop
        if tag == 98:  # INTEGER_EXT
            if pos + 4 > end:
                raise _truncated("INTEGER_EXT", pos, 4, end)
            return _I32.unpack_from(data, pos)[0], pos + 4
        handler = _RARE.get(tag)
        if handler is None:
            if tag in (68, 82):
                raise EtfError(f"tag {tag} (distribution header / atom cache) is not allowed outside the wire", pos - 1)
            raise EtfError(f"unknown tag {tag}", pos - 1)
        return handler(data, pos, end, term, elements)

    return term


def _need(pos: int, count: int, end: int, what: str) -> None:
    if pos + count > end:
        raise _truncated(what, pos, count, end)


def _new_float(data, pos, end, term, elements) -> tuple:
    _need(pos, 8, end, "NEW_FLOAT_EXT")
    return _F64.unpack_from(data, pos)[0], pos + 8


def _old_float(data, pos, end, term, elements) -> tuple:
    _need(pos, 31, end, "FLOAT_EXT")
    text = bytes(data[pos : pos + 31]).split(b"\0", 1)[0]
    try:
        value = float(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise EtfError(f"FLOAT_EXT holds no number: {text!r}", pos) from None
    return value, pos + 31


def _big(data, pos: int, count: int, end: int) -> tuple:
    _need(pos, 1 + count, end, "bignum")
    sign = data[pos]
    if sign > 1:
        raise EtfError(f"bignum sign byte must be 0 or 1, not {sign}", pos)
    value = int.from_bytes(data[pos + 1 : pos + 1 + count], "little")
    return (-value if sign else value), pos + 1 + count


def _small_big(data, pos, end, term, elements) -> tuple:
    _need(pos, 1, end, "SMALL_BIG_EXT")
    return _big(data, pos + 1, data[pos], end)


def _large_big(data, pos, end, term, elements) -> tuple:
    _need(pos, 4, end, "LARGE_BIG_EXT")
    return _big(data, pos + 4, _U32.unpack_from(data, pos)[0], end)


def _large_tuple(data, pos, end, term, elements) -> tuple:
    _need(pos, 4, end, "LARGE_TUPLE_EXT")
    items, stop = elements(pos + 4, _U32.unpack_from(data, pos)[0])
    return tuple(items), stop


def _map(data, pos, end, term, elements) -> tuple:
    _need(pos, 4, end, "MAP_EXT")
    count = _U32.unpack_from(data, pos)[0]
    pos += 4
    _need(pos, 2 * count, end, "map entries")
    result: dict = {}
    for _unused in range(count):
        key_pos = pos
        key, pos = term(pos)
        value, pos = term(pos)
        try:
            hash(key)
        except TypeError:
            key = _hashable_key(key, key_pos)
        if key in result:
            raise EtfError(f"duplicate map key {key!r}", key_pos)
        result[key] = value
    return result, pos


def _hashable_key(key: object, pos: int) -> object:
    """A map key that Python can hash: a list of code points becomes the equal ``str``."""
    if isinstance(key, list):
        if all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 0x10FFFF for c in key):
            return "".join(map(chr, key))
    elif isinstance(key, tuple):
        return tuple(_hashable_key(k, pos) if not _is_hashable(k) else k for k in key)
    raise EtfError(f"map key {key!r} has no Python equivalent (only lists of code points can be keys)", pos)


def _is_hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _opaque(kind: str, data, start: int, stop: int) -> tuple:
    return Opaque(kind, bytes(data[start:stop])), stop


def _bit_binary(data, pos, end, term, elements) -> tuple:
    _need(pos, 5, end, "BIT_BINARY_EXT")
    length = _U32.unpack_from(data, pos)[0]
    bits = data[pos + 4]
    if not 1 <= bits <= 8 or (length == 0 and bits != 8):
        raise EtfError(f"BIT_BINARY_EXT with {bits} bits in its last byte", pos + 4)
    _need(pos + 5, length, end, "BIT_BINARY_EXT data")
    return _opaque("bitstring", data, pos - 1, pos + 5 + length)


def _atom_at(term, pos: int) -> tuple:
    value, stop = term(pos)
    if not isinstance(value, Atom):
        raise EtfError(f"expected an atom, got {value!r}", pos)
    return value, stop


def _export(data, pos, end, term, elements) -> tuple:
    module, pos = _atom_at(term, pos)
    function, pos = _atom_at(term, pos)
    arity, stop = term(pos)
    if not isinstance(arity, int) or isinstance(arity, bool) or not 0 <= arity <= 255:
        raise EtfError(f"EXPORT_EXT arity must be a small integer, got {arity!r}", pos)
    return ExternalFun(module, function, arity), stop


def _new_fun(data, pos, end, term, elements) -> tuple:
    _need(pos, 4, end, "NEW_FUN_EXT")
    size = _U32.unpack_from(data, pos)[0]
    # Size counts itself and the rest of the fun (not the tag byte).
    if size < 4:
        raise EtfError(f"NEW_FUN_EXT size {size} is too small", pos)
    _need(pos, size, end, "NEW_FUN_EXT")
    return _opaque("fun", data, pos - 1, pos + size)


def _old_fun(data, pos, end, term, elements) -> tuple:
    _need(pos, 4, end, "FUN_EXT")
    free = _U32.unpack_from(data, pos)[0]
    stop = pos + 4
    for _unused in range(4 + free):  # Pid, Module, Index, Uniq, free variables
        _unused, stop = term(stop)
    return _opaque("fun", data, pos - 1, stop)


def _node_then(kind: str, fixed: int):
    def handler(data, pos, end, term, elements) -> tuple:
        _unused, stop = _atom_at(term, pos)
        _need(stop, fixed, end, kind)
        return _opaque(kind, data, pos - 1, stop + fixed)

    return handler


def _ref(creation: int):
    def handler(data, pos, end, term, elements) -> tuple:
        _need(pos, 2, end, "reference")
        count = _U16.unpack_from(data, pos)[0]
        _unused, stop = _atom_at(term, pos + 2)
        _need(stop, creation + 4 * count, end, "reference")
        return _opaque("reference", data, pos - 1, stop + creation + 4 * count)

    return handler


_RARE = {
    70: _new_float,
    99: _old_float,
    110: _small_big,
    111: _large_big,
    105: _large_tuple,
    116: _map,
    77: _bit_binary,
    113: _export,
    112: _new_fun,
    117: _old_fun,
    103: _node_then("pid", 9),  # PID_EXT: ID, Serial, 1-byte Creation
    88: _node_then("pid", 12),  # NEW_PID_EXT: 4-byte Creation
    102: _node_then("port", 5),  # PORT_EXT
    89: _node_then("port", 8),  # NEW_PORT_EXT
    120: _node_then("port", 12),  # V4_PORT_EXT: 64-bit ID
    101: _node_then("reference", 5),  # REFERENCE_EXT
    114: _ref(1),  # NEW_REFERENCE_EXT
    90: _ref(4),  # NEWER_REFERENCE_EXT
}


def decode_prefix(data: bytes, offset: int = 0) -> tuple:
    """Decode the versioned term starting at ``data[offset]``; return ``(term, end_offset)``.

    For a compressed term, ``end_offset`` is the end of the compressed data.
    """
    if offset >= len(data):
        raise EtfError("empty input: expected the version byte 131", offset)
    if data[offset] != VERSION:
        raise EtfError(f"not the external term format: version byte is {data[offset]}, expected 131", offset)
    pos = offset + 1
    if pos < len(data) and data[pos] == 80:
        if pos + 5 > len(data):
            raise EtfError("truncated compressed term header", pos)
        size = _U32.unpack_from(data, pos + 1)[0]
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(bytes(data[pos + 5 :]), size + 1)
        except zlib.error as exc:
            raise EtfError(f"compressed term does not inflate: {exc}", pos + 5) from None
        if len(inflated) != size or not inflater.eof:
            raise EtfError(f"compressed term inflates to {len(inflated)} bytes, header says {size}", pos + 1)
        end = len(data) - len(inflater.unused_data)
        term, used = _run(_make_decoder(inflated), 0)
        if used != size:
            raise EtfError(f"compressed term has {size - used} bytes after the term", pos + 5)
        return term, end
    return _run(_make_decoder(data), pos)


def _run(term, pos: int) -> tuple:
    try:
        return term(pos)
    except RecursionError:
        raise EtfError("term nested too deeply to decode", pos) from None


def decode(data: bytes) -> object:
    """``binary_to_term/1``: decode a whole ``term_to_binary`` result (trailing bytes ignored)."""
    return decode_prefix(data, 0)[0]


binary_to_term = decode
