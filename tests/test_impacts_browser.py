"""The inferred-impact and incident parts of the pages pass axe-core (real chromium) and the Nu checker."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apputil import running_app
from storeutil import open_store
from test_browser_pages import ARGS, AXE
from test_impacts_site import ACCIDENT, SL, _load, _settings
from test_web_pages import VNU

PAGES = (f"/d/{ACCIDENT}", f"/d/{SL}", "/board", "/?line=515&inferred=true")
# What each page must show, so the checkers see the parts this issue added.
SHOWS = {PAGES[0]: 'data-inferred="true"', PAGES[1]: "data-incident=", PAGES[2]: 'data-inferred="true"',
         PAGES[3]: f'href="/d/{ACCIDENT}'}  # fmt: skip
pytestmark = pytest.mark.slow


def _chromium() -> Path:
    return Path("/usr/bin/chromium")


@pytest.mark.skipif(not AXE.exists() or not _chromium().exists(), reason="needs axe-core and chromium")
async def test_axe_reports_no_violations_on_the_inferred_parts(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with open_store("sqlite", tmp_path) as store:
        await _load(store)
        async with running_app(store, _settings()) as app, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(_chromium()), args=ARGS)
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
                            await page.add_script_tag(path=str(AXE))
                            found = await page.evaluate("axe.run(document).then(r => r.violations)")
                            failures += [(scheme, width, lang, path, v["id"], v["help"]) for v in found]
                            wide = await page.evaluate(
                                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
                            )
                            if not wide:
                                failures.append((scheme, width, lang, path, "reflow", "scrolls sideways"))
            await browser.close()
    assert failures == []


@pytest.mark.skipif(shutil.which("java") is None or not VNU.exists(), reason="needs java and vnu-jar")
async def test_nu_html_checker_reports_no_errors_on_the_inferred_parts(tmp_path: Path) -> None:
    files = []
    async with open_store("sqlite", tmp_path) as store:
        await _load(store)
        async with running_app(store, _settings()) as app, aiohttp.ClientSession() as http:
            for n, path in enumerate(PAGES):
                async with http.get(app.url + path) as r:
                    html = await r.text()
                assert SHOWS[path] in html, path
                f = tmp_path / f"page{n}.html"
                f.write_text(html, encoding="utf-8")
                files.append(str(f))
    proc = await asyncio.to_thread(
        subprocess.run,
        ["java", "-jar", str(VNU), "--errors-only", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
