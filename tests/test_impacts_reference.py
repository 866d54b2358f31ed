"""The reference geometry comes with the GTFS static source, and hostile geometry infers nothing bad."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import aiohttp
from impactsutil import item, line_geom
from storeutil import open_store
from test_reference_source import DEMO, _settings, gtfs_upstream

from travelinfo.filters import lines
from travelinfo.impacts import index as index_mod
from travelinfo.impacts import view
from travelinfo.impacts.index import build_index
from travelinfo.impacts.infer import infer
from travelinfo.ingest.gtfs_static import build_zip, load_gtfs, mode_for_route_type
from travelinfo.ingest.reference import GtfsStaticCollector, ReferenceData, reference_source
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.model import Affected
from travelinfo.settings import ImpactSettings

ESSINGELEDEN_WORKS = line_geom([(18.00362, 59.32652), (18.00451, 59.33498)])


def _without_shapes() -> bytes:
    """The demo zip with shapes.txt left out (routes then follow their stops)."""
    source = zipfile.ZipFile(io.BytesIO(build_zip(DEMO)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in source.infolist():
            if info.filename != "shapes.txt":
                z.writestr(info.filename, source.read(info))
    return out.getvalue()


async def test_the_index_is_loaded_through_the_scheduler_and_a_bad_version_keeps_it(tmp_path: Path) -> None:
    view.install(None)
    async with (
        gtfs_upstream(build_zip(DEMO)) as up,
        open_store("sqlite", tmp_path) as store,
        aiohttp.ClientSession() as http,
    ):
        source = reference_source(_settings(up.url))
        assert source is not None
        runner = SourceRunner(GtfsStaticCollector(source, http, ReferenceData()), store)
        assert (await runner.poll()).ok
        first = index_mod.current()
        assert first is not None and sum(p.from_shape for p in first.patterns) == 14
        works = item("w", ESSINGELEDEN_WORKS, direction="northbound", roads=("E4",))
        assert [i.name for i in view.ANNOTATOR.impacts(works)] == ["165"]
        assert lines.affects_route_inferred(works, "165") and not lines.affects_route(works, "165")

        up.body = b"<html>maintenance</html>"
        assert not (await runner.poll()).ok
        assert index_mod.current() is first  # the last good geometry stays

        up.body = _without_shapes()  # a new version: a new index, lines from their stops
        assert (await runner.poll()).ok
        second = index_mod.current()
        assert second is not None and second.generation > first.generation
        assert not any(p.from_shape for p in second.patterns)
    view.install(None)
    assert not lines.affects_route_inferred(works, "165")


def test_hostile_geometry_infers_nothing_and_never_raises() -> None:
    idx = build_index(load_gtfs(DEMO), mode_for_route_type)
    s = ImpactSettings()
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[18.0, 59.3], [18.1, 59.4], [18.1, 59.3], [18.0, 59.4], [18.0, 59.3]]],
    }
    cases = [
        {"type": "LineString", "coordinates": [[18.0, 59.33], [18.0, 59.33]]},  # zero length
        {"type": "Point", "coordinates": [179.9, -89.9]},  # far outside the feed
        {"type": "GeometryCollection", "geometries": []},
        {"type": "MultiPoint", "coordinates": []},
        {"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]},
    ]
    for geometry in cases:
        assert infer(item("h", geometry), idx, s) == (), geometry
    # A self-crossing warning area over Stockholm: no exception; whatever it finds is inferred.
    for d in (
        item("b", bow_tie, source="vma", source_type="cap", modes=("unknown",)),
        item("b2", bow_tie, source="navtex", source_type="navtex", modes=("shipping",)),
    ):
        assert all(i.to_json()["inferred"] for i in infer(d, idx, s))


def test_an_items_own_route_entries_are_never_mixed_with_inferred_ones() -> None:
    idx = build_index(load_gtfs(DEMO), mode_for_route_type)
    index_mod.install(idx)
    try:
        d = item("w", ESSINGELEDEN_WORKS, direction="northbound", roads=("E4",),
                 affected=(Affected("route", "9011001000400000", "4"),))  # fmt: skip
        data = view.decorate(d.to_json(), d, {})
        assert [a["id"] for a in data["affected"] if a["type"] == "route"] == ["9011001000400000"]
        assert [i["route_id"] for i in data["impacts"]] == ["9011001016500000"]
        assert data["incident"] is None
    finally:
        index_mod.install(None)


def test_installing_new_geometry_invalidates_cached_renderings() -> None:
    from travelinfo.runtime.server import RenderCache

    cache = RenderCache()
    view.on_install(cache.invalidate)
    before = cache.generation
    view.install(build_index(load_gtfs(DEMO), mode_for_route_type))
    view.install(None)
    assert cache.generation == before + 2
    del cache  # held weakly: a dropped cache is forgotten, not kept alive
    view.install(None)
