"""Atom and RSS feeds: RFC 4287 grammar (jing), feedparser round trip, escaping, links, caching."""

from __future__ import annotations

import asyncio
import html
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import feedparser
import pytest
from apputil import Running
from lxml import etree
from multidict import CIMultiDict
from storeutil import open_store
from test_web_pages import HOSTILE_DESC, HOSTILE_HEADER, fill, serve

from travelinfo import app as appmod

ATOM_RNC = Path(__file__).resolve().parent.parent.parent / "shared" / "tools" / "atom.rnc"
COMBOS = [
    "",
    "?lang=en",
    "?mode=metro",
    "?mode=road&mode=bus&severity=warning",
    "?road=E4&when=24h&lang=en",
    "?line=17&when=now",
    "?area=Odenplan",
    "?when=planned",
    "?mode=tram",  # empty feed
]
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path) as store:
        await fill(store, datetime.now(UTC))
        async with serve(store) as running:
            yield running


async def fetch(url: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, await r.read(), r.headers.copy()


@pytest.mark.skipif(shutil.which("jing") is None, reason="needs jing (apt-get install -y jing)")
async def test_atom_valid_against_rfc4287_grammar(site: Running, tmp_path: Path) -> None:
    if not ATOM_RNC.exists():
        pytest.skip(f"Atom grammar not found at {ATOM_RNC}")
    files = []
    for i, qs in enumerate(COMBOS):
        status, body, headers = await fetch(site.url + "/feeds/disruptions.atom" + qs)
        assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
        path = tmp_path / f"feed{i}.atom"
        path.write_bytes(body)
        files.append(str(path))
    proc = await asyncio.to_thread(
        subprocess.run, ["jing", "-c", str(ATOM_RNC), *files], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("qs", COMBOS)
async def test_rss_parses_back_with_the_same_entries_as_atom(site: Running, qs: str) -> None:
    _, atom_body, _ = await fetch(site.url + "/feeds/disruptions.atom" + qs)
    _, rss_body, _ = await fetch(site.url + "/feeds/disruptions.rss" + qs)
    atom = feedparser.parse(atom_body)
    rss = feedparser.parse(rss_body)
    assert not atom.bozo and not rss.bozo, (atom.get("bozo_exception"), rss.get("bozo_exception"))
    assert rss.version == "rss20" and atom.version == "atom10"
    assert [e.id for e in rss.entries] == [e.id for e in atom.entries]
    assert [e.title for e in rss.entries] == [e.title for e in atom.entries]
    lang = "en" if "lang=en" in qs else "sv"
    assert rss.feed.language == lang
    base = site.app[appmod.SETTINGS].public_url
    for e in atom.entries:
        assert e.id.startswith(base + "/d/") and e.link == e.id
        assert e.updated_parsed is not None
    # Links: RSS channel <link> is the page (alternate), atom:link rel=self is the feed itself.
    assert rss.feed.link.startswith(base + "/?") or rss.feed.link == base + "/"
    selfs = [link.href for link in rss.feed.links if link.rel == "self"]
    assert selfs and selfs[0].startswith(base + "/feeds/disruptions.rss")


async def test_entries_match_the_page_and_carry_categories(site: Running) -> None:
    _, body, _ = await fetch(site.url + "/feeds/disruptions.atom?mode=metro&lang=en")
    feed = feedparser.parse(body)
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    assert entry.title == "Metro line 17: no trains between Skanstull and Slussen"
    assert {t.term for t in entry.tags} == {"metro", "TECHNICAL_PROBLEM"}
    text = entry.content[0].value
    assert "Signal failure. Buses replace." in text and "Valid:" in text and "Gröna linjen 17" in text


async def test_hostile_text_stays_escaped_in_both_feeds(site: Running) -> None:
    for fmt in ("atom", "rss"):
        status, body, _ = await fetch(site.url + f"/feeds/disruptions.{fmt}?severity=info&road=")
        assert status == 200
        root = etree.fromstring(body)  # well-formed despite "]]>" and markup in the texts
        assert not root.xpath("//*[local-name()='script' or local-name()='img']")
        feed = feedparser.parse(body)
        hostile = [e for e in feed.entries if e.id.endswith("SE_STA_TRISSID_1_4000003")]
        assert len(hostile) == 1
        # feedparser sanitises HTML; the raw XML text node carries the exact upstream text.
        titles = [t.text for t in root.iter("title", f"{ATOM}title")]
        assert HOSTILE_HEADER in titles
        texts = [t.text or "" for t in root.iter("description", f"{ATOM}content")]
        # RSS descriptions are HTML to readers: the upstream text arrives escaped once more.
        want = HOSTILE_DESC if fmt == "atom" else html.escape(HOSTILE_DESC, quote=False)
        assert any(want in t for t in texts)
        assert b"<script>" not in body and b"<img " not in body


async def test_feed_rendered_once_and_conditional_304(site: Running) -> None:
    url = site.url + "/feeds/disruptions.atom?mode=road"
    _, _, headers = await fetch(url)
    renders = site.app[appmod.CACHE].renders
    for _ in range(3):
        await fetch(url)
    assert site.app[appmod.CACHE].renders == renders
    status, body, _ = await fetch(url, **{"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    status, _, _ = await fetch(url, **{"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304
    status, body, headers = await fetch(site.url + "/feeds/disruptions.rss?mode=boat")
    assert status == 400 and b'"parameter":"mode"' in body


def test_period_without_start_reads_until_end() -> None:
    from datetime import UTC, datetime

    from storeutil import item

    from travelinfo.feeds.routes import entry_text
    from travelinfo.model import Period

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    d = item("x", now, periods=[Period(datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))])
    text = entry_text(d, "en")
    assert "1970" not in text and "until" in text
