"""Website v2 in a real browser: axe on every page kind, sv/en, light/dark, 320/390/1280 px; reflow; VMA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from apputil import Running
from checkutil import axe, chromium, needs_axe, needs_chromium
from storeutil import open_store
from test_web_pages import fill, serve, settings

from travelinfo.model import Batch, Disruption, Period
from travelinfo.store.base import Query
from travelinfo.web import network

ROOT = Path(__file__).resolve().parent.parent
POINT = "/d/trafikverket:SE_STA_TRISSID_1_4000002"
LINE = "/d/trafikverket:SE_STA_TRISSID_1_4000001"
POLYGON = "/d/krisinformation:vma-1"
PAGES = ("/", "/board", POINT, LINE, POLYGON, "/status")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    needs_chromium,
]


def vma(now: datetime) -> Disruption:
    ring = [[18.09, 59.34], [18.13, 59.34], [18.13, 59.36], [18.09, 59.36], [18.09, 59.34]]
    return Disruption(
        id="krisinformation:vma-1",
        source="krisinformation",
        source_type="cap",
        upstream_id="vma-1",
        updated_at=now,
        first_seen=now,
        last_seen=now,
        status="active",
        modes=("road", "ferry"),
        severity="SEVERE",
        header={
            "sv": "VMA: Brand med kraftig rök vid Värtahamnen",
            "en": "VMA: Fire with heavy smoke at Värtahamnen",
        },
        description={"sv": "Gå inomhus och stäng dörrar, fönster och ventilation.", "en": "Go indoors."},
        periods=(Period(now - timedelta(minutes=10)),),
        geometry={"type": "Polygon", "coordinates": [ring]},
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path_factory.mktemp("browser2")) as store:
        now = datetime.now(UTC)
        await fill(store, now)
        await store.apply(Batch(source="krisinformation", fetched_at=now, items=(vma(now),), complete=True))
        s = settings()
        s.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")  # the board's lines, the map's network
        async with serve(store, s) as running:
            yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


@pytest.mark.slow  # 72 axe runs: about 60 s per colour scheme on a loaded machine
@needs_axe
@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_on_every_page_kind_language_width(site: Running, browser: Any, scheme: str) -> None:
    # bypass_csp only so axe itself can be injected; the page under test is unchanged.
    context = await browser.new_context(bypass_csp=True, color_scheme=scheme)
    p = await context.new_page()
    failures, missing_banner = [], []
    try:
        for width in (320, 390, 1280):
            await p.set_viewport_size({"width": width, "height": 800})
            for lang in ("sv", "en"):
                for path in PAGES:
                    await p.goto(f"{site.url}{path}?lang={lang}")
                    if not await p.locator(".banner.vma[role=alert]").count():
                        missing_banner.append((width, lang, path))
                    result = await axe(p)
                    failures += [
                        (scheme, width, lang, path, v["id"], v["help"], len(v["nodes"])) for v in result
                    ]
    finally:
        await context.close()
    assert failures == []
    assert missing_banner == []


@pytest.mark.parametrize(("width", "height", "scale"), [(320, 640, 1), (320, 256, 4)])
async def test_no_sideways_scroll_at_320_px_and_400_percent(
    site: Running, browser: Any, width: int, height: int, scale: int
) -> None:
    """320 CSS px wide, and 1280 px at 400 % zoom (the same 320 CSS px at 4 device pixels each)."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=scale
    )
    p = await context.new_page()
    wide = []
    try:
        for lang in ("sv", "en"):
            for path in PAGES:
                await p.goto(f"{site.url}{path}?lang={lang}")
                sizes = await p.evaluate(
                    "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
                )
                if sizes[0] > sizes[1]:
                    wide.append((lang, path, sizes))
    finally:
        await context.close()
    assert wide == []


async def test_map_draws_one_feature_per_geometry(site: Running, browser: Any) -> None:
    """Leaflet from the package (no CDN): one SVG feature per listed geometry, the detail's own shape."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    p = await context.new_page()
    outside: list[str] = []
    p.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.url) else None)
    try:
        for path, kind in ((POINT, "circle"), (LINE, "line"), (POLYGON, "polygon")):
            await p.goto(f"{site.url}{path}?lang=sv")
            await p.wait_for_selector("#map.drawn")
            assert await p.locator("#map path.ti-feature").count() == 1, path
            d = await p.locator("#map path.ti-feature").get_attribute("d")
            shape = (
                "circle" if "a8,8" in (d or "") else "polygon" if (d or "").rstrip().endswith("z") else "line"
            )
            assert shape == kind, (path, d)
        await p.goto(f"{site.url}/?lang=sv")
        listed = await p.locator("#list .item").count()
        await p.click("details.map-box > summary")
        await p.wait_for_selector("#map.drawn")
        await p.wait_for_selector("#map.network-drawn")
        drawn = await p.locator("#map path.ti-feature").count()
        items, _ = await site.store.query(Query())
        with_geometry = [d for d in items if d.geometry is not None and not d.public_warning]
        assert drawn == len(with_geometry) and 0 < drawn <= listed
        # The network base layer: its own classes and pane, under the items, one path each.
        doc = network.build(ROOT / "feeds" / "sl-gtfs")
        kinds = [f["properties"]["kind"] for f in doc["features"]]
        assert (
            await p.locator("#map .leaflet-network-pane path.ti-network").count() == kinds.count("line") > 0
        )
        assert await p.locator("#map .leaflet-network-pane path.ti-stop").count() == kinds.count("stop") > 0
        assert await p.locator("#map .leaflet-network-pane path.ti-feature").count() == 0
        z = await p.evaluate(
            "[...document.querySelectorAll('#map .leaflet-pane')]"
            ".map(e => [e.className, getComputedStyle(e).zIndex])"
        )
        panes = {name.split()[1]: int(zi) for name, zi in z if zi != "auto"}
        assert panes["leaflet-network-pane"] < panes["leaflet-overlay-pane"]
    finally:
        await context.close()
    assert outside == []


async def test_my_lines_star_moves_a_line_first_and_is_remembered(site: Running, browser: Any) -> None:
    context = await browser.new_context()
    p = await context.new_page()
    try:
        await p.goto(f"{site.url}/board?lang=en")
        await p.click('tr[data-key="road:E18"] button.star')
        first = p.locator("table.board tbody tr.row").first
        assert await first.get_attribute("data-key") == "road:E18"
        assert await p.locator('tr[data-key="road:E18"] button.star').get_attribute("aria-pressed") == "true"
        await p.goto(f"{site.url}/board?lang=en")  # kept in this browser, no account
        assert await p.locator("table.board tbody tr.row").first.get_attribute("data-key") == "road:E18"
        assert await p.locator("tr.grp.mine").is_visible()
        await p.click('tr[data-key="road:E18"] button.star')
        assert await p.locator("tr.grp.mine").is_hidden()
        label = await p.locator('tr[data-key="road:E18"] button.star').get_attribute("aria-label")
        assert label == "Add E18 to my lines"  # a toggle keeps its name; aria-pressed says the state
    finally:
        await context.close()


async def test_my_lines_lead_the_list_and_the_map_on_the_front_page(site: Running, browser: Any) -> None:
    """A star on the board puts its items first on `/` (list and map); the cookie does it without JS."""
    items, _ = await site.store.query(Query(status=("active",)))
    e4 = [
        d
        for d in items
        if not d.public_warning and any(a.type == "road" and a.id == "E4" for a in d.affected)
    ]
    assert e4
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    p = await context.new_page()
    try:
        await p.goto(f"{site.url}/board?lang=sv")
        await p.click('tr[data-key="road:E4"] button.star')
        await p.goto(f"{site.url}/?lang=sv")
        first = p.locator("#list section.group").first
        assert await first.get_attribute("class") == "group mine"
        assert await first.locator("h2").inner_text() == f"Mina linjer ({len(e4)})"
        listed = await first.locator("li.item").evaluate_all("els => els.map(e => e.dataset.id)")
        assert sorted(listed) == sorted(d.id for d in e4)
        assert not set(listed) & set(
            await p.locator("#list section.group:not(.mine) li.item").evaluate_all(
                "els => els.map(e => e.dataset.id)"
            )
        )  # each item once
        await p.click("details.map-box > summary")
        await p.wait_for_selector("#map.drawn")
        mine_drawn = await p.locator("#map path.ti-feature.mine").count()
        assert mine_drawn == len([d for d in e4 if d.geometry is not None]) > 0
        # Unstarred on the front page's own board: the list is fetched again without the group.
        await p.click('tr[data-key="road:E4"] button.star')
        await p.wait_for_selector("#list section.group.mine", state="detached")
        assert await p.locator("#list").get_attribute("data-mine") == ""
    finally:
        await context.close()
    # Without JavaScript the server alone orders the list from the cookie star.js wrote.
    nojs = await browser.new_context(java_script_enabled=False)
    await nojs.add_cookies([{"name": "mylines", "value": "road%3AE4%2Cline%3Anonsense", "url": site.url}])
    p = await nojs.new_page()
    try:
        await p.goto(f"{site.url}/?lang=en")
        first = p.locator("#list section.group").first
        assert await first.get_attribute("class") == "group mine"
        assert await first.locator("h2").inner_text() == f"My lines ({len(e4)})"
        assert await p.locator("#list").get_attribute("data-mine") == "road:E4"
    finally:
        await nojs.close()


async def test_my_lines_work_where_the_browser_refuses_local_storage(site: Running, browser: Any) -> None:
    context = await browser.new_context()
    await context.add_init_script(
        "Storage.prototype.getItem = Storage.prototype.setItem = function () { throw new Error('denied'); };"
    )
    p = await context.new_page()
    try:
        await p.goto(f"{site.url}/board?lang=en")
        await p.click('tr[data-key="road:E18"] button.star')
        await p.goto(f"{site.url}/board?lang=en")  # kept in the cookie alone
        assert await p.locator("table.board tbody tr.row").first.get_attribute("data-key") == "road:E18"
        assert "mylines=road%3AE18" in await p.evaluate("document.cookie")
    finally:
        await context.close()
