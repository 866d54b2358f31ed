"""CAP `info` and `area` blocks (1.0-1.2, and the NWS Atom `cap:` index) -> plain values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from travelinfo.geo import circle_polygon
from travelinfo.ingest.parsers.base import ParseError
from travelinfo.ingest.parsers.vet import MAX_RECORDS, lang_tag, safe_url
from travelinfo.ingest.parsers.xmlsafe import localname, text_of
from travelinfo.model import ModelError, parse_time

DEFAULT_LANGUAGE = "en-US"  # the CAP 1.2 default when <language> is absent
MAX_POINTS = 50_000  # points in one CAP polygon (the vet caps a geometry at as many)
MAX_RADIUS_KM = 20_000.0  # half the Earth's circumference: beyond it a circle means nothing

SEVERITY = {
    "Extreme": "SEVERE",
    "Severe": "SEVERE",
    "Moderate": "WARNING",
    "Minor": "INFO",
    "Unknown": "UNKNOWN_SEVERITY",
}
# CAP category -> GTFS-RT Cause. Fire, rescue and hazardous material have no cause of their
# own in GTFS-RT: OTHER_CAUSE, with the category kept in `categories`.
CAUSE = {
    "Geo": "OTHER_CAUSE",
    "Met": "WEATHER",
    "Safety": "OTHER_CAUSE",
    "Security": "POLICE_ACTIVITY",
    "Rescue": "OTHER_CAUSE",
    "Fire": "OTHER_CAUSE",
    "Health": "MEDICAL_EMERGENCY",
    "Env": "OTHER_CAUSE",
    "Transport": "OTHER_CAUSE",
    "Infra": "TECHNICAL_PROBLEM",
    "CBRNE": "OTHER_CAUSE",
    "Other": "OTHER_CAUSE",
}
# Public warnings concern everyone on land; shipping only when the alert is about the sea.
DEFAULT_MODES = ("road", "bus", "metro", "tram", "rail", "ferry")
_MARINE = re.compile(
    r"\b(marine|maritime|small craft|gale|sea|seas|coastal|tsunami|surf|rip current|"
    r"shipping|harbou?r|port|sjö|sjöfart|hav|kust|storm warning|hurricane force wind)\b",
    re.IGNORECASE,
)


@dataclass
class Info:
    """One CAP `info` block (or one Atom index entry), read into plain values."""

    lang: str
    categories: list[str] = field(default_factory=list)
    event: str = ""
    responses: list[str] = field(default_factory=list)
    urgency: str = ""
    severity: str = ""
    certainty: str = ""
    event_codes: list[tuple[str, str]] = field(default_factory=list)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    area_descs: list[str] = field(default_factory=list)
    shapes: list[dict[str, Any]] = field(default_factory=list)
    geocodes: list[tuple[str, str, str]] = field(default_factory=list)  # name, value, areaDesc


def time_of(text: str, what: str) -> datetime | None:
    """A CAP date-time (offset required) or None when empty; ParseError when malformed."""
    text = text.strip()
    if not text:
        return None
    try:
        return parse_time(text)
    except ModelError:
        raise ParseError(f"CAP <{what}> is not a date-time with an offset: {text[:40]!r}") from None


def children(elem: Any) -> Iterable[tuple[str, Any]]:
    """(local name, child) for element children only."""
    for child in elem:
        name = localname(child.tag)
        if name:
            yield name, child


def pairs(elem: Any) -> list[tuple[str, str]]:
    """valueName/value pairs; NWS puts several pairs in one `cap:geocode`."""
    out: list[tuple[str, str]] = []
    name: str | None = None
    for tag, child in children(elem):
        if tag == "valueName":
            name = text_of(child)
        elif tag == "value" and name is not None:
            out.append((name, text_of(child)))
            name = None
    return out


def polygon(text: str, notes: list[str]) -> dict[str, Any] | None:
    """CAP `lat,lon lat,lon ...` -> a GeoJSON Polygon ([lon, lat], closed); None when unusable."""
    ring: list[list[float]] = []
    if text.count(",") > MAX_POINTS:
        notes.append(f"CAP polygon of more than {MAX_POINTS} points skipped")
        return None
    for pair in text.split():
        try:
            lat_s, lon_s = pair.split(",")
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            notes.append(f"CAP polygon point {pair[:30]!r} is not 'lat,lon': polygon skipped")
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            notes.append(f"CAP polygon point {pair[:30]!r} is out of range: polygon skipped")
            return None
        ring.append([lon, lat])
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    if len(ring) < 4:
        if text.strip():
            notes.append("CAP polygon with fewer than 3 distinct points skipped")
        return None
    return {"type": "Polygon", "coordinates": [ring]}


def circle(text: str, notes: list[str]) -> dict[str, Any] | None:
    """CAP `lat,lon radius_km` -> a 32-gon Polygon (a Point when the radius is 0)."""
    try:
        centre, radius_s = text.split()
        lat_s, lon_s = centre.split(",")
        lat, lon, radius = float(lat_s), float(lon_s), float(radius_s)
    except ValueError:
        if text.strip():
            notes.append(f"CAP circle {text[:40]!r} is not 'lat,lon radius': skipped")
        return None
    # Written as range checks that NaN fails (every comparison with NaN is false).
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= radius <= MAX_RADIUS_KM):
        notes.append(f"CAP circle {text[:40]!r} is out of range: skipped")
        return None
    if radius == 0:
        return {"type": "Point", "coordinates": [lon, lat]}
    return circle_polygon(lon, lat, radius)


def read_area(elem: Any, info: Info, notes: list[str]) -> None:
    """Add one `area` block's description, shapes and geocodes to `info`."""
    desc = ""
    for tag, child in children(elem):
        if tag == "areaDesc":
            desc = text_of(child)
            if desc and desc not in info.area_descs and len(info.area_descs) < MAX_RECORDS:
                info.area_descs.append(desc)
        elif tag in ("polygon", "circle") and len(info.shapes) >= MAX_RECORDS:
            notes.append(f"more than {MAX_RECORDS} CAP shapes in one info: the rest ignored")
        elif tag == "polygon":
            shape = polygon(text_of(child), notes)
            if shape:
                info.shapes.append(shape)
        elif tag == "circle":
            shape = circle(text_of(child), notes)
            if shape:
                info.shapes.append(shape)
        elif tag == "geocode" and len(info.geocodes) < MAX_RECORDS:
            info.geocodes.extend((name, value, desc) for name, value in pairs(child) if value)


_SIMPLE = {
    "event": "event",
    "urgency": "urgency",
    "severity": "severity",
    "certainty": "certainty",
    "headline": "headline",
    "description": "description",
    "instruction": "instruction",
    "web": "web",
    "summary": "description",  # Atom index entries
    "title": "headline",
}
_TIMES = ("effective", "onset", "expires")


def read_info(elem: Any, notes: list[str], default_lang: str = DEFAULT_LANGUAGE) -> Info:
    """Read a CAP `info` block, or an Atom entry carrying `cap:` index elements."""
    info = Info(lang=default_lang)
    for tag, child in children(elem):
        value = text_of(child)
        if tag == "language" and value:
            tag_ = lang_tag(value)
            if tag_ is None:
                notes.append(f"CAP language {value[:20]!r} is not BCP 47: read as {default_lang}")
            info.lang = tag_ or default_lang
        elif tag == "category" and value:
            info.categories.append(value)
        elif tag == "responseType" and value:
            info.responses.append(value)
        elif tag == "eventCode":
            info.event_codes.extend(pairs(child))
        elif tag in _TIMES:
            setattr(info, tag, time_of(value, tag))
        elif tag == "web" and value and safe_url(value) is None:
            notes.append(f"CAP web link {value[:40]!r} is not an http(s) URL: dropped")
        elif tag in _SIMPLE and value and not getattr(info, _SIMPLE[tag]):
            setattr(info, _SIMPLE[tag], value)
        elif tag == "area":
            read_area(child, info, notes)
    # The NWS Atom index puts the area parts straight into the entry.
    if localname(elem.tag) == "entry":
        read_area(elem, info, notes)
    return info


def language_keys(tags: Iterable[str]) -> dict[str, str]:
    """Full tag -> text key: the tag itself, region subtag kept (en-US and en-GB never collapse;
    readers match on the primary subtag, `vocab.pick_lang`)."""
    return {t: t for t in dict.fromkeys(tags)}


# CAP `certainty` -> model certainty.
CERTAINTY = {
    "Observed": "certain",
    "Likely": "likely",
    "Possible": "possible",
    "Unlikely": "possible",
    "Unknown": "unknown",
}


def modes_for(infos: Iterable[Info], options: Mapping[str, Any]) -> tuple[str, ...]:
    """Configured modes, else every land mode plus shipping for marine or transport alerts."""
    configured = options.get("modes")
    if configured:
        return tuple(configured)
    modes = list(DEFAULT_MODES)
    for info in infos:
        text = " ".join([info.event, *info.area_descs])[:20_000]
        if "Transport" in info.categories or _MARINE.search(text):
            modes.append("shipping")
            break
    return tuple(modes)
