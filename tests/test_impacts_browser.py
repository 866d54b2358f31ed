"""The inferred-impact and incident parts of the pages pass axe-core (real chromium) and the Nu checker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apputil import running_app
from checkutil import FITS, axe, launch, needs_axe, needs_chromium, needs_vnu, nu_check
from storeutil import open_store
from test_impacts_site import ACCIDENT, SL, _load, _settings

PAGES = (f"/d/{ACCIDENT}", f"/d/{SL}", "/board", "/?line=515&inferred=true")
# What each page must show, so the checkers see the parts this issue added.
SHOWS = {PAGES[0]: 'data-inferred="true"', PAGES[1]: "data-incident=", PAGES[2]: 'data-inferred="true"',
         PAGES[3]: f'href="/d/{ACCIDENT}'}  # fmt: skip
pytestmark = pytest.mark.slow


@needs_chromium
@needs_axe
async def test_axe_reports_no_violations_on_the_inferred_parts(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with open_store("sqlite", tmp_path) as store:
        await _load(store)
        async with running_app(store, _settings()) as app, async_playwright() as pw:
            browser = await launch(pw)
            context = await browser.new_context(bypass_csp=True)  # only so axe can be injected
            page = await context.new_page()
            failures: list[Any] = []
            for scheme in ("light", "dark"):
                await page.emulate_media(color_scheme=scheme)
                for width in (320, 1280):
                    await page.set_viewport_size({"width": width, "height": 900})
                    for lang in ("sv", "en"):
                        for path in PAGES:
                            sep = "&" if "?" in path else "?"
                            await page.goto(f"{app.url}{path}{sep}lang={lang}")
                            found = await axe(page)
                            failures += [(scheme, width, lang, path, v["id"], v["help"]) for v in found]
                            if not await page.evaluate(FITS):
                                failures.append((scheme, width, lang, path, "reflow", "scrolls sideways"))
            await browser.close()
    assert failures == []


@needs_vnu
async def test_nu_html_checker_reports_no_errors_on_the_inferred_parts(tmp_path: Path) -> None:
    pages = {}
    async with open_store("sqlite", tmp_path) as store:
        await _load(store)
        async with running_app(store, _settings()) as app, aiohttp.ClientSession() as http:
            for n, path in enumerate(PAGES):
                async with http.get(app.url + path) as r:
                    html = await r.text()
                assert SHOWS[path] in html, path
                pages[f"page{n}"] = html
    await nu_check(pages, tmp_path)
