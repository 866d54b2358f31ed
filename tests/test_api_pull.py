"""The pull API over a real server: filters, paging, one item, GeoJSON, errors, ETag, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import Running, running_app
from pushutil import hub_caught_up
from storeutil import batch, item

from travelinfo.app import CACHE
from travelinfo.config import Settings
from travelinfo.model import Affected, Period
from travelinfo.store import open_store_from_url

NOW = datetime.now(UTC).replace(microsecond=0)


def sample() -> list:
    return [
        item("e4", NOW, header="Olycka E4", severity="SEVERE", affected=[Affected("road", "E4", None)],
             geometry={"type": "Point", "coordinates": [17.9, 59.3]}),
        item("bus1", NOW, header="Buss 1 omleds", severity="INFO", modes=("bus",),
             affected=[Affected("route", "1", "Buss 1")], updated_at=NOW - timedelta(minutes=5)),
        item("metro", NOW, header="Tunnelbana stopp", severity="WARNING", modes=("metro",),
             geometry={"type": "Point", "coordinates": [18.07, 59.33]}),
        item("later", NOW, header="Planerat arbete", severity="WARNING",
             periods=[Period(NOW + timedelta(days=1), NOW + timedelta(days=2))]),
    ]  # fmt: skip


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    store = open_store_from_url(f"sqlite:///{tmp_path / 's.db'}")
    s = Settings()
    s.api.rate_per_ip = 0
    async with running_app(store, s) as r:
        d = sample()
        d[0] = d[0].replace(header={"sv": "Olycka E4", "en": "Accident E4"})
        await store.apply(batch(d, NOW))
        await hub_caught_up(r.app)
        yield r


async def get(r: Running, path: str, **kw: object) -> tuple[int, dict, aiohttp.typedefs.LooseHeaders]:
    async with aiohttp.ClientSession() as s, s.get(r.url + path, **kw) as resp:  # type: ignore[arg-type]
        body = await resp.json() if resp.status != 304 else None
        return resp.status, body, resp.headers


async def ids(r: Running, query: str) -> list[str]:
    status, body, _ = await get(r, "/api/v1/disruptions" + query)
    assert status == 200, body
    return [d["id"] for d in body["disruptions"]]


async def test_filters_and_order(api: Running) -> None:
    assert await ids(api, "") == ["demo:e4", "demo:later", "demo:metro", "demo:bus1"]
    assert await ids(api, "?status=active") == ["demo:e4", "demo:metro", "demo:bus1"]
    assert await ids(api, "?mode=bus,metro") == ["demo:metro", "demo:bus1"]
    assert await ids(api, "?severity=WARNING&status=active") == ["demo:e4", "demo:metro"]
    assert await ids(api, "?road=e4") == ["demo:e4"]
    assert await ids(api, "?route=Buss%201") == ["demo:bus1"]
    assert await ids(api, "?q=tunnelbana") == ["demo:metro"]
    assert await ids(api, "?bbox=18,59,18.2,59.5") == ["demo:metro"]
    assert await ids(api, "?bbox=18.2,59.5,18,59") == ["demo:metro"]  # corners in any order
    assert await ids(api, "?source=other") == []
    at = (NOW + timedelta(days=1, hours=1)).isoformat()
    assert "demo:later" in await ids(api, "?active_at=" + at.replace("+00:00", "Z"))


async def test_paging_with_cursor_and_link(api: Running) -> None:
    seen, path = [], "/api/v1/disruptions?limit=3&mode=road,bus,metro"
    status, body, headers = await get(api, path)
    assert status == 200 and body["count"] == 3 and body["next_cursor"]
    seen += [d["id"] for d in body["disruptions"]]
    link = headers["Link"]
    assert link.endswith('rel="next"') and "mode=road%2Cbus%2Cmetro" in link
    status, body, headers = await get(api, link[1 : link.index(">")])
    seen += [d["id"] for d in body["disruptions"]]
    assert body["next_cursor"] is None and "Link" not in headers
    assert seen == await ids(api, "")


async def test_one_item_lang_and_404(api: Running) -> None:
    status, body, _ = await get(api, "/api/v1/disruptions/demo:e4?lang=en")
    assert status == 200 and body["header"] == {"en": "Accident E4"}
    status, body, _ = await get(api, "/api/v1/disruptions/demo:metro?lang=en")
    assert body["header"] == {"sv": "Tunnelbana stopp"}  # no English: kept whole
    status, body, _ = await get(api, "/api/v1/disruptions/demo:nope")
    assert status == 404 and "demo:nope" in body["error"]


async def test_geojson(api: Running) -> None:
    async with aiohttp.ClientSession() as s, s.get(api.url + "/api/v1/disruptions.geojson") as resp:
        assert resp.content_type == "application/geo+json"
        fc = await resp.json(content_type=None)
    assert fc["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in fc["features"]}
    assert by_id["demo:e4"]["geometry"] == {"type": "Point", "coordinates": [17.9, 59.3]}
    assert by_id["demo:bus1"]["geometry"] is None  # RFC 7946 allows null geometry
    assert "geometry" not in by_id["demo:e4"]["properties"]
    assert by_id["demo:e4"]["properties"]["severity"] == "SEVERE"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("mode=boat", "mode"),
        ("status=gone", "status"),
        ("severity=HIGH", "severity"),
        ("bbox=1,2,3", "bbox"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("cursor=zzz", "cursor"),
        ("active_at=2026-11-25T10:00:00", "active_at"),
        ("lang=sv_SE!", "lang"),
        ("sevirity=SEVERE", "sevirity"),
        ("mode=bus&mode=metro", "mode"),
    ],
)
async def test_bad_parameters_are_400_naming_them(api: Running, query: str, param: str) -> None:
    status, body, headers = await get(api, "/api/v1/disruptions?" + query)
    assert status == 400 and body["parameter"] == param and param in body["error"]
    assert headers["Access-Control-Allow-Origin"] == "*"


async def test_cache_busting_parameters_are_ignored(api: Running) -> None:
    assert await ids(api, "?_=1700000000&status=active") == ["demo:e4", "demo:metro", "demo:bus1"]


async def test_etag_304_and_render_once(api: Running) -> None:
    cache = api.app[CACHE]
    status, _, headers = await get(api, "/api/v1/disruptions?mode=road")
    before = cache.renders
    for _ in range(3):
        status, _, again = await get(api, "/api/v1/disruptions?mode=road")
        assert again["ETag"] == headers["ETag"]
    assert cache.renders == before
    status, _, _ = await get(api, "/api/v1/disruptions?mode=road", headers={"If-None-Match": headers["ETag"]})
    assert status == 304


async def test_cors(api: Running) -> None:
    _, _, headers = await get(api, "/api/v1/disruptions")
    assert headers["Access-Control-Allow-Origin"] == "*"
    async with aiohttp.ClientSession() as s:
        pre = {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
        async with s.options(api.url + "/api/v1/disruptions", headers=pre) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert "GET" in resp.headers["Access-Control-Allow-Methods"]
