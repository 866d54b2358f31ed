"""The maps count true: one drawn shape per geometry of the listed items, of each geometry kind.

Leaflet draws a Point as a circle marker, a LineString or MultiLineString as one line path, a
Polygon or MultiPolygon as one closed path; a MultiPoint is one circle per point and a
GeometryCollection its members'. The oracle below counts what the store holds that way, kind by
kind, and the DOM must agree on `/` (the overview) and on each `/d/{id}`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from apputil import Running
from checkutil import chromium, needs_chromium
from storeutil import open_store
from test_web_pages import disruption, serve

from travelinfo.model import Batch, Disruption

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    needs_chromium,
]

A, B, C = [18.00, 59.30], [18.05, 59.32], [18.10, 59.30]
RING = [[18.02, 59.33], [18.06, 59.33], [18.06, 59.35], [18.02, 59.35], [18.02, 59.33]]
RING2 = [[17.95, 59.28], [17.97, 59.28], [17.97, 59.29], [17.95, 59.28]]
GEOMETRIES: dict[str, dict[str, Any]] = {
    "point": {"type": "Point", "coordinates": A},
    "line": {"type": "LineString", "coordinates": [A, B, C]},
    "polygon": {"type": "Polygon", "coordinates": [RING]},
    "multipoint": {"type": "MultiPoint", "coordinates": [A, B, C]},
    "multiline": {"type": "MultiLineString", "coordinates": [[A, B], [B, C]]},
    "multipolygon": {"type": "MultiPolygon", "coordinates": [[RING], [RING2]]},
    "collection": {
        "type": "GeometryCollection",
        "geometries": [{"type": "Point", "coordinates": C}, {"type": "LineString", "coordinates": [A, C]}],
    },
}


def shapes(geometry: dict[str, Any]) -> Counter[str]:
    """What Leaflet draws for `geometry`, by kind (the oracle, from GeoJSON alone)."""
    kind = geometry["type"]
    if kind == "Point":
        return Counter(circle=1)
    if kind == "MultiPoint":
        return Counter(circle=len(geometry["coordinates"]))
    if kind in ("LineString", "MultiLineString"):
        return Counter(line=1)
    if kind in ("Polygon", "MultiPolygon"):
        return Counter(polygon=1)
    total: Counter[str] = Counter()
    for member in geometry["geometries"]:
        total += shapes(member)
    return total


def items(now: datetime) -> list[Disruption]:
    return [
        disruption(
            "trafikverket",
            f"KIND-{name}",
            now - timedelta(minutes=n + 1),
            {"sv": f"Vägarbete {n} ({name})", "en": f"Roadworks {n} ({name})"},
            geometry=geometry,
        )
        for n, (name, geometry) in enumerate(GEOMETRIES.items())
    ] + [disruption("trafikverket", "KIND-none", now, {"sv": "Utan plats"})]  # listed, not drawn


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path_factory.mktemp("mapkinds")) as store:
        now = datetime.now(UTC)
        await store.apply(
            Batch(source="trafikverket", fetched_at=now, items=tuple(items(now)), complete=True)
        )
        async with serve(store) as running:
            yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def drawn(p: Any) -> Counter[str]:
    """The item shapes in the map's DOM, by kind: circle markers, closed paths, open paths."""
    paths: list[str] = await p.locator("#map path.ti-feature").evaluate_all(
        "els => els.map(e => e.getAttribute('d') || '')"
    )
    return Counter(
        "circle" if "a8,8" in d else "polygon" if d.rstrip().endswith("z") else "line" for d in paths
    )


async def test_every_geometry_kind_is_drawn_once_per_geometry(site: Running, browser: Any) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    p = await context.new_page()
    try:
        await p.goto(f"{site.url}/?lang=sv")
        listed = await p.locator("#list li.item").count()
        assert listed == len(GEOMETRIES) + 1
        await p.click("details.map-box > summary")
        await p.wait_for_selector("#map.drawn")
        expected: Counter[str] = Counter()
        for geometry in GEOMETRIES.values():
            expected += shapes(geometry)
        assert await drawn(p) == expected
        assert expected == Counter(circle=5, line=3, polygon=2)  # the oracle counts what it should
        for name, geometry in GEOMETRIES.items():
            await p.goto(f"{site.url}/d/trafikverket:KIND-{name}?lang=en")
            await p.wait_for_selector("#map.drawn")
            assert await drawn(p) == shapes(geometry), name
        await p.goto(f"{site.url}/d/trafikverket:KIND-none?lang=en")
        assert await p.locator("#map").count() == 0  # no geometry: no empty grey box
    finally:
        await context.close()
