"""The DATEX II parser against real third-party payloads in ../shared/corpus."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from travelinfo.ingest.parsers.base import PARSERS, ParseContext
from travelinfo.ingest.parsers.datex2 import parse
from travelinfo.model import (
    CAUSES,
    EFFECTS,
    SEVERITIES,
    STATUSES,
    Disruption,
    bbox_of,
    format_time,
    parse_time,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# (min lon, min lat, max lon, max lat), generous around each country.
COUNTRY_BBOX = {
    "nl": (3.0, 50.6, 7.3, 53.7),
    "no": (4.0, 57.8, 31.5, 71.5),
    "fi": (19.0, 59.6, 31.7, 70.2),
    "uk": (-8.7, 49.8, 1.9, 60.9),
}
SITUATION_FILES = [
    "datex2-v2/nl-ndw-brugopeningen-2022-08-15.xml",
    "datex2-v2/nl-ndw-brugopeningen-2023-11-20.xml",
    "datex2-v2/uk-ntis-event-data-3794692773234866.xml",
    "datex2-v2/uk-ntis-event-data-3794841881472645.xml",
    "datex2-v2/uk-ntis-event-data-3794844533725934.xml",
    "datex2-v2/no-npra-situation-v2-sample.xml",
    "datex2-v2/no-npra-getsituations-v2-with-duplicates.xml",
    "datex2-v2/fi-fintraffic-infoxml-2016-11-17.xml",
    "datex2-v2/fi-fintraffic-infoxml-2016-10-30.xml",
    "datex2-v2/fi-fintraffic-datex2-2017-08-10-15-59-34.xml",
    "datex2-v2/fi-fintraffic-datex2-2017-08-10-16-08-32.xml",
    "datex2-v2/fi-fintraffic-weight-restrictions-wr1.xml",
    "datex2-v3/no-npra-getsituations-v3.xml",
    "datex2-v3/fi-fintraffic-situation-v3.5-GUID50456943.xml",
    "datex2-v3/fi-fintraffic-situation-v3.5-GUID50459771.xml",
]
NON_SITUATION_FILES = {
    "datex2-v2/no-npra-measured-weather-data-v2.xml": "MeasuredDataPublication",
    "datex2-v2/uk-ntis-anpr-journey-time-3794915029662987.xml": "MeasuredDataPublication",
    "datex2-v2/uk-ntis-vms-status-3794936172555171.xml": "VmsPublication",
    "datex2-v3/no-npra-getsituations-v3-deliverybreak.xml": "exchange-only",
}


def ctx(**options: object) -> ParseContext:
    return ParseContext("corpus", NOW, "https://example.org/datex", options=options)


def count_situations(path: Path) -> int:
    """Count `situation` elements independently of the parser (full tree walk)."""
    tree = etree.parse(str(path))
    return sum(1 for el in tree.iter() if etree.QName(el).localname == "situation")


def country(name: str) -> str:
    return Path(name).name.split("-", 1)[0]


def check_model(d: Disruption) -> None:
    """Every field of MODEL.md: round trip, enums, RFC 3339 times, GeoJSON shape."""
    assert Disruption.from_json(d.to_json()) == d
    data = d.to_json()
    # Transit information (a suspended ferry) takes its mode from transitServiceType (issue 19).
    assert d.source_type == "datex2" and d.modes in (("road",), ("ferry",))
    assert d.id == f"corpus:{d.upstream_id}"
    assert d.cause in CAUSES and d.effect in EFFECTS and d.severity in SEVERITIES
    assert d.status in STATUSES
    assert d.header and all(isinstance(v, str) and v for v in d.header.values())
    for key in ("updated_at", "first_seen", "last_seen"):
        assert data[key].endswith("Z") and format_time(parse_time(data[key])) == data[key]
    for p in data["periods"]:
        assert p["start"].endswith("Z") and (p["end"] is None or p["end"].endswith("Z"))
    assert all(c.startswith("datex2:") for c in d.categories)
    # AlertC location codes are kept as `location` entries (issue 19).
    assert all(a.type in ("road", "location") and a.id for a in d.affected)
    assert d.provenance is not None and d.provenance.fetched_at == NOW
    for text in (*d.header.values(), *d.description.values()):
        assert "<" not in text or ">" not in text  # plain text, markup stripped


@pytest.mark.parametrize("name", SITUATION_FILES)
def test_situation_files_parse(corpus: Path, name: str) -> None:
    path = corpus / name
    batch = parse(path.read_bytes(), ctx())
    assert len(batch.items) == count_situations(path)
    assert len({d.id for d in batch.items}) == len(batch.items)
    lo_x, lo_y, hi_x, hi_y = COUNTRY_BBOX[country(name)]
    for d in batch.items:
        check_model(d)
        box = bbox_of(d.geometry)
        if box is not None:
            assert lo_x <= box[0] <= box[2] <= hi_x, (d.id, box)
            assert lo_y <= box[1] <= box[3] <= hi_y, (d.id, box)


def test_ndw_counts_and_points(corpus: Path) -> None:
    batch = parse((corpus / "datex2-v2/nl-ndw-brugopeningen-2022-08-15.xml").read_bytes(), ctx())
    assert len(batch.items) == 1257 and batch.complete
    first = batch.items[0]
    assert first.geometry == {"type": "Point", "coordinates": (4.6514597364968, 52.3952599805373)}
    assert "datex2:generalNetworkManagementType=bridgeSwingInOperation" in first.categories
    assert first.effect == "NO_SERVICE"
    assert all(d.geometry is not None for d in batch.items)


def test_finnish_texts_keep_language_and_alertc_has_no_geometry(corpus: Path) -> None:
    data = (corpus / "datex2-v2/fi-fintraffic-infoxml-2016-11-17.xml").read_bytes()
    (d,) = parse(data, ctx()).items
    assert set(d.header) == {"fi"} and set(d.description) == {"fi"}
    assert d.header["fi"] == "Tie 9, Kangasala. Liikennetiedote onnettomuudesta."
    assert d.geometry is None  # AlertC only
    assert d.cause == "ACCIDENT" and d.effect == "REDUCED_SERVICE"
    assert "datex2:accidentType=accident" in d.categories
    assert d.status == "active" and d.periods[0].end is None


def test_npra_utm_lines_land_in_norway(corpus: Path) -> None:
    for name in ("datex2-v2/no-npra-situation-v2-sample.xml", "datex2-v3/no-npra-getsituations-v3.xml"):
        (d,) = parse((corpus / name).read_bytes(), ctx()).items
        assert d.geometry is not None and d.geometry["type"] == "LineString"
        lon, lat = d.geometry["coordinates"][0]
        # locationForDisplay says 61.145523 N 8.710909 E; the line starts a few hundred m away
        assert abs(lat - 61.1455) < 0.01 and abs(lon - 8.7109) < 0.02
        assert [a.id for a in d.affected if a.type == "road"] == ["E16"]
        assert "Øylo" in d.location_text["no"]
        assert d.cause == "MAINTENANCE"


def test_duplicate_record_is_a_note(corpus: Path) -> None:
    data = (corpus / "datex2-v2/no-npra-getsituations-v2-with-duplicates.xml").read_bytes()
    batch = parse(data, ctx())
    assert len(batch.items) == 1
    assert any("duplicate record id" in n for n in batch.notes)
    assert batch.items[0].severity == "SEVERE"


def test_whitespace_around_enums(corpus: Path) -> None:
    data = (corpus / "datex2-v2/fi-fintraffic-weight-restrictions-wr1.xml").read_bytes()
    (d,) = parse(data, ctx()).items
    # roadClosed, but only for vehicles over 12 t
    assert d.effect == "REDUCED_SERVICE"
    assert "datex2:roadOrCarriagewayOrLaneManagementType=roadClosed" in d.categories


def test_uk_ntis_extensions_and_end_flag(corpus: Path) -> None:
    data = (corpus / "datex2-v2/uk-ntis-event-data-3794841881472645.xml").read_bytes()
    batch = parse(data, ctx())
    (d,) = batch.items
    assert d.status == "ended"  # lifeCycleManagement/end true (and its period ran out)
    assert d.effect == "SIGNIFICANT_DELAYS" and d.severity == "INFO"
    assert set(d.description) == {"en"}  # values without lang take the publication's lang
    assert not batch.complete  # NTIS "Event Data" feedType is a per-event push, not a snapshot


def test_v3_fintraffic(corpus: Path) -> None:
    data = (corpus / "datex2-v3/fi-fintraffic-situation-v3.5-GUID50456943.xml").read_bytes()
    (d,) = parse(data, ctx()).items
    assert d.severity == "SEVERE" and d.effect == "SIGNIFICANT_DELAYS"
    assert d.periods[0].start == datetime(2025, 11, 27, 7, 20, tzinfo=UTC)
    assert set(d.header) == {"fi"}


@pytest.mark.parametrize(("name", "kind"), sorted(NON_SITUATION_FILES.items()))
def test_non_situation_publications(corpus: Path, name: str, kind: str) -> None:
    batch = parse((corpus / name).read_bytes(), ctx())
    assert batch.items == ()
    assert not batch.complete  # never ends the source's items
    assert batch.notes and kind in batch.notes[0]


def test_registered_under_datex2() -> None:
    # PARSERS rather than get_parser(): the latter imports every built-in parser module.
    assert PARSERS["datex2"] is parse


def test_complete_option_overrides(corpus: Path) -> None:
    data = (corpus / "datex2-v2/nl-ndw-brugopeningen-2023-11-20.xml").read_bytes()
    assert not parse(data, ctx(complete=False)).complete
