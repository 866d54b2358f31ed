"""The API docs page in a real browser (Debian chromium via Playwright): every operation of the
served OpenAPI document is listed, counted against the document; axe finds nothing in sv/en at
phone and desktop widths, light and dark; the page works under the site's CSP without script."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from apputil import Running, running_app
from checkutil import axe, chromium, needs_axe, needs_chromium
from storeutil import open_store

METHODS = ("get", "post", "put", "patch", "delete")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    needs_chromium,
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path_factory.mktemp("apidocs")) as store, running_app(store) as r:
        yield r


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def served_operations(site: Running) -> set[str]:
    async with aiohttp.ClientSession() as s, s.get(site.url + "/api/v1/openapi.json") as resp:
        doc = await resp.json()
    return {op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in METHODS}


async def test_every_operation_is_listed_under_the_csp(site: Running, browser: Any) -> None:
    expected = await served_operations(site)
    assert len(expected) >= 21
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        for lang, heading, public in (
            ("sv", "API för utvecklare", "Öppen"),
            ("en", "API for developers", "Public"),
        ):
            resp = await page.goto(f"{site.url}/api/v1/docs?lang={lang}")
            assert resp.status == 200
            assert "script-src 'self'" in resp.headers["content-security-policy"]
            assert await page.locator("html").get_attribute("lang") == lang
            assert await page.locator("h1").inner_text() == heading
            listed = await page.locator("article.api-op").evaluate_all("els => els.map(e => e.id)")
            assert sorted(listed) == sorted(expected)  # each once, none missing, none extra
            toc = await page.locator(".api-toc a[href^='#']").evaluate_all("els => els.map(e => e.hash)")
            assert {f"#{op}" for op in expected} <= set(toc)
            # What an app developer looks for: the stream's event table, the keyed operations.
            stream = page.locator("#streamChanges")
            assert "snapshot" in await stream.locator("table").first.inner_text()
            assert public in await page.locator("#listDisruptions .api-auth").inner_text()
            assert public not in await page.locator("#createNotice .api-auth").inner_text()
            assert "415" in await page.locator("#createNotice .api-responses").inner_text()
        # The footer of every page links here.
        await page.goto(site.url + "/status?lang=en")
        await page.click("footer >> text=API for developers")
        assert page.url.endswith("/api/v1/docs?lang=en")
    finally:
        await context.close()
    assert csp == []


@pytest.mark.slow  # 8 page loads with axe: about a minute on a loaded machine
@needs_axe
async def test_axe_reports_no_violations(site: Running, browser: Any) -> None:
    failures = []
    for scheme in ("light", "dark"):
        context = await browser.new_context(bypass_csp=True, color_scheme=scheme)
        page = await context.new_page()
        try:
            for width in (390, 1280):
                await page.set_viewport_size({"width": width, "height": 900})
                for lang in ("sv", "en"):
                    await page.goto(f"{site.url}/api/v1/docs?lang={lang}")
                    result = await axe(page)
                    failures += [(scheme, width, lang, v["id"], v["help"], len(v["nodes"])) for v in result]
                    wide = await page.evaluate("document.documentElement.scrollWidth > innerWidth + 1")
                    if wide:
                        failures.append((scheme, width, lang, "reflow", "wider than the viewport", 1))
        finally:
            await context.close()
    assert failures == []
