"""Delivery survives engine restarts (sqlite and redis); on Redis several engines share the work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from waiting import wait_until
from webhookutil import (
    Receiver,
    cleanup_redis,
    events,
    first_occurrences,
    make_key,
    receiver,
    register,
    running,
    settings_for,
    start_app,
    until,
)

from travelinfo.webhooks.delivery import ENGINES, DeliveryEngine
from travelinfo.webhooks.routes import ENGINE

KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


async def slowish(_request: web.Request, _r: Receiver) -> web.StreamResponse:
    await asyncio.sleep(0.05)
    return web.Response(status=200)


@pytest.mark.parametrize("kind", KINDS)
async def test_restarted_engine_delivers_the_rest(kind: str, tmp_path: Path) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    async with cleanup_redis(prefix), receiver(hook=slowish) as rx, aiohttp.ClientSession() as http:
        first = await start_app(settings, frozenset({"web", "deliver"}))
        token = await make_key(first.store, ["webhooks"])
        sub = await register(http, first.url, token, rx.url("/hook"))
        before = await events(first.store, 12, "before")
        await until(lambda: len(rx.hits) >= 3, what="some deliveries")
        await first.stop()  # in the middle: a request may be cut off, the rest not yet sent
        got_before = len(set(rx.seqs("/hook")))
        assert got_before < len(before)

        async with running(settings, frozenset({"deliver"})) as second:
            after = await events(second.store, 3, "after")
            expected = [c.seq for c in before + after]
            await until(lambda: set(rx.seqs("/hook")) >= set(expected), what="every event after restart")

            async def committed() -> bool:
                state = await second.store.get_record("webhook_state", sub["id"])
                return state is not None and state.get("last_delivered_seq") == expected[-1]

            # Once the cursor is stored past the last event, nothing more is sent.
            await wait_until(committed, what="the engine to store its cursor")
        seqs = rx.seqs("/hook")
        # At-least-once: nothing lost, at most the in-flight event sent twice, first sends in order.
        assert first_occurrences(seqs) == expected
        assert len(seqs) - len(expected) <= 1


@pytest.mark.redis
async def test_two_engines_share_the_work(tmp_path: Path) -> None:
    settings, prefix = settings_for("redis", tmp_path)
    paths = [f"/s{i}" for i in range(4)]
    async with (
        cleanup_redis(prefix),
        receiver() as rx,
        aiohttp.ClientSession() as http,
        running(settings, frozenset({"web"})) as web_app,
    ):
        token = await make_key(web_app.store, ["webhooks"])
        for path in paths:
            await register(http, web_app.url, token, rx.url(path))
        one = await start_app(settings, frozenset({"deliver"}))
        two = await start_app(settings, frozenset({"deliver"}))
        try:
            e1, e2 = one.app[ENGINE], two.app[ENGINE]

            def split() -> bool:
                return len(e1.workers) == 2 and len(e2.workers) == 2

            await until(split, what="engines to split the subscriptions 2/2")
            assert not set(e1.workers) & set(e2.workers)
            changes = await events(web_app.store, 6, "shared")
            expected = [c.seq for c in changes]
            await until(lambda: all(set(rx.seqs(p)) >= set(expected) for p in paths), what="every delivery")
            assert e1.delivered >= 6 and e2.delivered >= 6
            # A third engine joins, then the first leaves: hand-overs lose nothing.
            three = await start_app(settings, frozenset({"deliver"}))
            await until(lambda: len(three.app[ENGINE].workers) >= 1, what="third engine to take a share")
            more = await events(web_app.store, 4, "handover")
            await one.stop()
            expected += [c.seq for c in more]
            await until(lambda: all(set(rx.seqs(p)) >= set(expected) for p in paths), what="every delivery")
            await until(lambda: len(e2.workers) + len(three.app[ENGINE].workers) == 4, what="takeover")
            await three.stop()
        finally:
            await two.stop()
            if one.runner.server is not None:
                await one.stop()
        for path in paths:
            assert first_occurrences(rx.seqs(path)) == expected


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stop_cancelled_again_still_leaves_cleanly(kind: str, tmp_path: Path) -> None:
    """An engine cancelled over and over while it shuts down (as stop_task does) still drops its
    heartbeat and its leases; a heartbeat left behind made the next engine leave its share unserved."""
    settings, prefix = settings_for(kind, tmp_path)
    async with (
        cleanup_redis(prefix),
        receiver() as rx,
        running(settings, frozenset({"web"})) as web_app,
        aiohttp.ClientSession() as http,
    ):
        token = await make_key(web_app.store, ["webhooks"])
        sub = await register(http, web_app.url, token, rx.url("/hook"))
        store = web_app.store
        for round_ in range(3):
            engine = DeliveryEngine(settings, store, holder=f"engine-{round_}")
            task = asyncio.create_task(engine.run(http))
            await until(lambda e=engine: sub["id"] in e.workers, what="the engine serving the subscription")
            while not task.done():  # a cancel at every step of the shutdown
                task.cancel()
                await asyncio.sleep(0)
            assert task.cancelled()
            assert await store.list_records(ENGINES) == []
            assert await store.try_lock(f"webhook:{sub['id']}", "someone-else", 5.0)  # released
            await store.release_lock(f"webhook:{sub['id']}", "someone-else")
