"""Webhook delivery: signed POSTs, at-least-once, in order per subscription, retried with backoff.

One task per subscription, so a slow receiver only delays itself. A subscription is served
by the one engine holding its lease (`store.try_lock("webhook:<id>")`); live engines split the
subscriptions between them and hand them over when one joins or leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from travelinfo import ssrf
from travelinfo.config import Settings
from travelinfo.http import retry_after_seconds
from travelinfo.model import format_time
from travelinfo.store.base import Change, Query, Store
from travelinfo.webhooks_feed import forget, make_feed

log = logging.getLogger(__name__)

KIND = "webhook"  # the subscription: owner, url, filters, secret (written by the API only)
STATE = "webhook_state"  # its delivery state (written by the owning engine only)
DEAD = "webhook_dead"  # dead letters, key "<id>:<seq>"
ENGINES = "webhook_engine"  # live delivery engines (heartbeats)
RETRY_STATUSES = frozenset({408, 425, 429})


def query_of(filters: Mapping[str, Any]) -> Query:
    """The store Query for a subscription's (validated) filters; no status filter means every event."""
    bbox = filters.get("bbox")
    return Query(
        modes=tuple(filters.get("mode", ())),
        status=tuple(filters.get("status", ())),
        sources=tuple(filters.get("source", ())),
        severity=filters.get("severity"),
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]) if bbox else None,
        route=filters.get("route"),
        stop=filters.get("stop"),
        road=filters.get("road"),
        text=filters.get("q"),
    )


def event_body(change: Change) -> bytes:
    return json.dumps(change.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt."""

    ok: bool
    retry: bool = False
    error: str = ""
    retry_after: float | None = None


async def send(
    session: aiohttp.ClientSession,
    sub: Mapping[str, Any],
    change: Change,
    settings: Settings,
    allow: tuple[ssrf.IPNetwork, ...],
) -> Outcome:
    """One signed POST of `change` to the subscription's URL (SSRF-checked right before it)."""
    body = event_body(change)
    timeout = settings.webhooks.timeout
    try:
        async with asyncio.timeout(timeout):
            target = await ssrf.check_target(sub["url"], allow)
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "Host": target.host_header(),
                "X-Travelinfo-Event-Id": change.seq,
                "X-Travelinfo-Event": change.type,
                "X-Travelinfo-Timestamp": stamp,
                "X-Travelinfo-Signature": sign(sub["secret"], stamp, body),
                "X-Travelinfo-Webhook-Id": sub["id"],
            }
            async with session.post(
                target.request_url(),
                data=body,
                headers=headers,
                allow_redirects=False,
                server_hostname=target.host if target.url.scheme == "https" else None,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                if 200 <= resp.status < 300:
                    return Outcome(True)
                retry = resp.status in RETRY_STATUSES or resp.status >= 500
                after = retry_after_seconds(resp.headers.get("Retry-After"))
                return Outcome(False, retry, f"HTTP {resp.status}", after)
    except ssrf.Refused as exc:
        return Outcome(False, True, f"refused: {exc}")
    except TimeoutError:
        return Outcome(False, True, f"timed out after {timeout:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(False, True, f"{type(exc).__name__}: {exc}"[:300])


def backoff(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter; never sooner than the receiver's Retry-After."""
    w = settings.webhooks
    delay = min(w.backoff_max, w.backoff_base * 2 ** min(attempt - 1, 30))
    delay = random.uniform(delay / 2, delay)  # jitter spreads retries of many subscriptions
    return max(delay, retry_after or 0.0)


async def wait(event: asyncio.Event, timeout: float) -> None:
    """Wait for `event` at most `timeout` seconds.

    asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
    arrives just as the event is set, which would keep a worker alive past shutdown.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()


class SubscriptionWorker:
    """Delivers one subscription's events in order, one at a time."""

    def __init__(self, engine: DeliveryEngine, sub_id: str) -> None:
        self.engine = engine
        self.id = sub_id
        self.wake = asyncio.Event()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        store = self.engine.store
        sub = await store.get_record(KIND, self.id)
        if sub is None:
            return
        state = await store.get_record(STATE, self.id) or {"id": self.id}
        feed = make_feed(store, self.id, self.engine.holder, state.get("cursor") or sub["start_seq"])
        await feed.start()
        while not self.stop.is_set():
            self.wake.clear()
            try:
                changes = await feed.read(100)
            except Exception as exc:  # redis ResponseError NOGROUP: deleted meanwhile, or group lost
                if "NOGROUP" not in str(exc):
                    raise
                if await store.get_record(KIND, self.id) is None:
                    return await self._deleted()
                await feed.start()  # recreate it at the saved cursor
                continue
            dirty = bool(feed.gap)
            if feed.gap:
                state["last_error"], feed.gap = feed.gap, None
            if changes:
                sub = await store.get_record(KIND, self.id)
                if sub is None:
                    return await self._deleted()
                query = query_of(sub.get("filters", {}))
            for change in changes:
                if self.stop.is_set():
                    break
                sent = query.matches(change.disruption)
                if sent:
                    outcome = await self._deliver(sub, change, state)
                    if outcome == "deleted":
                        return await self._deleted()
                    if outcome == "stopped":
                        break  # not acknowledged: the next owner sends it again
                await feed.ack(change)
                state["cursor"] = feed.position
                dirty = not sent
                if sent:  # a sent event's cursor is saved at once; skipped ones once per page
                    await store.put_record(STATE, self.id, state)
            if dirty:
                await store.put_record(STATE, self.id, state)
            if not changes:
                await wait(self.wake, self.engine.poll)

    async def _deleted(self) -> None:
        await self.engine.store.delete_record(STATE, self.id)
        await forget(self.engine.store, self.id)

    async def _deliver(self, sub: dict[str, Any], change: Change, state: dict[str, Any]) -> str:
        """Deliver or dead-letter `change`: "delivered", "dead", or "stopped"/"deleted" meanwhile."""
        engine, store = self.engine, self.engine.store
        deadline = change.at.timestamp() + engine.settings.webhooks.max_age
        attempt = 0
        while True:
            attempt += 1
            out = await send(engine.http, sub, change, engine.settings, engine.allow)
            now = time.time()
            state["last_attempt"] = format_time(datetime.now(UTC))
            if out.ok:
                state.update(state="active", last_delivered_seq=change.seq)
                state["delivered"] = int(state.get("delivered", 0)) + 1
                engine.delivered += 1
                return "delivered"
            state["last_error"] = f"seq {change.seq}, attempt {attempt}: {out.error}"
            delay = backoff(engine.settings, attempt, out.retry_after)
            if not out.retry or now + delay > deadline:
                await self._dead_letter(change, state, attempt)
                return "dead"
            state["state"] = "retrying"
            await store.put_record(STATE, self.id, state)
            await wait(self.stop, delay)
            if self.stop.is_set():
                return "stopped"
            if await store.get_record(KIND, self.id) is None:
                return "deleted"

    async def _dead_letter(self, change: Change, state: dict[str, Any], attempts: int) -> None:
        log.warning("webhook %s: dead-lettered event %s (%s)", self.id, change.seq, state["last_error"])
        record = {
            "webhook": self.id,
            "seq": change.seq,
            "type": change.type,
            "error": state["last_error"],
            "attempts": attempts,
            "at": format_time(datetime.now(UTC)),
            "event": change.to_json(),
        }
        await self.engine.store.put_record(DEAD, f"{self.id}:{change.seq}", record)
        state["dead_letters"] = int(state.get("dead_letters", 0)) + 1
        state["state"] = "failing"
        await self.engine.store.put_record(STATE, self.id, state)


class DeliveryEngine:
    """Runs a worker per subscription this engine owns; several engines share one store."""

    def __init__(self, settings: Settings, store: Store, *, holder: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.allow = ssrf.parse_allow(settings.webhooks.allow_hosts)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease_ttl = 30.0  # an engine that died without releasing is replaced after this
        self.refresh = 2.0  # how often subscriptions, leases and the engine heartbeat are renewed
        self.poll = 2.0  # idle workers re-read the log this often even without a wake-up
        self.delivered = 0
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
        """Run until cancelled; then stop workers and give up leases at once."""
        self.session = session
        try:
            while True:
                self._poke.clear()
                try:
                    await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook engine: refreshing subscriptions failed")
                await wait(self._poke, self.refresh)
        finally:
            await self.shutdown()

    async def tick(self) -> None:
        """Heartbeat, decide which subscriptions are ours, take/renew/give up their leases."""
        store, now = self.store, time.time()
        await store.put_record(ENGINES, self.holder, {"holder": self.holder, "seen": now})
        alive = sorted(
            {r["holder"] for r in await store.list_records(ENGINES) if now - r["seen"] < self.lease_ttl}
            | {self.holder}
        )
        subs = sorted(r["id"] for r in await store.list_records(KIND))
        # Round-robin over the sorted ids: every engine computes the same balanced split.
        mine = {sid for i, sid in enumerate(subs) if alive[i % len(alive)] == self.holder}
        for sid, (worker, task) in list(self.workers.items()):
            if sid not in mine:
                worker.stop.set()  # hand over after the current delivery
                worker.wake.set()
            elif not await store.try_lock(f"webhook:{sid}", self.holder, self.lease_ttl):
                log.warning("webhook %s: lost its lease; stopping", sid)
                task.cancel()
        for sid in sorted(mine - self.workers.keys()):
            if await store.try_lock(f"webhook:{sid}", self.holder, self.lease_ttl):
                worker = SubscriptionWorker(self, sid)
                task = asyncio.create_task(self._serve(worker), name=f"webhook:{sid}")
                self.workers[sid] = (worker, task)

    async def _serve(self, worker: SubscriptionWorker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook %s: worker failed; restarting it", worker.id)
            await asyncio.sleep(1)
        finally:
            self.workers.pop(worker.id, None)
            with contextlib.suppress(Exception):
                await self.store.release_lock(f"webhook:{worker.id}", self.holder)

    async def shutdown(self) -> None:
        tasks = []
        for worker, task in self.workers.values():
            worker.stop.set()  # in case a cancellation is lost in a wake-up race
            task.cancel()
            tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.store.delete_record(ENGINES, self.holder)
