"""The model's vocabulary (MODEL.md enums) and its time, schedule and text helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SOURCE_TYPES = ("datex2", "gtfsrt", "siri-sx", "navtex", "cap", "manual", "trafikverket", "sl-deviations")
STATUSES = ("planned", "active", "ended")
# `unknown`: public transport whose mode no field nor reference data says (never a guess).
MODES = ("road", "bus", "metro", "tram", "rail", "ferry", "shipping", "unknown")
PT_MODES = frozenset(("bus", "metro", "tram", "rail", "ferry", "unknown"))  # public transport

# GTFS vocabulary shared by the GTFS-RT parser, the GTFS static reference and GTFS-RT out.
ROUTE_TYPE_OF_MODE = {"tram": 0, "metro": 1, "rail": 2, "bus": 3, "ferry": 4}
# An active_period without `start` means "since forever": the Unix epoch, stable across fetches.
OPEN_START = datetime(1970, 1, 1, tzinfo=UTC)
SELECTOR_FIELDS = ("agency_id", "route_id", "route_type", "direction_id", "stop_id")
TRIP_FIELDS = ("trip_id", "route_id", "direction_id", "start_time", "start_date")

CAUSES = (
    *("UNKNOWN_CAUSE", "OTHER_CAUSE", "TECHNICAL_PROBLEM", "STRIKE", "DEMONSTRATION", "ACCIDENT"),
    *("HOLIDAY", "WEATHER", "MAINTENANCE", "CONSTRUCTION", "POLICE_ACTIVITY", "MEDICAL_EMERGENCY"),
)
EFFECTS = (
    *("NO_SERVICE", "REDUCED_SERVICE", "SIGNIFICANT_DELAYS", "DETOUR", "ADDITIONAL_SERVICE"),
    *("MODIFIED_SERVICE", "OTHER_EFFECT", "UNKNOWN_EFFECT", "STOP_MOVED", "NO_EFFECT"),
    "ACCESSIBILITY_ISSUE",
)
SEVERITIES = ("UNKNOWN_SEVERITY", "INFO", "WARNING", "SEVERE")
# `location`: a location code (AlertC `alertc:<country>:<table>:<code>`) kept without geometry.
AFFECTED_TYPES = (
    "agency", "route", "route_type", "stop", "trip", "road", "area", "vessel", "port", "location",
)  # fmt: skip
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
# Issue 19 (docs/model.md): how sure the upstream is, and which way along a road or line.
CERTAINTIES = ("certain", "likely", "possible", "unknown")
DIRECTIONS = (
    *("both", "positive", "negative", "inbound", "outbound", "northbound", "southbound"),
    *("eastbound", "westbound", "clockwise", "anticlockwise", "unknown"),
)
DEFAULT_TZ = "Europe/Stockholm"

Texts = Mapping[str, str]
JSON = dict[str, Any]


class ModelError(ValueError):
    """A disruption that does not satisfy MODEL.md."""


def utc(value: datetime) -> datetime:
    """Return `value` in UTC; naive datetimes are refused."""
    if value.tzinfo is UTC:
        return value  # what astimezone(UTC) returns for it, without the call (per item, per time)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ModelError(f"naive datetime {value.isoformat()} (timezone-aware UTC required)")
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with a `Z`, seconds precision (microseconds kept when present)."""
    value = utc(value)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse RFC 3339 (a `Z` or an offset is required) into an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ModelError(f"not an RFC 3339 time: {text!r}") from exc
    return utc(value)


def parse_local_time(text: str, tz: str = DEFAULT_TZ) -> datetime:
    """RFC 3339, or an ISO time without offset read as wall-clock time in `tz` (ModelError if neither)."""
    try:
        return parse_time(text)
    except ModelError:
        pass
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ModelError(f"not an ISO 8601 time: {text.strip()[:40]!r}") from exc
    if value.tzinfo is not None:
        return utc(value)
    return utc(value.replace(tzinfo=zone(tz)))


def zone(tz: str) -> tzinfo:
    """The IANA zone `tz` (ModelError for an unknown name)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ModelError(f"unknown time zone {tz[:40]!r}") from exc


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
}
MAX_EXPANDED = 500  # occurrences one item may expand to (GTFS-RT active_period)


class _Span(Protocol):
    """What compute_status reads of a model Period."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime | None: ...
    def contains(self, at: datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class Schedule:
    """Recurring validity inside an item's periods: on `days`, from `start` to `end` local time in `tz`.

    `days` are `WEEKDAYS` names (empty: every day); `start`/`end` are "HH:MM" (None: the whole
    day; `end` before `start` runs past midnight); `exceptions` are (start, end) UTC spans when
    it does not apply.
    """

    days: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    tz: str = DEFAULT_TZ
    exceptions: tuple[tuple[datetime, datetime], ...] = ()

    def __post_init__(self) -> None:
        bad = [d for d in self.days if d not in WEEKDAYS]
        object.__setattr__(self, "days", tuple(d for d in WEEKDAYS if d in self.days))
        for value in (self.start, self.end):
            if value is not None and _minutes(value) is None:
                bad.append(value)
        if bad:
            raise ModelError(f"schedule values {bad!r}")
        zone(self.tz)
        spans = tuple((utc(a), utc(b)) for a, b in self.exceptions)
        object.__setattr__(self, "exceptions", spans)

    def to_json(self) -> JSON:
        return {
            "days": list(self.days),
            "start": self.start,
            "end": self.end,
            "tz": self.tz,
            "exceptions": [{"start": format_time(a), "end": format_time(b)} for a, b in self.exceptions],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schedule:
        spans = tuple((parse_time(e["start"]), parse_time(e["end"])) for e in data.get("exceptions", ()))
        days = tuple(data.get("days", ()))
        return cls(days, data.get("start"), data.get("end"), data.get("tz", DEFAULT_TZ), spans)

    def matches(self, at: datetime) -> bool:
        """True when `at` falls in an occurrence (periods are checked by the caller)."""
        if any(a <= at < b for a, b in self.exceptions):
            return False
        local = utc(at).astimezone(zone(self.tz))
        for day in (local.date(), local.date() - timedelta(days=1)):
            for a, b in self._window(day):
                if a <= at < b:
                    return True
        return False

    def _window(self, day: date) -> list[tuple[datetime, datetime]]:
        # One occurrence starting on `day`, in UTC (an empty list when `day` is not a schedule day).
        if self.days and WEEKDAYS[day.weekday()] not in self.days:
            return []
        tz = zone(self.tz)
        start = _minutes(self.start) if self.start else 0
        end = _minutes(self.end) if self.end else 24 * 60
        assert start is not None and end is not None
        if end <= start:
            end += 24 * 60
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        a = (midnight + timedelta(minutes=start)).replace(tzinfo=None).replace(tzinfo=tz)
        b = (midnight + timedelta(minutes=end)).replace(tzinfo=None).replace(tzinfo=tz)
        return [(utc(a), utc(b))]

    def occurrences(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Occurrences overlapping [start, end), clipped to it, exceptions cut out (at most MAX_EXPANDED)."""
        out: list[tuple[datetime, datetime]] = []
        day = utc(start).astimezone(zone(self.tz)).date() - timedelta(days=1)
        while len(out) < MAX_EXPANDED:
            windows = self._window(day)
            day += timedelta(days=1)
            if windows and windows[0][0] >= end:
                break
            if not windows and datetime(day.year, day.month, day.day, tzinfo=UTC) > end + timedelta(days=1):
                break
            for a, b in windows:
                for piece in _cut((max(a, start), min(b, end)), self.exceptions):
                    out.append(piece)
        return out[:MAX_EXPANDED]


Span = tuple[datetime, datetime]


def _cut(span: Span, holes: Iterable[Span]) -> list[Span]:
    pieces = [span] if span[0] < span[1] else []
    for h0, h1 in holes:
        pieces = [p for a, b in pieces for p in ((a, min(b, h0)), (max(a, h1), b)) if p[0] < p[1]]
    return pieces


def _minutes(text: str) -> int | None:
    hh, sep, mm = text.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and len(hh) == 2 and len(mm) == 2):
        return None
    h, m = int(hh), int(mm)
    return h * 60 + m if (h < 24 and m < 60) or (h, m) == (24, 0) else None


def schedules_match(schedules: Iterable[Schedule], at: datetime) -> bool:
    """True when there are no schedules or one of them matches `at`."""
    found = False
    for schedule in schedules:
        found = True
        if schedule.matches(at):
            return True
    return not found


def compute_status(
    periods: Sequence[_Span], at: datetime, ended: bool = False, schedules: Sequence[Schedule] = ()
) -> str:
    """`planned` when every period (or the schedules' next occurrence) is in the future,
    `ended` when all have ended, else `active`."""
    if ended:
        return "ended"
    if not periods:
        return "active" if schedules_match(schedules, at) else "planned"
    if any(p.contains(at) for p in periods):
        return "active" if schedules_match(schedules, at) else "planned"
    if all(p.end is not None and p.end <= at for p in periods):
        return "ended"
    if any(p.start > at for p in periods):
        return "planned"
    return "ended"


def describe_schedule(schedule: Schedule, lang: str = "en") -> str:
    """A short human text: "Mon-Fri 07:00-19:00" (en), "mån-fre 07.00-19.00" (sv)."""
    names = _DAY_NAMES["sv" if lang.split("-")[0] == "sv" else "en"]
    idx = [WEEKDAYS.index(d) for d in schedule.days]
    if not idx or len(idx) == 7:
        days = {"sv": "alla dagar", "en": "daily"}["sv" if names is _DAY_NAMES["sv"] else "en"]
    elif idx == list(range(idx[0], idx[-1] + 1)) and len(idx) > 2:
        days = f"{names[idx[0]]}-{names[idx[-1]]}"
    else:
        days = ", ".join(names[i] for i in idx)
    if schedule.start is None and schedule.end is None:
        return days
    sep = "." if names is _DAY_NAMES["sv"] else ":"
    a = (schedule.start or "00:00").replace(":", sep)
    b = (schedule.end or "24:00").replace(":", sep)
    return f"{days} {a}-{b}"


def bbox_of(geometry: Mapping[str, Any] | None) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of any GeoJSON geometry, or None."""
    if not geometry:
        return None
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if isinstance(coords, list | tuple) and coords:
            if isinstance(coords[0], int | float):
                xs.append(float(coords[0]))
                ys.append(float(coords[1]))
            else:
                for c in coords:
                    walk(c)

    def visit(geom: Mapping[str, Any]) -> None:
        if geom.get("type") == "GeometryCollection":
            for g in geom.get("geometries", ()):
                visit(g)
        else:
            walk(geom.get("coordinates"))

    visit(geometry)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def pick_lang(texts: Mapping[str, str], wanted: Iterable[str]) -> tuple[str, str] | None:
    """(key, text) for the first wanted language: the exact tag, else one with the same primary
    subtag (`en` finds `en-GB`, `sv-SE` finds `sv`), else any text; None when there is none."""
    keys = list(texts)
    for want in wanted:
        if want in texts:
            return want, texts[want]
        primary = want.split("-")[0].lower()
        for key in keys:
            if key.split("-")[0].lower() == primary:
                return key, texts[key]
    return (keys[0], texts[keys[0]]) if keys else None


_NO_TEXTS: Texts = MappingProxyType({})


def frozen_texts(value: Mapping[str, str] | None) -> Texts:
    """A read-only text map, sorted by language, without empty texts."""
    if not value:
        return _NO_TEXTS  # read-only and empty: one serves every item without a text
    clean = {str(k): str(v) for k, v in (value or {}).items() if v is not None and str(v).strip()}
    return MappingProxyType(dict(sorted(clean.items())))


def make_id(source: str, upstream_id: str) -> str:
    """The stable public id: `<source>:<upstream id>`."""
    return f"{source}:{upstream_id}"


def merge_texts(parts: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Join texts per language, keeping order and dropping repeats."""
    out: dict[str, list[str]] = {}
    for part in parts:
        for lang, text in part.items():
            text = text.strip()
            if text and text not in out.setdefault(lang, []):
                out[lang].append(text)
    return {lang: "\n\n".join(texts) for lang, texts in out.items() if texts}


# C0 and C1 controls except tab and newline, DEL, and the bidi embeddings, overrides and
# isolates (U+202A-U+202E, U+2066-U+2069) that can make stored text display reversed.
_CONTROLS = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20), *range(0x7F, 0xA0)]
_UNSAFE_CHARS = dict.fromkeys([*_CONTROLS, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean_text(text: str) -> str:
    """`text` without control characters (except newline and tab) and bidi override characters."""
    if text.isprintable():
        return text
    return text.translate(_UNSAFE_CHARS)


def has_unsafe_chars(text: str) -> bool:
    """True when `text` holds characters `clean_text` would strip."""
    return clean_text(text) != text


def nesting(tree: Any, limit: int) -> int:
    """Levels of lists and objects in decoded JSON (`[]`: 1), without recursion; stops past `limit`."""
    stack, deepest = ([(tree, 1)] if isinstance(tree, dict | list) else []), 0
    while stack:
        value, level = stack.pop()
        if level > deepest:
            if level > limit:
                return level
            deepest = level
        kids = value.values() if isinstance(value, dict) else value
        stack.extend((v, level + 1) for v in kids if isinstance(v, dict | list))
    return deepest


def _is_position(value: Any) -> bool:
    """A GeoJSON position (a number first; the RFC 7946 check refuses the rest): frozen in one step."""
    return type(value) in (list, tuple) and bool(value) and type(value[0]) in (float, int)


def freeze(value: Any) -> Any:
    """Turn dicts/lists into read-only mappings/tuples (the model's values are immutable)."""
    kind = type(value)
    if kind is str or kind is float or kind is int:
        return value  # the leaves, without the abstract-class check below (per item)
    if kind is dict or isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        if value and _is_position(value[0]):  # a run of positions: one step each, not one per number
            return tuple(tuple(v) if _is_position(v) else freeze(v) for v in value)
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Turn frozen mappings/tuples back into plain dicts/lists (for JSON)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        if value and _is_position(value[0]):
            return [list(v) if _is_position(v) else thaw(v) for v in value]
        return [thaw(v) for v in value]
    return value
