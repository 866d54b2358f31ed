"""The W3C Feed Validator on the living demo: Atom and RSS of ten filter variants, 0 errors, 0 warnings.

The validator (github.com/w3c/feedvalidator) is not on PyPI: give a checkout with
FEEDVALIDATOR=/path/to/feedvalidator and, unless this Python has its dependencies (lxml,
html5lib, rdflib), FEEDVALIDATOR_PYTHON=/path/to/python (docs/web.md, "Verifying"). Without it
the test is skipped; jing, the self-link and the date-order tests (test_web_v2_feeds.py) always run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from apputil import start_app
from test_web_v2_feeds import VARIANTS
from waiting import wait_until

from travelinfo.config import load_settings
from travelinfo.store.base import Query

ROOT = Path(__file__).resolve().parent.parent
CHECKOUT = os.environ.get("FEEDVALIDATOR", "")
PYTHON = os.environ.get("FEEDVALIDATOR_PYTHON", sys.executable)

pytestmark = [
    pytest.mark.slow,  # the whole demo collecting for half a minute
    pytest.mark.skipif(not CHECKOUT, reason="set FEEDVALIDATOR to a checkout of w3c/feedvalidator"),
]


async def validate(files: list[tuple[Path, str]]) -> list[dict[str, object]]:
    args = [PYTHON, str(ROOT / "tests" / "feedvalidate.py"), CHECKOUT]
    for path, url in files:
        args += [str(path), url]
    proc = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _moved(
    stamp: Callable[[], Awaitable[list[tuple[str, object]]]], before: list[tuple[str, object]]
) -> Callable[[], Awaitable[bool]]:
    async def moved() -> bool:
        return await stamp() != before

    return moved


async def test_twenty_feeds_of_the_demo_have_no_errors_or_warnings(tmp_path: Path) -> None:
    env = {"TRAVELINFO_STORE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    settings = load_settings(ROOT / "config" / "travelinfo.toml", env=env)
    settings.web.port = 0
    settings.api.bootstrap_keys = []
    running = await start_app(settings, frozenset({"web", "worker"}))
    try:

        async def sources() -> bool:
            items, _ = await running.store.query(Query(region=None))
            return len({d.source for d in items}) >= 5

        async def stamp() -> list[tuple[str, object]]:
            items, _ = await running.store.query(Query(region=None, status=("active", "planned", "ended")))
            return sorted((d.id, d.updated_at) for d in items)

        await wait_until(sources, timeout=120, what="items from five demo sources")
        results, entries = [], []
        for snapshot in range(2):  # now, and once the replays moved on (a later payload)
            if snapshot:
                await wait_until(_moved(stamp, await stamp()), timeout=120, what="a later demo payload")
            files = []
            async with aiohttp.ClientSession() as s:
                for fmt in ("atom", "rss"):
                    for n, qs in enumerate(VARIANTS):
                        path = f"/feeds/disruptions.{fmt}{qs}"
                        async with s.get(running.url + path) as r:
                            assert r.status == 200, path
                            body = await r.read()
                        saved = tmp_path / f"s{snapshot}-{n}.{fmt}"
                        saved.write_bytes(body)
                        if fmt == "atom":
                            entries.append(body.count(b"<entry>"))
                        files.append((saved, settings.public_url + path))
            results += await validate(files)
    finally:
        await running.stop()
    assert len(results) == 40
    assert sum(entries) > 40 and sum(1 for n in entries if n) >= 12, entries  # not twenty empty feeds
    problems = {r["url"]: r["problems"] for r in results if r["problems"]}
    assert problems == {}
