"""GTFS static reference data: the demo Stockholm subset and a real small feed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from travelinfo.ingest.gtfs_static import build_zip, load_gtfs, mode_for_route_type

DEMO = Path(__file__).resolve().parent.parent / "feeds" / "sl-gtfs"


def test_demo_folder_and_its_zip_load_the_same(tmp_path: Path) -> None:
    folder = load_gtfs(DEMO)
    (tmp_path / "sl.zip").write_bytes(build_zip(DEMO))
    assert load_gtfs(tmp_path / "sl.zip") == folder
    names = zipfile.ZipFile(io.BytesIO(build_zip(DEMO))).namelist()
    assert names == sorted(names) and {"agency.txt", "routes.txt", "stops.txt", "trips.txt"} <= set(names)


def test_demo_names_and_modes() -> None:
    gtfs = load_gtfs(DEMO)
    assert gtfs.agency_name("14010000000001001") == "SL"
    assert gtfs.agency_name("14010000000001002") == "Waxholmsbolaget"
    assert gtfs.route_name("9011001001400000") == "14 Fruängen–Mörby centrum"
    assert gtfs.modes_for_route("9011001001400000") == ("metro",)
    assert gtfs.modes_for_route("9011001000700000") == ("tram",)
    assert gtfs.modes_for_route("9011001007600000") == ("bus",)
    assert gtfs.modes_for_route("9011001020100000") == ("ferry",)
    assert gtfs.modes_for_route("nope") == () and gtfs.route_name("nope") is None
    assert gtfs.modes_for_agency("14010000000001001") == ("metro", "tram", "bus", "ferry", "rail")
    names = {s.name for s in gtfs.stops.values()}
    assert {"Slussen", "T-Centralen", "Gamla stan", "Mörby centrum", "Fruängen"} <= names
    assert {"Djurgårdsbron", "Waldemarsudde", "Vaxholm", "Strömkajen"} <= names
    for stop in gtfs.stops.values():  # all inside Stockholm County
        assert stop.lat and stop.lon and 58.7 < stop.lat < 60.3 and 17.2 < stop.lon < 19.4
    assert gtfs.route_of_trip("14010000670000025") == "9011001020100000"


def test_route_types() -> None:
    assert [mode_for_route_type(t) for t in (0, 1, 2, 3, 4, 11, 12, 6)] == [
        "tram",
        "metro",
        "rail",
        "bus",
        "ferry",
        "bus",
        "rail",
        None,
    ]
    assert [mode_for_route_type(t) for t in (109, 401, 700, 900, 1000, 1200, 1300)] == [
        "rail",
        "metro",
        "bus",
        "tram",
        "ferry",
        "ferry",
        None,
    ]


def test_real_small_feed(corpus: Path) -> None:
    gtfs = load_gtfs(corpus / "gtfs-static" / "usf-bullrunner-gtfs.zip")
    assert len(gtfs.agencies) == 1 and len(gtfs.routes) == 6 and len(gtfs.stops) == 125
    assert len(gtfs.trips) == 15
    assert all(gtfs.modes_for_route(r) == ("bus",) for r in gtfs.routes)


def test_not_gtfs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a GTFS feed"):
        load_gtfs(tmp_path)
