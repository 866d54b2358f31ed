"""Diffing shared by every backend: what one `apply` writes and which events it makes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from travelinfo.model import Batch, Disruption, Period, compute_status, format_time, parse_time


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


def split_unchanged(
    items: Iterable[Disruption], checksums: Mapping[str, str]
) -> tuple[set[str], list[Disruption]]:
    """The ids whose stored checksum matches (nothing to do) and the items left to diff fully.

    The fast path of a re-applied snapshot: one checksum and one dict lookup per item, no
    stored metadata decoded. Items without periods go to the full diff (their checksum
    depends on the stored first_seen); a repeated id keeps the first occurrence's verdict.
    """
    same: set[str] = set()
    seen: set[str] = set()
    rest: list[Disruption] = []
    for item in items:
        if item.id in seen:
            continue
        seen.add(item.id)
        if (item.periods or item.status == "ended") and checksums.get(item.id) == item.content_checksum():
            same.add(item.id)
        else:
            rest.append(item)
    return same, rest


def plan_apply(
    batch: Batch,
    stored: Mapping[str, Meta],
    active_ids: Iterable[str],
    *,
    items: Iterable[Disruption] | None = None,
    unchanged: Iterable[str] = (),
) -> Plan:
    """Diff `batch` against what is stored (`stored`: metas of the named or source's items).

    `active_ids`: ids of the source's non-ended items (for complete snapshots). `items` and
    `unchanged`: what `split_unchanged` left to diff and found unchanged (complete snapshots;
    their last_seen is not bumped, the source's snapshot time stands for it).
    """
    plan = Plan()
    at = batch.fetched_at
    seen: set[str] = set(unchanged)
    for item in batch.items if items is None else items:
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
        # A record the parser had to skip is not one the upstream removed: keep it as stored.
        gone |= set(active_ids) - seen - set(batch.kept)
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
    # Recurring validity (issue 19): the next occurrence's start or end within a week.
    week = [o for s in d.schedules for o in s.occurrences(now, now + timedelta(days=8))]
    bounds += [t for o in week for t in o if t > now]
    if not bounds:
        # Every period already behind us but status not ended: due now.
        if d.periods and compute_status(d.periods, now, schedules=d.schedules) != d.status:
            return now.timestamp()
        return None
    return min(bounds).timestamp()


def retimed(d: Disruption, now: datetime) -> Disruption | None:
    """The item with its status recomputed at `now`, or None when unchanged."""
    status = compute_status(d.periods, now, schedules=d.schedules)
    if status == d.status:
        return None
    return d.replace(status=status)


class DecodedCache:
    """Decoded items kept per id while their stamp (checksum, status, last seen) holds.

    Both backends store JSON; decoding it is most of a query's cost, and most items do not
    change between two queries. The stamp also carries the effective `last_seen`, which is
    written into the decoded item (it is not in the stored JSON's latest value).
    """

    LIMIT = 100_000  # ids of pruned items would otherwise pile up

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, Disruption]] = {}

    @staticmethod
    def stamp(checksum: str, status: str, last_seen: float) -> str:
        return f"{checksum}:{status}:{last_seen}"

    def get(self, ident: str, stamp: str) -> Disruption | None:
        hit = self._items.get(ident)
        return hit[1] if hit is not None and hit[0] == stamp else None

    def decode(self, ident: str, stamp: str, data: str, last_seen: float) -> Disruption:
        """Decode stored JSON with its effective `last_seen` and remember it under `stamp`."""
        obj = json.loads(data)
        obj["last_seen"] = format_time(datetime.fromtimestamp(last_seen, UTC))
        d = Disruption.from_json(obj)
        if len(self._items) > self.LIMIT:
            self._items.clear()
        self._items[ident] = (stamp, d)
        return d
