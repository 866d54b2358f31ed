"""The fault tests' service: the app on loopback, the worker's runner for one source, upstreams."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from apputil import Running, start_app
from google.transit import gtfs_realtime_pb2
from storeutil import REDIS_URL, redis_cleanup
from upstream import Upstream, serve_upstream

from travelinfo.app import HUB, STORE
from travelinfo.config import load_settings
from travelinfo.ingest.scheduler import PollResult, SourceRunner
from travelinfo.ingest.worker import Worker
from travelinfo.web.render import HEALTH_CACHE

ROOT = Path(__file__).resolve().parent.parent
INTERVAL = 10.0
KEY, TOKEN = "K3Y-s3cret", "T0KEN-s3cret"


def alerts(*ids: str, header: str = "Signalfel") -> bytes:
    """A GTFS-RT ServiceAlerts FULL_DATASET with one metro alert per id."""
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    msg.header.timestamp = 1_764_000_000
    for ident in ids:
        e = msg.entity.add()
        e.id = ident
        e.alert.header_text.translation.add(text=f"{header} {ident}", language="sv")
        e.alert.informed_entity.add(route_id=f"route-{ident}")
        e.alert.effect = gtfs_realtime_pb2.Alert.SIGNIFICANT_DELAYS
    return msg.SerializeToString()


def trip_updates(n: int) -> bytes:
    """A valid GTFS-RT feed of another kind: TripUpdates, no alerts (FULL_DATASET)."""
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    for i in range(n):
        e = msg.entity.add()
        e.id = f"tu{i}"
        e.trip_update.trip.trip_id = f"trip{i}"
    return msg.SerializeToString()


GOOD_IDS = tuple(f"a{i:02d}" for i in range(20))
GOOD = alerts(*GOOD_IDS)
FIXED = alerts(*GOOD_IDS[:10], "new1", header="Åtgärdat")  # recovery: new bytes that parse


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Service:
    """The running app, the worker's runner for source `sl`, and the upstreams."""

    app: Running
    runner: SourceRunner
    up: Upstream
    other: Upstream
    http: aiohttp.ClientSession
    clock: Clock
    config: Path
    env: dict[str, str]

    async def poll(self) -> PollResult:
        gen = self.app.app[HUB].generation
        result = await self.runner.poll()
        if result.changes:  # wait until the web side has seen it (pages re-render per change)
            for _ in range(200):
                if self.app.app[HUB].generation > gen:
                    break
                await asyncio.sleep(0.02)
        self.app.app[HEALTH_CACHE].clear()  # read health afresh, not within HEALTH_TTL
        return result

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self.http.get(self.app.url + path) as r:
            return r.status, await r.read()

    async def public(self) -> dict[str, Any]:
        """What the public sees: API list, page items, GTFS-RT and Atom bytes."""
        out: dict[str, Any] = {}
        for path in ("/api/v1/disruptions", "/gtfs-rt/alerts.pb", "/feeds/disruptions.atom", "/"):
            status, body = await self.get(path)
            assert status == 200, (path, status)
            out[path] = body
        out["/"] = sorted(set(re.findall(r'href="/d/([^"?]+)', out["/"].decode())))
        return out

    async def health(self) -> dict[str, Any]:
        status, body = await self.get("/api/v1/sources")
        assert status == 200
        return next(s for s in json.loads(body)["sources"] if s["source"] == "sl")


def write_config(
    tmp: Path, store_url: str, upstream_url: str, extra: str = "", source_type: str = "gtfsrt"
) -> Path:
    path = tmp / "travelinfo.toml"
    path.write_text(
        f"""
[store]
url = "{store_url}"

[web]
region = []

[[sources]]
name = "sl"
type = "{source_type}"
url = "{upstream_url}"
interval = {INTERVAL}
timeout = 0.4
max_bytes = 200000
headers = {{ X-Api-Key = {{ env = "SL_KEY" }} }}
params = {{ token = {{ env = "SL_TOKEN" }} }}
options = {{ modes = ["metro"] }}
{extra}
""",
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def open_service(
    tmp_path: Path, kind: str = "sqlite", extra: str = "", source_type: str = "gtfsrt", body: bytes = GOOD
) -> AsyncIterator[Service]:
    """A running service on a store kind ('sqlite' | 'redis') with one source `sl` (TOML extras)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}" if kind == "sqlite" else f"{REDIS_URL}?prefix={prefix}"
    env = {"SL_KEY": KEY, "SL_TOKEN": TOKEN}
    async with (
        serve_upstream(Upstream(body=body, content_type="application/x-protobuf")) as up,
        serve_upstream(Upstream(body=GOOD, content_type="application/x-protobuf")) as other,
    ):
        cfg = write_config(tmp_path, store_url, up.url, extra, source_type)
        settings = load_settings(cfg, env=env)
        running = await start_app(settings, frozenset({"web"}))
        try:
            async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as upstream_session:
                worker = Worker(settings, running.app[STORE], upstream_session)
                runner = worker.build().runners[0]
                clock = Clock()
                runner.clock = clock
                await runner.load_health()
                yield Service(running, runner, up, other, http, clock, cfg, {**env, "store": store_url})
        finally:
            await running.stop()
            if kind == "redis":
                await redis_cleanup(prefix)
