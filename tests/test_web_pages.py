"""Commuters' pages over real HTTP: filters, languages, 404/400, caching, headers, banners, vnu."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import Running, running_app
from checkutil import needs_vnu, nu_check
from storeutil import open_store

from travelinfo import app as appmod
from travelinfo.config import Settings, SourceConfig
from travelinfo.model import Affected, Batch, Disruption, Period, Provenance, compute_status, make_id
from travelinfo.store.base import SourceHealth, Store, put_health
from travelinfo.web import render as web_render

HOSTILE_HEADER = '<script>window.pwned=1</script> Stopp ]]> <img src=x onerror="window.pwned=2">'
HOSTILE_DESC = 'Läs mer: javascript:window.pwned=3 ]]> <a href="javascript:window.pwned=4">x</a>'


def disruption(
    source: str,
    upstream: str,
    at: datetime,
    header: dict[str, str],
    *,
    modes: tuple[str, ...] = ("road",),
    severity: str = "WARNING",
    start: datetime | None = None,
    end: datetime | None = None,
    description: dict[str, str] | None = None,
    location: dict[str, str] | None = None,
    affected: tuple[Affected, ...] = (),
    geometry: dict[str, object] | None = None,
    url: str | None = None,
    cause: str = "OTHER_CAUSE",
) -> Disruption:
    periods = (Period(start or at - timedelta(hours=1), end),)
    return Disruption(
        id=make_id(source, upstream),
        source=source,
        source_type="datex2" if "road" in modes else "gtfsrt",
        upstream_id=upstream,
        updated_at=at,
        first_seen=at,
        last_seen=at,
        status=compute_status(periods, at),
        modes=modes,
        header=header,
        severity=severity,
        cause=cause,
        periods=periods,
        description=description or {},
        location_text=location or {},
        affected=affected,
        geometry=geometry,
        url=url,
        provenance=Provenance(at, "https://example.invalid/feed"),
    )


def sample(now: datetime) -> dict[str, list[Disruption]]:
    """A small Stockholm morning: road, metro, bus, ferry; one planned; one hostile text."""
    road = [
        disruption(
            "trafikverket",
            "SE_STA_TRISSID_1_4000001",
            now - timedelta(minutes=5),
            {"sv": "Olycka på E4 norrgående vid Hallunda", "en": "Accident on E4 northbound at Hallunda"},
            severity="SEVERE",
            cause="ACCIDENT",
            description={"sv": "Två körfält avstängda.\nKö ca 3 km.\n\nRäddningstjänst på plats."},
            location={"sv": "E4 norrgående, Hallunda–Fittja"},
            affected=(Affected("road", "E4"),),
            geometry={"type": "LineString", "coordinates": [[17.8254, 59.2437], [17.8602, 59.2571]]},
            url="https://www.trafikverket.se/trafikinformation/",
        ),
        disruption(
            "trafikverket",
            "SE_STA_TRISSID_1_4000002",
            now - timedelta(minutes=30),
            {"sv": "Vägarbete på Essingeleden"},
            cause="MAINTENANCE",
            start=now + timedelta(hours=6),
            end=now + timedelta(hours=10),
            location={"sv": "E4/E20 Essingeleden, Stora Essingen"},
            affected=(Affected("road", "E4"), Affected("road", "E20")),
            geometry={"type": "Point", "coordinates": [17.9969, 59.3247]},
        ),
        disruption(
            "trafikverket",
            "SE_STA_TRISSID_1_4000003",
            now - timedelta(minutes=50),
            {"sv": HOSTILE_HEADER},
            severity="INFO",
            description={"sv": HOSTILE_DESC},
            url="javascript:window.pwned=5",
        ),
    ]
    pt = [
        disruption(
            "sl-alerts",
            "metro-17",
            now - timedelta(minutes=2),
            {"en": "Metro line 17: no trains between Skanstull and Slussen"},
            modes=("metro",),
            severity="SEVERE",
            cause="TECHNICAL_PROBLEM",
            description={"sv": "Signalfel. Ersättningsbussar går.", "en": "Signal failure. Buses replace."},
            affected=(Affected("route", "17", "Gröna linjen 17"), Affected("stop", "9192", "Slussen")),
        ),
        disruption(
            "sl-alerts",
            "bus-4",
            now - timedelta(minutes=20),
            {"sv": "Buss 4 omleds vid Odenplan", "en": "Bus 4 diverted at Odenplan"},
            modes=("bus",),
            affected=(Affected("route", "4", "4"),),
            location={"sv": "Odenplan"},
        ),
        disruption(
            "sl-alerts",
            "ferry-80",
            now - timedelta(hours=2),
            {"sv": "Pendelbåt 80: inställda turer"},
            modes=("ferry",),
            severity="INFO",
            start=now + timedelta(days=3),
            end=now + timedelta(days=3, hours=4),
        ),
    ]
    return {"trafikverket": road, "sl-alerts": pt}


def settings() -> Settings:
    s = Settings()
    s.sources = [
        SourceConfig("trafikverket", "datex2", "feeds/trafikverket", stale_after=180),
        SourceConfig("sl-alerts", "gtfsrt", "feeds/sl-alerts", stale_after=180),
    ]
    return s


async def fill(store: Store, now: datetime) -> None:
    for source, items in sample(now).items():
        await store.apply(Batch(source=source, fetched_at=now, items=tuple(items), complete=True))
        await put_health(store, SourceHealth(source, "ok", now, now, item_count=len(items), stale_after=180))


@asynccontextmanager
async def serve(store: Store, s: Settings | None = None) -> AsyncIterator[Running]:
    """The whole app (web role: pages, feeds, API, SSE) on a loopback port."""
    async with running_app(store, s or settings()) as running:
        yield running


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path) as store:
        await fill(store, datetime.now(UTC))
        async with serve(store) as running:
            yield running


BROWSER = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "sv-SE,sv;q=0.9,en;q=0.5"}


async def get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url, headers={**BROWSER, **headers}) as r:
        return r.status, await r.text(), dict(r.headers)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_front_page_groups_by_mode_most_severe_first(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store:
        await fill(store, datetime.now(UTC))
        async with serve(store) as site:
            status, html, headers = await get(site.url + "/")
    assert status == 200
    assert '<html lang="sv">' in html
    # Planned items (the ferry, in 3 days) have their own section after the modes (issue 14).
    order = [html.index(f'id="g-{m}"') for m in ("road", "metro", "bus", "planned")]
    assert order == sorted(order)
    listed = html[html.index('id="list"') :]  # the line board above the list names roads too
    assert listed.index("Hallunda") < listed.index("Essingeleden")  # severe before warning
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and "Referrer-Policy" in headers
    # English-only upstream text on a Swedish page is marked with its language.
    assert '<span lang="en">Metro line 17: no trains between Skanstull and Slussen</span>' in html
    assert 'type="application/atom+xml"' in html and 'href="/feeds/disruptions.atom?lang=sv"' in html


async def test_filters_as_plain_links(site: Running) -> None:
    _, html, _ = await get(site.url + "/?mode=metro&lang=en")
    assert "Metro line 17" in html and "Hallunda" not in html and '<html lang="en">' in html
    assert 'href="/feeds/disruptions.atom?mode=metro&amp;lang=en"' in html
    _, html, _ = await get(site.url + "/?road=e4")
    assert "Hallunda" in html and "Essingeleden" in html and "Odenplan" not in html
    _, html, _ = await get(site.url + "/?line=17")
    assert "Skanstull" in html and "Odenplan" not in html
    _, html, _ = await get(site.url + "/?area=Odenplan")
    assert "Buss 4" in html and "Hallunda" not in html
    _, html, _ = await get(site.url + "/?severity=severe")
    assert "Hallunda" in html and "Skanstull" in html and "Odenplan" not in html
    _, html, _ = await get(site.url + "/?when=now")
    assert "Hallunda" in html and "Essingeleden" not in html and "Pendelbåt" not in html
    _, html, _ = await get(site.url + "/?when=24h")
    assert "Essingeleden" in html and "Pendelbåt" not in html
    _, html, _ = await get(site.url + "/?when=planned")
    assert "Essingeleden" in html and "Pendelbåt" in html and "Hallunda" not in html


async def test_language_from_accept_language_and_dates_in_stockholm_time(site: Running) -> None:
    _, html, headers = await get(
        site.url + "/d/trafikverket:SE_STA_TRISSID_1_4000001", **{"Accept-Language": "en"}
    )
    assert '<html lang="en">' in html and "Accident on E4 northbound" in html
    assert "Accept-Language" in headers["Vary"]
    assert "minutes ago" in html and "Accident" in html
    # Swedish description shown on the English page, marked as Swedish.
    assert '<div class="text" lang="sv">' in html
    _, html, _ = await get(site.url + "/d/trafikverket:SE_STA_TRISSID_1_4000001")
    assert "minuter sedan" in html and "Olycka på E4" in html
    assert "openstreetmap.org/?mlat=59.25040&amp;mlon=17.84280" in html
    assert "<polyline" in html and "Två körfält avstängda.<br>Kö ca 3 km." in html


async def test_unknown_id_404_html_and_bad_filter_400(site: Running) -> None:
    status, html, headers = await get(site.url + "/d/nope:1")
    assert status == 404 and "<!DOCTYPE html>" in html and "Sidan finns inte" in html
    assert "Content-Security-Policy" in headers
    status, html, _ = await get(site.url + "/?severity=apocalyptic")
    assert status == 400 and "severity" in html and "<!DOCTYPE html>" in html
    async with aiohttp.ClientSession() as s, s.get(site.url + "/?when=yesterday") as r:
        assert r.status == 400 and (await r.json())["parameter"] == "when"
    async with aiohttp.ClientSession() as s, s.get(site.url + "/?lang=de") as r:
        assert r.status == 400 and (await r.json())["parameter"] == "lang"


async def test_rendered_once_per_change_and_304(site: Running) -> None:
    cache = site.app[appmod.CACHE]
    await get(site.url + "/?mode=bus")
    renders = cache.renders
    async with aiohttp.ClientSession() as s:
        for _ in range(5):
            async with s.get(site.url + "/?mode=bus", headers=BROWSER) as r:
                etag = r.headers["ETag"]
                assert r.headers.get("Content-Encoding") == "gzip"
        assert cache.renders == renders
        async with s.get(site.url + "/?mode=bus", headers={**BROWSER, "If-None-Match": etag}) as r:
            assert r.status == 304


async def test_banner_when_a_source_fails_and_status_page(site: Running) -> None:
    store = site.app[appmod.STORE]
    now = datetime.now(UTC)
    await put_health(
        store,
        SourceHealth("sl-alerts", "failing", now - timedelta(minutes=12), now, "HTTP 503 from upstream", 6),
    )
    site.app[appmod.CACHE].invalidate()
    site.app[web_render.HEALTH_CACHE].clear()
    _, html, _ = await get(site.url + "/?mode=metro")
    assert 'class="banner"' in html and "sl-alerts" in html
    _, html, _ = await get(site.url + "/?mode=road")
    assert 'class="banner"' not in html  # the road page does not depend on the SL feed
    _, html, _ = await get(site.url + "/?mode=unknown")
    assert 'class="banner"' in html  # public transport of no known mode: the SL feed's too
    _, html, _ = await get(site.url + "/status")
    assert "Fungerar inte" in html and "HTTP 503 from upstream" in html and "för 12 minuter sedan" in html


async def test_fragment_is_just_the_list(site: Running) -> None:
    status, html, headers = await get(site.url + "/?mode=bus&fragment=1")
    assert status == 200 and html.startswith('<div id="list"') and "<html" not in html
    assert "Odenplan" in html and headers["Cache-Control"] == "no-cache"


async def test_hostile_text_is_escaped(site: Running) -> None:
    _, html, _ = await get(site.url + "/d/trafikverket:SE_STA_TRISSID_1_4000003")
    assert "<script>window.pwned" not in html and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "<img src=x" not in html and 'href="javascript:' not in html
    # A non-http(s) url is never linked, nor shown (issue 14: it was an internal path like feeds/navtex).
    assert "javascript:window.pwned=5" not in html


@needs_vnu
async def test_nu_html_checker_reports_no_errors(site: Running, tmp_path: Path) -> None:
    paths = {
        "index-sv": "/",
        "index-en-filtered": "/?lang=en&mode=road&severity=warning&when=24h",
        "detail": "/d/trafikverket:SE_STA_TRISSID_1_4000001",
        "hostile": "/d/trafikverket:SE_STA_TRISSID_1_4000003?lang=en",
        "status": "/status",
        "fragment": "/?fragment=1",
        "error404": "/d/nope:1",
        "error400": "/?mode=plane",
    }
    pages = {}
    for name, path in paths.items():
        _, html, _ = await get(site.url + path)
        if name == "fragment":  # a fragment is checked inside a minimal document
            html = f'<!DOCTYPE html><html lang="sv"><head><title>f</title></head><body>{html}</body></html>'
        pages[name] = html
    await nu_check(pages, tmp_path)
