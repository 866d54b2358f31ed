"""The pages in a real browser (Debian chromium via Playwright): axe-core, clicks, live updates, XSS.

One browser and one app per module; pages are reused so the whole module takes seconds.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from apputil import Running
from checkutil import axe, chromium, needs_axe, needs_chromium
from playwright.async_api import expect
from storeutil import open_store
from test_web_pages import disruption, fill, serve

from travelinfo import app as appmod
from travelinfo.model import Affected, Batch

HOSTILE = "/d/trafikverket:SE_STA_TRISSID_1_4000003"
DETAIL = "/d/trafikverket:SE_STA_TRISSID_1_4000001"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    needs_chromium,
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path_factory.mktemp("browser")) as store:
        await fill(store, datetime.now(UTC))
        async with serve(store) as running:
            yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(browser: Any) -> AsyncIterator[Any]:
    """A normal page (the site's CSP applies), recording dialogs and CSP violations."""
    context = await browser.new_context(locale="sv-SE")
    p = await context.new_page()
    p.dialogs = []
    p.csp = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    p.on("console", lambda m: p.csp.append(m.text) if "Content Security Policy" in m.text else None)
    yield p
    await context.close()


@needs_axe
async def test_axe_reports_no_violations(site: Running, browser: Any) -> None:
    context = await browser.new_context(bypass_csp=True)
    p = await context.new_page()
    failures = []
    try:
        for width in (390, 1280):
            await p.set_viewport_size({"width": width, "height": 900})
            for lang in ("sv", "en"):
                for path in ("/", DETAIL, "/status", HOSTILE):
                    await p.goto(f"{site.url}{path}?lang={lang}")
                    result = await axe(p)
                    failures += [(width, lang, path, v["id"], v["help"], len(v["nodes"])) for v in result]
    finally:
        await context.close()
    assert failures == []


async def test_filters_work_by_clicking(site: Running, page: Any) -> None:
    await page.goto(site.url + "/?lang=sv")
    await page.click("nav.modes >> text=Tunnelbana")
    await page.wait_for_url("**mode=metro**")
    items = await page.locator("#list .item h3").all_inner_texts()
    assert items == ["Metro line 17: no trains between Skanstull and Slussen"]
    await page.click("nav.modes >> text=Alla")
    await page.click("details.filters-box > summary")  # the form sits behind a disclosure (issue 14)
    await page.select_option("#f-severity", "severe")
    await page.select_option("#f-mode", "road")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**severity=severe**")
    items = await page.locator("#list .item h3").all_inner_texts()
    assert items == ["Olycka på E4 norrgående vid Hallunda"]
    await page.fill("#f-line", "4")
    await page.select_option("#f-mode", "")
    await page.select_option("#f-severity", "")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**line=4**")
    assert await page.locator("#list .item h3").all_inner_texts() == ["Buss 4 omleds vid Odenplan"]
    assert page.csp == []


@pytest.mark.realtime  # a change on the page within 2 s
async def test_live_update_without_reload(site: Running, page: Any) -> None:
    await page.goto(site.url + "/?lang=sv")
    await page.evaluate("window.notReloaded = true")
    # live.js listens to the SSE stream (it long-polls only where the stream does not answer).
    # Locators and expect() poll from Playwright's own isolated world: no string is evaluated
    # under the page's CSP (a string wait_for_function needs 'unsafe-eval' and flaked there).
    await expect(page.locator("html")).to_have_attribute("data-live", "sse", timeout=10_000)
    store = site.app[appmod.STORE]
    now = datetime.now(UTC)
    fresh = disruption(
        "sl-alerts",
        "tram-7",
        now,
        {"sv": "Spårväg City: ingen trafik Djurgården–Sergels torg"},
        modes=("tram",),
        severity="SEVERE",
        affected=(Affected("route", "7", "7"),),
    )
    started = time.monotonic()
    await store.apply(Batch(source="sl-alerts", fetched_at=now, items=(fresh,), complete=False))
    headline = page.locator("#list .item h3", has_text="Spårväg City: ingen trafik")
    await expect(headline).to_be_visible(timeout=2000)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert await page.evaluate("window.notReloaded") is True
    await expect(page.locator("#live-status")).to_contain_text(
        "1 ny eller ändrad störning"
    )  # singular (Babel)
    # An ended item leaves the current list the same way, into "recently cleared" (issue 14).
    later = now + timedelta(seconds=1)
    gone = Batch(source="sl-alerts", fetched_at=later, items=(), complete=False, ended=(fresh.id,))
    await store.apply(gone)
    await expect(page.locator("section.cleared").get_by_text("Spårväg City: ingen trafik")).to_be_visible(
        timeout=2000
    )
    assert await page.locator("#g-tram").count() == 0
    assert page.csp == []


async def test_hostile_text_never_runs(site: Running, page: Any) -> None:
    for path in ("/", HOSTILE, "/?severity=info&lang=en"):
        await page.goto(site.url + path)
        await page.wait_for_load_state("load")
        assert await page.evaluate("window.pwned === undefined")
    text = await page.inner_text("body")
    assert "<script>window.pwned=1</script>" in text
    await page.goto(site.url + HOSTILE)
    assert "<img src=x" in await page.inner_text("h1")
    assert await page.locator("main img").count() == 0 and await page.locator("main script").count() == 0
    assert await page.locator('a[href^="javascript:"]').count() == 0
    assert page.dialogs == []
