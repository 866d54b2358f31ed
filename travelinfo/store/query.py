"""Queries shared by every backend, the API, the pages and the push streams: filters, order, paging."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from travelinfo.filters import lines, search
from travelinfo.model import SEVERITY_RANK, Disruption, bbox_of
from travelinfo.vocab import schedules_match

ACTIVE_STATUSES = ("active", "planned")


@dataclass(frozen=True, slots=True)
class Query:
    """Filters shared by the store, the API, the pages and the push streams."""

    modes: tuple[str, ...] = ()
    status: tuple[str, ...] = ACTIVE_STATUSES
    sources: tuple[str, ...] = ()
    severity: str | None = None  # minimum
    bbox: tuple[float, float, float, float] | None = None
    route: str | None = None  # a line, or a comma list of lines (any of them: filters.table.names)
    inferred: bool = False  # `route` also matches lines inferred from the item (travelinfo.impacts)
    stop: str | None = None
    road: str | None = None  # a road, or a comma list of roads (any of them)
    area: str | None = None
    text: str | None = None
    search: str | None = None  # the search box: a line, road, stop, place or mode name
    active_at: datetime | None = None
    ids: tuple[str, ...] = ()
    # The outputs' home region: items whose geometry lies wholly outside it are left out
    # (e.g. NAVTEX warnings for the Bothnian Bay); items without geometry stay.
    region: tuple[float, float, float, float] | None = None
    limit: int | None = None
    cursor: str | None = None

    def matches(self, d: Disruption) -> bool:
        """Whether `d` passes every filter (paging aside)."""
        if self.status and d.status not in self.status:
            return False
        if self.modes and not set(self.modes) & set(d.modes):
            return False
        if self.sources and d.source not in self.sources:
            return False
        if self.ids and d.id not in self.ids:
            return False
        if self.severity and SEVERITY_RANK[d.severity] < SEVERITY_RANK[self.severity]:
            return False
        if self.bbox and not _bbox_overlaps(self.bbox, d.geometry):
            return False
        if self.region and d.geometry and not _bbox_overlaps(self.region, d.geometry):
            return False
        if self.route and not lines.affects_any_route(d, self.route.split(","), self.inferred):
            return False
        if self.stop and not lines.affects_stop(d, self.stop):
            return False
        if self.road and not lines.affects_any_road(d, self.road.split(",")):
            return False
        if self.area and not _mentions_area(d, self.area):
            return False
        if self.text and not _has_text(d, self.text):
            return False
        if self.search and not search.matches(d, self.search):
            return False
        return not (self.active_at and not _active_at(d, self.active_at))

    def narrow(self) -> Query:
        """The same filters without paging (for counting and streams)."""
        return dataclasses.replace(self, limit=None, cursor=None)


def _bbox_overlaps(bbox: tuple[float, float, float, float], geometry: Any) -> bool:
    box = bbox_of(geometry)
    if box is None:
        return False
    return not (box[2] < bbox[0] or box[0] > bbox[2] or box[3] < bbox[1] or box[1] > bbox[3])


def _mentions_area(d: Disruption, area: str) -> bool:
    want = area.strip().casefold()
    if any(a.type == "area" and want in (a.id.casefold(), (a.name or "").casefold()) for a in d.affected):
        return True
    return any(want in t.casefold() for t in d.location_text.values()) or any(
        want in t.casefold() for t in d.header.values()
    )


def _has_text(d: Disruption, text: str) -> bool:
    want = text.strip().casefold()
    for texts in (d.header, d.description, d.location_text):
        if any(want in t.casefold() for t in texts.values()):
            return True
    return want in d.id.casefold() or any(want in a.id.casefold() for a in d.affected)


def _active_at(d: Disruption, at: datetime) -> bool:
    if not d.periods:
        return d.status == "active"
    return any(p.contains(at) for p in d.periods) and schedules_match(d.schedules, at)


# Public warnings lead every list (as they lead the pages and the feeds): their rank is lifted
# above every severity (ranks 4-7), so the three-part cursor format stays the same.
WARNING_RANK = len(SEVERITY_RANK)


def sort_key(d: Disruption) -> tuple[int, float, str]:
    """Stable list order: public warnings first, then most severe, then newest, then id."""
    rank = SEVERITY_RANK[d.severity] + (WARNING_RANK if d.public_warning else 0)
    return (-rank, -d.updated_at.timestamp(), d.id)


def encode_cursor(key: tuple[int, float, str]) -> str:
    """The one cursor format of the API and the pages: `rank~-timestamp~hex(id)` (no conversion)."""
    return f"{-key[0]}~{-key[1]!r}~{key[2].encode().hex()}"


def decode_cursor(cursor: str) -> tuple[int, float, str]:
    """The sort position of a cursor; raise ValueError on a cursor we did not make."""
    try:
        rank, ts, ident = cursor.split("~")
        t = float(ts)
        if math.isnan(t) or not ident.isascii():
            raise ValueError("nan")
        return -int(rank), -t, bytes.fromhex(ident).decode("utf-8", "replace")
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc


def select(items: Iterable[Disruption], q: Query) -> tuple[list[Disruption], str | None]:
    """Filter, order and page `items`; returns the page and the next cursor (None at the end)."""
    chosen = sorted((d for d in items if q.matches(d)), key=sort_key)
    if q.cursor:
        after = decode_cursor(q.cursor)
        chosen = [d for d in chosen if sort_key(d) > after]
    if q.limit is not None and len(chosen) > q.limit:
        page = chosen[: q.limit]
        return page, encode_cursor(sort_key(page[-1]))
    return chosen, None
