"""Small geometry helpers (WGS 84, GeoJSON `[lon, lat]`): circles, containment, the Stockholm area."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from travelinfo.model import bbox_of

Coord = tuple[float, float]
BBox = tuple[float, float, float, float]
Ring = Sequence[Sequence[float]]

EARTH_RADIUS_KM = 6371.0088

# Stockholm archipelago and its approaches (Arholma to Landsort, Mälaren's eastern end to
# Söderarm/Almagrundet): what the Stockholm outputs show by default.
STOCKHOLM_BBOX: BBox = (17.8, 58.7, 19.9, 60.3)
STOCKHOLM_AREA: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [
            [17.8, 58.7],
            [19.9, 58.7],
            [19.9, 60.3],
            [17.8, 60.3],
            [17.8, 58.7],
        ]
    ],
}


def circle_polygon(lon: float, lat: float, radius_km: float, sides: int = 32) -> dict[str, Any]:
    """A closed GeoJSON Polygon approximating a circle (great-circle radius in km)."""
    if radius_km <= 0:
        raise ValueError(f"radius must be positive, got {radius_km}")
    lat1, lon1 = math.radians(lat), math.radians(lon)
    delta = radius_km / EARTH_RADIUS_KM
    ring: list[list[float]] = []
    for i in range(sides):
        bearing = 2 * math.pi * i / sides
        lat2 = math.asin(
            math.sin(lat1) * math.cos(delta) + math.cos(lat1) * math.sin(delta) * math.cos(bearing)
        )
        lon2 = lon1 + math.atan2(
            math.sin(bearing) * math.sin(delta) * math.cos(lat1),
            math.cos(delta) - math.sin(lat1) * math.sin(lat2),
        )
        lon_deg = (math.degrees(lon2) + 540.0) % 360.0 - 180.0
        ring.append([round(lon_deg, 6), round(math.degrees(lat2), 6)])
    ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def point_in_bbox(lon: float, lat: float, bbox: BBox) -> bool:
    """True when (lon, lat) lies in the (min lon, min lat, max lon, max lat) box, edges included."""
    return bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


def point_in_ring(lon: float, lat: float, ring: Ring) -> bool:
    """Even-odd ray casting against one linear ring."""
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i][0], ring[i][1]
        x2, y2 = ring[(i + 1) % n][0], ring[(i + 1) % n][1]
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x_cross:
                inside = not inside
    return inside


def point_in_polygon(lon: float, lat: float, rings: Sequence[Ring]) -> bool:
    """True when the point is inside the outer ring and outside every hole."""
    if not rings or not point_in_ring(lon, lat, rings[0]):
        return False
    return not any(point_in_ring(lon, lat, hole) for hole in rings[1:])


def _polygons(geometry: Mapping[str, Any]) -> Iterator[Sequence[Ring]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        yield geometry["coordinates"]
    elif kind == "MultiPolygon":
        yield from geometry["coordinates"]
    elif kind == "GeometryCollection":
        for part in geometry.get("geometries", ()):
            yield from _polygons(part)


def _vertices(geometry: Mapping[str, Any]) -> Iterator[Coord]:
    if geometry.get("type") == "GeometryCollection":
        for part in geometry.get("geometries", ()):
            yield from _vertices(part)
        return

    def walk(coords: Any) -> Iterator[Coord]:
        if coords and isinstance(coords[0], int | float):
            yield float(coords[0]), float(coords[1])
        else:
            for c in coords or ():
                yield from walk(c)

    yield from walk(geometry.get("coordinates"))


def _segments(geometry: Mapping[str, Any]) -> Iterator[tuple[Coord, Coord]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    lines: list[Any] = []
    if kind == "LineString":
        lines = [coords]
    elif kind in ("MultiLineString", "Polygon"):
        lines = list(coords or ())
    elif kind == "MultiPolygon":
        lines = [ring for poly in coords or () for ring in poly]
    elif kind == "GeometryCollection":
        for part in geometry.get("geometries", ()):
            yield from _segments(part)
    for line in lines:
        for a, b in itertools.pairwise(line):
            yield (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))


def _cross(o: Coord, a: Coord, b: Coord) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_intersect(p1: Coord, p2: Coord, q1: Coord, q2: Coord) -> bool:
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    return (d1 > 0) != (d2 > 0) and (d3 > 0) != (d4 > 0)


def _as_polygon(area: Mapping[str, Any] | BBox) -> Mapping[str, Any]:
    if isinstance(area, tuple):
        w, s, e, n = area
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    return area


def in_area(geometry: Mapping[str, Any] | None, area: Mapping[str, Any] | BBox) -> bool:
    """True when `geometry` touches `area` (a GeoJSON (Multi)Polygon or a bbox tuple).

    Intersection, not containment: a warning zone that overlaps the area or covers it
    entirely concerns it too. None or an empty geometry is never in an area.
    """
    if not geometry:
        return False
    area_geom = _as_polygon(area)
    area_box = bbox_of(area_geom)
    geom_box = bbox_of(geometry)
    if area_box is None or geom_box is None:
        return False
    if (
        geom_box[2] < area_box[0]
        or geom_box[0] > area_box[2]
        or geom_box[3] < area_box[1]
        or geom_box[1] > area_box[3]
    ):
        return False
    area_polys = list(_polygons(area_geom))
    if any(point_in_polygon(x, y, p) for x, y in _vertices(geometry) for p in area_polys):
        return True
    geom_polys = list(_polygons(geometry))
    if any(point_in_polygon(x, y, p) for x, y in _vertices(area_geom) for p in geom_polys):
        return True
    area_segments = list(_segments(area_geom))
    return any(_segments_intersect(a, b, c, d) for a, b in _segments(geometry) for c, d in area_segments)
