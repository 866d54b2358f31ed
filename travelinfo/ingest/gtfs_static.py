"""GTFS static reference data: route, stop and agency names and modes, from a zip or a folder."""

from __future__ import annotations

import csv
import functools
import io
import zipfile
from collections.abc import AsyncIterable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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
_FILES = ("agency.txt", "routes.txt", "stops.txt", "trips.txt", "shapes.txt", "stop_times.txt")

# Caps against zip bombs and runaway feeds (issue 12: a 300 KB zip once took 1.58 GB).
# Sweden's whole feed (Samtrafiken) has about 1 million trips and 50,000 stops.
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024  # the zip as downloaded
MAX_ENTRY_BYTES = 256 * 1024 * 1024  # one of the files we read, uncompressed
MAX_ENTRIES = 10_000  # members in the zip
MAX_ROWS = 2_000_000  # rows read from one file
MAX_FIELD_CHARS = 10_000  # one CSV field
# shapes.txt and stop_times.txt are streamed and only the rows of one trip per pattern kept:
# SL's stop_times.txt alone has several million rows.
MAX_GEOMETRY_ROWS = 60_000_000


class GtfsTooLarge(ValueError):
    """The feed (or one of its files) is over a documented cap."""


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


@dataclass(frozen=True, slots=True)
class Pattern:
    """One trip pattern: a route in one direction along one shape (or its stops when shapeless)."""

    route_id: str
    direction_id: int | None
    headsign: str
    shape: tuple[tuple[float, float], ...]  # (lon, lat), from shapes.txt; () when the feed has none
    stop_ids: tuple[str, ...]  # in stop_sequence order


@dataclass(slots=True)
class GtfsStatic:
    """Names and modes by id; `trips` maps trip_id to route_id (empty when trips.txt is absent).

    `patterns`: one per (route, direction_id, shape_id) with its shape and the stops of its first
    trip (read from shapes.txt and stop_times.txt when present; the impacts' reference geometry).
    """

    agencies: dict[str, str] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    stops: dict[str, Stop] = field(default_factory=dict)
    trips: dict[str, str] = field(default_factory=dict)
    patterns: tuple[Pattern, ...] = ()

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


class _Capped(io.RawIOBase):
    """A binary stream that fails once more than `limit` bytes have been read from it."""

    def __init__(self, raw: IO[bytes], limit: int, name: str) -> None:
        self.raw, self.limit, self.name_, self.count = raw, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.raw.read(min(len(buffer), 64 * 1024))
        self.count += len(chunk)
        if self.count > self.limit:
            raise GtfsTooLarge(f"{self.name_}: more than {self.limit} bytes uncompressed")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _rows(stream: IO[bytes] | None, name: str, max_rows: int = MAX_ROWS) -> Iterator[dict[str, str]]:
    """The rows of one GTFS file, streamed (never the whole text in memory), capped."""
    if stream is None:
        return
    # GTFS files often start with a BOM and may pad values with spaces.
    text = io.TextIOWrapper(
        io.BufferedReader(_Capped(stream, MAX_ENTRY_BYTES, name)),
        encoding="utf-8-sig",
        errors="replace",
        newline="",
    )
    csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        for count, row in enumerate(csv.DictReader(text)):
            if count >= max_rows:
                raise GtfsTooLarge(f"{name}: more than {max_rows} rows")
            yield {(k or "").strip(): (v or "").strip() for k, v in row.items() if isinstance(v, str | None)}
    except csv.Error as exc:
        raise ValueError(f"{name}: not readable CSV: {exc}") from None


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


def _build(open_file: dict[str, Callable[[], IO[bytes]]]) -> GtfsStatic:
    def files(name: str) -> Iterator[dict[str, str]]:
        if name not in open_file:
            return iter(())
        return _stream(open_file[name], name)

    gtfs = GtfsStatic()
    for row in files("agency.txt"):
        gtfs.agencies[row.get("agency_id", "")] = row.get("agency_name", "")
    # A single-agency feed may leave agency_id out of routes.txt: the route then belongs to it.
    default_agency = next(iter(gtfs.agencies)) if len(gtfs.agencies) == 1 else ""
    for row in files("routes.txt"):
        gtfs.routes[row.get("route_id", "")] = Route(
            short_name=row.get("route_short_name", ""),
            long_name=row.get("route_long_name", ""),
            route_type=_int(row.get("route_type", "")),
            agency_id=row.get("agency_id") or default_agency,
        )
    for row in files("stops.txt"):
        gtfs.stops[row.get("stop_id", "")] = Stop(
            name=row.get("stop_name", ""),
            lat=_float(row.get("stop_lat", "")),
            lon=_float(row.get("stop_lon", "")),
            parent=row.get("parent_station", ""),
        )
    first: dict[tuple[str, int | None, str], tuple[str, str]] = {}  # pattern -> (trip, headsign)
    for row in files("trips.txt"):
        trip, route = row.get("trip_id", ""), row.get("route_id", "")
        gtfs.trips[trip] = route
        direction = _int(row.get("direction_id", ""))
        key = (route, direction if direction in (0, 1) else None, row.get("shape_id", ""))
        first.setdefault(key, (trip, row.get("trip_headsign", "")))
    gtfs.patterns = _patterns(first, files)
    return gtfs


def _patterns(
    first: dict[tuple[str, int | None, str], tuple[str, str]],
    files: Callable[[str], Iterator[dict[str, str]]],
) -> tuple[Pattern, ...]:
    """The shape and stops of each pattern's first trip (only those rows are kept)."""
    wanted_shapes = {shape for (_, _, shape) in first if shape}
    points: dict[str, list[tuple[int, float, float]]] = {s: [] for s in wanted_shapes}
    for row in files("shapes.txt"):
        pts = points.get(row.get("shape_id", ""))
        lat, lon = _float(row.get("shape_pt_lat", "")), _float(row.get("shape_pt_lon", ""))
        if pts is not None and lat is not None and lon is not None:
            pts.append((_int(row.get("shape_pt_sequence", ""), len(pts)), lon, lat))
    trips: dict[str, list[tuple[int, str]]] = {trip: [] for trip, _ in first.values()}
    for row in files("stop_times.txt"):
        seq = trips.get(row.get("trip_id", ""))
        if seq is not None:
            seq.append((_int(row.get("stop_sequence", ""), len(seq)), row.get("stop_id", "")))
    out = []
    for (route, direction, shape_id), (trip, headsign) in first.items():
        shape = tuple((lon, lat) for _, lon, lat in sorted(points.get(shape_id, ())))
        stops = tuple(stop for _, stop in sorted(trips[trip]))
        if len(shape) >= 2 or len(stops) >= 2:
            out.append(Pattern(route, direction, headsign, shape, stops))
    return tuple(out)


def _stream(opener: Callable[[], IO[bytes]], name: str) -> Iterator[dict[str, str]]:
    limit = MAX_GEOMETRY_ROWS if name in ("shapes.txt", "stop_times.txt") else MAX_ROWS
    with opener() as stream:
        yield from _rows(stream, name, limit)


def load_gtfs(path: str | Path) -> GtfsStatic:
    """Load a GTFS zip or a folder of .txt files (agency, routes, stops; trips optional).

    Refuses (GtfsTooLarge) a zip over MAX_DOWNLOAD_BYTES, with over MAX_ENTRIES members, a
    file over MAX_ENTRY_BYTES uncompressed or MAX_ROWS rows: files are streamed, never
    decompressed whole.
    """
    path = Path(path)
    if path.is_dir():
        openers: dict[str, Callable[[], IO[bytes]]] = {
            n: _file_opener(path / n) for n in _FILES if (path / n).is_file()
        }
        return _checked(openers, path)
    if path.stat().st_size > MAX_DOWNLOAD_BYTES:
        raise GtfsTooLarge(f"{path.name}: zip larger than {MAX_DOWNLOAD_BYTES} bytes")
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > MAX_ENTRIES:
            raise GtfsTooLarge(f"{path.name}: more than {MAX_ENTRIES} members")
        found: dict[str, zipfile.ZipInfo] = {}
        # Some producers nest the files in a folder inside the zip: match on the base name.
        for info in members:
            base = info.filename.rsplit("/", 1)[-1]
            if base in _FILES and base not in found:
                if info.file_size > MAX_ENTRY_BYTES:  # the header's word; the stream checks again
                    raise GtfsTooLarge(f"{base}: more than {MAX_ENTRY_BYTES} bytes uncompressed")
                found[base] = info
        members_open: dict[str, Callable[[], IO[bytes]]] = {
            base: functools.partial(archive.open, info) for base, info in found.items()
        }
        return _checked(members_open, path)


def _file_opener(file: Path) -> Callable[[], IO[bytes]]:
    return lambda: file.open("rb")


def _checked(openers: dict[str, Callable[[], IO[bytes]]], path: Path) -> GtfsStatic:
    if "routes.txt" not in openers and "stops.txt" not in openers:
        raise ValueError(f"{path.name}: no routes.txt or stops.txt: not a GTFS feed")
    return _build(openers)


async def read_capped(chunks: AsyncIterable[bytes], limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
    """Join downloaded chunks, refusing (GtfsTooLarge) more than `limit` bytes."""
    out = bytearray()
    async for chunk in chunks:
        out += chunk
        if len(out) > limit:
            raise GtfsTooLarge(f"download larger than {limit} bytes")
    return bytes(out)


def build_zip(folder: str | Path) -> bytes:
    """A GTFS zip (bytes) of every .txt file in `folder`, in name order (for validators)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(Path(folder).glob("*.txt")):
            archive.writestr(file.name, file.read_bytes())
    return buffer.getvalue()
