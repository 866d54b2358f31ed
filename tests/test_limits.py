"""Connection and stream caps, header read timeout (slowloris) through the runner `travelinfo run` uses.

127.0.0.0/8 is loopback on Linux: clients bind 127.0.0.2 ("one address") and 127.0.0.3 (a second
one) as their source address, so the server sees distinct peers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from apputil import Running
from storeutil import open_store

from travelinfo.api.keys import create_key
from travelinfo.app import create_app
from travelinfo.config import Settings
from travelinfo.runtime.limits import FD_RESERVE, LIMITS, ConnectionLimits, fd_capped, make_runner, start_site

ONE, SECOND, THIRD = "127.0.0.2", "127.0.0.3", "127.0.0.4"


@pytest.fixture(autouse=True)
def _fds() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@asynccontextmanager
async def guarded(tmp_path: Path, settings: Settings) -> AsyncIterator[Running]:
    """The app served exactly as `travelinfo web` serves it (limits.make_runner/start_site)."""
    async with open_store("sqlite", tmp_path) as store:
        app = create_app(settings, roles=frozenset({"web"}), store=store)
        runner = make_runner(app, shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        await start_site(runner, "127.0.0.1", 0)
        port = runner.addresses[0][1]
        try:
            yield Running(app, f"http://127.0.0.1:{port}", runner)
        finally:
            await runner.cleanup()


def caps(r: Running) -> ConnectionLimits:
    return r.app[LIMITS]


async def until(cond: object, timeout: float = 10.0) -> None:
    """Wait until `cond()` is true (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def connect(r: Running, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = int(r.url.rsplit(":", 1)[1])
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def raw_get(r: Running, source: str, path: str = "/healthz") -> tuple[int, dict[str, str], bytes]:
    """One complete request on a fresh socket; (status, headers, body) read to EOF."""
    reader, writer = await connect(r, source)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """True when the server closes the connection (EOF or reset) within `timeout`."""
    try:
        await asyncio.wait_for(reader.read(), timeout)  # read() returns only at EOF
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def session(source: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, local_addr=(source, 0)))


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


@pytest.mark.realtime  # closed within 2 s
async def test_header_timeout_closes_silent_and_slow_connections(tmp_path: Path) -> None:
    s = Settings()
    s.limits.header_timeout = 0.4
    async with guarded(tmp_path, s) as r:
        silent, _ = await connect(r, ONE)
        slow, slow_w = await connect(r, ONE)
        slow_w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        prompt, prompt_w = await connect(r, ONE)
        prompt_w.write(b"GET /healthz HTTP/1.1\r\n")
        prompt_w.write(b"Host: x\r\n\r\n")
        assert (await prompt.readline()).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert await closed_by_server(silent, 3)
        assert await closed_by_server(slow, 3)
        assert time.monotonic() - started < 2
        # The keep-alive connection that was served: its next request is also held to the timeout.
        prompt_w.write(b"GET /healthz HTTP/1.1\r\nHost:")
        assert await closed_by_server(prompt, 3)
        assert caps(r).rejected["header_timeout"] >= 3
        await until(lambda: caps(r).total == 0)


async def test_per_address_and_global_connection_caps(tmp_path: Path) -> None:
    s = Settings()
    s.limits.connections_per_ip = 3
    s.limits.max_connections = 5
    s.limits.retry_after = 7
    async with guarded(tmp_path, s) as r:
        held = [await connect(r, ONE) for _ in range(3)]
        await until(lambda: caps(r).connections[ONE] == 3)
        status, headers, body = await raw_get(r, ONE, "/api/v1/disruptions")
        assert status == 429 and headers["Retry-After"] == "7"
        assert "too many open connections" in body.decode()
        assert (await raw_get(r, SECOND))[0] == 200  # another address is served
        held += [await connect(r, SECOND) for _ in range(2)]
        await until(lambda: caps(r).total == 5)
        status, headers, body = await raw_get(r, THIRD)
        assert status == 503 and headers["Retry-After"] == "7" and b"connection limit" in body
        for _, writer in held:
            writer.close()
        await until(lambda: caps(r).total == 0)
        assert (await raw_get(r, ONE))[0] == 200  # slots are given back
        assert caps(r).rejected["per_address"] == 1 and caps(r).rejected["global"] == 1


async def test_stream_caps_count_sse_and_websocket_per_address(tmp_path: Path) -> None:
    s = Settings()
    s.limits.streams_per_ip = 2
    async with guarded(tmp_path, s) as r, session(ONE) as one, session(SECOND) as second:
        a = await one.get(r.url + "/api/v1/stream")
        ws = await one.ws_connect(r.url.replace("http", "ws") + "/api/v1/ws")
        assert a.status == 200
        await until(lambda: caps(r).streams[ONE] == 2)
        async with one.get(r.url + "/api/v1/stream") as third:
            assert third.status == 429 and third.headers["Retry-After"] == "5"
            assert "too many open streams" in (await third.json())["error"]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await one.ws_connect(r.url.replace("http", "ws") + "/api/v1/ws")
        assert refused.value.status == 429
        async with second.get(r.url + "/api/v1/stream") as other:
            assert other.status == 200
            async with one.get(r.url + "/api/v1/disruptions") as plain:
                assert plain.status == 200  # only streams are capped at 2
        await ws.close()
        a.close()
        await until(lambda: caps(r).total_streams == 0)
        async with one.get(r.url + "/api/v1/stream") as again:
            assert again.status == 200


@pytest.mark.realtime  # refused within 2 s under 3,000 connections
async def test_3000_slow_connections_from_one_address_are_capped(tmp_path: Path) -> None:
    s = Settings()  # default caps: 100 connections per address
    s.limits.header_timeout = 5
    async with guarded(tmp_path, s) as r:
        gate = asyncio.Semaphore(400)

        async def slowloris() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            async with gate:
                reader, writer = await connect(r, ONE)
                writer.write(b"GET /api/v1/disruptions HTTP/1.1\r\nHost: x\r\nX-a: ")
                return reader, writer

        socks = await asyncio.gather(*(slowloris() for _ in range(3000)))
        await until(lambda: caps(r).accepted + caps(r).rejected["per_address"] == 3000)
        # At most 100 at once; on a loaded machine a few counted ones may already have timed
        # out (5 s) while the rest were still connecting, freeing their slots.
        assert caps(r).connections[ONE] <= 100
        assert caps(r).rejected["per_address"] >= 2800
        async with session(SECOND) as second:
            started = time.monotonic()
            async with second.get(r.url + "/api/v1/disruptions") as resp:
                assert resp.status == 200
            took = time.monotonic() - started
            assert took < 2.0  # a loaded 2-core CI box; typically ~10 ms
            print(f"3000 slow sockets from {ONE}: {SECOND} served in {took * 1000:.0f} ms")
            async with second.get(r.url + "/metrics") as resp:
                text = await resp.text()
        assert metric(text, 'travelinfo_limit{limit="connections_per_ip"}') == 100
        assert metric(text, 'travelinfo_limit{limit="header_timeout_seconds"}') == 5
        assert metric(text, "travelinfo_connections_max_per_address") <= 100
        refused = metric(text, 'travelinfo_connections_rejected_total{reason="per_address"}')
        assert refused == caps(r).rejected["per_address"] >= 2800
        assert metric(text, "travelinfo_connections_accepted_total") == caps(r).accepted
        # Every slow socket is closed by the server: the refused ones within a second, the
        # counted ones at the header timeout.
        closed = await asyncio.gather(*(closed_by_server(rd, 12) for rd, _ in socks))
        assert all(closed)
        for _, writer in socks:
            writer.close()
        await until(lambda: caps(r).total == 0)
        assert caps(r).rejected["header_timeout"] >= 3000


@pytest.mark.realtime  # refused within 2 s under 1,000 streams
async def test_1000_sse_streams_from_one_address_are_capped(tmp_path: Path) -> None:
    s = Settings()  # default caps: 20 streams and 100 connections per address
    s.push.heartbeat = 30
    s.api.rate_per_ip = 0  # the token bucket would refuse most first; this is about concurrency
    async with guarded(tmp_path, s) as r, session(ONE) as one, session(SECOND) as second:
        gate = asyncio.Semaphore(200)

        async def open_stream() -> aiohttp.ClientResponse:
            async with gate:
                return await one.get(r.url + "/api/v1/stream")

        responses = await asyncio.gather(*(open_stream() for _ in range(1000)))
        statuses = [resp.status for resp in responses]
        assert statuses.count(200) == 20 and statuses.count(429) == 980
        assert all(resp.headers["Retry-After"] == "5" for resp in responses if resp.status == 429)
        for resp in responses:
            if resp.status == 429:
                resp.release()
        started = time.monotonic()
        async with second.get(r.url + "/api/v1/stream") as other:
            assert other.status == 200
            assert await other.content.readline() == b"retry: 3000\n"
            took = time.monotonic() - started
            assert took < 2.0  # a loaded 2-core CI box; typically ~10 ms
            print(f"1000 SSE from {ONE}: {SECOND}'s stream opened in {took * 1000:.0f} ms")
            async with second.get(r.url + "/metrics") as resp:
                text = await resp.text()
        assert metric(text, "travelinfo_streams_open") == 21
        assert metric(text, "travelinfo_streams_max_per_address") == 20
        assert metric(text, 'travelinfo_limit{limit="streams_per_ip"}') == 20
        refused = metric(text, 'travelinfo_connections_rejected_total{reason="streams_per_address"}')
        refused += metric(text, 'travelinfo_connections_rejected_total{reason="per_address"}')
        assert refused == 980
        for resp in responses:
            resp.close()
        await until(lambda: caps(r).total_streams == 0)


@pytest.mark.realtime  # cut between 0.2 and 2 s
async def test_idle_keepalive_connection_and_slow_body_are_cut(tmp_path: Path) -> None:
    s = Settings()
    s.limits.idle_timeout = 0.3
    s.limits.body_timeout = 0.3
    s.api.rate_per_ip = 0
    async with guarded(tmp_path, s) as r:
        _, token = await create_key(r.store, "ops", ["notices:write"], "ops")
        reader, writer = await connect(r, ONE)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert await closed_by_server(reader, 3)  # idle after its response
        assert 0.2 < time.monotonic() - started < 2
        # Headers on time, then a body that never completes: 408 JSON, not a held connection.
        reader, writer = await connect(r, ONE)
        writer.write(
            b"POST /api/v1/notices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"upstream_id": '
        )
        data = await asyncio.wait_for(reader.read(), 5)
        assert data.startswith(b"HTTP/1.1 408"), data[:100]
        assert b'"error": "request body not received within 0.3 s"' in data


def test_max_connections_is_held_under_the_open_file_limit(caplog: pytest.LogCaptureFixture) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1000, hard))
        # The soft limit is raised towards what the cap needs (the hard limit here is 20000).
        with caplog.at_level(logging.INFO, logger="travelinfo.runtime.limits"):
            assert fd_capped(12000) == min(12000, hard - FD_RESERVE)
        raised = min(12000 + FD_RESERVE, hard)
        assert f"open-file limit raised from 1000 to {raised}" in caplog.text
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(12000 + FD_RESERVE, hard)
        if hard != resource.RLIM_INFINITY:
            assert fd_capped(hard) == hard - FD_RESERVE  # cannot go past the hard limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_default_caps_let_a_thousand_distinct_clients_in_at_once(tmp_path: Path) -> None:
    s = Settings()  # the defaults: a per-address cap must not turn away distinct clients
    s.api.rate_per_ip = 0
    async with guarded(tmp_path, s) as r:
        sources = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(1000)]
        socks = await asyncio.gather(*(connect(r, src) for src in sources))
        await until(lambda: caps(r).total == 1000)
        assert len(caps(r).connections) == 1000
        for _, writer in socks:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = await asyncio.gather(*(asyncio.wait_for(rd.read(), 10) for rd, _ in socks))
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
        for _, writer in socks:
            writer.close()
        assert sum(caps(r).rejected.values()) == 0
