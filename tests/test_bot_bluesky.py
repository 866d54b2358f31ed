"""The Bluesky channel against the local fake PDS (tests/bskyfake.py): threads, facets, never twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from apputil import serve_loopback

from tests import bskyfake
from tests.botutil import Clock, bot_settings
from tests.storeutil import batch, item, open_store
from travelinfo.bot.bluesky import Bluesky, rich_text, rkey_of
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import PostRejected, PostUnavailable
from travelinfo.bot.state import ClaimBusy
from travelinfo.bot.text import BLUESKY, grapheme_length
from travelinfo.model import Affected

T0 = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


@pytest.fixture
async def pds() -> AsyncIterator[tuple[str, web.Application]]:
    app = bskyfake.make_app()
    runner, port = await serve_loopback(app)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


def _bot(url: str, store: Any, session: aiohttp.ClientSession, clock: Clock, holder: str) -> Bot:
    s = bot_settings("", channels=["bluesky"], second_language="")
    network = Bluesky(url, bskyfake.HANDLE, bskyfake.PASSWORD, session)
    return Bot(s, store, network, clock=clock, holder=holder, limit=BLUESKY, claim_ttl=0.0)


def _metro(at: datetime, **kw: Any) -> Any:
    return item(
        "14-signal",
        at,
        source="sl",
        header="Röda linjen 14: inga tåg mellan Slussen och T-Centralen 🚇",
        severity="SEVERE",
        modes=("metro",),
        affected=(Affected("route", "14", "Röda linjen 14"),),
        description=kw.pop("description", "Signalfel. " * 60),  # far beyond 300 graphemes: trimmed
        **kw,
    )


def test_rich_text_facets_are_utf8_byte_ranges() -> None:
    text, facets = rich_text(
        "Åäö 🇸🇪 https://trafik.example.se/d/sl:1401051700001240199 #Linje14 #Tunnelbanan"
    )
    assert text.startswith("Åäö 🇸🇪 trafik.example.se/d/sl:1401051700001240…")
    raw = text.encode()
    got = [(raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0]) for f in facets]
    assert got[0] == (
        "trafik.example.se/d/sl:1401051700001240…",
        {
            "$type": "app.bsky.richtext.facet#link",
            "uri": "https://trafik.example.se/d/sl:1401051700001240199",
        },
    )
    assert [g[1].get("tag") for g in got[1:]] == ["Linje14", "Tunnelbanan"]
    assert rich_text("#14 only digits")[1] == []  # not a hashtag
    assert all(c in bskyfake_tid_chars() for c in rkey_of("x")) and len(rkey_of("x")) == 13


def bskyfake_tid_chars() -> str:
    return "234567abcdefghijklmnopqrstuvwxyz"


async def test_thread_limits_and_never_twice(pds: tuple[str, web.Application], tmp_path: Path) -> None:
    url, app = pds
    clock = Clock(T0)
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as session:
        bot = _bot(url, store, session, clock, "a")
        cursor = await bot.load()
        await store.apply(batch([_metro(T0)], T0, source="sl", complete=False))
        assert await bot.step() == 1
        # A crash right after the post reached the PDS: the claim still says "claimed", no
        # thread, the old cursor. Another process resends with the same record key and the
        # PDS answers with the record that exists: no second post, and the thread continues.
        claim = next(r for r in await store.list_records("bot_post") if r.get("type") == "claim")
        await store.put_record("bot_post", f"claim:{claim['key']}", {**claim, "state": "claimed"})
        await store.delete_record("bot_post", "sl:14-signal")
        await store.put_record("bot_state", "cursor", cursor.to_json())
        assert await _bot(url, store, session, clock, "b").step() == 1  # the same record, re-learnt
        assert len(app[bskyfake.ORDER]) == 1
        later = T0 + timedelta(minutes=5)
        await store.apply(batch([_metro(later, description="Ersättningsbussar.")], later, source="sl"))
        clock.at = later
        assert await _bot(url, store, session, clock, "c").step() == 1
        ended = T0 + timedelta(minutes=10)
        await store.apply(batch([], ended, source="sl"))
        clock.at = ended
        assert await _bot(url, store, session, clock, "d").step() == 0  # held: bot.all_clear_hold
        clock.advance(300)
        assert await _bot(url, store, session, clock, "e").step() == 1
    posts = [app[bskyfake.RECORDS][u] for u in app[bskyfake.ORDER]]
    assert len(posts) == 3, [p["value"]["text"] for p in posts]
    first, update, end = (p["value"] for p in posts)
    assert "reply" not in first
    assert (
        update["reply"]["root"]["uri"] == posts[0]["uri"]
        and update["reply"]["parent"]["uri"] == posts[0]["uri"]
    )
    assert end["reply"]["root"]["uri"] == posts[0]["uri"] and end["reply"]["parent"]["uri"] == posts[1]["uri"]
    assert end["text"].startswith("Klart: ") and "tågen går igen" in end["text"]
    assert all(grapheme_length(p["text"]) <= 300 for p in (first, update, end))
    assert first["text"].count("…") >= 1 and "trafik.example.se/d/sl:14-signal" in first["text"]
    assert first["langs"] == ["sv"]


async def test_two_bots_race_on_redis_post_once(pds: tuple[str, web.Application], tmp_path: Path) -> None:
    url, app = pds
    clock = Clock(T0)
    async with open_store("redis", tmp_path) as store, aiohttp.ClientSession() as session:
        a, b = _bot(url, store, session, clock, "a"), _bot(url, store, session, clock, "b")
        a.poster.claim_ttl = b.poster.claim_ttl = 60.0
        await a.load()
        items = [_metro(T0), item("e4", T0, source="sl", header="E4 avstängd", severity="SEVERE")]
        await store.apply(batch(items, T0, source="sl", complete=False))

        async def step(bot: Bot) -> int:
            for _ in range(50):
                try:
                    return await bot.step()
                except ClaimBusy:
                    await asyncio.sleep(0.05)  # the other process is posting it
            raise AssertionError("claim never settled")

        await asyncio.gather(step(a), step(b))
        # A step that met the other's claim is retried, so its return value may not count a post
        # it made before: count what each bot sent over its life.
        assert a.poster.calls + b.poster.calls == 2
        assert await a.step() == 0 and await b.step() == 0
    texts = [app[bskyfake.RECORDS][u]["value"]["text"] for u in app[bskyfake.ORDER]]
    assert len(texts) == 2 and len(set(texts)) == 2


async def test_bad_password_and_outage_are_typed_and_secret_free(pds: tuple[str, web.Application]) -> None:
    url, app = pds
    async with aiohttp.ClientSession() as session:
        wrong = Bluesky(url, bskyfake.HANDLE, "hunter2-secret", session)
        with pytest.raises(PostRejected) as exc:
            await wrong.post("hej", idempotency_key="k1")
        assert "hunter2" not in str(exc.value) and "hunter2" not in repr(wrong)
        app[bskyfake.FAULTS].append(503)
        good = Bluesky(url, bskyfake.HANDLE, bskyfake.PASSWORD, session)
        with pytest.raises(PostUnavailable):
            await good.post("hej", idempotency_key="k2")
        first = await good.post("hej", idempotency_key="k2")  # the retry of the same post
        assert await good.post("hej", idempotency_key="k2") == first  # and again: the same record
        down = Bluesky("http://127.0.0.1:9", bskyfake.HANDLE, bskyfake.PASSWORD, session)
        with pytest.raises(PostUnavailable):
            await down.post("hej", idempotency_key="k3")
    assert len(app[bskyfake.ORDER]) == 1


async def test_flap_is_an_update_and_cap_cancel_closes_the_thread(
    pds: tuple[str, web.Application], tmp_path: Path
) -> None:
    url, app = pds
    clock = Clock(T0)
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as session:
        bot = _bot(url, store, session, clock, "a")
        await bot.load()
        await store.apply(batch([_metro(T0)], T0, source="sl"))
        assert await bot.step() == 1
        # Gone at minute 5, back at minute 8 (within bot.all_clear_hold): no all-clear, the
        # changed text is an update in the same thread.
        clock.at = T0 + timedelta(minutes=5)
        await store.apply(batch([], clock.at, source="sl"))
        assert await bot.step() == 0
        clock.at = T0 + timedelta(minutes=8)
        await store.apply(batch([_metro(clock.at, description="Glesare trafik.")], clock.at, source="sl"))
        assert await bot.step() == 1
        vma = item("SE-SOS-1", T0, source="vma", header="VMA: brand i Värtahamnen", severity="WARNING")
        vma = vma.replace(source_type="cap")
        await store.apply(batch([vma], clock.at, source="vma", complete=False))
        assert await bot.step() == 1  # a public warning: its own thread, whatever the budget
        clock.advance(60)
        await store.apply(batch([], clock.at, source="vma", complete=False, ended=["vma:SE-SOS-1"]))
        assert await bot.step() == 0  # held back
        clock.advance(300)
        assert await bot.step() == 1  # it stayed ended: the all-clear
    posts = [app[bskyfake.RECORDS][u] for u in app[bskyfake.ORDER]]
    texts = [p["value"]["text"] for p in posts]
    assert len(posts) == 4, texts
    roots = [p for p in posts if "reply" not in p["value"]]
    assert len(roots) == 2  # the flap did not start a second metro thread
    assert not any(t.startswith("Klart: ") for t in texts[:3])
    assert (
        texts[1].startswith("Uppdatering: ")
        and posts[1]["value"]["reply"]["parent"]["uri"] == posts[0]["uri"]
    )
    assert (
        texts[3].startswith("Klart: varningen")
        and posts[3]["value"]["reply"]["root"]["uri"] == posts[2]["uri"]
    )
