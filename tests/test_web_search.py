"""The search box: lines, roads, stops, places and modes through the one filter vocabulary."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import Running, running_app
from storeutil import open_store
from test_web_v2_texts import DEMO, parsed

from travelinfo.config import Settings
from travelinfo.filters import lines, search
from travelinfo.ingest.gtfs_static import load_gtfs, mode_for_route_type
from travelinfo.model import Batch, Disruption

ROOT = Path(__file__).resolve().parent.parent
GTFS = ROOT / "feeds" / "sl-gtfs"


@pytest.fixture(scope="module")
def items() -> Iterator[list[Disruption]]:
    """Every demo payload's items, parsed as the service parses them, with the line index installed."""
    before = lines.index()
    lines.install(load_gtfs(GTFS).routes, mode_for_route_type)
    found: dict[str, Disruption] = {}
    for folder, parser in DEMO.items():
        for d in parsed(ROOT / "feeds" / folder, parser):
            found[d.id] = d
    yield list(found.values())
    lines._INDEX = before  # leave the process's index as it was


def hits(items: list[Disruption], text: str) -> set[str]:
    return {d.id for d in items if search.matches(d, text)}


def route_id(short: str) -> str:
    with (GTFS / "routes.txt").open(encoding="utf-8-sig") as f:
        return next(r["route_id"] for r in csv.DictReader(f) if r["route_short_name"] == short)


def names(d: Disruption) -> list[str]:
    return [*d.header.values(), *d.location_text.values(), *(a.name or "" for a in d.affected)]


def test_a_line_number_finds_the_line_by_name_or_by_gtfs_id(items: list[Disruption]) -> None:
    rid = route_id("14")
    oracle = {
        d.id
        for d in items
        for a in d.affected
        if a.type == "route" and (a.id == rid or re.match(r"14(\s|$)", a.name or ""))
    }
    assert oracle and hits(items, "14") == oracle
    assert hits(items, "linje 14") == oracle == hits(items, "röda linjen") & oracle
    assert hits(items, "tunnelbana 14") == oracle  # the mode word narrows, the number names
    assert hits(items, "buss 14") == set()  # line 14 is a metro line here


def test_a_road_however_written(items: list[Disruption]) -> None:
    oracle = {
        d.id
        for d in items
        for a in d.affected
        if a.type == "road" and "E4" in re.sub(r"\s", "", a.id.upper()).split("/")
    }
    assert oracle
    assert hits(items, "E4") == hits(items, "E 4") == hits(items, "e4") == hits(items, " e 4 ") == oracle


def test_a_stop_or_place_name(items: list[Disruption]) -> None:
    for place in ("Slussen", "Värtahamnen", "Sandhamn"):
        found = hits(items, place)
        oracle = {d.id for d in items if any(place.casefold() in t.casefold() for t in names(d))}
        assert oracle and found == oracle, place
        assert hits(items, place.upper()) == found == hits(items, place.lower())


def test_mode_words_and_mode_qualified_lines(items: list[Disruption]) -> None:
    shipping = {d.id for d in items if "shipping" in d.modes}
    assert shipping and hits(items, "sjöfart") == shipping == hits(items, "Sjöfart ")
    assert hits(items, "buss") == {d.id for d in items if "bus" in d.modes}
    trams = {d.id for d in items if "tram" in d.modes}
    seven = hits(items, "tram 7")
    assert seven and seven <= trams and seven == hits(items, "spårvagn 7") == hits(items, "7") & trams


def test_confused_input_finds_nothing_rather_than_everything(items: list[Disruption]) -> None:
    for text in ("", "   ", "!!!", "-", "zz", "Ankeborg"):
        assert hits(items, text) == set(), text
    # A bare number is a line or a road, never "every text containing 7" (times, dates, ids).
    with_seven = {d.id for d in items if any("7" in t for t in names(d))}
    assert hits(items, "7") < with_seven


@pytest.fixture
async def site(tmp_path: Path, items: list[Disruption]) -> AsyncIterator[Running]:
    s = Settings()
    s.reference.gtfs_static = str(GTFS)
    async with open_store("sqlite", tmp_path) as store:
        by_source: dict[str, list[Disruption]] = {}
        for d in items:
            by_source.setdefault(d.source, []).append(d)
        for source, batch in by_source.items():
            await store.apply(
                Batch(source=source, fetched_at=datetime.now(UTC), items=tuple(batch), complete=True)
            )
        async with running_app(store, s) as running:
            yield running


async def test_page_and_api_search_through_one_vocabulary(site: Running, items: list[Disruption]) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(site.url + "/", params={"lang": "sv"}) as r:
            page = await r.text()
        assert re.search(r'<form class="search"[^>]*>.*?<input id="q-search" name="search"', page, re.S)
        for text in ("14", "E 4", "Slussen", "sjöfart", "tram 7"):
            async with s.get(site.url + "/api/v1/disruptions", params={"search": text, "region": "all"}) as r:
                api = {d["id"] for d in (await r.json())["disruptions"]}
            active = {d.id for d in items if d.status in ("active", "planned")}
            assert api == hits(items, text) & active and api, text
            async with s.get(site.url + "/", params={"search": text, "lang": "sv"}) as r:
                assert r.status == 200
                page = await r.text()
            listed = set(re.findall(r'<li class="item [^"]*" data-id="([^"]+)"', page))
            assert listed and listed <= api, text
            assert f'value="{text}"' in page  # the box keeps what was typed
        for bad, why in (("x" * 101, "at most 100"), ("a\x01b", "control")):
            async with s.get(
                site.url + "/", params={"search": bad}, headers={"Accept": "application/json"}
            ) as r:
                assert r.status == 400
                body = await r.json()
                assert body["parameter"] == "search" and why in body["error"]
            async with s.get(site.url + "/api/v1/disruptions", params={"search": bad}) as r:
                assert r.status == 400 and (await r.json())["parameter"] == "search"
