"""One change-log reader per process, fanning events out to every subscriber.

SSE/WebSocket clients, render caches and static export subscribe here instead of each
waiting on the store, so 2,000 clients cost one reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from travelinfo.runtime.backoff import Backoff, is_store_error
from travelinfo.store.base import Change, Store
from travelinfo.store.cursor import LogCursor

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscription:
    """A subscriber's queue; `reset` is set when it fell behind or the log was reset."""

    queue: asyncio.Queue[Change] = field(default_factory=lambda: asyncio.Queue(maxsize=10_000))
    reset: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class ChangeHub:
    """Tails the store's change log and broadcasts each change once per process."""

    def __init__(self, store: Store, poll_timeout: float = 10.0) -> None:
        self.store = store
        self.poll_timeout = poll_timeout
        self.cursor = LogCursor(store, "change log reader")
        self.generation = 0
        self.last_change_at: datetime = datetime.now(UTC)
        self._subs: set[Subscription] = set()
        self._listeners: list[Callable[[list[Change]], None]] = []
        self._started = asyncio.Event()
        self.backoff = Backoff("change log reader", log, cap=2.0)

    @property
    def last_seq(self) -> str:
        """The position of this process's reader (the newest event broadcast)."""
        return self.cursor.seq

    @property
    def epoch(self) -> str:
        """The store epoch the reader's position belongs to."""
        return self.cursor.epoch

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def on_changes(self, listener: Callable[[list[Change]], None]) -> None:
        """Call `listener` synchronously with each batch of changes (cache invalidation)."""
        self._listeners.append(listener)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    async def started(self) -> None:
        await self._started.wait()

    async def run(self) -> None:
        """Run until cancelled; store faults are retried with backoff, never fatal."""
        while True:
            try:
                await self._start()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_store_error(exc):
                    raise
                await asyncio.sleep(self.backoff.failed(exc))
        self.backoff.succeeded()
        self._started.set()
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A store fault or a corrupt entry must not end the one reader of this process.
                if not is_store_error(exc) and not self.backoff.failing:
                    log.exception("reading the change log failed")
                await asyncio.sleep(self.backoff.failed(exc))

    async def _start(self) -> None:
        await self.cursor.attach()  # the log's end: subscribers catch up from the store
        # Feeds say when data last changed, not when this process started.
        self.last_change_at = await self.store.last_change_at() or self.last_change_at

    async def _step(self) -> None:
        # Every round checks it still reads the same data (the cursor compares the store's
        # epoch): a Redis restarted empty has new seqs that may well sort after the old ones.
        reset = await self.cursor.check()
        self.backoff.succeeded()
        if reset:
            self._reset()
            return
        if not await self.cursor.wait(self.poll_timeout):
            return
        read = await self.cursor.read()
        if read.reset:
            self._reset()
        elif read.changes:
            self._broadcast(list(read.changes))

    def _reset(self) -> None:
        self._bump([])
        for sub in self._subs:
            sub.reset.set()
            sub.wake.set()

    def _bump(self, changes: list[Change]) -> None:
        self.generation += 1
        self.last_change_at = changes[-1].at if changes else datetime.now(UTC)
        for listener in self._listeners:
            try:
                listener(changes)
            except Exception:
                log.exception("change listener failed")

    def _broadcast(self, changes: list[Change]) -> None:
        self._bump(changes)
        for sub in self._subs:
            for change in changes:
                try:
                    sub.queue.put_nowait(change)
                except asyncio.QueueFull:
                    # A subscriber this far behind resynchronises from a reset.
                    sub.reset.set()
                    break
            sub.wake.set()
