"""The history half of the Store Protocol, shared by both backends over a few primitives.

A backend supplies: the versions valid at a time (with their `until`), one id's versions, the
versions of a time range, the oldest kept time, pruning and the floor below which it pruned.
This mixin adds `as_of`, `history` and the daily archive + retention sweep on top.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from travelinfo.model import Disruption
from travelinfo.store.history import (
    HistoryGone,
    Version,
    VersionCache,
    classes,
    day_start,
    merge,
    pick,
    valid,
)
from travelinfo.store.history_archive import Archive, day_name
from travelinfo.store.query import Query

log = logging.getLogger("travelinfo.store.history")

DAY = 86400.0


class HistoryMixin:
    """`as_of`, `history` and `keep_history` for a backend implementing the `_h_*` primitives."""

    archive_retention: float
    history_retention: float
    archive: Archive | None
    _versions: VersionCache

    def _init_history(self, retention: float, archive_dir: Path | None) -> None:
        self.history_retention = retention
        self.archive = Archive(archive_dir) if archive_dir else None
        self._versions = VersionCache()

    # -- primitives (each backend) --------------------------------------------------------------
    async def _h_valid_at(self, at: datetime, cls: tuple[str, ...]) -> list[tuple[str, float | None, str]]:
        raise NotImplementedError

    async def _h_history(self, ident: str) -> list[Version]:
        raise NotImplementedError

    async def _h_between(self, t0: float, t1: float) -> list[Version]:
        raise NotImplementedError

    async def _h_oldest(self) -> float | None:
        raise NotImplementedError

    async def _h_floor(self) -> float:
        raise NotImplementedError

    async def _h_prune(self, cutoff: float) -> int:
        raise NotImplementedError

    # -- the Protocol's history methods ---------------------------------------------------------
    async def versions_at(self, at: datetime, q: Query) -> list[Version]:
        """The version of each item the store held at `at` (from the archive below the floor)."""
        floor = await self._h_floor()
        if floor and at.timestamp() < floor:
            if self.archive is None:
                raise HistoryGone("that time is older than the kept history (history.retention)")
            return await asyncio.to_thread(self.archive.as_of, at, self.archive_retention)
        rows = await self._h_valid_at(at, classes(q))
        out = []
        for seq, until, body in rows:
            v = self._versions.get(seq, body)
            if valid(v, until, at, self.archive_retention):
                out.append(v)
        return out

    async def as_of(self, q: Query, at: datetime) -> tuple[list[Disruption], str | None]:
        """What `query(q)` answered at `at`: same filters, order and paging."""
        return pick(await self.versions_at(at, q), q)

    async def history(self, ident: str) -> list[Version]:
        """Every published version of one id, oldest first (archive files, then the store)."""
        kept = await self._h_history(ident)
        if self.archive is not None and await self._h_floor() > 0:
            return merge(await asyncio.to_thread(self.archive.history, ident), kept)
        return kept

    async def keep_history(self, now: datetime) -> int:
        """Write the archive file of each complete day not yet archived, then prune; the pruned."""
        ts = now.timestamp()
        cutoff = ts - self.history_retention
        if self.archive is not None:
            today = day_start(ts)
            cutoff = min(cutoff, today)  # never prune a day before its file is written
            oldest = await self._h_oldest()
            t0 = day_start(oldest) if oldest is not None else today
            known = (await asyncio.to_thread(self.archive.manifest))["days"]
            while t0 < today:
                name = day_name(t0)
                if name not in known:
                    try:
                        versions = await self._h_between(t0, t0 + DAY)
                        await asyncio.to_thread(self.archive.write_day, name, versions)
                    except OSError as exc:
                        log.error("history archive %s not written: %s", name, exc)
                        cutoff = min(cutoff, t0)
                        break
                t0 += DAY
        return await self._h_prune(cutoff)
