"""The real Sjöfartsverket NAVTEX pages: every warning once, all its areas, positions in the Baltic."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest

from travelinfo.ingest.parsers.base import PARSERS, ParseContext
from travelinfo.ingest.parsers.navtex import parse
from travelinfo.model import Batch, bbox_of, format_time

PAGE = "maritime/se-sjofartsverket-navvarn-navtex-in-force-{}.html"
URL = "https://navvarn.sjofartsverket.se/en/Navigationsvarningar/Navtex"
BALTIC = (9.0, 53.0, 31.0, 66.5)

# (page date, fetched at, listings, distinct warnings)
PAGES = [
    ("2026-04-02", datetime(2026, 4, 1, 14, 0, tzinfo=UTC), 96, 33),
    ("2026-08-22", datetime(2026, 8, 22, 1, 0, tzinfo=UTC), 27, 20),
]


def _parse(corpus: Path, day: str, at: datetime) -> Batch:
    data = (corpus / PAGE.format(day)).read_bytes()
    return parse(data, ParseContext(source="sjofartsverket", fetched_at=at, url=URL))


def _listings(corpus: Path, day: str) -> list[tuple[str, str]]:
    """(sea area, warning id) for every listing, read independently of the parser."""
    doc = lxml.html.fromstring((corpus / PAGE.format(day)).read_bytes())
    out = []
    for div in doc.xpath('//div[starts-with(@id, "display-area-")]'):
        area = " ".join(div.xpath("string(h5)").split())
        for b in div.xpath("./p/b"):
            out.append((area, " ".join(b.text_content().split())))
    return out


def test_registered() -> None:
    # Looked up in the registry directly: get_parser() imports every built-in parser.
    assert PARSERS["navtex"] is parse


@pytest.mark.parametrize(("day", "at", "listings", "warnings"), PAGES)
def test_one_disruption_per_warning_with_all_its_areas(
    corpus: Path, day: str, at: datetime, listings: int, warnings: int
) -> None:
    raw = _listings(corpus, day)
    assert len(raw) == listings
    # The page's own per-area counts, "Northern Baltic (4)", add up to the same listings.
    doc = lxml.html.fromstring((corpus / PAGE.format(day)).read_bytes())
    counts = [
        int(m) for a in doc.xpath('//a[starts-with(@id, "cb-")]/text()') for m in re.findall(r"\((\d+)\)", a)
    ]
    assert sum(counts) == listings
    batch = _parse(corpus, day, at)
    assert batch.complete is True
    assert len(batch.items) == warnings
    assert len({d.id for d in batch.items}) == warnings
    by_id = {d.upstream_id: d for d in batch.items}
    expected: dict[str, list[str]] = {}
    for area, wid in raw:
        expected.setdefault(wid, []).append(area)
    assert set(by_id) == set(expected)
    for wid, areas in expected.items():
        d = by_id[wid]
        assert [a.id for a in d.affected] == areas
        assert all(a.type == "area" for a in d.affected)
        assert {f"navtex:area={a}" for a in areas} <= set(d.categories)
        assert d.location_text["en"] == ", ".join(areas)


@pytest.mark.parametrize(("day", "at", "listings", "warnings"), PAGES)
def test_fields(corpus: Path, day: str, at: datetime, listings: int, warnings: int) -> None:
    batch = _parse(corpus, day, at)
    for d in batch.items:
        assert d.source_type == "navtex"
        assert d.modes == ("shipping",)
        assert d.id == f"sjofartsverket:{d.upstream_id}"
        assert re.fullmatch(r"[A-Z ]+ NAV WARN \d+(\(T\))?/\d\d", d.upstream_id)
        assert f"navtex:{d.upstream_id.rsplit(' ', 1)[0]}" in d.categories
        assert d.header["en"] and len(d.header["en"]) <= 140
        assert d.description["en"] and "\r" not in d.description["en"]
        assert "\n\n" not in d.description["en"]  # CR LF is one line break
        assert d.periods and d.periods[0].start == d.updated_at
        assert d.updated_at <= at
        assert d.provenance is not None and d.provenance.url == URL
        assert d.first_seen == d.last_seen == at
        d.dumps()  # JSON round-trip-able


@pytest.mark.parametrize(("day", "at", "listings", "warnings"), PAGES)
def test_every_position_in_the_baltic(
    corpus: Path, day: str, at: datetime, listings: int, warnings: int
) -> None:
    batch = _parse(corpus, day, at)
    with_geometry = [d for d in batch.items if d.geometry is not None]
    assert len(with_geometry) >= warnings // 2
    for d in with_geometry:
        box = bbox_of(d.geometry)
        assert box is not None
        assert BALTIC[0] <= box[0] <= box[2] <= BALTIC[2], d.upstream_id
        assert BALTIC[1] <= box[1] <= box[3] <= BALTIC[3], d.upstream_id
        assert "area:stockholm" not in d.categories  # nothing near Stockholm on these pages


def test_dates_years_and_geometry_kinds(corpus: Path) -> None:
    batch = _parse(corpus, "2026-04-02", datetime(2026, 4, 1, 14, 0, tzinfo=UTC))
    d = {x.upstream_id: x for x in batch.items}
    # The year comes from the number: 042/25 issued 201358 UTC NOV is November 2025.
    assert format_time(d["BALTIC SEA NAV WARN 042/25"].updated_at) == "2025-11-20T13:58:00Z"
    lit = d["LITHUANIAN NAV WARN 023/26"]
    assert lit.geometry is not None and lit.geometry["type"] == "Polygon"  # "AREA ... BOUNDED BY"
    assert lit.periods[0].end == datetime(2026, 4, 2, 15, 0, tzinfo=UTC)  # CANCEL THIS MSG
    kal = d["KALININGRAD NAV WARN 050/26"]  # "CANCEL MESSAGE 302200 UTC APR"
    assert kal.periods[0].end == datetime(2026, 4, 30, 22, 0, tzinfo=UTC)
    pol = d["POLISH NAV WARN 063/26"]  # "CANCEL 041200 UTC APR"
    assert pol.periods[0].end == datetime(2026, 4, 4, 12, 0, tzinfo=UTC)
    assert pol.effect == "NO_SERVICE"  # "ZONE IS CLOSED FOR SHIPPING"
    # Degrees-minutes-seconds (60-05-00N 026-59-24E) make a 12-corner polygon.
    pet = d["PETERSBURG NAV WARN 007/26"]
    assert pet.geometry is not None and pet.geometry["type"] == "Polygon"
    assert len(pet.geometry["coordinates"][0]) == 13
    assert list(pet.geometry["coordinates"][0][0]) == [pytest.approx(26.99), pytest.approx(60.083333)]
    # Decimal commas: 54-23,43N 011-22,97E.
    ger = d["GERMAN NAV WARN 193/26"]
    assert ger.geometry is not None and ger.geometry["type"] == "MultiPoint"
    assert list(ger.geometry["coordinates"][0]) == [pytest.approx(11.382833), pytest.approx(54.390500)]
    danish = d["DANISH NAV WARN 154/26"]  # "OBSERVED BETWEEN a b"
    assert danish.geometry is not None and danish.geometry["type"] == "LineString"
    circle = d["GERMAN NAV WARN 174/26"]  # "WITHIN A RADIUS OF 2 NM AROUND POSITION"
    assert circle.geometry is not None and circle.geometry["type"] == "Polygon"
    assert len(circle.geometry["coordinates"][0]) == 33
    # A warning repeating its own DTG and number first still gets a meaningful header.
    assert d["ESTONIAN NAV WARN 005/26"].header["en"].startswith("VÄINAMERI")


def test_cancel_named_warnings_in_corpus(corpus: Path) -> None:
    batch = _parse(corpus, "2026-08-22", datetime(2026, 8, 22, 1, 0, tzinfo=UTC))
    # GERMAN NAV WARN 477/26 and 434/26 cancel 472/26 and 403/26, which are no longer listed.
    assert set(batch.ended) == {
        "sjofartsverket:GERMAN NAV WARN 472/26",
        "sjofartsverket:GERMAN NAV WARN 403/26",
    }
    d = {x.upstream_id: x for x in batch.items}
    assert "navtex:cancels" in d["GERMAN NAV WARN 477/26"].categories
    mixed = d["GERMAN NAV WARN 477/26"].geometry  # two joining lines and two positions
    assert mixed is not None and mixed["type"] == "GeometryCollection"
    assert Counter(g["type"] for g in mixed["geometries"]) == {"LineString": 2, "Point": 2}
    # "CANCEL THIS MSG 222159 UTC AUG" ends the period; still active before then.
    pol = d["POLISH NAV WARN 182/26"]
    assert pol.periods[0].end == datetime(2026, 8, 22, 21, 59, tzinfo=UTC)
    assert pol.status == "active"
    later = _parse(corpus, "2026-08-22", datetime(2026, 8, 23, 0, 0, tzinfo=UTC))
    assert {x.upstream_id: x for x in later.items}["POLISH NAV WARN 182/26"].status == "ended"
