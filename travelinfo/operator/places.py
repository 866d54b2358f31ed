"""Places an operator picks: stops and lines of the reference GTFS, and the main roads.

Read from the local GTFS static zip or folder (`reference.gtfs_static`) once per process, as
the board reads its lines; a URL or unreadable data leaves only the roads (and typed ones).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from travelinfo.vocab import ROUTE_TYPE_OF_MODE
from travelinfo.web.board import MAIN_ROADS

MAX_FILE = 64 * 1024 * 1024
MAX_ROWS = 200_000
MAX_HITS = 30
ROAD = re.compile(r"(?i)(e\s?\d{1,3}|\d{1,4}|[A-Za-zÅÄÖåäö]+leden|[A-Za-zÅÄÖåäö]+ länken)")
MODE_OF_TYPE = {v: k for k, v in ROUTE_TYPE_OF_MODE.items()}


@dataclass(frozen=True, slots=True)
class Place:
    """One pickable place: its `affected` entry, a label, and a position for stops."""

    type: str  # stop, route, road
    id: str
    name: str
    detail: str = ""
    lon: float | None = None
    lat: float | None = None

    @property
    def value(self) -> str:
        """The form value: the JSON `affected` entry (a stop's position rides along as `at`)."""
        entry: dict[str, object] = {"id": self.id, "name": self.name, "type": self.type}
        if self.lon is not None and self.lat is not None:
            entry["at"] = [self.lon, self.lat]
        return json.dumps(entry, ensure_ascii=False, sort_keys=True)


@dataclass
class Places:
    """Every pickable place, searched by name."""

    stops: list[Place] = field(default_factory=list)
    routes: list[Place] = field(default_factory=list)

    def search(self, query: str) -> list[Place]:
        """Lines, then roads, then stops whose name (or line number) matches `query`."""
        q = query.strip().casefold()
        if not q:
            return []
        routes = [p for p in self.routes if p.name.casefold() == q or q in p.detail.casefold()]
        routes.sort(key=lambda p: (p.name.casefold() != q, p.name))
        roads = [Place("road", r, r) for r in MAIN_ROADS if q in r.casefold()]
        typed = query.strip()
        if ROAD.fullmatch(typed) and not any(r.id.casefold() == q for r in roads) and not routes:
            road = typed.upper().replace(" ", "") if typed[:1] in "eE" else typed
            roads.append(Place("road", road, road))
        seen: set[str] = set()
        stops = []
        for p in self.stops:  # one entry per stop name (platforms share it), first one wins
            if q in p.name.casefold() and p.name not in seen:
                seen.add(p.name)
                stops.append(p)
        stops.sort(key=lambda p: (not p.name.casefold().startswith(q), p.name))
        return (routes + roads + stops)[:MAX_HITS]


def _rows(raw: bytes) -> Iterator[dict[str, str]]:
    text = raw.decode("utf-8-sig", errors="replace")
    for n, row in enumerate(csv.DictReader(io.StringIO(text))):
        if n >= MAX_ROWS:
            return
        yield {k.strip(): (v or "").strip() for k, v in row.items() if k}


def _read(location: Path, name: str) -> bytes | None:
    try:
        if location.is_dir():
            path = location / name
            return path.read_bytes() if path.stat().st_size <= MAX_FILE else None
        with zipfile.ZipFile(location) as z:
            info = z.getinfo(name)
            return z.read(info) if info.file_size <= MAX_FILE else None
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) <= 180 else None


def load_places(location: str, root: Path) -> Places:
    """The stops (not entrances or nodes) and lines of a local GTFS static zip or folder."""
    places = Places()
    if not location or "://" in location:
        return places
    path = Path(location) if Path(location).is_absolute() else root / location
    raw = _read(path, "stops.txt")
    for row in _rows(raw) if raw else ():
        if row.get("location_type", "0") not in ("", "0", "1") or not row.get("stop_name"):
            continue
        lat, lon = _float(row.get("stop_lat", "")), _float(row.get("stop_lon", ""))
        places.stops.append(Place("stop", row.get("stop_id", ""), row["stop_name"], "", lon, lat))
    raw = _read(path, "routes.txt")
    for row in _rows(raw) if raw else ():
        short, long = row.get("route_short_name", ""), row.get("route_long_name", "")
        try:
            mode = MODE_OF_TYPE.get(int(row.get("route_type", "")), "")
        except ValueError:
            mode = ""
        if short or long:
            places.routes.append(
                Place("route", row.get("route_id", ""), short or long, f"{short} {long} {mode}")
            )
    return places
