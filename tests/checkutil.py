"""Checkers nobody here wrote, run the one way every page test runs them.

- The Nu HTML Checker (`tests/node_modules/vnu-jar`): one JVM for all the pages of a test,
  since its start-up is the slow part.
- axe-core (`tests/node_modules/axe-core`) injected into Debian chromium through Playwright
  (no browser download), in a context with `bypass_csp=True` only so axe itself can be
  injected: the page under test is unchanged.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

MODULES = Path(__file__).resolve().parent / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")
AXE = MODULES / "axe-core" / "axe.min.js"
VNU = MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The page is no wider than the viewport (WCAG 2.2 1.4.10 reflow).
FITS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"
)
needs_axe = pytest.mark.skipif(
    not AXE.exists(), reason="needs tests/node_modules/axe-core (npm install in tests/)"
)
needs_vnu = pytest.mark.skipif(
    shutil.which("java") is None or not VNU.exists(), reason="needs java and tests/node_modules/vnu-jar"
)


async def launch(pw: Any) -> Any:
    """Debian chromium, headless, with no background traffic."""
    return await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A browser for the duration of the block (for a module-scoped `browser` fixture)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            yield browser
        finally:
            await browser.close()


async def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the context must bypass the CSP)."""
    await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate("axe.run(document).then(r => r.violations)")
    return found


async def nu_check(pages: Mapping[str, str], folder: Path) -> None:
    """Fail with the checker's report unless every page (name -> HTML) has no Nu error."""
    files = []
    for name, html in pages.items():
        f = folder / f"{name}.html"
        f.write_text(html, encoding="utf-8")
        files.append(str(f))
    proc = await asyncio.to_thread(
        subprocess.run,
        # C1 only and the serial collector: one short-lived JVM checking a few pages spends most of
        # its CPU in the C2 compiler and parallel GC threads, which compete with the other worker.
        ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", str(VNU), "--errors-only", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(proc.stderr, file=sys.stderr)
    assert proc.returncode == 0, proc.stderr
