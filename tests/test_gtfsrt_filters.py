"""GTFS-RT takes the list API's filters: the same table, parser, errors and items.

The oracle is the list API on the same demo data (parsed with the demo GTFS, as the worker
does): for any filter the feed holds exactly the API's public transport items. The unfiltered
feed keeps its bytes and its one cached rendering; filtered variants are rendered once each.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
import jsonschema_rs
import pytest
from apputil import Running, running_app
from google.transit import gtfs_realtime_pb2
from multidict import CIMultiDict
from pushutil import hub_caught_up
from storeutil import batch, item, open_store
from test_filters_aliases import demo  # noqa: F401  (the fixture: demo data, demo GTFS)
from test_gtfsrt_render import validate, validator  # noqa: F401  (the fixture installs it)
from test_impacts_site import ACCIDENT, SL
from test_impacts_site import _load as load_impacts_demo
from test_impacts_site import _settings as impacts_settings

from travelinfo.api import params as api_params
from travelinfo.api.openapi import document
from travelinfo.app import CACHE, HUB, SETTINGS
from travelinfo.gtfsrt.render import PT_MODES, render_feed
from travelinfo.model import Affected
from travelinfo.store.base import Query

pytestmark = pytest.mark.timeout(120)
FAR = {"type": "Point", "coordinates": [23.2, 65.1]}  # the Bothnian Bay, outside the home region


async def get(r: Running, path: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with aiohttp.ClientSession() as s, s.get(r.url + path, headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


async def feed_ids(r: Running, query: str) -> list[str]:
    status, headers, body = await get(r, "/gtfs-rt/alerts.pb?" + query)
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "application/x-protobuf"
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString(body)
    ids = [e.id for e in msg.entity]
    status, _, body = await get(r, "/gtfs-rt/alerts.json?" + query)
    doc = json.loads(body)
    assert status == 200 and [e["id"] for e in doc.get("entity", [])] == ids, "pb and json agree"
    return ids


async def api_transit_ids(r: Running, query: str) -> list[str]:
    """What the list API returns for `query`, its public transport items (what GTFS-RT holds)."""
    status, _, body = await get(r, f"/api/v1/disruptions?limit=1000&{query}")
    assert status == 200, body[:300]
    items = json.loads(body)["disruptions"]
    return sorted(d["id"] for d in items if PT_MODES.intersection(d["modes"]))


QUERIES = [
    "",
    "route=14",
    "route=" + quote("röda linjen"),
    "route=7",
    "route=" + quote("Spårväg City"),
    "route=80",
    "route=" + quote("Vaxholmsbåten"),
    "mode=metro",
    "mode=metro&route=14",
    "mode=bus&route=14",
    "mode=tram,road",
    "severity=SEVERE",
    "status=planned",
    "region=all",
    "bbox=18.0,59.3,18.1,59.35",
    "search=" + quote("tram 7"),
    "q=Slussen",
    "source=sl-deviations",
    "route=515&inferred=true",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_the_feed_holds_what_the_api_lists_for_the_same_filter(demo: Running, query: str) -> None:  # noqa: F811
    ids = await feed_ids(demo, query)
    assert ids == sorted(ids), "entities in id order"
    assert ids == await api_transit_ids(demo, query)
    if query in ("route=14", "route=7", "mode=metro"):
        assert ids, f"the demo has items for {query}"


async def test_road_filters_give_only_items_that_are_transit_too(demo: Running) -> None:  # noqa: F811
    # The demo's public warning (VMA) concerns every mode: it is a road item and a bus item.
    road = await feed_ids(demo, "mode=road")
    assert road == await api_transit_ids(demo, "mode=road")
    status, _, body = await get(demo, "/api/v1/disruptions?mode=road&limit=1000")
    listed = json.loads(body)["disruptions"]
    assert len(listed) > len(road), "most road items are no transit: not in the feed"
    for query in ("road=E4", "mode=shipping", "route=13"):
        status, _, body = await get(demo, "/gtfs-rt/alerts.json?" + query)
        doc = json.loads(body)
        assert status == 200 and "entity" not in doc, query  # an empty FULL_DATASET, not an error
        assert doc["header"]["incrementality"] == "FULL_DATASET"


BAD = [
    ("mode=plane", "mode"),
    ("route=", "route"),
    ("route=14&route=7", "route"),
    ("severity=LOUD", "severity"),
    ("bbox=1,2,3", "bbox"),
    ("region=mars", "region"),
    ("active_at=yesterday", "active_at"),
    ("as_of=yesterday", "as_of"),
    ("rout=14", "rout"),  # a typo never silently widens the feed
    ("line=14", "line"),  # the pages' alias is not an API parameter
]


@pytest.mark.parametrize(("query", "parameter"), BAD)
async def test_bad_parameters_are_the_apis_400(demo: Running, query: str, parameter: str) -> None:  # noqa: F811
    api = await get(demo, "/api/v1/disruptions.geojson?" + query)
    for path in ("/gtfs-rt/alerts.pb", "/gtfs-rt/alerts.json"):
        status, headers, body = await get(demo, f"{path}?{query}")
        assert status == 400 and headers["Content-Type"].startswith("application/json"), (path, body)
        error = json.loads(body)
        assert error["parameter"] == parameter and error["error"].startswith(parameter + ": ")
        assert (status, error) == (api[0], json.loads(api[2])), "word for word the API's answer"


async def test_paging_is_refused_the_feed_is_whole(demo: Running) -> None:  # noqa: F811
    for query in ("limit=5", "cursor=0~0~00"):
        status, _, body = await get(demo, "/gtfs-rt/alerts.pb?" + query)
        assert status == 400 and "unknown parameter" in json.loads(body)["error"], query


async def test_unfiltered_bytes_are_the_renderer_of_the_old_fixed_query(demo: Running) -> None:  # noqa: F811
    home = demo.app[SETTINGS].region_bbox
    items, _ = await demo.store.query(Query(modes=tuple(sorted(PT_MODES)), region=home))
    expected = render_feed(items, demo.app[HUB].last_change_at)
    status, headers, body = await get(demo, "/gtfs-rt/alerts.pb")
    assert status == 200 and body == expected
    # Cache-busting `_` parameters and an explicit default are the same variant: same bytes, ETag.
    for query in (
        "_=1700000000",
        "status=planned,active",
        "region=home",
        "mode=" + ",".join(sorted(PT_MODES)),
    ):
        again = await get(demo, "/gtfs-rt/alerts.pb?" + query)
        assert again[2] == body and again[1]["ETag"] == headers["ETag"], query


async def test_each_variant_renders_once_per_change_and_answers_304(demo: Running) -> None:  # noqa: F811
    cache = demo.app[CACHE]
    await feed_ids(demo, "mode=metro,tram")  # pb and json: two renderings
    renders = cache.renders
    # The same variant however it is spelled: the order of modes, cache-busting `_` parameters.
    for query in ("mode=metro,tram", "mode=tram,metro", "mode=metro,tram&_=5", "_=6&mode=tram,metro"):
        status, headers, _ = await get(demo, "/gtfs-rt/alerts.pb?" + query)
        assert status == 200
        etag = headers["ETag"]
        assert (await get(demo, "/gtfs-rt/alerts.pb?" + query, **{"If-None-Match": etag}))[0] == 304
    assert cache.renders == renders, "no new rendering for the same variant"
    before = await feed_ids(demo, "route=7")
    now = datetime.now(UTC).replace(microsecond=0)
    seven = item("tram7-new", now, source="extra", header="Spårväg City: hållplats flyttad",
                 modes=("tram",), affected=[Affected("route", "7", None)])  # fmt: skip
    await demo.store.apply(batch([seven], now, source="extra"))
    await hub_caught_up(demo.app)
    after = await feed_ids(demo, "route=7")
    assert after == sorted([*before, "extra:tram7-new"]), "a change reaches the filtered variant"


async def test_lang_keeps_one_translation(demo: Running) -> None:  # noqa: F811
    def header_langs(body: bytes) -> dict[str, list[str]]:
        msg = gtfs_realtime_pb2.FeedMessage()
        msg.ParseFromString(body)
        return {e.id: [t.language for t in e.alert.header_text.translation] for e in msg.entity}

    whole = header_langs((await get(demo, "/gtfs-rt/alerts.pb"))[2])
    english = header_langs((await get(demo, "/gtfs-rt/alerts.pb?lang=en"))[2])
    assert english.keys() == whole.keys(), "lang selects no items, it reduces their texts"
    both = [i for i, langs in whole.items() if "sv" in langs and any(x.startswith("en") for x in langs)]
    assert both, "the demo has items in Swedish and English"
    for ident, langs in english.items():
        if any(x.startswith("en") for x in whole[ident]):
            assert len(langs) == 1 and langs[0].startswith("en"), (ident, langs)
        else:  # as in the API: a text without that language is kept whole
            assert langs == whole[ident]


async def test_as_of_combines_with_the_filters(demo: Running) -> None:  # noqa: F811
    before = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    seven = item("tram7-later", now, source="extra", header="Spårväg City: ny störning",
                 modes=("tram",), affected=[Affected("route", "7", None)])  # fmt: skip
    await demo.store.apply(batch([seven], now, source="extra"))
    await hub_caught_up(demo.app)
    live = await feed_ids(demo, "route=7")
    then = await feed_ids(demo, f"route=7&as_of={before}")
    assert "extra:tram7-later" in live and "extra:tram7-later" not in then
    assert then == [i for i in live if i != "extra:tram7-later"]
    # Before 1970 (schemathesis tries it): nothing was published, and a uint64 says 0, no 500.
    ancient = "as_of=0090-01-01T00:00:00Z"
    assert (await get(demo, "/api/v1/disruptions?" + ancient))[0] == 200
    status, _, body = await get(demo, "/gtfs-rt/alerts.json?route=7&" + ancient)
    doc = json.loads(body)
    assert status == 200 and "entity" not in doc and doc["header"]["timestamp"] == "0", doc


async def test_a_filtered_feed_passes_gtfs_rt_validator(
    demo: Running,  # noqa: F811
    validator: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    body = (await get(demo, "/gtfs-rt/alerts.pb?route=14"))[2]
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString(body)
    assert len(msg.entity) >= 1
    found = validate(validator, tmp_path, body)
    assert "ERROR" not in found, found


async def test_filters_apply_to_inferred_alerts_as_published(tmp_path: Path) -> None:
    settings = impacts_settings()
    settings.impacts.gtfsrt_inferred = True
    async with open_store("sqlite", tmp_path) as store:
        await load_impacts_demo(store)
        async with running_app(store, settings) as app:
            inferred = f"inferred:{ACCIDENT}"
            assert {inferred, SL} <= set(await feed_ids(app, ""))
            # The inferred alert names buses 515 and 518 (its informed routes), comes from
            # Trafikverket's item and is a bus alert; it names no road and no metro line.
            assert {inferred, SL} <= set(await feed_ids(app, "route=515"))
            assert inferred in await feed_ids(app, "route=518&mode=bus")
            road_alerts = await feed_ids(app, "source=trafikverket")  # roads: inferred alerts only
            assert inferred in road_alerts and all(
                i.startswith("inferred:trafikverket:") for i in road_alerts
            )
            assert inferred not in await feed_ids(app, "route=14")
            assert inferred not in await feed_ids(app, "mode=metro,tram")
            assert await feed_ids(app, "road=E4") == []


async def test_the_json_form_validates_against_the_openapi_schema(demo: Running) -> None:  # noqa: F811
    doc = document()
    op = doc["paths"]["/gtfs-rt/alerts.json"]["get"]
    assert [p["name"] for p in op["parameters"]] == [p.name for p in api_params.FILTERS] + ["as_of"]
    assert "429" not in op["responses"], "not under /api/: no rate limit"
    schema = {"$ref": "#/components/schemas/GtfsRtFeedMessage", "components": doc["components"]}
    check = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    for query in ("", "route=14", "mode=road&road=E4"):
        body = json.loads((await get(demo, "/gtfs-rt/alerts.json?" + query))[2])
        check.validate(body)
