"""DATEX II locations to GeoJSON: coordinate pairs, GML lines (any CRS we can convert) and grouping."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from travelinfo.ingest.parsers.datex2_types import local as localname

Geometry = dict[str, Any]
Coord = list[float]
Walk = list[tuple[str, Any]]  # (local name, element) in document order (datex2_fields.walk)

# Containers whose children are separate places (v2 groups/itineraries, v3 LocationGroupByList).
GROUP_CHILDREN = frozenset({"locationContainedInGroup", "locationContainedInItinerary"})
_GROUP_TAGS = tuple(f"{{*}}{name}" for name in sorted(GROUP_CHILDREN))
_DISPLAY = frozenset({"locationForDisplay", "coordinatesForDisplay"})
COORD_NAMES = frozenset({"latitude", "posList", "coordinates", "pos", "tpegLinearLocation"})
_COORD_TAGS = tuple(f"{{*}}{name}" for name in sorted(COORD_NAMES))
WALKED = COORD_NAMES | GROUP_CHILDREN  # what location_geometries reads from a walk
_SRS_CODE = re.compile(r"(\d{4,5})\s{0,8}$")
MAX_NUMBERS = 300_000  # numbers in one GML list (100,000 3D positions; the vet thins to 50,000)
# UTM coordinates beyond these are not on Earth: refused before any trigonometry overflows.
_EASTING = (-1_000_000.0, 2_000_000.0)
_NORTHING = (-10_000_000.0, 20_000_000.0)
_NUMBER_SPLIT = re.compile(r"[\s,]+")

# GRS80 (ETRS89) and WGS 84 differ by well under a metre here; one ellipsoid serves both.
_A = 6378137.0
_F = 1 / 298.257222101
_N = _F / (2 - _F)
_AA = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_BETA = (
    _N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96,
    _N**2 / 48 + _N**3 / 15,
    17 * _N**3 / 480,
)
_DELTA = (
    2 * _N - 2 * _N**2 / 3 - 2 * _N**3,
    7 * _N**2 / 3 - 8 * _N**3 / 5,
    56 * _N**3 / 15,
)


def utm_to_lonlat(easting: float, northing: float, zone: int, south: bool = False) -> Coord:
    """Inverse transverse Mercator (Krüger series, sub-metre) for a UTM zone: [lon, lat]."""
    xi = (northing - (10_000_000.0 if south else 0.0)) / (0.9996 * _AA)
    eta = (easting - 500_000.0) / (0.9996 * _AA)
    xi_p, eta_p = xi, eta
    for j, beta in enumerate(_BETA, start=1):
        xi_p -= beta * math.sin(2 * j * xi) * math.cosh(2 * j * eta)
        eta_p -= beta * math.cos(2 * j * xi) * math.sinh(2 * j * eta)
    chi = math.asin(math.sin(xi_p) / math.cosh(eta_p))
    lat = chi + sum(d * math.sin(2 * j * chi) for j, d in enumerate(_DELTA, start=1))
    lon0 = math.radians(zone * 6 - 183)
    lon = lon0 + math.atan2(math.sinh(eta_p), math.cos(xi_p))
    return [round(math.degrees(lon), 7), round(math.degrees(lat), 7)]


def srs_kind(srs: str | None) -> tuple[str, int, bool] | None:
    """How to read a GML srsName: ("latlon"|"lonlat"|"utm", zone, south); None when unsupported."""
    srs = (srs or "")[:200]
    if not srs.strip():
        # DATEX v3 GML defaults to WGS 84 with EPSG:4326 axis order (latitude first).
        return ("latlon", 0, False)
    if "CRS84" in srs.upper():
        return ("lonlat", 0, False)
    match = _SRS_CODE.search(srs)
    if not match:
        return None
    code = int(match.group(1))
    if code in (4326, 4258, 4937, 4979):
        return ("latlon", 0, False)
    if 25828 <= code <= 25838:
        return ("utm", code - 25800, False)
    if 32601 <= code <= 32660:
        return ("utm", code - 32600, False)
    if 32701 <= code <= 32760:
        return ("utm", code - 32700, True)
    if code == 3006:  # SWEREF 99 TM has UTM zone 33's projection parameters
        return ("utm", 33, False)
    if code == 3067:  # ETRS-TM35FIN is UTM zone 35
        return ("utm", 35, False)
    return None


def _valid(coord: Coord) -> bool:
    return -180.0 <= coord[0] <= 180.0 and -90.0 <= coord[1] <= 90.0


def gml_coords(text: str, srs: str | None, dim: int = 2) -> list[Coord] | None:
    """Coordinates of a GML posList/coordinates text as [lon, lat]; None when unreadable."""
    kind = srs_kind(srs)
    if kind is None:
        return None
    if text.count(" ") + text.count(",") + text.count("\n") > 2 * MAX_NUMBERS:
        return None
    try:
        numbers = [float(x) for x in _NUMBER_SPLIT.split(text.strip()) if x]
    except ValueError:
        return None
    if len(numbers) > MAX_NUMBERS or not all(math.isfinite(n) for n in numbers):
        return None
    if dim not in (2, 3):
        return None
    if not numbers or len(numbers) % dim:
        return None
    out: list[Coord] = []
    for i in range(0, len(numbers), dim):
        first, second = numbers[i], numbers[i + 1]
        if kind[0] == "utm":
            if not (_EASTING[0] <= first <= _EASTING[1] and _NORTHING[0] <= second <= _NORTHING[1]):
                return None
            try:
                coord = utm_to_lonlat(first, second, kind[1], kind[2])
            except (ValueError, OverflowError):
                return None
        elif kind[0] == "lonlat":
            coord = [first, second]
        else:
            coord = [second, first]
        if not _valid(coord):
            return None
        out.append(coord)
    return out


def _pair(lat: str | None, lon: str | None) -> Coord | None:
    if lat is None or lon is None:
        return None
    try:
        coord = [float(lon[:40]), float(lat[:40])]
    except ValueError:
        return None
    return coord if _valid(coord) else None  # NaN fails every comparison, inf is out of range


class _Leaf:
    """What one place (a leaf location) holds, gathered in one walk."""

    __slots__ = ("display", "linear", "lines", "points", "polygons", "tpeg", "unreadable")

    def __init__(self, linear: bool) -> None:
        self.linear = linear
        self.lines: list[list[Coord]] = []
        self.polygons: list[list[Coord]] = []
        self.points: list[Coord] = []
        self.display: list[Coord] = []
        self.unreadable = 0
        self.tpeg = False

    def collect(self, location: Any, nodes: Walk | None = None) -> None:
        """Gather every coordinate form under `location` (from its walk `nodes` when given)."""
        # One walk over the subtree (it was three), and the longitude looked up as the next
        # sibling first: 40,000 points are read in about a second on a slow machine.
        if nodes is None:
            nodes = [(localname(elem.tag), elem) for elem in location.iter(*_COORD_TAGS)]
        for name, elem in nodes:
            if name not in COORD_NAMES:
                continue
            if name == "latitude":
                container = elem.getparent()
                lon_elem = elem.getnext()
                if lon_elem is None or localname(lon_elem.tag) != "longitude":
                    lon_elem = container.find("{*}longitude")
                pair = _pair(elem.text, lon_elem.text if lon_elem is not None else None)
                if pair is not None:
                    display = localname(container.tag) in _DISPLAY
                    (self.display if display else self.points).append(pair)
            elif name == "tpegLinearLocation":
                self.tpeg = True
            else:
                gml, srs, dim = _gml_context(elem, location)
                if gml is not None and elem.text:
                    self._gml(elem.text, gml, srs, dim)

    def _gml(self, text: str, gml: str, srs: str | None, dim: int) -> None:
        coords = gml_coords(text, srs, dim)
        if coords is None:
            self.unreadable += 1
        elif "Polygon" in gml or "Area" in gml:
            self.polygons.append(coords)
        elif len(coords) >= 2:
            self.lines.append(coords)
        else:
            self.points.extend(coords)

    def geometries(self) -> list[Geometry]:
        if self.lines or self.polygons:
            return [{"type": "LineString", "coordinates": c} for c in self.lines] + [
                {"type": "Polygon", "coordinates": [_closed(c)]} for c in self.polygons
            ]
        points = _unique(self.points) or _unique(self.display)[:1]
        if self.linear and len(points) >= 2:
            if self.tpeg:  # TPEG writes the `to` point before the `from` point
                points.reverse()
            return [{"type": "LineString", "coordinates": points}]
        return [{"type": "Point", "coordinates": p} for p in points]


def _gml_context(elem: Any, stop: Any) -> tuple[str | None, str | None, int]:
    """The nearest enclosing gml* element's name, srsName and srsDimension."""
    srs = elem.get("srsName")
    dim = elem.get("srsDimension")
    node = elem.getparent()
    while node is not None:
        name = localname(node.tag)
        srs = srs or node.get("srsName")
        dim = dim or node.get("srsDimension")
        if name.startswith("gml"):
            return name, srs, _dimension(dim)
        if node is stop:
            break
        node = node.getparent()
    return None, None, 2


def _dimension(text: str | None) -> int:
    """srsDimension: 2 or 3; anything else (`abc`, `1e9`) reads as 0, which no list matches."""
    if not text:
        return 2
    text = text.strip()
    return int(text) if text in ("2", "3") else 0


def _closed(ring: list[Coord]) -> list[Coord]:
    return ring if ring[0] == ring[-1] else [*ring, ring[0]]


def _unique(coords: Iterable[Coord]) -> list[Coord]:
    # A set of tuples, not list membership: 40,000 points once took 41 s (issue 12).
    seen: dict[tuple[float, ...], Coord] = {}
    for c in coords:
        seen.setdefault(tuple(c), c)
    return list(seen.values())


_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def xsi_type(elem: Any) -> str:
    """The local part of an element's `xsi:type` (any prefix), '' when none."""
    value = elem.get(_XSI_TYPE)  # the standard's namespace: one lookup in C (per record and location)
    if value is not None:
        return str(value).rpartition(":")[2].strip()
    for key, value in elem.attrib.items():  # a `type` in another namespace (lenient, as before)
        if key.endswith("}type"):
            return str(value).rpartition(":")[2].strip()
    return ""


def location_geometries(location: Any, nodes: Walk | None = None) -> tuple[list[Geometry], int]:
    """GeoJSON geometries of every place in a DATEX location element, and how many were unreadable.

    `nodes`: the location's walk (`datex2_fields.walk` over at least WALKED), when the caller has it.
    """
    if nodes is None:
        groups = list(location.iterchildren(*_GROUP_TAGS))  # filtered in C, in document order
    else:
        groups = [n for name, n in nodes if name in GROUP_CHILDREN and n.getparent() is location]
    if groups:
        found: list[Geometry] = []
        unreadable = 0
        for child in groups:
            geoms, bad = location_geometries(child)
            found.extend(geoms)
            unreadable += bad
        return found, unreadable
    kind = xsi_type(location)
    linear = "Linear" in kind or "Itinerary" in kind
    leaf = _Leaf(linear)
    leaf.collect(location, nodes)
    return leaf.geometries(), leaf.unreadable


def combine(geometries: Iterable[Geometry]) -> Geometry | None:
    """One geometry for a situation: the single place, a Multi* of one kind, or a collection."""
    if isinstance(geometries, list) and len(geometries) < 2:
        return geometries[0] if geometries else None  # the common case: nothing to deduplicate
    seen: dict[str, Geometry] = {}
    for geom in geometries:
        seen.setdefault(repr(geom), geom)
    unique = list(seen.values())
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    kinds = {g["type"] for g in unique}
    if len(kinds) == 1 and (kind := kinds.pop()) in ("Point", "LineString", "Polygon"):
        return {"type": "Multi" + kind, "coordinates": [g["coordinates"] for g in unique]}
    return {"type": "GeometryCollection", "geometries": unique}
