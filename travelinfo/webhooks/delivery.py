"""Webhook delivery: signed POSTs, at-least-once, in order per subscription, retried with backoff.

One task per subscription, so a slow receiver only delays itself. A subscription is served
by the one engine holding its lease (a `Lease` named "webhook:<id>"); live engines split the
subscriptions between them and hand them over when one joins or leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from travelinfo.api import params as api_params
from travelinfo.config import Settings
from travelinfo.filters import events
from travelinfo.model import format_time
from travelinfo.runtime import metrics
from travelinfo.runtime.lease import Lease, lock_holder
from travelinfo.store.base import Change, Query, Store
from travelinfo.store.records import list_typed
from travelinfo.webhooks import records, ssrf
from travelinfo.webhooks.breaker import STORE_ERRORS, Breaker, StoreHealth, retry_delay
from travelinfo.webhooks.feed import GroupMissing, forget, make_feed
from travelinfo.webhooks.send import send

log = logging.getLogger(__name__)
T = TypeVar("T")

# The kinds (travelinfo.webhooks.records): the subscription (written by the API only), its
# delivery state (the owning engine only), dead letters (key "<id>:<seq>"), engine heartbeats.
KIND, STATE, DEAD, ENGINES = records.KIND, records.STATE, records.DEAD, records.ENGINES


def query_of(filters: Mapping[str, Any], home: tuple[float, float, float, float] | None = None) -> Query:
    """The store Query for a subscription's (validated) filters, read as the list API reads them.

    `home` is the service's region: as on the list, items wholly outside it make no events
    unless the subscription says `region: all`.
    """
    raw = {k: ",".join(map(_text, v)) if isinstance(v, list) else _text(v) for k, v in filters.items()}
    return api_params.parse(raw, allowed=api_params.FILTERS, home=home).query.narrow()


def _text(value: Any) -> str:
    # Numbers as the query string writes them (never `1e-05`, which the bbox pattern refuses).
    if isinstance(value, float):
        return f"{value:.12f}".rstrip("0").rstrip(".")
    return str(value)


async def start_held(
    store: Store, filters: Mapping[str, Any], home: tuple[float, float, float, float] | None
) -> list[str]:
    """What a new subscription holds: the ids matching it now (their changes are `updated`)."""
    items, _ = await store.query(query_of(filters, home))
    return sorted(d.id for d in items)


async def wait(event: asyncio.Event, timeout: float) -> None:
    """Wait for `event` at most `timeout` seconds.

    asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
    arrives just as the event is set, which would keep a worker alive past shutdown.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()


def runs_to_end(
    shutdown: Callable[[T], Coroutine[Any, Any, None]],
) -> Callable[[T], Coroutine[Any, Any, None]]:
    """An engine's `shutdown` that runs to its end however often its caller is cancelled
    meanwhile; the cancel is re-raised after it (the webhook and Web Push engines use it).

    `stop_task` cancels again every 50 ms. A second cancel landing in the clean-up skipped the
    rest of it: the webhook engine's heartbeat stayed (the next engine shared the subscriptions
    with that dead one until it aged out, `lease_ttl`), and the Web Push engine kept its lease.
    """

    @functools.wraps(shutdown)
    async def run(self: T) -> None:
        task = asyncio.ensure_future(shutdown(self))
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        task.result()

    return run


class SubscriptionWorker:
    """Delivers one subscription's events in order, one at a time, through its breaker."""

    def __init__(self, engine: DeliveryEngine, sub_id: str, lease: Lease) -> None:
        self.engine = engine
        self.id = sub_id
        self.lease = lease
        self.wake = asyncio.Event()
        self.stop = asyncio.Event()
        self.store_failures = 0

    async def run(self) -> None:
        """Serve the subscription until stopped or deleted; store errors are retried with backoff."""
        while not self.stop.is_set():
            try:
                await self._serve()
                return
            except STORE_ERRORS as exc:
                # Progress is in the store (cursor, group): a retry resumes after the last saved event.
                self.store_failures += 1
                self.engine.health.failed(f"delivering webhook {self.id}", exc)
                self.wake.clear()  # set by a stop, new changes, or the engine seeing the store back
                await wait(self.wake, retry_delay(self.store_failures, self.engine.refresh))

    async def _serve(self) -> None:
        engine, store = self.engine, self.engine.store
        sub = await store.get_record(KIND, self.id)
        if sub is None:
            return
        state = await store.get_record(STATE, self.id) or {"id": self.id}
        breaker = Breaker(self.id, state, engine.settings.webhooks)
        seq = state.get("cursor") or sub["start_seq"]
        feed = make_feed(store, self.id, engine.holder, seq, str(state.get("epoch") or ""))
        await feed.start()
        if "held" not in state:  # before its first events
            held0 = sub.get("start_held")
            if not isinstance(held0, list):  # registered before `held` existed: what matches
                # now (read before any newer change), so the items it was sent get their `ended`
                held0 = await start_held(store, sub.get("filters", {}), engine.settings.region_bbox)
            state["held"] = held0
        while not self.stop.is_set():
            self.wake.clear()
            try:
                changes = await feed.read(100)
            except GroupMissing:  # deleted meanwhile, or the group was lost
                if await store.get_record(KIND, self.id) is None:
                    return await self._deleted()
                await feed.start()  # recreate it at the saved cursor
                continue
            self.store_failures = 0
            engine.health.ok()
            dirty = bool(feed.gap)
            if feed.gap and await store.get_record(KIND, self.id) is None:
                return await self._deleted()  # e.g. the store lost its data, this subscription too
            if feed.gap:  # skipped (trimmed log, replaced store): the position jumped
                state["last_error"], feed.gap = feed.gap, None
                state["cursor"], state["epoch"] = feed.position, feed.epoch
            if changes:
                sub = await store.get_record(KIND, self.id)
                if sub is None:
                    return await self._deleted()
                query = query_of(sub.get("filters", {}), engine.settings.region_bbox)
            for change in changes:
                if self.stop.is_set():
                    break
                # One event semantics with SSE/WS and the bot (travelinfo.filters.events).
                held = set(state.get("held") or ())
                out = events.track(change.type, change.disruption, query.matches, held)
                sent = out is not None
                if out is not None:
                    event = dataclasses.replace(change, type=out.type, disruption=out.disruption)
                    outcome = await self._deliver(sub, event, breaker)
                    if outcome == "deleted":
                        return await self._deleted()
                    if outcome == "stopped":
                        break  # not acknowledged: the next owner sends it again
                await feed.ack(change)
                state["cursor"], state["epoch"] = feed.position, feed.epoch
                state["held"] = sorted(held)
                dirty = not sent
                if sent:  # a sent event's cursor is saved at once; skipped ones once per page
                    await store.put_record(STATE, self.id, state)
            # Stopped mid-page: the subscription may have been deleted; do not recreate its state.
            if dirty and (not self.stop.is_set() or await store.get_record(KIND, self.id)):
                await store.put_record(STATE, self.id, state)
            if not changes:
                await wait(self.wake, engine.poll)

    async def _deleted(self) -> None:
        await self.engine.store.delete_record(STATE, self.id)
        await forget(self.engine.store, self.id)

    async def _deliver(self, sub: dict[str, Any], change: Change, breaker: Breaker) -> str:
        """Deliver or dead-letter `change`: "delivered", "dead", or "stopped"/"deleted" meanwhile."""
        engine, store, state = self.engine, self.engine.store, breaker.state
        deadline = change.at.timestamp() + engine.settings.webhooks.max_age
        attempt = 0
        while True:
            now = engine.clock()
            pause = breaker.pause(now)
            if pause > 0:  # the subscription backs off as a whole, whichever event is current
                if now + pause > deadline:  # it would expire before the receiver may be called
                    why = f"seq {change.seq}: max_age ran out while the receiver was failing"
                    await self._dead_letter(change, breaker, attempt, f"{why} ({state.get('last_error')})")
                    return "dead"
                await wait(self.stop, pause)
                if self.stop.is_set():
                    return "stopped"
                if await store.get_record(KIND, self.id) is None:
                    return "deleted"
                continue
            attempt += 1
            out = await send(engine.http, sub, change, engine.settings, engine.allow, engine.clock)
            now = engine.clock()
            state["last_attempt"] = format_time(datetime.fromtimestamp(now, UTC))
            if out.ok:
                breaker.success()
                state["last_delivered_seq"] = change.seq
                state["delivered"] = int(state.get("delivered", 0)) + 1
                engine.delivered += 1
                return "delivered"
            state["last_error"] = f"seq {change.seq}, attempt {attempt}: {out.error}"
            delay = breaker.failure(now, out.retry_after)
            if not out.retry or now + delay > deadline:
                await self._dead_letter(change, breaker, attempt, state["last_error"])
                return "dead"
            await store.put_record(STATE, self.id, state)

    async def _dead_letter(self, change: Change, breaker: Breaker, attempts: int, error: str) -> None:
        record = {
            "webhook": self.id,
            "seq": change.seq,
            "type": change.type,
            "error": error,
            "attempts": attempts,
            "at": format_time(datetime.fromtimestamp(self.engine.clock(), UTC)),
            "event": change.to_json(),
        }
        await self.engine.store.put_record(DEAD, f"{self.id}:{change.seq}", record)
        metrics.WEBHOOK_DEAD_LETTERS.inc()
        breaker.dead_letter()
        await self.engine.store.put_record(STATE, self.id, breaker.state)


class DeliveryEngine:
    """Runs a worker per subscription this engine owns; several engines share one store."""

    def __init__(self, settings: Settings, store: Store, *, holder: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.allow = ssrf.parse_allow(settings.webhooks.allow_hosts)
        self.holder = holder or lock_holder()
        self.lease_ttl = 30.0  # an engine that died without releasing is replaced after this
        self.refresh = 2.0  # how often subscriptions, leases and the engine heartbeat are renewed
        self.poll = 2.0  # idle workers re-read the log this often even without a wake-up
        self.delivered = 0
        self.clock: Callable[[], float] = time.time  # wall time: event deadlines are log times
        self.health = StoreHealth()
        self.crashes: dict[str, int] = {}  # per subscription: worker errors in a row (bugs, not store)
        self.session: aiohttp.ClientSession | None = None
        self.workers: dict[str, tuple[SubscriptionWorker, asyncio.Task[None]]] = {}
        self._poke = asyncio.Event()

    @property
    def http(self) -> aiohttp.ClientSession:
        """The process's one client session (given to `run`)."""
        if self.session is None:
            raise RuntimeError("delivery engine is not running")
        return self.session

    def notify(self, *_: Any) -> None:
        """New changes in the log: wake every idle worker (a ChangeHub listener)."""
        for worker, _task in self.workers.values():
            worker.wake.set()

    def poke(self) -> None:
        """Subscriptions changed: re-read them now instead of at the next refresh."""
        self._poke.set()

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Run until cancelled; store errors are retried with backoff, anything else is raised.

        A store outage is logged once when it starts and once when it ends; the workers keep
        their own retries meanwhile. An unexpected error ends the task with it, so the process
        can exit non-zero instead of running on without delivery.
        """
        self.session = session
        failures = 0
        try:
            while True:
                self._poke.clear()
                try:
                    await self.tick()
                except STORE_ERRORS as exc:
                    failures += 1
                    self.health.failed("refreshing subscriptions", exc)
                    await asyncio.sleep(retry_delay(failures, self.refresh))
                    continue
                if failures:
                    self.health.ok()
                    self.notify()  # workers waiting out the outage retry now
                failures = 0
                await wait(self._poke, self.refresh)
        finally:
            await self.shutdown()

    async def tick(self) -> None:
        """Heartbeat, decide which subscriptions are ours, take/renew/give up their leases."""
        store, now = self.store, self.clock()
        await store.put_record(ENGINES, self.holder, {"holder": self.holder, "seen": now})
        alive = sorted(
            {
                str(r["holder"])
                for r in await store.list_records(ENGINES)
                if "holder" in r and now - float(r.get("seen") or 0) < self.lease_ttl
            }
            | {self.holder}
        )  # a malformed heartbeat is ignored: it must not stop every engine
        # An unreadable subscription (logged once) gets no worker that would fail again and again.
        subs = sorted(s.id for s in await list_typed(store, KIND, records.Subscription.from_json))
        # Round-robin over the sorted ids: every engine computes the same balanced split.
        mine = {sid for i, sid in enumerate(subs) if alive[i % len(alive)] == self.holder}
        for sid, (worker, task) in list(self.workers.items()):
            if sid not in mine:
                worker.stop.set()  # hand over after the current delivery
                worker.wake.set()
            elif not await worker.lease.acquire():  # renewed every refresh (< a third of the TTL)
                log.warning("webhook %s: lost its lease; stopping", sid)
                task.cancel()
        for sid in sorted(mine - self.workers.keys()):
            lease = Lease(store, f"webhook:{sid}", self.lease_ttl, self.holder)
            if await lease.acquire():
                worker = SubscriptionWorker(self, sid, lease)
                task = asyncio.create_task(self._serve(worker), name=f"webhook:{sid}")
                self.workers[sid] = (worker, task)

    async def _serve(self, worker: SubscriptionWorker) -> None:
        try:
            await worker.run()
            self.crashes.pop(worker.id, None)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug or bad data in one subscription: logged with its traceback, that subscription
            # restarted with a growing pause (the others go on), never silently dropped.
            crashes = self.crashes[worker.id] = self.crashes.get(worker.id, 0) + 1
            log.exception("webhook %s: worker failed (%d in a row); restarting it", worker.id, crashes)
            await asyncio.sleep(retry_delay(crashes, 1.0, 60.0))
        finally:
            self.workers.pop(worker.id, None)
            await worker.lease.release()

    @runs_to_end
    async def shutdown(self) -> None:
        """Stop the workers (their leases released), then drop this engine's heartbeat."""
        tasks = []
        for worker, task in self.workers.values():
            worker.stop.set()  # in case a cancellation is lost in a wake-up race
            task.cancel()
            tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.store.delete_record(ENGINES, self.holder)
