"""One JSON codec for every typed record, driven by `dataclasses.fields()` and the type hints.

A record class is a frozen dataclass that inherits `Record` and names itself in `RECORD`.
Field types it reads and writes: `str`, `int`, `float` (an int is read as a float), `bool`,
`X | None`, `Literal[...]` (checked against its values), `tuple[X, ...]` and `list[X]`,
`dict[str, X]` and `Mapping[str, Any]` (a JSON object), `datetime` (RFC 3339 text) and nested
record dataclasses. A field's `metadata` (built with `spec`) says what to read when the field is
missing or null (`missing`), whether a None is left out when writing (`omit_none`), and an extra
check of a value (`check`, e.g. "parses as a time"). Keys the class does not name are ignored: a
newer release, or a store record holding more than the typed view (an API key's hash), still
reads. Any mistake is a `RecordInvalid` naming the record, the field and what was expected.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal, Self, TypeVar, Union, get_args, get_origin, get_type_hints

from travelinfo.model import format_time, parse_time

T = TypeVar("T")
MAX_TEXT = 1_000_000  # characters in one stored string; a larger one is a hostile or broken record
_UNSET: Any = dataclasses.MISSING


class RecordInvalid(ValueError):
    """A stored record that does not fit its type."""


def spec(
    *, missing: Any = _UNSET, omit_none: bool = False, check: Callable[[Any], object] | None = None
) -> dict[str, Any]:
    """A field's codec metadata: `field(metadata=spec(missing=""))`."""
    return {"codec": (missing, omit_none, check)}


class Record:
    """Mixin of the record dataclasses: `to_json` and `from_json` through the one codec."""

    __slots__ = ()
    RECORD: ClassVar[str] = "record"  # the name its errors give (the store kind, mostly)

    def to_json(self) -> dict[str, Any]:
        return encode(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return decode_as(cls, data)


_Plan = tuple[tuple[str, Any, Any, bool, Any], ...]
_plans: dict[type, _Plan] = {}
_shapes: dict[Any, tuple[Any, tuple[Any, ...]]] = {}  # a field type's get_origin and get_args
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _plan(cls: type) -> _Plan:
    """Per field: name, type, the value read when missing, omit_none, check (once per class)."""
    if cls in _plans:
        return _plans[cls]
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        missing, omit_none, check = f.metadata.get("codec", (_UNSET, False, None))
        if missing is _UNSET:
            if f.default is not dataclasses.MISSING:
                missing = f.default
            elif f.default_factory is not dataclasses.MISSING:
                missing = f.default_factory
        out.append((f.name, hints[f.name], missing, omit_none, check))
    _plans[cls] = tuple(out)
    return _plans[cls]


def encode(rec: object) -> dict[str, Any]:
    """The record's JSON object (field names as keys)."""
    out: dict[str, Any] = {}
    for name, _tp, _missing, omit_none, _check in _plan(type(rec)):
        value = getattr(rec, name)
        if value is None and omit_none:
            continue
        out[name] = _out(value)
    return out


def _out(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value  # most fields: no check below is needed (per record written, per field)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, (tuple, list)):
        return [_out(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _out(v) for k, v in value.items()}
    return value


def decode_as(cls: type[T], data: Any, what: str | None = None) -> T:
    """`cls` read from a JSON object; `RecordInvalid` (naming field and type) when it does not fit."""
    what = what or getattr(cls, "RECORD", cls.__name__)
    if not isinstance(data, Mapping):
        raise RecordInvalid(f"{what}: not a JSON object")
    kwargs: dict[str, Any] = {}
    for name, tp, missing, _omit, check in _plan(cls):
        value = data.get(name)
        if value is None:
            if missing is not _UNSET:
                kwargs[name] = missing() if callable(missing) else missing
                continue
            if _optional(tp):
                kwargs[name] = None
                continue
            raise RecordInvalid(f"{what}: field {name!r} is missing")
        kwargs[name] = _read(tp, value, f"{what}: field {name!r}")
        if check is not None:
            try:
                check(kwargs[name])
            except (ValueError, TypeError) as exc:
                raise RecordInvalid(f"{what}: field {name!r}: {exc}") from None
    return cls(**kwargs)


def _optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _bad(where: str, value: Any, expected: str) -> RecordInvalid:
    return RecordInvalid(f"{where} is {type(value).__name__}, not {expected}")


def _read(tp: Any, value: Any, where: str) -> Any:
    if type(value) is tp and tp in _PLAIN and (tp is not str or len(value) <= MAX_TEXT):
        return value  # a str, int, float or bool field holding one: the common case, at once
    if tp not in _shapes:
        _shapes[tp] = get_origin(tp), get_args(tp)
    origin, args = _shapes[tp]
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _read(inner, value, where)
    if tp is Any:
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _bad(where, value, "str")
        if len(value) > MAX_TEXT:
            raise RecordInvalid(f"{where} is {len(value):,} characters, over {MAX_TEXT:,}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise _bad(where, value, "bool")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(where, value, "int")
        return value
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _bad(where, value, "float")
        return float(value)
    if tp is datetime:
        text = _read(str, value, where)
        try:
            return parse_time(text)
        except ValueError as exc:
            raise RecordInvalid(f"{where}: {exc}") from None
    if origin is Literal:
        if value not in args or type(value) is not type(args[0]):
            raise RecordInvalid(f"{where} is {value!r}, not one of {sorted(map(str, args))}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise _bad(where, value, "list")
        items = [_read(args[0] if args else Any, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _bad(where, value, "object")
        inner = args[1] if len(args) == 2 else Any
        if not all(isinstance(k, str) for k in value):
            raise RecordInvalid(f"{where} has a key that is not a string")
        return {k: _read(inner, v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return decode_as(tp, value, where)
    raise TypeError(f"the record codec does not handle {tp!r} ({where})")
