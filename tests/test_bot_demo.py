"""A compressed-time demo replay: two bot processes on Redis post to mastodon_mock and a fake Bluesky.

Every 10 minutes of demo time the NAVTEX page of feeds/navtex/ and a set of SL/operator items
change; before each pass the dry run is taken and must equal what the real pass then posts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apputil import serve_loopback

from tests import bskyfake
from tests.botutil import PUBLIC_URL, TOKEN, Clock, Masto, bot_settings, masto, mastodon_server
from tests.storeutil import REDIS_URL, batch, item, redis_cleanup
from travelinfo.bot.bluesky import Bluesky, rich_text
from travelinfo.bot.channels import channel_key, mastodon_limit
from travelinfo.bot.command import dry_run
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Mastodon, SocialNetwork
from travelinfo.bot.text import BLUESKY, Limit, grapheme_length, short_url
from travelinfo.ingest.parsers.base import PARSERS, ParseContext, load_builtins
from travelinfo.model import Affected, Disruption, bbox_of
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Store

__all__ = ["masto", "mastodon_server"]

NAVTEX = Path(__file__).resolve().parent.parent / "feeds" / "navtex"
AT = datetime(2026, 11, 25, 7, 50, tzinfo=UTC)
REGION = [17.2, 58.7, 19.5, 60.3]  # Stockholm county and its archipelago
REGATTA = "sjofartsverket:BALTIC SEA NAV WARN 062/26"


@pytest.fixture
async def bsky() -> AsyncIterator[str]:
    runner, port = await serve_loopback(bskyfake.make_app())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _navtex(n: int, at: datetime) -> Any:
    load_builtins()
    path = sorted(NAVTEX.iterdir())[n]
    ctx = ParseContext(source="sjofartsverket", fetched_at=at, url=path.as_uri())
    return PARSERS["navtex"](path.read_bytes(), ctx)


def _sl(at: datetime, step: int) -> list[Disruption]:
    """SL's items: one SEVERE metro fault (updated, then over) and low ones for the digest."""
    metro = item(
        "14-signal",
        at,
        source="sl",
        header="Röda linjen 14: inga tåg mellan Slussen och T-Centralen",
        severity="SEVERE",
        modes=("metro",),
        affected=(Affected("route", "14", "Röda linjen 14"),),
        description="Signalfel vid Gamla stan."
        if step == 0
        else "Signalfel vid Gamla stan. Ersättningsbussar.",
    ).replace(cause="TECHNICAL_PROBLEM")
    low = [
        item(f"bus-{i}", at, source="sl", header=f"Buss {170 + i}: hållplats Slussen flyttad", modes=("bus",))
        for i in range(6)
    ]
    # Far outside the home region: never posted.
    malmo = {"type": "Point", "coordinates": [13.0, 55.6]}
    away = item("malmo", at, source="sl", header="Malmö C: spår 4", severity="SEVERE", geometry=malmo)
    return ([metro] if step < 2 else []) + (low if step < 3 else []) + [away]


def _notice(at: datetime) -> Disruption:
    """An operator's notice (not SEVERE): it always gets its own thread."""
    header = "Båt 80 Vaxholm: inställda turer"
    return item("waxholm-1", at, source="waxholmsbolaget", header=header, modes=("ferry",)).replace(
        source_type="manual", cause="OTHER_CAUSE"
    )


def _lines(text: str) -> str:
    return re.sub(r"\n+", "\n", text)


def _settings(masto_url: str, bsky_url: str) -> Any:
    s = bot_settings(masto_url, budget=3, channels=["mastodon", "bluesky"], links_count_in_full=True)
    s.web.region = list(REGION)
    s.bot.bluesky_url = bsky_url
    s.bot.bluesky_handle = bskyfake.HANDLE
    s.bot.bluesky_password = bskyfake.PASSWORD
    return s


def _network(channel: str, settings: Any, session: aiohttp.ClientSession) -> tuple[SocialNetwork, Limit]:
    if channel == "mastodon":
        return Mastodon(settings.bot.base_url, TOKEN, session, backoff_base=0.01), mastodon_limit(settings)
    cfg = settings.bot
    return Bluesky(cfg.bluesky_url, cfg.bluesky_handle, cfg.bluesky_password, session), BLUESKY


async def _bsky_posts(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/_fake/posts") as resp:
        posts: list[dict[str, Any]] = await resp.json()
    return posts


async def test_demo_replay_two_bots_two_networks(masto: Masto, bsky: str, tmp_path: Path) -> None:
    settings = _settings(masto.base_url, bsky)
    clock = Clock(AT)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    stores: list[Store] = [open_store_from_url(REDIS_URL, prefix=prefix) for _ in range(2)]
    for s in stores:
        await s.open()
    seen: dict[str, list[str]] = {"mastodon": [], "bluesky": []}
    try:
        async with aiohttp.ClientSession() as session:

            def bots(process: int) -> dict[str, Bot]:
                """The two channels' bots of one process (made anew each pass: a restart)."""
                out = {}
                for channel in settings.bot.channels:
                    network, limit = _network(channel, settings, session)
                    out[channel] = Bot(
                        settings, stores[process], network, clock=clock, holder=f"proc{process}",
                        channel=channel_key(settings, channel), limit=limit,
                    )  # fmt: skip
                return out

            for b in bots(0).values():
                await b.load()  # first start: the cursor at the log's end
            store = stores[0]
            t = [AT + timedelta(minutes=10 * n) for n in range(4)]
            steps = [
                [_navtex(0, AT), batch([*_sl(AT, 0), _notice(AT)], AT, source="sl", complete=False)],
                [_navtex(1, t[1]), batch(_sl(AT, 1), t[1], source="sl")],
                [_navtex(2, t[2]), batch(_sl(AT, 2), t[2], source="sl")],
                [batch(_sl(AT, 3), t[3], source="sl")],
            ]
            for n, batches in enumerate(steps):
                clock.at = AT + timedelta(minutes=10 * n)
                for b in batches:
                    await store.apply(b)
                if n == 1:  # the operator's notice ends at minute 10
                    await store.apply(
                        batch([], clock.at, source="waxholmsbolaget", ended=["waxholmsbolaget:waxholm-1"])
                    )
                for channel in settings.bot.channels:
                    preview = await dry_run(settings, store, clock.at, channel=channel)
                    before = (
                        len(await masto.statuses())
                        if channel == "mastodon"
                        else len(await _bsky_posts(session, bsky))
                    )
                    # Two processes: the one holding the channel's lock posts, the other then finds nothing.
                    first, second = bots(n % 2)[channel], bots(1 - n % 2)[channel]
                    assert await stores[n % 2].try_lock(first.lock, first.holder, 60)
                    await first.step()
                    await stores[n % 2].release_lock(first.lock, first.holder)
                    assert await second.step() == 0
                    if channel == "mastodon":
                        texts = [p["text"] for p in (await masto.statuses())[before:]]
                    else:
                        texts = [p["value"]["text"] for p in (await _bsky_posts(session, bsky))[before:]]
                    # (mastodon_mock renders paragraphs as one line break: compare the lines)
                    shown = [p["text"] or "" for p in preview]
                    if channel == "bluesky":  # links are shown shortened there, the facet has the URL
                        shown = [rich_text(t)[0] for t in shown]
                    assert [_lines(t) for t in texts] == [_lines(t) for t in shown], (n, channel)
                    seen[channel].extend(texts)

            toots = await masto.statuses()
            skeets = await _bsky_posts(session, bsky)
    finally:
        for s in stores:
            await s.close()
        await redis_cleanup(prefix)

    items = {d.id: d for b in (_navtex(0, AT), _navtex(1, AT)) for d in b.items}
    for channel, texts in seen.items():
        joined = "\n".join(texts)
        # Nothing outside the home region (the German, Estonian and Finnish warnings, Malmö).
        for outside in ("Fehmarnbelt", "wreck of fishing vessel", "Marhallan", "Malmö"):
            assert outside.casefold() not in joined.casefold(), (channel, outside)
        for ident, d in items.items():
            box = bbox_of(d.geometry)
            if box and (box[0] > REGION[2] or box[2] < REGION[0]):
                assert ident.replace(" ", "%20") not in joined and ident not in joined
        # No post twice.
        assert len(texts) == len(set(texts)), channel
        assert not any(
            "59-17.4N" in t or "CLOSED FOR SHIPPING" in t for t in texts
        )  # sentence case, no raw positions
        # Digests list headlines with their links (ranked: NAVTEX safety warnings before buses).
        digests = [t for t in texts if t.startswith("Fler störningar:\n• ")]
        assert digests and digests[0].count("\n• ") >= 2 and "… och " in digests[0], channel
        assert "• Northern Baltic. Stockholm archipelago. Furusund." in digests[0], channel
    mastodon_digest = next(t for t in seen["mastodon"] if t.startswith("Fler störningar:"))
    assert mastodon_digest.index("NAV%20WARN%20061") < mastodon_digest.index(
        "• Buss 170: hållplats Slussen flyttad https://trafik.example.se/d/sl:bus-0"
    )

    # Mastodon threads; mastodon_mock counts links in full: every post within 500 plain characters.
    assert all(len(p["text"]) <= 500 for p in toots)
    by_id = {p["id"]: p for p in toots}

    def root(p: dict[str, Any]) -> str:
        while p["in_reply_to_id"]:
            p = by_id[p["in_reply_to_id"]]
        return str(p["id"])

    def thread_of(start: str) -> list[str]:
        head = next(p for p in toots if p["in_reply_to_id"] is None and p["text"].startswith(start))
        return [p["text"] for p in toots if root(p) == head["id"]]

    regatta = thread_of("Northern Baltic. Stockholm archipelago. Sandhamn")
    assert "Sailing regatta" in regatta[0] or "sailing regatta" in regatta[0]
    assert len(regatta) == 2 and regatta[1].startswith("Cleared: the warning"), regatta
    assert "Regatta completed" in regatta[1] and "fairway open" in regatta[1]
    assert not any(p["in_reply_to_id"] is None and "Regatta completed" in p["text"] for p in toots)
    metro = thread_of("Röda linjen 14")
    assert metro[1].startswith("Uppdatering: ") and metro[-1].startswith(
        "Klart: det tekniska felet på röda linjen 14 är över, tågen går igen."
    )
    notice = thread_of("Båt 80 Vaxholm")
    assert len(notice) == 2 and notice[1].startswith("Klart: störningen är över, båtarna går igen.")

    # Bluesky: the same threads as reply refs, within 300 graphemes, with link and tag facets.
    by_uri = {p["uri"]: p for p in skeets}
    for p in skeets:
        text = p["value"]["text"]
        assert grapheme_length(text) <= 300
        kinds = {f["features"][0]["$type"] for f in p["value"].get("facets", [])}
        assert "app.bsky.richtext.facet#link" in kinds
        for f in p["value"]["facets"]:
            raw = text.encode()[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode()
            feature = f["features"][0]
            assert raw == short_url(feature.get("uri", "")) or raw == "#" + feature.get("tag", "")
    # Every SEVERE item and operator's notice of the home region: its own thread there too,
    # ended by an all-clear in it.
    for start in ("Röda linjen 14", "Båt 80 Vaxholm"):
        head = next(p for p in skeets if "reply" not in p["value"] and p["value"]["text"].startswith(start))
        replies = [p for p in skeets if p["value"].get("reply", {}).get("root", {}).get("uri") == head["uri"]]
        assert replies and replies[-1]["value"]["text"].startswith("Klart: "), start
    cancel = next(p for p in skeets if "Regatta completed" in p["value"]["text"])
    parent = by_uri[cancel["value"]["reply"]["parent"]["uri"]]
    assert "sailing regatta" in parent["value"]["text"].casefold() and "reply" not in parent["value"]
    assert any(
        "#tag" in f["features"][0]["$type"] for p in skeets for f in p["value"]["facets"]
    )  # hashtags are facets
    links = [f["features"][0].get("uri", "") for f in cancel["value"]["facets"]]
    assert any(u.startswith(f"{PUBLIC_URL}/d/") for u in links)
