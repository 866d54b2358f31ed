"""The Web Push engine: one reader of the change log fans each change out to per-subscription queues.

Webhooks give each subscription its own log reader; with tens of thousands of browsers that
would be tens of thousands of readers and leases, so here one engine (a `Lease`, "only one of
us") reads the log once through a `LogCursor`, matches every change against every
subscription in memory (the one filter vocabulary and event semantics), and writes what each
person is to be told into that subscription's durable queue in the store. Per-subscription
workers (`deliver.py`) then send each queue in order with the webhooks' breaker and backoff.
The position is saved after the queue entries it covers, and a queue entry's key is
(subscription, seq), so a crash in between writes the same entries again, never new ones;
entries already delivered are skipped by the subscription's `delivered_upto`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from travelinfo.runtime.lease import Lease, lock_holder
from travelinfo.settings import Settings
from travelinfo.store.base import Change, Query, Store
from travelinfo.store.cursor import LogCursor
from travelinfo.store.records import decode, list_typed
from travelinfo.webhooks import ssrf
from travelinfo.webhooks.breaker import STORE_ERRORS, StoreHealth, retry_delay
from travelinfo.webhooks.delivery import runs_to_end, wait
from travelinfo.webpush import ahead, vapid
from travelinfo.webpush.deliver import Worker
from travelinfo.webpush.message import Notice, decide, encode, payload, topic, urgency
from travelinfo.webpush.records import (
    CURSOR,
    HELD,
    QUEUE,
    STATE,
    SUB,
    Held,
    PushState,
    PushSubscription,
    Queued,
    earliest,
    forget,
    order,
)
from travelinfo.webpush.subscription import Compiled, compile_record

log = logging.getLogger(__name__)
PAGE = 500
STORE_CALLS = 16  # store calls in flight at once (workers and the fan-out's writes)


class PushEngine:
    """Fans changes out to push subscriptions and runs a worker per non-empty queue."""

    def __init__(self, settings: Settings, store: Store, *, holder: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.allow = ssrf.parse_allow(settings.webpush.allow_hosts)
        self.holder = holder or lock_holder()
        self.lease = Lease(store, "webpush:engine", 30.0, self.holder)
        self.refresh = 2.0  # lease renewal and subscription re-read without a poke
        self.poll = 2.0  # the log is re-read this often without a wake-up
        self.clock: Callable[[], float] = time.time  # wall time: TTLs count from the change's time
        self.health = StoreHealth(log, "web push delivery")
        self.inflight = asyncio.Semaphore(max(1, settings.webpush.concurrency))
        self.store_gate = asyncio.Semaphore(STORE_CALLS)  # a store's connection pool is finite
        self.stopping = asyncio.Event()
        self.nudge = asyncio.Event()  # waiting workers re-check their pause when it is set
        self.subs: dict[str, Compiled] = {}
        self._raws: dict[str, dict[str, Any]] = {}  # the stored record each of `subs` was read from
        self.tracked: dict[str, dict[str, Any]] = {}  # id -> {"held": set, "told": dict}
        self.queues: dict[str, deque[Queued]] = {}
        self.workers: dict[str, asyncio.Task[None]] = {}
        self.accepted = 0  # notifications the push services accepted
        self.cursor: LogCursor | None = None
        self.session: aiohttp.ClientSession | None = None
        self._keys: vapid.Keys | None = None
        self._subs_upto = ""  # `order` of the log's end read before the subscriptions were
        # Deleted ones (id -> its `created`) that a refresh read just before the delete must not
        # bring back; a new subscription of the same endpoint has another `created`.
        self.gone: dict[str, str] = {}
        self.states: dict[str, dict[str, Any]] = {}  # id -> its state record (breaker, delivered_upto)
        self._wake = asyncio.Event()
        self._renewed = 0.0
        self._refreshed = 0.0
        self._refresh_due = False
        self._ahead_at = 0.0

    @property
    def http(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError("push engine is not running")
        return self.session

    @property
    def keys(self) -> vapid.Keys:
        if self._keys is None:
            raise RuntimeError("push engine is not running")
        return self._keys

    def notify(self, *_: Any) -> None:
        """New changes in the log (a ChangeHub listener): read now."""
        self._wake.set()

    def wake_workers(self) -> None:
        """Workers waiting out a backoff or the hourly limit look again now (e.g. the clock moved)."""
        self.nudge.set()
        self.nudge = asyncio.Event()

    def poke(self) -> None:
        """Subscriptions changed: re-read them now."""
        self._refresh_due = True
        self._wake.set()

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Run until cancelled; store errors are retried with backoff, anything else is raised."""
        self.session = session
        failures = 0
        try:
            while True:
                self._wake.clear()
                try:
                    busy = await self.tick()
                except STORE_ERRORS as exc:
                    failures += 1
                    self.health.failed("fanning out push notifications", exc)
                    await asyncio.sleep(retry_delay(failures, self.refresh))
                    continue
                if failures:
                    self.health.ok()
                failures = 0
                if not busy:
                    await wait(self._wake, self.poll if self.cursor else self.refresh)
        finally:
            await self.shutdown()

    async def tick(self) -> bool:
        """Hold the lease, load state once, fan out one page; True when there may be more."""
        now = self.clock()
        if self.lease.renewed_at is None or now - self._renewed > self.refresh:
            if not await self.lease.acquire():
                await self._standby()  # someone else serves push; load afresh if we take over
                return False
            self._renewed = now
        if self.cursor is None:
            await self._load()
        elif self._refresh_due or now - self._refreshed > 5 * self.refresh:
            await self.refresh_subs()
        busy = await self.fan_out()
        await self.evening()
        return busy

    async def _standby(self) -> None:
        if self.cursor is None and not self.workers:
            return
        log.warning("web push: the engine lease is held elsewhere; standing by")
        self.cursor = None
        for sid in list(self.subs):
            self.discard(sid)

    async def _load(self) -> None:
        self._keys = await vapid.ensure(self.store)
        # The position first: a subscription made after it is read below, or by the refresh
        # that the first change after its `start_seq` triggers.
        cursor = LogCursor(self.store, "web push")
        await cursor.attach(await self.store.get_record(CURSOR, "engine") or await self._first_position())
        await self.refresh_subs()
        for rec in await list_typed(self.store, HELD, Held.from_json):
            if rec.id in self.subs:
                self.tracked[rec.id] = {
                    "held": set(rec.held),
                    "told": dict(rec.told),
                    "ahead_day": rec.ahead_day,
                }
        # Kept as read (the breaker updates it in place) once it fits; one that does not starts afresh.
        self.states = {
            key: raw
            for key, raw in await self.store.record_items(STATE)
            if decode(STATE, key, raw, PushState.from_json)
        }
        for item in await list_typed(
            self.store, QUEUE, Queued.from_json
        ):  # by key: per subscription, in log order
            if item.sub not in self.subs:  # left by an interrupted delete
                await self.store.delete_record(QUEUE, item.key)
            elif item.order > self._upto(item.sub):
                self._enqueue(item)
        for sid in list(self.queues):
            self._start(sid)
        self.cursor = cursor

    async def _first_position(self) -> dict[str, str]:
        """No saved position (never ran on this store): where the oldest subscription started (what
        changed while only `web` ran is pushed), or at the log's end read before the listing."""
        end = await self.store.last_seq()
        subs = await list_typed(self.store, SUB, PushSubscription.from_json)
        return {"seq": earliest([end, *(s.start_seq for s in subs if s.start_seq)])}

    async def refresh_subs(self) -> None:
        """Re-read the subscriptions (the log's end is read first: see `fan_out`)."""
        upto = order(await self.store.last_seq() or "0")
        home = self.settings.region_bbox
        fresh: dict[str, Compiled] = {}
        raws: dict[str, dict[str, Any]] = {}
        listed = await self.store.record_items(SUB)
        for sid, raw in listed:
            old = self.subs.get(sid)
            if old is not None and self._raws.get(sid) == raw:  # unchanged: not decoded again
                rec: PushSubscription | None = old.record
            else:
                rec = decode(SUB, sid, raw, PushSubscription.from_json)  # a bad one: logged once
            if rec is None or not sid or self.gone.get(sid) == rec.created:
                continue
            try:
                fresh[sid] = old if old is not None and old.record == rec else compile_record(rec, home)
                raws[sid] = raw
            except Exception as exc:  # one bad record must not stop every other subscriber
                log.warning("web push %s: unreadable subscription skipped (%s)", sid, type(exc).__name__)
                continue
            if sid not in self.tracked:
                self.tracked[sid] = {"held": set(rec.start_held), "told": {}}
        for sid in set(self.subs) - set(fresh):
            self.discard(sid)
        kept = {sid for sid, _ in listed}
        self.gone = {sid: c for sid, c in self.gone.items() if sid in kept}
        self.subs, self._raws, self._subs_upto = fresh, raws, upto
        self._refreshed, self._refresh_due = self.clock(), False

    async def fan_out(self) -> bool:
        cursor = self.cursor
        assert cursor is not None
        got = await cursor.read(PAGE, advance=False)
        if got.reset:
            await self.store.put_record(CURSOR, "engine", cursor.to_json())
            return True
        if not got.changes:
            return False
        if order(got.changes[-1].seq) > self._subs_upto:
            await self.refresh_subs()  # every subscription made before these changes is known
        dirty: set[str] = set()
        new: list[Queued] = []
        for change in got.changes:
            self._one(change, dirty, new)
            cursor.ack(change)
        await self._save(new, dirty)
        await self.store.put_record(CURSOR, "engine", cursor.to_json())
        return len(got.changes) >= PAGE

    async def _save(self, new: list[Queued], dirty: set[str]) -> None:
        """Queue entries first (in the store before a worker may send and delete one), then
        what changed in held/told, then the entries go to the workers."""
        await self._put_all([(QUEUE, item.key, item.to_json()) for item in new])
        held = []
        for sid in sorted(dirty):
            t = self.tracked.get(sid)
            if t is not None and sid in self.subs:
                rec = Held(sid, tuple(sorted(t["held"])), t["told"], t.get("ahead_day"))
                held.append((HELD, sid, rec.to_json()))
        await self._put_all(held)
        for item in new:
            self._enqueue(item)
        for sid in sorted({item.sub for item in new}):
            self._start(sid)

    async def evening(self) -> None:
        """Planned works ahead (`ahead.py`): at most every 30 s, for the subscriptions now due."""
        now = self.clock()
        if now - self._ahead_at < 30 or self.cursor is None:
            return
        self._ahead_at = now
        at = datetime.fromtimestamp(now, UTC)
        subs = [s for s in self.subs.values() if ahead.due_today(s, self.tracked[s.id], at)]
        if not subs:
            return
        planned, _ = await self.store.query(Query(status=("planned",), region=self.settings.region_bbox))
        base = order(self.cursor.seq or "0")
        new: list[Queued] = []
        for sub in subs:
            for i, notice in enumerate(ahead.notices(sub, self.tracked[sub.id], planned, at)):
                day = self.tracked[sub.id]["ahead_day"]
                new.append(self._item(sub, notice, f"{base}~{day}-{i:04d}", self.cursor.seq))
        await self._save(new, {s.id for s in subs})

    async def _put_all(self, records: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Write records, a few at a time (concurrent calls share the store's connections)."""

        async def put(kind: str, key: str, value: dict[str, Any]) -> None:
            async with self.store_gate:
                await self.store.put_record(kind, key, value)

        for i in range(0, len(records), STORE_CALLS * 4):
            await asyncio.gather(*(put(*r) for r in records[i : i + STORE_CALLS * 4]))

    def _one(self, change: Change, dirty: set[str], new: list[Queued]) -> None:
        at_order = order(change.seq)
        did = change.disruption.id
        for sid, sub in self.subs.items():
            if at_order <= order(sub.record.start_seq or "0"):
                continue  # subscribed after this change
            t = self.tracked[sid]
            before = (did in t["held"], t["told"].get(did))
            notice = decide(sub, change.type, change.disruption, change.at, t["held"], t["told"])
            if (did in t["held"], t["told"].get(did)) != before:
                dirty.add(sid)
            if notice is None or at_order <= self._upto(sid):
                continue
            new.append(self._item(sub, notice, order(change.seq), change.seq))

    def _upto(self, sid: str) -> str:
        return str(self.states.get(sid, {}).get("delivered_upto") or "")

    def _item(self, sub: Compiled, notice: Notice, at_order: str, seq: str) -> Queued:
        unsubscribe = {
            "url": f"{self.settings.public_url}/api/v1/push/subscriptions/{sub.id}",
            "secret": self.keys.delete_secret(sub.id),
        }
        body = encode(payload(notice, sub.lang, self.settings.public_url, unsubscribe))
        urg, ttl = urgency(notice)
        return Queued(
            key=f"{sub.id}:{at_order}",
            sub=sub.id,
            order=at_order,
            seq=seq,
            kind=notice.kind,
            body=body.decode(),
            topic=topic(notice.disruption.id),
            urgency=urg,
            ttl=ttl,
            at=self.clock(),  # TTLs count from the decision to notify, not from the change
            changed_at=notice.at.timestamp(),
        )

    def _enqueue(self, item: Queued) -> None:
        queue = self.queues.setdefault(item.sub, deque())
        if not queue or queue[-1].key < item.key:  # a page read again adds nothing twice
            queue.append(item)

    def _start(self, sid: str) -> None:
        if sid in self.workers or not self.queues.get(sid):
            return
        task = asyncio.create_task(self._serve(Worker(self, sid, self.queues[sid])), name=f"push:{sid}")
        self.workers[sid] = task

    async def _serve(self, worker: Worker) -> None:
        failures = 0
        try:
            while True:
                try:
                    await worker.run()
                    return
                except STORE_ERRORS as exc:  # progress is in the store: resume at the queue's head
                    failures += 1
                    self.health.failed(f"delivering web push {worker.id}", exc)
                    await wait(self.stopping, retry_delay(failures, self.refresh))
                    if self.stopping.is_set():
                        return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("web push %s: worker failed; it restarts with the next change", worker.id)
        finally:
            self.workers.pop(worker.id, None)
            if worker.queue and worker.id in self.subs and not self.stopping.is_set():
                asyncio.get_running_loop().call_later(1.0, self._start, worker.id)

    def discard(self, sid: str, *, gone: bool = False) -> None:
        """Forget a subscription in memory; `gone`: it was deleted (a stale read must not revive it)."""
        sub = self.subs.pop(sid, None)
        if gone and sub is not None:
            self.gone[sid] = sub.record.created
        self.tracked.pop(sid, None)
        self.queues.pop(sid, None)
        self.states.pop(sid, None)
        task = self.workers.pop(sid, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def drop(self, sid: str) -> None:
        """The push service said the subscription is gone: delete it and all kept for it."""
        self.discard(sid, gone=True)
        await forget(self.store, sid)

    @runs_to_end
    async def shutdown(self) -> None:
        self.stopping.set()
        self.nudge.set()
        tasks = list(self.workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.lease.release()


__all__ = ["STATE", "PushEngine"]
