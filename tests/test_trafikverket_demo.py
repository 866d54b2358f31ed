"""End to end: the demo config's Trafikverket API, SL Deviations and VMA sources through the app.

The three sources of config/travelinfo.toml are collected with their own collectors into a real
store, then the site, the API, the feeds and GTFS-RT are read back over HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.apputil import start_app
from tests.storeutil import open_store
from travelinfo.config import load_settings
from travelinfo.ingest.collectors.base import make_collector
from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.scheduler import SourceRunner

ROOT = Path(__file__).resolve().parent.parent
TYPES = ("trafikverket", "sl-deviations", "vma")
FERRY = "trafikverket-api:ferry-announcement/4711"
GREEN = "sl-deviations:90231456"
VMA = "vma:SRVMA20261125T100500"
ROADWORK = "trafikverket-api:SE_STA_TRISSID_8809977"


async def test_demo_sources_reach_site_api_feeds_and_gtfsrt(tmp_path: Path) -> None:
    settings = load_settings(ROOT / "config" / "travelinfo.toml", env={})
    settings.sources = [s for s in settings.sources if s.type in TYPES]
    assert sorted(s.type for s in settings.sources) == sorted(TYPES)
    for src in settings.sources:
        src.url = str(ROOT / src.url)
    gtfs = load_gtfs(ROOT / settings.reference.gtfs_static)
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as session:
        for src in settings.sources:
            runner = SourceRunner(make_collector(src, session, lambda: gtfs), store, jitter=0)
            result = await runner.poll()
            assert result.ok and result.changes, (src.name, result)
        app = await start_app(settings, frozenset({"web"}), store)
        try:
            await _check(session, app.url)
        finally:
            await app.stop()


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as resp:
        return resp.status, await resp.text()


async def _json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as resp:
        assert resp.status == 200, url
        return await resp.json()


async def _check(session: aiohttp.ClientSession, base: str) -> None:
    listing = await _json(session, f"{base}/api/v1/disruptions?limit=200")
    items = {d["id"]: d for d in listing["disruptions"]}
    assert items[FERRY]["modes"] == ["ferry"] and items[FERRY]["source_type"] == "trafikverket"
    assert items["trafikverket-api:SE_STA_TRISSID_8811204"]["modes"] == ["ferry"]
    assert items[ROADWORK]["modes"] == ["road"]
    assert items["trafikverket-api:train-message/9812345"]["modes"] == ["rail"]
    assert items[GREEN]["modes"] == ["metro"] and items[GREEN]["source_type"] == "sl-deviations"
    assert {a["id"] for a in items[GREEN]["affected"]} >= {"9011001001700000", "9022001009193001"}
    assert items[VMA]["severity"] == "SEVERE" and "metro" in items[VMA]["modes"]

    status, page = await _get(session, f"{base}/")
    assert status == 200
    for text in ("Vaxholmsleden", "Försenad trafik på gröna linjen", "Västberga"):
        assert text in page, text
    status, detail = await _get(session, f"{base}/d/{FERRY}")
    assert status == 200 and "Vaxholmsleden trafikeras med en färja" in detail

    status, atom = await _get(session, f"{base}/feeds/disruptions.atom")
    assert status == 200
    for text in ("Vaxholmsleden", "gröna linjen", "Västberga", "Essingeleden"):
        assert text in atom, text

    feed = await _json(session, f"{base}/gtfs-rt/alerts.json")
    alerts = {e["id"]: e["alert"] for e in feed["entity"]}
    assert FERRY in alerts and GREEN in alerts and VMA in alerts
    assert ROADWORK not in alerts  # a road work is no public transport
    routes = {ie.get("route_id") for ie in alerts[GREEN]["informed_entity"]}
    assert routes >= {"9011001001700000", "9011001001800000", "9011001001900000"}
    ferry_types = {ie.get("route_type") for ie in alerts[FERRY]["informed_entity"]}
    assert ferry_types == {4}  # no GTFS route for a road ferry: the ferry route type
