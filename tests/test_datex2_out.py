"""DATEX II v3.5 out: valid against the v3.5 schema set for the demo and every corpus file; endpoint."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from lxml import etree
from multidict import CIMultiDict
from standardsutil import AT, DATEX_XSD, all_files, assert_valid
from storeutil import open_store
from test_web_pages import HOSTILE_DESC, HOSTILE_HEADER, disruption, fill, serve

from travelinfo import app as appmod
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.datex2 import parse
from travelinfo.model import Affected
from travelinfo.standards import datex2 as datex2_out
from travelinfo.standards.routes import DATEX_PATH

SIT = "{http://datex2.eu/schema/3/situation}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@pytest.mark.parametrize("name,items", all_files(), ids=[n for n, _ in all_files()])
def test_every_demo_and_corpus_file_validates(name: str, items: tuple) -> None:
    doc = assert_valid(DATEX_XSD, datex2_out.render(items, AT), name)
    road = [d for d in items if datex2_out.is_road(d)]
    assert [s.get("id") for s in doc.iter(f"{SIT}situation")] == [d.id for d in road]


@pytest.mark.parametrize(
    "cause,effect,types",
    [
        ("ACCIDENT", "NO_SERVICE", ["sit:Accident", "sit:RoadOrCarriagewayOrLaneManagement"]),
        ("MAINTENANCE", "REDUCED_SERVICE", ["sit:MaintenanceWorks", "sit:RoadOrCarriagewayOrLaneManagement"]),
        ("CONSTRUCTION", "DETOUR", ["sit:ConstructionWorks", "sit:ReroutingManagement"]),
        ("WEATHER", "SIGNIFICANT_DELAYS", ["sit:PoorEnvironmentConditions", "sit:AbnormalTraffic"]),
        ("POLICE_ACTIVITY", "UNKNOWN_EFFECT", ["sit:AuthorityOperation"]),
        ("UNKNOWN_CAUSE", "MODIFIED_SERVICE", ["sit:SpeedManagement"]),
        ("UNKNOWN_CAUSE", "UNKNOWN_EFFECT", ["sit:GeneralNetworkManagement"]),
    ],
)
def test_record_types_follow_cause_and_effect(cause: str, effect: str, types: list[str]) -> None:
    d = disruption("tv", "x1", AT, {"sv": "Olycka"}, cause=cause).replace(effect=effect)
    doc = assert_valid(DATEX_XSD, datex2_out.render([d], AT), cause)
    assert [r.get(XSI_TYPE) for r in doc.iter(f"{SIT}situationRecord")] == types


SENTENCES = "".join(f"Mening {i}. " for i in range(400))
WORDS = " ".join(f"w{i}" for i in range(600))
SQUARE = [[[18.0, 59.3], [18.1, 59.3], [18.1, 59.4], [18.0, 59.3]]]


def _ids(body: bytes) -> list[str | None]:
    return [s.get("id") for s in etree.fromstring(body).iter(f"{SIT}situation")]


def test_hostile_and_long_texts_stay_valid() -> None:
    d = disruption(
        "trafikverket",
        "id with spaces & <x>",
        AT,
        {"sv": HOSTILE_HEADER + "\x01", "en": "Road closed", "fi_FI": "Tie suljettu", "?": "x"},
        description={
            "sv": HOSTILE_DESC + "\n\n" + "".join(f"Mening {i}. " for i in range(400)),
            "en": " ".join(f"w{i}" for i in range(600)),
        },
        location={"sv": "Plats " * 400},
        affected=(Affected("road", "E4", "Södertäljevägen <&>"),),
        geometry={
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": [17.9, 59.3]},
                {"type": "LineString", "coordinates": [[17.8, 59.2], [17.9, 59.25]]},
                {
                    "type": "Polygon",
                    "coordinates": [[[18.0, 59.3], [18.1, 59.3], [18.1, 59.4], [18.0, 59.3]]],
                },
            ],
        },
    )
    body = datex2_out.render([d], AT)
    assert_valid(DATEX_XSD, body, "hostile")
    (back,) = parse(body, ParseContext("rt", AT)).items
    assert back.upstream_id == d.id and back.geometry == d.geometry
    # Our DATEX parser strips markup from comments (producers send HTML): the words remain.
    sv = back.description["sv"]
    assert "<script>" not in sv and "\x01" not in sv and "window.pwned=1 Stopp ]]>" in sv
    # 4.8 kB sent in chunks of <= 1024 characters, cut between words: all words come back.
    assert " ".join(sv.split()).endswith(" ".join(f"Mening {i}." for i in range(400)))
    assert back.description["en"].split() == ["Road", "closed", *(f"w{i}" for i in range(600))]
    assert back.header["fi-FI"] == "Tie suljettu" and back.header["und"] == "x"
    assert [(a.id, (a.name or "")[:15]) for a in back.affected] == [("E4", "Södertäljevägen")]


def test_text_chunks_rejoin() -> None:
    text = "Första stycket.\n\n" + "ord " * 700 + "\n\nSista."
    pieces = datex2_out.chunks(text)
    assert all(len(p) <= datex2_out.MAX_TEXT for p in pieces) and len(pieces) >= 3
    assert "\n\n".join(pieces).split() == text.split()


async def _get(url: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
    headers.setdefault("Accept-Encoding", "identity")
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.get(url, headers=headers) as r:
        return r.status, await r.read(), CIMultiDict(r.headers)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_endpoint(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store:
        await fill(store, datetime.now(UTC))
        async with serve(store) as site:
            status, body, headers = await _get(site.url + DATEX_PATH)
            assert status == 200 and headers["Content-Type"].startswith("application/xml")
            doc = assert_valid(DATEX_XSD, body, "endpoint")
            ids = [s.get("id") for s in doc.iter(f"{SIT}situation")]
            assert sorted(ids) == [f"trafikverket:SE_STA_TRISSID_1_400000{i}" for i in (1, 2, 3)]
            renders = site.app[appmod.CACHE].renders
            status, _, _ = await _get(site.url + DATEX_PATH, **{"If-None-Match": headers["ETag"]})
            assert status == 304
            status, zipped, zh = await _get(site.url + DATEX_PATH, **{"Accept-Encoding": "gzip"})
            assert zh["Content-Encoding"] == "gzip" and gzip.decompress(zipped) == body
            assert site.app[appmod.CACHE].renders == renders
            status, body, _ = await _get(site.url + DATEX_PATH + "?road=E20")
            doc = etree.fromstring(body)
            assert [s.get("id") for s in doc.iter(f"{SIT}situation")] == [
                "trafikverket:SE_STA_TRISSID_1_4000002"
            ]
            status, body, _ = await _get(site.url + DATEX_PATH + "?when=now&severity=severe")
            doc = etree.fromstring(body)
            assert [s.get("id") for s in doc.iter(f"{SIT}situation")] == [
                "trafikverket:SE_STA_TRISSID_1_4000001"
            ]
            status, body, _ = await _get(site.url + DATEX_PATH + "?severity=extreme")
            assert status == 400 and b'"parameter":"severity"' in body
