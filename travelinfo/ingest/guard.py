"""The snapshot sanity guard: a full snapshot that would wipe a source is held, not applied.

Pure decisions for the scheduler (the one engine): whether a snapshot looks wrong, a
fingerprint that says whether a held result repeats, and whether a hold is confirmed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from travelinfo.model import Batch
from travelinfo.settings import GuardConfig

ACCEPT_KIND = "guard-accept"  # store record an operator writes with `travelinfo sources accept NAME`


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a snapshot is suspicious (`reason`) and what it would do."""

    reason: str
    would_end: int
    current: int
    fingerprint: str


def fingerprint(batch: Batch) -> str:
    """Same set of live item ids (and the same kind) -> same fingerprint: the result repeats."""
    ids = sorted(d.id for d in batch.items if d.status != "ended")
    h = hashlib.sha256((batch.kind_mismatch or "").encode())
    for ident in ids:
        h.update(b"\0" + ident.encode())
    return h.hexdigest()[:24]


def check_snapshot(batch: Batch, current_ids: Iterable[str], guard: GuardConfig) -> Verdict | None:
    """The reason to hold the full snapshot `batch`, or None when it looks sane.

    `current_ids`: the source's items that are not ended now.
    """
    current = set(current_ids)
    live = {d.id for d in batch.items if d.status != "ended"}
    would_end = len(current - live)
    total = len(current)
    fp = fingerprint(batch)
    if batch.kind_mismatch:
        return Verdict(f"wrong kind of feed: {batch.kind_mismatch}", would_end, total, fp)
    if total and would_end == total:
        what = "empty" if not live else f"with {len(live)} other item(s)"
        return Verdict(f"full snapshot {what} would end all {total} item(s)", would_end, total, fp)
    if would_end >= guard.min_drop_items and would_end > guard.max_drop_share * total:
        return Verdict(
            f"full snapshot would end {would_end} of {total} items (more than {guard.max_drop_share:.0%})",
            would_end,
            total,
            fp,
        )
    return None


def confirmed(guard: GuardConfig, polls: int, since: datetime | None, now: datetime) -> bool:
    """A held result seen in `polls` polls in a row since `since` is accepted by repetition."""
    if polls >= guard.confirm_polls:
        return True
    return bool(guard.confirm_after and since and (now - since).total_seconds() >= guard.confirm_after)


def accept_record(at: datetime, by: str, held: Mapping[str, Any] | None) -> dict[str, Any]:
    """The record `travelinfo sources accept` writes (read by the scheduler's next poll)."""
    from travelinfo.model import format_time

    return {
        "at": format_time(at),
        "by": by,
        "held_checksum": (held or {}).get("held_checksum"),
        "suspect_reason": (held or {}).get("suspect_reason"),
    }
