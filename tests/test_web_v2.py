"""Website v2 over real HTTP: the line board, the crisis banner, readable texts, plurals, ended items."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import Running, running_app
from storeutil import open_store

from travelinfo.config import Settings, SourceConfig
from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Affected, Batch, Disruption, Period, compute_status, make_id
from travelinfo.store.base import Query, Store
from travelinfo.web import text as texts

ROOT = Path(__file__).resolve().parent.parent
ALERTS = sorted((ROOT / "feeds" / "sl-alerts").glob("*.pb"))
HTML = {"Accept": "text/html", "Accept-Language": "sv"}


def settings() -> Settings:
    s = Settings()
    s.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
    s.sources = [SourceConfig("sl", "gtfsrt", "feeds/sl-alerts"), SourceConfig("vma", "cap", "feeds/cap")]
    return s


def sl_batches(at: datetime) -> list[Batch]:
    """The demo's SL alert sequence, parsed as the service parses it (names from the reference)."""
    reference = load_gtfs(ROOT / "feeds" / "sl-gtfs")
    parse = get_parser("gtfsrt")
    return [parse(p.read_bytes(), ParseContext("sl", at, reference=reference)) for p in ALERTS]


async def get(url: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(url, headers=HTML) as r:
        assert r.status == 200, (url, r.status)
        return await r.text()


def visible(page: str) -> str:
    """The text a reader sees (tags and their attributes, e.g. permalinks, removed)."""
    body = page[page.index("<body") :]
    return re.sub(r"<script.*?</script>|<[^>]+>", " ", body, flags=re.S)


def board_row(page: str, key: str) -> str:
    found = re.search(rf'<tr class="row ([^"]*)" data-key="{re.escape(key)}"[^>]*>', page)
    assert found, f"no board row {key}"
    return found.group(1)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Running, Store]]:
    async with open_store("sqlite", tmp_path) as store, running_app(store, settings()) as running:
        yield running, store


def vma(at: datetime, status: str = "active") -> Disruption:
    periods = (Period(at - timedelta(minutes=5), None if status == "active" else at),)
    return Disruption(
        id=make_id("vma", "fire-1"),
        source="vma",
        source_type="cap",
        upstream_id="fire-1",
        updated_at=at,
        first_seen=at,
        last_seen=at,
        status=status,
        modes=("road",),
        severity="SEVERE",
        header={"sv": "Brand med kraftig rök vid Värtahamnen", "en": "Fire with heavy smoke at Värtahamnen"},
        description={"sv": "Brand med kraftig rök vid Värtahamnen. Håll dörrar och fönster stängda."},
        periods=periods,
    )


async def test_board_follows_the_metro_fault_and_its_recovery(site: tuple[Running, Store]) -> None:
    running, store = site
    at = datetime.now(UTC)
    runs = sl_batches(at)
    for page in ("/board", "/"):
        await store.apply(runs[1])  # metro fault worse: line 14 red
        body = await get(running.url + page)
        assert "bad sev-" in board_row(body, "line:14")
        assert board_row(body, "line:13") == "ok"
        assert "Normal trafik" in body
        await store.apply(runs[2])  # metro back
        body = await wait_for(running.url + page, lambda b: board_row(b, "line:14") == "ok")
        assert board_row(body, "line:13") == "ok"


async def wait_for(url: str, ok: Callable[[str], bool], tries: int = 100) -> str:
    """GET `url` until `ok(body)` (the render cache is dropped on each store change)."""
    body = ""
    for _ in range(tries):
        body = await get(url)
        if ok(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition never held on {url}")


async def test_vma_banner_leads_every_page_then_says_it_is_over(site: tuple[Running, Store]) -> None:
    running, store = site
    at = datetime.now(UTC)
    await store.apply(sl_batches(at)[0])
    await store.apply(Batch(source="vma", fetched_at=at, items=(vma(at),), complete=True))
    some = next(iter((await store.query(Query()))[0]))
    pages = ["/", "/board", "/status", f"/d/{some.id}", "/?lang=en", "/board?lang=en"]
    for page in pages:
        body = await get(running.url + page)
        banner = re.search(r'<div class="banner vma" role="alert">(.*?)</div>', body, re.S)
        assert banner, page
        assert ("Fire with heavy smoke" if "lang=en" in page else "Brand med kraftig rök") in banner.group(1)
        assert banner.start() < body.index("<main")
    home = await get(running.url + "/")
    main = home[home.index("<main") :]
    assert "Brand med kraftig rök" not in main.split('id="list"')[1]  # not filed under a mode
    await store.apply(Batch(source="vma", fetched_at=at, items=(), complete=True, ended=(vma(at).id,)))
    body = await wait_for(running.url + "/board", lambda b: 'class="banner vma over"' in b)
    assert "har upphört" in body and 'class="banner vma" ' not in body


async def test_vma_banner_also_leads_history_and_the_api_docs(site: tuple[Running, Store]) -> None:
    """Every page that wears the site's header, not only the list and the board."""
    running, store = site
    at = datetime.now(UTC)
    await store.apply(sl_batches(at)[0])
    pages = ["/history", "/history?lang=en", "/api/v1/docs", "/api/v1/docs?lang=en"]
    for page in pages:
        assert 'class="banner vma' not in await get(running.url + page), page
    await store.apply(Batch(source="vma", fetched_at=at, items=(vma(at),), complete=True))
    for page in pages:
        body = await wait_for(running.url + page, lambda b: '<div class="banner vma" role="alert">' in b)
        banner = re.search(r'<div class="banner vma" role="alert">(.*?)</div>', body, re.S)
        assert banner and banner.start() < body.index("<main"), page
        assert ("Fire with heavy smoke" if "lang=en" in page else "Brand med kraftig rök") in banner.group(1)
    await store.apply(Batch(source="vma", fetched_at=at, items=(), complete=True, ended=(vma(at).id,)))
    for page in pages:
        body = await wait_for(running.url + page, lambda b: 'class="banner vma over"' in b)
        assert 'class="banner vma" ' not in body, page


async def test_texts_are_readable_on_the_demo_items(site: tuple[Running, Store]) -> None:
    running, store = site
    at = datetime.now(UTC)
    await store.apply(sl_batches(at)[0])
    items, _ = await store.query(Query())
    assert items
    pages = [await get(running.url + "/")] + [await get(running.url + f"/d/{d.id}") for d in items]
    for d in items:
        for lang in ("sv", "en"):
            desc = texts.description(d, lang)
            head = texts.header(d, lang)[1]
            assert desc is None or not desc[1].casefold().startswith(head.casefold())
        names = texts.affected_names(d)
        assert len(names) == len({n.casefold() for n in names})
    for body in pages:
        shown = visible(body)
        assert "feeds/" not in shown
        assert not re.search(r"\b9\d{15}\b|\b1401\d{10,}\b", shown), "a GTFS id is shown"
        slug = re.search(r"(?<![\w./])sl(?![\w.])", shown)
        assert not slug, shown[slug.start() - 200 : slug.end() + 50]


def item(
    upstream: str, header: dict[str, str], at: datetime, *, status: str = "active", **kw: object
) -> Disruption:
    periods = (Period(at - timedelta(hours=1), at - timedelta(minutes=5) if status == "ended" else None),)
    return Disruption(
        id=make_id("trafikverket", upstream),
        source="trafikverket",
        source_type="datex2",
        upstream_id=upstream,
        updated_at=at,
        first_seen=at,
        last_seen=at,
        status=status if status == "ended" else compute_status(periods, at),
        modes=("road",),
        header=header,
        periods=periods,
        **kw,  # type: ignore[arg-type]
    )


def test_header_not_repeated_names_merged_capitals_tamed() -> None:
    at = datetime.now(UTC)
    d = item(
        "1",
        {"sv": "Olycka på E4 norrgående"},
        at,
        description={"sv": "Olycka på E4 norrgående: två körfält avstängda."},
        affected=(
            Affected("road", "E4", "Uppsalavägen (E4)"),
            Affected("road", "E20", "Uppsalavägen (E20)"),
            Affected("road", "ess", "Essingeleden"),
            Affected("road", "ess2", "Essingeleden"),
            Affected("route", "9011001001400000"),
            Affected("trip", "14010000555"),
        ),
    )
    assert texts.description(d, "sv") == ("sv", "två körfält avstängda.")
    assert texts.affected_names(d) == ["Uppsalavägen (E4, E20)", "Essingeleden"]
    shout = item("2", {"en": "NAVIGATIONAL WARNING 123/26. BUOY UNLIT"}, at)
    assert texts.header(shout, "en") == ("en", "Navigational warning 123/26. Buoy unlit")
    assert shout.header["en"].isupper()  # the API keeps the original
    # The header as the subject of a sentence is not a repetition.
    subject = item(
        "4", {"sv": "Vaxholmsleden"}, at, description={"sv": "Vaxholmsleden trafikeras med en färja."}
    )
    assert texts.description(subject, "sv") == ("sv", "Vaxholmsleden trafikeras med en färja.")
    # A description that only repeats the header leaves nothing to show.
    assert texts.description(item("3", {"sv": "Kö"}, at, description={"sv": "KÖ."}), "sv") is None


@pytest.mark.parametrize(
    ("n", "sv", "en"),
    [
        (0, "0 störningar", "0 disruptions"),
        (1, "1 störning", "1 disruption"),
        (2, "2 störningar", "2 disruptions"),
        (21, "21 störningar", "21 disruptions"),
    ],
)
def test_counts_use_babel_plural_rules(n: int, sv: str, en: str) -> None:
    assert texts.tn("count", n, "sv") == sv and texts.tn("count", n, "en") == en
    assert texts.tn("live_new", 1, "sv") == "1 ny eller ändrad störning"


async def test_ended_items_are_grey_and_never_until_further_notice(site: tuple[Running, Store]) -> None:
    running, store = site
    at = datetime.now(UTC)
    ended = item("9", {"sv": "Olycka på E18 vid Täby"}, at, status="ended", severity="SEVERE")
    await store.apply(Batch(source="trafikverket", fetched_at=at, items=(ended,), complete=False))
    home = await get(running.url + "/")
    cleared = home[home.index('id="g-cleared"') :]
    assert "Olycka på E18 vid Täby" in cleared and "Avslutad" in cleared
    assert '<li class="item ended"' in cleared
    page = await get(running.url + f"/d/{ended.id}")
    assert "tills vidare" not in page and "Allvarlig" not in page and "Avslutad" in page
    assert 'class="detail ended"' in page
