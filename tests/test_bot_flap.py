"""Flap suppression: the all-clear is held back for `bot.all_clear_hold`; an item back within it
continues its thread without an all-clear. Compressed time (an injected clock), a real Redis,
a real mastodon_mock, and bot restarts (a new Bot on a new store connection) mid-hold."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests.botutil import TOKEN, Clock, Masto, bot_settings, masto, mastodon_server
from tests.storeutil import REDIS_URL, batch, item, open_store
from travelinfo.bot.command import dry_run, print_posts
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Mastodon
from travelinfo.config import Settings
from travelinfo.model import Affected, Disruption
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Store

__all__ = ["masto", "mastodon_server"]

T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
HOLD = 300.0  # the default bot.all_clear_hold


def metro(at: datetime, description: str = "Signalfel vid Gamla stan.") -> Disruption:
    d = item(
        "14-signal",
        at,
        source="sl",
        header="Röda linjen 14: inga tåg mellan Slussen och T-Centralen",
        severity="SEVERE",
        modes=("metro",),
        affected=(Affected("route", "14", "Röda linjen 14"),),
        description=description,
    )
    english = "Red line 14: no trains between Slussen and T-Centralen"
    return d.replace(cause="TECHNICAL_PROBLEM", header={**d.header, "en": english})


class Process:
    """One bot process: its own store connection and Bot; `restart()` makes both anew."""

    def __init__(self, settings: Settings, prefix: str, session: aiohttp.ClientSession, clock: Clock) -> None:
        self.settings, self.prefix, self.session, self.clock = settings, prefix, session, clock
        self.store: Store | None = None
        self.bot: Bot | None = None

    async def restart(self) -> Bot:
        await self.stop()
        self.store = open_store_from_url(REDIS_URL, prefix=self.prefix)
        await self.store.open()
        network = Mastodon(self.settings.bot.base_url, TOKEN, self.session, backoff_base=0.01)
        self.bot = Bot(self.settings, self.store, network, clock=self.clock)
        await self.bot.load()
        return self.bot

    async def stop(self) -> None:
        if self.store is not None:
            await self.store.close()
        self.store = self.bot = None


async def _step_checked(proc: Process, store: Store) -> int:
    """One pass, after the dry run of it: the dry run must print exactly what the pass posts."""
    assert proc.bot is not None
    preview = [p["text"] for p in await dry_run(proc.settings, store, proc.clock.at)]
    masto = Masto(proc.settings.bot.base_url, proc.session)
    before = len(await masto.statuses())
    made = await proc.bot.step()
    posted = [p["text"] for p in (await masto.statuses())[before:]]
    # mastodon_mock renders a blank line as one line break: compare the lines
    assert [t.replace("\n\n", "\n") for t in posted] == [t.replace("\n\n", "\n") for t in preview]
    return made


def _thread(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Swedish posts of the one thread, each a reply to the one before."""
    sv = [p for p in posts if p["language"] == "sv"]
    for parent, child in itertools.pairwise(sv):
        assert child["in_reply_to_id"] == parent["id"], [p["text"] for p in sv]
    return sv


async def test_flap_within_the_hold_continues_the_thread_across_a_restart(
    masto: Masto, tmp_path: Path
) -> None:
    settings = bot_settings(masto.base_url)
    assert settings.bot.all_clear_hold == HOLD
    clock = Clock(T0)
    async with open_store("redis", tmp_path) as store, aiohttp.ClientSession() as session:
        proc = Process(settings, store.p, session, clock)  # type: ignore[attr-defined]
        await proc.restart()
        await store.apply(batch([metro(T0)], T0, source="sl"))
        assert await _step_checked(proc, store) == 2  # sv + en
        # Gone from the feed at 07:02: nothing is posted, the all-clear is held.
        clock.at = T0 + timedelta(minutes=2)
        await store.apply(batch([], clock.at, source="sl"))
        assert await _step_checked(proc, store) == 0
        # The bot restarts during the hold; the item is back at 07:04, unchanged: nothing at all.
        clock.at = T0 + timedelta(minutes=4)
        await proc.restart()
        await store.apply(batch([metro(clock.at)], clock.at, source="sl"))
        assert await _step_checked(proc, store) == 0
        clock.at = T0 + timedelta(minutes=30)  # long after the old hold's end: nothing comes due
        assert await _step_checked(proc, store) == 0
        # Gone again at 07:31, back changed at 07:33 after another restart: an update, no all-clear.
        clock.at = T0 + timedelta(minutes=31)
        await store.apply(batch([], clock.at, source="sl"))
        assert await _step_checked(proc, store) == 0
        clock.at = T0 + timedelta(minutes=33)
        await proc.restart()
        await store.apply(batch([metro(clock.at, "Signalfel. Ersättningsbussar.")], clock.at, source="sl"))
        assert await _step_checked(proc, store) == 2
        # Really over at 07:40: held across a restart at 07:43, posted once the hold is over.
        clock.at = T0 + timedelta(minutes=40)
        await store.apply(batch([], clock.at, source="sl"))
        assert await _step_checked(proc, store) == 0
        clock.at = T0 + timedelta(minutes=43)
        await proc.restart()
        assert await _step_checked(proc, store) == 0
        clock.at = T0 + timedelta(minutes=40, seconds=HOLD)
        assert await _step_checked(proc, store) == 2
        await proc.restart()
        assert await _step_checked(proc, store) == 0
        await proc.stop()
    posts = await masto.statuses()
    sv = _thread(posts)
    assert len(posts) == 6 and len(sv) == 3, [p["text"] for p in posts]
    assert sv[0]["in_reply_to_id"] is None
    assert sv[1]["text"].startswith("Uppdatering: Röda linjen 14") and "Ersättningsbussar" in sv[1]["text"]
    assert sv[2]["text"].startswith("Klart: det tekniska felet på röda linjen 14 är över, tågen går igen.")
    assert sum("Klart:" in p["text"] for p in posts) == 1


async def test_hold_from_the_change_time_and_after_the_hold_a_flap_is_an_update(
    masto: Masto, tmp_path: Path
) -> None:
    settings = bot_settings(masto.base_url, second_language="")
    clock = Clock(T0)
    async with open_store("redis", tmp_path) as store, aiohttp.ClientSession() as session:
        proc = Process(settings, store.p, session, clock)  # type: ignore[attr-defined]
        await proc.restart()
        await store.apply(batch([metro(T0)], T0, source="sl"))
        assert await _step_checked(proc, store) == 1
        # It ended at 07:01 while the bot was down; the bot is back at 08:00: the item stayed
        # ended for far longer than the hold, so the all-clear is posted at once.
        await proc.stop()
        await store.apply(batch([], T0 + timedelta(minutes=1), source="sl"))
        clock.at = T0 + timedelta(hours=1)
        await proc.restart()
        assert await _step_checked(proc, store) == 1
        # Back at 08:10 (after the all-clear, within bot.flap_window): a reply, not a new thread.
        clock.at = T0 + timedelta(hours=1, minutes=10)
        await store.apply(batch([metro(clock.at, "Nytt signalfel.")], clock.at, source="sl"))
        assert await _step_checked(proc, store) == 1
        await proc.stop()
    posts = await masto.statuses()
    sv = _thread(posts)
    assert len(sv) == 3 and sv[0]["in_reply_to_id"] is None
    assert sv[1]["text"].startswith("Klart: ") and sv[2]["text"].startswith("Uppdatering: ")


async def test_hold_zero_posts_the_all_clear_at_once_and_the_dry_run_names_held_ones(
    masto: Masto, tmp_path: Path
) -> None:
    clock = Clock(T0)
    held_settings = bot_settings(masto.base_url, second_language="")
    async with open_store("redis", tmp_path) as store, aiohttp.ClientSession() as session:
        proc = Process(held_settings, store.p, session, clock)  # type: ignore[attr-defined]
        await proc.restart()
        await store.apply(batch([metro(T0)], T0, source="sl"))
        assert await _step_checked(proc, store) == 1
        clock.at = T0 + timedelta(minutes=1)
        await store.apply(batch([], clock.at, source="sl"))
        held: list[tuple[str, datetime]] = []
        assert await dry_run(held_settings, store, clock.at, held=held) == []
        assert held == [("sl:14-signal", T0 + timedelta(minutes=1, seconds=HOLD))]
        out = io.StringIO()
        print_posts([], out, held)
        assert out.getvalue() == (
            "held back: the all-clear of sl:14-signal, due 2026-11-25T07:06:00Z unless it comes back\n"
            "0 post(s) would be made; nothing was posted.\n"
        )
        # The same store read by a bot configured without a hold: the all-clear goes out now.
        now = bot_settings(masto.base_url, second_language="", all_clear_hold=0.0)
        assert [p["text"][:6] for p in await dry_run(now, store, clock.at)] == ["Klart:"]
        bot = Bot(now, store, Mastodon(masto.base_url, TOKEN, session, backoff_base=0.01), clock=clock)
        assert await bot.step() == 1
        await proc.stop()
    texts = [p["text"] for p in await masto.statuses()]
    assert len(texts) == 2 and texts[1].startswith("Klart: ")
