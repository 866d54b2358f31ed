"""The reference geometry: every GTFS trip pattern as a line in metres, in one STRtree.

Built once per GTFS load (off the event loop, by whoever loads the reference data) and
installed process-wide, like the line names of `travelinfo.filters.lines`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString, Point, shape
from shapely.geometry.base import BaseGeometry

from travelinfo.model import thaw

EARTH_RADIUS_M = 6_371_008.8


class StopLike(Protocol):
    """What the index reads of a stops.txt row."""

    @property
    def name(self) -> str: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...


class PatternLike(Protocol):
    """What the index reads of a trip pattern (travelinfo.ingest.gtfs_static.Pattern)."""

    @property
    def route_id(self) -> str: ...
    @property
    def direction_id(self) -> int | None: ...
    @property
    def headsign(self) -> str: ...
    @property
    def shape(self) -> tuple[tuple[float, float], ...]: ...
    @property
    def stop_ids(self) -> tuple[str, ...]: ...


class FeedLike(Protocol):
    """A loaded GTFS feed (travelinfo.ingest.gtfs_static.GtfsStatic)."""

    @property
    def routes(self) -> Mapping[str, Any]: ...
    @property
    def stops(self) -> Mapping[str, Any]: ...
    @property
    def patterns(self) -> tuple[Any, ...]: ...


@dataclass(frozen=True, slots=True)
class Projection:
    """A local equirectangular projection (metres) around the feed: under 1 % error over 100 km."""

    lon0: float
    lat0: float

    def forward(self, coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """(lon, lat) rows to (x, y) metres."""
        k = math.pi / 180 * EARTH_RADIUS_M
        out = np.empty_like(coords, dtype=float)
        out[:, 0] = (coords[:, 0] - self.lon0) * k * math.cos(math.radians(self.lat0))
        out[:, 1] = (coords[:, 1] - self.lat0) * k
        return out

    def geometry(self, geojson: Mapping[str, Any]) -> BaseGeometry:
        """A GeoJSON geometry (WGS 84) as a valid shapely geometry in metres.

        Upstream polygons may cross themselves (a bow-tie warning area): GEOS would refuse
        them in an intersection, so they are repaired (`make_valid`) here, once.
        """
        if geojson.get("type") == "GeometryCollection":
            parsed = shape(thaw(geojson))
        else:  # the frozen coordinates are plain tuples shapely reads as they are
            parsed = shape({"type": geojson.get("type"), "coordinates": geojson.get("coordinates")})
        geom = shapely.transform(parsed, self.forward)
        return geom if geom.is_valid else shapely.make_valid(geom)

    def point(self, lon: float, lat: float) -> Point:
        x, y = self.forward(np.array([[lon, lat]], dtype=float))[0]
        return Point(float(x), float(y))


@dataclass(frozen=True, slots=True)
class IndexedPattern:
    """One pattern of the index: its route's names and mode, and its stops in metres."""

    route_id: str
    short_name: str
    long_name: str
    mode: str | None
    direction_id: int | None
    headsign: str
    from_shape: bool  # False: the line joins the stops (the feed has no shapes.txt)
    stops: tuple[tuple[str, str, Point], ...]  # (stop id, name, position)
    stop_points: np.ndarray[Any, Any]  # the positions alone (vectorised distance tests)

    @property
    def name(self) -> str:
        """The line's short name (what people say), else its long name, else its id."""
        return self.short_name or self.long_name or self.route_id


@dataclass(frozen=True, slots=True)
class ReferenceIndex:
    """Patterns, their lines (metres) and the STRtree over them; `generation` changes per build."""

    projection: Projection
    patterns: tuple[IndexedPattern, ...]
    lines: np.ndarray[Any, Any]  # shapely LineStrings, parallel to `patterns`
    tree: STRtree
    generation: int

    def __len__(self) -> int:
        return len(self.patterns)


_generation = 0
_lock = threading.Lock()


def build_index(
    feed: FeedLike, mode_of: Any, patterns: Iterable[PatternLike] | None = None
) -> ReferenceIndex:
    """Index every pattern of `feed` with at least two positions (shape points, else stops)."""
    global _generation
    rows: list[IndexedPattern] = []
    lines: list[LineString] = []
    raw: list[tuple[PatternLike, np.ndarray[Any, Any], tuple[tuple[str, str, float, float], ...]]] = []
    for p in patterns if patterns is not None else feed.patterns:
        stops = tuple(
            (sid, s.name, s.lon, s.lat)
            for sid in p.stop_ids
            if (s := feed.stops.get(sid)) is not None and s.lat is not None and s.lon is not None
        )
        coords = p.shape if len(p.shape) >= 2 else tuple((lon, lat) for _, _, lon, lat in stops)
        if len(coords) >= 2:
            raw.append((p, np.asarray(coords, dtype=float), stops))
    if raw:
        every = np.concatenate([c for _, c, _ in raw])
        projection = Projection(float(every[:, 0].mean()), float(every[:, 1].mean()))
    else:
        projection = Projection(18.07, 59.33)  # Stockholm: an empty index still projects
    for p, coords, stops in raw:
        route = feed.routes.get(p.route_id)
        lonlat = np.array([(lon, lat) for _, _, lon, lat in stops], dtype=float).reshape(-1, 2)
        points = np.asarray(shapely.points(projection.forward(lonlat)), dtype=object).reshape(-1)
        rows.append(
            IndexedPattern(
                route_id=p.route_id,
                short_name=route.short_name if route else "",
                long_name=route.long_name if route else "",
                mode=mode_of(route.route_type) if route else None,
                direction_id=p.direction_id,
                headsign=p.headsign,
                from_shape=len(p.shape) >= 2,
                stops=tuple((sid, name, pt) for (sid, name, _, _), pt in zip(stops, points, strict=True)),
                stop_points=points,
            )
        )
        lines.append(LineString(projection.forward(coords)))
    array = np.empty(len(lines), dtype=object)
    array[:] = lines
    with _lock:
        _generation += 1
        generation = _generation
    return ReferenceIndex(projection, tuple(rows), array, STRtree(array), generation)


_current: ReferenceIndex | None = None


def install(index: ReferenceIndex | None) -> None:
    """Make `index` the process's reference geometry (None: no inference)."""
    global _current
    _current = index


def current() -> ReferenceIndex | None:
    """The installed reference geometry, None before the GTFS static data loaded."""
    return _current
