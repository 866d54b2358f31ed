"""Line and road filters on the demo data, over real HTTP: the numbers and names people use.

The items come from the demo payloads in feeds/ (parsed with the demo GTFS as the worker
does); the web-only app loads the reference routes itself, so `route=14` also finds an item
whose affected entry carries nothing but the GTFS route id.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

import aiohttp
import pytest
from apputil import Running, running_app
from pushutil import hub_caught_up
from storeutil import item

from travelinfo.config import Settings
from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Affected, Batch, Disruption
from travelinfo.store import open_store_from_url

ROOT = Path(__file__).resolve().parent.parent
GTFS = ROOT / "feeds" / "sl-gtfs"
NOW = datetime.now(UTC).replace(microsecond=0)


def demo_batches() -> list[Batch]:
    """The first poll of every demo source, parsed as the worker parses it."""
    reference = load_gtfs(GTFS)
    config = tomllib.loads((ROOT / "config" / "travelinfo.toml").read_text())
    out = []
    for src in config["sources"]:
        first = sorted((ROOT / src["url"]).iterdir())[0]
        ctx = ParseContext(src["name"], NOW, reference=reference, options=src.get("options", {}))
        out.append(get_parser(src["type"])(first.read_bytes(), ctx))
    return out


def bare_route_item() -> Disruption:
    """An item naming line 14 only by its GTFS route id (no name, as SIRI often sends it)."""
    return item("r14", NOW, source="bare", header="Störning", modes=("metro",),
                affected=[Affected("route", "9011001001400000", None)])  # fmt: skip


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Running]:
    store = open_store_from_url(f"sqlite:///{tmp_path / 's.db'}")
    settings = Settings()
    settings.api.rate_per_ip = 0
    settings.reference.gtfs_static = str(GTFS)
    async with running_app(store, settings) as r:
        for b in demo_batches():
            await store.apply(b)
        await store.apply(Batch("bare", NOW, (bare_route_item(),), complete=True))
        await hub_caught_up(r.app)
        yield r


async def api_headers(r: Running, query: str) -> list[str]:
    async with aiohttp.ClientSession() as s, s.get(f"{r.url}/api/v1/disruptions?{query}") as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return sorted(d["header"].get("en") or d["header"]["sv"] for d in body["disruptions"])


async def page_ids(r: Running, query: str) -> set[str]:
    async with aiohttp.ClientSession() as s, s.get(f"{r.url}/?{query}") as resp:
        assert resp.status == 200
        html = await resp.text()
    # The list is in <main>; a public warning's banner above it leads every page, whatever the filter.
    main = html[html.index('<main id="main">') :]
    return {unquote(i) for i in re.findall(r'href="/d/([^"?#]+)[?"]', main)}


RED_14 = "Red line 14: major delays due to a signal failure"
BARE = "Störning"
TRAM_7 = "Spårväg City line 7: diverted past Djurgårdsbron"
FERRY = "Vaxholm boat: the Strömkajen–Vaxholm sailing is cancelled"


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("14", [RED_14, BARE]),
        ("röda linjen", [RED_14, BARE]),
        ("Röda Linjen", [RED_14, BARE]),
        ("RÖDA LINJEN", [RED_14, BARE]),
        ("red line", [RED_14, BARE]),
        ("9011001001400000", [RED_14, BARE]),
        ("Fruängen–Mörby centrum", [RED_14, BARE]),
        ("7", [TRAM_7]),
        ("spårväg city", [TRAM_7]),
        ("Spårväg City", [TRAM_7]),
        ("Vaxholmsbåten", [FERRY]),
        ("gröna linjen", ["Delays on the green line"]),
        ("13", []),  # red line too, but nothing is wrong on it
        ("1", []),  # not a prefix match: 14 is not 1
        ("linjen", []),
    ],
)
async def test_api_route_aliases(demo: Running, route: str, expected: list[str]) -> None:
    assert await api_headers(demo, "route=" + quote(route)) == sorted(expected)


ROADS = [
    "Avstängd påfart. Påfarten från Norrtull mot E4/E20 norrgående",
    "E4/E20: Vägarbete, Körfältsavstängningar",
    "Vägarbete. E4/E20 Essingeleden norrgående mellan Lilla Essingen",
]


@pytest.mark.parametrize("road", ["E4", "e4", "E 4", "E4/E20", "E20", " e 20 "])
async def test_api_road_matches_inside_e4_e20(demo: Running, road: str) -> None:
    got = await api_headers(demo, "road=" + quote(road))
    assert len(got) == 3 and all(any(h.startswith(p[:30]) for h in got) for p in ROADS), got


async def test_api_road_numbers_and_names(demo: Running) -> None:
    assert await api_headers(demo, "road=274") == ["Väg 274: Vaxholmsleden"]
    assert await api_headers(demo, "road=V%C3%A4g%20274") == ["Väg 274: Vaxholmsleden"]
    assert await api_headers(demo, "road=E18") == []
    assert await api_headers(demo, "road=E") == []  # a letter alone is no road


async def test_route_filter_combines_with_mode(demo: Running) -> None:
    assert await api_headers(demo, "mode=metro&route=14") == sorted([RED_14, BARE])
    assert await api_headers(demo, "mode=bus&route=14") == []
    # Bus 2, 3, 53, 76: one item names four lines; each number finds it.
    for line in ("2", "3", "53", "76"):
        assert "Slussen: the Södermalmstorg bus stop has moved" in await api_headers(demo, f"route={line}")


async def test_page_line_alias_is_the_api_route(demo: Running) -> None:
    for query, route in (
        ("mode=metro&line=14", "mode=metro&route=14"),
        ("line=r%C3%B6da+linjen", "route=r%C3%B6da+linjen"),
        ("line=7", "route=7"),
        ("road=E4", "road=E4"),
    ):
        async with aiohttp.ClientSession() as s, s.get(f"{demo.url}/api/v1/disruptions?{route}") as resp:
            api = {d["id"] for d in (await resp.json())["disruptions"]}
        assert api, route
        assert await page_ids(demo, query) == api, query


async def test_geojson_and_feeds_use_the_same_route_filter(demo: Running) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{demo.url}/api/v1/disruptions?road=E4") as resp:
            listed = {d["id"] for d in (await resp.json())["disruptions"] if d["geometry"]}
        async with s.get(f"{demo.url}/api/v1/disruptions.geojson?road=E4") as resp:
            assert resp.status == 200
            features = (await resp.json())["features"]
        async with s.get(f"{demo.url}/feeds/disruptions.atom?line=14") as resp:
            assert resp.status == 200
            atom = await resp.text()
    assert listed and {f["id"] for f in features} == listed
    assert "Red line 14" in atom or "Röda linjen 14" in atom
    assert "Spårväg City" not in atom and "E4/E20" not in atom


# "Use commas for lists" (docs/api.md): `route=14,7` once matched the literal name "14,7" and
# answered an empty list, a false all-clear, while the pages read `line=14,7` as either line.
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("route=14,7", [RED_14, BARE, TRAM_7]),
        ("route=%207%20,14,,7", [RED_14, BARE, TRAM_7]),  # spaces, an empty name and a repeat
        ("route=r%C3%B6da%20linjen,Vaxholmsb%C3%A5ten", [RED_14, BARE, FERRY]),
        ("route=14,13", [RED_14, BARE]),  # nothing on 13: the list is any of them
        ("route=14,7&mode=tram", [TRAM_7]),  # and the other filters still apply to each
        ("road=274,E18", ["Väg 274: Vaxholmsleden"]),
    ],
)
async def test_a_comma_list_of_lines_or_roads_is_any_of_them(
    demo: Running, query: str, expected: list[str]
) -> None:
    assert await api_headers(demo, query) == sorted(expected)


async def test_a_list_means_the_same_on_the_api_the_pages_gtfs_rt_and_the_road_list(demo: Running) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{demo.url}/api/v1/disruptions?route=14,7") as resp:
            api = {d["id"] for d in (await resp.json())["disruptions"]}
        async with s.get(f"{demo.url}/gtfs-rt/alerts.json?route=14,7") as resp:
            assert resp.status == 200
            gtfsrt = {e["id"] for e in (await resp.json()).get("entity", [])}
        async with s.get(f"{demo.url}/api/v1/disruptions?road=E4,274") as resp:
            roads = {d["id"] for d in (await resp.json())["disruptions"]}
    assert len(api) == 3 and await page_ids(demo, "line=14,7") == api
    assert gtfsrt and gtfsrt <= api  # GTFS-RT leaves out what it cannot state (no route it knows)
    assert len(roads) == 4 and await page_ids(demo, "road=E4,274") == roads


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("route=,%20,", "route: must name a line, e.g. 14"),
        ("road=%20", "road: must name a road, e.g. E4"),
        ("route=" + ",".join(str(n) for n in range(31)), "route: at most 30 names"),
        ("road=E4," + "x" * 101, "road: at most 100 characters per name"),
        ("route=14%0A", "route: control characters are not allowed"),
    ],
)
async def test_a_bad_list_is_a_400_naming_the_filter(demo: Running, query: str, error: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{demo.url}/api/v1/disruptions?{query}") as resp:
        body = await resp.json()
    assert resp.status == 400 and body == {"error": error, "parameter": query.split("=")[0]}


async def test_the_pages_feeds_and_siri_take_the_api_name_route_too(demo: Running) -> None:
    # They once ignored `route` as an unknown parameter and showed every item: the one vocabulary
    # names the filter `route`, and `line` is the pages' name for it.
    assert await page_ids(demo, "route=14,7") == await page_ids(demo, "line=14,7") != await page_ids(demo, "")
    async with aiohttp.ClientSession() as s:
        for path, entry in (
            ("/feeds/disruptions.atom", r"<entry><id>([^<]+)</id>"),
            ("/siri/2.1/situation-exchange.xml", r"<SituationNumber>([^<]+)</SituationNumber>"),
        ):
            async with (
                s.get(f"{demo.url}{path}?route=7") as by_route,
                s.get(f"{demo.url}{path}?line=7") as by_line,
            ):
                assert by_route.status == by_line.status == 200
                routed, lined = await by_route.text(), await by_line.text()
            assert "Spårväg City" in routed and "Red line 14" not in routed, path
            assert re.findall(entry, routed) == re.findall(entry, lined) != [], path
        async with s.get(f"{demo.url}/?line=14&route=7") as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "error": "route: the same filter as line: give one of them",
                "parameter": "route",
            }
