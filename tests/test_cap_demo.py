"""The CAP demo in feeds/cap: a VMA for a fire at Värtahamnen, updated, then all clear."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from travelinfo.geo import STOCKHOLM_AREA, in_area
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.cap import parse
from travelinfo.model import Batch

FEEDS = Path(__file__).resolve().parent.parent / "feeds" / "cap"
ID = "cap:SE-SOS-VMA-20261125-0017"


def _files() -> list[Path]:
    files = sorted(FEEDS.glob("*.xml"))
    assert [f.name[:4] for f in files] == ["001-", "002-", "003-"]
    return files


def _steps(at: datetime) -> list[Batch]:
    return [parse(f.read_bytes(), ParseContext("cap", at)) for f in _files()]


def test_demo_validates_against_the_cap_1_2_schema(corpus: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(corpus / "cap" / "CAP-v1.2.xsd")))
    for path in _files():
        doc = etree.parse(str(path))
        assert schema.validate(doc), (path.name, schema.error_log.last_error)


def test_story(now: datetime) -> None:
    alert, update, cancel = _steps(now)
    (a,) = alert.items
    assert a.id == ID and a.status == "active" and a.severity == "SEVERE"
    assert set(a.header) == {"sv-SE", "en-GB"}  # region subtags kept (issue 19)
    assert a.header["sv-SE"].startswith("Viktigt meddelande till allmänheten")
    assert "stäng dörrar, fönster och ventilation" in a.description["sv-SE"]
    assert "close doors, windows and ventilation" in a.description["en-GB"]
    assert in_area(a.geometry, STOCKHOLM_AREA)
    assert a.geometry is not None and a.geometry["type"] == "Polygon"  # 2 km circle
    assert "cap:category=Fire" in a.categories and "cap:code=VMA" in a.categories
    assert a.periods[0].end is None

    (u,) = update.items
    assert u.id == ID  # same incident, new version
    assert u.version == "2026-11-25T08:58:00+01:00" and u.updated_at > a.updated_at
    assert "Lidingö" in u.description["sv-SE"] and "Lidingö" in u.location_text["en-GB"]
    assert u.geometry is not None and u.geometry["type"] == "MultiPolygon"
    assert {x.id for x in u.affected} == {"SE-kommunkod:0180", "SE-kommunkod:0186"}
    assert update.ended == ()

    (c,) = cancel.items
    assert c.id == ID and c.status == "ended"
    assert c.header["sv-SE"].startswith("Faran över")
    assert cancel.ended == ("cap:SE-SOS-VMA-20261125-0018",)


@pytest.mark.parametrize("at", [datetime(2026, 11, 26, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)])
def test_looks_current_whenever_run(at: datetime) -> None:
    alert, update, cancel = _steps(at)
    assert alert.items[0].status == update.items[0].status == "active"
    assert cancel.items[0].status == "ended"
