"""Typed records over the store's generic ones: checked reads, prefix listings, owner indexes.

A record type is a frozen dataclass with `to_json()` and a `from_json(data)` (both from the one
codec, `store/codec.py`, via its `Record` mixin) that raises `RecordInvalid` for a record that
does not fit (a field missing or of the wrong type, as an
older release or a hand edit may have left it). Listings skip such a record and log it once
per process, so one bad record never hides the others nor floods the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from travelinfo.store.base import Store
from travelinfo.store.codec import Record, RecordInvalid, decode_as, encode, spec

__all__ = [
    "OwnerIndex",
    "Record",
    "RecordInvalid",
    "decode",
    "decode_as",
    "encode",
    "get_typed",
    "list_typed",
    "spec",
]

log = logging.getLogger("travelinfo.store.records")

R = TypeVar("R")
_logged: set[tuple[str, str]] = set()
SEP = "/"  # between an owner and a key in an index (`owner_prefix` escapes it in owners)
INDEXES = "record_index"  # which owner indexes were built over the records written before them


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
    """The key prefix of one owner's entries: owner `a` never lists `ab`'s (`a/` vs `ab/`), nor
    `a/b`'s (escaped `a%2Fb/`)."""
    if not owner:
        raise ValueError("an owner id must be non-empty")
    return owner.replace("%", "%25").replace(SEP, "%2F") + SEP


@dataclass(frozen=True, slots=True)
class OwnerIndex:
    """Entries `<owner>/<key>` in kind `name` over kind `kind`, whose records name their owner in
    `field`: one owner's records are then a prefix listing. Built once over a store written
    before the index (a marker in `record_index`); kept by `add` and `remove`. An entry whose
    record is gone (a write interrupted) is skipped: `add` writes the entry before the record."""

    kind: str
    name: str
    field: str

    async def ensure(self, store: Store) -> None:
        if await store.get_record(INDEXES, self.name) is not None:
            return
        for key, raw in await store.record_items(self.kind):
            owner = raw.get(self.field) if isinstance(raw, Mapping) else None
            if isinstance(owner, str) and owner:
                await store.put_record(self.name, owner_prefix(owner) + key, {})
        await store.put_record(INDEXES, self.name, {"built": True})

    async def add(self, store: Store, owner: str, key: str) -> None:
        await store.put_record(self.name, owner_prefix(owner) + key, {})

    async def remove(self, store: Store, owner: str, key: str) -> None:
        await store.delete_record(self.name, owner_prefix(owner) + key)

    async def keys(self, store: Store, owner: str) -> list[str]:
        """The keys of `owner`'s records, in key order."""
        await self.ensure(store)
        prefix = owner_prefix(owner)
        return [key[len(prefix) :] for key, _ in await store.record_items(self.name, prefix)]

    async def records(self, store: Store, owner: str, from_json: Callable[[Mapping[str, Any]], R]) -> list[R]:
        """`owner`'s records, typed (bad ones skipped, logged once), checked to be `owner`'s."""
        out = []
        for key in await self.keys(store, owner):
            raw = await store.get_record(self.kind, key)
            if raw is not None and raw.get(self.field) == owner:
                rec = decode(self.kind, key, raw, from_json)
                if rec is not None:
                    out.append(rec)
        return out
