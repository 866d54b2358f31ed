"""Feeds as clean as the pages: self links echo the request, published <= updated, unique updated."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import Running
from lxml import etree
from storeutil import open_store
from test_web_pages import fill, serve

from travelinfo.model import Batch, Disruption, Period
from travelinfo.runtime.appkeys import SETTINGS

ATOM_RNC = Path(__file__).resolve().parent.parent.parent / "shared" / "tools" / "atom.rnc"
ATOM = "{http://www.w3.org/2005/Atom}"
# Ten variants a feed reader sends, including the two the W3C validator flagged (no `lang`;
# `mode=rail,metro`) and parameters in an unusual order or case.
VARIANTS = [
    "",
    "?mode=rail,metro",
    "?lang=en",
    "?severity=SEVERE&lang=sv",
    "?lang=sv&mode=metro",
    "?mode=road&mode=bus&severity=warning",
    "?road=E4&when=24h&lang=en",
    "?line=17&when=now",
    "?area=Odenplan",
    "?when=planned",
]


def twins(at: datetime) -> list[Disruption]:
    """Three items of one upstream publication (one shared upstream time), first seen later."""
    seen = at + timedelta(minutes=30)
    return [
        Disruption(
            id=f"trafikverket:TWIN-{n}",
            source="trafikverket",
            source_type="datex2",
            upstream_id=f"TWIN-{n}",
            updated_at=at,
            first_seen=seen,
            last_seen=seen,
            status="active",
            modes=("road",),
            header={"sv": f"Vägarbete {n} på E18"},
            periods=(Period(at - timedelta(hours=1)),),
        )
        for n in range(3)
    ]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path) as store:
        now = datetime.now(UTC)
        await fill(store, now)
        await store.apply(
            Batch(
                source="trafikverket-twins",
                fetched_at=now,
                items=tuple(twins(now - timedelta(hours=2))),
                complete=False,
            )
        )
        async with serve(store) as running:
            yield running


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        assert r.status == 200, url
        return await r.read()


def times(entry: etree._Element, fmt: str) -> tuple[str, str]:
    if fmt == "atom":
        return entry.findtext(f"{ATOM}published") or "", entry.findtext(f"{ATOM}updated") or ""
    return entry.findtext("pubDate") or "", ""


def check_rss_dates(doc: etree._Element, qs: str) -> None:
    """RSS 2.0: RFC 822 dates with a zone, no item newer than the channel, one guid per item."""
    items = doc.findall("channel/item")
    assert items, qs
    built = parsedate_to_datetime(doc.findtext("channel/lastBuildDate") or "")
    assert built.tzinfo is not None, qs
    for item in items:
        published = parsedate_to_datetime(item.findtext("pubDate") or "")
        assert published.tzinfo is not None and published <= built, (qs, published, built)
    guids = [item.findtext("guid") for item in items]
    assert len(guids) == len(set(guids)), qs


@pytest.mark.parametrize("fmt", ["atom", "rss"])
async def test_self_link_echoes_the_request_and_dates_are_ordered(site: Running, fmt: str) -> None:
    base = site.app[SETTINGS]
    for qs in VARIANTS:
        path = f"/feeds/disruptions.{fmt}{qs}"
        doc = etree.fromstring(await fetch(site.url + path))
        links = doc.iter(f"{ATOM}link")
        selfs = [link.get("href") for link in links if link.get("rel") == "self"]
        assert selfs == [base.public_url + path], (qs, selfs)
        if fmt != "atom":
            check_rss_dates(doc, qs)
            continue
        entries = doc.findall(f"{ATOM}entry")
        assert entries, qs
        updated = [e.findtext(f"{ATOM}updated") for e in entries]
        assert len(updated) == len(set(updated)), f"two entries share atom:updated in {qs}"
        for e in entries:
            published, upd = times(e, fmt)
            assert datetime.fromisoformat(published) <= datetime.fromisoformat(upd), (qs, published, upd)
        feed_updated = datetime.fromisoformat(doc.findtext(f"{ATOM}updated") or "")
        assert all(datetime.fromisoformat(u or "") <= feed_updated for u in updated)


@pytest.mark.skipif(shutil.which("jing") is None, reason="needs jing (apt-get install -y jing)")
async def test_ten_variants_valid_against_rfc4287_grammar(site: Running, tmp_path: Path) -> None:
    if not ATOM_RNC.exists():
        pytest.skip(f"Atom grammar not found at {ATOM_RNC}")
    files = []
    for i, qs in enumerate(VARIANTS):
        path = tmp_path / f"v{i}.atom"
        path.write_bytes(await fetch(site.url + "/feeds/disruptions.atom" + qs))
        files.append(str(path))
        rss = etree.fromstring(await fetch(site.url + "/feeds/disruptions.rss" + qs))
        assert rss.tag == "rss" and rss.get("version") == "2.0"
        for item in rss.iter("item"):
            assert item.findtext("title") and item.findtext("guid") and item.findtext("pubDate")
    proc = await asyncio.to_thread(
        subprocess.run, ["jing", "-c", str(ATOM_RNC), *files], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
