"""The Web Push engine through a Redis restart: the outage is logged once, nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from pushservice import push_service
from storeutil import batch, item
from test_webhooks_store_faults import redis_server
from waiting import wait_until
from webpushutil import running, settings_for, subscribe

from travelinfo.store import open_store_from_url

LOG = "travelinfo.webpush.engine"  # the engine's store-health log: Web Push's own, not the webhooks'


def _logged(caplog: pytest.LogCaptureFixture, level: int, words: str) -> int:
    return sum(
        1
        for r in caplog.records
        if r.name == LOG and r.levelno == level and r.getMessage().startswith(f"web push delivery: {words}")
    )


async def _apply(store, tag: str, n: int) -> list:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        now = datetime.now(UTC)
        out += await store.apply(batch([item(f"{tag}-{i}", now)], now, complete=False))
    return out


@pytest.mark.redis
async def test_redis_restart_is_survived_and_every_push_sent_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="travelinfo")
    async with redis_server(tmp_path) as server, push_service() as ps, aiohttp.ClientSession() as http:
        settings, _ = settings_for("redis", tmp_path)
        settings.store.url = f"{server.url}?prefix=pushfaults"
        async with running(settings) as app:
            await subscribe(http, app.url, ps.add("r").subscription(ps.base))
            before = await _apply(app.store, "before", 2)
            await wait_until(lambda: len(ps.of("r")) == 2, 20, "pushes before the outage")
            [task] = [t for t in asyncio.all_tasks() if t.get_name() == "webpush"]

            await server.stop()
            await wait_until(
                lambda: _logged(caplog, logging.WARNING, "store error") >= 1, 20, "the outage noticed"
            )
            await server.start()  # with its data: subscription, cursor, queue
            writer = open_store_from_url(server.url, prefix="pushfaults")  # the worker process's store
            await writer.open()
            try:
                after = await _apply(writer, "after", 2)
            finally:
                await writer.close()
            await wait_until(lambda: len(ps.of("r")) >= 4, 30, "pushes after the outage")
            await wait_until(
                lambda: _logged(caplog, logging.INFO, "store reachable again") >= 1, 20, "recovery"
            )
            ids = [m.payload["id"] for m in ps.of("r")]
            assert ids == [c.disruption.id for c in before + after]  # in order, none twice
            assert _logged(caplog, logging.WARNING, "store error") == 1  # once, not per retry
            assert not task.done() and ps.errors == []
    # The webhook engine runs too (its own store errors are its own); no push line is on its logger.
    said = [(r.name, r.getMessage()) for r in caplog.records]
    assert not [x for x in said if "push" in x[1] and ("webhook" in x[0] or "webhook" in x[1])], said
