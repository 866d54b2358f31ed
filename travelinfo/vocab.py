"""The model's vocabulary (MODEL.md enums) and its time and text helpers: no model types here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

SOURCE_TYPES = ("datex2", "gtfsrt", "siri-sx", "navtex", "cap", "manual", "trafikverket", "sl-deviations")
STATUSES = ("planned", "active", "ended")
MODES = ("road", "bus", "metro", "tram", "rail", "ferry", "shipping")

# GTFS vocabulary shared by the GTFS-RT parser, the GTFS static reference and GTFS-RT out.
ROUTE_TYPE_OF_MODE = {"tram": 0, "metro": 1, "rail": 2, "bus": 3, "ferry": 4}
# An active_period without `start` means "since forever": the Unix epoch, stable across fetches.
OPEN_START = datetime(1970, 1, 1, tzinfo=UTC)
SELECTOR_FIELDS = ("agency_id", "route_id", "route_type", "direction_id", "stop_id")
TRIP_FIELDS = ("trip_id", "route_id", "direction_id", "start_time", "start_date")

CAUSES = (
    "UNKNOWN_CAUSE",
    "OTHER_CAUSE",
    "TECHNICAL_PROBLEM",
    "STRIKE",
    "DEMONSTRATION",
    "ACCIDENT",
    "HOLIDAY",
    "WEATHER",
    "MAINTENANCE",
    "CONSTRUCTION",
    "POLICE_ACTIVITY",
    "MEDICAL_EMERGENCY",
)
EFFECTS = (
    "NO_SERVICE",
    "REDUCED_SERVICE",
    "SIGNIFICANT_DELAYS",
    "DETOUR",
    "ADDITIONAL_SERVICE",
    "MODIFIED_SERVICE",
    "OTHER_EFFECT",
    "UNKNOWN_EFFECT",
    "STOP_MOVED",
    "NO_EFFECT",
    "ACCESSIBILITY_ISSUE",
)
SEVERITIES = ("UNKNOWN_SEVERITY", "INFO", "WARNING", "SEVERE")
AFFECTED_TYPES = ("agency", "route", "route_type", "stop", "trip", "road", "area", "vessel", "port")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

Texts = Mapping[str, str]
JSON = dict[str, Any]


class ModelError(ValueError):
    """A disruption that does not satisfy MODEL.md."""


def utc(value: datetime) -> datetime:
    """Return `value` in UTC; naive datetimes are refused."""
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
_UNSAFE_CHARS = dict.fromkeys(
    [
        *range(0x00, 0x09),
        0x0B,
        0x0C,
        *range(0x0D, 0x20),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)


def clean_text(text: str) -> str:
    """`text` without control characters (except newline and tab) and bidi override characters."""
    if text.isprintable():
        return text
    return text.translate(_UNSAFE_CHARS)


def has_unsafe_chars(text: str) -> bool:
    """True when `text` holds characters `clean_text` would strip."""
    return clean_text(text) != text


def _is_position(value: Any) -> bool:
    """A GeoJSON position (numbers first): the bulk of any geometry, frozen in one step.

    Only the first member is looked at; anything else inside is refused by the RFC 7946 check.
    """
    return type(value) in (list, tuple) and bool(value) and type(value[0]) in (float, int)


def freeze(value: Any) -> Any:
    """Turn dicts/lists into read-only mappings/tuples (the model's values are immutable)."""
    if isinstance(value, Mapping):
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
