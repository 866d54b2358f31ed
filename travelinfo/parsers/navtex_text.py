"""NAVTEX message text: date-time groups, warning numbers, CANCEL lines and positions -> GeoJSON."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from travelinfo.geo import circle_polygon

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_MONTH = "|".join(MONTHS)

# `021245 UTC APR`, optionally followed by a two- or four-digit year (`281600 UTC AUG 26`).
DTG = re.compile(rf"\b(\d{{2}})(\d{{2}})(\d{{2}})\s*UTC\s+({_MONTH})\b(?:\s+(\d{{4}}|\d{{2}})\b)?")
# `BALTIC SEA NAV WARN 026/25`, `LITHUANIAN NAV WARN 097(T)/25`.
WARNING_ID = re.compile(r"\b([A-Z][A-Z ]*?NAV WARN)\s+(\d{1,4})(\([A-Z]\))?/(\d{2})\b")
CANCEL_THIS = re.compile(
    rf"CANCEL(?:\s+THIS)?(?:\s+(?:MSG|MESSAGE))?\s+(\d{{6}}\s*UTC\s+(?:{_MONTH})(?:\s+\d{{2,4}}\b)?)"
)
CANCEL_OTHER = re.compile(r"CANCEL\s+([A-Z][A-Z ]*?NAV WARN\s+\d{1,4}(?:\([A-Z]\))?/\d{2})\b")

_NUM = r"\d{1,2}(?:[.,]\d+)?"
# Dashed notations: `59-18.5N`, `59-18,5N`, `59-18N`, `60-05-00N` (degrees-minutes-seconds).
_LAT_DASH = rf"(?P<lad>\d{{1,2}})-(?P<lam>{_NUM})(?:-(?P<las>{_NUM}))?\s?(?P<lah>[NS])"
_LON_DASH = rf"(?P<lod>\d{{1,3}})-(?P<lom>{_NUM})(?:-(?P<los>{_NUM}))?\s?(?P<loh>[EW])"
# Compact notation: `5918.5N 01805.2E`.
_LAT_COMPACT = r"(?P<lac>\d{4}(?:[.,]\d+)?)\s?(?P<lach>[NS])"
_LON_COMPACT = r"(?P<loc>\d{5}(?:[.,]\d+)?)\s?(?P<loch>[EW])"
POSITION = re.compile(
    rf"(?<![\d.,-])(?:{_LAT_DASH}|{_LAT_COMPACT})[\s,/]*(?:{_LON_DASH}|{_LON_COMPACT})(?![\d])"
)

_POLYGON_WORDS = re.compile(r"BOUNDED|\bAREA\b|\bAREAS\b|\bZONE\b|POLYGON|ENCLOSED")
_LINE_WORDS = re.compile(r"\bLINES?\b|JOINING|BETWEEN|\bALONG\b|ROUTE|CABLE|PIPELINE")
_POINT_WORDS = re.compile(r"\bPOSITIONS?\b|\bPSN\b|\bPOS\b|CENTERED|CENTRED")
_RADIUS = re.compile(
    r"RADIUS\s+OF\s+(?P<a>\d+(?:[.,]\d+)?)\s*(?P<au>NM|NAUTICAL MILES?|MILES?|CABLES?|KM|METRES|METERS|M)\b"
    r"|(?P<b>\d+(?:[.,]\d+)?)\s*(?P<bu>NM|NAUTICAL MILES?|MILES?|CABLES?|KM|METRES|METERS|M)\s+RADIUS"
)
_UNIT_KM = {
    "NM": 1.852,
    "NAUTICAL": 1.852,
    "MILE": 1.852,
    "MILES": 1.852,
    "CABLE": 0.1852,
    "CABLES": 0.1852,
    "KM": 1.0,
    "METRES": 0.001,
    "METERS": 0.001,
    "M": 0.001,
}
_ITEM_MARK = re.compile(r"(?:^|\n)\s*\d{1,2}\.\s")
_SENTENCE_END = re.compile(r"\.\s")
_SEPARATOR_NOISE = re.compile(r"\b(?:AND|OR)\b|[\s,.;:=()-]")


@dataclass(frozen=True, slots=True)
class WarningId:
    """An issuer and number as written (`BALTIC SEA NAV WARN 026/25`) with a matching key."""

    text: str
    key: tuple[str, int, str, str]
    year: int


def warning_id(text: str) -> WarningId | None:
    """Read an issuer + number; None when `text` holds none."""
    m = WARNING_ID.search(" ".join(text.split()))
    if not m:
        return None
    issuer, number, suffix, yy = m.group(1).strip(), m.group(2), m.group(3) or "", m.group(4)
    written = f"{issuer} {number}{suffix}/{yy}"
    # Zero padding differs between a warning and a CANCEL naming it (026/25 vs 26/25).
    return WarningId(written, (issuer, int(number), suffix, yy), 2000 + int(yy))


def parse_dtg(text: str, year_hint: int | None, fetched_at: datetime) -> datetime | None:
    """`021245 UTC APR` -> aware UTC datetime; year written, else `year_hint`, else near fetched_at."""
    m = DTG.search(text)
    if not m:
        return None
    day, hour, minute, month = int(m.group(1)), int(m.group(2)), int(m.group(3)), MONTHS[m.group(4)]
    written = m.group(5)
    if written:
        year = int(written) if len(written) == 4 else 2000 + int(written)
        return _build(year, month, day, hour, minute)
    if year_hint is not None:
        return _build(year_hint, month, day, hour, minute)
    value = _build(fetched_at.year, month, day, hour, minute)
    # Without a year, a time far ahead of the fetch belongs to last year (a December
    # warning still listed in January).
    if value is not None and value > fetched_at + timedelta(days=31):
        value = _build(fetched_at.year - 1, month, day, hour, minute)
    return value


def _build(year: int, month: int, day: int, hour: int, minute: int) -> datetime | None:
    try:
        if hour == 24 and minute == 0:
            return datetime(year, month, day, tzinfo=UTC) + timedelta(days=1)
        return datetime(year, month, day, hour, minute, tzinfo=UTC)
    except ValueError:
        return None


def cancel_time(body: str, issued: datetime, fetched_at: datetime) -> datetime | None:
    """The time of `CANCEL THIS MSG <dtg>` (also `CANCEL MESSAGE`, `CANCEL <dtg>`), if any."""
    m = CANCEL_THIS.search(" ".join(body.split()))
    if not m:
        return None
    value = parse_dtg(m.group(1), issued.year, fetched_at)
    # The cancel time never precedes the issue: a DEC warning cancelled in JAN is next year.
    if value is not None and value < issued - timedelta(days=1):
        value = parse_dtg(m.group(1), issued.year + 1, fetched_at)
    return value


def cancelled_ids(body: str) -> list[WarningId]:
    """Warnings this message cancels by name (`CANCEL GERMAN NAV WARN 472/26`)."""
    found: list[WarningId] = []
    for m in CANCEL_OTHER.finditer(" ".join(body.split())):
        wid = warning_id(m.group(1))
        if wid is not None and wid not in found:
            found.append(wid)
    return found


def _value(deg: str, minutes: str | None, seconds: str | None) -> float | None:
    d = float(deg)
    m = float(minutes.replace(",", ".")) if minutes else 0.0
    s = float(seconds.replace(",", ".")) if seconds else 0.0
    if m >= 60 or s >= 60:
        return None
    return d + m / 60 + s / 3600


def _compact(text: str, deg_digits: int) -> float | None:
    text = text.replace(",", ".")
    return _value(text[:deg_digits], text[deg_digits:], None)


def _position(m: re.Match[str]) -> tuple[float, float] | None:
    if m.group("lad") is not None:
        lat = _value(m.group("lad"), m.group("lam"), m.group("las"))
        lat_h = m.group("lah")
    else:
        lat = _compact(m.group("lac"), 2)
        lat_h = m.group("lach")
    if m.group("lod") is not None:
        lon = _value(m.group("lod"), m.group("lom"), m.group("los"))
        lon_h = m.group("loh")
    else:
        lon = _compact(m.group("loc"), 3)
        lon_h = m.group("loch")
    if lat is None or lon is None or lat > 90 or lon > 180:
        return None
    lat = -lat if lat_h == "S" else lat
    lon = -lon if lon_h == "W" else lon
    return round(lon, 6), round(lat, 6)


def positions(body: str) -> list[tuple[float, float]]:
    """Every position written in `body`, as (lon, lat), in order."""
    return [p for m in POSITION.finditer(body) if (p := _position(m)) is not None]


def _last(pattern: re.Pattern[str], text: str) -> int:
    found = [m.end() for m in pattern.finditer(text)]
    return found[-1] if found else -1


def _kind(lead: str, previous: str) -> str:
    """What a run of positions draws: the keyword nearest before it, in the same sentence."""
    lead = _SENTENCE_END.split(_ITEM_MARK.sub(" ", lead))[-1]
    where = {
        "polygon": _last(_POLYGON_WORDS, lead),
        "line": _last(_LINE_WORDS, lead),
        "points": _last(_POINT_WORDS, lead),
    }
    kind, at = max(where.items(), key=lambda kv: kv[1])
    if at >= 0:
        return kind
    return "points" if _SEPARATOR_NOISE.sub("", lead).strip() else previous


def _radius_km(lead: str) -> float | None:
    """`WITHIN A RADIUS OF 2 NM AROUND`, `4 MILE RADIUS FROM` -> km (same sentence only)."""
    lead = _SENTENCE_END.split(_ITEM_MARK.sub(" ", lead))[-1]
    found = list(_RADIUS.finditer(lead))
    if not found:
        return None
    m = found[-1]
    value = float((m.group("a") or m.group("b")).replace(",", "."))
    unit = (m.group("au") or m.group("bu")).split()[0]
    return value * _UNIT_KM[unit] if value > 0 else None


def _dedupe(coords: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for c in coords:
        if not out or out[-1] != c:
            out.append(c)
    return out


def _shape(kind: str, coords: list[tuple[float, float]], radius_km: float | None) -> list[dict[str, Any]]:
    coords = _dedupe(coords)
    pts = [[lon, lat] for lon, lat in coords]
    if kind == "polygon" and len(coords) >= 3:
        ring = pts if pts[0] == pts[-1] else [*pts, list(pts[0])]
        if len(ring) >= 4:
            return [{"type": "Polygon", "coordinates": [ring]}]
    if kind == "line" and len(coords) >= 2:
        return [{"type": "LineString", "coordinates": pts}]
    if radius_km is not None:
        return [circle_polygon(lon, lat, radius_km) for lon, lat in coords]
    return [{"type": "Point", "coordinates": p} for p in pts]


def _combine(shapes: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not shapes:
        return None
    if len(shapes) == 1:
        return shapes[0]
    kinds = {s["type"] for s in shapes}
    if len(kinds) == 1:
        kind = kinds.pop()
        return {"type": f"Multi{kind}", "coordinates": [s["coordinates"] for s in shapes]}
    return {"type": "GeometryCollection", "geometries": shapes}


def geometry(body: str) -> dict[str, Any] | None:
    """GeoJSON for the positions in a warning: Point, LineString, Polygon, Multi* or a collection.

    Positions are grouped into runs separated only by whitespace, commas or AND; the words
    before a run say what it is ("AREA BOUNDED BY" -> Polygon, "LINE JOINING" -> LineString,
    "RADIUS OF 2 NM AROUND" -> 32-gon circles, anything else -> Points). A numbered item
    ("2.") starts a new run of the same kind.
    """
    matches = [(m, p) for m in POSITION.finditer(body) if (p := _position(m)) is not None]
    shapes: list[dict[str, Any]] = []
    run: list[tuple[float, float]] = []
    kind = "points"
    radius: float | None = None
    cursor = 0
    for m, pos in matches:
        lead = body[cursor : m.start()]
        if run and (_ITEM_MARK.search(lead) or _SEPARATOR_NOISE.sub("", lead).strip()):
            shapes.extend(_shape(kind, run, radius))
            run = []
        if not run:
            kind = _kind(lead, kind)
            radius = _radius_km(lead)
        run.append(pos)
        cursor = m.end()
    if run:
        shapes.extend(_shape(kind, run, radius))
    return _combine(shapes)
