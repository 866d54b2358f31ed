"""A stream's request head is let go once the stream runs (travelinfo.runtime.streamhead).

Served as `travelinfo web` serves (limits.make_runner/start_site, the fast lane on and off)
over a real SQLite store; clients send what Chromium's EventSource sends. Each test checks on
the server side that the head was really let go (no header left on the request, none of its
bytes reachable from any object) and that the stream still does everything it did: every
event, its filter, resume with Last-Event-ID, reconnect, keep-alive after it ends.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pushutil import hub_caught_up, read_events
from storeutil import batch, item, open_store
from waiting import streams_ready, wait_until

from travelinfo.app import create_app
from travelinfo.config import Settings
from travelinfo.runtime.limits import GuardedHandler, make_runner, start_site
from travelinfo.runtime.streamhead import StreamHead
from travelinfo.store.base import Store

NOW = datetime.now(UTC).replace(microsecond=0)
# Chromium 156's EventSource request headers, as bench/push.py sends them (Host comes apart).
BROWSER = {
    "Pragma": "no-cache",
    "Cache-Control": "no-cache",
    "sec-ch-ua-platform": '"Linux"',
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0",
    "Accept": "text/event-stream",
    "sec-ch-ua": '"Not:A-Brand";v="8", "Chromium";v="156"',
    "sec-ch-ua-mobile": "?0",
    "Origin": "https://www.trafikinfo.example",
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Dest": "empty",
    "Referer": "https://www.trafikinfo.example/",
    "Accept-Language": "sv-SE,sv;q=0.9,en-US;q=0.8,en;q=0.7",
}


@dataclass
class Site:
    app: web.Application
    port: int
    store: Store
    runner: web.AppRunner

    @property
    def shared(self) -> list[object]:
        """Process-wide objects allowed to hold a head: the fast lane's memo of distinct heads
        (bounded, one entry for every client sending the same bytes)."""
        lane = getattr(self.runner.server, "lane", None)
        return [] if lane is None else [lane.heads]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def guarded(store: Store, lane: bool, max_duration: float = 0) -> AsyncIterator[Site]:
    s = Settings()
    s.api.rate_per_ip = 0
    s.limits.fast_lane = lane
    s.push.max_duration = max_duration
    app = create_app(s, roles=frozenset({"web"}), store=store)
    runner = make_runner(app, shutdown_timeout=0.2, access_log=None)
    await runner.setup()
    await start_site(runner, "127.0.0.1", 0)
    try:
        await hub_caught_up(app)
        yield Site(app, runner.addresses[0][1], store, runner)
    finally:
        await runner.cleanup()


@pytest.fixture(params=[True, False], ids=["lane", "no-lane"])
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Site]:
    async with (
        open_store("sqlite", tmp_path, log_retention=3600) as store,
        guarded(store, request.param) as s,
    ):
        yield s


def streaming_requests() -> list[web.BaseRequest]:
    """The requests being served as streams by GuardedHandlers in this process."""
    found = []
    for o in gc.get_objects():
        if isinstance(o, GuardedHandler) and o.streaming and o._current_request is not None:
            found.append(o._current_request)
    return found


def reachable_with(mark: str, shared: list[object]) -> list[str]:
    """Types of the objects that hold a str or bytes(array) with `mark` reversed in it (what
    `marked` puts in a head: the test itself holds only `mark`), `shared` ones left out.

    From every object gc tracks, through the tuples and dicts it leaves untracked (those
    holding only strings and numbers, such as header pairs), to the strings and bytes.
    """
    marker = mark[::-1]
    raw = marker.encode()
    gc.collect()  # garbage not yet collected holds nothing
    holders = []
    skip = {id(o) for o in shared}
    seen = set(skip)
    stack = [(o, type(o).__name__) for o in gc.get_objects() if id(o) not in skip]
    while stack:
        o, top = stack.pop()
        for ref in gc.get_referents(o):
            if (isinstance(ref, str) and marker in ref) or (
                isinstance(ref, bytes | bytearray) and raw in ref
            ):
                holders.append(top)
            elif isinstance(ref, tuple | dict) and not gc.is_tracked(ref) and id(ref) not in seen:
                seen.add(id(ref))
                stack.append((ref, top))
    return holders


@dataclass
class RawStream:
    """An SSE stream read off the socket (chunked encoding undone): nothing of its request is
    kept on this side once written, so what holds its bytes is the server."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    text: str = ""

    async def events(self, n: int) -> list[tuple[str, str, dict[str, Any]]]:
        """The next `n` events as (id, event, data)."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        while len(out) < n:
            while "\n\n" not in self.text:
                size = int((await asyncio.wait_for(self.reader.readline(), 10)).strip(), 16)
                self.text += (await self.reader.readexactly(size + 2))[:-2].decode()
            block, self.text = self.text.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
            if "data" in fields:
                out.append((fields.get("id", ""), fields["event"], json.loads(fields["data"])))
        return out


def marked(mark: str, *names: str, size: int = 0) -> dict[str, str]:
    """Headers `names` whose values carry `mark` reversed (and `size` bytes of padding)."""
    return {name: f"https://{mark[::-1]}.example/" + "p" * size for name in names}


async def raw_stream(site: Site, path: str, **extra: str) -> RawStream:
    """Open `path` with the browser's headers and `extra` ones, status and headers read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    fields = {**BROWSER, **{k.replace("_", "-"): v for k, v in extra.items()}}
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines(fields)}\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200"), head
    return RawStream(reader, writer)


def lines(fields: dict[str, str]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items())


async def released(count: int) -> list[web.BaseRequest]:
    """Wait until `count` streams run with their heads let go; those requests."""

    def done() -> list[web.BaseRequest]:
        reqs = [r for r in streaming_requests() if isinstance(r._message, StreamHead) and not r.headers]
        return reqs if len(reqs) >= count else []

    return await wait_until(done, what=f"{count} released stream head(s)")


async def test_released_stream_gets_every_event_of_its_filter(site: Site) -> None:
    mark = uuid.uuid4().hex
    stream = await raw_stream(site, "/api/v1/stream?severity=SEVERE", **marked(mark, "Origin", "Referer"))
    try:
        await streams_ready(site.app, 1)
        (req,) = await released(1)
        assert req._message.raw_headers == () and not req.headers
        assert req.query["severity"] == "SEVERE" and req.host == "127.0.0.1"
        clone = req.clone(rel_url="/api/v1/stream?severity=MINOR", headers={"X-Copy": "1"})
        assert clone.query["severity"] == "MINOR" and clone.headers["X-Copy"] == "1"
        assert not reachable_with(mark, site.shared), "the Origin/Referer bytes are still held"
        for k in range(3):
            await site.store.apply(batch([item(f"w{k}", NOW, severity="WARNING")], NOW, complete=False))
            await site.store.apply(batch([item(f"s{k}", NOW, severity="SEVERE")], NOW, complete=False))
        got = await stream.events(3)
    finally:
        stream.writer.close()
    assert [(e, d["id"]) for _, e, d in got] == [("created", f"demo:s{k}") for k in range(3)]


async def test_resume_with_last_event_id_and_reconnect(site: Site) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(site.url + "/api/v1/stream", headers=BROWSER) as resp:
            await streams_ready(site.app, 1)
            await released(1)
            await site.store.apply(batch([item("a", NOW)], NOW, complete=False))
            (first,) = await read_events(resp, 1)
        # Away: two changes; back with Last-Event-ID (read before the head is let go).
        await wait_until(lambda: not streaming_requests(), what="the first stream to end")
        await site.store.apply(batch([item("b", NOW)], NOW, complete=False))
        await site.store.apply(
            batch([item("a", NOW + timedelta(minutes=1), header="Ny")], NOW, complete=False)
        )
        again = {**BROWSER, "Last-Event-ID": str(first.id)}
        async with s.get(site.url + "/api/v1/stream", headers=again) as resp:
            missed = await read_events(resp, 2)
            (req,) = await released(1)
            assert "Last-Event-ID" not in req.headers
            await site.store.apply(batch([item("c", NOW)], NOW, complete=False))
            (live,) = await read_events(resp, 1)
    assert [(e.event, e.data["id"]) for e in missed] == [("created", "demo:b"), ("updated", "demo:a")]
    assert (live.event, live.data["id"]) == ("created", "demo:c")


async def test_other_connections_keep_their_headers_and_keep_alive(site: Site) -> None:
    async with aiohttp.ClientSession() as s, s.get(site.url + "/api/v1/stream", headers=BROWSER) as stream:
        await streams_ready(site.app, 1)
        await released(1)
        # Another connection: several keep-alive requests, conditional ones read their headers.
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        try:
            tag = None
            for _ in range(3):
                inm = f"If-None-Match: {tag}\r\n" if tag else ""
                writer.write(f"GET /api/v1/disruptions HTTP/1.1\r\nHost: x\r\n{inm}\r\n".encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                status = int(head.split(b" ", 2)[1])
                fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)
                assert "close" not in fields.get("Connection", "").lower()
                await reader.readexactly(int(fields.get("Content-Length", "0")))
                assert status == (304 if tag else 200), head
                tag = fields["ETag"]
        finally:
            writer.close()
        await site.store.apply(batch([item("k", NOW)], NOW, complete=False))
        (ev,) = await read_events(stream, 1)
        assert ev.data["id"] == "demo:k"


async def _read_through_stream_end(reader: asyncio.StreamReader) -> bytes:
    """Bytes up to and including a chunked stream's last chunk (the stream's life ended)."""
    return await asyncio.wait_for(reader.readuntil(b"\r\n0\r\n\r\n"), 10)


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "no-lane"])
async def test_keep_alive_after_a_stream_ends_with_and_without_a_fresh_parser(
    tmp_path: Path, lane: bool
) -> None:
    # about time: push.max_duration ends each stream after 0.3 s, then the connection serves on.
    async with open_store("sqlite", tmp_path) as store, guarded(store, lane, max_duration=0.3) as site:
        stream = f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n{lines(BROWSER)}\r\n".encode()
        health = b"GET /api/v1/disruptions HTTP/1.1\r\nHost: x\r\n\r\n"
        # Nothing after the stream's head: its parser is replaced; a next request on the same
        # connection is parsed by the fresh one.
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        writer.write(stream)
        await released(1)
        await _read_through_stream_end(reader)
        writer.write(health)
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).startswith(b"HTTP/1.1 200")
        writer.close()
        # Half of the next request pipelined right behind the stream's head: the parser holds
        # it, so it is kept; the rest arrives later and the request is answered.
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        writer.write(stream + health[:20])
        await released(1)
        await _read_through_stream_end(reader)
        writer.write(health[20:])
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).startswith(b"HTTP/1.1 200")
        writer.close()


async def test_a_huge_head_is_not_held_by_its_stream(site: Site) -> None:
    # 100 headers of 120 bytes and one of 8,000 (aiohttp's field limit is 8,190): a 20 KB head,
    # its marker made here so that only the requests hold it.
    mark, pads = uuid.uuid4().hex, [f"X-Pad-{k:03}" for k in range(100)]
    n = 12
    warm = await raw_stream(site, "/api/v1/stream")  # first-use allocations are not per stream
    await streams_ready(site.app, 1)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        streams = []
        for _ in range(n):
            head = {**marked(mark, *pads, size=60), **marked(mark, "X-Huge", size=7900)}
            streams.append(await raw_stream(site, "/api/v1/stream", **head))
        del head
        await streams_ready(site.app, n + 1)
        await released(n + 1)
        gc.collect()
        after = tracemalloc.take_snapshot()
        assert not reachable_with(mark, site.shared), "the head's bytes are still held"
        await site.store.apply(batch([item("z", NOW)], NOW, complete=False))
        for stream in streams:
            assert [d["id"] for _, _, d in await stream.events(1)] == ["demo:z"]
            stream.writer.close()
    finally:
        tracemalloc.stop()
        warm.writer.close()
    # Held per stream (server and this client together), against the 20 KB head twice over
    # (raw and decoded) that it would hold otherwise: generous, not a tight bound.
    grown = sum(st.size_diff for st in after.compare_to(before, "filename"))
    assert grown / n < 20_000, f"{grown / n:.0f} B per stream"
