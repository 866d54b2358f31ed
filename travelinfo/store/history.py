"""Every published version: what both backends' history shares (versions, patches, time travel).

A version is one change event of the log (created, updated, ended) kept with the full
disruption for `history.retention`; it is valid from its time until the next version of the
same id. The state at time T is, per id, the version valid at T: that is what the live list
answered then, so `as_of` runs the same `select` (filters, region, order, paging) over it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonpatch

from travelinfo.model import Disruption, format_time, parse_time
from travelinfo.store.query import Query, select

# Far future for the still current version of an item (the index wants a finite number).
OPEN = 1e11


class HistoryGone(LookupError):
    """`as_of` names a time older than the kept history and no archive covers it."""


@dataclass(frozen=True, slots=True)
class Version:
    """One published version of a disruption: its change event."""

    seq: str
    type: str
    id: str
    at: datetime
    disruption: Disruption

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "id": self.id,
            "at": format_time(self.at),
            "disruption": self.disruption.to_json(),
        }


def version_of(seq: str, body: str | Mapping[str, Any]) -> Version:
    """A version from a change log body (the JSON text `change_text` made)."""
    data = json.loads(body) if isinstance(body, str) else body
    return Version(
        str(seq),
        data["type"],
        data["id"],
        parse_time(data["at"]),
        Disruption.from_json(data["disruption"]),
    )


def seq_key(seq: str) -> tuple[int, ...]:
    """Order of seqs of either backend (`123` or Redis stream ids `ms-n`)."""
    return tuple(int(p) for p in seq.split("-"))


def cls_of(status: str) -> str:
    """Index class: the live list (planned, active) and ended items are kept apart."""
    return "ended" if status == "ended" else "live"


def classes(q: Query) -> tuple[str, ...]:
    """Which index classes a query can match."""
    wanted = set(q.status) if q.status else {"planned", "active", "ended"}
    out = ["live"] if wanted & {"planned", "active"} else []
    return (*out, "ended") if "ended" in wanted else tuple(out)


def valid(v: Version, until: float | None, at: datetime, archive_retention: float) -> bool:
    """Whether `v` (valid until `until`) is what the store held at `at`."""
    t = at.timestamp()
    if not v.at.timestamp() <= t < (until if until is not None else OPEN):
        return False
    # The live store drops ended items `archive_retention` after they ended.
    return not (v.disruption.status == "ended" and t >= v.at.timestamp() + archive_retention)


def pick(versions: Iterable[Version], q: Query) -> tuple[list[Disruption], str | None]:
    """The live list's answer over the versions valid at one time."""
    return select((v.disruption for v in versions), q)


def latest_at(versions: Iterable[Version], at: datetime, archive_retention: float) -> list[Version]:
    """Per id, the newest version at or before `at` (for data without validity spans)."""
    best: dict[str, Version] = {}
    t = at.timestamp()
    for v in versions:
        if v.at.timestamp() > t:
            continue
        old = best.get(v.id)
        if old is None or seq_key(v.seq) > seq_key(old.seq):
            best[v.id] = v
    return [v for v in best.values() if valid(v, None, at, archive_retention)]


def with_patches(versions: Iterable[Version]) -> list[dict[str, Any]]:
    """The versions in order, each with the RFC 6902 JSON Patch from the one before."""
    out: list[dict[str, Any]] = []
    before: dict[str, Any] | None = None
    seen: set[str] = set()
    for v in sorted(versions, key=lambda v: seq_key(v.seq)):
        if v.seq in seen:
            continue
        seen.add(v.seq)
        doc = v.disruption.to_json()
        entry = v.to_json()
        entry["patch"] = None if before is None else jsonpatch.make_patch(before, doc).patch
        out.append(entry)
        before = doc
    return out


def day_start(ts: float) -> float:
    """Start (UTC midnight) of the day holding epoch second `ts`."""
    d = datetime.fromtimestamp(ts, UTC)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class VersionCache:
    """Decoded versions by seq (versions never change, so a hit is always right); bounded."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._items: dict[str, Version] = {}

    def get(self, seq: str, body: str) -> Version:
        hit = self._items.get(seq)
        if hit is None:
            hit = version_of(seq, body)
            if len(self._items) >= self.size:
                del self._items[next(iter(self._items))]  # oldest in
            self._items[seq] = hit
        return hit


def merge(*groups: Iterable[Version]) -> list[Version]:
    """One ordered list of versions without repeats (the archive and the store overlap)."""
    out: dict[str, Version] = {}
    for group in groups:
        for v in group:
            out.setdefault(v.seq, v)
    return sorted(out.values(), key=lambda v: seq_key(v.seq))
