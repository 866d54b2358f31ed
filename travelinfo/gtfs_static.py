"""GTFS static reference data: route, stop and agency names and modes, from a zip or a folder."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Basic GTFS route_type values, then the extended (HVT) ranges, each mapped to our modes.
_BASIC_MODES = {
    0: "tram",
    1: "metro",
    2: "rail",
    3: "bus",
    4: "ferry",
    5: "tram",  # cable tram
    7: "rail",  # funicular
    11: "bus",  # trolleybus
    12: "rail",  # monorail
}
_EXTENDED_MODES = (
    (100, 199, "rail"),
    (200, 299, "bus"),  # coach
    (400, 499, "metro"),  # urban railway / metro / underground
    (700, 799, "bus"),
    (800, 899, "bus"),  # trolleybus
    (900, 999, "tram"),
    (1000, 1099, "ferry"),  # water transport
    (1200, 1299, "ferry"),
    (1400, 1499, "rail"),  # funicular
)
# The basic route_type we write for each mode (GTFS-RT output, portable to every consumer).
ROUTE_TYPE_OF_MODE = {"tram": 0, "metro": 1, "rail": 2, "bus": 3, "ferry": 4}
_FILES = ("agency.txt", "routes.txt", "stops.txt", "trips.txt")


def mode_for_route_type(route_type: int) -> str | None:
    """Our mode for a GTFS (basic or extended) route_type; None for aerial lifts and the unknown."""
    if route_type in _BASIC_MODES:
        return _BASIC_MODES[route_type]
    for low, high, mode in _EXTENDED_MODES:
        if low <= route_type <= high:
            return mode
    return None


@dataclass(frozen=True, slots=True)
class Route:
    """One routes.txt row, reduced to what publishing needs."""

    short_name: str
    long_name: str
    route_type: int
    agency_id: str

    @property
    def name(self) -> str:
        """`short long` (e.g. `14 Mörby centrum–Fruängen`), or whichever exists."""
        return " ".join(part for part in (self.short_name, self.long_name) if part)


@dataclass(frozen=True, slots=True)
class Stop:
    """One stops.txt row: name and position (WGS 84)."""

    name: str
    lat: float | None = None
    lon: float | None = None
    parent: str = ""


@dataclass(slots=True)
class GtfsStatic:
    """Names and modes by id; `trips` maps trip_id to route_id (empty when trips.txt is absent)."""

    agencies: dict[str, str] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    stops: dict[str, Stop] = field(default_factory=dict)
    trips: dict[str, str] = field(default_factory=dict)

    def route_name(self, route_id: str) -> str | None:
        """Display name of a route, None when unknown."""
        route = self.routes.get(route_id)
        return (route.name or None) if route else None

    def stop_name(self, stop_id: str) -> str | None:
        """Name of a stop, None when unknown."""
        stop = self.stops.get(stop_id)
        return (stop.name or None) if stop else None

    def agency_name(self, agency_id: str) -> str | None:
        """Name of an agency, None when unknown."""
        return self.agencies.get(agency_id) or None

    def modes_for_route(self, route_id: str) -> tuple[str, ...]:
        """The mode of a route (one element), or () when unknown."""
        route = self.routes.get(route_id)
        mode = mode_for_route_type(route.route_type) if route else None
        return (mode,) if mode else ()

    def modes_for_agency(self, agency_id: str) -> tuple[str, ...]:
        """Every mode the agency runs, in first-seen order."""
        modes: dict[str, None] = {}
        for route in self.routes.values():
            if route.agency_id == agency_id:
                mode = mode_for_route_type(route.route_type)
                if mode:
                    modes[mode] = None
        return tuple(modes)

    def route_of_trip(self, trip_id: str) -> str | None:
        """The route_id a trip runs on, None when unknown."""
        return self.trips.get(trip_id)


def _rows(text: str) -> Iterator[dict[str, str]]:
    # GTFS files often start with a BOM and may pad values with spaces.
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    for row in reader:
        yield {(k or "").strip(): (v or "").strip() for k, v in row.items()}


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _int(value: str, default: int = -1) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _build(files: dict[str, str]) -> GtfsStatic:
    gtfs = GtfsStatic()
    for row in _rows(files.get("agency.txt", "")):
        gtfs.agencies[row.get("agency_id", "")] = row.get("agency_name", "")
    # A single-agency feed may leave agency_id out of routes.txt: the route then belongs to it.
    default_agency = next(iter(gtfs.agencies)) if len(gtfs.agencies) == 1 else ""
    for row in _rows(files.get("routes.txt", "")):
        gtfs.routes[row["route_id"]] = Route(
            short_name=row.get("route_short_name", ""),
            long_name=row.get("route_long_name", ""),
            route_type=_int(row.get("route_type", "")),
            agency_id=row.get("agency_id") or default_agency,
        )
    for row in _rows(files.get("stops.txt", "")):
        gtfs.stops[row["stop_id"]] = Stop(
            name=row.get("stop_name", ""),
            lat=_float(row.get("stop_lat", "")),
            lon=_float(row.get("stop_lon", "")),
            parent=row.get("parent_station", ""),
        )
    for row in _rows(files.get("trips.txt", "")):
        gtfs.trips[row["trip_id"]] = row.get("route_id", "")
    return gtfs


def load_gtfs(path: str | Path) -> GtfsStatic:
    """Load a GTFS zip or a folder of .txt files (agency, routes, stops; trips optional)."""
    path = Path(path)
    files: dict[str, str] = {}
    if path.is_dir():
        for name in _FILES:
            if (path / name).is_file():
                files[name] = (path / name).read_text(encoding="utf-8-sig")
    else:
        with zipfile.ZipFile(path) as archive:
            # Some producers nest the files in a folder inside the zip: match on the base name.
            for info in archive.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if base in _FILES and base not in files:
                    files[base] = archive.read(info).decode("utf-8-sig")
    if "routes.txt" not in files and "stops.txt" not in files:
        raise ValueError(f"{path}: no routes.txt or stops.txt: not a GTFS feed")
    return _build(files)


def build_zip(folder: str | Path) -> bytes:
    """A GTFS zip (bytes) of every .txt file in `folder`, in name order (for validators)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(Path(folder).glob("*.txt")):
            archive.writestr(file.name, file.read_bytes())
    return buffer.getvalue()
