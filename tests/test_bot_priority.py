"""What the bot posts first under its budget: public warnings, SEVERE, operators' notices,
NAVTEX safety warnings, the rest, routine NAVTEX (rules.rank), against a real mastodon_mock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.botutil import PUBLIC_URL, TOKEN, Clock, Masto, bot_settings, masto, mastodon_server
from tests.storeutil import batch, item, open_store
from travelinfo.bot.rules import (
    NAVTEX_ROUTINE,
    NAVTEX_SAFETY_WARNING,
    NOTICE,
    OTHER,
    PUBLIC_WARNING,
    SEVERE,
    priority_class,
    rank,
)
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Mastodon
from travelinfo.ingest.parsers.base import PARSERS, ParseContext, load_builtins
from travelinfo.model import Disruption

__all__ = ["masto", "mastodon_server"]

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "maritime"


def navtex(number: int, body: str, *kinds: str, at: datetime = T0) -> Disruption:
    """A NAVTEX warning as the parser makes it (English, all caps, its categories)."""
    ident = f"BALTIC SEA NAV WARN {number:03d}/26"
    return item(ident, at, source="sjofartsverket", header=body.split(".")[0], modes=("shipping",)).replace(
        source_type="navtex",
        header={"en": body[:80]},
        description={"en": body},
        categories=("navtex:BALTIC SEA", *(f"navtex:{k}" for k in kinds)),
        cause="OTHER_CAUSE",
    )


def _parse(path: Path, at: datetime) -> dict[str, Disruption]:
    load_builtins()
    ctx = ParseContext(source="sjofartsverket", fetched_at=at, url=path.as_uri())
    return {d.id.split(":", 1)[1]: d for d in PARSERS["navtex"](path.read_bytes(), ctx).items}


def test_priority_classes_and_order() -> None:
    vma = item("vma", T0, header="VMA", severity="INFO").replace(source_type="cap")
    severe = item("s", T0, severity="SEVERE")
    notice = item("n", T0).replace(source_type="manual")
    bus = item("b", T0, modes=("bus",))
    closed = navtex(
        62, "SANDHAMNSLEDEN FAIRWAY CLOSED FOR SHIPPING DURING SAILING REGATTA.", "closed", "event"
    )
    survey = navtex(70, "HYDROGRAPHIC SURVEY BY MV NAUTILUS. WIDE BERTH.", "survey")
    danger = navtex(71, "AREA TEMPORARILY DANGEROUS FOR NAVIGATION.")
    got = [priority_class(d) for d in (vma, severe, notice, closed, danger, bus, survey)]
    assert got == [
        PUBLIC_WARNING,
        SEVERE,
        NOTICE,
        NAVTEX_SAFETY_WARNING,
        NAVTEX_SAFETY_WARNING,
        OTHER,
        NAVTEX_ROUTINE,
    ]
    # Same class: the higher severity first, then the newest news.
    old = navtex(26, "GNSS JAMMING.", "gnss-interference", at=T0 - timedelta(days=400))
    assert sorted([old, closed], key=rank) == [closed, old]
    info = item("i", T0, severity="INFO", modes=("bus",))
    assert sorted([info, bus], key=rank) == [bus, info]


def test_navtex_classes_on_the_demo_feed_and_the_corpus() -> None:
    demo = _parse(ROOT / "feeds" / "navtex" / "003-navtex-in-force.html", T0)
    assert priority_class(demo["BALTIC SEA NAV WARN 026/25"]) == NAVTEX_SAFETY_WARNING  # GNSS jamming
    assert priority_class(demo["BALTIC SEA NAV WARN 061/26"]) == NAVTEX_SAFETY_WARNING  # lightbuoy unlit
    assert priority_class(demo["BALTIC SEA NAV WARN 064/26"]) == NAVTEX_ROUTINE  # "regatta completed"
    page = CORPUS / "se-sjofartsverket-navvarn-navtex-in-force-2026-04-02.html"
    if not page.exists():
        pytest.skip(f"corpus page {page.name} is absent (../shared/corpus)")
    real = _parse(page, datetime(2026, 4, 2, 8, tzinfo=UTC))
    routine = {i for i, d in real.items() if priority_class(d) == NAVTEX_ROUTINE}
    # Surveys and maintenance dredging are routine; "temporarily dangerous" and the wrecks,
    # closures and jamming of the rest of the page are safety warnings.
    assert {"GERMAN NAV WARN 162/26", "LITHUANIAN NAV WARN 025/26"} <= routine, routine
    assert len(routine) <= 8 < len(real)
    assert all(
        priority_class(real[i]) == NAVTEX_SAFETY_WARNING
        for i in real
        if "DANGEROUS" in real[i].description["en"] or "navtex:wreck" in real[i].categories
    )


async def test_a_burst_posts_by_priority_and_the_digest_lists_by_it(masto: Masto, tmp_path: Path) -> None:
    """The issue's burst: routine NAVTEX and ordinary items first, the operator's SEVERE notice
    last. The notice is posted first and gets its thread and all-clear; the NAVTEX safety
    warning gets its own post before ordinary items; routine NAVTEX is last in the digest."""
    settings = bot_settings(masto.base_url, budget=3, second_language="")
    clock = Clock(T0)
    routine = [
        navtex(80 + i, f"HYDROGRAPHIC SURVEY {i} BY MV NAUTILUS. WIDE BERTH.", "survey") for i in range(3)
    ]
    buses = [
        item(f"bus-{i}", T0, source="sl", header=f"Buss {170 + i}: hållplats flyttad", modes=("bus",))
        for i in range(3)
    ]
    safety = navtex(62, "SANDHAMNSLEDEN FAIRWAY CLOSED FOR SHIPPING DURING SAILING REGATTA.", "closed")
    notice = item(
        "ferry-1", T0, source="waxholmsbolaget", header="Båt 80: inställda turer", severity="SEVERE"
    )
    notice = notice.replace(source_type="manual", modes=("ferry",), cause="OTHER_CAUSE")
    async with open_store("redis", tmp_path) as store, aiohttp.ClientSession() as session:
        bot = Bot(settings, store, Mastodon(masto.base_url, TOKEN, session, backoff_base=0.01), clock=clock)
        await bot.load()
        await store.apply(batch(routine, T0, source="sjofartsverket", complete=False))
        await store.apply(batch(buses, T0, source="sl", complete=False))
        await store.apply(batch([safety], T0, source="sjofartsverket", complete=False))
        await store.apply(batch([notice], T0, source="waxholmsbolaget", complete=False))
        assert await bot.step() == 4  # budget 3 (the notice counts too) + one digest
        clock.advance(60)
        await store.apply(batch([], clock.at, source="waxholmsbolaget", ended=[notice.id]))
        assert await bot.step() == 0  # its all-clear is held back
        clock.advance(settings.bot.all_clear_hold)
        assert await bot.step() == 1
    posts = await masto.statuses()
    texts = [p["text"] for p in posts]
    assert texts[0].startswith("Båt 80: inställda turer")
    assert texts[1].startswith("Sandhamnsleden fairway closed for shipping")
    assert texts[2].startswith("Buss 170: hållplats flyttad")
    digest = texts[3]
    assert digest.startswith("Fler störningar:\n• Buss 171: hållplats flyttad https://")
    lines = digest.split("\n")[1:]
    order = [i for i, line in enumerate(lines) if "Hydrographic survey" in line]
    assert order and min(order) > max(i for i, line in enumerate(lines) if "Buss 17" in line)
    assert f"{PUBLIC_URL}/d/sl:bus-2" in digest
    assert texts[4].startswith("Klart: störningen är över, båtarna går igen.")
    assert posts[4]["in_reply_to_id"] == posts[0]["id"]
    assert [p["in_reply_to_id"] for p in posts[:4]] == [None] * 4
