"""Records (health, keys, webhooks, bot posts...) and leader locks of RedisStore."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from travelinfo.store.redis_codec import LOCK_SCRIPT, UNLOCK_SCRIPT


class RedisRecords:
    """Hashes per record kind and `SET PX` locks, on the store's client and key prefix."""

    @property
    def redis(self) -> Any:
        raise NotImplementedError

    def k(self, *parts: str) -> str:
        raise NotImplementedError

    async def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        await self.redis.hset(self.k("rec", kind), key, json.dumps(dict(value), ensure_ascii=False))

    async def add_record_if_absent(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        text = json.dumps(dict(value), ensure_ascii=False)
        return bool(await self.redis.hsetnx(self.k("rec", kind), key, text))

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(self.k("rec", kind), key)
        return json.loads(raw) if raw else None

    async def list_records(self, kind: str) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(self.k("rec", kind))
        return [json.loads(raw[key]) for key in sorted(raw)]

    async def delete_record(self, kind: str, key: str) -> bool:
        return bool(await self.redis.hdel(self.k("rec", kind), key))

    async def try_lock(self, name: str, holder: str, ttl: float) -> bool:
        ok = await self.redis.eval(LOCK_SCRIPT, 1, self.k("lock", name), holder, int(ttl * 1000))
        return bool(ok)

    async def release_lock(self, name: str, holder: str) -> None:
        await self.redis.eval(UNLOCK_SCRIPT, 1, self.k("lock", name), holder)
