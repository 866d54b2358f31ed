"""SIRI-SX 2.1 out: XSD-valid for the demo and every corpus file, Nordic profile, the endpoint."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from lxml import etree
from multidict import CIMultiDict
from standardsutil import AT, SIRI_XSD, all_files, assert_valid
from storeutil import open_store
from test_web_pages import HOSTILE_DESC, HOSTILE_HEADER, disruption, fill, serve

from travelinfo import app as appmod
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.siri import parse
from travelinfo.model import Affected, Batch
from travelinfo.standards import siri as siri_out
from travelinfo.standards.routes import SIRI_PATH

S = "{http://www.siri.org.uk/siri}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _elements(doc: etree._Element) -> list[etree._Element]:
    return list(doc.iter(f"{S}PtSituationElement"))


@pytest.mark.parametrize("name,items", all_files(), ids=[n for n, _ in all_files()])
def test_every_demo_and_corpus_file_validates(name: str, items: tuple) -> None:
    body = siri_out.render(items, AT)
    doc = assert_valid(SIRI_XSD, body, name)
    pt = [d for d in items if siri_out.is_public_transport(d)]
    assert len(_elements(doc)) == len(pt)
    # The Nordic profile's required elements, on every situation.
    for el in _elements(doc):
        for tag in ("ParticipantRef", "SituationNumber", "Version", "Source", "Progress", "ReportType"):
            assert el.find(f"{S}{tag}") is not None, (name, tag)
        assert el.find(f"{S}ValidityPeriod/{S}StartTime") is not None
        summaries = el.findall(f"{S}Summary")
        assert summaries and all(s.get(XML_LANG) for s in summaries)


def test_the_corpus_yields_situations_at_all() -> None:
    total = sum(1 for _, items in all_files() for d in items if siri_out.is_public_transport(d))
    assert total > 200  # Entur's dump, Halifax, MiWay, Carris, the SL demo...


def test_hostile_text_and_identifiers_stay_valid_and_read_back() -> None:
    d = disruption(
        "sl alerts",
        "id with spaces & <angle> / slash",
        AT,
        {"sv": HOSTILE_HEADER + "\x00\x0b", "en": "plain", "sv_SE": "understreck", "!!": "inget språk"},
        modes=("metro", "ferry"),
        description={"sv": HOSTILE_DESC, "en": "x" * 20_000},
        affected=(Affected("route", "17 (green)", "Gröna <linjen>"), Affected("stop", "", None)),
        geometry={"type": "MultiPoint", "coordinates": [[18.07, 59.31], [18.08, 59.32]]},
    )
    body = siri_out.render([d], AT)
    assert_valid(SIRI_XSD, body, "hostile")
    (back,) = parse(body, ParseContext("rt", AT)).items
    assert back.header["sv"].startswith("<script>") and "\x00" not in back.header["sv"]
    assert back.description["en"] == "x" * 20_000
    assert set(back.modes) == {"metro", "ferry"}
    assert back.geometry == d.geometry
    # Language keys are valid BCP 47 tags read back in their canonical case (sv_SE -> sv-SE).
    assert back.header["sv-SE"] == "understreck" and back.header["und"] == "inget språk"


def test_road_and_shipping_items_are_left_out() -> None:
    road = disruption("tv", "1", AT, {"sv": "Väg"})
    ship = disruption("navtex", "2", AT, {"sv": "Fyr släckt"}, modes=("shipping",))
    doc = etree.fromstring(siri_out.render([road, ship], AT))
    assert _elements(doc) == []


async def _get(url: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
    """GET without decompressing: a gzip body comes back only when `Accept-Encoding` asks for it."""
    headers.setdefault("Accept-Encoding", "identity")
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.get(url, headers=headers) as r:
        return r.status, await r.read(), CIMultiDict(r.headers)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_endpoint_filters_etag_gzip_and_region(kind: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with open_store(kind, tmp_path) as store:
        await fill(store, now)
        far = disruption("sl-alerts", "far-away", now, {"sv": "Buss i Kiruna"}, modes=("bus",))
        far = far.replace(geometry={"type": "Point", "coordinates": [20.22, 67.85]})
        await store.apply(Batch("sl-alerts-2", now, (far.replace(source="sl-alerts-2"),), complete=True))
        async with serve(store) as site:
            site.app[appmod.SETTINGS].web.region = [17.0, 58.7, 19.6, 60.3]
            status, body, headers = await _get(site.url + SIRI_PATH)
            assert status == 200 and headers["Content-Type"].startswith("application/xml")
            doc = assert_valid(SIRI_XSD, body, "endpoint")
            numbers = {e.findtext(f"{S}SituationNumber") for e in _elements(doc)}
            assert numbers == {"metro-17", "bus-4", "ferry-80"}  # no road item, nothing in Kiruna
            renders = site.app[appmod.CACHE].renders
            status, _, again = await _get(site.url + SIRI_PATH, **{"If-None-Match": headers["ETag"]})
            assert status == 304 and again["ETag"] == headers["ETag"]
            status, zipped, zh = await _get(site.url + SIRI_PATH, **{"Accept-Encoding": "gzip"})
            assert zh.get("Content-Encoding") == "gzip" and gzip.decompress(zipped) == body
            assert site.app[appmod.CACHE].renders == renders  # served from the one rendering
            status, body, _ = await _get(site.url + SIRI_PATH + "?mode=metro")
            doc = assert_valid(SIRI_XSD, body, "metro")
            assert [e.findtext(f"{S}SituationNumber") for e in _elements(doc)] == ["metro-17"]
            status, body, _ = await _get(site.url + SIRI_PATH + "?line=4")
            assert [e.findtext(f"{S}SituationNumber") for e in _elements(etree.fromstring(body))] == ["bus-4"]
            status, body, _ = await _get(site.url + SIRI_PATH + "?mode=bogus")
            assert status == 400 and b'"parameter":"mode"' in body


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_since_gives_only_the_changes(kind: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with open_store(kind, tmp_path) as store:
        await fill(store, now)
        async with serve(store) as site:
            status, body, headers = await _get(site.url + SIRI_PATH)
            seq = headers["X-Seq"]
            assert len(_elements(etree.fromstring(body))) == 3
            later = now + timedelta(seconds=5)
            bus = disruption(
                "sl-alerts",
                "bus-4",
                later,
                {"sv": "Buss 4 går igen", "en": "Bus 4 runs again"},
                modes=("bus",),
            )
            await store.apply(Batch("sl-alerts", later, (bus,), complete=False))
            hub = site.app[appmod.HUB]
            for _ in range(100):  # the hub follows the store's change log
                if hub.last_seq != seq:
                    break
                await asyncio.sleep(0.05)
            assert hub.last_seq != seq
            status, body, headers = await _get(site.url + SIRI_PATH + f"?since={seq}")
            doc = assert_valid(SIRI_XSD, body, "since")
            assert doc.findtext(f".//{S}IncrementalUpdates") == "true"
            (el,) = _elements(doc)
            assert el.findtext(f"{S}SituationNumber") == "bus-4"
            assert not parse(body, ParseContext("rt", now)).complete  # a delta ends nothing
            assert el.findtext(f"{S}Summary[@{XML_LANG}='en']") == "Bus 4 runs again"
            stamp = (now + timedelta(seconds=1)).isoformat()
            status, body, _ = await _get(site.url + SIRI_PATH + "?since=" + stamp.replace("+", "%2B"))
            assert [e.findtext(f"{S}SituationNumber") for e in _elements(etree.fromstring(body))] == ["bus-4"]
            for bad in ("2026-11-25T07:00:00", "2026-13-45T99:00:00Z", "x" * 200, "abc", "1%0A2"):
                status, body, _ = await _get(site.url + SIRI_PATH + f"?since={bad}")
                assert status == 400 and b'"parameter":"since"' in body, (bad, body)
            status, body, _ = await _get(site.url + SIRI_PATH)
            assert status == 200 and len(_elements(etree.fromstring(body))) == 3  # still all published
            # A seq the log does not know (from another store, or before a restore): everything,
            # as a full delivery a consumer may replace its state with.
            status, body, _ = await _get(site.url + SIRI_PATH + "?since=" + "9" * 15)
            doc = assert_valid(SIRI_XSD, body, "reset")
            assert len(_elements(doc)) == 3 and doc.find(f".//{S}Extensions") is None
            assert parse(body, ParseContext("rt", now)).complete


async def test_the_front_page_links_all_three(tmp_path: Path) -> None:
    async with open_store("sqlite", tmp_path) as store:
        await fill(store, datetime.now(UTC))
        async with serve(store) as site:
            status, page, _ = await _get(site.url + "/?mode=metro")
            html = page.decode()
            for path, content_type in (
                (SIRI_PATH, "application/xml"),
                ("/datex2/3.5/situations.xml", "application/xml"),
                ("/cap/alerts.atom", "application/atom+xml"),
            ):
                start = html.index(f'href="{path}')
                href = html[start + 6 : html.index('"', start + 6)].replace("&amp;", "&")
                assert "mode=metro" in href  # the page's filters carry over
                status, _, headers = await _get(site.url + href)
                assert status == 200 and headers["Content-Type"].startswith(content_type), href
