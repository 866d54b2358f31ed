"""Where a webhook subscription reads its events: a cursor on the log, or a Redis consumer group.

Both read the store's change log in order and remember how far the subscription got, so a
restarted delivery engine resumes there (at-least-once: an event whose acknowledgement was
lost is sent again). Only the engine holding the subscription's lease reads its feed.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from travelinfo.store.base import Change, Store

log = logging.getLogger(__name__)


class Feed(Protocol):
    """One subscription's view of the change log."""

    gap: str | None  # set when events were lost to log trimming (shown as last_error)

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


class CursorFeed:
    """A cursor (last acknowledged seq) kept in the subscription's state record (any store)."""

    def __init__(self, store: Store, cursor: str) -> None:
        self.store = store
        self.cursor = cursor
        self.gap: str | None = None

    async def start(self) -> None:
        return None

    async def read(self, count: int) -> list[Change]:
        page = await self.store.changes_since(self.cursor, count)
        if page.reset:
            self.gap = f"the change log no longer reaches back to seq {self.cursor}; events were skipped"
            log.warning(
                "webhook cursor %s is outside the change log; skipping to %s", self.cursor, page.last_seq
            )
            self.cursor = page.last_seq
            return []
        return list(page.changes)

    async def ack(self, change: Change) -> None:
        self.cursor = change.seq

    @property
    def position(self) -> str:
        return self.cursor


class GroupFeed:
    """A Redis Stream consumer group on the change log, one group per subscription.

    The group's last-delivered id is the cursor and its pending entries list holds what an
    owner read but did not acknowledge; a new owner takes those over with XAUTOCLAIM.
    """

    def __init__(self, redis: Any, stream: str, group: str, consumer: str, start_id: str) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.start_id = start_id or "0-0"
        self.gap: str | None = None
        self._pending = True
        self._last = self.start_id

    async def start(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=self._last, mkstream=True)
        except Exception as exc:  # redis.ResponseError BUSYGROUP: it exists, keep its position
            if "BUSYGROUP" not in str(exc):
                raise
        # We hold the subscription's lease, so any other consumer's pending entries are orphans.
        start = "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                self.stream, self.group, self.consumer, 0, start_id=start, count=500
            )
            start = reply[0]
            if start in ("0-0", "0"):
                break
        for info in await self.redis.xinfo_consumers(self.stream, self.group):
            if info["name"] != self.consumer and int(info["pending"]) == 0:
                await self.redis.xgroup_delconsumer(self.stream, self.group, info["name"])
        self._pending = True

    async def read(self, count: int) -> list[Change]:
        if self._pending:
            out = await self._read("0", count)
            if out:
                return out
            self._pending = False
        return await self._read(">", count)

    async def _read(self, from_id: str, count: int) -> list[Change]:
        reply = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: from_id}, count=count)
        out: list[Change] = []
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                if not fields:  # trimmed from the log while pending: nothing left to send
                    await self.redis.xack(self.stream, self.group, entry_id)
                    self.gap = f"event {entry_id} was trimmed from the change log before delivery"
                    continue
                body = json.loads(fields["data"])
                body["seq"] = entry_id
                out.append(Change.from_json(body))
        if out:
            self._last = out[-1].seq
        return out

    async def ack(self, change: Change) -> None:
        await self.redis.xack(self.stream, self.group, change.seq)
        self._last = change.seq

    @property
    def position(self) -> str:
        return self._last


def group_name(sub_id: str) -> str:
    return f"webhook:{sub_id}"


def make_feed(store: Store, sub_id: str, consumer: str, cursor: str) -> Feed:
    """A consumer-group feed on Redis, a cursor feed elsewhere."""
    redis = getattr(store, "redis", None)
    k = getattr(store, "k", None)
    if redis is not None and k is not None:
        return GroupFeed(redis, k("log"), group_name(sub_id), consumer, cursor)
    return CursorFeed(store, cursor)


async def forget(store: Store, sub_id: str) -> None:
    """Drop a deleted subscription's consumer group (Redis); nothing to do elsewhere."""
    redis = getattr(store, "redis", None)
    k = getattr(store, "k", None)
    if redis is None or k is None:
        return
    try:
        await redis.xgroup_destroy(k("log"), group_name(sub_id))
    except Exception:  # the log or the group does not exist: nothing to drop
        log.debug("no consumer group for webhook %s", sub_id)
