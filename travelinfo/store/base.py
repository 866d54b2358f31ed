"""The store seam: one Protocol, shared diff and query logic for every backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from travelinfo.model import (
    Batch,
    Disruption,
    ModelError,
    format_time,
    parse_time,
)
from travelinfo.runtime import secrets
from travelinfo.runtime.lease import BOOT, holder_gone, lock_holder


@dataclass(frozen=True, slots=True)
class Change:
    """One change event of the log (MODEL.md "Change events")."""

    seq: str
    type: str  # created | updated | ended
    id: str
    disruption: Disruption
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "id": self.id,
            "disruption": self.disruption.to_json(),
            "at": format_time(self.at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            seq=str(data["seq"]),
            type=data["type"],
            id=data["id"],
            disruption=Disruption.from_json(data["disruption"]),
            at=parse_time(data["at"]),
        )


@dataclass(frozen=True, slots=True)
class ChangesPage:
    """Answer of `changes_since`: events in order, or `reset` when the log no longer reaches back."""

    changes: tuple[Change, ...]
    last_seq: str
    reset: bool = False


# Re-exported: the seam's vocabulary lives here for callers.
from travelinfo.store.diff import (  # noqa: E402
    DecodedCache,
    Meta,
    Plan,
    change_text,
    end_item,
    next_transition,
    plan_apply,
    retimed,
    split_unchanged,
)
from travelinfo.store.history import Version  # noqa: E402
from travelinfo.store.query import (  # noqa: E402
    ACTIVE_STATUSES,
    Query,
    decode_cursor,
    encode_cursor,
    select,
    sort_key,
)

__all__ = [
    "ACTIVE_STATUSES",
    "BOOT",
    "Change",
    "ChangesPage",
    "DecodedCache",
    "Meta",
    "Plan",
    "Query",
    "SourceHealth",
    "Store",
    "change_text",
    "decode_cursor",
    "encode_cursor",
    "end_item",
    "holder_gone",
    "list_health",
    "lock_holder",
    "next_transition",
    "parse_seq_int",
    "plan_apply",
    "put_health",
    "retimed",
    "select",
    "sort_key",
    "split_unchanged",
]


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """Per-source health record kept by the scheduler.

    `suspect`: the last full snapshot looked wrong (see `suspect_reason`) and is held; the
    source's previous items stay published until it is confirmed (`held_polls` since
    `held_since`) or an operator accepts it.
    """

    source: str
    state: str = "pending"  # pending | ok | stale | failing | suspect
    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    item_count: int = 0
    consecutive_failures: int = 0
    interval: float = 0.0
    stale_after: float = 0.0
    type: str = ""
    url: str | None = None
    suspect_reason: str | None = None
    held_since: datetime | None = None
    held_polls: int = 0
    held_checksum: str | None = None
    skipped_items: int = 0
    skip_reason: str | None = None
    # How a push-capable source gets its data now: "streaming" or "polling" (None: polls only).
    transport: str | None = None
    # The last parsed payload's notes (skipped or dropped fields, unresolved refs): how many, and
    # the first few (issue 19: nothing dropped silently).
    note_count: int = 0
    notes: tuple[str, ...] = ()

    def effective_state(self, now: datetime) -> str:
        """`stale` when the last success is older than `stale_after`, else the recorded state."""
        age = (now - self.last_success).total_seconds() if self.last_success else 0.0
        if self.state == "ok" and self.stale_after and age > self.stale_after:
            return "stale"
        return self.state

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        return {
            "source": self.source,
            "type": self.type,
            "url": self.url,
            "state": self.effective_state(now),
            "last_success": format_time(self.last_success) if self.last_success else None,
            "last_attempt": format_time(self.last_attempt) if self.last_attempt else None,
            "last_error": self.last_error,
            "item_count": self.item_count,
            "consecutive_failures": self.consecutive_failures,
            "interval": self.interval,
            "stale_after": self.stale_after,
            "suspect_reason": self.suspect_reason,
            "held_since": format_time(self.held_since) if self.held_since else None,
            "held_polls": self.held_polls,
            "held_checksum": self.held_checksum,
            "skipped_items": self.skipped_items,
            "skip_reason": self.skip_reason,
            "transport": self.transport,
            "note_count": self.note_count,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceHealth:
        def t(key: str) -> datetime | None:
            return parse_time(data[key]) if data.get(key) else None

        state = data.get("state", "pending")
        return cls(
            source=data["source"],
            state="ok" if state == "stale" else state,
            last_success=t("last_success"),
            last_attempt=t("last_attempt"),
            last_error=data.get("last_error"),
            item_count=int(data.get("item_count", 0)),
            consecutive_failures=int(data.get("consecutive_failures", 0)),
            interval=float(data.get("interval", 0)),
            stale_after=float(data.get("stale_after", 0)),
            type=data.get("type", ""),
            url=data.get("url"),
            suspect_reason=data.get("suspect_reason"),
            held_since=t("held_since"),
            held_polls=int(data.get("held_polls", 0)),
            held_checksum=data.get("held_checksum"),
            skipped_items=int(data.get("skipped_items", 0)),
            skip_reason=data.get("skip_reason"),
            transport=data.get("transport"),
            note_count=int(data.get("note_count", 0)),
            notes=tuple(str(n) for n in data.get("notes", ())),
        )


class Store(Protocol):
    """Every backend (SQLite, Redis) implements this and passes tests/test_store_contract.py."""

    url: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def apply(self, batch: Batch) -> list[Change]:
        """Upsert and diff; one event per real change, in one total order."""
        ...

    async def expire(self, now: datetime) -> list[Change]:
        """Start/end items by their periods; archive after grace; prune after retention."""
        ...

    async def query(self, q: Query) -> tuple[list[Disruption], str | None]: ...
    async def get(self, id: str) -> Disruption | None: ...
    async def count(self) -> dict[str, int]: ...

    async def changes_since(self, seq: str | None, limit: int = 1000) -> ChangesPage:
        """Events after `seq` in order; `reset=True` when `seq` is older than the log keeps."""
        ...

    async def last_seq(self) -> str: ...
    async def epoch(self) -> str:
        """The id of this store's data, made with it: it changes when the data was lost or
        replaced (Redis restarted empty, a new file), and with it every seq's meaning."""
        ...

    async def last_change_at(self) -> datetime | None:
        """When the newest event still in the change log happened (None: empty log)."""
        ...

    async def wait_for_change(self, after: str, timeout: float) -> bool:
        """Return True as soon as an event newer than `after` exists (False on timeout)."""
        ...

    async def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None: ...
    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None: ...
    async def list_records(
        self, kind: str, prefix: str = "", limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The kind's records whose key starts with `prefix` (literally), in key order, at most `limit`.

        Read by key range (an index), not by scanning the kind: listing one owner's records
        costs what that owner has. Typed listings: `travelinfo.store.records`."""
        ...

    async def record_items(
        self, kind: str, prefix: str = "", limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """`list_records` with each record's key."""
        ...

    async def delete_record(self, kind: str, key: str) -> bool: ...
    async def add_record_if_absent(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        """Atomically create a record; False when it already exists (idempotency guards)."""
        ...

    async def try_lock(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew a named lock with expiry (leader election)."""
        ...

    async def release_lock(self, name: str, holder: str) -> None: ...

    # History (travelinfo.store.history_mixin; docs/history.md).
    async def as_of(self, q: Query, at: datetime) -> tuple[list[Disruption], str | None]:
        """What `query(q)` answered at `at`; HistoryGone when older than history and archive."""
        ...

    async def history(self, ident: str) -> list[Version]:
        """Every published version of one id, oldest first (archive files, then the store)."""
        ...

    async def keep_history(self, now: datetime) -> int:
        """Archive complete days, prune versions past `history.retention`; the number pruned."""
        ...

    async def history_count(self) -> int: ...


# Typed helpers over the generic records (health, API keys, webhooks, bot posts, audit).


async def put_health(store: Store, health: SourceHealth) -> None:
    if health.last_error:  # the public /api/v1/sources and /status show it: no secrets
        health = dataclasses.replace(health, last_error=secrets.scrub(health.last_error))
    await store.put_record("health", health.source, health.to_json(health.last_attempt))


async def list_health(store: Store) -> list[SourceHealth]:
    out = []
    for rec in await store.list_records("health"):
        try:
            out.append(SourceHealth.from_json(rec))
        except (KeyError, ModelError, ValueError):
            continue
    return sorted(out, key=lambda h: h.source)


def parse_seq_int(seq: str | None) -> int:
    """Integer sequence numbers (SQLite); '' or None is the beginning."""
    if not seq:
        return 0
    try:
        return int(seq)
    except ValueError as exc:
        raise ValueError(f"invalid seq {seq!r}") from exc
