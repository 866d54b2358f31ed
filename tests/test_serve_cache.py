"""The cached-bytes path of pages and feeds: bounded under hostile query strings, fresh after a
store change, the same headers and counters as before it was made lean."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from apputil import Running, start_app
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from test_web_pages import disruption
from waiting import wait_until

from travelinfo import app as appmod
from travelinfo.config import Settings
from travelinfo.model import Affected, Batch
from travelinfo.runtime import metrics
from travelinfo.runtime.server import RenderCache, Rendered
from travelinfo.web.routes import VARIANTS

MAX = 40


async def _site(tmp_path: Path) -> Running:
    s = Settings()
    s.store.url = f"sqlite:///{tmp_path / 'serve.db'}"

    def small(app: web.Application) -> None:
        app[appmod.CACHE].max_items = MAX
        app[VARIANTS].max_items = MAX

    return await start_app(s, configure=small)


async def test_hostile_query_strings_keep_the_caches_bounded(tmp_path: Path) -> None:
    """Hundreds of distinct query strings: each renders, none grows memory past the bounds; the
    newest variants are still served from the cache, the oldest were dropped (LRU)."""
    run = await _site(tmp_path)
    cache, variants = run.app[appmod.CACHE], run.app[VARIANTS]
    try:
        async with aiohttp.ClientSession() as c:
            for i in range(120):
                for path in (f"/?search=x{i}", f"/feeds/disruptions.atom?search=x{i}", f"/board?junk={i}"):
                    async with c.get(run.url + path) as r:
                        assert r.status == 200, (path, await r.text())
                async with c.get(f"{run.url}/?severity=bad{i}") as r:  # refused, never kept
                    assert r.status == 400 and (await r.json())["parameter"] == "severity"
            assert len(cache) <= MAX and len(variants) <= MAX and cache.size <= cache.budget
            renders = cache.renders
            async with c.get(run.url + "/?search=x119") as r:
                assert r.status == 200 and "x119" in await r.text()
            assert cache.renders == renders, "the newest variant is a cache hit"
            async with c.get(run.url + "/?search=x0") as r:
                assert r.status == 200 and "x0" in await r.text()
            assert cache.renders == renders + 1, "the oldest variant was dropped and renders again"
            async with c.get(run.url + "/board?junk=5") as r:  # junk is ignored: one board rendering
                assert r.status == 200
            assert cache.renders == renders + 1
    finally:
        await run.stop()


async def test_a_store_change_is_on_the_next_request(tmp_path: Path) -> None:
    """A cached `/`, `/board` and Atom feed show a new item as soon as the hub saw the change,
    each rendered once for it however many requests follow; "my lines" stay their own variant."""
    run = await _site(tmp_path)
    cache, store = run.app[appmod.CACHE], run.app[appmod.STORE]
    now = datetime.now(UTC)
    header = {"sv": "Olycka på E18 vid Rinkeby", "en": "Accident on E18 at Rinkeby"}
    item = disruption(
        "trafikverket", "E18-1", now - timedelta(minutes=1), header, affected=(Affected("road", "E18"),)
    )
    paths = ("/?lang=en", "/board?lang=en", "/feeds/disruptions.atom?lang=en")
    try:
        async with aiohttp.ClientSession() as c:

            async def bodies(cookie: str = "") -> list[str]:
                out = []
                for path in paths:
                    async with c.get(run.url + path, headers={"Cookie": cookie} if cookie else {}) as r:
                        assert r.status == 200
                        out.append(await r.text())
                return out

            before = await bodies()
            assert not any("Accident on E18" in b for b in before)
            generation = cache.generation
            await store.apply(Batch(source="trafikverket", fetched_at=now, items=(item,), complete=True))
            await wait_until(lambda: cache.generation > generation, what="the hub to see the change")
            renders = cache.renders
            after = await bodies()
            assert all("Accident on E18" in b for b in after), "every cached output shows the new item"
            assert after[1] != before[1], "the board row of E18 changed"
            assert await bodies() == after and cache.renders == renders + len(paths), "once per change"
            starred = await bodies("mylines=road%3AE18")
            assert cache.renders == renders + len(paths) + 2, "the cookie is a variant of `/` and `/board`"
            assert starred[0] != after[0] and "Accident on E18" in starred[0]
            assert starred[1] != after[1], "the starred E18 leads the board"
            assert starred[2] == after[2], "the feed does not depend on the cookie"
    finally:
        await run.stop()


async def test_cached_answers_keep_validators_and_headers(tmp_path: Path) -> None:
    """Headers built once per rendering are still the whole set: validators, Vary, CSP,
    security headers, gzip negotiation and 304 (If-None-Match and If-Modified-Since)."""
    run = await _site(tmp_path)
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as c:
            for path, vary in (("/", "Cookie"), ("/feeds/disruptions.atom", "Accept-Language")):
                async with c.get(run.url + path, headers={"Accept-Encoding": "identity"}) as r:
                    plain = await r.read()
                    h = r.headers
                    assert (
                        r.status == 200
                        and "Content-Encoding" not in h
                        and int(h["Content-Length"]) == len(plain)
                    )
                    assert vary in h["Vary"] and "Accept-Encoding" in h["Vary"]
                    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
                    assert h["Server"] == "travelinfo"
                    etag, modified = h["ETag"], h["Last-Modified"]
                async with c.get(run.url + path, headers={"Accept-Encoding": "gzip"}) as r:
                    assert r.headers["Content-Encoding"] == "gzip" and r.headers["ETag"] == etag
                    assert gzip.decompress(await r.read()) == plain
                for cond in ({"If-None-Match": f'W/{etag}, "other"'}, {"If-Modified-Since": modified}):
                    async with c.get(run.url + path, headers=cond) as r:
                        assert r.status == 304 and r.headers["ETag"] == etag and not await r.read()
            async with c.get(run.url + "/") as r:
                assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    finally:
        await run.stop()


def test_request_stats_export_what_prometheus_histograms_would() -> None:
    """The lock-free request stats write the same histogram samples as prometheus_client's own."""
    stats = metrics.RequestStats()
    registry = CollectorRegistry()
    reference = Histogram("h", "h", ["method", "route"], buckets=stats.bounds, registry=registry)
    observations = [0.0, 0.001, 0.0011, 0.003, 0.049, 0.05, 0.2, 9.99, 10.0, 11.0, 500.0]
    for seconds in observations:
        stats.count("GET", "/x", 200, seconds)
        reference.labels("GET", "/x").observe(seconds)
    stats.count("OTHER", "unmatched", 404, 0.002)
    ours = {
        (s.name.removeprefix("travelinfo_http_request_duration_seconds"), s.labels.get("le")): s.value
        for family in stats.collect()
        for s in family.samples
        if s.name.startswith("travelinfo_http_request_duration") and s.labels["route"] == "/x"
    }
    theirs = {
        (s.name.removeprefix("h"), s.labels.get("le")): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }
    assert ours == theirs
    text = generate_latest(metrics.REGISTRY).decode()
    assert "# TYPE travelinfo_http_requests_total counter" in text
    assert "# TYPE travelinfo_http_request_duration_seconds histogram" in text
    counts = {tuple(s.labels.values()): s.value for s in next(iter(stats.collect())).samples}
    assert counts == {("GET", "/x", "200"): len(observations), ("OTHER", "unmatched", "404"): 1}


async def test_render_cache_drops_least_recently_used_by_count_and_bytes() -> None:
    cache = RenderCache(max_items=3, budget=10_000)
    now = datetime.now(UTC)

    async def render(n: int, size: int = 100) -> Rendered:
        return Rendered.make(bytes([65 + n]) * size, "application/x-protobuf", now)

    for n in range(3):
        await cache.get(n, lambda n=n: render(n))
    assert cache.peek(0) is not None  # 0 is now the most recently used
    await cache.get(3, lambda: render(3))
    assert cache.peek(1) is None and cache.peek(0) is not None and len(cache) == 3
    await cache.get(4, lambda: render(4, 9_950))  # over the byte budget: older ones go
    assert len(cache) == 1 and cache.peek(4) is not None and cache.size == 9_950
    cache.invalidate()
    assert cache.peek(4) is None, "a change makes every kept rendering old"


def test_stale_bytes_are_kept_per_cookie_and_refreshed_without_copying() -> None:
    """The same cached body served again refreshes its time only; a stale answer is never made
    for another reader's cookie or another caller's credentials."""
    from aiohttp.test_utils import make_mocked_request

    from travelinfo.runtime.stale import WARNING, StaleCache

    stale = StaleCache()
    body = b"<html>mine first</html>"

    def req(**headers: str) -> web.Request:
        return make_mocked_request("GET", "/?lang=en", headers=headers, app=web.Application())

    def ok() -> web.Response:
        return web.Response(body=body, headers={"Content-Type": "text/html", "ETag": '"a"'})

    mine = {"Cookie": "mylines=road%3AE4"}
    stale.remember(req(**mine), ok())
    first = stale._items[next(iter(stale._items))].at
    size = stale.size
    stale.remember(req(**mine), ok())  # the same bytes object again: the hot path
    assert (
        len(stale._items) == 1 and stale.size == size and stale._items[next(iter(stale._items))].at >= first
    )
    assert stale.answer(req()) is None, "no stale page of someone else's lines"
    assert stale.answer(req(Authorization="Bearer other", **mine)) is None
    kept = stale.answer(req(**mine))
    assert kept is not None and kept.body == body and kept.headers["Warning"] == WARNING
    assert kept.headers["Content-Type"] == "text/html" and kept.headers["ETag"] == '"a"'
