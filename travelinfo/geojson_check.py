"""RFC 7946 GeoJSON geometry validation (pure): shapes, WGS 84 ranges, closed rings, bounded size."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

MAX_POSITIONS = 10_000
MAX_GEOMETRY_DEPTH = 3
GEOMETRY_TYPES: tuple[str, ...] = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon")
GEOMETRY_TYPES += ("MultiPolygon", "GeometryCollection")


class _GeoError(ValueError):
    pass


class _GeoCheck:
    """Walks one geometry: RFC 7946 shapes, WGS 84 ranges, closed rings, bounded size."""

    def __init__(self, max_positions: int = MAX_POSITIONS) -> None:
        self.positions = 0
        self.max_positions = max_positions

    def position(self, value: Any, where: str) -> None:
        if not isinstance(value, list | tuple) or len(value) not in (2, 3):
            raise _GeoError(f"{where}: a position must be [longitude, latitude] (or with altitude)")
        for n in value:
            if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n):
                raise _GeoError(f"{where}: coordinates must be finite numbers")
        lon, lat = value[0], value[1]
        if not -180 <= lon <= 180:
            raise _GeoError(f"{where}: longitude {lon} outside -180..180")
        if not -90 <= lat <= 90:
            raise _GeoError(f"{where}: latitude {lat} outside -90..90")
        self.positions += 1
        if self.positions > self.max_positions:
            raise _GeoError(f"more than {self.max_positions} positions")

    def array(self, value: Any, where: str, minimum: int, what: str) -> Any:
        # Tuples too: a parsed Disruption keeps its geometry frozen (tuples, read-only mappings).
        if not isinstance(value, list | tuple):
            raise _GeoError(f"{where}: must be an array of {what}")
        if len(value) < minimum:
            raise _GeoError(f"{where}: needs at least {minimum} {what}")
        return value

    def line(self, value: Any, where: str) -> None:
        for i, pos in enumerate(self.array(value, where, 2, "positions")):
            self.position(pos, f"{where}[{i}]")

    def polygon(self, value: Any, where: str) -> None:
        for r, ring in enumerate(self.array(value, where, 1, "linear rings")):
            at = f"{where}[{r}]"
            for i, pos in enumerate(self.array(ring, at, 4, "positions (a closed ring)")):
                self.position(pos, f"{at}[{i}]")
            if ring[0] != ring[-1]:
                raise _GeoError(f"{at}: linear ring is not closed (first and last positions differ)")

    def geometry(self, g: Any, where: str, depth: int) -> dict[str, Any]:
        # The concrete types first: the abstract-class check costs more, once per item.
        if not isinstance(g, dict | MappingProxyType) and not isinstance(g, Mapping):
            raise _GeoError(f"{where or 'geometry'} must be an object")
        kind = g.get("type")
        if kind in ("Feature", "FeatureCollection"):
            raise _GeoError(f"{where}type {kind} is not a geometry (send the geometry object itself)")
        if kind not in GEOMETRY_TYPES:
            raise _GeoError(f"{where}type {kind!r} is not one of {', '.join(GEOMETRY_TYPES)}")
        member = "geometries" if kind == "GeometryCollection" else "coordinates"
        extra = sorted(set(g) - {"type", member})
        if extra:
            raise _GeoError(f"{where}unexpected member {extra[0]!r} in a {kind}")
        if member not in g:
            raise _GeoError(f"{where}{kind} without {member!r}")
        at = f"{where}{member}"
        if kind == "GeometryCollection":
            if depth >= MAX_GEOMETRY_DEPTH:
                raise _GeoError(f"{where}GeometryCollections nested too deeply")
            parts = self.array(g[member], at, 1, "geometries")
            return {
                "type": kind,
                "geometries": [self.geometry(p, f"{at}[{i}].", depth + 1) for i, p in enumerate(parts)],
            }
        coords = g[member]
        if kind == "Point":
            self.position(coords, at)
        elif kind == "MultiPoint":
            for i, pos in enumerate(self.array(coords, at, 1, "positions")):
                self.position(pos, f"{at}[{i}]")
        elif kind == "LineString":
            self.line(coords, at)
        elif kind == "MultiLineString":
            for i, part in enumerate(self.array(coords, at, 1, "line strings")):
                self.line(part, f"{at}[{i}]")
        elif kind == "Polygon":
            self.polygon(coords, at)
        else:
            for i, part in enumerate(self.array(coords, at, 1, "polygons")):
                self.polygon(part, f"{at}[{i}]")
        return {"type": kind, "coordinates": coords}


def check_geometry(value: Any, max_positions: int = MAX_POSITIONS) -> dict[str, Any] | None:
    """The geometry if it is valid RFC 7946 GeoJSON in WGS 84 (None stays None); else ValueError.

    Notices use the default cap; parsers (travelinfo.ingest.parsers.vet) pass their own.
    """
    if value is None:
        return None
    try:
        return _GeoCheck(max_positions).geometry(value, "", 0)
    except _GeoError as exc:
        raise ValueError(f"invalid GeoJSON: {exc}") from None
