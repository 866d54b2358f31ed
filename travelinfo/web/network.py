"""The maps' base layer: the reference GTFS's lines and stops as one GeoJSON document.

Lines are drawn from shapes.txt where a route's trips name a shape, else from the stop
sequences of its trip patterns (stop_times.txt, each distinct pattern once, a pattern and its
reverse alike). Stops are stations and stops without a parent station. The document is pure
data read from a local folder or zip (no I/O but those files), rendered once per change of the
files (`mark`) and served with an ETag by the pages' routes.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import Rendered, respond
from travelinfo.web import propercase

FILES = ("routes.txt", "trips.txt", "shapes.txt", "stop_times.txt", "stops.txt")
MAX_ROWS = 2_000_000  # rows read of one file; a feed past this is drawn from what was read
MAX_FIELD = 10_000
MAX_ENTRY_BYTES = 256 * 1024 * 1024  # one member of the zip, as its header declares it
MAX_PATTERNS = 8  # distinct drawings per route (directions, branches)
MAX_LINES = 3000  # line features in the whole document
MAX_STOPS = 20_000
# GTFS route types (basic and the extended ranges) as our modes; others are drawn as "other".
_MODES = {0: "tram", 1: "metro", 2: "rail", 3: "bus", 4: "ferry", 5: "tram", 7: "rail", 11: "bus", 12: "rail"}
_RANGES = ((100, 199, "rail"), (200, 299, "bus"), (400, 499, "metro"), (700, 899, "bus"), (900, 999, "tram"),
           (1000, 1299, "ferry"), (1400, 1499, "rail"))  # fmt: skip
_COLOUR = re.compile(r"[0-9A-Fa-f]{6}")

Opener = Callable[[], AbstractContextManager[IO[bytes]]]
Mark = tuple[tuple[str, float, int], ...]


def mode_of(route_type: str) -> str:
    """Our mode for a GTFS route_type ("other" for aerial lifts and the unknown)."""
    try:
        n = int(route_type)
    except ValueError:
        return "other"
    if n in _MODES:
        return _MODES[n]
    return next((m for low, high, m in _RANGES if low <= n <= high), "other")


def local_path(location: str, root: Path) -> Path | None:
    """The reference as a local path (relative to `root`); None for URLs and nothing configured."""
    if not location or ("://" in location and not location.startswith("file://")):
        return None
    path = Path(location.removeprefix("file://"))
    return path if path.is_absolute() else root / path


def mark(path: Path | None) -> Mark:
    """Name, mtime and size of the files read: the document changes when this does (() if none)."""
    if path is None:
        return ()
    try:
        if path.is_dir():
            found = [path / n for n in FILES if (path / n).is_file()]
            return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in found)
        st = path.stat()
        return ((path.name, st.st_mtime, st.st_size),)
    except OSError:
        return ()


def _file_opener(file: Path) -> Opener:
    return lambda: file.open("rb")


def _openers(path: Path) -> tuple[dict[str, Opener], zipfile.ZipFile | None]:
    if path.is_dir():
        return {n: _file_opener(path / n) for n in FILES if (path / n).is_file()}, None
    archive = zipfile.ZipFile(path)
    found: dict[str, Opener] = {}
    for info in archive.infolist():
        base = info.filename.rsplit("/", 1)[-1]
        if base in FILES and base not in found and info.file_size <= MAX_ENTRY_BYTES:
            found[base] = functools.partial(archive.open, info)
    return found, archive


def _rows(openers: dict[str, Opener], name: str) -> Iterator[dict[str, str]]:
    """The rows of one file, streamed, at most MAX_ROWS (an absent file has none)."""
    if name not in openers:
        return
    csv.field_size_limit(MAX_FIELD)
    with openers[name]() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        try:
            for n, row in enumerate(csv.DictReader(text)):
                if n >= MAX_ROWS:
                    return
                yield {
                    (k or "").strip(): (v or "").strip() for k, v in row.items() if isinstance(v, str | None)
                }
        except csv.Error:
            return  # a broken file draws what was read before the break


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


@dataclass
class _Feed:
    routes: dict[str, dict[str, str]] = field(default_factory=dict)
    trips: dict[str, tuple[str, str]] = field(default_factory=dict)  # trip -> (route, shape)
    stops: dict[str, dict[str, str]] = field(default_factory=dict)


def _point(lon: str, lat: str) -> tuple[float, float] | None:
    x, y = _float(lon), _float(lat)
    if x is None or y is None or not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        return None
    return round(x, 5), round(y, 5)


def _shapes(openers: dict[str, Opener], wanted: set[str]) -> dict[str, list[tuple[float, float]]]:
    points: dict[str, list[tuple[float, tuple[float, float]]]] = {}
    for row in _rows(openers, "shapes.txt"):
        sid = row.get("shape_id", "")
        p = _point(row.get("shape_pt_lon", ""), row.get("shape_pt_lat", ""))
        seq = _float(row.get("shape_pt_sequence", ""))
        if sid in wanted and p is not None and seq is not None:
            points.setdefault(sid, []).append((seq, p))
    return {sid: [p for _, p in sorted(pts, key=lambda x: x[0])] for sid, pts in points.items()}


def _patterns(
    openers: dict[str, Opener], trips: dict[str, str]
) -> tuple[dict[str, list[list[str]]], set[str]]:
    """(route -> distinct stop sequences of its trips in `trips` (trip -> route), every stop served)."""
    seqs: dict[str, list[tuple[int, str]]] = {}
    served: set[str] = set()
    for row in _rows(openers, "stop_times.txt"):
        trip, stop = row.get("trip_id", ""), row.get("stop_id", "")
        served.add(stop)
        if trip in trips:
            try:
                seqs.setdefault(trip, []).append((int(row.get("stop_sequence", "")), stop))
            except ValueError:
                continue
    out: dict[str, list[list[str]]] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for trip, stops in seqs.items():
        route = trips[trip]
        pattern = tuple(s for _, s in sorted(stops))
        if len(pattern) < 2 or (route, pattern) in seen or (route, pattern[::-1]) in seen:
            continue
        seen.add((route, pattern))
        if len(out.setdefault(route, [])) < MAX_PATTERNS:
            out[route].append(list(pattern))
    return out, served


def _line(route_id: str, route: dict[str, str], coords: list[tuple[float, float]]) -> dict[str, Any] | None:
    clean = [p for i, p in enumerate(coords) if i == 0 or p != coords[i - 1]]
    if len(clean) < 2:
        return None
    colour = route.get("route_color", "")
    props = {
        "kind": "line",
        "mode": mode_of(route.get("route_type", "")),
        "name": route.get("route_short_name") or route.get("route_long_name", ""),
        "colour": "#" + colour.upper() if _COLOUR.fullmatch(colour) else "",
    }
    geometry = {"type": "LineString", "coordinates": [list(p) for p in clean]}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def build(path: Path) -> dict[str, Any]:
    """The network of the GTFS folder or zip at `path` as a GeoJSON FeatureCollection."""
    openers, archive = _openers(path)
    try:
        feed = _Feed()
        for row in _rows(openers, "routes.txt"):
            feed.routes[row.get("route_id", "")] = row
        for row in _rows(openers, "trips.txt"):
            if row.get("route_id", "") in feed.routes:
                feed.trips[row.get("trip_id", "")] = (row.get("route_id", ""), row.get("shape_id", ""))
        for row in _rows(openers, "stops.txt"):
            feed.stops[row.get("stop_id", "")] = row
        shapes = _shapes(openers, {s for _, s in feed.trips.values() if s})
        shaped = {r for r, s in feed.trips.values() if s in shapes}
        patterns, served = _patterns(openers, {t: r for t, (r, _) in feed.trips.items() if r not in shaped})
    finally:
        if archive is not None:
            archive.close()
    shapes_of: dict[str, dict[str, None]] = {}  # route -> its trips' shape ids, first seen first
    for r, s in feed.trips.values():
        if s in shapes:
            shapes_of.setdefault(r, {})[s] = None
    features: list[dict[str, Any]] = []
    for route_id, route in feed.routes.items():
        if route_id in shaped:
            drawings = [shapes[s] for s in list(shapes_of[route_id])[:MAX_PATTERNS]]
        else:
            drawings = [_stop_points(feed, pat) for pat in patterns.get(route_id, [])]
        for coords in drawings:
            feature = _line(route_id, route, coords)
            if feature is not None and len(features) < MAX_LINES:
                features.append(feature)
    features += _stop_features(feed, served)
    return {"type": "FeatureCollection", "features": features}


def _stop_points(feed: _Feed, pattern: list[str]) -> list[tuple[float, float]]:
    """A pattern's stops as points (a platform without position stands at its station)."""
    out = []
    for stop_id in pattern:
        row = feed.stops.get(stop_id) or {}
        p = _point(row.get("stop_lon", ""), row.get("stop_lat", ""))
        parent = feed.stops.get(row.get("parent_station", "")) or {}
        p = p or _point(parent.get("stop_lon", ""), parent.get("stop_lat", ""))
        if p is not None:
            out.append(p)
    return out


def _stop_features(feed: _Feed, served: set[str]) -> list[dict[str, Any]]:
    """Stations and stops trips call at (all stops when stop_times.txt is absent), once each."""
    wanted = served or set(feed.stops)
    out: list[dict[str, Any]] = []
    drawn: set[str] = set()
    for stop_id in feed.stops:
        if stop_id not in wanted:
            continue
        row = feed.stops[stop_id]
        if row.get("location_type", "0") not in ("", "0", "1"):
            continue  # entrances, generic nodes and boarding areas are not stops on a map
        parent = row.get("parent_station", "")
        if parent in feed.stops:  # a platform is drawn as its station
            stop_id, row = parent, feed.stops[parent]
        p = _point(row.get("stop_lon", ""), row.get("stop_lat", ""))
        if p is None or stop_id in drawn or len(out) >= MAX_STOPS:
            continue
        drawn.add(stop_id)
        props = {"kind": "stop", "name": row.get("stop_name", "")}
        out.append(
            {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": list(p)}}
        )
    return out


def render(path: Path | None) -> bytes:
    """The document's bytes (an empty collection without a readable local reference)."""
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    if path is not None:
        try:
            doc = build(path)
        except (OSError, zipfile.BadZipFile, KeyError, ValueError):
            pass  # the map is a nicety: without its base layer it still shows the items
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass
class Served:
    """The rendered document and the mark of the files it was rendered from."""

    mark: Mark | None = None
    rendered: Rendered | None = None
    checked: float = 0.0  # monotonic time the files were last stat'ed
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


SERVED: web.AppKey[Served] = web.AppKey("web_network", Served)
CHECK_EVERY = 5.0  # seconds between looks at the reference files' modification times
CONTENT_TYPE = "application/geo+json"


async def current(app: web.Application) -> Rendered:
    """The document, re-rendered (off the event loop) only when the reference files changed."""
    served = app[SERVED]
    if served.rendered is not None and time.monotonic() - served.checked < CHECK_EVERY:
        return served.rendered
    settings = app[appmod.SETTINGS]
    path = local_path(settings.reference.gtfs_static, settings.root())
    async with served.lock:
        stamp = await asyncio.to_thread(mark, path)
        served.checked = time.monotonic()
        if served.rendered is None or stamp != served.mark:
            body = await asyncio.to_thread(render, path)
            served.rendered = Rendered.make(body, CONTENT_TYPE, datetime.now(UTC))
            served.mark = stamp
    return served.rendered


async def handler(request: web.Request) -> web.StreamResponse:
    """GET /map/network.geojson: the base layer (ETag, 304, gzip)."""
    rendered = await current(request.app)
    # Replayed until the next look at the reference files (their change is no store change).
    until = time.time() + request.app[SERVED].checked + CHECK_EVERY - time.monotonic()
    return respond(request, rendered, cache_control="public, max-age=300", lane=until)


def setup(app: web.Application) -> None:
    """Serve the base layer next to the pages; its stop names join the place-name gazetteer."""
    app[SERVED] = Served()
    settings = app[appmod.SETTINGS]
    propercase.install_stops(stop_names(local_path(settings.reference.gtfs_static, settings.root())))
    app.router.add_get("/map/network.geojson", handler, name="network")


def stop_names(path: Path | None) -> list[str]:
    """Every stop name of the reference (the gazetteer that keeps place names capitalised)."""
    if path is None:
        return []
    try:
        openers, archive = _openers(path)
    except (OSError, zipfile.BadZipFile):
        return []
    try:
        return [n for row in _rows(openers, "stops.txt") if (n := row.get("stop_name", ""))]
    except (OSError, ValueError):
        return []
    finally:
        if archive is not None:
            archive.close()
