"""The notice form (pure): form fields to a notice body for `notices.schema.validate`, and back.

Times are typed as Stockholm local time (`YYYY-MM-DD HH:MM`); places are picked stops, lines
and roads (each a JSON `affected` entry) and/or typed `lat, lon` coordinates of a point, a line
or an area. Errors come back keyed by form field so the form can show them next to each input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from travelinfo.model import parse_time

TZ = ZoneInfo("Europe/Stockholm")
LANGS = ("sv", "en")
TEXTS = ("header", "description", "location_text")
MAX_PERIOD_ROWS = 50
MAX_POINTS = 500
_LOCAL = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2})[:.](\d{2})\s*")
_NUMBER = r"[-+]?\d{1,3}(?:[.,]\d+)?"
_COORD = re.compile(rf"\s*({_NUMBER})\s*[,; ]\s*({_NUMBER})\s*")
GEOMETRY_KINDS = ("none", "point", "line", "area", "keep")


class FormInvalid(ValueError):
    """Form fields that could not become a notice body: field name to message."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


def parse_local(text: str) -> datetime:
    """`YYYY-MM-DD HH:MM` in Stockholm local time as an aware UTC time (ValueError if not one)."""
    m = _LOCAL.fullmatch(text)
    if not m:
        raise ValueError("write the time as YYYY-MM-DD HH:MM (Stockholm time)")
    year, month, day, hour, minute = (int(g) for g in m.groups())
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=TZ)
    except ValueError:
        raise ValueError("no such date or time") from None
    utc = local.astimezone(UTC)
    if utc.astimezone(TZ).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError("this time does not exist in Stockholm (the clocks are put forward then)")
    return utc


def format_local(value: str | None) -> str:
    """An RFC 3339 time as the form shows it (Stockholm local time)."""
    return parse_time(value).astimezone(TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def _coords(text: str, errors: dict[str, str]) -> list[list[float]]:
    points: list[list[float]] = []
    for n, line in enumerate((x for x in text.replace("\r", "").split("\n") if x.strip()), 1):
        m = _COORD.fullmatch(line)
        if not m:
            errors["coords"] = f"line {n}: write latitude, longitude (e.g. 59.3293, 18.0686)"
            return []
        lat, lon = (float(g.replace(",", ".")) for g in m.groups())
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            errors["coords"] = f"line {n}: latitude -90..90, longitude -180..180"
            return []
        points.append([lon, lat])
    if len(points) > MAX_POINTS:
        errors["coords"] = f"{len(points)} points (at most {MAX_POINTS})"
        return []
    return points


def _geometry(kind: str, points: list[list[float]], errors: dict[str, str]) -> dict[str, Any] | None:
    need = {"point": 1, "line": 2, "area": 3}.get(kind, 0)
    if kind in ("none", ""):
        if points:
            errors["geometry_kind"] = "choose point, line or area for the typed coordinates"
        return None
    if len(points) < need or (kind == "point" and len(points) > 1):
        errors["coords"] = {
            "point": "a point is one line: latitude, longitude",
            "line": "a line needs at least 2 points",
            "area": "an area needs at least 3 points",
        }[kind]
        return None
    if kind == "point":
        return {"type": "Point", "coordinates": points[0]}
    if kind == "line":
        return {"type": "LineString", "coordinates": points}
    ring = points if points[0] == points[-1] else [*points, points[0]]
    if len(ring) < 4:
        errors["coords"] = "an area needs at least 3 different points"
        return None
    return {"type": "Polygon", "coordinates": [ring]}


def _affected(values: Sequence[str], errors: dict[str, str]) -> list[Any]:
    out = []
    for value in values:
        try:
            entry = json.loads(value)
        except ValueError:
            errors["affected"] = "not a picked place"
            continue
        if entry not in out:
            out.append(entry)
    return out


def _stop_points(affected: list[Any]) -> list[list[float]]:
    """Positions carried by picked stops (the picker adds them), for a geometry when none is drawn."""
    out = []
    for a in affected:
        pos = a.get("at") if isinstance(a, dict) else None
        if isinstance(pos, list) and len(pos) == 2 and all(isinstance(x, int | float) for x in pos):
            out.append([float(pos[0]), float(pos[1])])
    return out


def to_body(
    form: Mapping[str, Any], old_geometry: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A notice body (for `validate`) from the form's fields, and what could not be read, by field."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name in TEXTS:
        texts = {lang: str(form.get(f"{name}_{lang}", "")).strip() for lang in LANGS}
        body[name] = {lang: text for lang, text in texts.items() if text}
    body["modes"] = [str(m) for m in form.get("modes", [])]
    for name in ("cause", "effect", "severity"):
        body[name] = str(form.get(name, ""))
    periods = []
    for i in range(MAX_PERIOD_ROWS):
        start, end = (str(form.get(f"{edge}_{i}", "")).strip() for edge in ("start", "end"))
        if not start and not end:
            continue
        period: dict[str, Any] = {}
        for edge, text in (("start", start), ("end", end)):
            if not text:
                continue
            try:
                period[edge] = parse_local(text).strftime("%Y-%m-%dT%H:%M:%SZ")
            except ValueError as exc:
                errors[f"{edge}_{i}"] = str(exc)
        if not start:
            period["start"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        periods.append(period)
    body["periods"] = periods
    affected = _affected([str(v) for v in form.get("affected", [])], errors)
    points = _coords(str(form.get("coords", "")), errors)
    kind = str(form.get("geometry_kind", "none"))
    if kind not in GEOMETRY_KINDS:
        errors["geometry_kind"] = f"one of {', '.join(GEOMETRY_KINDS[:-1])}"
    elif kind == "keep":
        body["geometry"] = old_geometry
    else:
        body["geometry"] = None if "coords" in errors else _geometry(kind, points, errors)
        stops = _stop_points(affected)
        if body["geometry"] is None and kind in ("none", "") and stops:
            single = len(stops) == 1
            body["geometry"] = {
                "type": "Point" if single else "MultiPoint",
                "coordinates": stops[0] if single else stops,
            }
    body["affected"] = [
        {k: v for k, v in a.items() if k != "at"} if isinstance(a, dict) else a for a in affected
    ]
    url = str(form.get("url", "")).strip()
    body["url"] = url or None
    return body, errors


def field_of(path: str) -> str:
    """The form field of a schema error path (`header.sv`: `header_sv`, `periods[1].end`: `end_1`)."""
    m = re.fullmatch(r"periods\[(\d+)\]\.(start|end)", path)
    if m:
        return f"{m.group(2)}_{m.group(1)}"
    if path.startswith("periods"):
        return "start_0"
    head, _, lang = path.partition(".")
    if head in TEXTS and lang:
        return f"{head}_{lang}" if lang in LANGS else f"{head}_sv"
    if head.startswith("modes"):
        return "modes"
    if head.startswith("affected"):
        return "affected"
    if head == "geometry":
        return "coords"
    return head or "header_sv"


def to_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values for a notice's normalised fields (times in Stockholm local time)."""
    form: dict[str, Any] = {}
    for name in TEXTS:
        for lang in LANGS:
            form[f"{name}_{lang}"] = fields.get(name, {}).get(lang, "")
    form["modes"] = list(fields.get("modes", []))
    for name in ("cause", "effect", "severity"):
        form[name] = fields.get(name, "")
    for i, p in enumerate(fields.get("periods", [])):
        form[f"start_{i}"], form[f"end_{i}"] = format_local(p["start"]), format_local(p.get("end"))
    form["affected"] = [json.dumps(a, ensure_ascii=False, sort_keys=True) for a in fields.get("affected", [])]
    geometry = fields.get("geometry")
    kinds = {"Point": "point", "LineString": "line", "Polygon": "area"}
    form["geometry_kind"], form["coords"] = "none", ""
    if geometry:
        kind = kinds.get(geometry["type"])
        coords = geometry["coordinates"]
        if kind == "point":
            points = [coords]
        elif kind == "line":
            points = coords
        elif kind == "area" and len(coords) == 1:
            points = coords[0][:-1]
        else:
            kind, points = "keep", []
        form["geometry_kind"] = kind
        form["coords"] = "\n".join(f"{p[1]:.6f}, {p[0]:.6f}" for p in points)
    form["url"] = fields.get("url") or ""
    return form


def period_rows(form: Mapping[str, Any]) -> int:
    """How many period rows the form shows: every filled one and one empty."""
    filled = [i for i in range(MAX_PERIOD_ROWS) if form.get(f"start_{i}") or form.get(f"end_{i}")]
    return min(MAX_PERIOD_ROWS, (max(filled) + 2) if filled else 1)
