"""CAP 1.2 out: every alert valid against CAP-v1.2.xsd, the Atom index against RFC 4287 (jing)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from lxml import etree
from multidict import CIMultiDict
from standardsutil import AT, CAP_XSD, all_files, assert_valid, demo_files, jing
from storeutil import open_store
from test_web_pages import HOSTILE_DESC, HOSTILE_HEADER, serve

from travelinfo import app as appmod
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.cap import parse
from travelinfo.model import Batch
from travelinfo.standards import cap as cap_out
from travelinfo.standards.routes import CAP_INDEX_PATH

C = "{urn:oasis:names:tc:emergency:cap:1.2}"
A = "{http://www.w3.org/2005/Atom}"
SENDER = "travelinfo@example.org"
ALERT_FILES = [(n, items) for n, items in all_files() if any(cap_out.is_alert(d) for d in items)]


@pytest.mark.parametrize("name,items", ALERT_FILES, ids=[n for n, _ in ALERT_FILES])
def test_every_alert_validates(name: str, items: tuple) -> None:
    for d in (d for d in items if cap_out.is_alert(d)):
        doc = assert_valid(CAP_XSD, cap_out.render_alert(d, SENDER), f"{name} {d.id}")
        langs = [i.findtext(f"{C}language") for i in doc.iter(f"{C}info")]
        assert set(langs) == set(d.header) | set(d.description)
        assert len(doc.findall(f"{C}info")) == len(langs) == len(set(langs)) * max(1, len(d.periods))


def test_every_index_is_atom(tmp_path: Path) -> None:
    files = []
    for i, (_name, items) in enumerate(ALERT_FILES):
        alerts = [d for d in items if cap_out.is_alert(d)]
        index = tmp_path / f"index{i}.atom"
        index.write_bytes(cap_out.render_index(alerts, "https://example.org", AT))
        entries = etree.parse(str(index)).getroot().findall(f"{A}entry")
        assert len(entries) == len(alerts)
        for entry in entries:
            (link,) = entry.findall(f"{A}link")
            assert link.get("type") == "application/cap+xml" and "/cap/" in link.get("href", "")
        files.append(index)
    jing(files)  # one JVM for all of them


def test_only_cap_items_are_alerts() -> None:
    kinds = {d.source_type for _, items in all_files() for d in items if cap_out.is_alert(d)}
    assert kinds == {"cap"}


def test_the_demo_story_alert_update_cancel() -> None:
    story = [items for name, items in demo_files() if name.startswith("feeds/cap/")]
    kinds = []
    for (d,) in story:
        doc = etree.fromstring(cap_out.render_alert(d, SENDER))
        kinds.append(doc.findtext(f"{C}msgType"))
        refs = doc.findtext(f"{C}references")
        if kinds[-1] == "Alert":
            assert refs is None and doc.findtext(f"{C}identifier") == d.upstream_id
        else:  # later versions name the first one, so every reader files them together
            assert refs is not None and refs.split(",")[1] == d.upstream_id
            assert doc.findtext(f"{C}identifier") != d.upstream_id
        (back,) = parse(cap_out.render_alert(d, SENDER), ParseContext("rt", AT)).items
        assert back.upstream_id == d.upstream_id and back.status == d.status
    assert kinds == ["Alert", "Update", "Cancel"]


def test_hostile_text_and_identifiers() -> None:
    ((d,),) = [items for name, items in demo_files() if name.endswith("001-vma-alert.xml")]
    d = d.replace(
        upstream_id="SE SOS,1<&>",
        header={"sv": HOSTILE_HEADER + "\x0c", "en": "ok", "en_GB": "colour", "<>": "?"},
        description={"sv": HOSTILE_DESC},
    )
    body = cap_out.render_alert(d, "sender with space,comma")
    doc = assert_valid(CAP_XSD, body, "hostile")
    assert (
        doc.findtext(f"{C}identifier") == "SE_SOS_1__>"
        and doc.findtext(f"{C}sender") == "sender_with_space_comma"
    )
    (back,) = parse(body, ParseContext("rt", AT)).items
    assert back.header["sv"] == HOSTILE_HEADER and back.description["sv"] == HOSTILE_DESC
    assert back.header["en"] == "ok" and back.header["en-GB"] == "colour" and back.header["und"] == "?"


async def _get(url: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, await r.read(), CIMultiDict(r.headers)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_endpoints_follow_the_story(kind: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    story = [items for name, items in demo_files() if name.startswith("feeds/cap/")]
    async with open_store(kind, tmp_path) as store:
        first = story[0][0].replace(
            periods=(), first_seen=now, last_seen=now, updated_at=now, status="active"
        )
        await store.apply(Batch("cap", now, (first,), complete=False))
        async with serve(store) as site:
            url = f"{site.url}/cap/{quote(first.id, safe=':')}.xml"
            status, body, headers = await _get(url)
            assert status == 200 and headers["Content-Type"].startswith("application/cap+xml")
            doc = assert_valid(CAP_XSD, body, "alert")
            assert doc.findtext(f"{C}msgType") == "Alert"
            status, _, _ = await _get(url, **{"If-None-Match": headers["ETag"]})
            assert status == 304
            status, index, _ = await _get(site.url + CAP_INDEX_PATH)
            assert status == 200
            (entry,) = etree.fromstring(index).findall(f"{A}entry")
            assert (
                entry.find(f"{A}link").get("href")
                == site.app[appmod.SETTINGS].public_url + url[len(site.url) :]
            )
            index_file = tmp_path / "index.atom"
            index_file.write_bytes(index)
            jing([index_file])
            status, _, _ = await _get(site.url + CAP_INDEX_PATH + "?mode=shipping")
            assert status == 200
            status, body, _ = await _get(site.url + "/cap/nope:1.xml")
            assert status == 404 and b"error" in body
            status, body, _ = await _get(site.url + "/cap/trafikverket:1.xml")
            assert status == 404
            status, body, _ = await _get(site.url + CAP_INDEX_PATH + "?lang=fi")
            assert status == 400 and b'"parameter":"lang"' in body
            later = now + timedelta(seconds=5)
            ended = first.replace(status="ended", updated_at=later, last_seen=later)
            await store.apply(Batch("cap", later, (ended,), complete=False))
            for _ in range(100):  # the app's cache follows the store's change log
                status, body, _ = await _get(url)
                if etree.fromstring(body).findtext(f"{C}msgType") == "Cancel":
                    break
                await asyncio.sleep(0.05)
            doc = assert_valid(CAP_XSD, body, "cancel")
            assert doc.findtext(f"{C}msgType") == "Cancel"
            assert doc.findtext(f"{C}references").split(",")[1] == first.upstream_id
            status, index, _ = await _get(site.url + CAP_INDEX_PATH)
            assert etree.fromstring(index).findall(f"{A}entry") == []  # ended: out of the index
