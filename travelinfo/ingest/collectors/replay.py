"""Replay rebasing: recorded demo payloads moved to the present, each loop a fresh run.

A replay folder option only (`options.replay_rebase = true`); real sources are never rebased.
Each payload is parsed as of its recording (its newest update), so an item's state is the one
it had then whatever today's date, and shifted so its newest update is "now"; an item keeps the
shift of the payload it first appeared in during the loop (so unchanged items do not change
from poll to poll), and its update time is never in the future. Versions carry the loop number,
so the next loop's payloads are newer versions instead of "older versions" the store would ignore.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from travelinfo.model import Batch, Disruption, Period, compute_status

OPTION = "replay_rebase"
# A recorded payload also carries items last touched days before it was recorded; on a demo's
# first page they read "updated a few minutes ago" (their periods keep the recorded spacing).
MAX_AGE = timedelta(minutes=9)
LOOP_STEP = 1_000_000  # numeric versions become (run, loop) * LOOP_STEP + version


def recorded_at(batch: Batch) -> datetime | None:
    """When a payload was recorded, as the rebaser reckons it: its newest update."""
    return max((d.updated_at for d in batch.items), default=None)


def as_fetched(batch: Batch, at: datetime) -> Batch:
    """A batch parsed as of its recording, with the times the parser took from that clock
    (fetch, first and last seen) moved to `at`, the real fetch (the rebaser moves the rest)."""
    items = tuple(d.replace(first_seen=at, last_seen=at) for d in batch.items)
    return dataclasses.replace(batch, fetched_at=at, items=items)


class Rebaser:
    """The shifting state of one replayed source."""

    def __init__(self, started: datetime) -> None:
        # The run's start is part of every version: a demo database kept from an earlier run
        # (with higher loop numbers) must not make this run's payloads "older versions".
        self.run = int(started.timestamp())
        self.loop = -1
        self.offsets: dict[str, timedelta] = {}
        self.last = timedelta(0)

    def apply(self, batch: Batch, loop: int) -> Batch:
        """`batch` (parsed from the loop's next payload) moved to its fetch time."""
        if loop != self.loop:
            self.loop, self.offsets = loop, {}
        at = batch.fetched_at
        if batch.items:
            self.last = at - max(d.updated_at for d in batch.items)
        items = tuple(self._shift(d, self.offsets.setdefault(d.id, self.last), at) for d in batch.items)
        return dataclasses.replace(batch, items=items)

    def _shift(self, d: Disruption, offset: timedelta, at: datetime) -> Disruption:
        periods = tuple(
            Period(
                p.start if p.start.year <= 1970 else p.start + offset,  # "no start" stays the epoch
                p.end + offset if p.end is not None else None,
            )
            for p in d.periods
        )
        status = d.status if d.status == "ended" else compute_status(periods, at)
        return d.replace(
            updated_at=min(max(d.updated_at + offset, at - MAX_AGE), at),
            periods=periods,
            status=status,
            version=self._version(d.version),
        )

    def _version(self, version: str | None) -> str | None:
        if version is None:
            return None
        if version.isdigit():
            return str((self.run * 1000 + self.loop) * LOOP_STEP + int(version))
        return f"{version}~{self.run}.{self.loop}"
