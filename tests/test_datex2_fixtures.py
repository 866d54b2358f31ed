"""Hand-written DATEX II fixtures: prefixes, deltas, lifecycle, geometry forms, CRS handling."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.datex2 import parse
from travelinfo.ingest.parsers.datex2_geo import gml_coords, srs_kind, utm_to_lonlat
from travelinfo.model import Disruption

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STOCKHOLM = (17.5, 59.0, 18.8, 59.8)


def load(fixtures: Path, name: str, **options: object) -> list[Disruption]:
    ctx = ParseContext("fx", NOW, options=options)
    return list(parse((fixtures / "datex2" / name).read_bytes(), ctx).items)


def test_v3_any_prefix_delta_and_padded_enums(fixtures: Path) -> None:
    ctx = ParseContext("fx", NOW)
    batch = parse((fixtures / "datex2" / "v3-odd-prefixes.xml").read_bytes(), ctx)
    assert not batch.complete  # feedType "delta"
    closed, _works = batch.items
    assert closed.upstream_id == "TEST_SIT_1" and closed.version == "3"
    assert closed.effect == "NO_SERVICE" and closed.severity == "WARNING"
    assert closed.header == {
        "sv": "Vägen är avstängd. Följ omledning.",
        "en": "The road is closed. Follow the diversion.",
    }
    assert closed.updated_at == datetime(2026, 11, 25, 8, 55, tzinfo=UTC)
    assert closed.status == "active"
    assert [(a.id, a.name) for a in closed.affected] == [("E4.20", "Centralbron")]
    geom = closed.geometry
    assert geom is not None and geom["type"] == "GeometryCollection"
    point, line = geom["geometries"]
    # the precise point wins over the display point; posList without srsName is lat lon
    assert point == {"type": "Point", "coordinates": (18.0686, 59.3293)}
    assert line["coordinates"][0] == (18.065, 59.324)
    assert "datex2:roadOrCarriagewayOrLaneManagementType=roadClosed" in closed.categories


def test_suspended_is_planned_and_openlr_is_a_line(fixtures: Path) -> None:
    works = load(fixtures, "v3-odd-prefixes.xml")[1]
    assert works.status == "planned"
    assert works.cause == "MAINTENANCE" and works.severity == "INFO"
    assert works.geometry == {
        "type": "LineString",
        "coordinates": ((18.01, 59.34), (18.02, 59.345)),
    }
    assert works.header == {"en": "Roadworks", "sv": "Vägarbete"}


def test_lifecycle_end_duplicate_and_sweref(fixtures: Path) -> None:
    ctx = ParseContext("fx", NOW)
    batch = parse((fixtures / "datex2" / "v2-lifecycle.xml").read_bytes(), ctx)
    (d,) = batch.items
    assert d.status == "ended" and d.cause == "ACCIDENT" and d.severity == "SEVERE"
    assert d.categories == ("datex2:Accident", "datex2:accidentType=collision")
    assert any("duplicate record id TEST_ENDED_1" in n for n in batch.notes)
    assert d.geometry is not None and d.geometry["type"] == "LineString"
    for lon, lat in d.geometry["coordinates"]:
        assert STOCKHOLM[0] < lon < STOCKHOLM[2] and STOCKHOLM[1] < lat < STOCKHOLM[3]


def test_lang_option_names_untagged_texts(fixtures: Path) -> None:
    data = (
        b'<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        b'<payloadPublication xsi:type="SituationPublication"><situation id="s">'
        b'<situationRecord xsi:type="Accident" id="r"><generalPublicComment><comment><values>'
        b"<value>Olycka vid Slussen</value></values></comment></generalPublicComment>"
        b"</situationRecord></situation></payloadPublication></d2LogicalModel>"
    )
    ctx = ParseContext("fx", NOW, options={"lang": "sv"})
    (d,) = parse(data, ctx).items
    assert d.header == {"sv": "Olycka vid Slussen"}
    assert d.periods == () and d.status == "active" and d.updated_at == NOW


@pytest.mark.parametrize(
    ("srs", "kind"),
    [
        (None, ("latlon", 0, False)),
        ("EPSG:4326", ("latlon", 0, False)),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", ("lonlat", 0, False)),
        ("25833", ("utm", 33, False)),
        ("http://www.opengis.net/def/crs/EPSG/0/25835", ("utm", 35, False)),
        ("EPSG:3006", ("utm", 33, False)),
        ("EPSG:27700", None),
    ],
)
def test_srs_names(srs: str | None, kind: tuple[str, int, bool] | None) -> None:
    assert srs_kind(srs) == kind


def test_utm_inverse_is_accurate() -> None:
    # On the central meridian the northing is k0 times the meridian arc: 60 N -> 6651411 m.
    lon, lat = utm_to_lonlat(500_000, 6_651_411.0, 33)
    assert lon == 15.0 and abs(lat - 60.0) < 1e-5
    assert gml_coords("1 2 3", None) is None  # odd number of values
    assert gml_coords("59.3 18.0", "EPSG:27700") is None  # unsupported CRS
    assert gml_coords("59.3 18.0 10 59.4 18.1 12", "EPSG:4326", dim=3) == [
        [18.0, 59.3],
        [18.1, 59.4],
    ]


_RECORD = (
    '<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" xmlns:x="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:o="urn:other"><payloadPublication x:type="SituationPublication"><situation id="S1">'
    '<situationRecord id="R1" {attrs}><situationRecordVersionTime>2026-11-25T11:00:00Z'
    "</situationRecordVersionTime></situationRecord></situation></payloadPublication></d2LogicalModel>"
)


@pytest.mark.parametrize(
    ("attrs", "category"),
    [
        ('x:type="x:Accident"', "datex2:Accident"),  # any prefix for the XSI namespace
        ('o:type="Roadworks" x:type="Accident"', "datex2:Accident"),  # xsi:type wins over another `type`
        ('o:type="Roadworks"', "datex2:Roadworks"),  # only another namespace's `type`: read, as before
        ('type="Roadworks"', "datex2:SituationRecord"),  # no namespace: not a type
    ],
)
def test_record_type_is_the_xsi_type(attrs: str, category: str) -> None:
    ctx = ParseContext("t", NOW)
    (item,) = parse(_RECORD.format(attrs=attrs).encode(), ctx).items
    assert item.categories[0] == category
