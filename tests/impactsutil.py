"""A small Stockholm GTFS for the impact tests: real roads and fairways, lines on their carriageways.

Roads are centrelines (WGS 84, approximate real coordinates). A line's shape is the road
offset to its right-hand carriageway (`lane_m`), or by a given distance (a parallel street, a
service road); crossings are drawn across the road. The GTFS is written as .txt files and loaded
with the real loader, so the tests also cover shapes.txt/stop_times.txt reading.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely

from travelinfo.impacts.index import ReferenceIndex, build_index
from travelinfo.ingest.gtfs_static import load_gtfs, mode_for_route_type
from travelinfo.model import Affected, Disruption, Period

Coords = list[tuple[float, float]]
M_PER_DEG_LAT = 111_195.0

ROADS: dict[str, Coords] = {
    # E4/E20 Essingeleden, Gröndal - Stora/Lilla Essingen - Fredhäll - Kristineberg
    "essingeleden": [
        (18.0010, 59.3170),
        (18.0036, 59.3265),
        (18.0045, 59.3350),
        (18.0120, 59.3395),
        (18.0260, 59.3440),
    ],
    # E4 north: Norrtull - Haga - Frösunda - Järva krog - Ulriksdal
    "e4": [
        (18.0454, 59.3483),
        (18.0330, 59.3560),
        (18.0180, 59.3620),
        (18.0059, 59.3660),
        (17.9950, 59.3740),
        (17.9800, 59.3880),
    ],
    # E18 Värmdöleden: Danvikstull - Nacka - Skurubron - Insjön
    "varmdoleden": [
        (18.1050, 59.3130),
        (18.1500, 59.3070),
        (18.1900, 59.3090),
        (18.2130, 59.3110),
        (18.2300, 59.3150),
        (18.2700, 59.3220),
    ],
    # E18 Norrtäljevägen: Stocksund - Danderyd - Täby
    "e18": [(18.0560, 59.3830), (18.0500, 59.3950), (18.0480, 59.4050), (18.0600, 59.4200)],
    # E4/E20 Södertäljevägen: Nyboda - Västberga - Kungens kurva
    "e20": [(18.0200, 59.3050), (18.0050, 59.2950), (17.9900, 59.2850), (17.9700, 59.2700)],
    # Valhallavägen (east-west) and Sveavägen (north-south), crossing near Odenplan's east
    "valhallavagen": [(18.0480, 59.3490), (18.0650, 59.3475), (18.0800, 59.3440), (18.0960, 59.3430)],
    "sveavagen": [(18.0630, 59.3330), (18.0590, 59.3400), (18.0550, 59.3450), (18.0520, 59.3500)],
    # Fairways: Strömkajen - Saltsjön - Blockhusudden - Oxdjupet - Vaxholm, and on to Sandhamn
    "vaxholmsleden": [
        (18.0754, 59.3292),
        (18.1000, 59.3235),
        (18.1500, 59.3280),
        (18.1900, 59.3350),
        (18.2500, 59.3560),
        (18.3000, 59.3800),
        (18.3512, 59.4024),
    ],
    "sandhamnsleden": [
        (18.3512, 59.4024),
        (18.4500, 59.3800),
        (18.6000, 59.3400),
        (18.7500, 59.3100),
        (18.9100, 59.2880),
    ],
}


def offset(line: Coords, metres: float) -> Coords:
    """`line` moved `metres` to the right of its direction (negative: to the left), mitred corners."""
    lat0 = sum(p[1] for p in line) / len(line)
    kx = M_PER_DEG_LAT * math.cos(math.radians(lat0))
    flat = shapely.LineString([(lon * kx, lat * M_PER_DEG_LAT) for lon, lat in line])
    moved = shapely.offset_curve(flat, -metres, join_style="mitre", mitre_limit=10.0)
    return [(round(x / kx, 7), round(y / M_PER_DEG_LAT, 7)) for x, y in moved.coords]


def cross(at: tuple[float, float], bearing_deg: float, half_m: float = 600.0) -> Coords:
    """A straight line through `at` with the given bearing (a street crossing a road)."""
    kx = M_PER_DEG_LAT * math.cos(math.radians(at[1]))
    dx, dy = math.sin(math.radians(bearing_deg)) * half_m, math.cos(math.radians(bearing_deg)) * half_m
    return [(at[0] - dx / kx, at[1] - dy / M_PER_DEG_LAT), at, (at[0] + dx / kx, at[1] + dy / M_PER_DEG_LAT)]


def part(line: Coords, start: int, end: int) -> Coords:
    return line[start : end + 1]


SANDHAMN = ROADS["vaxholmsleden"] + ROADS["sandhamnsleden"][1:]
LANE = 8.0  # a carriageway's centre from the road's centreline (m)
R = ROADS
# (short name, route_type, {direction_id: shape})
LINES: list[tuple[str, int, dict[int, Coords]]] = [
    ("E1", 3, {0: offset(R["essingeleden"], LANE), 1: offset(R["essingeleden"][::-1], LANE)}),
    ("49", 3, {0: offset(R["essingeleden"], 60.0)}),  # a parallel street 60 m east
    ("1", 3, {0: cross((18.00405, 59.3300), 90.0)}),  # over Essingeleden on a bridge
    ("515", 3, {0: offset(R["e4"], LANE), 1: offset(R["e4"][::-1], LANE)}),  # E4 is drawn northwards
    ("518", 3, {0: offset(part(R["e4"], 0, 3), LANE)}),
    ("506", 3, {0: offset(part(R["e4"], 2, 4), 70.0)}),  # the service road beside E4
    ("509", 3, {0: cross((18.0059, 59.3660), 30.0)}),  # across E4 at Järva krog
    ("474", 3, {0: offset(R["varmdoleden"], LANE), 1: offset(R["varmdoleden"][::-1], LANE)}),
    ("414", 3, {0: offset(part(R["varmdoleden"], 2, 4), 80.0)}),  # a local road 80 m beside
    ("676", 3, {0: offset(R["e18"], LANE), 1: offset(R["e18"][::-1], LANE)}),
    ("748", 3, {0: offset(R["e20"], LANE), 1: offset(R["e20"][::-1], LANE)}),
    ("4", 3, {0: offset(R["valhallavagen"], 5.0), 1: offset(R["valhallavagen"][::-1], 5.0)}),
    ("52", 3, {0: offset(R["sveavagen"], 5.0), 1: offset(R["sveavagen"][::-1], 5.0)}),
    ("17", 1, {0: R["sveavagen"], 1: R["sveavagen"][::-1]}),  # the metro under Sveavägen
    ("Vaxholm", 4, {0: R["vaxholmsleden"], 1: R["vaxholmsleden"][::-1]}),
    ("Sandhamn", 4, {0: SANDHAMN, 1: SANDHAMN[::-1]}),
]  # fmt: skip
# Stops: at every vertex of each shape (named after line, direction and position).


def _route_id(name: str) -> str:
    return f"R{name}"


def write_gtfs(folder: Path, extra: list[tuple[str, int, dict[int, Coords]]] | None = None) -> Path:
    """Write the test network (and `extra` lines) as a GTFS folder; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = LINES + (extra or [])

    def write(name: str, header: list[str], rows: list[list[Any]]) -> None:
        with (folder / name).open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)

    write("agency.txt", ["agency_id", "agency_name", "agency_url", "agency_timezone"],
          [["A", "Test", "https://example.org", "Europe/Stockholm"]])  # fmt: skip
    routes, trips, shapes, stops, times = [], [], [], [], []
    for name, route_type, dirs in lines:
        routes.append([_route_id(name), "A", name, f"line {name}", route_type])
        for direction, coords in dirs.items():
            shape_id = f"S{name}-{direction}"
            trip = f"T{name}-{direction}"
            trips.append([_route_id(name), "1", trip, f"{name} dir {direction}", direction, shape_id])
            for seq, (lon, lat) in enumerate(coords):
                shapes.append([shape_id, lat, lon, seq + 1])
                stop = f"{shape_id}-{seq}"
                stops.append([stop, f"{name} stop {seq}", lat, lon])
                times.append([trip, "08:00:00", "08:00:00", stop, seq + 1])
    write(
        "routes.txt", ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"], routes
    )
    write(
        "trips.txt", ["route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "shape_id"], trips
    )
    write("shapes.txt", ["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"], shapes)
    write("stops.txt", ["stop_id", "stop_name", "stop_lat", "stop_lon"], stops)
    write("stop_times.txt", ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"], times)
    return folder


def load_index(folder: Path) -> ReferenceIndex:
    """The reference index of a GTFS folder, through the real loader."""
    return build_index(load_gtfs(folder), mode_for_route_type)


NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def item(
    ident: str,
    geometry: dict[str, Any] | None,
    *,
    source: str = "trafikverket",
    source_type: str = "datex2",
    modes: tuple[str, ...] = ("road",),
    cause: str = "ACCIDENT",
    effect: str = "NO_SERVICE",
    header: str = "Olycka",
    direction: str | None = None,
    roads: tuple[str, ...] = (),
    affected: tuple[Affected, ...] = (),
    start: datetime = NOW,
    end: datetime | None = None,
    status: str = "active",
    location: str | None = None,
) -> Disruption:
    """A disruption as a parser would give it."""
    entries = tuple(Affected("road", r, None, direction) for r in roads) + affected
    return Disruption(
        id=f"{source}:{ident}", source=source, source_type=source_type, upstream_id=ident,
        updated_at=start, first_seen=start, last_seen=start, status=status, modes=modes,
        header={"sv": header}, cause=cause, effect=effect, periods=(Period(start, end),),
        geometry=geometry, affected=entries, location_text={"sv": location} if location else {},
    )  # fmt: skip


def line_geom(coords: Coords) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def point_geom(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}
