"""One change-log reader per process, fanning events out to every subscriber.

SSE/WebSocket clients, render caches and static export subscribe here instead of each
waiting on the store, so 2,000 clients cost one reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from travelinfo.runtime.backoff import Backoff, is_store_error
from travelinfo.store.base import Change, Store
from travelinfo.store.cursor import LogCursor

log = logging.getLogger(__name__)


class Flag:
    """A set/clear flag: `asyncio.Event` without its waiter deque (nobody waits on it)."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set


class Wake(Flag):
    """An `asyncio.Event` for one waiter: a future exists only while someone waits.

    With 10,000 streams per process every subscriber byte counts: this and `Pending` keep a
    subscription at a few hundred bytes where Queue + two Events cost about 3 KiB.
    """

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        super().__init__()
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> bool:
        if self._set:
            return True
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter  # cancelled with its waiter (a timeout): the next wait makes a new one
        return True


class Pending:
    """A subscriber's changes not yet taken: a bounded FIFO on a plain list."""

    __slots__ = ("_getter", "_head", "_items", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self._items: list[Change] = []
        self._head = 0
        self.maxsize = maxsize
        self._getter: asyncio.Future[None] | None = None  # only while someone awaits `get`

    def put_nowait(self, change: Change) -> None:
        if len(self._items) - self._head >= self.maxsize:
            raise asyncio.QueueFull
        self._items.append(change)
        getter, self._getter = self._getter, None
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def get(self) -> Change:
        """Wait for the next change (as `asyncio.Queue.get`)."""
        while self.empty():
            if self._getter is None or self._getter.done():
                self._getter = asyncio.get_running_loop().create_future()
            await self._getter
        return self.get_nowait()

    def get_nowait(self) -> Change:
        if self._head >= len(self._items):
            raise asyncio.QueueEmpty
        change = self._items[self._head]
        self._head += 1
        if self._head == len(self._items):
            self._items, self._head = [], 0  # drained: drop the references at once
        return change

    def empty(self) -> bool:
        return self._head >= len(self._items)

    def qsize(self) -> int:
        return len(self._items) - self._head


class Subscription:
    """A subscriber's pending changes; `reset` is set when it fell behind or the log was reset."""

    __slots__ = ("queue", "reset", "wake")

    def __init__(self, maxsize: int = 10_000) -> None:
        self.queue = Pending(maxsize)
        self.reset = Flag()
        self.wake = Wake()


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

    @property
    def is_started(self) -> bool:
        """Whether the reader has its first position (`started` would not wait)."""
        return self._started.is_set()

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
        me = asyncio.current_task()
        while True:
            # redis-py can swallow a cancellation that lands in its own read timeout and retry
            # the read: a cancel asked for must still end this loop.
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
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
