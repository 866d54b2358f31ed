"""The NAVTEX demo sequence in feeds/navtex tells its Stockholm story."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from travelinfo.geo import STOCKHOLM_AREA, in_area
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.navtex import parse
from travelinfo.model import Batch

FEEDS = Path(__file__).resolve().parent.parent / "feeds" / "navtex"
FURUSUND = "BALTIC SEA NAV WARN 061/26"
REGATTA = "BALTIC SEA NAV WARN 062/26"
VAXHOLM = "BALTIC SEA NAV WARN 063/26"
REOPENED = "BALTIC SEA NAV WARN 064/26"


def _steps(at: datetime) -> list[Batch]:
    files = sorted(FEEDS.glob("*.html"))
    assert [f.name[:4] for f in files] == ["001-", "002-", "003-"]
    return [parse(f.read_bytes(), ParseContext(source="navtex", fetched_at=at)) for f in files]


def test_story(now: datetime) -> None:
    first, second, third = _steps(now)
    one = {d.upstream_id: d for d in first.items}
    assert {FURUSUND, REGATTA} <= set(one)
    buoy = one[FURUSUND]
    assert buoy.geometry == {"type": "Point", "coordinates": (18.92, 59.66)}
    assert {"area:stockholm", "navtex:buoy", "navtex:off-position", "navtex:unlit"} <= set(buoy.categories)
    assert [a.id for a in buoy.affected] == ["Northern Baltic", "Sea of Åland and Archipelago Sea"]
    regatta = one[REGATTA]
    assert regatta.geometry is not None and regatta.geometry["type"] == "Polygon"
    assert regatta.effect == "NO_SERVICE" and "navtex:event" in regatta.categories
    assert in_area(regatta.geometry, STOCKHOLM_AREA)
    # Some other Baltic warnings are there, outside Stockholm.
    others = [d for d in first.items if "area:stockholm" not in d.categories]
    assert len(others) >= 3

    two = {d.upstream_id: d for d in second.items}
    assert VAXHOLM in two and two[VAXHOLM].geometry["type"] == "LineString"  # type: ignore[index]
    assert "area:stockholm" in two[VAXHOLM].categories

    three = {d.upstream_id: d for d in third.items}
    assert REGATTA not in three and REOPENED in three
    assert third.ended == ("navtex:" + REGATTA,)
    assert all(b.complete for b in (first, second, third))
    assert all(d.status == "active" for b in (first, second, third) for d in b.items)


def test_looks_current_whenever_run() -> None:
    for at in (datetime(2026, 11, 26, tzinfo=UTC), datetime(2031, 6, 1, tzinfo=UTC)):
        for batch in _steps(at):
            assert all(d.status == "active" for d in batch.items)
