"""View helpers of the commuters' pages: the jinja2 environment, places and maps, source health."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from travelinfo.health import source_health
from travelinfo.model import MODES, Disruption, bbox_of, thaw
from travelinfo.runtime import appkeys as appmod
from travelinfo.vocab import PT_MODES
from travelinfo.web import i18n, mylines
from travelinfo.web import text as texts
from travelinfo.web.filters import GROUP_ORDER, mine_qs

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
STATIC = Path(__file__).resolve().parents[1] / "static"
# Which modes a source type can speak for, so a stale road feed does not alarm ferry readers.
TYPE_MODES: dict[str, frozenset[str]] = {
    "datex2": frozenset({"road"}),
    "navtex": frozenset({"shipping"}),
    "gtfsrt": PT_MODES,
    "siri": PT_MODES,
    "siri-sx": PT_MODES,
}
HEALTH_TTL = 2.0  # seconds: health records are read at most this often per process
HEALTH_CACHE: web.AppKey[list[Any]] = web.AppKey("web_health_cache", list)


def make_env() -> jinja2.Environment:
    """The template environment: autoescaping everywhere (upstream text is never trusted)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(MODES=GROUP_ORDER, pick=i18n.pick, when=i18n.when, ago=i18n.ago, t=i18n.t)
    env.globals.update(cause_label=lambda n, lang: i18n.label(i18n.CAUSES, n, lang))
    env.globals.update(effect_label=lambda n, lang: i18n.label(i18n.EFFECTS, n, lang))
    env.globals.update(
        header=texts.header,
        description=texts.description,
        affected_names=texts.affected_names,
        source_title=texts.source_title,
        tn=texts.tn,
        ended_at=texts.ended_at,
        clock=i18n.clock,
    )
    env.globals.update(map_features=map_features)
    env.globals.update(board_layout=mylines.layout, spoken=mylines.spoken, mine_qs=mine_qs)
    env.globals.update(paragraphs=paragraphs, safe_url=safe_url, place=place, permalink=permalink, iso=iso)
    return env


MAX_MAP_FEATURES = 500  # the overview map draws what the list shows, capped like the list


def map_features(items: Iterable[Disruption], mine: Iterable[str] = ()) -> str:
    """The items' geometries as JSON for `data-features` (severity, ended and "my lines" style them)."""
    out: list[dict[str, Any]] = []
    starred = set(mine)
    for d in items:
        if d.geometry is not None and len(out) < MAX_MAP_FEATURES:
            feature = {"geometry": thaw(d.geometry), "severity": d.severity, "ended": d.status == "ended"}
            out.append({**feature, "mine": True} if d.id in starred else feature)
    return json.dumps(out, separators=(",", ":"), allow_nan=False)


def iso(value: datetime) -> str:
    """A machine-readable time for `<time datetime>` (whole seconds, UTC; HTML allows at most ms)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def permalink(ident: str) -> str:
    """The path of a disruption's page (ids keep their `:`; anything odd is percent-encoded)."""
    return "/d/" + quote(ident, safe=":@/")


def paragraphs(text: str) -> list[list[str]]:
    """Plain text as paragraphs of lines (blank lines separate paragraphs)."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if lines:
            out.append(lines)
    return out


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are offered; `javascript:` and friends are shown as text, never linked."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _points(geometry: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    """Every part of a geometry as a list of (lon, lat) points."""
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "GeometryCollection":
        return [part for g in geometry.get("geometries", ()) for part in _points(g)]
    if kind == "Point":
        return [[(float(coords[0]), float(coords[1]))]] if coords else []
    if kind in ("LineString", "MultiPoint"):
        return [[(float(c[0]), float(c[1])) for c in coords or ()]]
    if kind in ("MultiLineString", "Polygon"):
        return [[(float(c[0]), float(c[1])) for c in ring] for ring in coords or ()]
    if kind == "MultiPolygon":
        return [[(float(c[0]), float(c[1])) for c in ring] for poly in coords or () for ring in poly]
    return []


def place(d: Disruption) -> dict[str, Any] | None:
    """Coordinates, an OpenStreetMap link and a tiny SVG sketch of the geometry (no map tiles)."""
    box = bbox_of(d.geometry) if d.geometry else None
    if box is None or d.geometry is None:
        return None
    lon, lat = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    extent = max(box[2] - box[0], box[3] - box[1], 1e-4)
    zoom = max(4, min(16, round(math.log2(360 / extent)) - 1))
    return {
        "lat": f"{lat:.5f}",
        "lon": f"{lon:.5f}",
        "osm": f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map={zoom}/{lat:.5f}/{lon:.5f}",
        "sketch": sketch(_points(d.geometry), box),
    }


def sketch(parts: list[list[tuple[float, float]]], box: tuple[float, float, float, float]) -> dict[str, Any]:
    """Parts projected into a 200 x 120 box (equirectangular, scaled by cos(latitude))."""
    width, height, pad = 200.0, 120.0, 10.0
    kx = math.cos(math.radians((box[1] + box[3]) / 2))
    dx, dy = max((box[2] - box[0]) * kx, 1e-9), max(box[3] - box[1], 1e-9)
    scale = min((width - 2 * pad) / dx, (height - 2 * pad) / dy)
    ox = (width - dx * scale) / 2
    oy = (height - dy * scale) / 2

    def xy(p: tuple[float, float]) -> tuple[float, float]:
        return round(ox + (p[0] - box[0]) * kx * scale, 1), round(height - oy - (p[1] - box[1]) * scale, 1)

    lines, dots = [], []
    for part in parts[:50]:
        if len(part) == 1:
            dots.append(xy(part[0]))
        elif part:
            lines.append(" ".join(f"{x},{y}" for x, y in map(xy, part[:500])))
    return {"lines": lines, "dots": dots}


async def health(app: web.Application) -> list[dict[str, Any]]:
    """Source health, read from the store at most every HEALTH_TTL seconds."""
    cached = app[HEALTH_CACHE]  # [monotonic time, records], mutated in place
    now = time.monotonic()
    if cached and now - cached[0] < HEALTH_TTL:
        records: list[dict[str, Any]] = cached[1]
        return records
    records = await source_health(app)
    types = {src.name: src.type for src in app[appmod.SETTINGS].sources}
    for r in records:  # a record written before its type was known still maps to its modes
        r["type"] = r.get("type") or types.get(r["source"], "")
    cached[:] = [now, records]
    return records


def depends_on(
    records: Iterable[dict[str, Any]], modes: Iterable[str] | None, sources: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The records a page depends on: by source name, else by the modes shown (None: all)."""
    names = set(sources)
    wanted = set(modes) if modes is not None else None
    out = []
    for r in records:
        if names:
            if r["source"] in names:
                out.append(r)
            continue
        served = TYPE_MODES.get(str(r.get("type", "")), frozenset(MODES))
        if wanted is None or not wanted or served & wanted:
            out.append(r)
    return out


def troubled(records: Iterable[dict[str, Any]]) -> list[str]:
    """Names of enabled sources that are stale, failing or suspect (the banner lists them)."""
    return [
        r["source"]
        for r in records
        if r["state"] in ("stale", "failing", "suspect") and r.get("enabled", True)
    ]


def health_stamp(records: Iterable[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """A coarse health key: pages re-render when a state changes, not on every poll."""
    return tuple((str(r["source"]), str(r["state"])) for r in records)


def valid_until(app: web.Application) -> float:
    """Until when (time.time()) a page chosen now stays the one served: the end of the minute
    its relative times are for, and of the health records' read (the fast lane replays it)."""
    now = time.time()
    cached = app[HEALTH_CACHE]
    health = now + cached[0] + HEALTH_TTL - time.monotonic() if cached else now
    return min((now // 60 + 1) * 60, health)


def minute() -> int:
    """The current minute: relative times on pages are re-rendered at most once a minute."""
    return int(time.time() // 60)
