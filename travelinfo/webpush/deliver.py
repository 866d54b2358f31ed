"""Delivering one subscription's queue: in order, one at a time, through the webhooks' breaker.

The subscription backs off as a whole (`travelinfo.webhooks.breaker`: exponential backoff of
the one law, `Retry-After` honoured, a circuit that logs an outage once each way, here as
`web push <id>: ...` on this module's logger); a
notification whose TTL runs out while the push service fails is dropped and counted. `404`
or `410` deletes the subscription; `413` sends it again without its body text. At most
`webpush.per_hour` notifications an hour go to one subscription: more wait their turn.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from travelinfo.model import format_time
from travelinfo.webhooks.breaker import Breaker
from travelinfo.webhooks.delivery import wait
from travelinfo.webpush.message import trimmed
from travelinfo.webpush.records import QUEUE, STATE, PushSubscription, Queued
from travelinfo.webpush.send import Push, send

if TYPE_CHECKING:
    from travelinfo.webpush.engine import PushEngine

log = logging.getLogger(__name__)
HOUR = 3600.0


class Worker:
    """Serves one subscription's pending notifications until its queue is empty."""

    def __init__(self, engine: PushEngine, sub_id: str, queue: deque[Queued]) -> None:
        self.engine = engine
        self.id = sub_id
        self.queue = queue

    async def run(self) -> None:
        engine, store = self.engine, self.engine.store
        # Only the engine writes a subscription's state, so its copy is current; the
        # subscription is the engine's copy too (re-read with every new change, and at least
        # every few seconds).
        state = engine.states.setdefault(self.id, {"id": self.id})
        breaker = Breaker(self.id, state, engine.settings.webpush, logger=log, noun="web push")
        while self.queue and not engine.stopping.is_set():
            item = self.queue[0]
            sub = engine.subs.get(self.id)
            if sub is None:  # deleted: what was queued since goes too
                await engine.drop(self.id)
                return
            outcome = await self._deliver(sub.record, item, breaker)
            if outcome == "stopped":
                return
            if outcome == "gone":
                log.info("web push %s: the push service says the subscription is gone; deleting it", self.id)
                await engine.drop(self.id)
                return
            self.queue.popleft()
            state["delivered_upto"] = item.order
            async with engine.store_gate:
                await store.put_record(STATE, self.id, state)
                await store.delete_record(QUEUE, item.key)

    async def _deliver(self, sub: PushSubscription, item: Queued, breaker: Breaker) -> str:
        """ "sent", "expired", "refused", "gone", or "stopped" (shutdown)."""
        engine, state = self.engine, breaker.state
        settings = engine.settings.webpush
        deadline = item.at + min(item.ttl, settings.max_age)
        body = item.body.encode()
        while True:
            now = engine.clock()
            pause = max(breaker.pause(now), self._rate_pause(state, now))
            if now + pause > deadline:
                return self._expired(item, breaker, "its TTL ran out while the push service was failing")
            if pause > 0:
                await wait(engine.nudge, pause)  # set at shutdown, or to re-check pauses now
                if engine.stopping.is_set():
                    return "stopped"
                continue
            ttl = max(1, int(deadline - now))
            push = Push(body, item.topic, item.urgency, ttl)
            async with engine.inflight:
                out = await send(engine.http, sub, push, engine.keys, settings, engine.allow)
            now = engine.clock()
            state["last_attempt"] = format_time(datetime.fromtimestamp(now, UTC))
            if out.ok:
                breaker.success()
                state["sent"] = int(state.get("sent") or 0) + 1
                state["recent"] = [*self._recent(state, now), now]
                engine.accepted += 1
                return "sent"
            if out.gone:
                return "gone"
            state["last_error"] = f"{item.order}: {out.error}"
            if out.too_large and item.body != (small := trimmed(body).decode()):
                item, body = replace(item, body=small), small.encode()
                self.queue[0] = item  # sent without its text from now on, also after a restart of the worker
                continue
            delay = breaker.failure(now, out.retry_after)
            if not out.retry:
                return self._expired(item, breaker, f"the push service refused it ({out.error})")
            if now + delay > deadline:
                return self._expired(item, breaker, f"its TTL would run out before a retry ({out.error})")
            async with engine.store_gate:
                await engine.store.put_record(STATE, self.id, state)

    def _expired(self, item: Queued, breaker: Breaker, why: str) -> str:
        breaker.state["last_error"] = f"{item.order}: dropped, {why}"
        breaker.dead_letter()  # counted in `dead_letters`; the outage's first one is logged
        return "expired"

    @staticmethod
    def _recent(state: dict[str, Any], now: float) -> list[float]:
        return [float(t) for t in state.get("recent") or () if now - float(t) < HOUR]

    def _rate_pause(self, state: dict[str, Any], now: float) -> float:
        limit = self.engine.settings.webpush.per_hour
        recent = self._recent(state, now)
        if limit <= 0 or len(recent) < limit:
            return 0.0
        return max(0.0, recent[-limit] + HOUR - now)
