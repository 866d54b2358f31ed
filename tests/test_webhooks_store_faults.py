"""The delivery engine under store faults: a Redis restart, a locked database, a bug.

Store errors are retried with backoff and logged once when they start and once when they end;
anything else ends the engine's task with the error (so the process can exit non-zero).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from webhookutil import events, make_key, receiver, register, running, settings_for, until

from travelinfo.store import open_store_from_url
from travelinfo.webhooks.delivery import ENGINES, STATE, DeliveryEngine

LOG = "travelinfo.webhooks.delivery"
BOTH = frozenset({"web", "deliver"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server of the test's own on loopback, restartable with its data (an RDB in tmp)."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: ASYNC220  (starts at once; we wait for PING below)
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = aioredis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if await client.ping():
                        return
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.02)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """SHUTDOWN SAVE: the data comes back with the next start, like a restart of a real one."""
        client = aioredis.from_url(self.url)
        try:
            await client.shutdown(save=True)
        except aioredis.ConnectionError:
            pass  # the server closes the connection as it goes
        finally:
            await client.aclose()
        if self.proc is not None:
            await asyncio.to_thread(self.proc.wait, 10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@asynccontextmanager
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        server.kill()


def _logged(caplog: pytest.LogCaptureFixture, level: int, words: str) -> int:
    return sum(1 for r in caplog.records if r.name == LOG and r.levelno == level and words in r.getMessage())


@pytest.mark.redis
async def test_redis_restart_is_survived_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    async with redis_server(tmp_path) as server, receiver() as rx, aiohttp.ClientSession() as http:
        settings, _ = settings_for("redis", tmp_path)
        settings.store.url = f"{server.url}?prefix=faults"
        async with running(settings, BOTH) as app:
            token = await make_key(app.store, ["webhooks"])
            sub = await register(http, app.url, token, rx.url("/hook"))
            before = await events(app.store, 3, "before")
            await until(lambda: len(rx.hits) == 3, what="deliveries before the outage")
            [engine_task] = [t for t in asyncio.all_tasks() if t.get_name() == "webhooks"]

            await server.stop()
            await until(
                lambda: _logged(caplog, logging.WARNING, "store error") >= 1, what="the outage to be noticed"
            )
            await asyncio.sleep(1.0)  # a test about time: ~10 failed refreshes and worker reads
            assert _logged(caplog, logging.WARNING, "store error") == 1  # once, not once per retry
            assert not [r for r in caplog.records if r.name == LOG and r.levelno >= logging.ERROR]
            assert not engine_task.done()

            await server.start()  # with its data: subscription, consumer group, cursor
            writer = open_store_from_url(server.url, prefix="faults")  # the worker process's store
            await writer.open()
            try:
                after = await events(writer, 3, "after")
            finally:
                await writer.close()
            expected = [c.seq for c in before + after]
            await until(lambda: rx.seqs("/hook") == expected, timeout=10, what="deliveries after the outage")
            await until(
                lambda: _logged(caplog, logging.INFO, "store reachable again") == 1, what="recovery logged"
            )
            assert _logged(caplog, logging.WARNING, "store error") == 1
            assert not engine_task.done()
            state = await app.store.get_record(STATE, sub["id"])
            assert state is not None and state["delivered"] >= 6


async def test_locked_database_is_retried_and_a_bug_is_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite waits 30 s on a lock before it fails; the error it then raises is injected at the seam."""
    caplog.set_level(logging.INFO, logger=LOG)
    settings, _ = settings_for("sqlite", tmp_path)
    store = open_store_from_url(settings.store.url)
    await store.open()
    engine = DeliveryEngine(settings, store, holder="engine-under-test")
    engine.refresh = 0.01
    real_tick, calls = engine.tick, 0

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise sqlite3.OperationalError("database is locked")
        if calls == 8:
            raise KeyError("a bug, not an outage")
        await real_tick()

    engine.tick = tick  # type: ignore[method-assign]
    try:
        async with aiohttp.ClientSession() as http:
            task = asyncio.create_task(engine.run(http))
            with pytest.raises(KeyError, match="a bug"):
                await asyncio.wait_for(task, 20)
        assert calls == 8
        assert _logged(caplog, logging.WARNING, "database is locked") == 1
        assert _logged(caplog, logging.INFO, "store reachable again") == 1
        assert await store.get_record(ENGINES, "engine-under-test") is None  # it left cleanly
    finally:
        await store.close()
