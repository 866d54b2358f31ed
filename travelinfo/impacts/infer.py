"""Impact inference: which lines a road, shipping or warning-area event may affect.

Pure functions of one item, the reference index and the settings. Nothing here changes the
item: an inferred impact is a separate record, marked inferred (docs/model.md, `impacts`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from travelinfo.impacts.index import IndexedPattern, ReferenceIndex
from travelinfo.model import Disruption
from travelinfo.settings import ImpactSettings

COMPASS = {
    "northbound": (0.0, 1.0),
    "southbound": (0.0, -1.0),
    "eastbound": (1.0, 0.0),
    "westbound": (-1.0, 0.0),
}
# The direction words of road texts when `affected` says nothing (Trafikverket: "E4 norrgående").
_TEXT_DIRECTIONS = (
    (re.compile(r"\b(norrgående|northbound)\b", re.I), "northbound"),
    (re.compile(r"\b(södergående|sydgående|southbound)\b", re.I), "southbound"),
    (re.compile(r"\b(östgående|eastbound)\b", re.I), "eastbound"),
    (re.compile(r"\b(västgående|westbound)\b", re.I), "westbound"),
)
_BOTH_WAYS = re.compile(r"\b(båda riktningar(na)?|i båda riktningarna|both directions|both ways)\b", re.I)
STOP_MARGIN_M = 50.0  # stops stand beside the road: a stop this far outside the corridor counts


@dataclass(frozen=True, slots=True)
class Impact:
    """One inferred impact: a line (route and direction) an item may affect, and why."""

    route_id: str
    name: str
    mode: str | None
    direction_id: int | None
    headsign: str
    direction: str | None  # the line's compass heading along the stretch
    stops: tuple[tuple[str, str], ...]  # (stop id, name) within the stretch
    overlap_m: int
    confidence: float
    reason: str  # runs_along | passes_point | crosses_area | stops_in_area

    def to_json(self) -> dict[str, Any]:
        """The public JSON of one impact (docs/model.md)."""
        return {
            "type": "route",
            "route_id": self.route_id,
            "name": self.name,
            "mode": self.mode,
            "direction_id": self.direction_id,
            "headsign": self.headsign or None,
            "direction": self.direction,
            "stops": [{"id": i, "name": n} for i, n in self.stops],
            "overlap_m": self.overlap_m,
            "confidence": self.confidence,
            "reason": self.reason,
            "inferred": True,
        }


def event_direction(d: Disruption) -> str | None:
    """The road event's direction: from its affected entries, else its texts; None when unknown."""
    for a in d.affected:
        if a.direction in ("positive", "negative", *COMPASS):
            return a.direction
    for texts in (d.header, d.location_text, d.description):
        for text in texts.values():
            if _BOTH_WAYS.search(text):
                return None
            words = {word for pattern, word in _TEXT_DIRECTIONS if pattern.search(text)}
            if len(words) == 1:
                return words.pop()
            if words:
                return None  # "norrgående och södergående": both ways
    return None


def _compass(dx: float, dy: float) -> str:
    angle = math.degrees(math.atan2(dx, dy)) % 360  # 0 = north, clockwise
    return ("northbound", "eastbound", "southbound", "westbound")[int(((angle + 45) % 360) // 90)]


def _parts(geom: BaseGeometry) -> Iterator[BaseGeometry]:
    if isinstance(geom, shapely.MultiLineString | shapely.GeometryCollection | shapely.MultiPolygon):
        for g in geom.geoms:
            yield from _parts(g)
    elif isinstance(geom, shapely.MultiPoint):
        yield from geom.geoms
    elif not geom.is_empty:
        yield geom


def _stops(p: IndexedPattern, near: BaseGeometry, within_m: float) -> tuple[tuple[str, str], ...]:
    if not p.stops:
        return ()
    close = shapely.dwithin(near, p.stop_points, within_m)
    return tuple((sid, name) for (sid, name, _), hit in zip(p.stops, close, strict=True) if hit)


def _candidates(index: ReferenceIndex, area: BaseGeometry, modes: tuple[str, ...] | None) -> list[int]:
    found = index.tree.query(area, predicate="intersects")
    return [int(i) for i in found if modes is None or index.patterns[int(i)].mode in modes]


def _along(road: LineString, index: ReferenceIndex, s: ImpactSettings, direction: str | None) -> list[Impact]:
    """Patterns running along `road` inside its corridor, heading along it (not across).

    Each piece of a pattern inside the corridor is measured by its projection on the road: a
    line running along moves as far along the road as it travels; one crossing on a bridge or
    in a tunnel barely moves along it, whatever its length inside the corridor.
    """
    corridor = road.buffer(s.buffer_m, cap_style="flat")
    candidates = np.array(_candidates(index, corridor, tuple(s.road_modes)), dtype=int)
    if not len(candidates):
        return []
    clipped = shapely.intersection(index.lines[candidates], corridor)
    parts, parent = shapely.get_parts(clipped, return_index=True)
    keep = shapely.get_type_id(parts) == 1  # LineStrings (a touch is a Point: nothing runs along)
    parts, parent = parts[keep], parent[keep]
    xy, owner = shapely.get_coordinates(parts, return_index=True)
    if len(xy) < 2:
        return []
    points = shapely.points(xy)
    proj = np.asarray(shapely.line_locate_point(road, points), dtype=float)
    # GEOS may return a clipped piece reversed: orient each step as the pattern travels.
    travel = np.asarray(
        shapely.line_locate_point(index.lines[candidates][parent[owner]], points), dtype=float
    )
    forward = np.where(travel[1:] >= travel[:-1], 1.0, -1.0)
    step = (xy[1:] - xy[:-1]) * forward[:, None]
    length = np.hypot(step[:, 0], step[:, 1])
    along = (proj[1:] - proj[:-1]) * forward
    cos_tol = math.cos(math.radians(s.heading_tolerance))
    ok = (owner[1:] == owner[:-1]) & (length > 1e-6) & (np.abs(along) >= cos_tol * length)
    if direction in COMPASS:
        ok &= step @ np.asarray(COMPASS[direction]) > 0
    elif direction == "positive":
        ok &= along > 0
    elif direction == "negative":
        ok &= along < 0
    seg_of = parent[owner[:-1]]
    n = len(candidates)
    runs = {
        sign: (
            np.bincount(seg_of, weights=np.where(ok & (sign * along > 0), np.abs(along), 0.0), minlength=n),
            np.bincount(seg_of, weights=np.where(ok & (sign * along > 0), step[:, 0], 0.0), minlength=n),
            np.bincount(seg_of, weights=np.where(ok & (sign * along > 0), step[:, 1], 0.0), minlength=n),
        )
        for sign in (1, -1)
    }
    required = min(s.min_overlap_m, s.min_overlap_share * road.length)
    out = []
    for k, i in enumerate(candidates):
        sign = 1 if runs[1][0][k] >= runs[-1][0][k] else -1
        overlap = float(runs[sign][0][k])
        if overlap <= 0 or overlap < required:
            continue
        p = index.patterns[int(i)]
        share = min(1.0, overlap / max(road.length, 1.0))
        confidence = (0.6 + 0.4 * share) * (1.0 if p.from_shape else 0.7)
        out.append(
            Impact(
                p.route_id, p.name, p.mode, p.direction_id, p.headsign,
                direction if direction in COMPASS else _compass(runs[sign][1][k], runs[sign][2][k]),
                _stops(p, road, s.buffer_m + STOP_MARGIN_M), round(overlap), round(confidence, 2),
                "runs_along",
            )
        )  # fmt: skip
    return out


def _heading_at(line: LineString, at: float) -> np.ndarray[Any, Any]:
    a = line.interpolate(max(0.0, at - 10.0))
    b = line.interpolate(min(line.length, at + 10.0))
    return np.array([b.x - a.x, b.y - a.y])


def _near_point(pt: Point, index: ReferenceIndex, s: ImpactSettings, direction: str | None) -> list[Impact]:
    """Patterns passing within `point_radius_m`, heading the stated way when one is stated,
    and along the road's axis there (see `_road_axis`)."""
    near = []
    cos_tol = math.cos(math.radians(s.compass_tolerance))
    for i in _candidates(index, pt.buffer(s.point_radius_m), tuple(s.road_modes)):
        p, line = index.patterns[i], index.lines[i]
        if not p.from_shape:
            continue  # a straight line between two stops says nothing about the streets near a point
        vec = _heading_at(line, line.project(pt))
        norm = float(np.hypot(*vec))
        if norm == 0:
            continue
        if direction in COMPASS and float(np.dot(vec / norm, COMPASS[direction])) < cos_tol:
            continue
        near.append((p, line, vec / norm))
    axis = _road_axis([v for _, _, v in near], s.heading_tolerance)
    out = []
    for p, line, vec in near:
        if axis is not None and abs(float(np.dot(vec, axis))) < math.cos(math.radians(s.heading_tolerance)):
            continue  # across the axis most lines here share: a bridge or a junction crossing
        confidence = 0.5 + 0.4 * (1 - line.distance(pt) / s.point_radius_m)
        out.append(
            Impact(
                p.route_id, p.name, p.mode, p.direction_id, p.headsign,
                direction if direction in COMPASS else _compass(*vec),
                _stops(p, pt, 4 * s.point_radius_m + STOP_MARGIN_M), 0, round(confidence, 2), "passes_point",
            )
        )  # fmt: skip
    return out


def _road_axis(headings: list[np.ndarray[Any, Any]], tolerance_deg: float) -> np.ndarray[Any, Any] | None:
    """The axis (unit vector, either sense) a strict majority of the lines near a point share.

    A point has no heading of its own. Where most lines passing it run along one axis (both
    carriageways of a motorway, two lines on it), that axis is taken as the road's and a line
    across it is crossing; without a strict majority (one line along, one across) none is.
    """
    cos_tol = math.cos(math.radians(tolerance_deg))
    best: tuple[int, np.ndarray[Any, Any] | None] = (0, None)
    for h in headings:
        count = sum(abs(float(np.dot(h, other))) >= cos_tol for other in headings)
        if count > best[0]:
            best = (count, h)
    return best[1] if best[0] * 2 > len(headings) and best[0] < len(headings) else None


def _area(area: BaseGeometry, index: ReferenceIndex, s: ImpactSettings, stops_only: bool) -> list[Impact]:
    """Ferries whose route enters a shipping area (or, `stops_only`, lines with stops inside)."""
    zone = area if stops_only else area.buffer(s.ferry_buffer_m)
    out = []
    modes = None if stops_only else ("ferry",)
    for i in _candidates(index, zone, modes):
        p, line = index.patterns[i], index.lines[i]
        stops = _stops(p, zone, 0.0)
        if stops_only and not stops:
            continue
        inside = line.intersection(zone).length
        reason = "stops_in_area" if stops_only else "crosses_area"
        confidence = (0.8 if stops_only else 0.9) * (1.0 if p.from_shape else 0.7)
        out.append(
            Impact(
                p.route_id, p.name, p.mode, p.direction_id, p.headsign,
                None, stops,  # an area stops a line whichever way it runs
                round(inside), round(confidence, 2), reason,
            )
        )  # fmt: skip
    return out


def kind_of(d: Disruption) -> str | None:
    """Which inference applies: `road`, `shipping`, `warning` (a CAP/VMA area) or None."""
    if d.public_warning:
        return "warning"
    if "shipping" in d.modes:
        return "shipping"
    if "road" in d.modes:
        return "road"
    return None


def infer(d: Disruption, index: ReferenceIndex | None, s: ImpactSettings) -> tuple[Impact, ...]:
    """The lines `d` may affect (merged per route and direction), most confident first."""
    kind = kind_of(d)
    if index is None or not s.enabled or d.geometry is None or kind is None or not len(index):
        return ()
    if kind != "warning" and d.effect not in s.road_effects:
        return ()
    try:
        geom = index.projection.geometry(d.geometry)
    except (ValueError, TypeError, shapely.errors.GEOSException):
        return ()
    found: list[Impact] = []
    direction = event_direction(d) if kind == "road" else None
    for part in _parts(geom):
        try:
            found += _infer_part(part, kind, index, s, direction)
        except shapely.errors.GEOSException:
            continue  # a degenerate part GEOS cannot cut: it infers nothing, the rest still does
    return _merge(found)


def _infer_part(
    part: BaseGeometry, kind: str, index: ReferenceIndex, s: ImpactSettings, direction: str | None
) -> list[Impact]:
    """The impacts of one simple part (polygon, line or point) of an item's geometry."""
    if kind == "warning":
        return _area(part, index, s, stops_only=True) if part.geom_type == "Polygon" else []
    if kind == "shipping":
        ok = part.geom_type in ("Polygon", "LineString")
        return _area(part, index, s, stops_only=False) if ok else []
    if isinstance(part, LineString) and part.length > 0:
        return _along(part, index, s, direction)
    if isinstance(part, Point):
        return _near_point(part, index, s, direction)
    return []


def _merge(found: list[Impact]) -> tuple[Impact, ...]:
    best: dict[tuple[str, int | None, str | None], Impact] = {}
    for imp in found:
        key = (imp.route_id, imp.direction_id, imp.direction)
        old = best.get(key)
        if old is None or (imp.overlap_m, imp.confidence) > (old.overlap_m, old.confidence):
            best[key] = imp
    return tuple(sorted(best.values(), key=lambda i: (-i.confidence, i.name, i.direction_id or 0)))
