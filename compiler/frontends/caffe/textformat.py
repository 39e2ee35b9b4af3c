"""Protocol-buffer text format (what ``.prototxt`` files are written in) -> a plain tree.

The grammar covers what real Caffe files use and what protobuf's own text parser accepts:
nested messages written ``name { ... }``, ``name: { ... }`` or with angle brackets, repeated
fields (repeated lines or the ``name: [a, b]`` list form), enum identifiers, quoted strings
with C escapes (adjacent strings concatenate), integers in decimal/hex/octal, floats in every
notation (``1.``, ``.5``, ``1e-3``, ``2.5f``, ``inf``, ``-nan``), ``#`` comments, and optional
``,`` / ``;`` separators after a field.

The result is schema-free: a :class:`Message` is an ordered list of :class:`Field` entries
(name, value, line, column), so the Caffe layer on top can check field names and types
against its own schema and name the exact line of a mistake. Syntax errors raise
``ModelFormatError`` with ``file:line:column`` and what the parser expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Union

import numpy as np
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from cortado.runtime.errors import ModelFormatError

__all__ = ["Field", "Ident", "Message", "parse_text"]

GRAMMAR = r"""
    start: _item*
    _item: field (_COMMA | _SEMI)?
    _COMMA: ","
    _SEMI: ";"

    field: NAME ":" scalar                   -> scalar_field
         | NAME ":"? body                    -> message_field
         | NAME ":" "[" [_list_items] "]"    -> list_field
    _list_items: _list_item (_COMMA _list_item)*
    _list_item: scalar | body

    body: LBRACE _item* RBRACE
        | LANGLE _item* RANGLE

    scalar: STRING+                          -> string
          | MINUS? NUMBER                    -> number
          | MINUS? NAME                      -> ident

    LBRACE: "{"
    RBRACE: "}"
    LANGLE: "<"
    RANGLE: ">"
    MINUS: "-"
    NAME: /[A-Za-z_][A-Za-z0-9_]*/
    // one terminal for every numeric form, floats first so "1e5" is never "1" + "e5"
    NUMBER: /(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?|[0-9]+[eE][+-]?[0-9]+[fF]?|0[xX][0-9a-fA-F]+|[0-9]+[fF]?/
    STRING: /"(?:[^"\\\n]|\\.)*"/ | /'(?:[^'\\\n]|\\.)*'/
    COMMENT: /#[^\n]*/
    %import common.WS
    %ignore WS
    %ignore COMMENT
"""


class Ident(str):
    """A bare identifier value: an enum name, ``true``/``false``, ``inf`` or ``nan``."""

    __slots__ = ()


Scalar = Union[int, float, str, Ident]


@dataclass
class Field:
    name: str
    value: "Scalar | Message"
    line: int
    column: int


@dataclass
class Message:
    """One message: its fields in file order, and where it opens (line, column)."""

    fields: list[Field] = field(default_factory=list)
    line: int = 1
    column: int = 1

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def all(self, name: str) -> list[Field]:
        return [f for f in self.fields if f.name == name]

    def first(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, name: str, default=None):
        """The value of the first ``name`` field, or ``default`` (handy in custom layers)."""
        f = self.first(name)
        return default if f is None else f.value

    def get_all(self, name: str) -> list:
        return [f.value for f in self.fields if f.name == name]


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\", "'": "'",
            '"': '"', "?": "?"}


def unescape(body: str) -> str:
    """C-style escapes as protobuf's text format defines them (octal, hex, \\u, \\U)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            j = i + 1
            while j < min(i + 4, len(body)) and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i + 1:j], 8)))
            i = j
        elif nxt in "xX":
            j = i + 2
            while j < min(i + 4, len(body)) and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                raise ValueError(f"\\{nxt} needs hex digits")
            out.append(chr(int(body[i + 2:j], 16)))
            i = j
        elif nxt in "uU":
            n = 4 if nxt == "u" else 8
            digits = body[i + 2:i + 2 + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"\\{nxt} needs {n} hex digits")
            out.append(chr(int(digits, 16)))
            i += 2 + n
        else:
            raise ValueError(f"unknown escape \\{nxt}")
    return "".join(out)


def parse_number(text: str) -> int | float:
    """An int for integer spellings (decimal, 0x hex, leading-0 octal), else a float."""
    t = text
    if t[:2] in ("0x", "0X"):
        return int(t, 16)
    if any(c in t for c in ".eE") or t[-1] in "fF":
        return float(t.rstrip("fF"))
    if len(t) > 1 and t[0] == "0":
        if any(c in "89" for c in t):
            raise ValueError(f"{t} is not a valid octal number")
        return int(t, 8)
    return int(t)


class _Build(Transformer):
    """Tokens -> Field / Message values, keeping each field's position."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def _fail(self, token: Token, message: str):
        raise ModelFormatError(message, where=f"{self.source}:{token.line}:{token.column}")

    def start(self, items):
        return Message(list(items), 1, 1)

    def body(self, items):
        opening = items[0]
        return Message([f for f in items[1:-1]], opening.line, opening.column)

    def scalar_field(self, items):
        name, value = items
        return Field(str(name), value, name.line, name.column)

    def message_field(self, items):
        name, body = items
        return Field(str(name), body, name.line, name.column)

    def list_field(self, items):
        name, values = items[0], [v for v in items[1:] if v is not None]
        # a list is the same as repeating the field once per element
        return [Field(str(name), v, name.line, name.column) for v in values]

    def string(self, tokens):
        parts = []
        for t in tokens:
            try:
                parts.append(unescape(t[1:-1]))
            except (ValueError, IndexError) as e:
                self._fail(t, f"bad escape in string {t}: {e}")
        return "".join(parts)

    def number(self, tokens):
        sign = -1 if len(tokens) == 2 else 1
        t = tokens[-1]
        try:
            return sign * parse_number(str(t))
        except ValueError as e:
            self._fail(t, str(e))

    def ident(self, tokens):
        name = str(tokens[-1])
        if len(tokens) == 2:
            if name.lower() not in ("inf", "infinity", "nan"):
                self._fail(tokens[0], f"'-' must be followed by a number, got {name!r}")
            return -float(name.lower().replace("infinity", "inf"))
        return Ident(name)


def _flatten(msg: Message) -> Message:
    """List fields were built as Python lists of fields; splice them in place."""
    out: list[Field] = []
    for f in msg.fields:
        if isinstance(f, list):
            out.extend(f)
        else:
            out.append(f)
    for f in out:
        if isinstance(f.value, Message):
            _flatten(f.value)
    msg.fields = out
    return msg


_PARSER: Lark | None = None


def _parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)
    return _PARSER


_WHAT = {"NAME": "a field name", "RBRACE": "'}'", "LBRACE": "'{'", "RANGLE": "'>'", "LANGLE": "'<'",
         "COLON": "':'", "NUMBER": "a number", "STRING": "a quoted string", "MINUS": "'-'", "LSQB": "'['",
         "RSQB": "']'", "_COMMA": "','", "_SEMI": "';'", "$END": "end of file"}


def _expected(names) -> str:
    words = sorted({_WHAT.get(n, n) for n in names})
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _unclosed(text: str) -> tuple[int, int] | None:
    """Where the innermost still-open '{' or '<' starts (for end-of-file errors)."""
    stack: list[tuple[int, int]] = []
    try:
        for tok in _parser().lex(text):
            if tok.type in ("LBRACE", "LANGLE"):
                stack.append((tok.line, tok.column))
            elif tok.type in ("RBRACE", "RANGLE") and stack:
                stack.pop()
    except UnexpectedInput:
        return None
    return stack[-1] if stack else None


MAX_DEPTH = 100    # protobuf's own text parser refuses deeper nesting too

_OPAQUE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*')


def _check_depth(text: str, source: str) -> None:
    """Refuse messages nested deeper than ``MAX_DEPTH`` before parsing: building the tree is
    recursive, and a file of 100,000 '{' must be an error, not a crash."""
    if text.count("{") + text.count("<") <= MAX_DEPTH:
        return
    blanked = _OPAQUE.sub(lambda m: " " * len(m.group()), text)     # strings and comments keep their length
    codes = np.frombuffer(blanked.encode("utf-32-le"), dtype=np.uint32)
    step = (np.isin(codes, (ord("{"), ord("<"))).astype(np.int32)
            - np.isin(codes, (ord("}"), ord(">"))).astype(np.int32))
    depth = np.cumsum(step)
    deep = np.flatnonzero(depth > MAX_DEPTH)
    if deep.size:
        at = int(deep[0])
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise ModelFormatError(f"messages are nested more than {MAX_DEPTH} levels deep",
                               where=f"{source}:{line}:{column}", hint="is this file really a Caffe net?")


def parse_text(text: str, source: str = "<text>") -> Message:
    """Parse protobuf text format; errors name ``source:line:column`` and what was expected."""
    _check_depth(text, source)
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as e:
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        hint = None
        if ch in "\"'":
            hint = "strings must close on the line they open"
        raise ModelFormatError(f"unexpected character {ch!r}" + (f"; expected {_expected(e.allowed)}" if e.allowed else ""),
                               where=f"{source}:{e.line}:{e.column}", hint=hint) from None
    except UnexpectedToken as e:
        expected = _expected(e.expected)
        if e.token.type == "$END":
            opened = _unclosed(text)
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
            msg = "unexpected end of file" + (f"; expected {expected}" if expected else "")
            hint = f"the '{{' opened at line {opened[0]}, column {opened[1]} is never closed" if opened else None
            raise ModelFormatError(msg, where=f"{source}:{line}:{col}", hint=hint) from None
        raise ModelFormatError(f"unexpected {e.token.value!r}" + (f"; expected {expected}" if expected else ""),
                               where=f"{source}:{e.token.line}:{e.token.column}") from None
    except UnexpectedInput as e:  # pragma: no cover - other lark errors carry a position too
        raise ModelFormatError(f"syntax error: {e}", where=f"{source}:{e.line}:{e.column}") from None
    try:
        return _flatten(_Build(source).transform(tree))
    except VisitError as e:   # errors raised inside the transformer carry their own position
        raise e.orig_exc from None
