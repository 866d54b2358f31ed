"""The bot against a real mastodon_mock server on loopback, with real SQLite and Redis stores."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.botutil import PUBLIC_URL, TOKEN, Clock, Masto, bot_settings, masto, mastodon_server
from tests.storeutil import REDIS_URL, batch, item, open_store
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Mastodon, PostUnavailable
from travelinfo.bot.text import MAX_CHARS, mastodon_length
from travelinfo.model import Affected, Disruption, Period
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Store

__all__ = ["masto", "mastodon_server"]  # the fixtures, imported for pytest

T0 = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def e4(at: datetime, **kw: Any) -> Disruption:
    d = item(
        "SE_STA_TRISSID_1_900001",
        at,
        source="trafikverket",
        header="E4 norrgående avstängd",
        severity=kw.pop("severity", "SEVERE"),
        periods=kw.pop("periods", (Period(T0 - timedelta(minutes=10), T0 + timedelta(hours=3)),)),
        affected=(Affected("road", "E4", "Södertäljevägen"),),
        description=kw.pop("description", "Olycka med flera fordon. Räkna med långa köer."),
    )
    return d.replace(
        location_text={"sv": "E4 norrgående vid Hallunda", "en": "E4 northbound at Hallunda"},
        header={"sv": "E4 norrgående avstängd", "en": "E4 northbound closed"},
        effect="NO_SERVICE",
        **kw,
    )


def make_bot(settings: Any, store: Store, session: aiohttp.ClientSession, clock: Clock, **kw: Any) -> Bot:
    network = Mastodon(settings.bot.base_url, TOKEN, session, backoff_base=0.01, **kw)
    return Bot(settings, store, network, clock=clock)


async def test_thread_updates_end_and_restart(masto: Masto, tmp_path: Path) -> None:
    settings = bot_settings(masto.base_url)
    clock = Clock(T0)
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as session:
        bot = make_bot(settings, store, session, clock)
        await bot.load()  # first start: the cursor is the log's end
        at = T0
        await store.apply(batch([e4(at)], at, source="trafikverket", complete=False))
        assert await bot.step() == 2  # the Swedish post and its English reply
        posts = await masto.statuses()
        root, root_en = posts
        assert root["in_reply_to_id"] is None and root["language"] == "sv"
        assert root["visibility"] == "public"
        assert root["text"].startswith("E4 norrgående avstängd – E4 norrgående vid Hallunda\n")
        assert "Gäller från 25 nov 13:50 till 17:00." in root["text"]
        assert f"{PUBLIC_URL}/d/trafikverket:SE_STA_TRISSID_1_900001" in root["text"]
        assert [t["name"].casefold() for t in root["tags"]] == ["e4"]
        assert root_en["in_reply_to_id"] == root["id"] and root_en["language"] == "en"
        assert root_en["text"].startswith("E4 northbound closed – E4 northbound at Hallunda")

        # Trivial changes (version, categories, last_seen) make no post.
        at += timedelta(minutes=5)
        trivial = e4(at, version="2", categories=("datex2:Accident",))
        await store.apply(batch([trivial], at, source="trafikverket", complete=False))
        assert await bot.step() == 0

        # A material update is a reply to the previous post of the thread.
        at += timedelta(minutes=5)
        await store.apply(batch([e4(at, description="Två körfält öppna.")], at, source="trafikverket"))
        clock.at = at
        assert await bot.step() == 2

        # Restart: a new process with the same store carries on, posting nothing twice.
        bot = make_bot(settings, store, session, clock)
        assert await bot.step() == 0

        at += timedelta(minutes=5)
        longer = (Period(T0 - timedelta(minutes=10), T0 + timedelta(hours=5)),)
        await store.apply(
            batch([e4(at, description="Två körfält öppna.", periods=longer)], at, source="trafikverket")
        )
        clock.at = at
        assert await bot.step() == 2

        at += timedelta(minutes=5)
        await store.apply(batch([], at, source="trafikverket", complete=True))  # vanished: ended
        clock.at = at
        assert await bot.step() == 0  # the all-clear is held back for bot.all_clear_hold
        clock.advance(settings.bot.all_clear_hold)
        assert await bot.step() == 2
        assert await bot.step() == 0

    posts = await masto.statuses()
    assert len(posts) == 8, [p["text"] for p in posts]
    sv = [p for p in posts if p["language"] == "sv"]
    assert len(sv) == 4
    for parent, child in itertools.pairwise(sv):
        assert child["in_reply_to_id"] == parent["id"]  # one thread, each reply to the previous
    assert sv[1]["text"].startswith("Uppdatering: E4 norrgående avstängd")
    assert "Två körfält öppna." in sv[1]["text"]
    assert "till 19:00" in sv[2]["text"]
    assert sv[3]["text"].startswith("Klart: olyckan på E4 är över, trafiken flyter igen.")
    assert "Gällde: E4 norrgående avstängd" in sv[3]["text"]
    en = [p for p in posts if p["language"] == "en"]
    assert [p["in_reply_to_id"] for p in en] == [p["id"] for p in sv]
    assert en[3]["text"].startswith("Cleared: the accident on E4 is over, traffic is flowing again.")
    assert "It was: E4 northbound closed" in en[3]["text"]
    assert all(mastodon_length(p["text"]) <= MAX_CHARS for p in posts)


async def test_crash_after_posting_posts_nothing_twice(masto: Masto, tmp_path: Path) -> None:
    settings = bot_settings(masto.base_url, second_language="")
    clock = Clock(T0)
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as session:
        bot = make_bot(settings, store, session, clock)
        cursor = await bot.load()
        await store.apply(batch([e4(T0)], T0, source="trafikverket", complete=False))
        assert await bot.step() == 1
        # Simulate a crash right after the post: neither the cursor nor the thread was saved.
        await store.put_record("bot_state", "cursor", cursor.to_json())
        await store.delete_record("bot_post", "trafikverket:SE_STA_TRISSID_1_900001")
        bot = make_bot(settings, store, session, clock)
        assert await bot.step() == 0
        thread = await store.get_record("bot_post", "trafikverket:SE_STA_TRISSID_1_900001")
        assert thread is not None and thread["last"] == (await masto.statuses())[0]["id"]
    assert len(await masto.statuses()) == 1


async def test_burst_is_budget_plus_one_digest(masto: Masto, tmp_path: Path) -> None:
    settings = bot_settings(masto.base_url, second_language="")
    clock = Clock(T0)
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as session:
        bot = make_bot(settings, store, session, clock)
        await bot.load()
        items = [
            item(f"burst-{i:02d}", T0, header=f"Olycka på väg {i}", severity="WARNING") for i in range(20)
        ]
        items.append(item("severe-1", T0, header="Tunnelbanan stängd", severity="SEVERE"))
        await store.apply(batch(items, T0, complete=False))
        assert await bot.step() == 7
        # More of the burst in the same window: held back (no second digest in the window).
        more = [item(f"late-{i}", T0, header=f"Sen {i}", severity="WARNING") for i in range(3)]
        await store.apply(batch(more, T0, complete=False))
        assert await bot.step() == 0
        posts = await masto.statuses()
        # The SEVERE item, last in the burst, is posted first and is never buried; it counts in
        # the budget like any post, so 5 of the others get their own post, 15 the digest.
        assert len(posts) == settings.bot.budget + 1
        assert posts[0]["text"].startswith("Tunnelbanan stängd")
        assert [p["text"].split("\n")[0] for p in posts[1:6]] == [f"Olycka på väg {i}" for i in range(5)]
        digest = posts[-1]["text"]
        assert digest.startswith("Fler störningar:\n• Olycka på väg 5 https://trafik.example.se/d/")
        assert len(digest) <= MAX_CHARS
        shown = digest.count("• ")
        assert shown >= 3 and digest.endswith(f"… och {15 - shown} till: {PUBLIC_URL}/"), digest
        # The next window summarises what was held back since.
        clock.advance(settings.bot.budget_window + 1)
        assert await bot.step() == 1
    last = (await masto.statuses())[-1]["text"]
    assert last.splitlines()[1:] == [f"• Sen {i} {PUBLIC_URL}/d/demo:late-{i}" for i in range(3)], last


async def test_faults_are_retried_and_posted_once(masto: Masto, tmp_path: Path) -> None:
    settings = bot_settings(masto.base_url, second_language="")
    clock = Clock(T0)
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as session:
        bot = make_bot(settings, store, session, clock)
        await bot.load()
        await masto.fault(500, count=2)
        await masto.fault(200, count=1, kind="malformed")  # a cut-off answer
        await masto.fault(429, count=1, headers={"Retry-After": "1"})
        await store.apply(batch([e4(T0)], T0, source="trafikverket", complete=False))
        started = asyncio.get_running_loop().time()
        assert await bot.step() == 1
        assert asyncio.get_running_loop().time() - started >= 1.0  # Retry-After was honoured
        assert len(await masto.statuses()) == 1

        # A 4xx is logged and skipped, not retried; the next post goes on.
        await masto.fault(422, count=1)
        await store.apply(batch([item("a", T0, severity="SEVERE")], T0, complete=False))
        await store.apply(batch([item("b", T0, severity="SEVERE")], T0, complete=False))
        assert await bot.step() == 1

        # An outage outlasting the retries: the pass stops; the change is posted once later.
        bot = make_bot(settings, store, session, clock, attempts=2)
        await masto.fault(503, count=10)
        await store.apply(batch([item("c", T0, severity="SEVERE")], T0, complete=False))
        with pytest.raises(PostUnavailable):
            await bot.step()
        await masto.clear_faults()
        assert await bot.step() == 1
        assert await bot.step() == 0
    texts = [p["text"] for p in await masto.statuses()]
    assert len(texts) == 3 and len(set(texts)) == 3


async def test_two_bots_racing_on_redis_never_post_twice(masto: Masto, tmp_path: Path) -> None:
    """Two Bots on two connections stepping at once (real processes: test_bot_processes.py)."""
    settings = bot_settings(masto.base_url)
    clock = Clock(T0)
    async with open_store("redis", tmp_path) as store_a, aiohttp.ClientSession() as session:
        store_b = open_store_from_url(REDIS_URL, prefix=store_a.p)  # type: ignore[attr-defined]
        await store_b.open()
        try:
            bots = [make_bot(settings, s, session, clock) for s in (store_a, store_b)]
            await bots[0].load()
            at = T0
            for version in range(3):
                at += timedelta(minutes=1)
                d = e4(at, description=f"Läget {version}.")
                await store_a.apply(batch([d], at, source="trafikverket", complete=False))
                # Both processes work the same change log at the same time.
                for _ in range(3):
                    await asyncio.gather(*(b.step() for b in bots), return_exceptions=True)
            await store_a.apply(batch([], at, source="trafikverket", complete=True))
            # Processed once its hold-back (from the change's time) is over: the all-clear is due.
            clock.at = at + timedelta(seconds=settings.bot.all_clear_hold)
            for _ in range(3):
                await asyncio.gather(*(b.step() for b in bots), return_exceptions=True)
        finally:
            await store_b.close()
    posts = await masto.statuses()
    sv = [p for p in posts if p["language"] == "sv"]
    assert len(sv) == 4 and len(posts) == 8, [p["text"] for p in posts]
    assert len({(p["text"], p["in_reply_to_id"]) for p in posts}) == 8
    for parent, child in itertools.pairwise(sv):
        assert child["in_reply_to_id"] == parent["id"]


async def test_bot_role_runs_in_the_app(masto: Masto, tmp_path: Path) -> None:
    from travelinfo.app import create_app

    settings = bot_settings(masto.base_url, second_language="")
    async with open_store("sqlite", tmp_path) as store:
        app = create_app(settings, roles=frozenset({"bot"}), store=store)
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            for _ in range(100):  # the bot's first start records its cursor
                if await store.get_record("bot_state", "cursor"):
                    break
                await asyncio.sleep(0.05)
            now = datetime.now(UTC)
            d = e4(now, periods=(Period(now - timedelta(minutes=5)),))
            await store.apply(batch([d], now, source="trafikverket", complete=False))
            for _ in range(100):
                if await masto.statuses():
                    break
                await asyncio.sleep(0.05)
        finally:
            await runner.cleanup()
    posts = await masto.statuses()
    assert len(posts) == 1 and posts[0]["text"].startswith("E4 norrgående avstängd")
