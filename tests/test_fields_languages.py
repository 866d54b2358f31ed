"""Issue 19: CAP region subtags kept through to the outputs (sv-SE, en-GB, en-US next to en-GB),
while pages, feeds, the API's `lang` and the bot choose by the primary subtag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from apputil import running_app
from storeutil import open_store

from travelinfo.bot.text import compose
from travelinfo.config import Settings
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Batch, Disruption
from travelinfo.standards import cap as cap_out
from travelinfo.vocab import pick_lang

ROOT = Path(__file__).resolve().parent.parent
ALERT = ROOT / "feeds" / "cap" / "001-vma-alert.xml"
SV = "Viktigt meddelande till allmänheten: brand med kraftig rök i Värtahamnen"
EN = "Important public announcement: fire with heavy smoke at Värtahamnen"


def alert() -> Disruption:
    at = datetime.now(UTC).replace(microsecond=0)
    (d,) = get_parser("cap")(ALERT.read_bytes(), ParseContext("vma", at)).items
    # Keep it current whatever day the suite runs: the demo's own times are from 2026-11-25.
    return d.replace(periods=(d.periods[0].__class__(at - timedelta(minutes=5), None),), status="active")


def test_keys_keep_the_region_and_readers_match_the_primary_subtag() -> None:
    d = alert()
    assert dict(d.header) == {"en-GB": EN, "sv-SE": SV}
    assert d.text(d.header, "sv") == ("sv-SE", SV) and d.text(d.header, "en") == ("en-GB", EN)
    assert d.text(d.header, "de") == ("sv-SE", SV)  # neither: Swedish first
    # en-US and en-GB both kept; `en-US` finds itself, `en` the first English one.
    both = {"en-GB": "colour", "en-US": "color", "sv": "färg"}
    assert pick_lang(both, ["en-US"]) == ("en-US", "color")
    assert pick_lang(both, ["en"]) == ("en-GB", "colour")
    assert pick_lang(both, ["sv-SE"]) == ("sv", "färg")
    assert pick_lang({}, ["sv"]) is None


def test_cap_out_and_the_bot_use_the_full_tag_and_the_reader_language() -> None:
    d = alert()
    body = cap_out.render_alert(d, "travelinfo@example.org")
    assert b"<language>sv-SE</language>" in body and b"<language>en-GB</language>" in body
    now = datetime.now(UTC)
    sv = compose(d, "new", "sv", "https://example.org", now)
    en = compose(d, "new", "en", "https://example.org", now, strict=True)
    assert sv is not None and en is not None
    assert sv.language == "sv" and en.language == "en"  # the post's language, not the key
    assert "Värtahamnen" in sv.text and en.text.startswith(EN.rstrip(".")[:30])


async def test_pages_feeds_and_the_api_choose_by_primary_subtag(tmp_path: Path) -> None:
    d = alert()
    async with open_store("sqlite", tmp_path) as store, running_app(store, Settings()) as running:
        await store.apply(Batch("vma", d.updated_at, (d,), complete=False))
        async with aiohttp.ClientSession() as s:
            pages = {}
            for lang in ("sv", "en"):
                async with s.get(f"{running.url}/d/{d.id}?lang={lang}") as r:
                    assert r.status == 200
                    pages[lang] = await r.text()
            async with s.get(f"{running.url}/feeds/disruptions.atom?lang=en") as r:
                feed = await r.text()
            async with s.get(f"{running.url}/api/v1/disruptions/{d.id}?lang=en") as r:
                one = await r.json()
            async with s.get(f"{running.url}/api/v1/disruptions/{d.id}") as r:
                whole = await r.json()
    # The reader's language is found under its regional key, and not marked as foreign text.
    assert f"<h1>{SV}</h1>" in pages["sv"] and f"<h1>{EN}</h1>" in pages["en"]
    assert EN in feed
    assert one["header"] == {"en-GB": EN}  # ?lang=en keeps the en-GB text
    assert whole["header"] == {"en-GB": EN, "sv-SE": SV}  # the API keeps the full tags
