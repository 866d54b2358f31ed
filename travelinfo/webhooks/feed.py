"""Where a webhook subscription reads its events: a log cursor, or a store consumer group.

Both read the store's change log in order through a `LogCursor` (position, trimming, store
epoch) and remember how far the subscription got, so a restarted delivery engine resumes there
(at-least-once: an event whose acknowledgement was lost is sent again). When the store's data
was replaced (a new epoch) the subscription continues at the end of the new log without
replaying its history. Only the engine holding the subscription's lease reads its feed.
"""

from __future__ import annotations

import logging
from typing import Protocol

from travelinfo.store.base import Change, Store
from travelinfo.store.cursor import LogCursor
from travelinfo.store.groups import ConsumerGroups, GroupMissing

log = logging.getLogger(__name__)

REPLACED = "the store's data was replaced (new epoch): events before seq {seq} of the new log were not sent"
TRIMMED = "the change log no longer reached back to the subscription's position; events were skipped"


class Feed(Protocol):
    """One subscription's view of the change log."""

    gap: str | None  # set when events were lost (trimmed, store replaced): shown as last_error

    async def start(self) -> None:
        """Take over: events an earlier owner read but never acknowledged come first."""
        ...

    async def read(self, count: int) -> list[Change]:
        """The next events in log order (empty when caught up)."""
        ...

    async def ack(self, change: Change) -> None:
        """`change` is done with (delivered, dead-lettered or filtered out)."""
        ...

    @property
    def position(self) -> str: ...

    @property
    def epoch(self) -> str: ...


def _gap(reason: str, cursor: LogCursor) -> str:
    return REPLACED.format(seq=cursor.seq) if reason == "replaced" else TRIMMED


class _Cursored:
    """What both feeds keep: the `LogCursor` (where the subscription got, in which data set),
    the position it was saved at, and the gap last seen."""

    def __init__(self, store: Store, sub_id: str, seq: str, epoch: str = "") -> None:
        self.cursor = LogCursor(store, f"webhook {sub_id}", seq, epoch)
        self._saved = {"seq": seq, "epoch": epoch}
        self.gap: str | None = None

    async def _attach(self) -> str | None:
        reset = await self.cursor.attach(self._saved)
        if reset:
            self.gap = _gap(reset, self.cursor)
        return reset

    @property
    def position(self) -> str:
        return self.cursor.seq

    @property
    def epoch(self) -> str:
        return self.cursor.epoch


class CursorFeed(_Cursored):
    """A cursor (last acknowledged seq and its epoch) kept in the subscription's state record."""

    async def start(self) -> None:
        await self._attach()

    async def read(self, count: int) -> list[Change]:
        got = await self.cursor.read(count, advance=False)
        if got.reset:
            self.gap = _gap(got.reset, self.cursor)
        return list(got.changes)

    async def ack(self, change: Change) -> None:
        self.cursor.ack(change)


class GroupFeed(_Cursored):
    """A consumer group on the change log, one group per subscription (Redis Streams).

    The group's last-delivered id is the cursor and its pending entries list holds what an
    owner read but did not acknowledge; a new owner takes those over. The `LogCursor` watches
    the store's epoch and keeps the last acknowledged seq, where a lost group is recreated.
    """

    def __init__(
        self, groups: ConsumerGroups, store: Store, sub_id: str, consumer: str, seq: str, epoch: str = ""
    ) -> None:
        super().__init__(store, sub_id, seq or "0-0", epoch)
        self.groups = groups
        self.group = group_name(sub_id)
        self.consumer = consumer
        self._pending = True

    async def start(self) -> None:
        reset = await self._attach()
        await self.groups.group_create(self.group, self.cursor.seq)
        if reset:  # an old group (restored data) must not replay the replaced log either
            await self.groups.group_move(self.group, self.cursor.seq)
        # We hold the subscription's lease, so any other consumer's pending entries are orphans.
        await self.groups.group_take_over(self.group, self.consumer)
        self._pending = True

    async def read(self, count: int) -> list[Change]:
        reset = await self.cursor.check()
        if reset:
            await self.groups.group_create(self.group, self.cursor.seq)
            await self.groups.group_move(self.group, self.cursor.seq)
            self.gap = _gap(reset, self.cursor)
            self._pending = False
            return []
        if self._pending:
            out = await self._read(count, pending=True)
            if out:
                return out
            self._pending = False
        return await self._read(count, pending=False)

    async def _read(self, count: int, *, pending: bool) -> list[Change]:
        got = await self.groups.group_read(self.group, self.consumer, count, pending=pending)
        if got.trimmed:
            self.gap = f"event {got.trimmed[-1]} was trimmed from the change log before delivery"
        return list(got.changes)

    async def ack(self, change: Change) -> None:
        await self.groups.group_ack(self.group, change.seq)
        self.cursor.ack(change)


def group_name(sub_id: str) -> str:
    return f"webhook:{sub_id}"


def make_feed(store: Store, sub_id: str, consumer: str, seq: str, epoch: str = "") -> Feed:
    """A consumer-group feed where the store has the capability, a cursor feed elsewhere."""
    if isinstance(store, ConsumerGroups):
        return GroupFeed(store, store, sub_id, consumer, seq, epoch)
    return CursorFeed(store, sub_id, seq, epoch)


async def forget(store: Store, sub_id: str) -> None:
    """Drop a deleted subscription's consumer group (where the store has them)."""
    if isinstance(store, ConsumerGroups):
        await store.group_destroy(group_name(sub_id))


__all__ = ["CursorFeed", "Feed", "GroupFeed", "GroupMissing", "forget", "group_name", "make_feed"]
