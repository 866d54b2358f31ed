"""Web Push delivery faults: a gone subscription is deleted; an outage loses nothing and keeps order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pushservice import PushService, push_service
from storeutil import batch, item, redis_cleanup
from waiting import wait_until
from webpushutil import running, settings_for, subscribe

from travelinfo.webpush.engine import PushEngine
from travelinfo.webpush.records import HELD, QUEUE, STATE, SUB
from travelinfo.webpush.routes import ENGINE

KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]
DELIVER_LOG = "travelinfo.webpush.deliver"


async def _changes(store, tag: str, n: int) -> list:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    out = []
    for i in range(n):
        now = datetime.now(UTC)
        d = item(f"{tag}-{i}", now, modes=("ferry",)).replace(header={"sv": f"{tag} {i}"})
        out += await store.apply(batch([d], now, complete=False))
    return out


@pytest.mark.parametrize("kind", KINDS)
async def test_gone_deletes_the_subscription_and_all_kept_for_it(kind: str, tmp_path: Path) -> None:
    settings, prefix = settings_for(kind, tmp_path)

    async def gone(_request: web.Request, _ps: PushService) -> web.StreamResponse:
        return web.Response(status=410)

    try:
        async with push_service() as ps, running(settings) as app, aiohttp.ClientSession() as http:
            ps.add("kept")
            ps.add("left")
            ps.behaviours["left"] = gone
            kept = await subscribe(http, app.url, ps.subscribers["kept"].subscription(ps.base))
            left = await subscribe(http, app.url, ps.subscribers["left"].subscription(ps.base))
            await _changes(app.store, "ferry", 3)
            store = app.store
            await wait_until(lambda: len(ps.of("kept")) == 3, 20, "the kept subscriber's pushes")

            async def forgotten() -> bool:
                if await store.get_record(SUB, left["id"]) is not None:
                    return False
                queued = [q for q in await store.list_records(QUEUE) if q["sub"] == left["id"]]
                rest = [await store.get_record(k, left["id"]) for k in (HELD, STATE)]
                return not queued and rest == [None, None]

            await wait_until(forgotten, 20, "the gone subscription's records deleted")
            assert ps.requests.count("left") == 1  # one 410, then never again
            async with http.get(
                f"{app.url}/api/v1/push/subscriptions/{left['id']}",
                headers={"Authorization": f"Bearer {left['secret']}"},
            ) as r:
                assert r.status == 404 and "error" in await r.json()
            assert await store.get_record(SUB, kept["id"]) is not None
            await _changes(app.store, "later", 1)
            await wait_until(lambda: len(ps.of("kept")) == 4, 20, "a later push")
            assert ps.requests.count("left") == 1
    finally:
        if prefix:
            await redis_cleanup(prefix)


@pytest.mark.parametrize("kind", KINDS)
async def test_push_service_down_then_back_gets_every_notification_in_order(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Down for many times the backoff cap (0.3 s here; 5 min in production is 1x backoff_max).
    caplog.set_level(logging.INFO, logger="travelinfo")
    settings, prefix = settings_for(kind, tmp_path, failure_threshold=3)
    try:
        async with running(settings) as app, aiohttp.ClientSession() as http:
            ps = PushService()
            await ps.start()
            port = ps.port
            sub = await subscribe(http, app.url, ps.add("eve").subscription(ps.base))
            before = await _changes(app.store, "before", 1)
            await wait_until(lambda: len(ps.of("eve")) == 1, 20, "the push before the outage")
            subscribers = ps.subscribers
            await ps.stop()  # connections refused from now on

            during = await _changes(app.store, "during", 5)

            async def failures() -> int:
                state = await app.store.get_record(STATE, sub["id"]) or {}
                return int(state.get("failures") or 0)

            await wait_until(lambda: _at_least(failures, 8), 30, "the engine retrying for a while")
            state = await app.store.get_record(STATE, sub["id"]) or {}
            assert state["state"] == "failing" and "ClientConnectorError" in state["last_error"]
            queued = [q for q in await app.store.list_records(QUEUE) if q["sub"] == sub["id"]]
            assert [q["seq"] for q in queued] == [c.seq for c in during]  # durable, in order

            back = PushService(subscribers=subscribers, port=port)
            await back.start()
            try:
                await wait_until(lambda: len(back.of("eve")) == 5, 30, "every pending push")
                ids = [m.payload["id"] for m in back.of("eve")]
                assert ids == [c.disruption.id for c in during]  # each once, in log order
                assert back.errors == [] and ps.of("eve")[0].payload["id"] == before[0].disruption.id
                after = await _changes(app.store, "after", 1)
                await wait_until(lambda: len(back.of("eve")) == 6, 20, "a push after the outage")
                assert back.of("eve")[-1].payload["id"] == after[0].disruption.id

                async def settled() -> dict[str, Any] | None:
                    # The worker writes the state, then deletes the entry, after the push service
                    # answered: both a moment after the push arrived.
                    state = await app.store.get_record(STATE, sub["id"]) or {}
                    queued = [q for q in await app.store.list_records(QUEUE) if q["sub"] == sub["id"]]
                    return state if state.get("sent") == 7 and not queued else None

                state = await wait_until(settled, 5, "the state written and the entries deleted")
                assert state["state"] == "active" and state["sent"] == 7 and not state.get("dead_letters")
            finally:
                await back.stop()
        # The outage is logged once each way, as Web Push's own, never as a webhook's.
        lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
        sid = sub["id"]
        ours = [line for line in lines if line[2].startswith(f"web push {sid}: ")]
        assert [(name, level) for name, level, _ in ours] == [(DELIVER_LOG, "WARNING"), (DELIVER_LOG, "INFO")]
        assert ours[0][2].startswith(f"web push {sid}: failing after 3 failed attempts in a row (")
        assert re.fullmatch(
            rf"web push {sid}: delivering again after \d+ failed attempts; 0 events dead-lettered meanwhile",
            ours[1][2],
        ), ours[1][2]
        assert not [x for x in lines if "push" in x[2] and ("webhook" in x[0] or "webhook" in x[2])], lines
    finally:
        if prefix:
            await redis_cleanup(prefix)


async def _at_least(read, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await read() >= n


async def test_too_large_is_sent_again_without_its_body(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    seen: list[int] = []

    async def small_only(request: web.Request, _ps: PushService) -> web.StreamResponse | None:
        size = len(await request.read())
        seen.append(size)
        return web.Response(status=413) if len(seen) == 1 else None

    async with push_service() as ps, running(settings) as app, aiohttp.ClientSession() as http:
        ps.add("big")
        ps.behaviours["big"] = small_only
        await subscribe(http, app.url, ps.subscribers["big"].subscription(ps.base))
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        d = item("long", now, description="Lång text. " * 150)
        await app.store.apply(batch([d], now, complete=False))
        await wait_until(lambda: ps.of("big"), 20, "the trimmed push")
        message = ps.of("big")[0]
        assert message.payload["body"] == "" and message.payload["url"].endswith(f"/d/{d.id}")
        assert seen[1] < seen[0]


async def test_429_retry_after_is_honoured(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    arrivals: list[float] = []

    async def limited(_request: web.Request, _ps: PushService) -> web.StreamResponse | None:
        arrivals.append(time.monotonic())
        return web.Response(status=429, headers={"Retry-After": "1"}) if len(arrivals) == 1 else None

    async with push_service() as ps, running(settings) as app, aiohttp.ClientSession() as http:
        ps.add("slow")
        ps.behaviours["slow"] = limited
        await subscribe(http, app.url, ps.subscribers["slow"].subscription(ps.base))
        changes = await _changes(app.store, "limited", 2)
        await wait_until(lambda: len(ps.of("slow")) == 2, 20, "the pushes after the 429")
        assert [m.payload["id"] for m in ps.of("slow")] == [c.disruption.id for c in changes]
        assert arrivals[1] - arrivals[0] >= 0.95  # backoff alone would have waited at most 0.05 s


@pytest.mark.redis
async def test_web_and_deliver_in_separate_processes_share_one_store(tmp_path: Path) -> None:
    # Two apps on one Redis, as `travelinfo web` and `travelinfo deliver` run: the API in one, the
    # engine in the other; a DELETE in the web process stops the other's deliveries.
    settings, prefix = settings_for("redis", tmp_path)
    try:
        async with (
            push_service() as ps,
            running(settings, frozenset({"web"})) as web_app,
            running(settings, frozenset({"deliver"})) as deliver_app,
            aiohttp.ClientSession() as http,
        ):
            sub = await subscribe(http, web_app.url, ps.add("two").subscription(ps.base))
            first = await _changes(web_app.store, "two", 1)
            await wait_until(lambda: ps.of("two"), 20, "a push from the deliver process")
            assert ps.of("two")[0].payload["id"] == first[0].disruption.id
            headers = {"Authorization": f"Bearer {sub['secret']}"}
            async with http.delete(
                f"{web_app.url}/api/v1/push/subscriptions/{sub['id']}", headers=headers
            ) as r:
                assert r.status == 204
            await _changes(web_app.store, "after-delete", 2)
            marker = ps.add("marker")
            await subscribe(http, web_app.url, marker.subscription(ps.base))
            last = await _changes(web_app.store, "marker", 1)
            await wait_until(lambda: ps.of("marker"), 20, "the marker's push")
            assert ps.of("marker")[0].payload["id"] == last[0].disruption.id
            engine = deliver_app.app[ENGINE]
            assert sub["id"] not in engine.subs and not engine.queues.get(sub["id"])
            assert not [q for q in await web_app.store.list_records(QUEUE) if q["sub"] == sub["id"]]
            assert len(ps.of("two")) == 1  # nothing after the delete
            assert deliver_app.store is not web_app.store
    finally:
        await redis_cleanup(prefix)


@pytest.mark.parametrize("kind", KINDS)
async def test_changes_made_before_the_engine_first_ran_are_pushed(kind: str, tmp_path: Path) -> None:
    # A hurried operator starts `travelinfo web` first and `travelinfo deliver` later: the engine
    # has no saved position yet. Subscriptions made meanwhile must still get what changed after
    # they were made (each from its own `start_seq`), not only what changes after the engine starts.
    settings, prefix = settings_for(kind, tmp_path)
    try:
        async with push_service() as ps, aiohttp.ClientSession() as http:
            async with running(settings, frozenset({"web"})) as web_app:
                early = await _changes(web_app.store, "before-sub", 1)
                await subscribe(http, web_app.url, ps.add("first").subscription(ps.base))
                mid = await _changes(web_app.store, "between", 2)
                await subscribe(http, web_app.url, ps.add("second").subscription(ps.base))
                late = await _changes(web_app.store, "late", 1)
            async with running(settings, frozenset({"deliver"})):
                await wait_until(lambda: len(ps.of("first")) == 3, 20, "the first subscriber's backlog")
                await wait_until(lambda: len(ps.of("second")) == 1, 20, "the second subscriber's backlog")
            first = [m.payload["id"] for m in ps.of("first")]
            assert first == [c.disruption.id for c in mid + late]
            assert early[0].disruption.id not in first  # made before it subscribed
            assert [m.payload["id"] for m in ps.of("second")] == [late[0].disruption.id]
    finally:
        if prefix:
            await redis_cleanup(prefix)


class _PausedAfterListing(PushEngine):
    """An engine whose first start stops after it listed the subscriptions, until `go` is set."""

    listed = asyncio.Event()
    go = asyncio.Event()

    async def _first_position(self) -> dict[str, str]:
        position = await super()._first_position()
        self.listed.set()
        await self.go.wait()
        return position


@pytest.mark.parametrize("kind", KINDS)
async def test_a_change_made_while_the_engine_first_starts_is_pushed(kind: str, tmp_path: Path) -> None:
    # The engine's first start on a store (no saved position) lists the subscriptions, then takes
    # its position. A subscription made, and a change applied, between the two must still be
    # pushed: before, the position was the log's end read after that change, which was then never
    # read (test_hourly_limit_delays_and_never_drops lost its first change so, under load).
    settings, prefix = settings_for(kind, tmp_path)
    _PausedAfterListing.listed, _PausedAfterListing.go = asyncio.Event(), asyncio.Event()
    try:
        async with (
            push_service() as ps,
            aiohttp.ClientSession() as http,
            running(settings, frozenset({"web"})) as app,
        ):
            engine = _PausedAfterListing(settings, app.store)
            engine.refresh, engine.poll = 0.1, 0.5
            task = asyncio.create_task(engine.run(http))
            try:
                await wait_until(engine.listed.is_set, 20, "the engine listing the subscriptions")
                await subscribe(http, app.url, ps.add("new").subscription(ps.base))
                made = await _changes(app.store, "meanwhile", 1)
                engine.go.set()
                await wait_until(lambda: len(ps.of("new")) == 1, 20, "the change made during the start")
                assert ps.of("new")[0].payload["id"] == made[0].disruption.id
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        if prefix:
            await redis_cleanup(prefix)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stop_cancelled_again_still_releases_the_engine_lease(kind: str, tmp_path: Path) -> None:
    # Shutdown cancels again every 50 ms (`stop_task`). A cancel landing while the engine waits
    # for its workers must not skip the lease release: the next engine would wait out its TTL.
    from travelinfo.webpush.engine import PushEngine

    settings, prefix = settings_for(kind, tmp_path)
    hold = asyncio.Event()

    async def hanging(_request: web.Request, _ps: PushService) -> web.StreamResponse:
        await hold.wait()  # a push service that never answers: the worker is in flight
        return web.Response(status=201)

    try:
        async with (
            push_service() as ps,
            running(settings, frozenset({"web"})) as web_app,
            aiohttp.ClientSession() as http,
        ):
            ps.add("slow")
            ps.behaviours["slow"] = hanging
            await subscribe(http, web_app.url, ps.subscribers["slow"].subscription(ps.base))
            store = web_app.store
            await _changes(store, "stuck", 1)
            for round_ in range(3):
                engine = PushEngine(settings, store, holder=f"engine-{round_}")
                task = asyncio.create_task(engine.run(http))
                await wait_until(lambda e=engine: e.workers, 20, "a worker in flight")
                while not task.done():  # a cancel at every step of the shutdown
                    task.cancel()
                    await asyncio.sleep(0)
                assert task.cancelled()
                assert await store.try_lock("webpush:engine", "someone-else", 5.0)  # released
                await store.release_lock("webpush:engine", "someone-else")
            hold.set()
    finally:
        if prefix:
            await redis_cleanup(prefix)
