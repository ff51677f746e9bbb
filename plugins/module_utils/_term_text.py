# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Erlang terms in the text format of ``file:consult/1``: reader and writer.

PRIVATE to the erlang.otp collection: may change at any time.

This is the format of ``.app``, ``.appup``, ``.rel``, ``relup``, ``RELEASES`` and ``sys.config``
files. The reader follows ``erl_scan`` and ``erl_parse:parse_term/1`` (OTP 25-28): bare and quoted
atoms, strings (adjacent strings concatenate), ``$c`` characters, integers in every notation
(``16#ff``, ``2#1010``, ``1_000``), floats, unary ``+``/``-`` on numbers, tuples, proper and
improper lists, maps (``=>`` only), binaries (``<<"ab">>``, ``<<1,2>>``, ``<<"é"/utf8>>``,
``<<1:16/little>>``), ``fun M:F/A``, ``%`` comments and a ``%% coding:`` line. Variables,
operators and records are refused, as ``file:consult/1`` refuses them.

The Python representation is described in :mod:`._terms`. The writer produces text that
``file:consult/1`` reads back as the identical term, character for character what
``io:format("~tp.~n", [Term])`` prints (a port of ``io_lib_pretty``'s layout and of
``float_to_list(F, [short])``), with two deliberate differences that follow from keeping the
file's spelling: a ``list`` of integers stays a list where Erlang would print a string, and map
keys keep their order where Erlang sorts them.
"""

from __future__ import annotations

import decimal
import math
import re
import struct
import sys

from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ExternalFun, ImproperList

__all__ = ["TermSyntaxError", "dumps", "format_term", "parse", "parse_one", "write_atom"]


class TermSyntaxError(ValueError):
    """A term file that ``file:consult/1`` would refuse. Carries the source name and line."""

    def __init__(self, message: str, source: str = "<string>", line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------------------------------------
# Scanner
# ---------------------------------------------------------------------------------------------

_RESERVED = frozenset(
    "after and andalso band begin bnot bor bsl bsr bxor case catch cond div end fun if let not of "
    "or orelse receive rem try when xor".split()
)
# Keywords of the maybe_expr feature (on by default from OTP 27): read as atoms, always quoted on write.
_QUOTE_ALWAYS = _RESERVED | {"maybe", "else"}

# Erlang letters: a-z and U+00DF-U+00FF (not U+00F7) start atoms; A-Z, U+00C0-U+00DE (not U+00D7)
# and _ start variables.
_LOWER = "a-z\u00df-\u00f6\u00f8-\u00ff"
_UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de"
_NAME = f"[{_LOWER}{_UPPER}0-9_@]*"

_WS = "\x00-\x20\x80-\xa0"

_TOKEN = re.compile(
    rf"""
    (?P<ws>[{_WS}]+)
  | (?P<comment>%[^\n]*)
  | (?P<float>[0-9](?:_?[0-9])*\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?)
  | (?P<based>[0-9](?:_?[0-9])*\#[0-9a-zA-Z](?:_?[0-9a-zA-Z])*)
  | (?P<int>[0-9](?:_?[0-9])*)
  | (?P<atom>[{_LOWER}]{_NAME})
  | (?P<var>[{_UPPER}_]{_NAME})
  | (?P<dstring>")
  | (?P<qatom>')
  | (?P<char>\$)
  | (?P<punct><<|>>|=>|:=|\|\||\.\.\.|[{{}}\[\]()|,:/#+\-=*<>])
  | (?P<dot>\.(?=[{_WS}%]|$))
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "b": "\b",
    "f": "\f",
    "e": "\x1b",
    "s": " ",
    "d": "\x7f",
}

_OCT = "01234567"
_HEX = "0123456789abcdefABCDEF"


def _is_unicode_scalar(value: int) -> bool:
    return 0 <= value < 0xD800 or 0xDFFF < value < 0xFFFE or 0xFFFF < value <= 0x10FFFF


class _Scanner:
    """Turns text into tokens: (kind, value, line)."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.line = 1

    def error(self, message: str, line: int | None = None) -> TermSyntaxError:
        return TermSyntaxError(message, self.source, self.line if line is None else line)

    def tokens(self) -> list[tuple[str, object, int]]:
        text = self.text
        out: list[tuple[str, object, int]] = []
        match = _TOKEN.match
        while self.pos < len(text):
            m = match(text, self.pos)
            if m is None:
                ch = text[self.pos]
                if ch == ".":
                    raise self.error("'.' must be followed by white space, a comment or the end of the file")
                raise self.error(f"illegal character {ch!r}")
            kind = m.lastgroup
            start_line = self.line
            self.pos = m.end()
            if kind == "ws":
                self.line += m.group().count("\n")
            elif kind == "comment":
                pass
            elif kind == "int":
                out.append(("num", int(m.group().replace("_", "")), start_line))
            elif kind == "float":
                try:
                    value = float(m.group().replace("_", ""))
                except ValueError:  # pragma: no cover - the regex only admits valid floats
                    raise self.error(f"illegal float {m.group()!r}") from None
                if math.isinf(value):
                    raise self.error(f"float {m.group()!r} is out of range")
                out.append(("num", value, start_line))
            elif kind == "based":
                out.append(("num", self._based(m.group()), start_line))
            elif kind == "atom":
                name = m.group()
                if name in _RESERVED:
                    out.append(("reserved", name, start_line))
                else:
                    out.append(("atom", Atom(name), start_line))
            elif kind == "var":
                raise self.error(f"variable {m.group()!r} is not allowed in a term (unquoted names starting "
                                 "with an upper-case letter or '_' are variables; quote atoms like 'Name')")
            elif kind == "dstring":
                out.append(("string", self._quoted('"'), start_line))
            elif kind == "qatom":
                name = self._quoted("'")
                if len(name) > 255:
                    raise self.error("atom is longer than 255 characters", start_line)
                out.append(("atom", Atom(name), start_line))
            elif kind == "char":
                out.append(("num", self._char(), start_line))
            elif kind == "dot":
                out.append(("dot", ".", start_line))
            else:
                out.append((m.group(), None, start_line))
        return out

    def _based(self, token: str) -> int:
        base_text, digits = token.split("#", 1)
        base = int(base_text.replace("_", ""))
        if not 2 <= base <= 36:
            raise self.error(f"illegal base {base} in {token!r} (must be 2..36)")
        try:
            return int(digits.replace("_", ""), base)
        except ValueError:
            raise self.error(f"illegal integer {token!r}") from None

    def _escape(self) -> int:
        """Read the escape after a backslash (already consumed); return its code point."""
        text = self.text
        if self.pos >= len(text):
            raise self.error("unterminated escape sequence")
        c = text[self.pos]
        if c in _OCT:
            end = self.pos
            while end < len(text) and end - self.pos < 3 and text[end] in _OCT:
                end += 1
            value = int(text[self.pos:end], 8)
            self.pos = end
            return value
        if c == "x":
            if text.startswith("{", self.pos + 1):
                end = self.pos + 2
                while end < len(text) and text[end] in _HEX:
                    end += 1
                if end >= len(text) or text[end] != "}" or end == self.pos + 2:
                    raise self.error("illegal \\x{...} escape")
                value = int(text[self.pos + 2:end], 16)
                if not _is_unicode_scalar(value):
                    raise self.error(f"\\x{{{text[self.pos + 2:end]}}} is not a Unicode code point")
                self.pos = end + 1
                return value
            hex2 = text[self.pos + 1:self.pos + 3]
            if len(hex2) == 2 and all(h in _HEX for h in hex2):
                self.pos += 3
                return int(hex2, 16)
            raise self.error("illegal \\x escape")
        if c == "^":
            if self.pos + 1 >= len(text):
                raise self.error("unterminated escape sequence")
            ctl = text[self.pos + 1]
            self.pos += 2
            if ctl == "\n":
                self.line += 1
            return ord(ctl) & 31
        self.pos += 1
        if c == "\n":
            self.line += 1
            return 10
        if c in _ESCAPES:
            return ord(_ESCAPES[c])
        return ord(c)

    def _quoted(self, quote: str) -> str:
        text = self.text
        start_line = self.line
        parts: list[str] = []
        while True:
            end = self.pos
            while end < len(text) and text[end] != quote and text[end] != "\\":
                end += 1
            chunk = text[self.pos:end]
            self.line += chunk.count("\n")
            parts.append(chunk)
            if end >= len(text):
                thing = "string" if quote == '"' else "quoted atom"
                raise self.error(f"unterminated {thing} starting here", start_line)
            self.pos = end + 1
            if text[end] == quote:
                return "".join(parts)
            parts.append(chr(self._escape()))

    def _char(self) -> int:
        text = self.text
        if self.pos >= len(text):
            raise self.error("'$' at end of input")
        c = text[self.pos]
        if c == "\\":
            self.pos += 1
            return self._escape()
        self.pos += 1
        if c == "\n":
            self.line += 1
        return ord(c)


# ---------------------------------------------------------------------------------------------
# Parser (erl_parse:parse_term + normalise)
# ---------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[tuple[str, object, int]], source: str) -> None:
        self.toks = tokens
        self.i = 0
        self.source = source

    def error(self, message: str, tok: tuple[str, object, int] | None = None) -> TermSyntaxError:
        if tok is None:
            tok = self.toks[self.i] if self.i < len(self.toks) else None
        line = tok[2] if tok is not None else (self.toks[-1][2] if self.toks else 1)
        return TermSyntaxError(message, self.source, line)

    def peek(self) -> str:
        return self.toks[self.i][0] if self.i < len(self.toks) else "eof"

    def next(self) -> tuple[str, object, int]:
        if self.i >= len(self.toks):
            raise self.error("unexpected end of input: a term must end with '.'")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str) -> tuple[str, object, int]:
        tok = self.next()
        if tok[0] != kind:
            raise self.error(f"expected {kind!r} but found {_describe(tok)}", tok)
        return tok

    def terms(self) -> list:
        out = []
        while self.i < len(self.toks):
            out.append(self.term())
            self.expect("dot")
        return out

    def term(self) -> object:
        tok = self.next()
        kind = tok[0]
        if kind == "atom":
            return tok[1]
        if kind == "num":
            return tok[1]
        if kind == "string":
            parts = [tok[1]]
            while self.peek() == "string":
                parts.append(self.next()[1])
            return "".join(parts)
        if kind in ("-", "+"):
            operand = self.next()
            if operand[0] != "num":
                raise self.error(f"unary {kind!r} applies only to numbers, not to {_describe(operand)}", operand)
            return -operand[1] if kind == "-" else operand[1]
        if kind == "{":
            return self.tuple()
        if kind == "[":
            return self.list()
        if kind == "<<":
            return self.binary()
        if kind == "#":
            return self.map()
        if kind == "reserved" and tok[1] == "fun":
            return self.fun()
        if kind == "(":
            inner = self.term()
            self.expect(")")
            return inner
        raise self.error(f"unexpected {_describe(tok)}", tok)

    def tuple(self) -> tuple:
        if self.peek() == "}":
            self.next()
            return ()
        items = [self.term()]
        while True:
            tok = self.next()
            if tok[0] == "}":
                return tuple(items)
            if tok[0] != ",":
                raise self.error(f"expected ',' or '}}' in tuple but found {_describe(tok)}", tok)
            items.append(self.term())

    def list(self) -> object:
        if self.peek() == "]":
            self.next()
            return []
        items = [self.term()]
        while True:
            tok = self.next()
            if tok[0] == "]":
                return items
            if tok[0] == "|":
                tail = self.term()
                self.expect("]")
                if isinstance(tail, list):
                    return items + tail
                if isinstance(tail, str) and not isinstance(tail, Atom):
                    return items + [ord(c) for c in tail]
                if isinstance(tail, ImproperList):
                    return ImproperList(items + tail.items, tail.tail)
                return ImproperList(items, tail)
            if tok[0] != ",":
                raise self.error(f"expected ',', '|' or ']' in list but found {_describe(tok)}", tok)
            items.append(self.term())

    def map(self) -> dict:
        self.expect("{")
        out: dict = {}
        if self.peek() == "}":
            self.next()
            return out
        while True:
            key_tok = self.toks[self.i] if self.i < len(self.toks) else None
            key = self.term()
            arrow = self.next()
            if arrow[0] != "=>":
                raise self.error(f"expected '=>' in map but found {_describe(arrow)}", arrow)
            value = self.term()
            try:
                out[key] = value
            except TypeError:
                raise self.error("map keys that are lists or maps are not supported", key_tok) from None
            tok = self.next()
            if tok[0] == "}":
                return out
            if tok[0] != ",":
                raise self.error(f"expected ',' or '}}' in map but found {_describe(tok)}", tok)

    def fun(self) -> ExternalFun:
        module = self.expect("atom")[1]
        self.expect(":")
        function = self.expect("atom")[1]
        self.expect("/")
        arity_tok = self.expect("num")
        if not isinstance(arity_tok[1], int):
            raise self.error("the arity of fun M:F/A must be an integer", arity_tok)
        return ExternalFun(module, function, arity_tok[1])

    def binary(self) -> bytes:
        bits = _BitWriter()
        if self.peek() == ">>":
            self.next()
            return b""
        while True:
            self.bin_element(bits)
            tok = self.next()
            if tok[0] == ">>":
                break
            if tok[0] != ",":
                raise self.error(f"expected ',' or '>>' in binary but found {_describe(tok)}", tok)
        if bits.nbits % 8:
            raise self.error("bitstrings whose size is not a multiple of 8 are not supported")
        return bits.to_bytes()

    def bin_element(self, bits: _BitWriter) -> None:
        tok = self.next()
        start = tok
        if tok[0] == "string":
            parts = [tok[1]]
            while self.peek() == "string":
                parts.append(self.next()[1])
            values: list = [ord(c) for c in "".join(parts)]
        elif tok[0] == "num":
            values = [tok[1]]
        elif tok[0] in ("-", "+"):
            num = self.expect("num")
            values = [-num[1] if tok[0] == "-" else num[1]]
        else:
            raise self.error(f"binary elements must be numbers or strings, not {_describe(tok)}", tok)
        size = None
        if self.peek() == ":":
            self.next()
            size_tok = self.expect("num")
            if not isinstance(size_tok[1], int) or size_tok[1] < 0:
                raise self.error("binary element size must be a non-negative integer", size_tok)
            size = size_tok[1]
        kind, endian, unit = "integer", "big", None
        if self.peek() == "/":
            self.next()
            while True:
                spec = self.next()
                if spec[0] not in ("atom", "reserved"):
                    raise self.error(f"bad binary type specifier {_describe(spec)}", spec)
                name = str(spec[1])
                if name in ("integer", "float", "binary", "bytes", "bitstring", "bits", "utf8", "utf16", "utf32"):
                    kind = name
                elif name in ("signed", "unsigned"):
                    pass  # signedness does not change the bits written
                elif name in ("big", "little", "native"):
                    endian = sys.byteorder if name == "native" else name
                elif name == "unit":
                    self.expect(":")
                    unit_tok = self.expect("num")
                    unit = unit_tok[1]
                else:
                    raise self.error(f"unknown binary type specifier {name!r}", spec)
                if self.peek() != "-":
                    break
                self.next()
        for value in values:
            try:
                bits.add(value, kind, size, unit, endian)
            except (ValueError, OverflowError, struct.error) as exc:
                raise self.error(f"bad binary element: {exc}", start) from None


class _BitWriter:
    def __init__(self) -> None:
        self.value = 0
        self.nbits = 0

    def push(self, value: int, nbits: int) -> None:
        self.value = (self.value << nbits) | (value & ((1 << nbits) - 1))
        self.nbits += nbits

    def push_bytes(self, data: bytes) -> None:
        self.push(int.from_bytes(data, "big"), 8 * len(data))

    def add(self, value: object, kind: str, size: int | None, unit: int | None, endian: str) -> None:
        if kind in ("utf8", "utf16", "utf32"):
            if size is not None:
                raise ValueError("utf types take no size")
            if not isinstance(value, int) or not _is_unicode_scalar(value):
                raise ValueError(f"{value!r} is not a Unicode code point")
            codec = {"utf8": "utf-8", "utf16": "utf-16", "utf32": "utf-32"}[kind]
            if kind != "utf8":
                codec += "-le" if endian == "little" else "-be"
            self.push_bytes(chr(value).encode(codec))
            return
        if kind == "float":
            nbits = (64 if size is None else size) * (unit or 1)
            if not isinstance(value, (int, float)):
                raise ValueError(f"{value!r} is not a number")
            fmt = {64: "d", 32: "f", 16: "e"}.get(nbits)
            if fmt is None:
                raise ValueError(f"float size {nbits} must be 16, 32 or 64")
            self.push_bytes(struct.pack((">" if endian == "big" else "<") + fmt, float(value)))
            return
        if kind in ("binary", "bytes", "bitstring", "bits"):
            raise ValueError("a literal number or string cannot be a binary segment")
        if not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        nbits = (8 if size is None else size) * (unit or 1)
        if nbits == 0:
            return
        mask = (1 << nbits) - 1
        raw = value & mask
        if endian == "little":
            if nbits % 8:
                raise ValueError("little-endian segments must be whole bytes")
            raw = int.from_bytes(raw.to_bytes(nbits // 8, "big"), "little")
        self.push(raw, nbits)

    def to_bytes(self) -> bytes:
        return self.value.to_bytes(self.nbits // 8, "big")


def _describe(tok: tuple[str, object, int]) -> str:
    kind, value, _line = tok
    if kind in ("atom", "reserved"):
        return f"atom {value}" if kind == "atom" else f"reserved word '{value}'"
    if kind == "num":
        return f"number {value!r}"
    if kind == "string":
        return f"string {value!r}"
    if kind == "dot":
        return "'.'"
    if kind == "eof":
        return "end of input"
    return repr(kind)


# ---------------------------------------------------------------------------------------------
# Decoding the bytes of a file
# ---------------------------------------------------------------------------------------------

_CODING = re.compile(rb"coding\s*[:=]\s*([-a-zA-Z0-9_]+)")


def _decode(data: bytes, source: str) -> str:
    """Decode as epp does: a ``coding:`` comment in the first two lines, else UTF-8."""
    encoding = "utf-8"
    for line in data.split(b"\n", 2)[:2]:
        stripped = line.lstrip()
        if stripped.startswith(b"%"):
            m = _CODING.search(stripped)
            if m:
                name = m.group(1).decode("ascii").lower()
                if name in ("latin-1", "latin1", "iso-8859-1"):
                    encoding = "latin-1"
                elif name in ("utf-8", "utf8"):
                    encoding = "utf-8"
                else:
                    raise TermSyntaxError(f"unsupported coding {name!r}", source, 1)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TermSyntaxError(
            "invalid UTF-8 (a Latin-1 file needs a 'coding: latin-1' comment on its first line)", source, line
        ) from None


def parse(data: bytes | str, source: str = "<string>") -> list:
    """Every term in ``data``, as ``file:consult/1`` returns them (each must end with ``.``)."""
    text = _decode(data, source) if isinstance(data, (bytes, bytearray)) else data
    tokens = _Scanner(text, source).tokens()
    return _Parser(tokens, source).terms()


def parse_one(data: bytes | str, source: str = "<string>") -> object:
    """The single term of a file that must hold exactly one (``.rel``, ``.app``, ``relup``...)."""
    terms = parse(data, source)
    if len(terms) != 1:
        raise TermSyntaxError(f"expected exactly one term, found {len(terms)}", source)
    return terms[0]


# ---------------------------------------------------------------------------------------------
# Writer (~p style)
# ---------------------------------------------------------------------------------------------

_BARE_ATOM = re.compile(rf"[{_LOWER}][{_LOWER}{_UPPER}0-9_@]*\Z")


def _string_char(c: str, quote: str) -> str:
    o = ord(c)
    if c == quote:
        return "\\" + c
    if c == "\\":
        return "\\\\"
    if 0x20 <= o <= 0x7E or o >= 0xA0:
        return c
    for letter, value in _ESCAPES.items():
        if value == c and letter != "s":
            return "\\" + letter
    return f"\\{o:03o}"


def _quote(chars: str, quote: str) -> str:
    return quote + "".join(_string_char(c, quote) for c in chars) + quote


def write_atom(name: str) -> str:
    """An atom as Erlang writes it: bare when it can be, else single-quoted with escapes."""
    name = str(name)  # a plain str: Atom hashes apart from str, so set look-ups need this
    if name not in _QUOTE_ALWAYS and _BARE_ATOM.match(name):
        return name
    return _quote(name, "'")


def _printable(chars: str) -> bool:
    """io_lib's printable list with the default (Latin-1) printable range."""
    return all(" " <= c <= "~" or "\xa0" <= c <= "\xff" or c in "\n\r\t\v\b\f\x1b" for c in chars)


def _binary(data: bytes) -> tuple:
    """A binary's text as ``~tp`` writes it, and whether it is one unbreakable token."""
    if not data:
        return "<<>>", True
    try:
        chars = data.decode("utf-8")
    except UnicodeDecodeError:
        chars = data.decode("latin-1")
        if _printable(chars):
            return "<<" + _quote(chars, '"') + ">>", True
    else:
        if _printable(chars):
            suffix = ">>" if len(chars) == len(data) else "/utf8>>"
            return "<<" + _quote(chars, '"') + suffix, True
    return "<<" + ",".join(str(b) for b in data) + ">>", False


def _float(value: float) -> str:
    """The float as ``float_to_list(F, [short])`` writes it: shortest digits that read back
    exactly, in fixed or scientific notation, whichever is shorter (fixed on a tie), but always
    scientific from 2**53 up, where fixed notation would suggest an exact integer."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value!r} cannot be written as an Erlang float")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    _sign, digit_tuple, exp = decimal.Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    exp += len(digit_tuple) - len(digits)
    point = len(digits) - 1 + exp  # the exponent of the first digit
    scientific = f"{digits[0]}.{digits[1:] or '0'}e{point}"
    if point >= 0:
        whole = digits[: point + 1].ljust(point + 1, "0")
        fixed = f"{whole}.{digits[point + 1:] or '0'}"
    else:
        fixed = "0." + "0" * (-point - 1) + digits
    if abs(value) >= 2.0**53 or len(scientific) < len(fixed):
        return sign + scientific
    return sign + fixed


def _flat(term: object) -> str:
    if isinstance(term, bool):
        return "true" if term else "false"
    if isinstance(term, Atom):
        return write_atom(term)
    if isinstance(term, str):
        return _quote(term, '"') if term else "[]"  # Erlang writes "" as []
    if isinstance(term, int):
        return str(term)
    if isinstance(term, float):
        return _float(term)
    if isinstance(term, tuple):
        return "{" + ",".join(_flat(t) for t in term) + "}"
    if isinstance(term, list):
        return "[" + ",".join(_flat(t) for t in term) + "]"
    if isinstance(term, ImproperList):
        return "[" + ",".join(_flat(t) for t in term.items) + "|" + _flat(term.tail) + "]"
    if isinstance(term, (bytes, bytearray)):
        return _binary(bytes(term))[0]
    if isinstance(term, dict):
        return "#{" + ",".join(f"{_flat(k)} => {_flat(v)}" for k, v in term.items()) + "}"
    if isinstance(term, ExternalFun):
        return f"fun {write_atom(term.module)}:{write_atom(term.function)}/{term.arity}"
    raise TypeError(f"{type(term).__name__} value {term!r} has no Erlang text form")


class _Node:
    """A term prepared for layout, as io_lib_pretty's intermediate format: flat text and length."""

    __slots__ = ("atomic", "flat", "items", "key", "kind", "tail", "value")

    def __init__(self, kind: str, flat: str, atomic: bool, items: list | None = None,
                 tail: _Node | None = None) -> None:
        self.kind = kind  # atomic, list, tagged, tuple, map, pair, bin
        self.flat = flat
        self.atomic = atomic  # io_lib_pretty's ?ATM: printed as one token, never broken
        self.items = items or []
        self.tail = tail
        self.key = self.value = None

    def __len__(self) -> int:
        return len(self.flat)


def _node(term: object) -> _Node:
    if isinstance(term, list) and term:
        items = [_node(t) for t in term]
        return _Node("list", "[" + ",".join(n.flat for n in items) + "]", False, items)
    if isinstance(term, ImproperList):
        items = [_node(t) for t in term.items]
        tail = _node(term.tail)
        return _Node("list", "[" + ",".join(n.flat for n in items) + "|" + tail.flat + "]", False, items, tail)
    if isinstance(term, tuple) and term:
        items = [_node(t) for t in term]
        kind = "tagged" if isinstance(term[0], Atom) and len(term) > 1 else "tuple"
        return _Node(kind, "{" + ",".join(n.flat for n in items) + "}", False, items)
    if isinstance(term, dict) and term:
        pairs = []
        for k, v in term.items():
            key, value = _node(k), _node(v)
            pair = _Node("pair", key.flat + " => " + value.flat, key.atomic and value.atomic)
            pair.key, pair.value = key, value
            pairs.append(pair)
        return _Node("map", "#{" + ",".join(n.flat for n in pairs) + "}", False, pairs)
    if isinstance(term, (bytes, bytearray)):
        flat, atomic = _binary(bytes(term))
        return _Node("atomic" if atomic else "bin", flat, atomic)
    return _Node("atomic", _flat(term), True)


class _NoGood(Exception):
    """A trial layout put a tagged tuple's elements too far right (io_lib_pretty's cind)."""


class _Layout:
    """A port of io_lib_pretty's layout (OTP 25-27) without depth or character limits.

    ``check`` mode is io_lib_pretty's ``cind`` pass: the same walk, failing when tagged tuples
    would indent their elements past half the line, which then selects another tuple indent.
    Maps keep their insertion order (Erlang prints small maps in key order).
    """

    def __init__(self, ll: int, total: int, tind: int, check: bool) -> None:
        self.ll = ll
        self.total = total
        self.tind = tind
        self.check = check

    def pp(self, n: _Node, col: int, ind: int, ld: int) -> str:
        if len(n) < self.ll - col - ld or n.kind in ("atomic", "pair"):
            return n.flat
        if n.kind == "bin":
            return self.pp_binary(n.flat, col + 2, ind + 2, ld)
        if n.kind == "list":
            return "[" + self.pp_list(n.items, n.tail, col + 1, ind + 1, ld) + "]"
        if n.kind == "tagged":
            return "{" + self.pp_tag_tuple(n.items, col, ind, ld) + "}"
        if n.kind == "tuple":
            return "{" + self.pp_list(n.items, None, col + 1, ind + 1, ld) + "}"
        return "#{" + self.pp_map(n.items, col + 2, ind + 2, ld) + "}"

    def pp_binary(self, flat: str, col: int, ind: int, ld: int) -> str:
        """``<<1,2,...>>`` broken at commas to fit the line, continued at ``ind``."""
        width = max(8, min(self.ll - col, self.total - 4) - ld)
        room = width
        parts = flat[2:-2].split(",")
        out = []
        for part in parts[:-1]:
            size = len(part) + 1
            if room - size < 0:
                out.append("\n" + " " * ind + part + ",")
                room = width - size
            else:
                out.append(part + ",")
                room -= size
        last = parts[-1]
        out.append("\n" + " " * ind + last if len(last) > room else last)
        return "<<" + "".join(out) + ">>"

    def pp_tag_tuple(self, items: list, col: int, ind: int, ld: int) -> str:
        tag = items[0]
        tag_ind = len(tag) + 2
        tcol = col + tag_ind
        if 0 < self.tind < tag_ind:
            col1 = col + self.tind
            if self.check and not (self.total + col1 <= self.ll or col1 <= self.ll // 2):
                raise _NoGood
            return tag.flat + self.pp_tail(items[1:], col1, tcol, ind + self.tind, ld)
        if self.check and not (self.total + tcol < self.ll or tcol < self.ll // 2):
            raise _NoGood
        return tag.flat + "," + self.pp_list(items[1:], None, tcol, ind + tag_ind, ld)

    def pp_list(self, items: list, tail: _Node | None, col0: int, ind: int, ld: int) -> str:
        ld1 = 0 if len(items) > 1 else ld + 1
        first, width = self.pp_element(items[0], col0, ind, ld1)
        return first + self.pp_tail(items[1:], col0, col0 + width, ind, ld, tail)

    def pp_tail(self, items: list, col0: int, col: int, ind: int, ld: int, tail: _Node | None = None) -> str:
        out = []
        for i, e in enumerate(items):
            ld1 = 0 if i + 1 < len(items) else ld + 1
            elen = 1 + len(e)
            if e.atomic and (elen + 1 < self.ll - col if ld1 == 0 else elen < self.ll - col - ld1):
                out.append("," + e.flat)
                col += elen
            else:
                text, width = self.pp_element(e, col0, ind, ld1)
                out.append(",\n" + " " * ind + text)
                col = col0 + width
        if tail is not None:
            if tail.atomic and len(tail) + 1 < self.ll - col - (ld + 1):
                out.append("|" + tail.flat)
            else:
                out.append("|\n" + " " * ind + self.pp(tail, col0, ind, ld + 1))
        return "".join(out)

    def pp_element(self, e: _Node, col: int, ind: int, ld: int) -> tuple:
        if e.atomic and len(e) < self.ll - col - ld:
            return e.flat, len(e)
        return self.pp(e, col, ind, ld), self.ll  # the next element goes on a new line

    def pp_map(self, pairs: list, col0: int, ind: int, ld: int) -> str:
        out = []
        col = col0
        for i, p in enumerate(pairs):
            ld1 = 0 if i + 1 < len(pairs) else ld + 1
            elen = 1 + len(p)
            if i and p.atomic and (elen + 1 < self.ll - col if ld1 == 0 else elen < self.ll - col - ld1):
                out.append("," + p.flat)
                col += elen
                continue
            text, width = self.pp_pair(p, col0, ind, ld1)
            out.append(text if i == 0 else ",\n" + " " * ind + text)
            col = col0 + width
        return "".join(out)

    def pp_pair(self, p: _Node, col: int, ind: int, ld: int) -> tuple:
        if len(p) < self.ll - col - ld:
            return p.flat, len(p) if p.atomic else self.ll
        indent = self.tind if self.tind > 0 else 4
        key = self.pp(p.key, col, ind, ld)
        value = self.pp(p.value, col + indent, ind + indent, ld)
        return key + " =>\n" + " " * (ind + indent) + value, self.ll


def format_term(term: object, width: int = 80, col: int = 1) -> str:
    """One term laid out as ``io:format("~tp", [Term])`` does at column ``col`` (without the dot)."""
    n = _node(term)
    if n.kind == "atomic" or len(n) < width - col:
        return n.flat
    tind = 1
    for trial in (-1, 4):
        try:
            _Layout(width, len(n), trial, check=True).pp(n, col, col - 1, 0)
        except _NoGood:
            continue
        tind = trial
        break
    return _Layout(width, len(n), tind, check=False).pp(n, col, col - 1, 0)


def dumps(terms: list, header: str | None = None) -> str:
    """A whole file: each term followed by ``.`` and a newline, as ``file:consult/1`` reads it.

    ``header`` lines are written first as ``%%`` comments. The text is UTF-8; non-ASCII strings and
    atoms are written as they are, which ``file:consult/1`` reads back with its UTF-8 default.
    """
    out = []
    if header:
        out.extend(f"%% {line}".rstrip() + "\n" for line in header.splitlines())
    for term in terms:
        out.append(format_term(term) + ".\n")
    return "".join(out)
