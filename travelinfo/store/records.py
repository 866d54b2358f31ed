"""Typed records over the store's generic ones: checked reads, prefix listings, owner indexes.

A record type is a frozen dataclass with `to_json()` and a `from_json(data)` that raises
`RecordInvalid` for a record that does not fit (a field missing or of the wrong type, as an
older release or a hand edit may have left it). Listings skip such a record and log it once
per process, so one bad record never hides the others nor floods the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from travelinfo.store.base import Store

log = logging.getLogger("travelinfo.store.records")

R = TypeVar("R")
_logged: set[tuple[str, str]] = set()
SEP = "/"  # between an owner and a key in an index: owners never contain it (see `owner_prefix`)


class RecordInvalid(ValueError):
    """A stored record that does not fit its type."""


def skipped(kind: str, key: str, exc: Exception) -> None:
    """Log a skipped record once per process (kind and key)."""
    if (kind, key) in _logged:
        return
    if len(_logged) > 10_000:  # bounded: a store full of bad records cannot grow this forever
        _logged.clear()
    _logged.add((kind, key))
    log.warning("skipping %s record %r: %s", kind, key, exc)


def decode(
    kind: str, key: str, raw: Mapping[str, Any], from_json: Callable[[Mapping[str, Any]], R]
) -> R | None:
    """`from_json(raw)`, or None (logged once) when the record does not fit."""
    try:
        return from_json(raw)
    except (RecordInvalid, KeyError, TypeError, ValueError) as exc:
        skipped(
            kind,
            key,
            exc if isinstance(exc, RecordInvalid) else RecordInvalid(f"{type(exc).__name__}: {exc}"),
        )
        return None


async def get_typed(
    store: Store, kind: str, key: str, from_json: Callable[[Mapping[str, Any]], R]
) -> R | None:
    """One typed record; None when absent or unreadable (logged once)."""
    raw = await store.get_record(kind, key)
    return None if raw is None else decode(kind, key, raw, from_json)


async def list_typed(
    store: Store,
    kind: str,
    from_json: Callable[[Mapping[str, Any]], R],
    prefix: str = "",
    limit: int | None = None,
) -> list[R]:
    """The kind's records with keys starting with `prefix`, in key order, bad ones skipped."""
    out = []
    for key, raw in await store.record_items(kind, prefix, limit):
        rec = decode(kind, key, raw, from_json)
        if rec is not None:
            out.append(rec)
    return out


def owner_prefix(owner: str) -> str:
    """The key prefix of one owner's entries: owner `a` never lists owner `ab`'s (`a/` vs `ab/`)."""
    if not owner or SEP in owner:
        raise ValueError(f"an owner id must be non-empty and without {SEP!r}: {owner!r}")
    return owner + SEP


class Reader:
    """Checked field reads for `from_json`: each mistake is a `RecordInvalid` naming the field."""

    def __init__(self, data: Any, what: str) -> None:
        if not isinstance(data, Mapping):
            raise RecordInvalid(f"{what}: not a JSON object")
        self.data, self.what = data, what

    def _get(self, name: str, types: type | tuple[type, ...], default: Any) -> Any:
        if name not in self.data or self.data[name] is None:
            if default is _REQUIRED:
                raise RecordInvalid(f"{self.what}: field {name!r} is missing")
            return default
        value = self.data[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            raise RecordInvalid(f"{self.what}: field {name!r} is {type(value).__name__}, not {_names(types)}")
        return value

    def text(self, name: str, default: Any = None) -> Any:
        """A string (`REQUIRED`: it must be there)."""
        return self._get(name, str, default)

    def count(self, name: str, default: Any = None) -> Any:
        return self._get(name, int, default)

    def number(self, name: str, default: Any = None) -> Any:
        value = self._get(name, (int, float), default)
        return float(value) if isinstance(value, int) else value

    def flag(self, name: str, default: Any = None) -> Any:
        return self._get(name, bool, default)

    def obj(self, name: str, default: Any = None) -> Any:
        return self._get(name, Mapping, default)

    def texts(self, name: str, default: Any = None) -> Any:
        """A list of strings, as a tuple."""
        value = self._get(name, list, default)
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise RecordInvalid(f"{self.what}: field {name!r} must hold only strings")
            return tuple(value)
        return value

    def choice(self, name: str, allowed: Collection[str], default: Any = None) -> Any:
        """One of `allowed` (a `Literal`'s values)."""
        value = self.text(name, default)
        if value is not None and value not in allowed:
            raise RecordInvalid(f"{self.what}: field {name!r} is {value!r}, not one of {sorted(allowed)}")
        return value


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


_REQUIRED: Any = _Required()
REQUIRED: Any = _REQUIRED


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _names(types: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _tuple(types))
