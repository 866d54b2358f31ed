"""Push fan-out: our SSE stream against a bare aiohttp-sse broadcast, same client count, one run.

    .venv/bin/python bench/push.py [--clients 2000] [--rounds 5]

Each server runs in its own subprocess (so its RSS can be read). Our server is the real app
(web role, Redis store with a private key prefix); the bench applies a change to the store
(`store.apply`) and times its arrival at every client. The baseline is a minimal aiohttp-sse
server that broadcasts one event of the same size to every connected client. Prints p50/p99
of both, their ratio (target p99 ratio <= 1.5), memory per connection, and the time our
server takes to exit on SIGTERM with every client still connected.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PAYLOAD = "x" * 1000  # about the size of one disruption's JSON


# -- servers (run as subprocesses) -------------------------------------------------------------


async def serve_ours(port: int, prefix: str) -> None:
    """The real app, shut down the way `travelinfo web` does it."""
    from aiohttp import web

    from travelinfo.app import create_app
    from travelinfo.config import Settings
    from travelinfo.store import open_store_from_url

    s = Settings()
    s.api.rate_per_ip = 0
    s.limits.streams_per_ip = 0  # every bench client is 127.0.0.1
    app = create_app(s, roles=frozenset({"web"}), store=open_store_from_url(REDIS_URL, prefix=prefix))
    runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, shutdown_timeout=0.5, backlog=4096).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await asyncio.wait_for(runner.cleanup(), 5)


async def serve_bare(port: int) -> None:
    """A minimal aiohttp-sse server broadcasting each POST /broadcast to every client."""
    from aiohttp import web
    from aiohttp_sse import sse_response

    queues: set[asyncio.Queue[str]] = set()

    async def stream(request: web.Request) -> web.StreamResponse:
        q: asyncio.Queue[str] = asyncio.Queue()
        queues.add(q)
        try:
            async with sse_response(request) as resp:
                while resp.is_connected():
                    await resp.send(await q.get(), event="created")
        finally:
            queues.discard(q)
        return resp

    async def broadcast(request: web.Request) -> web.Response:
        for q in queues:
            q.put_nowait(PAYLOAD)
        return web.Response(text=str(len(queues)))

    app = web.Application()
    app.router.add_get("/stream", stream)
    app.router.add_post("/broadcast", broadcast)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


# -- client side -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss(pid: int) -> int:
    """Resident set size of `pid` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def start(*args: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"ready", line
    return proc


class Clients:
    """N SSE connections in this process; records when each receives its k-th `created` event."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.received: list[list[float]] = [[] for _ in range(n)]
        self.tasks: list[asyncio.Task[None]] = []
        self.connected = 0

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        ready = asyncio.Event()

        async def one(i: int, up: asyncio.Event) -> None:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
                assert resp.status == 200, resp.status
                self.connected += 1
                up.set()
                if self.connected == self.n:
                    ready.set()
                async for line in resp.content:
                    if line.startswith(b"event: created"):
                        self.received[i].append(time.perf_counter())

        sem = asyncio.Semaphore(200)  # connect in waves: the listen backlog is finite

        async def gated(i: int) -> None:
            up = asyncio.Event()
            async with sem:
                task = asyncio.create_task(one(i, up))
                self.tasks.append(task)
                await asyncio.wait([task, asyncio.create_task(up.wait())], return_when="FIRST_COMPLETED")
            await task

        runners = [asyncio.create_task(gated(i)) for i in range(self.n)]
        self.tasks.extend(runners)
        await asyncio.wait_for(ready.wait(), 120)

    async def wait_round(self, k: int, timeout: float = 30) -> None:
        deadline = time.perf_counter() + timeout
        while any(len(r) < k for r in self.received):
            if time.perf_counter() > deadline:
                missing = sum(len(r) < k for r in self.received)
                raise TimeoutError(f"{missing} clients did not get event {k}")
            await asyncio.sleep(0.005)

    def latencies(self, starts: list[float]) -> list[float]:
        return [r[k] - t0 for r in self.received for k, t0 in enumerate(starts)]

    def close(self) -> None:
        for t in self.tasks:
            t.cancel()


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


async def bench_ours(n: int, rounds: int) -> dict[str, Any]:
    from storeutil import batch, item, redis_cleanup

    from travelinfo.store import open_store_from_url

    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    port = free_port()
    proc = await start("--serve-ours", str(port), prefix)
    store = open_store_from_url(REDIS_URL, prefix=prefix)
    await store.open()
    clients = Clients(n)
    try:
        await asyncio.sleep(0.5)
        before = rss(proc.pid)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await clients.connect(session, f"http://127.0.0.1:{port}/api/v1/stream")
            await asyncio.sleep(1.0)
            after = rss(proc.pid)
            starts = []
            for k in range(rounds):
                now = datetime.now(UTC)
                d = item(f"r{k}", now, header="Olycka E4 vid Hallunda", description=PAYLOAD[:600])
                starts.append(time.perf_counter())
                await store.apply(batch([d], now, complete=False))
                await clients.wait_round(k + 1)
                await asyncio.sleep(0.3)
            t0 = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
            exit_s = time.perf_counter() - t0
            clients.close()
        lat = clients.latencies(starts)
        return {"lat": lat, "mem": (after - before) / n, "exit": exit_s, "code": proc.returncode}
    finally:
        if proc.returncode is None:
            proc.kill()
        await store.close()
        await redis_cleanup(prefix)


async def bench_bare(n: int, rounds: int) -> dict[str, Any]:
    port = free_port()
    proc = await start("--serve-bare", str(port))
    clients = Clients(n)
    try:
        await asyncio.sleep(0.5)
        before = rss(proc.pid)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await clients.connect(session, f"http://127.0.0.1:{port}/stream")
            await asyncio.sleep(1.0)
            after = rss(proc.pid)
            starts = []
            for k in range(rounds):
                starts.append(time.perf_counter())
                async with session.post(f"http://127.0.0.1:{port}/broadcast") as resp:
                    assert int(await resp.text()) == n
                await clients.wait_round(k + 1)
                await asyncio.sleep(0.3)
            clients.close()
        return {"lat": clients.latencies(starts), "mem": (after - before) / n}
    finally:
        proc.kill()
        await proc.wait()


async def main(n: int, rounds: int) -> None:
    print(f"{n} SSE clients in one process, {rounds} events each, {os.cpu_count()} CPUs")
    bare = await bench_bare(n, rounds)
    ours = await bench_ours(n, rounds)
    ms = 1000
    for name, r in (("bare aiohttp-sse", bare), ("travelinfo /api/v1/stream", ours)):
        lat = r["lat"]
        print(
            f"{name:28} p50 {pct(lat, 50) * ms:7.1f} ms  p99 {pct(lat, 99) * ms:7.1f} ms  "
            f"max {max(lat) * ms:7.1f} ms  memory/connection {r['mem'] / 1024:6.1f} KiB"
        )
    for name, r in (("bare", bare), ("ours", ours)):
        per = [sorted(r["lat"][k::rounds]) for k in range(rounds)]
        print(f"  {name} per-event max ms:", " ".join(f"{max(x) * ms:.0f}" for x in per))
    print(f"ratio ours/bare: p50 {pct(ours['lat'], 50) / pct(bare['lat'], 50):.2f}  "
          f"p99 {pct(ours['lat'], 99) / pct(bare['lat'], 99):.2f}  (target p99 <= 1.5)")  # fmt: skip
    print(f"SIGTERM with {n} clients connected: exit in {ours['exit']:.2f} s (code {ours['code']})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--serve-ours", nargs=2, metavar=("PORT", "PREFIX"))
    ap.add_argument("--serve-bare", metavar="PORT")
    args = ap.parse_args()
    if args.serve_ours:
        asyncio.run(serve_ours(int(args.serve_ours[0]), args.serve_ours[1]))
    elif args.serve_bare:
        asyncio.run(serve_bare(int(args.serve_bare)))
    else:
        asyncio.run(main(args.clients, args.rounds))
