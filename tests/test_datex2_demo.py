"""The feeds/trafikverket demo sequence: schema-valid DATEX II v2.3 that tells a story."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.datex2 import parse
from travelinfo.model import Batch, bbox_of

ROOT = Path(__file__).resolve().parent.parent
DEMO = sorted((ROOT / "feeds" / "trafikverket").glob("*.xml"))
ACCIDENT = "trafikverket:SE_STA_TRISSID_1_16519027"
ROADWORKS = "trafikverket:SE_STA_TRISSID_1_16482211"
RAMP = "trafikverket:SE_STA_TRISSID_1_16503874"
STOCKHOLM = (17.6, 59.1, 18.6, 59.6)


def replay(at: datetime) -> list[Batch]:
    return [parse(path.read_bytes(), ParseContext("trafikverket", at)) for path in DEMO]


def test_demo_has_a_sequence() -> None:
    assert len(DEMO) >= 5
    assert [p.name[:3] for p in DEMO] == [f"{i:03d}" for i in range(1, len(DEMO) + 1)]


@pytest.mark.parametrize("path", DEMO, ids=lambda p: p.name)
def test_demo_validates_against_datex2_v23(corpus: Path, path: Path) -> None:
    xsd = corpus / "datex2-schemas" / "v2.3" / "DATEXIISchema_2_2_3.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    doc = etree.parse(str(path))
    assert schema.validate(doc), schema.error_log


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 25, 9, 0, tzinfo=UTC),  # the day the story happens
        datetime(2029, 6, 1, 12, 0, tzinfo=UTC),  # years later, the demo still shows live items
    ],
)
def test_demo_tells_the_story(at: datetime) -> None:
    batches = replay(at)
    assert all(b.complete for b in batches)
    by_step = [{d.id: d for d in b.items} for b in batches]
    first, appeared, worse, ended, gone = by_step[:5]

    assert ACCIDENT not in first
    for step in by_step:
        assert step[ROADWORKS].status == "active" and step[RAMP].status == "active"
        assert step[ROADWORKS].effect == "REDUCED_SERVICE"
        assert step[ROADWORKS].cause == "MAINTENANCE"
        assert step[RAMP].effect == "NO_SERVICE"
        assert {a.id for a in step[ROADWORKS].affected} == {"E4", "E20"}

    new = appeared[ACCIDENT]
    assert new.status == "active" and new.cause == "ACCIDENT" and new.severity == "WARNING"
    assert new.header["sv"].startswith("Olycka")
    assert new.location_text == {"sv": "E4 norrgående vid Järva krog i Solna"}
    assert new.geometry == {"type": "Point", "coordinates": (18.00588, 59.36602)}

    raised = worse[ACCIDENT]
    assert raised.severity == "SEVERE" and raised.effect == "NO_SERVICE"
    assert raised.version == "2" and raised.updated_at > new.updated_at

    assert ended[ACCIDENT].status == "ended"
    assert ACCIDENT not in gone  # and a full snapshot without it ends it in the store


def test_demo_texts_and_places() -> None:
    for batch in replay(datetime(2026, 11, 25, 9, 0, tzinfo=UTC)):
        for d in batch.items:
            assert set(d.header) == {"sv"} and set(d.description) == {"sv"}
            box = bbox_of(d.geometry)
            assert box is not None
            assert STOCKHOLM[0] <= box[0] <= box[2] <= STOCKHOLM[2]
            assert STOCKHOLM[1] <= box[1] <= box[3] <= STOCKHOLM[3]
