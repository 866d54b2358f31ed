"""travelinfo.geo: circles, containment, the default Stockholm area."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from travelinfo.geo import (
    STOCKHOLM_AREA,
    STOCKHOLM_BBOX,
    circle_polygon,
    in_area,
    point_in_bbox,
    point_in_polygon,
)
from travelinfo.model import Disruption

FURUSUND = {"type": "Point", "coordinates": [18.92, 59.66]}
SANDHAMN = {"type": "Point", "coordinates": [18.91, 59.28]}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOTLAND = {"type": "Point", "coordinates": [18.3, 57.5]}


def test_circle_polygon() -> None:
    poly = circle_polygon(18.0, 59.0, 10.0)
    ring = poly["coordinates"][0]
    assert poly["type"] == "Polygon" and len(ring) == 33 and ring[0] == ring[-1]
    # Every vertex about 10 km from the centre (equirectangular check is good enough here).
    for lon, lat in ring:
        dx = (lon - 18.0) * 111.32 * math.cos(math.radians(59.0))
        dy = (lat - 59.0) * 110.57
        assert math.hypot(dx, dy) == pytest.approx(10.0, rel=0.01)
    with pytest.raises(ValueError):
        circle_polygon(18.0, 59.0, 0)


def test_points_and_polygons() -> None:
    assert point_in_bbox(18.92, 59.66, STOCKHOLM_BBOX)
    assert not point_in_bbox(18.3, 57.5, STOCKHOLM_BBOX)
    square = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]]
    assert point_in_polygon(1, 1, square)
    assert not point_in_polygon(5, 5, square)  # in the hole
    assert not point_in_polygon(11, 5, square)


def test_in_area() -> None:
    assert in_area(FURUSUND, STOCKHOLM_AREA)
    assert in_area(SANDHAMN, STOCKHOLM_BBOX)
    assert not in_area(GOTLAND, STOCKHOLM_AREA)
    assert not in_area(None, STOCKHOLM_AREA)
    # A line crossing the area with no vertex inside it still concerns it.
    crossing = {"type": "LineString", "coordinates": [[17.0, 59.5], [21.0, 59.5]]}
    assert in_area(crossing, STOCKHOLM_AREA)
    # A huge zone covering the whole area concerns it too.
    baltic = {"type": "Polygon", "coordinates": [[[10, 53], [31, 53], [31, 66], [10, 66], [10, 53]]]}
    assert in_area(baltic, STOCKHOLM_AREA)
    collection = {"type": "GeometryCollection", "geometries": [GOTLAND, FURUSUND]}
    assert in_area(collection, STOCKHOLM_AREA)
    assert in_area(circle_polygon(18.91, 59.28, 1.0), STOCKHOLM_AREA)


def test_in_area_accepts_a_stored_frozen_geometry() -> None:
    d = Disruption(
        id="s:1",
        source="s",
        source_type="navtex",
        upstream_id="1",
        updated_at=T0,
        first_seen=T0,
        last_seen=T0,
        status="active",
        modes=("shipping",),
        header={"en": "x"},
        geometry={"type": "MultiPoint", "coordinates": [[18.3, 57.5], [18.92, 59.66]]},
    )
    assert in_area(d.geometry, STOCKHOLM_AREA)
