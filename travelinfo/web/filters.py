"""Filters shared by the commuters' page and the feeds: parsed from the query string, normalised."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from multidict import MultiMapping

from travelinfo.filters import lines as names
from travelinfo.filters import table
from travelinfo.model import MODES, SEVERITIES, Disruption
from travelinfo.runtime.server import BadParameter
from travelinfo.store.base import Query

WHENS = ("now", "24h", "planned")
MAX_TEXT = 100  # longer free-text filters are certainly not a line, road or area name
# The order the issue asks the page to group in (rail-bound urban modes before buses).
GROUP_ORDER = ("road", "metro", "tram", "bus", "rail", "ferry", "shipping", "unknown")  # unknown: issue 19


@dataclass(frozen=True, slots=True)
class Filters:
    """What the reader asked to see; `key()` is the normalised cache-key part."""

    modes: tuple[str, ...] = ()
    line: str = ""
    road: str = ""
    area: str = ""
    severity: str = ""
    when: str = ""
    search: str = ""  # the search box: a line, road, stop, place or mode name (filters.search)
    inferred: bool = False  # `line` also matches lines inferred from road/shipping events

    def key(self) -> tuple[object, ...]:
        return (
            self.modes,
            self.line.casefold(),
            self.road.casefold(),
            self.area.casefold(),
            self.severity,
            self.when,
            self.search.casefold(),
            self.inferred,
        )

    def pairs(self) -> list[tuple[str, str]]:
        """Query-string pairs, in a fixed order (links and feed ids must not vary)."""
        out = [("mode", m) for m in self.modes]
        for name in ("line", "road", "area"):
            value = getattr(self, name)
            if value:
                out.append((name, value))
        if self.severity:
            out.append(("severity", self.severity.lower()))
        if self.when:
            out.append(("when", self.when))
        if self.search:
            out.append(("search", self.search))
        if self.inferred:
            out.append(("inferred", "true"))
        return out

    def qs(self, **extra: str | None) -> str:
        """`?a=b&...` for these filters plus `extra` (None values dropped); '' when empty."""
        pairs = self.pairs() + [(k, v) for k, v in extra.items() if v]
        return "?" + urlencode(pairs) if pairs else ""

    def with_mode(self, mode: str | None) -> Filters:
        """The same filters with one mode (or none): the plain links of the mode list."""
        modes = (mode,) if mode else ()
        return Filters(
            modes, self.line, self.road, self.area, self.severity, self.when, self.search, self.inferred
        )

    @property
    def empty(self) -> bool:
        return not self.pairs()

    @property
    def lines(self) -> tuple[str, ...]:
        """The names in `line` (a comma list: `14,13`)."""
        return tuple(x for x in self.line.split(",") if x)

    @property
    def roads(self) -> tuple[str, ...]:
        """The names in `road` (a comma list: `E4,E18`)."""
        return tuple(x for x in self.road.split(",") if x)

    def query(self, region: tuple[float, float, float, float] | None = None) -> Query:
        """The store query in the home `region` (the time window is applied by `window`)."""
        status = {"now": "active", "planned": "planned"}.get(self.when)  # `when` is the status alias
        several = len(self.lines) + len(self.roads) > 1  # any of them: AnyOf below
        raw = {
            "mode": ",".join(self.modes) or None,
            "status": status,
            "severity": self.severity or None,
            "route": None if several else self.line or None,  # `line` is the pages' alias of `route`
            "road": None if several else self.road or None,
            "area": self.area or None,
            "search": self.search or None,
            "inferred": "true" if self.inferred else None,
        }
        rows = [table.BY_NAME[name] for name in raw]
        kw = table.read_filters(raw, rows, region)
        return AnyOf(**kw, lines=self.lines, roads=self.roads) if several else Query(**kw)

    def window(self, items: Iterable[Disruption], now: datetime) -> list[Disruption]:
        """Keep what the time filter wants: `24h` = active now or starting within a day."""
        if self.when != "24h":
            return list(items)
        horizon = now + timedelta(hours=24)
        return [d for d in items if d.status == "active" or any(p.start < horizon for p in d.periods)]


@dataclass(frozen=True, slots=True)
class AnyOf(Query):
    """The pages' query for several lines and roads (`line=14,13&road=E4`): an item passes the
    other filters and touches any of them, each name with its one meaning (travelinfo.filters)."""

    lines: tuple[str, ...] = ()
    roads: tuple[str, ...] = ()

    def matches(self, d: Disruption) -> bool:
        """Every other filter, then any of the lines or roads."""
        if not Query.matches(self, d):  # slots dataclass: no zero-argument super()
            return False
        return names.affects_any_route(d, self.lines, self.inferred) or names.affects_any_road(d, self.roads)


def _one(query: MultiMapping[str], name: str, limit: int = MAX_TEXT) -> str:
    values = [v.strip() for v in query.getall(name, []) if v.strip()]
    if len(values) > 1:
        raise BadParameter(name, "give it once")
    value = values[0] if values else ""
    if len(value) > limit:
        raise BadParameter(name, f"at most {limit} characters")
    if any(ord(c) < 32 for c in value):
        raise BadParameter(name, "control characters are not allowed")
    return value


def _names(query: MultiMapping[str], name: str) -> str:
    """A line or road name, or a comma list of them (`14,13`): the filter table's reading."""
    return table.names(name, _one(query, name, table.NAMES_LIMIT))


def mine_qs(keys: Iterable[str], lang: str) -> str:
    """`?line=14,13&road=E4&lang=sv`: the plain "only my lines" link of board keys (no cookie)."""
    lines = [quote(k.removeprefix("line:"), safe="") for k in keys if k.startswith("line:")]
    roads = [quote(k.removeprefix("road:"), safe="") for k in keys if k.startswith("road:")]
    parts = [f"line={','.join(lines)}"] if lines else []
    parts += [f"road={','.join(roads)}"] if roads else []
    return "?" + "&".join([*parts, f"lang={quote(lang, safe='')}"])


def parse_filters(query: MultiMapping[str]) -> Filters:
    """Read the filters from a query string; raise BadParameter naming the bad one."""
    modes: list[str] = []
    for raw in query.getall("mode", []):
        for part in raw.split(","):
            mode = part.strip().lower()
            if not mode:
                continue
            if mode not in MODES:
                raise BadParameter("mode", f"one of {', '.join(MODES)}")
            if mode not in modes:
                modes.append(mode)
    severity = _one(query, "severity").upper()
    if severity and severity not in SEVERITIES[1:]:
        raise BadParameter("severity", "one of info, warning, severe")
    when = _one(query, "when").lower()
    if when and when not in WHENS:
        raise BadParameter("when", "one of now, 24h, planned")
    inferred = _one(query, "inferred").lower()
    if inferred not in ("", "true", "false"):
        raise BadParameter("inferred", "true or false")
    # `line` is the pages' name of the filter table's `route`; the table's own name works too.
    line, route = _names(query, "line"), _names(query, "route")
    if line and route and line != route:
        raise BadParameter("route", "the same filter as line: give one of them")
    return Filters(
        inferred=inferred == "true",
        modes=tuple(m for m in GROUP_ORDER if m in modes),
        line=line or route,
        road=_names(query, "road"),
        area=_one(query, "area"),
        severity=severity,
        when=when,
        search=_one(query, "search"),
    )


def group_by_mode(items: Sequence[Disruption], modes: Sequence[str]) -> list[tuple[str, list[Disruption]]]:
    """Items grouped under their first mode (or the first filtered mode they have), order kept."""
    groups: dict[str, list[Disruption]] = {}
    for d in items:
        candidates = [m for m in modes if m in d.modes] or [m for m in GROUP_ORDER if m in d.modes]
        groups.setdefault(candidates[0], []).append(d)
    return [(m, groups[m]) for m in GROUP_ORDER if m in groups]
