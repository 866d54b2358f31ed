"""SSE over a real server and real stores: resume, reset, filters, heartbeats, two processes."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import Running, running_app
from pushutil import hub_caught_up, read_events
from storeutil import REDIS_URL, batch, item, open_store, redis_cleanup
from waiting import streams_ready, subscribed, wait_until

from travelinfo.app import HUB
from travelinfo.config import Settings
from travelinfo.store.base import Store

NOW = datetime.now(UTC).replace(microsecond=0)
KINDS = ["sqlite", "redis"]


@pytest.fixture(params=KINDS)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Running, Store]]:
    async with open_store(request.param, tmp_path, log_retention=3600) as store:
        s = Settings()
        s.api.rate_per_ip = 0
        s.push.heartbeat = 0.3
        async with running_app(store, s) as r:
            await hub_caught_up(r.app)
            yield r, store


def items(n: int, severity: str = "WARNING", at: datetime = NOW) -> list:
    return [item(f"i{k}", at, header=f"Händelse {k} {severity}", severity=severity) for k in range(n)]


async def test_events_then_resume_gets_exactly_the_missed_ones(served: tuple[Running, Store]) -> None:
    r, store = served
    async with aiohttp.ClientSession() as s:
        async with s.get(r.url + "/api/v1/stream") as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            await subscribed(r.app[HUB], 1)
            await store.apply(batch(items(2), NOW, complete=False))
            got = await read_events(resp, 2)
        assert [(e.event, e.data["id"]) for e in got] == [("created", "demo:i0"), ("created", "demo:i1")]
        assert [e.id for e in got] == [e.data["seq"] for e in got]
        # Disconnected: three more changes happen.
        missed = await store.apply(batch(items(3, "SEVERE", NOW + timedelta(minutes=1)), NOW, complete=False))
        assert len(missed) == 3
        last = got[-1].id
        async with s.get(r.url + "/api/v1/stream", headers={"Last-Event-ID": last}) as resp:
            replay = await read_events(resp, 3)
            await store.apply(batch([item("new", NOW)], NOW, complete=False))
            live = await read_events(resp, 1)
        assert [(e.id, e.event, e.data["id"]) for e in replay] == [(c.seq, c.type, c.id) for c in missed]
        assert live[0].event == "created" and live[0].data["id"] == "demo:new"
        # ?since= does the same as the header.
        async with s.get(r.url + f"/api/v1/stream?since={last}") as resp:
            again = await read_events(resp, 4)
        assert [e.id for e in again] == [e.id for e in replay + live]


async def test_gap_older_than_the_log_gives_reset(tmp_path: Path) -> None:
    for kind in KINDS:
        async with open_store(kind, tmp_path / kind, log_retention=1) as store:
            (tmp_path / kind).mkdir(exist_ok=True)
            first = await store.apply(batch(items(2), NOW, complete=False))
            await store.apply(batch(items(3, "SEVERE"), NOW, complete=False))
            await store.expire(datetime.now(UTC) + timedelta(seconds=5))  # trims the log
            s = Settings()
            s.api.rate_per_ip = 0
            async with running_app(store, s) as r, aiohttp.ClientSession() as c:
                url = r.url + f"/api/v1/stream?since={first[0].seq}"
                async with c.get(url) as resp:
                    (reset,) = await read_events(resp, 1)
                last = await store.last_seq()
            assert reset.event == "reset", kind
            assert sorted(d["id"] for d in reset.data["disruptions"]) == [f"demo:i{k}" for k in range(3)]
            assert reset.id == last


async def test_filters_and_leaving_the_filter_ends(served: tuple[Running, Store]) -> None:
    r, store = served
    base = r.app[HUB].subscribers
    await store.apply(batch(items(2, "SEVERE"), NOW, complete=False))
    await hub_caught_up(r.app)
    async with aiohttp.ClientSession() as s:
        url = r.url + "/api/v1/stream?severity=SEVERE&snapshot=1&lang=sv"
        async with s.get(url) as resp:
            (snap,) = await read_events(resp, 1)
            assert snap.event == "snapshot"
            assert sorted(d["id"] for d in snap.data["disruptions"]) == ["demo:i0", "demo:i1"]
            # i0 lowered below the client's minimum -> ended for it; a WARNING newcomer is not sent;
            # a SEVERE newcomer is; a road-mode filter elsewhere would not see a bus item.
            lowered = items(1, "WARNING", NOW + timedelta(minutes=1))
            await store.apply(batch(lowered, NOW, complete=False))
            await store.apply(batch([item("w", NOW, severity="WARNING")], NOW, complete=False))
            await store.apply(batch([item("s", NOW, severity="SEVERE")], NOW, complete=False))
            got = await read_events(resp, 2)
        assert [(e.event, e.data["id"]) for e in got] == [("ended", "demo:i0"), ("created", "demo:s")]
        assert got[0].data["disruption"]["severity"] == "WARNING"
        # i0 raised again: it enters the filter -> created for this client.
        # The first stream is gone (noticed at the latest on its next heartbeat) and the second attached.
        await wait_until(lambda: r.app[HUB].subscribers == base, what="the first stream to detach")
        async with s.get(r.url + "/api/v1/stream?severity=SEVERE&mode=road") as resp:
            await subscribed(r.app[HUB], base + 1)
            await streams_ready(r.app, 1)  # i0 raised before this would already be held: `updated`
            await store.apply(batch(items(1, "SEVERE", NOW + timedelta(minutes=2)), NOW, complete=False))
            await store.apply(batch([item("b", NOW, severity="SEVERE", modes=("bus",))], NOW, complete=False))
            await store.apply(batch([], NOW, ended=["demo:s"], complete=False))
            got = await read_events(resp, 2)
        assert [(e.event, e.data["id"]) for e in got] == [("created", "demo:i0"), ("ended", "demo:s")]


async def test_retry_hint_heartbeat_and_bad_parameters(served: tuple[Running, Store]) -> None:
    r, _ = served
    async with aiohttp.ClientSession() as s:
        async with s.get(r.url + "/api/v1/stream") as resp:
            assert await resp.content.readline() == b"retry: 3000\n"
            await resp.content.readline()
            line = await asyncio.wait_for(resp.content.readline(), 2)
            assert line == b": heartbeat\n"
        for query, param in (("severity=LOW", "severity"), ("since=abc", "since"), ("limit=5", "limit")):
            async with s.get(r.url + "/api/v1/stream?" + query) as resp:
                assert resp.status == 400
                assert (await resp.json())["parameter"] == param


async def test_fan_out_uses_one_hub_subscription_per_client(served: tuple[Running, Store]) -> None:
    r, store = served
    hub = r.app[HUB]
    base = hub.subscribers
    async with aiohttp.ClientSession() as s:
        resps = [await s.get(r.url + "/api/v1/stream") for _ in range(20)]
        await subscribed(hub, base + 20)
        assert hub.subscribers == base + 20
        await store.apply(batch(items(1), NOW, complete=False))
        for resp in resps:
            (ev,) = await read_events(resp, 1)
            assert ev.event == "created"
            resp.close()


@pytest.mark.redis
async def test_change_applied_by_another_process_reaches_the_stream(tmp_path: Path) -> None:
    async with open_store("redis", tmp_path) as store:
        prefix = store.p  # type: ignore[attr-defined]
        s = Settings()
        s.api.rate_per_ip = 0
        script = (
            "import asyncio, sys\n"
            "sys.path.insert(0, 'tests')\n"
            "from datetime import UTC, datetime\n"
            "from storeutil import batch, item\n"
            "from travelinfo.store import open_store_from_url\n"
            "async def main():\n"
            f"    st = open_store_from_url({REDIS_URL!r}, prefix={prefix!r})\n"
            "    await st.open()\n"
            "    now = datetime.now(UTC)\n"
            "    await st.apply(batch([item('other', now, header='Från en annan process')], now))\n"
            "    await st.close()\n"
            "asyncio.run(main())\n"
        )
        url = "/api/v1/stream?mode=road"
        async with running_app(store, s) as r, aiohttp.ClientSession() as c, c.get(r.url + url) as resp:
            await subscribed(r.app[HUB], 1)
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
            assert await asyncio.wait_for(proc.wait(), 20) == 0
            (ev,) = await read_events(resp, 1)
        assert ev.event == "created" and ev.data["id"] == "demo:other"
        assert ev.data["disruption"]["header"] == {"sv": "Från en annan process"}
        await redis_cleanup(prefix)


@pytest.mark.slow  # 8 MB through two streams: about a minute on a loaded 2-core machine
async def test_a_client_that_stops_reading_holds_back_nobody_and_loses_nothing(tmp_path: Path) -> None:
    """Hostile client: it sends the request, then reads nothing while 8 MB of events pass
    (more than the loopback buffers hold). The others get every event at once; the stalled
    stream waits on its socket (backpressure) and, once it reads, gets every event in order,
    none twice."""
    async with open_store("sqlite", tmp_path) as store:
        s = Settings()
        s.api.rate_per_ip = 0
        async with running_app(store, s) as r, aiohttp.ClientSession() as c:
            await hub_caught_up(r.app)
            host, port = r.url.removeprefix("http://").split(":")
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a few events
            sock.connect((host, int(port)))
            sock.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=sock, limit=2**14)  # stops reading early
            writer.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            async with c.get(r.url + "/api/v1/stream") as fast:
                await subscribed(r.app[HUB], 2)
                await streams_ready(r.app, 2)
                big = "x" * 80_000
                changes = []
                for k in range(100):
                    d = item(f"big{k}", NOW, header=f"Stor händelse {k}", description=big)
                    changes += await store.apply(batch([d], NOW, complete=False))
                got = await read_events(fast, 100, timeout=30)
            assert [e.id for e in got] == [c.seq for c in changes]
            # The stalled stream is waiting on its socket with changes still pending for it.
            assert any(sub.queue.qsize() > 0 for sub in r.app[HUB]._subs)
            slow = []
            buf = b""
            while len(slow) < 100:  # now read what the stalled stream was sent
                buf += await asyncio.wait_for(reader.read(65536), 30)
                slow = [line[4:].decode() for line in buf.split(b"\n") if line.startswith(b"id: ")]
            assert slow == [c.seq for c in changes]
            writer.close()
