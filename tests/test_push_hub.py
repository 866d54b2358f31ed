"""The hub's per-subscriber state: bounded pending changes, reset when far behind, one waiter."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from pathlib import Path

import pytest
from storeutil import batch, item, open_store

from travelinfo.push.hub import ChangeHub, Pending, Wake


async def _until(cond: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_subscriber_far_behind_is_reset_and_others_get_every_change(
    kind: str, tmp_path: Path, now: datetime
) -> None:
    async with open_store(kind, tmp_path) as store:
        hub = ChangeHub(store, poll_timeout=0.2)
        slow, fast = hub.subscribe(), hub.subscribe()
        slow.queue.maxsize = 3
        task = asyncio.create_task(hub.run())
        try:
            await asyncio.wait_for(hub.started(), 30)
            await store.apply(batch([item(str(i), now) for i in range(6)], now))
            await _until(lambda: fast.queue.qsize() == 6)
            assert slow.reset.is_set() and slow.wake.is_set()
            assert slow.queue.qsize() == 3  # what fitted stays; the reset makes it resync anyway
            got = [fast.queue.get_nowait().id for _ in range(6)]
            assert got == [f"demo:{i}" for i in range(6)] and fast.queue.empty()
            with pytest.raises(asyncio.QueueEmpty):
                fast.queue.get_nowait()
            assert not fast.reset.is_set()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def test_pending_is_a_bounded_fifo() -> None:
    from travelinfo.store.base import Change

    p = Pending(2)
    changes = [Change.__new__(Change) for _ in range(3)]
    p.put_nowait(changes[0])
    p.put_nowait(changes[1])
    with pytest.raises(asyncio.QueueFull):
        p.put_nowait(changes[2])
    assert p.get_nowait() is changes[0]
    p.put_nowait(changes[2])  # room again after one was taken
    assert [p.get_nowait(), p.get_nowait()] == [changes[1], changes[2]] and p.empty()


async def test_wake_after_a_timed_out_wait_still_wakes_the_next_waiter() -> None:
    w = Wake()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await w.wait()
    waiter = asyncio.create_task(w.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    w.set()
    assert await asyncio.wait_for(waiter, 2) is True
    assert await w.wait() is True  # set stays set until cleared
    w.clear()
    assert not w.is_set()
