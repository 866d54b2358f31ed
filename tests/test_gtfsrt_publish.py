"""`/gtfs-rt/alerts.pb` and `.json`: rendered once per change, conditional GET, gzip."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from google.transit import gtfs_realtime_pb2
from storeutil import batch, item

from travelinfo.app import CACHE, HUB, STORE
from travelinfo.model import Affected
from travelinfo.store import open_store_from_url

pytestmark = pytest.mark.timeout(60)


async def wait_generation(app, gen: int) -> None:
    for _ in range(100):
        if app[HUB].generation > gen:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the change never reached the hub")


async def test_feed_rendered_once_per_change_with_304_and_gzip(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = open_store_from_url(f"sqlite:///{tmp_path / 's.db'}")
    async with running_app(store) as srv, aiohttp.ClientSession() as http:
        app = srv.app
        await app[HUB].started()
        gen = app[HUB].generation
        await app[STORE].apply(
            batch(
                [
                    item(
                        "t14",
                        now,
                        modes=["metro"],
                        header="Signalfel, röda linjen",
                        affected=[Affected("route", "14", None)],
                    ),
                    item(
                        "t13",
                        now,
                        modes=["metro"],
                        header="Hissen ur funktion vid Gamla stan",
                        description="Hissen mellan plattformen och biljetthallen är ur funktion. " * 5,
                    ),
                    item("e4", now, header="Olycka E4"),
                ],
                now,
            )
        )
        await wait_generation(app, gen)
        renders = app[CACHE].renders
        etag = None
        for _ in range(20):
            async with http.get(srv.url + "/gtfs-rt/alerts.pb") as r:
                assert r.status == 200 and r.headers["Content-Type"] == "application/x-protobuf"
                etag = r.headers["ETag"]
                assert r.headers["Last-Modified"]
                body = await r.read()
        assert app[CACHE].renders == renders + 1, "20 requests, one render"
        msg = gtfs_realtime_pb2.FeedMessage()
        msg.ParseFromString(body)
        assert msg.header.gtfs_realtime_version == "2.0"
        assert msg.header.incrementality == gtfs_realtime_pb2.FeedHeader.FULL_DATASET
        assert [e.id for e in msg.entity] == ["demo:t13", "demo:t14"], (
            "road items are not in the GTFS-RT feed"
        )
        async with http.get(srv.url + "/gtfs-rt/alerts.pb", headers={"If-None-Match": etag}) as r:
            assert r.status == 304
        async with http.get(srv.url + "/gtfs-rt/alerts.json", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.status == 200 and r.headers.get("Content-Encoding") == "gzip"
            doc = await r.json()
            assert [e["id"] for e in doc["entity"]] == ["demo:t13", "demo:t14"]
        # A change makes exactly one new render, and a new ETag.
        gen = app[HUB].generation
        await app[STORE].apply(
            batch(
                [
                    item(
                        "t14",
                        now,
                        modes=["metro"],
                        header="Signalfel, röda linjen",
                        severity="SEVERE",
                        affected=[Affected("route", "14", None)],
                    )
                ],
                now,
                complete=False,
            )
        )
        await wait_generation(app, gen)
        renders = app[CACHE].renders
        for _ in range(5):
            async with http.get(srv.url + "/gtfs-rt/alerts.pb", headers={"If-None-Match": etag}) as r:
                assert r.status == 200 and r.headers["ETag"] != etag
        assert app[CACHE].renders == renders + 1
