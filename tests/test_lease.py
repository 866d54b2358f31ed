"""The one lease helper (worker, bot, webhook delivery): holder ids, renewal, takeover, release."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from storeutil import open_store

from travelinfo.bot.runner import LOCK as BOT_LOCK
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Recorder
from travelinfo.config import Settings
from travelinfo.runtime.lease import Lease, lock_holder

KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


async def until_true(cond: object, timeout: float = 10.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(every)


@pytest.mark.realtime  # taken over within ttl + 1 s
@pytest.mark.parametrize("kind", KINDS)
async def test_a_lease_not_renewed_is_taken_over_after_its_ttl(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store:
        ttl = 0.6
        a = Lease(store, "job", ttl, "host-a:1:x:a")  # not this host's ids: no dead-pid shortcut
        b = Lease(store, "job", ttl, "host-b:2:x:b")
        assert a.renew_every == pytest.approx(ttl / 3)
        assert await a.acquire() and a.held
        assert not await b.acquire() and not b.held, "one holder at a time"
        # a renews at a third of the TTL for twice the TTL: b never gets in.
        async with a.kept():
            started = time.monotonic()
            while time.monotonic() - started < 2 * ttl:
                assert not await b.acquire()
                await asyncio.sleep(0.05)
            assert a.held
        # a stops renewing (it hangs or died without releasing): b takes over within the TTL.
        stopped = time.monotonic()
        await until_true(b.acquire)
        waited = time.monotonic() - stopped
        assert waited <= ttl + 1.0, waited
        assert not await a.acquire() and not a.held, "the old holder learns it lost the lease"
        # Released: the next holder takes it at once, no TTL to wait.
        await b.release()
        assert not b.held
        assert await a.acquire()


@pytest.mark.parametrize("kind", KINDS)
async def test_kept_marks_a_lease_taken_by_another_holder_as_lost(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store:
        a = Lease(store, "job", 0.3, "host-a:1:x:a")
        assert await a.acquire()
        async with a.kept():
            await store.release_lock("job", "host-a:1:x:a")  # e.g. an operator or a store restart
            assert await store.try_lock("job", "host-c:3:x:c", 30)
            await until_true(lambda: _false(a.held))
        assert not a.held


async def _false(value: bool) -> bool:
    return not value


@pytest.mark.parametrize("kind", KINDS)
async def test_bot_lease_is_released_on_stop_and_taken_by_the_next_bot(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store:
        settings = Settings()
        first = Bot(settings, store, Recorder(), holder="host-a:1:x:a")
        task = asyncio.create_task(first.run(tick=0.05, lock_ttl=1.5))
        probe = "host-p:9:x:p"  # holds the lock 20 ms of every 100 ms: the bot gets in soon
        await until_true(lambda: _locked_by_other(store, probe), every=0.1)
        await asyncio.sleep(0.03)  # the probe's own hold has expired
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Handed over at once, not after the TTL.
        second = Lease(store, BOT_LOCK, 30, lock_holder())
        assert await second.acquire()


async def _locked_by_other(store: object, holder: str) -> bool:
    # A probe that got the lock holds it for 20 ms only: it never keeps the bot out for long.
    return not await store.try_lock(BOT_LOCK, holder, 0.02)  # type: ignore[attr-defined]
