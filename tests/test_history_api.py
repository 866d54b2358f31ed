"""Time travel over HTTP on both backends: API list, GeoJSON, Atom, RSS, GTFS-RT and /history."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import feedparser
import jsonpatch
import pytest

from tests.apputil import running_app
from tests.storeutil import REDIS_URL, batch, item, redis_cleanup
from travelinfo.config import Settings
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Store

pytestmark = pytest.mark.asyncio
CET = timezone(timedelta(hours=1))
DAY = datetime(2026, 11, 25, tzinfo=CET)
V1 = "Buss 176: hållplats Ekensberg indragen"
V2 = "Buss 176: hållplatserna Ekensberg och Gröndal indragna"
OTHER = "Tunnelbana: hissen vid Slussen ur funktion"


def t(hh: int, mm: int, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hh, minutes=mm)


def stamp(at: datetime) -> str:
    return quote(at.isoformat())


def bus(upstream: str, at: datetime, header: str) -> Any:
    return item(upstream, at, header=header, modes=("bus",), description=header + " (text)")


async def publish(store: Store) -> str:
    first = bus("A1", t(7, 40), V1)
    await store.apply(batch([first, bus("B2", t(7, 40), OTHER)], t(7, 40)))
    await store.apply(batch([bus("A1", t(7, 45), V2), bus("B2", t(7, 40), OTHER)], t(7, 45)))
    await store.apply(batch([bus("B2", t(7, 40), OTHER)], t(8, 0)))
    return str(first.id)


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with session.get(url) as resp:
        return resp.status, await resp.read()


async def answers(session: aiohttp.ClientSession, base: str, at: datetime) -> dict[str, list[str]]:
    """The headers each output shows at `at`."""
    out: dict[str, list[str]] = {}
    async with session.get(f"{base}/api/v1/disruptions?as_of={stamp(at)}") as resp:
        assert resp.status == 200, await resp.text()
        out["api"] = sorted(d["header"]["sv"] for d in (await resp.json())["disruptions"])
    async with session.get(f"{base}/api/v1/disruptions.geojson?as_of={stamp(at)}") as resp:
        assert resp.status == 200
        out["geojson"] = sorted(f["properties"]["header"]["sv"] for f in (await resp.json())["features"])
    for fmt in ("atom", "rss"):
        status, body = await get(session, f"{base}/feeds/disruptions.{fmt}?lang=sv&as_of={stamp(at)}")
        assert status == 200
        out[fmt] = sorted(e.title for e in feedparser.parse(body).entries)
    async with session.get(f"{base}/gtfs-rt/alerts.json?as_of={stamp(at)}") as resp:
        assert resp.status == 200
        feed = await resp.json()
        out["gtfsrt"] = sorted(
            e["alert"]["header_text"]["translation"][0]["text"] for e in feed.get("entity", [])
        )
        assert int(feed["header"]["timestamp"]) == int(at.timestamp())
    return out


async def check(session: aiohttp.ClientSession, base: str, ident: str) -> None:
    outputs = ("api", "geojson", "atom", "rss", "gtfsrt")
    assert await answers(session, base, t(7, 42)) == {k: sorted([V1, OTHER]) for k in outputs}
    assert await answers(session, base, t(7, 50)) == {k: sorted([V2, OTHER]) for k in outputs}
    assert await answers(session, base, t(8, 10)) == {k: [OTHER] for k in outputs}
    async with session.get(f"{base}/api/v1/disruptions/{quote(ident)}/history") as resp:
        assert resp.status == 200
        body = await resp.json()
    versions = body["versions"]
    assert [v["type"] for v in versions] == ["created", "updated", "ended"]
    assert [v["disruption"]["header"]["sv"] for v in versions] == [V1, V2, V2]
    for before, after in itertools.pairwise(versions):
        assert jsonpatch.apply_patch(before["disruption"], after["patch"]) == after["disruption"]
    assert {"op": "replace", "path": "/header/sv", "value": V2} in versions[1]["patch"]
    assert {"op": "replace", "path": "/status", "value": "ended"} in versions[2]["patch"]


def make_store(kind: str, tmp_path: Path, **kw: Any) -> tuple[Store, str]:
    if kind == "sqlite":
        return open_store_from_url(f"sqlite:///{tmp_path / 's.db'}", **kw), ""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    return open_store_from_url(REDIS_URL, prefix=prefix, **kw), prefix


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_outputs_as_of_and_history(kind: str, tmp_path: Path) -> None:
    store, prefix = make_store(kind, tmp_path)
    try:
        async with running_app(store, Settings()) as r, aiohttp.ClientSession() as s:
            ident = await publish(r.store)
            await check(s, r.url, ident)
            # Live answers are untouched by the parameter's existence.
            status, body = await get(s, f"{r.url}/api/v1/disruptions")
            assert status == 200 and OTHER in body.decode() and V2 not in body.decode()
    finally:
        if prefix:
            await redis_cleanup(prefix)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_after_retention_answers_come_from_archive(kind: str, tmp_path: Path) -> None:
    archive = tmp_path / "history"
    store, prefix = make_store(kind, tmp_path, history_retention=3600, archive_dir=archive)
    try:
        async with running_app(store, Settings()) as r, aiohttp.ClientSession() as s:
            ident = await publish(r.store)
            await r.store.expire(t(12, 0, day=1))
            assert (archive / "versions-2026-11-25.ndjson.gz").is_file()
            assert await r.store.history_count() < 4
            await check(s, r.url, ident)
    finally:
        if prefix:
            await redis_cleanup(prefix)


async def test_bad_as_of_is_a_precise_400_and_old_times_without_archive_410(tmp_path: Path) -> None:
    store, _ = make_store("sqlite", tmp_path, history_retention=3600)
    async with running_app(store, Settings()) as r, aiohttp.ClientSession() as s:
        await publish(r.store)
        for bad in (
            "yesterday",
            "2026-11-25T07:42:00",
            "2026-13-25T07:42:00Z",
        ):
            for path in (
                "/api/v1/disruptions",
                "/api/v1/disruptions.geojson",
                "/gtfs-rt/alerts.pb",
                "/feeds/disruptions.atom",
            ):
                async with s.get(f"{r.url}{path}?as_of={bad}") as resp:
                    assert resp.status == 400, (path, bad)
                    body = await resp.json()
                    assert body["parameter"] == "as_of" and "as_of" in body["error"]
        async with s.get(
            f"{r.url}/api/v1/disruptions?as_of=2026-11-25T07:42:00Z&as_of=2026-11-25T07:43:00Z"
        ) as resp:
            assert resp.status == 400
        async with s.get(f"{r.url}/api/v1/disruptions/demo:nothing/history") as resp:
            assert resp.status == 404 and "error" in await resp.json()
        # Before anything was published: an empty list; far ahead: the latest versions.
        async with s.get(f"{r.url}/api/v1/disruptions?as_of=0454-01-21T19:16:32-10:57") as resp:
            assert resp.status == 200 and (await resp.json())["disruptions"] == []
        async with s.get(f"{r.url}/api/v1/disruptions?as_of=2999-01-01T00:00:00Z") as resp:
            assert [d["header"]["sv"] for d in (await resp.json())["disruptions"]] == [OTHER]
        await r.store.expire(t(12, 0, day=1))
        async with s.get(f"{r.url}/api/v1/disruptions?as_of={stamp(t(7, 42))}") as resp:
            assert resp.status == 410
            assert "history" in (await resp.json())["error"]
        # The service keeps answering live and recent times.
        async with s.get(f"{r.url}/api/v1/disruptions?as_of={stamp(t(11, 30, day=1))}") as resp:
            assert resp.status == 200
            assert [d["header"]["sv"] for d in (await resp.json())["disruptions"]] == [OTHER]


async def test_history_page_in_both_languages_with_picker_and_link(tmp_path: Path) -> None:
    store, _ = make_store("sqlite", tmp_path)
    async with running_app(store, Settings()) as r, aiohttp.ClientSession() as s:
        ident = await publish(r.store)
        # The picker sends Swedish local time without an offset.
        status, body = await get(s, f"{r.url}/history?at=2026-11-25T07:42&lang=sv")
        page = body.decode()
        assert status == 200 and "Det här visades 2026-11-25 07:42" in page
        assert V1 in page and V2 not in page and OTHER in page
        assert 'type="datetime-local"' in page and 'value="2026-11-25T07:42"' in page
        status, body = await get(s, f"{r.url}/history?at={stamp(t(7, 50))}&lang=en")
        page = body.decode()
        assert status == 200 and "What was published at 2026-11-25 07:50" in page
        assert V2 in page and V1 not in page
        status, body = await get(s, f"{r.url}/history?at={stamp(t(8, 10))}")
        assert V2 not in body.decode() and OTHER in body.decode()
        status, body = await get(s, f"{r.url}/history?at=07:42")
        assert status == 400
        # The permalink page links to the picture at its update time and to the versions.
        status, body = await get(s, f"{r.url}/d/{quote(ident)}?lang=en")
        assert status == 200
        assert "/history?at=" in body.decode() and "Show what was published when" in body.decode()
