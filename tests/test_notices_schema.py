"""Validation of operators' notice bodies: normalised fields, precise per-field errors, diffs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from travelinfo.geojson_check import check_geometry
from travelinfo.notices.schema import NoticeInvalid, diff, local_id, merge_patch, to_disruption, validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def body(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "header": {"sv": "Frihamnen kaj 3 stängd", "en": "Frihamnen quay 3 closed"},
        "modes": ["ferry", "shipping"],
        "cause": "MAINTENANCE",
        "effect": "STOP_MOVED",
        "severity": "WARNING",
        "periods": [{"start": "2026-11-25T06:00:00+01:00", "end": "2026-11-27T18:00:00Z"}],
        "geometry": {"type": "Point", "coordinates": [18.1167, 59.3419]},
        "affected": [{"type": "port", "id": "SESTO-FRI", "name": "Frihamnen"}],
        "url": "https://www.portsofstockholm.com/trafikinformation",
    }
    base.update(over)
    return base


def errors(data: Any) -> dict[str, str]:
    with pytest.raises(NoticeInvalid) as exc:
        validate(data)
    return exc.value.fields


def test_valid_body_is_normalised() -> None:
    out = validate(body(description={"sv": "  Anlöp flyttas till Värtahamnen.  "}))
    assert out["periods"] == [{"start": "2026-11-25T05:00:00Z", "end": "2026-11-27T18:00:00Z"}]
    assert out["description"] == {"sv": "Anlöp flyttas till Värtahamnen."}
    assert out["location_text"] == {}
    assert list(out) == [
        "header", "description", "location_text", "modes", "cause", "effect",
        "severity", "periods", "geometry", "affected", "url",
    ]  # fmt: skip


def test_defaults_for_optional_fields() -> None:
    out = validate({"header": {"sv": "Info"}, "modes": ["ferry"]})
    assert out["cause"] == "UNKNOWN_CAUSE" and out["severity"] == "UNKNOWN_SEVERITY"
    assert out["periods"] == [] and out["geometry"] is None and out["url"] is None


def test_every_bad_field_is_named_at_once() -> None:
    bad = body(
        periods=[
            {"start": "2026-11-25T12:00:00Z", "end": "2026-11-25T11:00:00Z"},
            {"start": "2026-11-25 12:00"},
            {"end": "2026-11-25T11:00:00Z"},
        ],
        cause="FOO",
        header={"sv": "x" * 201},
        description={"en": "y" * 5001},
        geometry={"type": "Polygon", "coordinates": [[[18, 59], [18.1, 59], [18.1, 59.1], [18, 59.1]]]},
        modes=["ferry", "boat"],
        colour="red",
        status="active",
    )
    got = errors(bad)
    assert got["periods[0].end"] == "must be after start"
    assert "RFC 3339" in got["periods[1].start"]
    assert got["periods[2].start"] == "required"
    assert got["cause"].startswith("unknown value 'FOO' (one of UNKNOWN_CAUSE, OTHER_CAUSE")
    assert got["header.sv"] == "longer than 200 characters (201)"
    assert got["description.en"] == "longer than 5000 characters (5001)"
    assert got["geometry"].startswith("invalid GeoJSON: coordinates[0]: linear ring is not closed")
    assert got["modes[1]"].startswith("unknown value 'boat'")
    assert got["colour"] == "unknown field"
    assert got["status"] == "set by the service, not editable"


def test_required_and_wrong_types() -> None:
    assert errors({}) == {"header": "required", "modes": "required"}
    got = errors(body(header="Stängt", modes="ferry", severity=3, periods={}, affected=None, url=5))
    assert got["header"] == "must be an object of language tag to text, not a string"
    assert got["modes"].startswith("must be an array of modes")
    assert got["severity"].startswith("must be a string (one of UNKNOWN_SEVERITY")
    assert got["periods"] == "must be an array of {start, end}, not an object"
    assert got["affected"].startswith("must be an array")
    assert got["url"] == "must be an http(s) URL or null, not a number"
    assert errors([1, 2]) == {"": "must be a JSON object, not an array"}


def test_text_limits() -> None:
    many = {f"l{chr(97 + i // 26)}{chr(97 + i % 26)}": "t" for i in range(21)}
    assert errors(body(header=many)) == {"header": "21 languages (at most 20)"}
    got = errors(body(header={}, location_text={"sv": "z" * 501, "se_SV": "x"}))
    assert got["header"] == "needs a text in at least one language"
    assert got["location_text.sv"] == "longer than 500 characters (501)"
    assert got["location_text.se_SV"].startswith("not a language tag")
    got = errors(body(header={"sv": "   ", "en": "a\x1b[31mred"}))
    assert got == {
        "header.sv": "must not be empty",
        "header.en": "contains control character U+001B at position 1 (plain text only)",
    }
    # Exactly at the limits is fine (characters, not bytes).
    assert validate(body(header={"sv": "å" * 200}, description={"sv": "ö" * 5000}))


def test_affected_entries() -> None:
    got = errors(body(affected=[{"type": "harbour", "id": ""}, {"type": "port", "id": "X", "extra": 1}, "Y"]))
    assert got["affected[0].type"].startswith("unknown value 'harbour' (one of agency")
    assert got["affected[0].id"].startswith("must be a non-empty string")
    assert got["affected[1].extra"] == "unknown field"
    assert got["affected[2]"] == "must be an object {type, id, name}, not a string"


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Circle", "coordinates": [18, 59]}, "type 'Circle' is not one of Point"),
        ({"type": "Feature", "geometry": None}, "type Feature is not a geometry"),
        ({"type": "Point", "coordinates": [181.0, 59.3]}, "coordinates: longitude 181.0 outside"),
        ({"type": "Point", "coordinates": [59.3, 118.0]}, "coordinates: latitude 118.0 outside"),
        ({"type": "Point", "coordinates": [18.0, 91]}, "latitude 91 outside -90..90"),
        ({"type": "Point", "coordinates": [18.0]}, "a position must be [longitude, latitude]"),
        ({"type": "Point", "coordinates": ["18", 59]}, "coordinates must be finite numbers"),
        ({"type": "Point", "coordinates": [True, 59]}, "coordinates must be finite numbers"),
        ({"type": "LineString", "coordinates": [[18, 59]]}, "coordinates: needs at least 2 positions"),
        ({"type": "Polygon", "coordinates": [[[18, 59], [18.1, 59], [18, 59]]]}, "at least 4 positions"),
        (
            {"type": "MultiPolygon", "coordinates": [[[[18, 59], [19, 59], [19, 60], [18, 60.1]]]]},
            "not closed",
        ),
        ({"type": "Point"}, "Point without 'coordinates'"),
        ({"type": "Point", "coordinates": [18, 59], "crs": {}}, "unexpected member 'crs'"),
        ({"type": "GeometryCollection", "geometries": []}, "needs at least 1 geometries"),
        (
            {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [18, 99]}]},
            "geometries[0].coordinates: latitude 99",
        ),
        ("POINT(18 59)", "geometry must be an object"),
    ],
)
def test_invalid_geojson(geometry: Any, message: str) -> None:
    got = errors(body(geometry=geometry))
    assert set(got) == {"geometry"}
    assert got["geometry"].startswith("invalid GeoJSON: ")
    assert message in got["geometry"], got["geometry"]


def test_valid_geometries() -> None:
    ring = [[18.0, 59.3], [18.1, 59.3], [18.1, 59.4], [18.0, 59.3]]
    for g in (
        {"type": "LineString", "coordinates": [[18.0, 59.3], [18.1, 59.31, 4.0]]},
        {"type": "Polygon", "coordinates": [ring]},
        {"type": "MultiPolygon", "coordinates": [[ring], [ring]]},
        {"type": "MultiPoint", "coordinates": [[-180, -90], [180, 90]]},
        {"type": "GeometryCollection", "geometries": [{"type": "MultiLineString", "coordinates": [ring]}]},
    ):
        assert check_geometry(g) == g
    with pytest.raises(ValueError, match="more than 10000 positions"):
        check_geometry({"type": "MultiPoint", "coordinates": [[18, 59]] * 10_001})


def test_local_id() -> None:
    assert local_id({"upstream_id": "kaj3-2026"}, "ports") == "kaj3-2026"
    assert local_id({"id": "ports:kaj3-2026"}, "ports") == "kaj3-2026"
    assert local_id({}, "ports") is None
    with pytest.raises(NoticeInvalid) as exc:
        local_id({"id": "other:kaj", "upstream_id": "a b"}, "ports")
    assert set(exc.value.fields) == {"id", "upstream_id"}
    with pytest.raises(NoticeInvalid, match="id and upstream_id differ"):
        local_id({"id": "a", "upstream_id": "b"}, "ports")


def test_merge_patch_and_diff() -> None:
    old = validate(body())
    new = validate(merge_patch(old, {"header": {"en": None, "sv": "Kaj 3 öppen"}, "severity": "INFO"}))
    assert new["header"] == {"sv": "Kaj 3 öppen"}
    assert diff(old, new) == {
        "header.en": {"from": "Frihamnen quay 3 closed", "to": None},
        "header.sv": {"from": "Frihamnen kaj 3 stängd", "to": "Kaj 3 öppen"},
        "severity": {"from": "WARNING", "to": "INFO"},
    }
    assert diff(new, new) == {}
    created = diff(None, new)
    assert created["header.sv"] == {"from": None, "to": "Kaj 3 öppen"} and "description" not in created


def test_to_disruption() -> None:
    fields = validate(body())
    d = to_disruption("ports-of-stockholm", "kaj3", fields, revision=2, now=NOW, created=NOW)
    assert d.id == "ports-of-stockholm:kaj3" and d.source == "ports-of-stockholm"
    assert d.source_type == "manual" and d.upstream_id == "kaj3" and d.version == "2"
    assert d.status == "active" and d.modes == ("ferry", "shipping")
    assert d.affected[0].type == "port" and d.geometry is not None
    assert d.to_json()["header"] == fields["header"]
