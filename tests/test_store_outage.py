"""Issue 11 in one process: the store goes away under a running app, a worker and the hub.

Pages and API answer their last bytes marked stale (banner, Warning, Age), 503 where nothing
was kept, one log line per outage, `/readyz` 503; the first request after Redis returns works.
Locks of dead holders are taken at once; the epoch changes with the data and resets clients.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import start_app
from procutil import RedisServer, wait_for
from storeutil import REDIS_URL, batch, item, open_store

from travelinfo import cli
from travelinfo.app import HUB
from travelinfo.config import Settings
from travelinfo.push.hub import ChangeHub
from travelinfo.store import open_store_from_url
from travelinfo.store.base import BOOT, holder_gone, lock_holder

pytestmark = pytest.mark.timeout(60)
HTML = {"Accept": "text/html"}
BANNER = {"sv": "Uppgifterna kan vara inaktuella", "en": "The data may be out of date"}


@pytest.fixture
def server(tmp_path: Path) -> RedisServer:
    s = RedisServer(tmp_path / "redis")
    s.start()
    yield s
    s.kill()


async def get(session: aiohttp.ClientSession, url: str, **kw: object) -> tuple[int, dict[str, str], str]:
    async with session.get(url, **kw) as r:  # type: ignore[arg-type]
        return r.status, dict(r.headers), await r.text()


async def test_pages_and_api_serve_their_last_bytes_while_redis_is_down(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings()
    settings.store.url = server.url
    store = open_store_from_url(server.url, prefix="outage")
    running = await start_app(settings, frozenset({"web"}), store)
    now = datetime.now(UTC)
    await store.apply(batch([item("a", now, header="Olycka på E4"), item("b", now)], now))
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    u = running.url
    kept = [
        (f"{u}/", HTML),
        (f"{u}/?lang=en", HTML),
        (f"{u}/d/demo:a", HTML),
        (f"{u}/api/v1/disruptions", {}),
    ]
    try:
        fresh = {}
        for url, headers in kept:
            status, hdrs, body = await get(session, url, headers=headers)
            assert status == 200 and "Warning" not in hdrs, (url, status)
            fresh[url] = body
        server.kill()  # not a clean shutdown: the pooled connections just break
        # Until this process notices (its change-log reader fails within a moment), an answer
        # from a render cache is simply the current one; from then on every answer is marked.
        await wait_for(lambda: running.app[HUB].backoff.failing, 5, "the hub noticing the outage")
        for _ in range(3):  # repeated requests: still one log line
            for url, headers in kept:
                status, hdrs, body = await get(session, url, headers=headers)
                assert status == 200, (url, status, body[:200])
                assert hdrs["Warning"] == '110 - "Response is Stale"'
                assert int(hdrs["Age"]) >= 0
                if headers:
                    banner = (
                        "The data may be out of date"
                        if "lang=en" in url
                        else "Uppgifterna kan vara inaktuella"
                    )
                    assert banner in body and "Olycka på E4" in body, url
                else:
                    assert body == fresh[url], "the API answers the very bytes it last served"
        # Nothing kept for these: a 503 with a JSON error, or a friendly page for browsers.
        status, hdrs, body = await get(session, f"{u}/api/v1/disruptions?status=ended")
        assert status == 503 and hdrs["Content-Type"].startswith("application/json"), body
        assert "unreachable" in body and "Traceback" not in body and "redis" not in body.lower()
        status, hdrs, body = await get(session, f"{u}/d/demo:b?lang=en", headers=HTML)
        assert status == 503 and "text/html" in hdrs["Content-Type"]
        assert "cannot reach its data" in body
        for probe in ("/readyz", "/metrics"):  # never an old answer, never a 500
            status, _, body = await get(session, f"{u}{probe}")
            assert status == 503, (probe, status, body)
        outage_lines = [r for r in caplog.records if "store unreachable" in r.getMessage()]
        assert len(outage_lines) == 1, [r.getMessage() for r in outage_lines]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text

        server.start()  # empty: the data is gone, but the app must answer again at once
        status, hdrs, body = await get(session, f"{u}/api/v1/disruptions")
        assert status == 200, (status, body)

        async def fresh_again() -> None:
            while True:
                status, hdrs, _ = await get(session, f"{u}/", headers=HTML)
                if status == 200 and "Warning" not in hdrs:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(fresh_again(), 5)
        assert any("store reachable again" in r.getMessage() for r in caplog.records)
        status, _, _ = await get(session, f"{u}/readyz")
        assert status == 200
    finally:
        await session.close()
        await running.stop()


async def test_the_hub_resets_its_clients_when_the_store_lost_its_data(server: RedisServer) -> None:
    store = open_store_from_url(server.url, prefix="epoch")
    await store.open()
    hub = ChangeHub(store, poll_timeout=0.5)
    task = asyncio.create_task(hub.run())
    try:
        await asyncio.wait_for(hub.started(), 5)
        sub = hub.subscribe()
        first = await store.epoch()
        assert first and first == await store.epoch(), "stable while the data is there"
        now = datetime.now(UTC)
        await store.apply(batch([item("a", now)], now))
        seen = (await asyncio.wait_for(sub.queue.get(), 5)).seq
        assert not sub.reset.is_set()
        server.stop(keep_data=False)
        server.start()  # empty
        await wait_for(sub.reset.is_set, 10, "a reset after Redis restarted empty")
        assert await store.epoch() != first
        # A client resuming from a position of the lost log is told to reset, even once the
        # new log has entries numbered after it (stream ids are times).
        later = datetime.now(UTC)
        await store.apply(batch([item("b", later)], later))
        assert (await store.changes_since(seen)).reset
        assert not (await store.changes_since(await store.last_seq())).reset
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()


async def test_sqlite_epoch_is_made_with_the_file(tmp_path: Path) -> None:
    async with open_store("sqlite", tmp_path) as store:
        first = await store.epoch()
    async with open_store("sqlite", tmp_path) as store:
        assert await store.epoch() == first, "reopening the same file keeps the epoch"
    (tmp_path / "store.db").unlink()
    async with open_store("sqlite", tmp_path) as store:
        assert await store.epoch() not in ("", first), "a new file is new data"


async def test_redis_epoch_exists_from_open() -> None:
    async with open_store("redis", Path(".")) as store:
        assert len(await store.epoch()) >= 8


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def test_sqlite_lock_of_a_dead_or_earlier_holder_is_taken_at_once(tmp_path: Path) -> None:
    import os
    import socket

    host = socket.gethostname()
    async with open_store("sqlite", tmp_path) as store:
        gone = f"{host}:{dead_pid()}:cafe0001:aa"
        assert await store.try_lock("collectors", gone, 600)
        assert await store.try_lock("collectors", lock_holder(), 600), "a dead pid's lock is taken"
        earlier = f"{host}:{os.getpid()}:{'0' * 8 if BOOT != '0' * 8 else '1' * 8}:bb"
        assert holder_gone(earlier)
        assert await store.try_lock("bot", earlier, 600)
        assert await store.try_lock("bot", lock_holder(), 600), "an earlier run with this pid"
        alive = f"{host}:{os.getppid()}:cafe0002:cc"  # the pytest runner's parent lives
        assert await store.try_lock("x", alive, 600)
        assert not await store.try_lock("x", lock_holder(), 600), "a live holder keeps its lock"
        same_run = lock_holder()
        assert await store.try_lock("y", same_run, 600)
        assert not await store.try_lock("y", lock_holder(), 600), "another holder of this run"
        other_host = f"elsewhere.invalid:{dead_pid()}:cafe0003:dd"
        assert await store.try_lock("z", other_host, 600)
        assert not await store.try_lock("z", lock_holder(), 600), "another host's pid says nothing"
        assert not holder_gone("opaque-token") and not holder_gone(f"{host}:notapid:x")


async def test_a_background_task_that_dies_stops_the_process_with_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(self: ChangeHub) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("a bug in the reader")

    monkeypatch.setattr(ChangeHub, "run", broken)
    settings = Settings()
    settings.store.url = f"sqlite:///{tmp_path / 'ti.db'}"
    code = await asyncio.wait_for(cli.serve(settings, frozenset({"web"}), http=False), 10)
    assert code == 1
    died = [r for r in caplog.records if "background task hub died" in r.getMessage()]
    assert died and died[0].exc_info is not None, "logged with its traceback, not swallowed"


async def test_redis_store_error_is_retried_on_a_fresh_connection(server: RedisServer) -> None:
    store = open_store_from_url(server.url, prefix="retry")
    await store.open()
    try:
        assert await store.last_seq()
        server.stop(keep_data=True)
        server.start()
        # The pooled connection is dead; the store's client retries once on a new one.
        assert await store.last_seq()
        assert await store.try_lock("collectors", "me", 5)
    finally:
        await store.close()


def test_redis_url_of_the_suite_is_not_the_private_server(server: RedisServer) -> None:
    assert server.url != REDIS_URL
