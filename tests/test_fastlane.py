"""The fast lane (travelinfo.runtime.fastlane): replayed bytes are aiohttp's, every other request
is aiohttp's, and the connection accounting stays exact.

Served as `travelinfo web` serves (limits.make_runner/start_site) over one real SQLite store:
one app with the lane, one with `limits.fast_lane = false` (aiohttp only) where a comparison
needs a second opinion. Requests are raw bytes on loopback sockets, answers read off the wire.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pushutil import hub_caught_up
from storeutil import batch, item, open_store
from test_web_pages import fill, settings
from waiting import wait_until

from travelinfo.app import CACHE, create_app
from travelinfo.config import Settings
from travelinfo.runtime.limits import LIMITS, make_runner, start_site
from travelinfo.runtime.metrics import REQUEST_STATS
from travelinfo.runtime.server import Rendered, respond
from travelinfo.web import render as view

ROOT = Path(__file__).resolve().parent.parent
PATHS = [
    "/",
    "/board",
    "/feeds/disruptions.atom",
    "/feeds/disruptions.rss?lang=en",
    "/gtfs-rt/alerts.pb",
    "/map/network.geojson",
]
DATE = re.compile(rb"\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT")


@dataclass
class Site:
    app: object
    port: int
    runner: object

    @property
    def table(self):  # type: ignore[no-untyped-def]
        return self.runner.server.lane  # type: ignore[attr-defined]

    @property
    def hits(self) -> int:
        return int(self.table.hits)


def lane_settings(tmp_path: Path, lane: bool = True) -> Settings:
    s = settings()
    s.store.url = f"sqlite:///{tmp_path / 'store.db'}"
    s.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")  # /map/network.geojson
    s.limits.fast_lane = lane
    s.api.rate_per_ip = 0
    return s


@asynccontextmanager
async def guarded(
    s: Settings, configure: Callable[[web.Application], None] | None = None
) -> AsyncIterator[Site]:
    app = create_app(s, roles=frozenset({"web"}))
    if configure is not None:
        configure(app)
    runner = make_runner(app, shutdown_timeout=0.2, access_log=None)
    await runner.setup()
    await start_site(runner, "127.0.0.1", 0)
    try:
        yield Site(app, runner.addresses[0][1], runner)
    finally:
        await runner.cleanup()


@pytest.fixture
async def sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Site, Site]]:
    # Pages hold while the health records read for them do: long enough for a test's requests.
    monkeypatch.setattr(view, "HEALTH_TTL", 600.0)
    async with open_store("sqlite", tmp_path) as store:
        await fill(store, datetime.now(UTC))
    async with guarded(lane_settings(tmp_path)) as on, guarded(lane_settings(tmp_path, False)) as off:
        yield on, off


@dataclass
class Answer:
    status: int
    head: bytes  # status line and headers, Date removed
    body: bytes

    def header(self, name: str) -> str | None:
        m = re.search(rb"(?im)^" + name.encode() + rb": (.*?)\r$", self.head + b"\r\n")
        return m.group(1).decode() if m else None


async def read_answer(reader: asyncio.StreamReader, method: str = "GET") -> Answer:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert DATE.search(head), head
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)\r\nContent-Length: (\d+)", head)
    length = int(m.group(1)) if m and method != "HEAD" and status != 304 else 0
    body = await asyncio.wait_for(reader.readexactly(length), 10)
    return Answer(status, DATE.sub(b"", head), body)


def request(path: str, method: str = "GET", version: str = "1.1", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def exchange(site: Site, *requests: bytes, methods: tuple[str, ...] = ()) -> list[Answer]:
    """Send `requests` in one write on a fresh connection; their answers, in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    try:
        writer.write(b"".join(requests))
        return [await read_answer(reader, m) for m in (methods or ("GET",) * len(requests))]
    finally:
        writer.close()


async def aiohttp_then_lane(site: Site, raw: bytes, method: str = "GET") -> tuple[Answer, Answer]:
    """The answer aiohttp gives (it fills the lane) and the lane's own for the same request."""
    for _ in range(3):  # a minute boundary between the two renews a page: once more then
        for key in [k for k in site.table.entries if k[0] == raw.split(b" ")[1]]:
            del site.table.entries[key]  # so the first is aiohttp's
        minute, hits = view.minute(), site.hits
        first = (await exchange(site, raw, methods=(method,)))[0]
        second = (await exchange(site, raw, methods=(method,)))[0]
        if site.hits == hits + 1 or view.minute() == minute:
            break
    assert site.hits == hits + 1, f"not answered by the lane: {raw!r}"
    return first, second


async def test_lane_bytes_are_aiohttps_bytes(sites: tuple[Site, Site]) -> None:
    on, _ = sites
    for path in PATHS:
        plain = (await exchange(on, request(path)))[0]
        assert plain.status == 200, path
        etag = plain.header("ETag")
        assert etag
        variants = [
            (request(path, Accept_Encoding="identity"), "GET"),
            (request(path, Accept_Encoding="gzip, deflate"), "GET"),
            (request(path, If_None_Match=f'"x", W/{etag}'), "GET"),
            (request(path, "HEAD"), "HEAD"),
            (request(path, "HEAD", Accept_Encoding="gzip"), "HEAD"),
            (request(path, Accept_Language="en"), "GET"),
        ]
        for raw, method in variants:
            by_aiohttp, by_lane = await aiohttp_then_lane(on, raw, method)
            assert by_lane == by_aiohttp, (path, raw)
        gz = (await exchange(on, request(path, Accept_Encoding="gzip")))[0]
        nm = (await exchange(on, request(path, If_None_Match=etag)))[0]
        assert nm.status == 304 and nm.body == b"" and nm.header("ETag") == etag
        if path != "/gtfs-rt/alerts.pb":  # protobuf is not compressed
            assert gz.header("Content-Encoding") == "gzip" and gz.body != plain.body
        head = (await exchange(on, request(path, "HEAD"), methods=("HEAD",)))[0]
        assert head.head == plain.head and head.body == b""


async def test_lane_answers_match_a_server_without_the_lane(sites: tuple[Site, Site]) -> None:
    """Feeds and GTFS-RT render the same bytes in both apps: lane vs aiohttp alone, minus Date."""
    on, off = sites
    for path in ("/feeds/disruptions.atom", "/feeds/disruptions.rss", "/gtfs-rt/alerts.pb"):
        for headers in ({}, {"Accept_Encoding": "gzip"}):
            _, by_lane = await aiohttp_then_lane(on, request(path, **headers))
            alone = (await exchange(off, request(path, **headers)))[0]
            assert by_lane == alone and off.table is None


async def test_one_byte_segments_pipelining_and_misses_in_order(sites: tuple[Site, Site]) -> None:
    on, off = sites
    atom, board = request("/feeds/disruptions.atom"), request("/board")
    want_atom, want_board = (await aiohttp_then_lane(on, atom))[1], (await aiohttp_then_lane(on, board))[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", on.port)
    hits = on.hits
    for byte in atom:
        writer.write(bytes([byte]))
        await writer.drain()
    assert await read_answer(reader) == want_atom
    assert on.hits == hits + 1
    # Pipelined: hits, a miss (to aiohttp), then requests the lane would answer, now aiohttp's.
    miss = request("/api/v1/disruptions?limit=1")
    writer.write(atom + board + miss + atom + request("/feeds/disruptions.atom", "HEAD") + board)
    got = [await read_answer(reader, m) for m in ("GET", "GET", "GET", "GET", "HEAD", "GET")]
    writer.close()
    assert on.hits == hits + 3
    api = (await exchange(off, miss))[0]
    assert [a.status for a in got] == [200] * 6
    assert got[0] == want_atom and got[1] == want_board and got[3] == want_atom and got[5] == want_board
    assert got[2].body == api.body and got[2].header("Content-Type") == "application/json; charset=utf-8"
    assert got[4].head == want_atom.head and got[4].body == b""


async def test_malformed_and_huge_heads_get_aiohttps_answer(sites: tuple[Site, Site]) -> None:
    on, off = sites
    hit = request("/feeds/disruptions.atom")
    want = (await aiohttp_then_lane(on, hit))[1]
    hostile = [
        b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET /feeds/disruptions.atom HTTP/1.1\nHost: x\n\n",  # bare LF
        b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS on the plain port
    ]
    for raw in hostile:
        # The lane answers the hit, then aiohttp gets the rest: its answer to those bytes alone.
        ours, theirs = await raw_until_eof(on, hit + raw), await raw_until_eof(off, raw)
        assert DATE.sub(b"", ours) == want.head + want.body + DATE.sub(b"", theirs), raw[:40]
        assert re.match(rb"HTTP/1\.[01] (400|405|431|501|505) ", theirs), theirs[:80]
    limits = on.app[LIMITS]  # type: ignore[index]
    await wait_until(lambda: limits.total == 0, what="every connection released")


async def raw_until_eof(site: Site, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    writer.write(data)
    out = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    return out


async def test_cookie_authorization_and_post_go_to_aiohttp(sites: tuple[Site, Site]) -> None:
    on, off = sites
    hits = on.hits
    starred = request("/board", Cookie="mylines=metro:17")
    first = (await exchange(on, starred))[0]
    assert first.header("Vary") == "Accept-Encoding, Accept-Language, Cookie"
    # The cookie's page is never replayed to anyone: the first plain request is aiohttp's too.
    by_aiohttp, by_lane = await aiohttp_then_lane(on, request("/board"))
    assert on.hits == hits + 1 and by_lane == by_aiohttp
    assert (await exchange(on, starred))[0] == first and on.hits == hits + 1
    auth = request("/board", Authorization="Bearer nope")
    assert (await exchange(on, auth))[0] == by_lane and on.hits == hits + 1
    # POST after hits on the same connection: handed over with its body, answered as alone.
    atom = request("/feeds/disruptions.atom")
    await aiohttp_then_lane(on, atom)
    hits = on.hits
    post = b"POST /feeds/disruptions.atom HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    got = await exchange(on, atom, atom, post, atom)
    alone = await exchange(off, post, atom)
    assert on.hits == hits + 2
    assert got[2].status == 405 and got[2] == alone[0] and got[3] == got[0]


async def test_http10_and_connection_close_end_the_connection(sites: tuple[Site, Site]) -> None:
    on, _ = sites
    for raw in (request("/board", version="1.0"), request("/board", Connection="close")):
        by_aiohttp, by_lane = await aiohttp_then_lane(on, raw)
        assert by_lane == by_aiohttp
        hits = on.hits
        data = await raw_until_eof(on, raw + request("/board"))  # the second is never answered
        assert data.count(b"HTTP/1.") == 1 and on.hits == hits + 1
        assert DATE.sub(b"", data) == by_lane.head + by_lane.body
    assert b"Connection: close" in by_lane.head


async def test_store_change_invalidates_at_once(sites: tuple[Site, Site], tmp_path: Path) -> None:
    on, _ = sites
    atom = request("/feeds/disruptions.atom")
    old = (await aiohttp_then_lane(on, atom))[1]
    etag = old.header("ETag")
    assert etag
    cache = on.app[CACHE]  # type: ignore[index]
    generation = cache.generation
    now = datetime.now(UTC)
    async with open_store("sqlite", tmp_path) as store:
        await store.apply(batch([item("lane-new", now, header="Ny händelse i filen")], now, complete=False))
    await wait_until(lambda: cache.generation != generation, what="the change reaching the app")
    hits = on.hits
    new = (await exchange(on, atom))[0]
    assert on.hits == hits  # the old bytes are never replayed
    assert new.header("ETag") != etag and "Ny händelse i filen".encode() in new.body
    assert "Ny händelse i filen".encode() not in old.body
    stale_inm = (await exchange(on, request("/feeds/disruptions.atom", If_None_Match=etag)))[0]
    assert stale_inm.status == 200 and stale_inm.body == new.body and on.hits == hits + 1
    assert (await exchange(on, atom))[0] == new and on.hits == hits + 2


async def test_lane_hits_are_counted_per_route(sites: tuple[Site, Site]) -> None:
    on, _ = sites
    atom = request("/feeds/disruptions.atom")
    await aiohttp_then_lane(on, atom)
    key = ("GET", "/feeds/disruptions.atom", 200)
    before = REQUEST_STATS.counts.get(key, 0)
    await exchange(on, atom, atom, atom)
    assert REQUEST_STATS.counts[key] == before + 3
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{on.port}/metrics") as r:
        text = await r.text()
    line = 'travelinfo_http_requests_total{method="GET",route="/feeds/disruptions.atom",status="200"}'
    assert any(row.startswith(line) and float(row.split()[-1]) >= before + 3 for row in text.splitlines())
    answers = [
        float(row.split()[-1])
        for row in text.splitlines()
        if row.startswith("travelinfo_fast_lane_answers_total ")
    ]
    assert answers == [on.hits]


async def test_caps_and_timeouts_hold_in_the_lane(tmp_path: Path) -> None:
    s = lane_settings(tmp_path)
    s.limits.connections_per_ip = 2
    s.limits.header_timeout = 0.3
    s.limits.idle_timeout = 0.5
    async with open_store("sqlite", tmp_path) as store:
        await fill(store, datetime.now(UTC))
    async with guarded(s) as on:
        limits = on.app[LIMITS]  # type: ignore[index]
        atom = request("/feeds/disruptions.atom")
        await aiohttp_then_lane(on, atom)
        accepted = limits.accepted
        a = await asyncio.open_connection("127.0.0.1", on.port)
        b = await asyncio.open_connection("127.0.0.1", on.port)
        await wait_until(lambda: limits.total == 2, what="two lane connections counted")
        third = await raw_until_eof(on, atom)  # over the per-address cap: aiohttp's 429
        assert third.startswith(b"HTTP/1.1 429 ") and b"Retry-After: " in third
        a[1].write(b"GET /feeds/disruptions.atom HTTP/1.1\r\nHost")  # a head that never ends
        b[1].write(atom)
        assert (await read_answer(b[0])).status == 200
        timeouts = limits.rejected["header_timeout"]
        assert await asyncio.wait_for(a[0].read(-1), 5) == b""  # closed by the header timeout
        assert await asyncio.wait_for(b[0].read(-1), 5) == b""  # closed idle after its answer
        assert limits.rejected["header_timeout"] == timeouts + 1
        await wait_until(lambda: limits.total == 0, what="both released")
        # A hand-over keeps the count: counted once, released once.
        reader, writer = await asyncio.open_connection("127.0.0.1", on.port)
        writer.write(atom + request("/status"))
        assert [(await read_answer(reader)).status for _ in range(2)] == [200, 200]
        assert limits.total == 1 and limits.connections == {"127.0.0.1": 1}
        writer.close()
        await wait_until(lambda: limits.total == 0 and not limits.connections, what="released once")
        assert limits.accepted == accepted + 3 and limits.rejected["per_address"] == 1
        assert not on.table.lanes


async def test_streams_still_work_behind_the_lane(sites: tuple[Site, Site]) -> None:
    on, _ = sites
    await hub_caught_up(on.app)
    url = f"http://127.0.0.1:{on.port}"
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/api/v1/stream") as resp:
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
            line = await asyncio.wait_for(resp.content.readline(), 5)
            assert line.startswith((b"retry:", b":", b"event:", b"id:"))
        async with s.ws_connect(url + "/api/v1/ws") as ws:
            await ws.send_json({"subscribe": {}, "snapshot": True})
            snap = await ws.receive_json(timeout=5)
            assert snap["type"] == "snapshot" and snap["disruptions"]


async def test_access_log_or_setting_turns_the_lane_off(tmp_path: Path) -> None:
    import logging

    async with open_store("sqlite", tmp_path) as store:
        await fill(store, datetime.now(UTC))
    logger = logging.getLogger("test.fastlane.access")
    logger.setLevel(logging.INFO)
    app = create_app(lane_settings(tmp_path), roles=frozenset({"web"}))
    runner = make_runner(app, access_log=logger)
    await runner.setup()
    try:
        assert runner.server.lane is None  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
    async with guarded(lane_settings(tmp_path, False)) as off:
        assert off.table is None
        assert (await exchange(off, request("/feeds/disruptions.atom")))[0].status == 200


async def test_requests_for_an_entry_being_refreshed_wait_for_it(sites: tuple[Site, Site]) -> None:
    """A stale entry is refreshed by one connection's request (through aiohttp); the others
    wait for that instead of all leaving the lane, then get the new bytes from it."""
    on, _ = sites
    atom = request("/feeds/disruptions.atom")
    old = (await aiohttp_then_lane(on, atom))[1]
    on.app[CACHE].invalidate()  # type: ignore[index]
    key = (b"/feeds/disruptions.atom", b"")
    table = on.table
    refresh = table.pending[key] = asyncio.get_running_loop().create_future()  # another's, in flight
    waiting = [await asyncio.open_connection("127.0.0.1", on.port) for _ in range(3)]
    for _, writer in waiting:
        writer.write(atom)
    hits = on.hits
    with pytest.raises(TimeoutError):  # parked: no answer while the refresh is under way
        await asyncio.wait_for(waiting[0][0].readexactly(1), 0.1)
    assert on.hits == hits and key in table.pending
    del table.pending[key]
    refresh.set_result(None)  # it ended without filling: one of them refreshes, the rest wait
    got = [await read_answer(reader) for reader, _ in waiting]
    for _, writer in waiting:
        writer.close()
    assert all(a == got[0] for a in got) and got[0].body == old.body
    assert on.hits == hits + 2  # one went to aiohttp; two were answered from its fill
    limits = on.app[LIMITS]  # type: ignore[index]
    await wait_until(lambda: limits.total == 0, what="connections released")
    assert not table.pending


async def test_large_bodies_are_written_apart_from_their_head(
    sites: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    from travelinfo.runtime import lanetable

    monkeypatch.setattr(lanetable, "SMALL", 0)  # every body takes the large-body path
    on, _ = sites
    for path in ("/", "/feeds/disruptions.atom", "/map/network.geojson"):
        answers = []
        for headers in ({}, {"Accept_Encoding": "gzip"}):
            by_aiohttp, by_lane = await aiohttp_then_lane(on, request(path, **headers))
            assert by_lane == by_aiohttp and len(by_lane.body) > 1000
            answers.append(by_lane)
        methods = ("GET", "HEAD", "GET")
        got = await exchange(on, request(path), request(path, "HEAD"), request(path), methods=methods)
        assert got[0] == got[2] == answers[0] and got[1].body == b"" and got[1].head == answers[0].head


def slow_route(body: bytes) -> tuple[asyncio.Event, asyncio.Event, Callable[[web.Application], None]]:
    """A lane-able `/slow-test` answering `body` once `gate` is set; `waiting` is set when it waits."""
    gate, waiting = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        r = Rendered.make(body, "text/plain", datetime.now(UTC))
        waiting.set()
        await gate.wait()
        return respond(request, r, lane=float("inf"))

    def configure(app: web.Application) -> None:
        app.router.add_get("/slow-test", slow)

    return gate, waiting, configure


async def test_a_rendering_chosen_across_a_change_is_not_replayed(tmp_path: Path) -> None:
    """A handler that got its rendering before the store changed answers with it (aiohttp's
    business), but the lane never keeps it under the new generation."""
    gate, waiting, configure = slow_route(b"rendered before the change" * 40)
    async with guarded(lane_settings(tmp_path), configure) as on:
        for change in (False, True):
            gate.clear()
            waiting.clear()
            on.table.entries.clear()
            reader, writer = await asyncio.open_connection("127.0.0.1", on.port)
            writer.write(request("/slow-test"))
            await asyncio.wait_for(waiting.wait(), 5)
            if change:
                on.app[CACHE].invalidate()  # type: ignore[index]
            gate.set()
            first = await read_answer(reader)
            writer.close()
            hits = on.hits
            second = (await exchange(on, request("/slow-test")))[0]
            assert first.status == second.status == 200
            assert on.hits == hits + (0 if change else 1), change


async def test_endless_distinct_heads_keep_the_memo_bounded(sites: tuple[Site, Site]) -> None:
    from travelinfo.runtime.fastlane import MEMO_HEADS

    on, _ = sites
    head = request("/feeds/disruptions.atom", "HEAD")
    want = (await aiohttp_then_lane(on, head, "HEAD"))[1]
    hits = on.hits
    n = MEMO_HEADS + 500
    heads = [request("/feeds/disruptions.atom", "HEAD", X_Client=str(i)) for i in range(n)]
    got = await exchange(on, *heads, methods=("HEAD",) * n)
    assert got == [want] * n and on.hits == hits + n
    assert 0 < len(on.table.heads) <= MEMO_HEADS


async def test_a_client_gone_mid_request_is_no_error_and_wakes_the_parked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp drops a connection's manager when its client goes away, but the request runs on
    (handler_cancellation is off): its end is no "Unhandled exception" (wrk's last requests logged
    one each), a request queued behind it is not one either, and a request parked for the bytes it
    refreshes is woken when they are ready, not after the lane gives up (PARK)."""
    from travelinfo.runtime import fastlane

    monkeypatch.setattr(fastlane, "PARK", 30.0)  # a woken request answers long before this
    gate, waiting, configure = slow_route(b"the slow answer" * 40)
    async with guarded(lane_settings(tmp_path), configure) as on:
        limits = on.app[LIMITS]  # type: ignore[index]
        gate.set()
        await exchange(on, request("/slow-test"))  # aiohttp's answer fills the lane
        assert (await exchange(on, request("/slow-test")))[0].status == 200
        on.app[CACHE].invalidate()  # type: ignore[index]  # stale: the next request refreshes it
        gate.clear()
        waiting.clear()
        caplog.clear()
        _, writer = await asyncio.open_connection("127.0.0.1", on.port)
        writer.write(request("/slow-test") + request("/slow-test"))  # a second one queued behind
        await asyncio.wait_for(waiting.wait(), 5)
        parked = asyncio.create_task(exchange(on, request("/slow-test")))
        await wait_until(lambda: limits.total == 2, what="the parked connection counted")
        writer.close()  # the refreshing client goes away mid-request
        await wait_until(lambda: limits.total == 1, what="the gone client's connection released")
        hits = on.hits
        gate.set()
        (answer,) = await asyncio.wait_for(parked, 5)
        assert answer.status == 200 and answer.body == b"the slow answer" * 40
        assert on.hits == hits + 1  # answered by the lane, from the gone client's refresh
        await wait_until(lambda: limits.total == 0, what="connections released")
        errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
        assert not errors, [r.getMessage() for r in errors]
