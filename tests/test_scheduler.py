"""The scheduler against a local upstream that injects faults, with a moved clock."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from storeutil import open_store
from upstream import Upstream, payload, serve_upstream

from travelinfo.config import SourceConfig
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.runtime.server import retry_after_seconds
from travelinfo.store.base import Query

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    async with open_store(request.param, tmp_path) as s:
        yield s


async def snapshot(store) -> list[tuple[str, str, str]]:
    items, _ = await store.query(Query(status=("active", "planned", "ended")))
    return [(d.id, d.status, d.header["sv"]) for d in items]


async def test_faults_change_nothing_and_health_fails_then_recovers(store, now, caplog) -> None:
    caplog.set_level(logging.INFO, logger="travelinfo.ingest.scheduler")
    clock = Clock(now)
    up = Upstream(body=payload(("e4", "Olycka på E4 vid Järva krog"), ("ess", "Vägarbete Essingeleden")))
    async with serve_upstream(up), aiohttp.ClientSession() as session:
        src = SourceConfig(
            "tv", "testjson", up.url, interval=60, timeout=0.5, stale_after=300, max_bytes=4000
        )
        runner = SourceRunner(HttpCollector(src, session, "testjson", lambda: None), store, clock=clock)

        result = await runner.poll()
        assert result.ok and result.items == 2 and result.changes == 2
        good = await snapshot(store)
        assert len(good) == 2 and runner.health.state == "ok"

        # Conditional GET: the ETag comes back, a 304 changes nothing and counts as success.
        clock.tick(seconds=60)
        result = await runner.poll()
        assert result.ok and result.not_modified
        assert up.requests[-1].get("If-None-Match") == up.etag
        assert runner.health.state == "ok" and runner.health.last_success == clock.now

        expected = {
            "timeout": "timed out",
            "500": "HTTP 500",
            "429": "HTTP 429",
            "truncated": "truncated",
            "oversize": "exceeds the maximum",
            "garbage": "unparsable payload",
            "401": "authentication failed",
        }
        up.body = payload(("e4", "CHANGED"), ("new", "should not appear"))
        for fault, reason in expected.items():
            up.fault = fault
            clock.tick(seconds=60)
            result = await runner.poll()
            assert not result.ok, fault
            assert reason in (result.error or ""), (fault, result.error)
            assert await snapshot(store) == good, f"{fault} must leave the store unchanged"
            assert runner.health.state == "failing" and runner.health.last_error == result.error
            if fault == "429":
                assert result.retry_after == 7.0
                assert runner.next_delay(result, 0) >= 7.0
        assert runner.health.consecutive_failures == len(expected)
        stored = await store.get_record("health", "tv")
        assert stored["state"] == "failing" and stored["consecutive_failures"] == len(expected)

        # Stale: the last success is older than stale_after.
        assert runner.health.effective_state(clock.now) == "failing"
        up.fault = None
        clock.tick(seconds=60)
        result = await runner.poll()
        assert result.ok and runner.health.state == "ok" and runner.health.consecutive_failures == 0
        assert {i for i, *_ in await snapshot(store)} == {"tv:e4", "tv:new", "tv:ess"}
        clock.tick(seconds=301)
        assert runner.health.effective_state(clock.now) == "stale"

    failing = [r for r in caplog.records if "failing" in r.getMessage()]
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(failing) == 1 and failing[0].levelno == logging.WARNING, "log once on failure"
    assert len(recovered) == 1 and "7 failed attempt" in recovered[0].getMessage(), "once on recovery"
    assert all("key=" not in r.getMessage() for r in caplog.records)


async def test_backoff_grows_with_jitter_and_cadence_is_fixed(store, now) -> None:
    up = Upstream(fault="500")
    async with serve_upstream(up), aiohttp.ClientSession() as session:
        src = SourceConfig("tv", "testjson", up.url, interval=10, timeout=0.5, stale_after=30)
        runner = SourceRunner(
            HttpCollector(src, session, "testjson", lambda: None), store, clock=lambda: now, backoff_max=100
        )
        delays = []
        for _ in range(6):
            result = await runner.poll()
            delays.append(runner.next_delay(result, 0))
        assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
        assert all(d <= 100 for d in delays) and delays[-1] >= 50
        up.fault = None
        up.body = payload(("a", "x"))
        result = await runner.poll()
        assert runner.next_delay(result, 3.0) == 7.0, "fixed cadence subtracts the work time"


async def test_secret_query_parameters_never_reach_health_or_provenance(store, now) -> None:
    up = Upstream(body=payload(("a", "x")))
    async with serve_upstream(up), aiohttp.ClientSession() as session:
        src = SourceConfig("sl", "testjson", up.url + "?key=SUPERSECRET&format=pb", params={"token": "T0P"})
        runner = SourceRunner(HttpCollector(src, session, "testjson", lambda: None), store, clock=lambda: now)
        assert (await runner.poll()).ok
        d = await store.get("sl:a")
        assert "SUPERSECRET" not in (d.provenance.url or "") and "format=pb" in d.provenance.url
        assert "SUPERSECRET" not in str(await store.get_record("health", "sl"))
        up.fault = "500"
        result = await runner.poll()
        assert "SUPERSECRET" not in (result.error or "") and "T0P" not in (result.error or "")


def test_retry_after_forms() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(None) is None
    assert (
        retry_after_seconds(
            "Wed, 21 Oct 2015 07:28:00 GMT", datetime.fromisoformat("2015-10-21T07:27:00+00:00")
        )
        == 60.0
    )
    assert retry_after_seconds("soon") is None
