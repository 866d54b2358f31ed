"""The living demo: replay rebasing to the present (on any date), and every loop a fresh run of the story."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from storeutil import open_store
from upstream import Upstream, serve_upstream

from travelinfo.config import Settings, SourceConfig, load_settings
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.gtfs_static import load_gtfs
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


def demo_sources() -> list[SourceConfig]:
    """Every rebased replay source of the shipped demo config, pointed at the repo's folders."""
    config = load_settings(ROOT / "config" / "travelinfo.toml", env={})
    return [
        dataclasses.replace(s, url=str(ROOT / s.url))
        for s in config.sources
        if s.options.get("replay_rebase") and not Path(s.url).is_absolute() and "://" not in s.url
    ]


# Any date: a winter night, the spring-forward night in Stockholm, a summer morning years on.
DATES = [
    datetime(2019, 1, 2, 3, 4, tzinfo=UTC),
    datetime(2027, 3, 28, 0, 45, tzinfo=UTC),
    datetime(2031, 6, 15, 7, 45, tzinfo=UTC),
]


async def test_started_on_any_date_every_demo_source_tells_the_same_story_minutes_old() -> None:
    """A service started on any date: each rebased source's first payloads are minutes old then."""
    sources = demo_sources()
    assert {s.name for s in sources} >= {"trafikverket", "sl", "krisinformation", "sjofartsverket"}
    reference = load_gtfs(ROOT / "feeds" / "sl-gtfs")
    async with aiohttp.ClientSession() as session:
        for source in sources:
            stories = []
            for start in [*DATES, datetime.now(UTC)]:
                collector = HttpCollector(source, session, source.type, lambda: reference)
                story: dict[str, list[str]] = {}
                for step in range(3):  # the first three polls, a minute apart
                    at = start + timedelta(minutes=step)
                    batch = await collector.collect(at)
                    assert batch is not None, source.name
                    for d in batch.items:
                        assert at - timedelta(minutes=10) <= d.updated_at <= at, (source.name, start, d.id)
                        story.setdefault(d.id, []).append(d.status)
                assert story, source.name
                stories.append(story)
            # The same items in the same states whatever the calendar says.
            assert all(s == stories[0] for s in stories), source.name
