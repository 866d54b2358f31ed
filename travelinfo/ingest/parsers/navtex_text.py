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

# Every pattern here is linear: bounded quantifiers only, no nested or lazy repeats over
# open-ended runs, and texts are cut to MAX_TEXT characters before any matching (issue 12:
# a 200 KB page once froze the process in backtracking).
MAX_TEXT = 20_000
ISSUER_MAX = 80  # characters before `NAV WARN` (`CANCEL BALTIC SEA NAV WARN` has 18)
# `021245 UTC APR`, optionally followed by a two- or four-digit year (`281600 UTC AUG 26`).
DTG = re.compile(rf"\b(\d{{2}})(\d{{2}})(\d{{2}}) ?UTC ({_MONTH})\b(?: (\d{{4}}|\d{{2}})\b)?")
# `BALTIC SEA NAV WARN 026/25`, `LITHUANIAN NAV WARN 097(T)/25`: the literal is found first,
# the issuer is read backwards from it within ISSUER_MAX characters.
NAV_WARN = "NAV WARN"
_NUMBER = re.compile(r" (\d{1,4})(\([A-Z]\))?/(\d{2})\b")
CANCEL_THIS = re.compile(
    rf"CANCEL(?: THIS)?(?: (?:MSG|MESSAGE))? (\d{{6}} ?UTC (?:{_MONTH})(?: \d{{2,4}}\b)?)"
)

_NUM = r"\d{1,2}(?:[.,]\d{1,6})?"
# Dashed notations: `59-18.5N`, `59-18,5N`, `59-18N`, `60-05-00N` (degrees-minutes-seconds).
_LAT_DASH = rf"(?P<lad>\d{{1,2}})-(?P<lam>{_NUM})(?:-(?P<las>{_NUM}))?\s?(?P<lah>[NS])"
_LON_DASH = rf"(?P<lod>\d{{1,3}})-(?P<lom>{_NUM})(?:-(?P<los>{_NUM}))?\s?(?P<loh>[EW])"
# Compact notation: `5918.5N 01805.2E`.
_LAT_COMPACT = r"(?P<lac>\d{4}(?:[.,]\d{1,6})?)\s?(?P<lach>[NS])"
_LON_COMPACT = r"(?P<loc>\d{5}(?:[.,]\d{1,6})?)\s?(?P<loch>[EW])"
POSITION = re.compile(
    rf"(?<![\d.,-])(?:{_LAT_DASH}|{_LAT_COMPACT})[\s,/]{{0,8}}(?:{_LON_DASH}|{_LON_COMPACT})(?![\d])"
)
MAX_POSITIONS = 5_000  # positions read from one warning

_POLYGON_WORDS = re.compile(r"BOUNDED|\bAREA\b|\bAREAS\b|\bZONE\b|POLYGON|ENCLOSED")
_LINE_WORDS = re.compile(r"\bLINES?\b|JOINING|BETWEEN|\bALONG\b|ROUTE|CABLE|PIPELINE")
_POINT_WORDS = re.compile(r"\bPOSITIONS?\b|\bPSN\b|\bPOS\b|CENTERED|CENTRED")
_RADIUS = re.compile(
    r"RADIUS\s{1,4}OF\s{1,4}(?P<a>\d{1,6}(?:[.,]\d{1,6})?)\s{0,4}"
    r"(?P<au>NM|NAUTICAL MILES?|MILES?|CABLES?|KM|METRES|METERS|M)\b"
    r"|(?<![\d.,])(?P<b>\d{1,6}(?:[.,]\d{1,6})?)\s{0,4}"
    r"(?P<bu>NM|NAUTICAL MILES?|MILES?|CABLES?|KM|METRES|METERS|M)\s{1,4}RADIUS"
)
MAX_RADIUS_KM = 2_000.0  # a larger "circle" is a typo, not a warning area
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
_ITEM_MARK = re.compile(r"(?:^|\n)[ \t]{0,8}\d{1,2}\.\s")
_SENTENCE_END = re.compile(r"\.\s")
_SEPARATOR_NOISE = re.compile(r"\b(?:AND|OR)\b|[\s,.;:=()-]")


@dataclass(frozen=True, slots=True)
class WarningId:
    """An issuer and number as written (`BALTIC SEA NAV WARN 026/25`) with a matching key."""

    text: str
    key: tuple[str, int, str, str]
    year: int


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _issuer_start(text: str, at: int) -> int:
    """Where the issuer before `text[at:]` (`... NAV WARN`) begins: a bounded backwards scan."""
    start = at
    while start > 0 and at - start < ISSUER_MAX and ("A" <= text[start - 1] <= "Z" or text[start - 1] == " "):
        start -= 1
    # It begins with a letter at a word boundary (the scan may have stopped inside a word).
    while start < at and not ("A" <= text[start] <= "Z" and (start == 0 or not _word(text[start - 1]))):
        start += 1
    return start


def _ids(text: str) -> list[tuple[str, str, str, str, int]]:
    """(issuer, number, suffix, yy, end) of every `<ISSUER> NAV WARN <n>/<yy>` in normalised text."""
    found = []
    at = text.find(NAV_WARN)
    while at >= 0:
        end = at + len(NAV_WARN)
        start = _issuer_start(text, at)
        number = _NUMBER.match(text, end)
        if start < at and number:
            issuer = text[start:end].strip()
            found.append((issuer, number.group(1), number.group(2) or "", number.group(3), number.end()))
        at = text.find(NAV_WARN, end)
    return found


def _normal(text: str) -> str:
    return " ".join(text[:MAX_TEXT].split())


def warning_id(text: str) -> WarningId | None:
    """Read an issuer + number; None when `text` holds none."""
    found = _ids(_normal(text))
    if not found:
        return None
    return _wid(*found[0][:4])


def _wid(issuer: str, number: str, suffix: str, yy: str) -> WarningId:
    written = f"{issuer} {number}{suffix}/{yy}"
    # Zero padding differs between a warning and a CANCEL naming it (026/25 vs 26/25).
    return WarningId(written, (issuer, int(number), suffix, yy), 2000 + int(yy))


def parse_dtg(text: str, year_hint: int | None, fetched_at: datetime) -> datetime | None:
    """`021245 UTC APR` -> aware UTC datetime; year written, else `year_hint`, else near fetched_at."""
    m = DTG.search(_normal(text))
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
    m = CANCEL_THIS.search(_normal(body))
    if not m:
        return None
    value = parse_dtg(m.group(1), issued.year, fetched_at)
    # The cancel time never precedes the issue: a DEC warning cancelled in JAN is next year.
    if value is not None and value < issued - timedelta(days=1):
        value = parse_dtg(m.group(1), issued.year + 1, fetched_at)
    return value


def cancelled_ids(body: str) -> list[WarningId]:
    """Warnings this message cancels by name (`CANCEL GERMAN NAV WARN 472/26`)."""
    text = _normal(body)
    found: dict[WarningId, None] = {}
    for issuer, number, suffix, yy, _end in _ids(text):
        k = issuer.find("CANCEL ")  # the leftmost CANCEL, as `CANCEL <issuer> NAV WARN` reads
        name = issuer[k + len("CANCEL ") :].strip() if k >= 0 else ""
        if name and name != NAV_WARN and (k == 0 or issuer[k - 1] == " "):
            found[_wid(name, number, suffix, yy)] = None
    return list(found)


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


def _matches(body: str) -> list[tuple[re.Match[str], tuple[float, float]]]:
    out = []
    for m in POSITION.finditer(body[:MAX_TEXT]):
        p = _position(m)
        if p is not None:
            out.append((m, p))
            if len(out) >= MAX_POSITIONS:
                break
    return out


def positions(body: str) -> list[tuple[float, float]]:
    """Every position written in `body`, as (lon, lat), in order (at most MAX_POSITIONS)."""
    return [p for _m, p in _matches(body)]


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
    km = value * _UNIT_KM[(m.group("au") or m.group("bu")).split()[0]]
    return km if 0 < km <= MAX_RADIUS_KM else None


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
    body = body[:MAX_TEXT]
    matches = _matches(body)
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
