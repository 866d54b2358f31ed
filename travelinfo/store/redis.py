"""The shared store: Redis (redis-py asyncio + hiredis); the change log is a Redis Stream.

Keys (prefix `ti`): `items` (id -> JSON), `meta` (id -> diff metadata), `src:{source}` and
`status:{status}` sets (query indexes), `next` (zset of status transition times), `ended`
(zset of end times), `seen` (source -> last full snapshot), `log` (Stream; entry id = seq),
`log_floor`, `rec:{kind}` hashes, `lock:{name}`, `epoch` (id of this data set).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from travelinfo.model import STATUSES, Batch, Disruption, format_time
from travelinfo.store.base import (
    Change,
    ChangesPage,
    DecodedCache,
    Meta,
    Query,
    change_text,
    end_item,
    next_transition,
    plan_apply,
    retimed,
    select,
    split_unchanged,
)
from travelinfo.store.history_redis import RedisHistory
from travelinfo.store.redis_codec import (
    change_of,
    checksum_of,
    meta_of,
    stream_id,
    with_last_seen,
)
from travelinfo.store.redis_groups import RedisGroups
from travelinfo.store.redis_records import RedisRecords


class RedisStore(RedisRecords, RedisGroups, RedisHistory):
    """Store backend on Redis: several processes and hosts share it."""

    def __init__(
        self,
        url: str,
        *,
        grace: float = 6 * 3600,
        archive_retention: float = 30 * 86400,
        log_retention: float = 24 * 3600,
        prefix: str = "ti",
        history_retention: float = 30 * 86400,
        archive_dir: Path | None = None,
    ) -> None:
        self.url = url
        self.grace = grace
        self.archive_retention = archive_retention
        self.log_retention = log_retention
        self.p = prefix
        # redis-py's stubs type every reply as bytes|str; with decode_responses they are str.
        self._redis: Any = None
        self._cache = DecodedCache()
        self._init_history(history_retention, archive_dir)

    @property
    def redis(self) -> Any:
        """The client (this backend and its consumer groups use it)."""
        if self._redis is None:
            raise RuntimeError("store is not open")
        return self._redis

    def k(self, *parts: str) -> str:
        return ":".join((self.p, *parts))

    async def open(self) -> None:
        # A pooled connection broken by a Redis restart is retried once on a fresh one, so
        # the first request after Redis returns succeeds; idle ones are checked before use.
        self._redis = aioredis.from_url(
            self.url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=15,
            socket_connect_timeout=2,
        )
        await self._redis.ping()
        await self.epoch()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    # -- apply ----------------------------------------------------------------------------------
    async def _metas(self, ids: list[str]) -> dict[str, Meta]:
        if not ids:
            return {}
        raw = await self.redis.hmget(self.k("meta"), ids)
        return {i: meta_of(i, m) for i, m in zip(ids, raw, strict=True) if m}

    async def apply(self, batch: Batch) -> list[Change]:
        r = self.redis
        if batch.complete:
            # Unchanged items cost one checksum comparison each; only the others (and stored
            # items the snapshot lacks) have their metadata decoded.
            ids = sorted(await r.smembers(self.k("src", batch.source)))
            raw = await r.hmget(self.k("meta"), ids) if ids else []
            stored = {i: m for i, m in zip(ids, raw, strict=True) if m}
            same, rest = split_unchanged(batch.items, {i: checksum_of(m) for i, m in stored.items()})
            metas = {i: meta_of(i, m) for i, m in stored.items() if i not in same}
            active = [m.id for m in metas.values() if m.status != "ended"]
            plan = plan_apply(batch, metas, active, items=rest, unchanged=same)
        else:
            metas = await self._metas([d.id for d in batch.items] + list(batch.ended))
            active = [m.id for m in metas.values() if m.status != "ended"]
            plan = plan_apply(batch, metas, active)
        at = batch.fetched_at
        ended = [end_item(d, at) for d in await self._load(plan.to_end) if d.status != "ended"]
        writes = plan.writes + [(d, d.content_checksum()) for d in ended]
        events = plan.events + [("ended", d) for d in ended]
        async with r.pipeline(transaction=True) as pipe:
            self._queue_writes(pipe, writes, metas, at)
            if batch.complete:
                pipe.hset(self.k("seen"), batch.source, at.timestamp())
            elif plan.touched:
                touched = {i: with_last_seen(metas[i], at) for i in plan.touched}
                pipe.hset(self.k("meta"), mapping=touched)
            n_before = len(pipe.command_stack)
            self._queue_log(pipe, events, at)
            results = await pipe.execute()
        changes = self._changes(events, results[n_before:], at)
        await self._h_record(changes)
        return changes

    def _queue_writes(
        self,
        pipe: Any,
        writes: list[tuple[Disruption, str]],
        metas: Mapping[str, Meta],
        at: datetime,
    ) -> None:
        if not writes:
            return
        items: dict[str, str] = {}
        meta: dict[str, str] = {}
        for d, checksum in writes:
            items[d.id] = d.dumps()
            old = metas.get(d.id)
            ended_at = None
            if d.status == "ended":
                ended_at = at.timestamp()
                if old is not None and old.status == "ended" and old.ended_at is not None:
                    ended_at = old.ended_at
            meta[d.id] = json.dumps(
                [
                    checksum,
                    d.status,
                    format_time(d.updated_at),
                    d.version,
                    format_time(d.first_seen),
                    0,
                    d.source,
                    d.last_seen.timestamp(),
                    ended_at,
                ]
            )
            pipe.sadd(self.k("src", d.source), d.id)
            for status in STATUSES:
                if status == d.status:
                    pipe.sadd(self.k("status", status), d.id)
                else:
                    pipe.srem(self.k("status", status), d.id)
            pipe.srem(self.k("archived"), d.id)
            nt = next_transition(d, at)
            if nt is None:
                pipe.zrem(self.k("next"), d.id)
            else:
                pipe.zadd(self.k("next"), {d.id: nt})
            if ended_at is None:
                pipe.zrem(self.k("ended"), d.id)
            else:
                pipe.zadd(self.k("ended"), {d.id: ended_at})
        pipe.hset(self.k("items"), mapping=items)
        pipe.hset(self.k("meta"), mapping=meta)

    def _queue_log(self, pipe: Any, events: list[tuple[str, Disruption]], at: datetime) -> None:
        for kind, d in events:
            body = change_text(kind, d, at)
            pipe.xadd(self.k("log"), {"data": body})

    @staticmethod
    def _changes(events: list[tuple[str, Disruption]], seqs: list[Any], at: datetime) -> list[Change]:
        return [Change(str(seq), kind, d.id, d, at) for (kind, d), seq in zip(events, seqs, strict=True)]

    async def _load(self, ids: Iterable[str]) -> list[Disruption]:
        ids = list(ids)
        if not ids:
            return []
        raw = await self.redis.hmget(self.k("items"), ids)
        return [Disruption.loads(x) for x in raw if x]

    # -- expiry ---------------------------------------------------------------------------------
    async def expire(self, now: datetime) -> list[Change]:
        r = self.redis
        ts = now.timestamp()
        due = await r.zrangebyscore(self.k("next"), "-inf", ts)
        metas = await self._metas(due)
        writes: list[tuple[Disruption, str]] = []
        events: list[tuple[str, Disruption]] = []
        async with r.pipeline(transaction=True) as pipe:
            for d in await self._load(due):
                new = retimed(d, now)
                if new is None:
                    nt = next_transition(d, now)
                    if nt is None:
                        pipe.zrem(self.k("next"), d.id)
                    else:
                        pipe.zadd(self.k("next"), {d.id: nt})
                    continue
                writes.append((new, new.content_checksum()))
                events.append(("ended" if new.status == "ended" else "updated", new))
            self._queue_writes(pipe, writes, metas, now)
            n_before = len(pipe.command_stack)
            self._queue_log(pipe, events, now)
            results = await pipe.execute()
        changes = self._changes(events, results[n_before:], now)
        await self._h_record(changes)
        await self._archive(now)
        await self._trim_log(now)
        await self.keep_history(now)
        return changes

    async def _archive(self, now: datetime) -> None:
        r = self.redis
        ts = now.timestamp()
        to_archive = await r.zrangebyscore(self.k("ended"), "-inf", ts - self.grace)
        fresh = [i for i in to_archive if not await r.sismember(self.k("archived"), i)]
        if fresh:
            await r.sadd(self.k("archived"), *fresh)
        old = await r.zrangebyscore(self.k("ended"), "-inf", ts - self.archive_retention)
        if not old:
            return
        metas = await self._metas(old)
        async with r.pipeline(transaction=True) as pipe:
            for i in old:
                m = metas.get(i)
                if m is not None:
                    pipe.srem(self.k("src", m.source), i)
                for status in STATUSES:
                    pipe.srem(self.k("status", status), i)
                pipe.srem(self.k("archived"), i)
                pipe.zrem(self.k("ended"), i)
                pipe.zrem(self.k("next"), i)
                pipe.hdel(self.k("items"), i)
                pipe.hdel(self.k("meta"), i)
            await pipe.execute()

    async def _trim_log(self, now: datetime) -> None:
        cutoff_ms = int((now.timestamp() - self.log_retention) * 1000)
        older = await self.redis.xrevrange(self.k("log"), f"({cutoff_ms}-0", "-", count=1)
        if older:
            floor = older[0][0]
            await self.redis.xtrim(self.k("log"), minid=f"{cutoff_ms}-0")
            await self.redis.set(self.k("log_floor"), floor)

    # -- reads ----------------------------------------------------------------------------------
    async def _ids_for(self, q: Query) -> list[str]:
        r = self.redis
        if q.ids:
            return list(q.ids)
        ids: set[str] = set()
        for status in q.status or STATUSES:
            ids |= await r.smembers(self.k("status", status))
        if q.sources:
            in_sources: set[str] = set()
            for source in q.sources:
                in_sources |= await r.smembers(self.k("src", source))
            ids &= in_sources
        return sorted(ids)

    async def _decode(self, ids: list[str]) -> list[Disruption]:
        if not ids:
            return []
        r = self.redis
        metas_raw = await r.hmget(self.k("meta"), ids)
        seen = {k: float(v) for k, v in (await r.hgetall(self.k("seen"))).items()}
        out: list[Disruption] = []
        missing: list[tuple[str, str, float]] = []
        for i, raw in zip(ids, metas_raw, strict=True):
            if not raw:
                continue
            m = json.loads(raw)
            last_seen = float(m[7])
            if m[1] != "ended":
                last_seen = max(last_seen, seen.get(m[6], 0.0))
            stamp = DecodedCache.stamp(m[0], m[1], last_seen)
            hit = self._cache.get(i, stamp)
            if hit is not None:
                out.append(hit)
            else:
                missing.append((i, stamp, last_seen))
        if missing:
            datas = await r.hmget(self.k("items"), [m[0] for m in missing])
            for (i, stamp, last_seen), data in zip(missing, datas, strict=True):
                if data:
                    out.append(self._cache.decode(i, stamp, data, last_seen))
        return out

    async def query(self, q: Query) -> tuple[list[Disruption], str | None]:
        return select(await self._decode(await self._ids_for(q)), q)

    async def get(self, id: str) -> Disruption | None:
        found = await self._decode([id])
        return found[0] if found else None

    async def count(self) -> dict[str, int]:
        r = self.redis
        archived = await r.scard(self.k("archived"))
        out = {s: await r.scard(self.k("status", s)) for s in STATUSES}
        out["ended"] -= archived
        out["archived"] = archived
        return out

    # -- change log -----------------------------------------------------------------------------
    async def last_seq(self) -> str:
        try:
            info = await self.redis.xinfo_stream(self.k("log"))
        except aioredis.ResponseError:
            return "0-0"
        return str(info["last-generated-id"])

    async def epoch(self) -> str:
        # Made with the data (SET NX): a Redis that lost its data gets a new one from whichever
        # process asks first, and every reader sees that it changed.
        key = self.k("epoch")
        value = await self.redis.get(key)
        if value is None:
            await self.redis.set(key, uuid.uuid4().hex[:16], nx=True)
            value = await self.redis.get(key)
        return str(value)

    async def last_change_at(self) -> datetime | None:
        newest = await self.redis.xrevrange(self.k("log"), "+", "-", count=1)
        return change_of(newest[0][0], newest[0][1]["data"]).at if newest else None

    async def changes_since(self, seq: str | None, limit: int = 1000) -> ChangesPage:
        after = stream_id(seq)
        last = await self.last_seq()
        floor = await self.redis.get(self.k("log_floor"))
        if (floor and after < stream_id(floor)) or after > stream_id(last):
            return ChangesPage((), last, reset=True)
        start = f"({after[0]}-{after[1]}"
        if after != (0, 0) and (not floor or after != stream_id(floor)):
            # A position this log never had (a Redis restarted empty numbers anew, by time):
            # replaying "after" it would skip the reset the client needs.
            exact = start[1:]
            if not await self.redis.xrange(self.k("log"), exact, exact, count=1):
                return ChangesPage((), last, reset=True)
        entries = await self.redis.xrange(self.k("log"), start, "+", count=limit)
        changes = tuple(change_of(eid, fields["data"]) for eid, fields in entries)
        return ChangesPage(changes, changes[-1].seq if changes else f"{after[0]}-{after[1]}")

    async def wait_for_change(self, after: str, timeout: float) -> bool:
        a = stream_id(after)
        if stream_id(await self.last_seq()) > a:
            return True
        # The client's socket timeout (redis-py default 5 s) bounds one blocking read.
        block = max(1, int(min(timeout, 4.0) * 1000))
        got = await self.redis.xread({self.k("log"): f"{a[0]}-{a[1]}"}, count=1, block=block)
        return bool(got)
