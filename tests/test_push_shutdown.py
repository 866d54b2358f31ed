"""SIGTERM with hundreds of push clients connected: `travelinfo web` exits within 2 s."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from pushutil import ROOT, free_port
from waiting import wait_until

CLIENTS = 200


async def subscribers(s: aiohttp.ClientSession, url: str, want: int) -> bool:
    """Whether the server's /metrics gauge counts at least `want` open push subscriptions."""
    async with s.get(url + "/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith("travelinfo_push_subscribers "):
                return float(line.split()[1]) >= want
    return False


async def healthy(s: aiohttp.ClientSession, url: str) -> bool:
    """Whether the server answers /healthz with 200 (False while it is not listening yet)."""
    try:
        async with s.get(url + "/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientConnectionError:
        return False


@pytest.mark.realtime  # exits within 2 s
async def test_sigterm_with_many_streams_exits_within_two_seconds(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "TRAVELINFO_STORE": f"sqlite:///{tmp_path / 's.db'}",
        "TRAVELINFO_API_RATE_PER_IP": "0",
        # every client comes from 127.0.0.1: lift the per-address caps (0: no limit)
        "TRAVELINFO_LIMITS_STREAMS_PER_IP": "0",
        "TRAVELINFO_LIMITS_CONNECTIONS_PER_IP": "0",
    }
    exe = Path(sys.executable).parent / "travelinfo"
    proc = await asyncio.create_subprocess_exec(str(exe), "web", cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            # Start-up (imports) can take well over 10 s on a loaded 2-core machine: the
            # figure under test is the exit, not the start.
            await wait_until(lambda: healthy(s, url), 90, "the server to answer /healthz", interval=0.1)
            streams = await asyncio.gather(*(s.get(url + "/api/v1/stream") for _ in range(CLIENTS)))
            sockets = [await s.ws_connect(url + "/api/v1/ws") for _ in range(20)]
            for ws in sockets:
                await ws.send_json({"subscribe": {}})
            for resp in streams:
                assert resp.status == 200
                assert await resp.content.readline() == b"retry: 3000\n"
            await wait_until(lambda: subscribers(s, url, CLIENTS + 20), 20, "every push client to subscribe")
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 10)
            took = time.monotonic() - start
            for resp in streams:
                resp.close()
        assert code == 0
        assert took < 2.0, f"exit took {took:.2f} s"
        print(f"SIGTERM with {CLIENTS} SSE + 20 WebSocket clients: exit in {took:.2f} s")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
