"""README screenshots: the demo story a few polls in, at 390 px (phone) and 1280 px (desktop).

    .venv/bin/python tools/screenshots.py          # writes docs/img/phone.png and desktop.png

Needs Debian chromium and Playwright (the test extras). The store is a temporary SQLite file
filled by the demo's replay folders, rebased to now, as `make run` would show them.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from travelinfo import app as appmod  # noqa: E402
from travelinfo.config import load_settings  # noqa: E402
from travelinfo.ingest.collectors.http import HttpCollector  # noqa: E402
from travelinfo.ingest.gtfs_static import load_gtfs  # noqa: E402
from travelinfo.ingest.parsers.base import load_builtins  # noqa: E402
from travelinfo.ingest.scheduler import SourceRunner  # noqa: E402
from travelinfo.store import open_store_from_url  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
OUT = ROOT / "docs" / "img"
POLLS = {"trafikverket": 2, "sl": 2, "vma": 1}  # the E4 accident, the metro fault at its worst, the VMA
VIEWS = {"phone.png": (390, 844), "desktop.png": (1280, 900)}


async def fill(store_url: str) -> None:
    """Poll each demo source as the scheduler would (rebased replay), POLLS[name] times."""
    load_builtins()
    settings = load_settings(ROOT / "config" / "travelinfo.toml", env={})
    reference = load_gtfs(ROOT / settings.reference.gtfs_static)
    store = open_store_from_url(store_url)
    await store.open()
    try:
        async with aiohttp.ClientSession() as session:
            for src in settings.sources:
                if not (ROOT / src.url).is_dir() or src.type == "trafikverket":
                    continue
                src.url = str(ROOT / src.url)
                runner = SourceRunner(HttpCollector(src, session, src.type, lambda: reference), store)
                for _ in range(POLLS.get(src.name, 1)):
                    result = await runner.poll()
                    if not result.ok:
                        print(f"{src.name}: {result.error}")
    finally:
        await store.close()


async def main() -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="travelinfo-shots-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        await fill(url)
        settings = load_settings(ROOT / "config" / "travelinfo.toml", env={})
        settings.store.url = url
        settings.sources = []
        settings.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
        settings.api.bootstrap_keys = []
        app = appmod.create_app(settings, roles=frozenset({"web"}))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        OUT.mkdir(parents=True, exist_ok=True)
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
                )
                for name, (width, height) in VIEWS.items():
                    page = await browser.new_page(viewport={"width": width, "height": height}, locale="sv-SE")
                    await page.goto(base + "/?lang=sv")
                    await page.screenshot(path=str(OUT / name))
                    print(f"wrote {OUT / name}")
                    await page.close()
                await browser.close()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
