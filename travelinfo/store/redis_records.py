"""Records (health, keys, webhooks, bot posts...) and leader locks of RedisStore.

A record kind is a hash (`<p>:rec:<kind>`, key -> JSON) with its keys in a sorted set
(`<p>:recx:<kind>`, all scores 0) so a prefix listing is one ZRANGEBYLEX, never a scan of the
kind. A hash written before the index existed (or changed by an older release meanwhile, which
only knew the hash) has a different count than its index: the listing rebuilds the index first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from travelinfo.store.redis_codec import LOCK_SCRIPT, UNLOCK_SCRIPT

ADD_SCRIPT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  return 1
end
return 0
"""
# KEYS: hash, index; ARGV: lex min, lex max, limit (-1: all). Returns key, value, key, value...
LIST_SCRIPT = """
local h, z = KEYS[1], KEYS[2]
if redis.call('ZCARD', z) ~= redis.call('HLEN', h) then
  redis.call('DEL', z)
  local all = redis.call('HKEYS', h)
  for i = 1, #all, 500 do
    local args = {}
    for j = i, math.min(i + 499, #all) do args[#args + 1] = 0; args[#args + 1] = all[j] end
    redis.call('ZADD', z, unpack(args))
  end
end
local keys
if tonumber(ARGV[3]) >= 0 then
  keys = redis.call('ZRANGEBYLEX', z, ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
else
  keys = redis.call('ZRANGEBYLEX', z, ARGV[1], ARGV[2])
end
local out = {}
for i = 1, #keys, 500 do
  local part = {}
  for j = i, math.min(i + 499, #keys) do part[#part + 1] = keys[j] end
  local values = redis.call('HMGET', h, unpack(part))
  for j = 1, #part do
    if values[j] then
      out[#out + 1] = part[j]
      out[#out + 1] = values[j]
    else
      redis.call('ZREM', z, part[j])
    end
  end
end
return out
"""


def lex_range(prefix: str) -> tuple[str | bytes, str | bytes]:
    """ZRANGEBYLEX bounds of the keys starting with `prefix` (0xFF never occurs in UTF-8)."""
    if not prefix:
        return "-", "+"
    return "[" + prefix, b"(" + prefix.encode() + b"\xff"


class RedisRecords:
    """Hashes per record kind, their key indexes, and `SET PX` locks, on the store's client."""

    @property
    def redis(self) -> Any:
        raise NotImplementedError

    def k(self, *parts: str) -> str:
        raise NotImplementedError

    def _rec_keys(self, kind: str) -> tuple[str, str]:
        return self.k("rec", kind), self.k("recx", kind)

    async def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        h, z = self._rec_keys(kind)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(h, key, json.dumps(dict(value), ensure_ascii=False))
            pipe.zadd(z, {key: 0})
            await pipe.execute()

    async def add_record_if_absent(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        text = json.dumps(dict(value), ensure_ascii=False)
        return bool(await self.redis.eval(ADD_SCRIPT, 2, *self._rec_keys(kind), key, text))

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(self.k("rec", kind), key)
        return json.loads(raw) if raw else None

    async def record_items(
        self, kind: str, prefix: str = "", limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        low, high = lex_range(prefix)
        most = -1 if limit is None else max(limit, 0)
        script = self.redis.register_script(LIST_SCRIPT)  # EVALSHA; loaded again after a restart
        flat = await script(keys=self._rec_keys(kind), args=(low, high, most))
        return [(str(flat[i]), json.loads(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def list_records(
        self, kind: str, prefix: str = "", limit: int | None = None
    ) -> list[dict[str, Any]]:
        return [value for _, value in await self.record_items(kind, prefix, limit)]

    async def delete_record(self, kind: str, key: str) -> bool:
        h, z = self._rec_keys(kind)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(h, key)
            pipe.zrem(z, key)
            gone, _ = await pipe.execute()
        return bool(gone)

    async def try_lock(self, name: str, holder: str, ttl: float) -> bool:
        ok = await self.redis.eval(LOCK_SCRIPT, 1, self.k("lock", name), holder, int(ttl * 1000))
        return bool(ok)

    async def release_lock(self, name: str, holder: str) -> None:
        await self.redis.eval(UNLOCK_SCRIPT, 1, self.k("lock", name), holder)
