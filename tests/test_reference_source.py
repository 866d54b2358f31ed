"""GTFS static is a source of the one scheduler: health record, ETag/304, byte cap, reload on change."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from apputil import serve_loopback, start_app
from storeutil import open_store

from travelinfo.config import Settings
from travelinfo.ingest.gtfs_static import build_zip
from travelinfo.ingest.reference import GtfsStaticCollector, ReferenceData, reference_source
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.ingest.worker import Worker
from travelinfo.runtime import appkeys
from travelinfo.settings import REFERENCE_SOURCE

DEMO = Path(__file__).resolve().parent.parent / "feeds" / "sl-gtfs"
RED_14 = "9011001001400000"


def renamed_zip(long_name: str) -> bytes:
    """The demo GTFS zip with line 14's long name changed (a new version of the feed)."""
    source = zipfile.ZipFile(io.BytesIO(build_zip(DEMO)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            data = source.read(name)
            if name == "routes.txt":
                data = data.replace("Fruängen–Mörby centrum".encode(), long_name.encode())
            archive.writestr(name, data)
    return out.getvalue()


@dataclass
class GtfsUpstream:
    """Serves a GTFS zip with an ETag, answering If-None-Match with 304; counts what it sent."""

    body: bytes = b""
    statuses: list[int] = field(default_factory=list)
    conditional: list[str | None] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        etag = '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'
        self.conditional.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == etag:
            self.statuses.append(304)
            return web.Response(status=304, headers={"ETag": etag})
        self.statuses.append(200)
        return web.Response(body=self.body, content_type="application/zip", headers={"ETag": etag})


@asynccontextmanager
async def gtfs_upstream(body: bytes) -> AsyncIterator[GtfsUpstream]:
    up = GtfsUpstream(body)
    app = web.Application()
    app.router.add_get("/gtfs/sl.zip", up.handle)
    runner, port = await serve_loopback(app)
    up.url = f"http://127.0.0.1:{port}/gtfs/sl.zip"
    try:
        yield up
    finally:
        await runner.cleanup()


def _settings(url: str, **ref: Any) -> Settings:
    s = Settings()
    s.reference.gtfs_static = url
    for k, v in ref.items():
        setattr(s.reference, k, v)
    return s


async def test_etag_304_reload_on_change_and_last_good_data_kept(tmp_path: Path) -> None:
    async with (
        gtfs_upstream(build_zip(DEMO)) as up,
        open_store("sqlite", tmp_path) as store,
        aiohttp.ClientSession() as http,
    ):
        settings = _settings(up.url)
        source = reference_source(settings)
        assert source is not None and source.name == REFERENCE_SOURCE
        data = ReferenceData()
        runner = SourceRunner(GtfsStaticCollector(source, http, data), store)

        first = await runner.poll()
        assert first.ok and not first.not_modified and data.current is not None
        loaded = data.current
        assert loaded.routes[RED_14].long_name == "Fruängen–Mörby centrum"
        health = await store.get_record("health", REFERENCE_SOURCE)
        assert health is not None and health["state"] == "ok"
        assert health["item_count"] == len(loaded.routes) + len(loaded.stops) > 0

        again = await runner.poll()  # unchanged: a conditional GET, answered 304, nothing reloaded
        assert again.ok and again.not_modified
        assert up.statuses == [200, 304] and up.conditional[1] is not None
        assert data.current is loaded

        up.body = renamed_zip("Fruängen–Mörby centrum (ny)")  # a new version: a new ETag
        assert (await runner.poll()).ok
        assert data.current is not loaded
        assert data.current.routes[RED_14].long_name == "Fruängen–Mörby centrum (ny)"
        good = data.current

        up.body = b"<html>maintenance</html>"  # an error page served with 200: fails, data stays
        bad = await runner.poll()
        assert not bad.ok and "unusable GTFS static feed" in str(bad.error)
        assert data.current is good
        health = await store.get_record("health", REFERENCE_SOURCE)
        assert health is not None and health["state"] == "failing"
        # The same bad bytes again: fetched unconditionally and still failing, never "recovered".
        bad_again = await runner.poll()
        assert not bad_again.ok and up.conditional[-1] is None and up.statuses[-1] == 200
        up.body = build_zip(DEMO)
        assert (await runner.poll()).ok
        assert data.current.routes[RED_14].long_name == "Fruängen–Mörby centrum"


async def test_byte_cap_fails_the_source_and_keeps_the_names(tmp_path: Path) -> None:
    small = build_zip(DEMO)
    async with (
        gtfs_upstream(small) as up,
        open_store("sqlite", tmp_path) as store,
        aiohttp.ClientSession() as http,
    ):
        settings = _settings(up.url, max_bytes=len(small) + 100)
        source = reference_source(settings)
        assert source is not None
        data = ReferenceData()
        runner = SourceRunner(GtfsStaticCollector(source, http, data), store)
        assert (await runner.poll()).ok
        kept = data.current
        up.body = small + b"\0" * 4096  # over the cap (with Content-Length)
        result = await runner.poll()
        assert not result.ok and "exceeds the maximum" in str(result.error)
        assert data.current is kept
        health = await store.get_record("health", REFERENCE_SOURCE)
        assert health is not None and health["state"] == "failing" and "maximum" in health["last_error"]


async def test_a_folder_reloads_when_a_file_changes(tmp_path: Path) -> None:
    folder = tmp_path / "gtfs"
    folder.mkdir()
    for f in DEMO.glob("*.txt"):
        (folder / f.name).write_bytes(f.read_bytes())
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as http:
        source = reference_source(_settings(str(folder)))
        assert source is not None
        data = ReferenceData()
        runner = SourceRunner(GtfsStaticCollector(source, http, data), store)
        assert (await runner.poll()).ok and data.current is not None
        assert (await runner.poll()).not_modified
        routes = folder / "routes.txt"
        routes.write_text(routes.read_text().replace("Fruängen–Mörby centrum", "Fruängen–Mörby (ändrad)"))
        assert not (await runner.poll()).not_modified
        assert data.current.routes[RED_14].long_name == "Fruängen–Mörby (ändrad)"


async def _sources(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(f"{base}/api/v1/sources") as resp:
        assert resp.status == 200
        body = await resp.json()
    return {s["source"]: s for s in body["sources"]}


async def _until(cond: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_running_service_shows_the_reference_source(tmp_path: Path) -> None:
    async with gtfs_upstream(build_zip(DEMO)) as up, aiohttp.ClientSession() as http:
        settings = _settings(up.url, refresh=0.3)
        settings.store.url = f"sqlite:///{tmp_path / 'store.db'}"
        running = await start_app(settings, frozenset({"web", "worker"}))
        try:
            seen: dict[str, Any] = {}

            async def polled_twice() -> bool:
                seen.update(await _sources(http, running.url))
                ref = seen.get(REFERENCE_SOURCE)
                return bool(ref and ref["state"] == "ok" and 304 in up.statuses)

            await _until(polled_twice)
            ref = seen[REFERENCE_SOURCE]
            assert ref["enabled"] is True and ref["type"] == REFERENCE_SOURCE and ref["item_count"] > 0
            assert ref["url"] == up.url and ref["interval"] == 0.3
            # One engine: the worker polls it through its scheduler; nothing polls it besides.
            worker = running.app.get(appkeys.WORKER)
            assert isinstance(worker, Worker) and worker.reference.current is not None
            assert up.statuses.count(200) == 1, up.statuses
            async with http.get(f"{running.url}/status") as resp:
                assert resp.status == 200
                assert REFERENCE_SOURCE in await resp.text()

            up.body = b"x" * 64  # broken now: failing with its reason, shown publicly
            await _until(lambda: _state_is(http, running.url, "failing"))
            ref = (await _sources(http, running.url))[REFERENCE_SOURCE]
            assert "unusable GTFS static feed" in ref["last_error"]
            assert worker.reference.current is not None, "the last good names stay"
        finally:
            await running.stop()


async def _state_is(http: aiohttp.ClientSession, base: str, state: str) -> bool:
    return (await _sources(http, base)).get(REFERENCE_SOURCE, {}).get("state") == state
