"""Incident fusion: items from different sources that are one real-world event, grouped.

Two items are linked when a source says so (`related`), or when their validity overlaps, their
causes agree and either their places lie within `fuse_distance_m` or one names the other's
road, cause and place (an SL text "because of an accident on E4 at Järva krog") or a line the
other is inferred to affect. Linked items form one incident whose id comes from its earliest
member, so it stays while that member is stored. Fusion never changes an item.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from travelinfo.filters.lines import norm, road_key
from travelinfo.impacts.index import Projection
from travelinfo.model import Disruption
from travelinfo.settings import ImpactSettings

LOOSE_CAUSES = ("UNKNOWN_CAUSE", "OTHER_CAUSE")
# Words naming each cause in Swedish and English texts (an SL alert names the road event's cause).
CAUSE_WORDS = {
    "ACCIDENT": ("olycka", "trafikolycka", "accident", "krock", "kollision", "collision"),
    "CONSTRUCTION": ("vägarbete", "arbete", "ombyggnad", "roadwork", "road work", "construction"),
    "MAINTENANCE": ("vägarbete", "arbete", "underhåll", "roadwork", "road work", "maintenance"),
    "WEATHER": ("väder", "storm", "snö", "halka", "is", "weather", "snow", "ice", "wind"),
    "POLICE_ACTIVITY": ("polis", "police"),
    "MEDICAL_EMERGENCY": ("sjukdomsfall", "ambulans", "medical"),
    "TECHNICAL_PROBLEM": ("fel", "fault", "failure", "teknisk"),
}
_ROAD_TOKEN = re.compile(r"\b(?:[EeRr]\s?\d{1,3}|väg\s?\d{1,4}|road\s?\d{1,4})\b")
_PLACE = re.compile(
    r"\b(?:vid|vid trafikplats|mellan|och|near|at|between|and|i höjd med)\s+"
    r"((?:[A-ZÅÄÖ][\wåäöé-]+)(?:\s+[a-zåäö][\wåäöé-]+)?(?:\s+[A-ZÅÄÖ][\wåäöé-]+)?)"
)


@dataclass(frozen=True, slots=True)
class Incident:
    """One real-world event: its members (each keeps its own source and text) and why they link."""

    id: str
    members: tuple[str, ...]  # the earliest first
    status: str  # active when any member is, else planned when any is, else ended
    links: tuple[tuple[str, str, str], ...]  # (item, item, reason): related | place | text

    def to_json(self, item_id: str | None = None) -> dict[str, Any]:
        """The public JSON; `related` names the other members when given an item."""
        data: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "members": list(self.members),
            "links": [{"a": a, "b": b, "reason": r} for a, b, r in self.links],
        }
        if item_id is not None:
            data["related"] = [m for m in self.members if m != item_id]
        return data


def _window(d: Disruption) -> tuple[float, float]:
    starts = [p.start.timestamp() for p in d.periods] or [d.first_seen.timestamp()]
    ends = [p.end.timestamp() if p.end else float("inf") for p in d.periods] or [float("inf")]
    end = max(ends)
    if d.status == "ended":
        end = min(end, d.last_seen.timestamp())
    return min(starts), end


def _texts(d: Disruption) -> str:
    return " ".join(t for texts in (d.header, d.description, d.location_text) for t in texts.values())


def _causes_agree(a: Disruption, b: Disruption) -> bool:
    return a.cause == b.cause or a.cause in LOOSE_CAUSES or b.cause in LOOSE_CAUSES


def places_of(d: Disruption) -> set[str]:
    """Place names a road item's texts give after `vid`, `mellan`, `at`... (casefolded)."""
    names: set[str] = set()
    for texts in (d.location_text, d.header):
        for text in texts.values():
            names.update(m.group(1).casefold() for m in _PLACE.finditer(text))
    return {n for n in names if len(n) >= 4}


def _names_road_event(t: Disruption, r: Disruption, text: str, routes_hit: set[str]) -> int:
    """0: `t` does not refer to road event `r`; 1: by road, cause and a line; 2: and the place."""
    roads = {road_key(a.id) for a in r.affected if a.type == "road"} | {
        road_key(a.name) for a in r.affected if a.type == "road" and a.name
    }
    named = {road_key(m.group(0)) for m in _ROAD_TOKEN.finditer(text)}
    words = CAUSE_WORDS.get(r.cause, ())
    low = text.casefold()
    if not roads & named or not any(re.search(rf"\b{re.escape(w)}\b", low) for w in words):
        return 0
    if any(p in low for p in places_of(r)):
        return 2
    lines = {norm(a.id) for a in t.affected if a.type == "route"}
    return 1 if lines & routes_hit else 0


def _geometry(d: Disruption, projection: Projection) -> BaseGeometry | None:
    if d.geometry is None:
        return None
    try:
        return projection.geometry(d.geometry)
    except (ValueError, TypeError, shapely.errors.GEOSException):
        return None


def fuse(
    items: Sequence[Disruption],
    s: ImpactSettings,
    projection: Projection,
    routes_hit: Callable[[Disruption], Iterable[str]] = lambda d: (),
) -> dict[str, Incident]:
    """Each fused item's incident, by item id (items alone are left out)."""
    if not s.enabled or len(items) < 2:
        return {}
    by_id = {d.id: d for d in items}
    windows = {d.id: _window(d) for d in items}
    links: list[tuple[str, str, str]] = []

    def compatible(a: Disruption, b: Disruption) -> bool:
        (a0, a1), (b0, b1) = windows[a.id], windows[b.id]
        slack = s.fuse_slack
        return a.source != b.source and a0 - slack <= b1 and b0 - slack <= a1 and _causes_agree(a, b)

    for d in items:  # what the sources said
        links += [(d.id, r, "related") for r in d.related if r in by_id and r != d.id]
    geoms = [(d, g) for d in items if (g := _geometry(d, projection)) is not None]
    if geoms:
        tree = STRtree([g for _, g in geoms])
        left, right = tree.query([g for _, g in geoms], predicate="dwithin", distance=s.fuse_distance_m)
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            a, b = geoms[i][0], geoms[j][0]
            if i < j and compatible(a, b):
                first, second = sorted((a.id, b.id))  # one orientation, whatever the input order
                links.append((first, second, "place"))
    roads = [d for d in items if "road" in d.modes and d.geometry is not None]
    hits = {r.id: {norm(x) for x in routes_hit(r)} for r in roads}
    for t in items:
        if "road" in t.modes:
            continue
        text = _texts(t)
        scored = [
            (level, r)
            for r in roads
            if compatible(t, r) and (level := _names_road_event(t, r, text, hits[r.id]))
        ]
        best = max((level for level, _ in scored), default=0)
        links += [(t.id, r.id, "text") for level, r in scored if level == best]
    return _groups(by_id, links)


def _groups(by_id: Mapping[str, Disruption], links: list[tuple[str, str, str]]) -> dict[str, Incident]:
    parent = {i: i for i in by_id}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b, _ in links:
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for i in by_id:
        groups.setdefault(root(i), []).append(i)
    out: dict[str, Incident] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        ordered = sorted(members, key=lambda i: (_first(by_id[i]), i))
        statuses = {by_id[m].status for m in ordered}
        status = next((st for st in ("active", "planned") if st in statuses), "ended")
        ident = "incident-" + hashlib.blake2b(ordered[0].encode(), digest_size=8).hexdigest()
        mine = set(ordered)
        own = tuple(sorted({(a, b, r) for a, b, r in links if a in mine}))
        incident = Incident(ident, tuple(ordered), status, own)
        out.update((m, incident) for m in ordered)
    return out


def _first(d: Disruption) -> datetime:
    return d.first_seen
