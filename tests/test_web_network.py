"""The maps' base layer: the reference GTFS's lines (shapes, else stop patterns) and stops as GeoJSON."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apputil import Running, running_app
from storeutil import open_store

from travelinfo.config import Settings
from travelinfo.geojson_check import check_geometry
from travelinfo.web import network

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "gtfs-network"
DEMO = ROOT / "feeds" / "sl-gtfs"
CORPUS = ROOT.parent / "shared" / "corpus" / "gtfs-static"


def lines(doc: dict[str, Any]) -> dict[str, list[list[list[float]]]]:
    out: dict[str, list[list[list[float]]]] = defaultdict(list)
    for f in doc["features"]:
        if f["properties"]["kind"] == "line":
            out[f["properties"]["name"]].append(f["geometry"]["coordinates"])
    return dict(out)


def stops(doc: dict[str, Any]) -> list[str]:
    return sorted(f["properties"]["name"] for f in doc["features"] if f["properties"]["kind"] == "stop")


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(network.render(path))
    for f in doc["features"]:
        check_geometry(f["geometry"])  # RFC 7946, as every geometry we publish
    return doc


def test_shapes_where_trips_name_them_else_stop_patterns() -> None:
    doc = load(FIXTURE)
    assert doc["type"] == "FeatureCollection"
    got = lines(doc)
    # R1: its trips' two shapes, points in shape_pt_sequence order (10 after 2), the bad row
    # and the repeated point dropped; SH1 twice in trips.txt is drawn once.
    assert got["1"] == [[[18.0, 59.3], [18.02, 59.31], [18.04, 59.32]], [[18.05, 59.35], [18.07, 59.36]]]
    # R2 has no shapes: its patterns in stop_sequence order, T4 (T3 reversed) once, branch T5 kept.
    alfa, beta, gamma_platform = [18.1, 59.4], [18.11, 59.41], [18.1201, 59.4201]
    assert got["2"] == [[alfa, beta, gamma_platform], [alfa, beta]]
    assert "3" not in got  # a route without trips has nothing to draw
    props = {
        f["properties"]["name"]: f["properties"] for f in doc["features"] if f["properties"]["kind"] == "line"
    }
    assert (props["1"]["colour"], props["1"]["mode"]) == ("#FF0000", "bus")
    assert (props["2"]["colour"], props["2"]["mode"]) == ("", "metro")
    # Stops that trips call at, a platform as its station (once), no entrance, no unused stop.
    assert stops(doc) == ["Alfa", "Beta", "Delta <b>&amp;</b>", "Gamma"]


def test_without_shapes_every_route_is_drawn_from_its_stops(tmp_path: Path) -> None:
    folder = tmp_path / "gtfs"
    shutil.copytree(FIXTURE, folder)
    (folder / "shapes.txt").unlink()
    got = lines(load(folder))
    assert got["1"] == [[[18.1, 59.4], [18.13, 59.43]]]  # T1 Alfa -> Delta; T2 calls nowhere
    assert len(got["2"]) == 2


def test_a_zip_with_a_nested_folder_reads_like_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "feed.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in FIXTURE.glob("*.txt"):
            z.write(f, f"gtfs/{f.name}")
    assert load(archive) == load(FIXTURE)


def test_the_demo_reference_draws_every_route_that_runs() -> None:
    doc = load(DEMO)
    with (DEMO / "routes.txt").open(encoding="utf-8-sig") as f:
        routes = {r["route_id"]: r["route_short_name"] or r["route_long_name"] for r in csv.DictReader(f)}
    with (DEMO / "trips.txt").open(encoding="utf-8-sig") as f:
        running = {r["route_id"] for r in csv.DictReader(f)}
    with (DEMO / "stops.txt").open(encoding="utf-8-sig") as f:
        positions = {
            (round(float(r["stop_lon"]), 5), round(float(r["stop_lat"]), 5)) for r in csv.DictReader(f)
        }
    got = lines(doc)
    assert set(got) == {routes[r] for r in running}
    if not (DEMO / "shapes.txt").exists():  # drawn from stop patterns: every vertex is a stop
        for name, drawings in got.items():
            for coords in drawings:
                assert {tuple(c) for c in coords} <= positions, name
    assert 0 < len(stops(doc)) <= len(positions)


def _zip_rows(z: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8-sig")))


@pytest.mark.parametrize(
    "name", ["usf-bullrunner-gtfs.zip", "se-samtrafiken-klt-gtfs-regional-minified-2019.zip"]
)
def test_corpus_feeds_draw_each_route_along_its_shapes(name: str) -> None:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus feed {path} not found")
    with zipfile.ZipFile(path) as z:
        routes = {
            r["route_id"]: r["route_short_name"] or r["route_long_name"] for r in _zip_rows(z, "routes.txt")
        }
        used: dict[str, list[str]] = defaultdict(list)
        for t in _zip_rows(z, "trips.txt"):
            if t["shape_id"] not in used[t["route_id"]]:
                used[t["route_id"]].append(t["shape_id"])
        shape_pts: dict[str, list[tuple[float, list[float]]]] = defaultdict(list)
        for p in _zip_rows(z, "shapes.txt"):
            point = [round(float(p["shape_pt_lon"]), 5), round(float(p["shape_pt_lat"]), 5)]
            shape_pts[p["shape_id"]].append((float(p["shape_pt_sequence"]), point))
    got = lines(load(path))
    for route_id, shape_ids in used.items():
        drawings = got[routes[route_id]]
        assert len(drawings) == len(shape_ids), route_id
        for shape_id, coords in zip(shape_ids, drawings, strict=True):
            ordered = [pt for _, pt in sorted(shape_pts[shape_id], key=lambda x: x[0])]
            assert coords[0] == ordered[0] and coords[-1] == ordered[-1], (route_id, shape_id)


def test_hostile_references_give_an_empty_layer_never_an_error(tmp_path: Path) -> None:
    empty = {"type": "FeatureCollection", "features": []}
    (tmp_path / "not.zip").write_bytes(b"PK\x03\x04 this is no zip")
    assert json.loads(network.render(tmp_path / "not.zip")) == empty
    assert json.loads(network.render(tmp_path / "missing")) == empty
    assert json.loads(network.render(None)) == empty
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "routes.txt").write_bytes(b'route_id,route_type\n"R1,3\n\x00\xff')
    (junk / "stops.txt").write_text(
        "stop_id,stop_name,stop_lat,stop_lon\nA,A,nan,18\nB,B,91,18\nC,C,59,inf\n"
    )
    assert json.loads(network.render(junk)) == empty
    assert network.local_path("https://example.org/gtfs.zip", tmp_path) is None


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Running, Path]]:
    folder = tmp_path / "gtfs"
    shutil.copytree(FIXTURE, folder)
    s = Settings()
    s.reference.gtfs_static = str(folder)
    async with open_store("sqlite", tmp_path) as store, running_app(store, s) as running:
        yield running, folder


async def test_served_with_an_etag_and_rendered_once_per_reference_change(
    site: tuple[Running, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, folder = site
    renders: list[Path | None] = []
    real = network.render

    def counted(path: Path | None) -> bytes:
        renders.append(path)
        return real(path)

    monkeypatch.setattr(network, "render", counted)
    monkeypatch.setattr(network, "CHECK_EVERY", 0.0)  # look at the files on every request
    url = running.url + "/map/network.geojson"
    async with aiohttp.ClientSession() as s:
        bodies = []
        for _ in range(4):
            async with s.get(url) as r:
                assert r.status == 200 and r.content_type == "application/geo+json"
                etag = r.headers["ETag"]
                bodies.append(await r.read())
        assert len(renders) == 1 and len(set(bodies)) == 1
        assert lines(json.loads(bodies[0])) == lines(json.loads(real(folder)))
        async with s.get(url, headers={"If-None-Match": etag}) as r:
            assert r.status == 304
        # The reference changes (a new stop on R1's trip): the next request renders it anew.
        with (folder / "stop_times.txt").open("a") as f:
            f.write("T1,11:07:00,11:07:00,S9,3\n")
        stat = (folder / "stop_times.txt").stat()
        os.utime(folder / "stop_times.txt", (stat.st_atime, stat.st_mtime + 5))
        async with s.get(url, headers={"If-None-Match": etag}) as r:
            assert r.status == 200 and r.headers["ETag"] != etag
            assert "Oanvänd" in stops(json.loads(await r.read()))
        assert len(renders) == 2
