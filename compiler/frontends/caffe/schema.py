"""Binding parsed text to the Caffe schema: typed records with proto2 defaults.

``bind(message, "LayerParameter", problems)`` checks every field of a parsed
:class:`~.textformat.Message` against ``caffe_schema`` (known name, right kind of value,
integer ranges, enum members, no repeated singular field) and returns a :class:`Record`:
attribute access gives the typed value, the schema default for an absent field, ``[]`` for an
absent repeated field and an empty record for an absent message. Problems are collected with
their line and column so one run reports all of them.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Iterable

from .caffe_schema import ENUMS, MESSAGES
from .caffe_schema_forks import FORK_ENUMS, FORK_MESSAGES
from .caffe_schema_legacy import LEGACY_MESSAGES
from .textformat import Ident, Message

__all__ = ["FieldDef", "MessageType", "Problem", "Record", "SCHEMA", "bind", "enum_values"]

_INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1), "uint32": (0, 2**32 - 1),
               "uint64": (0, 2**64 - 1)}
_SCALARS = set(_INT_RANGES) | {"float", "double", "bool", "string", "bytes"}
_ZERO = {"float": 0.0, "double": 0.0, "bool": False, "string": "", "bytes": ""}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    repeated: bool
    default: Any

    @property
    def is_message(self) -> bool:
        return self.type in SCHEMA

    @property
    def is_enum(self) -> bool:
        return self.type in _ENUMS


@dataclass(frozen=True)
class MessageType:
    name: str
    fields: dict[str, FieldDef]


@dataclass(frozen=True)
class Problem:
    line: int
    column: int
    message: str


def _parse_enums(text: str) -> dict[str, dict[str, int]]:
    enums: dict[str, dict[str, int]] = {}
    current = None
    for line in text.strip().splitlines():
        words = line.split()
        if words and words[0] == "enum":
            current = enums.setdefault(words[1], {})
            words = words[2:]
        for w in words:
            name, value = w.split("=")
            current[name] = int(value)
    return enums


_ENUMS = _parse_enums(ENUMS + FORK_ENUMS)


def _default(type_: str, text: str | None):
    if text is None:
        if type_ in _INT_RANGES:
            return 0
        if type_ in _ENUMS:
            return next(iter(_ENUMS[type_]))   # proto2: the first declared member
        return _ZERO.get(type_)
    if type_ in _INT_RANGES:
        return int(text)
    if type_ in ("float", "double"):
        return float(text)
    if type_ == "bool":
        return text == "true"
    if type_ in ("string", "bytes"):
        return text.strip('"')
    return text   # enum member name


def _parse_messages(text: str) -> dict[str, MessageType]:
    out: dict[str, MessageType] = {}
    fields: dict[str, FieldDef] = {}
    for line in text.strip().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "message":   # a message named again extends the first (the forks' fields)
            if words[1] not in out:
                out[words[1]] = MessageType(words[1], {})
            fields = out[words[1]].fields
            continue
        name, type_ = words[0], words[1]
        if name in fields:
            raise RuntimeError(f"caffe schema: field {name} is declared twice")
        repeated = type_.endswith("*")
        type_ = type_.rstrip("*")
        default = None if repeated else _default(type_, words[3] if len(words) > 3 else None)
        fields[name] = FieldDef(name, type_, repeated, default)
    return out


SCHEMA: dict[str, MessageType] = _parse_messages(MESSAGES + LEGACY_MESSAGES + FORK_MESSAGES)


def _check_schema() -> None:
    for m in SCHEMA.values():
        for f in m.fields.values():
            if f.type not in _SCALARS and f.type not in SCHEMA and f.type not in _ENUMS:
                raise RuntimeError(f"caffe schema: {m.name}.{f.name} has unknown type {f.type}")


_check_schema()


def enum_values(enum: str) -> dict[str, int]:
    return dict(_ENUMS[enum])


class Record:
    """A message bound to its schema. Absent fields read as their proto2 defaults."""

    __slots__ = ("_type", "_values", "_pos", "_raw", "line", "column")

    def __init__(self, type_name: str, line: int = 0, column: int = 0):
        self._type = SCHEMA[type_name]
        self._values: dict[str, Any] = {}
        self._pos: dict[str, tuple[int, int]] = {}
        self._raw: dict[str, list[Message | Any]] = {}   # fields claimed by a custom layer
        self.line = line
        self.column = column

    @classmethod
    def new(cls, type_name: str, **values) -> "Record":
        """A record built in code (used when upgrading legacy layers)."""
        r = cls(type_name)
        for k, v in values.items():
            r.set(k, v)
        return r

    @property
    def type_name(self) -> str:
        return self._type.name

    def _field(self, name: str) -> FieldDef:
        try:
            return self._type.fields[name]
        except KeyError:
            raise AttributeError(f"{self._type.name} has no field {name!r}") from None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        f = self._field(name)
        if name in self._values:
            return self._values[name]
        if f.repeated:
            return []
        if f.is_message:
            return Record(f.type)
        return f.default

    def has(self, name: str) -> bool:
        self._field(name)
        return name in self._values

    def set(self, name: str, value) -> None:
        f = self._field(name)
        self._values[name] = list(value) if f.repeated else value

    def ensure(self, name: str) -> "Record":
        """The sub-message ``name``, created (and kept) if absent, for code that fills it in."""
        f = self._field(name)
        if not f.is_message or f.repeated:
            raise AttributeError(f"{self._type.name}.{name} is not a singular message field")
        if name not in self._values:
            self._values[name] = Record(f.type)
        return self._values[name]

    def append(self, name: str, value) -> None:
        self._values.setdefault(name, []).append(value)

    def pos(self, name: str) -> tuple[int, int]:
        """Line and column of a field (of the record itself when the field is absent)."""
        return self._pos.get(name, (self.line, self.column))

    def raw(self, name: str) -> list:
        """Values of a field the schema does not know but a custom layer declared."""
        return list(self._raw.get(name, []))

    @property
    def raw_fields(self) -> list[str]:
        return list(self._raw)

    def present(self) -> list[str]:
        return list(self._values)

    def __repr__(self) -> str:
        return f"{self._type.name}({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"


def _scalar(f: FieldDef, value, where: str) -> tuple[Any, str | None]:
    """(converted value, None) or (None, problem text)."""
    t = f.type
    if isinstance(value, Message):
        return None, f"field {where} is a {t}, not a message"
    if t in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"field {where} needs an integer ({t}), got {value!r}"
        lo, hi = _INT_RANGES[t]
        if not lo <= value <= hi:
            return None, f"field {where} = {value} is out of range for {t}"
        return value, None
    if t in ("float", "double"):
        if isinstance(value, Ident):
            low = value.lower()
            if low in ("inf", "infinity"):
                return math.inf, None
            if low == "nan":
                return math.nan, None
            return None, f"field {where} needs a number, got {value}"
        if isinstance(value, (int, float)):
            return float(value), None
        return None, f"field {where} needs a number, got {value!r}"
    if t == "bool":
        if isinstance(value, Ident) and value in ("true", "True", "t"):
            return True, None
        if isinstance(value, Ident) and value in ("false", "False", "f"):
            return False, None
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value), None
        return None, f"field {where} needs true or false, got {value!r}"
    if t in ("string", "bytes"):
        if type(value) is str:
            return value, None
        return None, f"field {where} needs a quoted string, got {value!r}"
    members = _ENUMS[t]
    if isinstance(value, Ident) and str(value) in members:
        return str(value), None
    if isinstance(value, int) and not isinstance(value, bool):
        for k, v in members.items():
            if v == value:
                return k, None
    return None, f"field {where} must be one of {', '.join(members)}, got {value!r}"


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def bind(msg: Message, type_name: str, problems: list[Problem], *, context: str = "",
         claimed: frozenset[str] = frozenset(), lenient: bool = False) -> Record:
    """Check ``msg`` against ``type_name`` and build its record; problems are appended.

    ``claimed`` names extra fields a custom layer declared (kept raw, unchecked);
    with ``lenient`` unknown fields are kept raw too (for a layer that is reported as
    unsupported anyway, so its fork-specific fields do not drown the report).
    """
    mt = SCHEMA[type_name]
    rec = Record(type_name, msg.line, msg.column)
    label = context or type_name
    for fld in msg.fields:
        f = mt.fields.get(fld.name)
        if f is None:
            if fld.name in claimed or lenient:
                rec._raw.setdefault(fld.name, []).append(fld.value)
                continue
            problems.append(Problem(fld.line, fld.column, f"unknown field {fld.name!r} in {label} "
                                    f"({type_name}){_suggest(fld.name, mt.fields)}"))
            continue
        where = f"{fld.name!r} of {label}"
        if not f.repeated and fld.name in rec._values:
            first = rec._pos[fld.name]
            problems.append(Problem(fld.line, fld.column, f"field {where} is not repeated but is set again "
                                    f"(first at line {first[0]})"))
            continue
        if f.is_message:
            if not isinstance(fld.value, Message):
                problems.append(Problem(fld.line, fld.column, f"field {where} is a {f.type} message; "
                                        f"write {fld.name} {{ ... }}"))
                continue
            value = bind(fld.value, f.type, problems, context=f"{label}.{fld.name}")
        else:
            value, problem = _scalar(f, fld.value, where)
            if problem:
                problems.append(Problem(fld.line, fld.column, problem))
                continue
        rec._pos.setdefault(fld.name, (fld.line, fld.column))
        if f.repeated:
            rec._values.setdefault(fld.name, []).append(value)
        else:
            rec._values[fld.name] = value
    return rec
