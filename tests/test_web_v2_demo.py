"""The living demo: replay rebasing to the present, and every loop a fresh run of the story."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from storeutil import open_store
from upstream import Upstream, serve_upstream

from travelinfo.config import Settings, SourceConfig
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.store.base import Query, Store

ROOT = Path(__file__).resolve().parent.parent
ACCIDENT = "trafikverket:SE_STA_TRISSID_1_16519027"  # the E4 accident at Järva krog
FILES = sorted((ROOT / "feeds" / "trafikverket").glob("*.xml"))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store("sqlite", tmp_path) as s:
        yield s


def demo_source(rebase: bool = True, url: str = str(ROOT / "feeds" / "trafikverket")) -> SourceConfig:
    return SourceConfig("trafikverket", "datex2", url, interval=0.05, options={"replay_rebase": rebase})


async def play(store: Store, loops: int, rebase: bool = True) -> list[list[str | None]]:
    """Poll the replay folder `loops` times round; the accident's status after each poll."""
    statuses: list[list[str | None]] = []
    async with aiohttp.ClientSession() as session:
        runner = SourceRunner(HttpCollector(demo_source(rebase), session, "datex2", lambda: None), store)
        for _ in range(loops):
            seen: list[str | None] = []
            for _ in FILES:
                result = await runner.poll()
                assert result.ok, result.error
                item = await store.get(ACCIDENT)
                seen.append(item.status if item else None)
                if rebase and item is not None and item.status == "active":
                    # Rebased: the accident happened a few minutes ago, whatever today's date.
                    assert datetime.now(UTC) - item.updated_at < timedelta(minutes=10)
                    assert any(p.contains(datetime.now(UTC)) for p in item.periods)
            statuses.append(seen)
    return statuses


async def test_every_loop_the_e4_accident_happens_and_clears(store: Store) -> None:
    statuses = await play(store, 3)
    assert statuses[0] == [None, "active", "active", "ended", "ended"]
    assert statuses[1] == statuses[2] == ["ended", "active", "active", "ended", "ended"]


async def test_without_rebasing_the_looped_story_is_ignored(store: Store) -> None:
    """The bug the option fixes: a second loop's older versions change nothing."""
    statuses = await play(store, 2, rebase=False)
    assert statuses[1] == ["ended"] * 5


async def test_first_page_of_the_demo_is_minutes_old(store: Store) -> None:
    await play(store, 1)
    items, _ = await store.query(Query())
    assert items and all(datetime.now(UTC) - d.updated_at < timedelta(minutes=10) for d in items)
    settings = Settings()
    settings.sources = [demo_source()]
    async with (
        running_app(store, settings) as site,
        aiohttp.ClientSession() as s,
        s.get(site.url + "/?lang=en") as r,
    ):
        page = await r.text()
    assert "Essingeleden" in page and "days ago" not in page and "weeks ago" not in page
    assert "minutes ago" in page or "seconds ago" in page or "minute ago" in page


async def test_a_real_source_is_never_rebased(store: Store) -> None:
    up = Upstream(body=FILES[1].read_bytes())
    async with serve_upstream(up), aiohttp.ClientSession() as session:
        src = demo_source(rebase=True, url=up.url)
        runner = SourceRunner(HttpCollector(src, session, "datex2", lambda: None), store)
        assert (await runner.poll()).ok
    item = await store.get(ACCIDENT)
    recorded = get_parser("datex2")(FILES[1].read_bytes(), ParseContext("trafikverket", datetime.now(UTC)))
    original = next(d for d in recorded.items if d.id == ACCIDENT)
    assert item is not None and (item.updated_at, item.version) == (original.updated_at, original.version)
    assert item.periods == original.periods
