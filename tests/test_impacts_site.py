"""The demo on the site: an inferred impact and a fused incident, through the real app and store.

The demo payloads (feeds/) are parsed as the worker would and applied to a real SQLite store;
a web-role app loads the demo GTFS (feeds/sl-gtfs, with its shapes) and serves the pages/API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from storeutil import open_store
from test_gtfsrt_render import validate, validator  # noqa: F401  (the fixture installs it)

from travelinfo.config import Settings
from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser, load_builtins
from travelinfo.store.base import Store

ROOT = Path(__file__).resolve().parent.parent
ACCIDENT = "trafikverket:SE_STA_TRISSID_1_16519027"  # E4 norrgående vid Järva krog
SL = "sl-deviations:90231999"  # buses 515/518 diverted because of it


PAYLOADS = [
    ("trafikverket", "datex2", "trafikverket/003-2026-11-25T0815.xml"),
    ("sl-deviations", "sl-deviations", "sl-deviations/001-2026-11-25T0745.json"),
    ("sjofartsverket", "navtex", "navtex/001-navtex-in-force.html"),
]


async def _load(store: Store) -> None:
    load_builtins()
    at = datetime(2026, 11, 25, 7, 20, tzinfo=UTC)
    gtfs = load_gtfs(ROOT / "feeds" / "sl-gtfs")
    for source, kind, name in PAYLOADS:
        data = (ROOT / "feeds" / name).read_bytes()
        await store.apply(get_parser(kind)(data, ParseContext(source, at, reference=gtfs)))


def _settings() -> Settings:
    settings = Settings()
    settings.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
    return settings


@pytest.mark.slow
async def test_demo_shows_an_inferred_impact_and_a_fused_incident(tmp_path: Path) -> None:
    settings = _settings()
    async with open_store("sqlite", tmp_path) as store:
        await _load(store)
        async with running_app(store, settings) as app, aiohttp.ClientSession() as http:
            async with http.get(f"{app.url}/api/v1/disruptions/{ACCIDENT}") as r:
                assert r.status == 200
                acc = await r.json()
            assert {(i["name"], i["direction"]) for i in acc["impacts"]} == {
                ("515", "northbound"),
                ("518", "northbound"),
            }
            assert all(i["inferred"] and i["reason"] == "passes_point" for i in acc["impacts"])
            assert not [a for a in acc["affected"] if a["type"] == "route"]  # the source's entries only
            incident = acc["incident"]
            # Both first seen in the same poll: the members come in id order.
            assert set(incident["members"]) == {ACCIDENT, SL} and incident["related"] == [SL]
            async with http.get(f"{app.url}/api/v1/incidents/{incident['id']}") as r:
                one = await r.json()
            assert {i["id"] for i in one["items"]} == {ACCIDENT, SL} and one["status"] == "active"
            async with http.get(f"{app.url}/api/v1/incidents/incident-0000000000000000") as r:
                assert r.status == 404 and "error" in await r.json()
            async with http.get(f"{app.url}/api/v1/disruptions?route=515&inferred=true") as r:
                ids = {d["id"] for d in (await r.json())["disruptions"]}
            assert {ACCIDENT, SL} <= ids
            async with http.get(f"{app.url}/api/v1/disruptions?route=515") as r:
                assert ACCIDENT not in {d["id"] for d in (await r.json())["disruptions"]}
            async with http.get(f"{app.url}/api/v1/disruptions?route=515&inferred=maybe") as r:
                assert r.status == 400 and "inferred" in (await r.json())["error"]
            async with http.get(f"{app.url}/?line=515&inferred=true&lang=en") as r:
                assert r.status == 200 and f'href="/d/{ACCIDENT}' in await r.text()
            async with http.get(f"{app.url}/?line=515&lang=en") as r:
                listed = await r.text()
            assert f'href="/d/{SL}' in listed and f'href="/d/{ACCIDENT}' not in listed
            async with http.get(f"{app.url}/?line=515&inferred=maybe") as r:
                assert r.status == 400
            async with http.get(f"{app.url}/d/{ACCIDENT}?lang=en") as r:
                page = await r.text()
            assert "May affect: bus 515, 518 northbound (inferred from the accident on E4)" in page
            assert f'href="/d/{SL}' in page  # the incident's other member
            async with http.get(f"{app.url}/d/{ACCIDENT}?lang=sv") as r:
                assert "Kan påverka: buss 515, 518 norrgående (härlett från olyckan på E4)" in await r.text()
            async with http.get(f"{app.url}/board?lang=en") as r:
                board = await r.text()
            assert 'data-inferred="true"' in board and "May affect" in board
            assert "boat Strömkajen–Sandhamn" in board  # the NAVTEX Sandhamnsleden closure


@pytest.mark.slow
async def test_gtfs_rt_carries_inferred_impacts_only_when_the_setting_says_so(
    validator: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with open_store("sqlite", tmp_path) as store:
        await _load(store)
        for enabled in (False, True):
            settings = _settings()
            settings.impacts.gtfsrt_inferred = enabled
            async with (
                running_app(store, settings) as app,
                aiohttp.ClientSession() as http,
                http.get(f"{app.url}/gtfs-rt/alerts.json") as r,
                http.get(f"{app.url}/gtfs-rt/alerts.pb") as pb,
            ):
                feed, body = await r.json(), await pb.read()
            extra = [e for e in feed.get("entity", []) if e["id"].startswith("inferred:")]
            if not enabled:
                assert extra == []  # operator-given informed entities only
                continue
            (acc,) = [e for e in extra if e["id"] == f"inferred:{ACCIDENT}"]
            routes = {i.get("route_id") for i in acc["alert"]["informed_entity"]}
            assert routes == {"9011001051500000", "9011001051800000"}
            texts = {t["language"]: t["text"] for t in acc["alert"]["header_text"]["translation"]}
            assert texts["en"].startswith("May affect: bus 515, 518 northbound (inferred from")
            assert texts["sv"].startswith("Kan påverka: buss 515, 518 norrgående")
            # The SL alert itself is published as SL gave it: its own routes, its own text.
            (sl,) = [e for e in feed["entity"] if e["id"] == SL]
            assert "inferred" not in json.dumps(sl)
            # A real consumer's validator accepts the feed with the extra alerts.
            folder = tmp_path / "validate"
            folder.mkdir()
            found = validate(validator, folder, body)
            assert "ERROR" not in found, found


def test_webhook_filters_take_inferred() -> None:
    from travelinfo.runtime.server import BadParameter
    from travelinfo.webhooks.delivery import query_of
    from travelinfo.webhooks.routes import parse_filters

    assert query_of(parse_filters({"route": "515", "inferred": True})).inferred is True
    assert query_of(parse_filters({"route": "515", "inferred": "false"})).inferred is False
    with pytest.raises(BadParameter) as bad:
        parse_filters({"route": "515", "inferred": "maybe"})
    assert bad.value.parameter == "filters.inferred"
