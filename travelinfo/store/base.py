"""The store seam: one Protocol, shared diff and query logic for every backend."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from travelinfo.model import (
    SEVERITY_RANK,
    Batch,
    Disruption,
    ModelError,
    Period,
    bbox_of,
    compute_status,
    format_time,
    parse_time,
)

ACTIVE_STATUSES = ("active", "planned")


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


@dataclass(frozen=True, slots=True)
class Query:
    """Filters shared by the store, the API, the pages and the push streams."""

    modes: tuple[str, ...] = ()
    status: tuple[str, ...] = ACTIVE_STATUSES
    sources: tuple[str, ...] = ()
    severity: str | None = None  # minimum
    bbox: tuple[float, float, float, float] | None = None
    route: str | None = None
    stop: str | None = None
    road: str | None = None
    area: str | None = None
    text: str | None = None
    active_at: datetime | None = None
    ids: tuple[str, ...] = ()
    # The outputs' home region: items whose geometry lies wholly outside it are left out
    # (e.g. NAVTEX warnings for the Bothnian Bay); items without geometry stay.
    region: tuple[float, float, float, float] | None = None
    limit: int | None = None
    cursor: str | None = None

    def matches(self, d: Disruption) -> bool:
        """Whether `d` passes every filter (paging aside)."""
        if self.status and d.status not in self.status:
            return False
        if self.modes and not set(self.modes) & set(d.modes):
            return False
        if self.sources and d.source not in self.sources:
            return False
        if self.ids and d.id not in self.ids:
            return False
        if self.severity and SEVERITY_RANK[d.severity] < SEVERITY_RANK[self.severity]:
            return False
        if self.bbox and not _bbox_overlaps(self.bbox, d.geometry):
            return False
        if self.region and d.geometry and not _bbox_overlaps(self.region, d.geometry):
            return False
        for kind, wanted in (("route", self.route), ("stop", self.stop), ("road", self.road)):
            if wanted and not _affects(d, kind, wanted):
                return False
        if self.area and not _mentions_area(d, self.area):
            return False
        if self.text and not _has_text(d, self.text):
            return False
        return not (self.active_at and not _active_at(d, self.active_at))

    def narrow(self) -> Query:
        """The same filters without paging (for counting and streams)."""
        return dataclasses.replace(self, limit=None, cursor=None)


def _bbox_overlaps(bbox: tuple[float, float, float, float], geometry: Any) -> bool:
    box = bbox_of(geometry)
    if box is None:
        return False
    return not (box[2] < bbox[0] or box[0] > bbox[2] or box[3] < bbox[1] or box[1] > bbox[3])


def _norm(text: str) -> str:
    return text.strip().casefold().replace(" ", "")


def _affects(d: Disruption, kind: str, wanted: str) -> bool:
    want = _norm(wanted)
    types = {"route": ("route",), "stop": ("stop",), "road": ("road",)}[kind]
    for a in d.affected:
        if a.type in types and (_norm(a.id) == want or (a.name and _norm(a.name) == want)):
            return True
    return False


def _mentions_area(d: Disruption, area: str) -> bool:
    want = area.strip().casefold()
    if any(a.type == "area" and want in (a.id.casefold(), (a.name or "").casefold()) for a in d.affected):
        return True
    return any(want in t.casefold() for t in d.location_text.values()) or any(
        want in t.casefold() for t in d.header.values()
    )


def _has_text(d: Disruption, text: str) -> bool:
    want = text.strip().casefold()
    for texts in (d.header, d.description, d.location_text):
        if any(want in t.casefold() for t in texts.values()):
            return True
    return want in d.id.casefold() or any(want in a.id.casefold() for a in d.affected)


def _active_at(d: Disruption, at: datetime) -> bool:
    if not d.periods:
        return d.status == "active"
    return any(p.contains(at) for p in d.periods)


def sort_key(d: Disruption) -> tuple[int, float, str]:
    """Stable list order: most severe first, then newest, then id."""
    return (-SEVERITY_RANK[d.severity], -d.updated_at.timestamp(), d.id)


def encode_cursor(key: tuple[int, float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, float, str]:
    """Raise ValueError on a cursor we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, ts, ident = json.loads(raw)
        return int(rank), float(ts), str(ident)
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc


def select(items: Iterable[Disruption], q: Query) -> tuple[list[Disruption], str | None]:
    """Filter, order and page `items`; returns the page and the next cursor (None at the end)."""
    chosen = sorted((d for d in items if q.matches(d)), key=sort_key)
    if q.cursor:
        after = decode_cursor(q.cursor)
        chosen = [d for d in chosen if sort_key(d) > after]
    if q.limit is not None and len(chosen) > q.limit:
        page = chosen[: q.limit]
        return page, encode_cursor(sort_key(page[-1]))
    return chosen, None


# -- diffing (shared by every backend) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Meta:
    """What the diff needs to know of a stored item."""

    id: str
    checksum: str
    status: str
    updated_at: str  # RFC 3339, parsed only when an item changed (the rare case)
    version: str | None
    first_seen: str
    archived: bool = False
    source: str = ""
    last_seen: float = 0.0
    ended_at: float | None = None


@dataclass
class Plan:
    """Writes and events one `apply` performs."""

    writes: list[tuple[Disruption, str]] = field(default_factory=list)  # (item, checksum)
    events: list[tuple[str, Disruption]] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # unchanged, last_seen bumped
    to_end: list[str] = field(default_factory=list)  # ids to load and end


def _older(incoming: Disruption, stored: Meta) -> bool:
    new, old = incoming.version or "", stored.version or ""
    if new.isdigit() and old.isdigit() and int(new) != int(old):
        return int(new) < int(old)
    return incoming.updated_at < parse_time(stored.updated_at)


def plan_apply(batch: Batch, stored: Mapping[str, Meta], active_ids: Iterable[str]) -> Plan:
    """Diff `batch` against what is stored (`stored`: metas of the named or source's items).

    `active_ids`: ids of the source's non-ended items (for complete snapshots).
    """
    plan = Plan()
    at = batch.fetched_at
    seen: set[str] = set()
    for item in batch.items:
        if item.id in seen:
            continue
        seen.add(item.id)
        old = stored.get(item.id)
        first = item.first_seen
        if not item.periods and item.status != "ended":
            first = parse_time(old.first_seen) if old else first
            item = item.replace(periods=(Period(first),), status=compute_status((Period(first),), at))
        checksum = item.content_checksum()
        if old is not None and checksum == old.checksum:
            # Unchanged (the common case): no copy, no write but the last_seen bump.
            if not old.archived:
                plan.touched.append(item.id)
            continue
        first = parse_time(old.first_seen) if old else first
        if item.first_seen != first or item.last_seen != at:
            item = item.replace(first_seen=first, last_seen=at)
        if old is None:
            plan.writes.append((item, checksum))
            if item.status != "ended":
                plan.events.append(("created", item))
            continue
        if _older(item, old):
            continue
        plan.writes.append((item, checksum))
        if item.status == "ended":
            if old.status != "ended":
                plan.events.append(("ended", item))
        else:
            plan.events.append(("updated", item))
    gone = set(batch.ended)
    if batch.complete:
        gone |= set(active_ids) - seen
    plan.to_end = sorted(i for i in gone if i not in seen)
    return plan


def change_text(kind: str, d: Disruption, at: datetime) -> str:
    """The change log entry as JSON text (without `seq`, which the log assigns)."""
    head = json.dumps({"type": kind, "id": d.id, "at": format_time(at)}, ensure_ascii=False)
    return head[:-1] + ',"disruption":' + d.dumps() + "}"


def end_item(item: Disruption, at: datetime) -> Disruption:
    """The ended version of a stored item (it vanished or upstream ended it)."""
    return item.replace(status="ended", last_seen=max(item.last_seen, at))


def next_transition(d: Disruption, now: datetime) -> float | None:
    """Epoch seconds when `d`'s status may next change by time alone (None: never)."""
    if d.status == "ended":
        return None
    bounds = [p.start for p in d.periods if p.start > now]
    bounds += [p.end for p in d.periods if p.end is not None and p.end > now]
    if not bounds:
        # Every period already behind us but status not ended: due now.
        if d.periods and compute_status(d.periods, now) != d.status:
            return now.timestamp()
        return None
    return min(bounds).timestamp()


def retimed(d: Disruption, now: datetime) -> Disruption | None:
    """The item with its status recomputed at `now`, or None when unchanged."""
    status = compute_status(d.periods, now)
    if status == d.status:
        return None
    return d.replace(status=status)


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """Per-source health record kept by the scheduler."""

    source: str
    state: str = "pending"  # pending | ok | stale | failing
    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    item_count: int = 0
    consecutive_failures: int = 0
    interval: float = 0.0
    stale_after: float = 0.0
    type: str = ""
    url: str | None = None

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
    async def wait_for_change(self, after: str, timeout: float) -> bool:
        """Return True as soon as an event newer than `after` exists (False on timeout)."""
        ...

    async def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None: ...
    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None: ...
    async def list_records(self, kind: str) -> list[dict[str, Any]]: ...
    async def delete_record(self, kind: str, key: str) -> bool: ...
    async def add_record_if_absent(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        """Atomically create a record; False when it already exists (idempotency guards)."""
        ...

    async def try_lock(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew a named lock with expiry (leader election)."""
        ...

    async def release_lock(self, name: str, holder: str) -> None: ...


# Typed helpers over the generic records (health, API keys, webhooks, bot posts, audit).


async def put_health(store: Store, health: SourceHealth) -> None:
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


def ids_of(items: Sequence[Disruption]) -> list[str]:
    return [d.id for d in items]
