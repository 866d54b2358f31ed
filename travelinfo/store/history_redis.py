"""Redis history: versions in hashes, validity spans in time buckets for "valid at T".

Keys (under the store prefix): `h:data` (seq -> change body), `h:span` (seq -> [at, until,
class]), `h:cur` (id -> seq of its current version), `h:id:{id}` (zset of its seqs by time),
`h:at` (zset seq -> time), `h:until` (zset seq -> when it stops being valid, for pruning),
`h:open:{class}` (zset of current versions by time) and `h:b:{class}:{h|d}:{n}` (sets of
closed versions overlapping hour or day n; spans over two days go by day). A query for T reads
T's hour and day bucket and the open set, then the exact spans decide.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from travelinfo.store.base import Change, change_text
from travelinfo.store.history import Version, cls_of, seq_key, version_of
from travelinfo.store.history_mixin import HistoryMixin

log = logging.getLogger("travelinfo.store.history")
HOUR = 3600.0
DAY = 86400.0
SHORT = 2 * DAY


def bucket_keys(cls: str, t0: float, t1: float) -> list[tuple[str, ...]]:
    """The bucket key parts of a closed span [t0, t1)."""
    size, tag = (HOUR, "h") if t1 - t0 <= SHORT else (DAY, "d")
    last = max(math.floor(t0 / size), math.ceil(t1 / size) - 1)
    return [("h", "b", cls, tag, str(n)) for n in range(math.floor(t0 / size), last + 1)]


class RedisHistory(HistoryMixin):
    """The history primitives of RedisStore."""

    @property
    def redis(self) -> Any:
        raise NotImplementedError

    def k(self, *parts: str) -> str:
        raise NotImplementedError

    def _close(self, pipe: Any, seq: str, span: list[Any], until: float) -> None:
        at0, _, cls = span
        until = max(until, at0)  # sources' clocks differ: never a span that ends before it starts
        pipe.zrem(self.k("h", "open", cls), seq)
        pipe.hset(self.k("h", "span"), seq, json.dumps([at0, until, cls]))
        for parts in bucket_keys(cls, at0, until):
            pipe.sadd(self.k(*parts), seq)
        pipe.zadd(self.k("h", "until"), {seq: until})

    async def _h_record(self, changes: Iterable[Change]) -> None:
        """Keep the change events as versions (called right after the log write).

        The change itself is already published: Redis failing now loses these versions only
        (logged), so the caller never retries an apply that succeeded.
        """
        changes = list(changes)
        if not changes:
            return
        try:
            await self._record(changes)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("history: %d version(s) not kept: %s", len(changes), type(exc).__name__)

    async def _record(self, changes: list[Change]) -> None:
        r = self.redis
        ids = list(dict.fromkeys(c.id for c in changes))
        current = {i: s for i, s in zip(ids, await r.hmget(self.k("h", "cur"), ids), strict=True) if s}
        spans_raw = await r.hmget(self.k("h", "span"), list(current.values())) if current else []
        spans = {s: json.loads(x) for s, x in zip(current.values(), spans_raw, strict=True) if x}
        async with r.pipeline(transaction=True) as pipe:
            for c in changes:
                ts = c.at.timestamp()
                prev = current.get(c.id)
                if prev is not None and prev in spans:
                    self._close(pipe, prev, spans[prev], ts)
                cls = cls_of(c.disruption.status)
                pipe.hset(self.k("h", "data"), c.seq, change_text(c.type, c.disruption, c.at))
                pipe.hset(self.k("h", "span"), c.seq, json.dumps([ts, None, cls]))
                spans[c.seq] = [ts, None, cls]
                pipe.zadd(self.k("h", "open", cls), {c.seq: ts})
                pipe.zadd(self.k("h", "at"), {c.seq: ts})
                pipe.zadd(self.k("h", "id", c.id), {c.seq: ts})
                pipe.hset(self.k("h", "cur"), c.id, c.seq)
                current[c.id] = c.seq
                if cls == "ended":  # the live store drops it then
                    pipe.zadd(self.k("h", "until"), {c.seq: ts + self.archive_retention})
            await pipe.execute()

    async def _h_valid_at(self, at: datetime, cls: tuple[str, ...]) -> list[tuple[str, float | None, str]]:
        r = self.redis
        t = at.timestamp()
        seqs: set[str] = set()
        for c in cls:
            low = t - self.archive_retention if c == "ended" else "-inf"
            seqs |= set(await r.zrangebyscore(self.k("h", "open", c), low, t))
            keys = [
                self.k("h", "b", c, "h", str(math.floor(t / HOUR))),
                self.k("h", "b", c, "d", str(math.floor(t / DAY))),
            ]
            seqs |= set(await r.sunion(keys))
        if not seqs:
            return []
        order = sorted(seqs, key=seq_key)
        spans = await r.hmget(self.k("h", "span"), order)
        keep: list[tuple[str, float | None]] = []
        for s, raw in zip(order, spans, strict=True):
            if raw:
                at0, until, _ = json.loads(raw)
                if at0 <= t and (until is None or until > t):
                    keep.append((s, until))
        bodies = await r.hmget(self.k("h", "data"), [s for s, _ in keep]) if keep else []
        return [(s, u, b) for (s, u), b in zip(keep, bodies, strict=True) if b]

    async def _load_versions(self, seqs: list[str]) -> list[Version]:
        if not seqs:
            return []
        bodies = await self.redis.hmget(self.k("h", "data"), seqs)
        return sorted(
            (version_of(s, b) for s, b in zip(seqs, bodies, strict=True) if b), key=lambda v: seq_key(v.seq)
        )

    async def _h_history(self, ident: str) -> list[Version]:
        return await self._load_versions(list(await self.redis.zrange(self.k("h", "id", ident), 0, -1)))

    async def _h_between(self, t0: float, t1: float) -> list[Version]:
        return await self._load_versions(
            list(await self.redis.zrangebyscore(self.k("h", "at"), t0, f"({t1}"))
        )

    async def _h_oldest(self) -> float | None:
        first = await self.redis.zrange(self.k("h", "at"), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def _h_floor(self) -> float:
        return float(await self.redis.get(self.k("h", "floor")) or 0.0)

    async def _h_prune(self, cutoff: float) -> int:
        r = self.redis
        doomed = list(await r.zrangebyscore(self.k("h", "until"), "-inf", f"({cutoff}"))
        if doomed:
            spans = await r.hmget(self.k("h", "span"), doomed)
            bodies = await r.hmget(self.k("h", "data"), doomed)
            async with r.pipeline(transaction=True) as pipe:
                for s, raw, body in zip(doomed, spans, bodies, strict=True):
                    if raw:
                        at0, until, cls = json.loads(raw)
                        pipe.zrem(self.k("h", "open", cls), s)
                        for parts in bucket_keys(cls, at0, until) if until is not None else []:
                            pipe.srem(self.k(*parts), s)
                    if body:
                        ident = json.loads(body)["id"]
                        pipe.zrem(self.k("h", "id", ident), s)
                        # Only when it is still the id's current version (an ended item, dropped).
                        pipe.eval(_DEL_IF, 1, self.k("h", "cur"), ident, s)
                    pipe.hdel(self.k("h", "data"), s)
                    pipe.hdel(self.k("h", "span"), s)
                    pipe.zrem(self.k("h", "at"), s)
                    pipe.zrem(self.k("h", "until"), s)
                await pipe.execute()
        if cutoff > await self._h_floor():
            await r.set(self.k("h", "floor"), repr(cutoff))
        return len(doomed)

    async def history_count(self) -> int:
        """How many versions the store keeps."""
        return int(await self.redis.zcard(self.k("h", "at")))


_DEL_IF = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end"
