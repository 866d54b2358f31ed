"""Consumer groups on the Redis change log (a Redis Stream): the `ConsumerGroups` capability."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from travelinfo.store.groups import GroupMissing, GroupRead
from travelinfo.store.redis_codec import change_of


class RedisGroups:
    """Mixed into RedisStore: XGROUP / XREADGROUP / XAUTOCLAIM on the `log` stream."""

    @property
    def redis(self) -> Any:
        raise NotImplementedError  # pragma: no cover - RedisStore has it

    def k(self, *parts: str) -> str:
        raise NotImplementedError  # pragma: no cover - RedisStore has it

    async def group_create(self, group: str, seq: str) -> None:
        try:
            await self.redis.xgroup_create(self.k("log"), group, id=seq or "0-0", mkstream=True)
        except aioredis.ResponseError as exc:  # BUSYGROUP: it exists, keep its position
            if "BUSYGROUP" not in str(exc):
                raise

    async def group_move(self, group: str, seq: str) -> None:
        try:
            await self.redis.xgroup_setid(self.k("log"), group, seq or "0-0")
        except aioredis.ResponseError as exc:
            if "NOGROUP" in str(exc) or "no such key" in str(exc).lower():
                raise GroupMissing(group) from None
            raise
        # SETID keeps the pending entries; moving means they are not to be sent any more.
        while True:
            pending = await self.redis.xpending_range(self.k("log"), group, "-", "+", 500)
            if not pending:
                return
            await self.redis.xack(self.k("log"), group, *(p["message_id"] for p in pending))

    async def group_take_over(self, group: str, consumer: str) -> None:
        stream = self.k("log")
        start = "0-0"
        try:
            while True:
                reply = await self.redis.xautoclaim(stream, group, consumer, 0, start_id=start, count=500)
                start = reply[0]
                if start in ("0-0", "0"):
                    break
            for info in await self.redis.xinfo_consumers(stream, group):
                if info["name"] != consumer and int(info["pending"]) == 0:
                    await self.redis.xgroup_delconsumer(stream, group, info["name"])
        except aioredis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                raise GroupMissing(group) from None
            raise

    async def group_read(self, group: str, consumer: str, count: int, *, pending: bool) -> GroupRead:
        stream = self.k("log")
        try:
            reply = await self.redis.xreadgroup(
                group, consumer, {stream: "0" if pending else ">"}, count=count
            )
        except aioredis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                raise GroupMissing(group) from None
            raise
        changes, trimmed = [], []
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                if not fields:  # trimmed from the log while pending: nothing left to send
                    await self.redis.xack(stream, group, entry_id)
                    trimmed.append(entry_id)
                    continue
                changes.append(change_of(entry_id, fields["data"]))
        return GroupRead(tuple(changes), tuple(trimmed))

    async def group_ack(self, group: str, seq: str) -> None:
        await self.redis.xack(self.k("log"), group, seq)

    async def group_destroy(self, group: str) -> None:
        try:
            await self.redis.xgroup_destroy(self.k("log"), group)
        except aioredis.ResponseError:  # the log or the group does not exist: nothing to drop
            pass
