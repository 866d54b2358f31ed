"""Push fan-out: our SSE stream against a bare aiohttp-sse broadcast, same client count, one run.

    .venv/bin/python bench/push.py [--clients 10000] [--rounds 5] [--web-procs 1] [--items 200]

Each server runs in its own subprocess (so its RSS can be read); the clients run in
CLIENT_PROCS further processes (raw asyncio streams), so the measuring side is not the
bottleneck. Our server is the real app (web role, Redis store with a private key prefix,
the runner `travelinfo web` uses); the bench applies a change to the store (`store.apply`)
and times its arrival at every client. The store holds `--items` current disruptions
before the clients connect (as a live service does), so each client's held ids count in
its memory. Every client sends the head Chromium's EventSource sends (16 headers,
`BROWSER_HEADERS`), to both servers, so the memory per connection counts what a real
browser's request makes a server hold. The baseline is a minimal aiohttp-sse server that
broadcasts one event of the same size to every connected client. Prints p50/p99 of both,
their ratio (target p99 ratio <= 1.2 at 10,000 clients), memory per connection (server RSS
growth / clients, target <= 16 KiB), and the time our server takes to exit on SIGTERM with
every client still connected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
P99_TARGET = 1.2
MEM_TARGET_KIB = 16


# -- servers (run as subprocesses) -------------------------------------------------------------


async def serve_ours(port: int, prefix: str) -> None:
    """The real app, shut down the way `travelinfo web` does it."""

    from travelinfo.app import create_app
    from travelinfo.config import Settings
    from travelinfo.runtime.limits import make_runner, start_site
    from travelinfo.store import open_store_from_url

    s = Settings()
    s.api.rate_per_ip = 0
    s.limits.streams_per_ip = 0  # every bench client is 127.0.0.1
    s.limits.connections_per_ip = 0
    app = create_app(s, roles=frozenset({"web"}), store=open_store_from_url(REDIS_URL, prefix=prefix))
    # The runner and site `travelinfo web` serves with (caps, timeouts, open-file limit raised).
    runner = make_runner(app, shutdown_timeout=0.5, handle_signals=False, access_log=None)
    await runner.setup()
    await start_site(runner, "127.0.0.1", port, shutdown_timeout=0.5)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    from travelinfo.cli import SHUTDOWN_WAIT

    await asyncio.wait_for(runner.cleanup(), SHUTDOWN_WAIT)  # as `travelinfo web` waits


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
    line = await asyncio.wait_for(proc.stdout.readline(), 120)  # imports alone take 30 s on a loaded machine
    assert line.strip() == b"ready", line
    return proc


CLIENT_PROCS = 4  # client side in separate processes: the measuring side is not the bottleneck

# What Chromium's EventSource sends (captured from chromium 156 opening a cross-origin
# EventSource, in its order; "HeadlessChrome" in the User-Agent written as a desktop Chrome's,
# the page's origin a public site's). Both servers get the same head, so the ratio is fair, and
# the memory per connection counts what a real browser's request makes the server hold.
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)
BROWSER_HEADERS = (
    ("Connection", "keep-alive"),
    ("Pragma", "no-cache"),
    ("Cache-Control", "no-cache"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("User-Agent", CHROME_UA),
    ("Accept", "text/event-stream"),
    ("sec-ch-ua", '"Not:A-Brand";v="8", "Chromium";v="156", "Google Chrome";v="156"'),
    ("sec-ch-ua-mobile", "?0"),
    ("Origin", "https://www.trafikinfo.example"),
    ("Sec-Fetch-Site", "cross-site"),
    ("Sec-Fetch-Mode", "cors"),
    ("Sec-Fetch-Dest", "empty"),
    ("Referer", "https://www.trafikinfo.example/"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "sv-SE,sv;q=0.9,en-US;q=0.8,en;q=0.7"),
)


def request_head(port: int, path: str) -> bytes:
    """The head every bench client sends: Host, then the browser's EventSource headers."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in BROWSER_HEADERS]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def client_worker(port: int, path: str, n: int) -> None:
    """One client process: `n` raw SSE connections; answers `wait K` with the K-th arrival times.

    Arrival times are `time.perf_counter()` (CLOCK_MONOTONIC, the same clock in every process
    on Linux), so the parent subtracts its own start stamps from them.
    """
    arrivals: list[list[float]] = [[] for _ in range(n)]
    connected = 0
    all_up = asyncio.Event()
    sem = asyncio.Semaphore(100)  # connect in waves: the listen backlog is finite
    writers: list[asyncio.StreamWriter] = []
    head = request_head(port, path)

    async def one(i: int) -> None:
        nonlocal connected
        async with sem:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
            writer.write(head)
            status = await reader.readline()
            assert b" 200 " in status, status
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
        connected += 1
        if connected == n:
            all_up.set()
        mine = arrivals[i]
        while line := await reader.readline():
            if line.startswith(b"event: created"):
                mine.append(time.perf_counter())

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.wait_for(all_up.wait(), 300)
    print("connected", flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while cmd := (await stdin.readline()).split():
        if cmd[0] != b"wait":
            break
        k = int(cmd[1])
        deadline = time.perf_counter() + 60
        while any(len(a) < k for a in arrivals):
            if time.perf_counter() > deadline:
                missing = sum(len(a) < k for a in arrivals)
                raise SystemExit(f"{missing} clients did not get event {k}")
            await asyncio.sleep(0.005)
        print(json.dumps([a[k - 1] for a in arrivals]), flush=True)
    for t in tasks:
        t.cancel()
    for w in writers:
        w.transport.abort()


class Clients:
    """N SSE connections spread over CLIENT_PROCS client processes."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list[asyncio.subprocess.Process] = []
        self.rounds: list[list[float]] = []

    async def connect(self, ports: list[int], path: str) -> None:
        """Spread the clients over the servers' ports (what a load balancer would do)."""
        procs = CLIENT_PROCS * len(ports)
        share = [self.n // procs + (i < self.n % procs) for i in range(procs)]
        for i, count in enumerate(share):
            port = ports[i % len(ports)]
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", str(port), path, str(count),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT, limit=2**24,
            )  # fmt: skip
            self.procs.append(proc)
        for proc in self.procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 300)
            assert line.strip() == b"connected", line

    async def wait_round(self, k: int) -> list[float]:
        """Arrival times of event `k` (1-based) at every client."""
        times: list[float] = []
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"wait %d\n" % k)
            await proc.stdin.drain()
        for proc in self.procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 180)
            times.extend(json.loads(line))
        assert len(times) == self.n, f"{len(times)} of {self.n} clients answered"
        return times

    async def close(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


async def measure(procs: list[asyncio.subprocess.Process], ports: list[int], path: str, n: int,
                  rounds: int, fire: Any) -> dict[str, Any]:  # fmt: skip
    """Connect `n` clients, fire `rounds` events, return latencies and memory per connection."""
    clients = Clients(n)
    try:
        await asyncio.sleep(0.5)
        before = sum(rss(p.pid) for p in procs)
        t_conn = time.perf_counter()
        await clients.connect(ports, path)
        connect_s = time.perf_counter() - t_conn
        await asyncio.sleep(1.0)
        after = sum(rss(p.pid) for p in procs)
        lat: list[float] = []
        per_event: list[float] = []
        for k in range(rounds):
            t0 = time.perf_counter()
            await fire(k)
            arrived = [t - t0 for t in await clients.wait_round(k + 1)]
            lat.extend(arrived)
            per_event.append(max(arrived))
            await asyncio.sleep(0.3)
        return {"lat": lat, "mem": (after - before) / n, "per_event": per_event, "connect": connect_s,
                "clients": clients}  # fmt: skip
    except BaseException:
        await clients.close()
        raise


async def bench_ours(n: int, rounds: int, servers: int = 1, items: int = 0) -> dict[str, Any]:
    from storeutil import batch, item, redis_cleanup

    from travelinfo.store import open_store_from_url

    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    store = open_store_from_url(REDIS_URL, prefix=prefix)
    await store.open()
    now = datetime.now(UTC)
    held = [
        item(f"h{k}", now, source="held", header=f"Vägarbete {k}", description=PAYLOAD[:300])
        for k in range(items)
    ]
    await store.apply(batch(held, now, source="held", complete=True))
    ports = [free_port() for _ in range(servers)]
    procs = [await start("--serve-ours", str(port), prefix) for port in ports]  # one Redis, N processes

    async def fire(k: int) -> None:
        now = datetime.now(UTC)
        d = item(f"r{k}", now, header="Olycka E4 vid Hallunda", description=PAYLOAD[:600])
        await store.apply(batch([d], now, complete=False))

    try:
        r = await measure(procs, ports, "/api/v1/stream", n, rounds, fire)
        t0 = time.perf_counter()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 120)
        r["exit"] = time.perf_counter() - t0
        r["code"] = max(proc.returncode or 0 for proc in procs)
        await r.pop("clients").close()
        return r
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
        await store.close()
        await redis_cleanup(prefix)


async def bench_bare(n: int, rounds: int) -> dict[str, Any]:
    port = free_port()
    proc = await start("--serve-bare", str(port))

    async def fire(k: int) -> None:
        url = f"http://127.0.0.1:{port}/broadcast"
        async with aiohttp.ClientSession() as session, session.post(url) as resp:
            assert int(await resp.text()) == n

    try:
        r = await measure([proc], [port], "/stream", n, rounds, fire)
        await r.pop("clients").close()
        return r
    finally:
        proc.kill()
        await proc.wait()


def raise_nofile() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(n: int, rounds: int, servers: int, items: int) -> int:
    load = os.getloadavg()
    print(f"{n} SSE clients on {servers} server process(es) on one Redis ({CLIENT_PROCS * servers} client "
          f"processes), {items} current disruptions held by each client, {rounds} events, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    head = request_head(8080, "/api/v1/stream")
    print(f"each client sends a browser's EventSource head: {len(BROWSER_HEADERS) + 1} headers, "
          f"{len(head)} bytes (the same to both servers)")  # fmt: skip
    if servers > 1:
        print(f"baseline: one bare aiohttp-sse process with {n // servers} clients (one process's share)")
    bare = await bench_bare(n // servers, rounds)
    ours = await bench_ours(n, rounds, servers, items)
    ms = 1000
    for name, r in (("bare aiohttp-sse", bare), ("travelinfo /api/v1/stream", ours)):
        lat = r["lat"]
        print(
            f"{name:28} p50 {pct(lat, 50) * ms:7.1f} ms  p99 {pct(lat, 99) * ms:7.1f} ms  "
            f"max {max(lat) * ms:7.1f} ms  memory/connection {r['mem'] / 1024:6.1f} KiB  "
            f"connect all {r['connect']:.1f} s"
        )
        print("  per-event max ms:", " ".join(f"{x * ms:.0f}" for x in r["per_event"]))
    p99 = pct(ours["lat"], 99) / pct(bare["lat"], 99)
    mem = ours["mem"] / 1024
    print(f"ratio ours/bare: p50 {pct(ours['lat'], 50) / pct(bare['lat'], 50):.2f}  "
          f"p99 {p99:.2f} (target <= {P99_TARGET})")  # fmt: skip
    print(f"memory per connection {mem:.1f} KiB (target <= {MEM_TARGET_KIB} KiB)")
    print(f"SIGTERM with {n} clients connected: exit in {ours['exit']:.2f} s (code {ours['code']})")
    ok = p99 <= P99_TARGET and mem <= MEM_TARGET_KIB and n >= 10_000 * servers
    print(f"{'PASS' if ok else 'FAIL'}: p99 ratio {p99:.2f} (<= {P99_TARGET}), {mem:.1f} KiB/connection "
          f"(<= {MEM_TARGET_KIB}), {n} clients (>= 10000)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--web-procs", type=int, default=1, help="our server processes on one Redis")
    ap.add_argument("--items", type=int, default=200, help="current disruptions in the store at connect")
    ap.add_argument("--serve-ours", nargs=2, metavar=("PORT", "PREFIX"))
    ap.add_argument("--serve-bare", metavar="PORT")
    ap.add_argument("--client", nargs=3, metavar=("PORT", "PATH", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    raise_nofile()
    # Both servers on the event loop `travelinfo web` runs (uvloop when installed).
    from travelinfo.runtime.commands import run_async

    if args.serve_ours:
        run_async(serve_ours(int(args.serve_ours[0]), args.serve_ours[1]))
    elif args.serve_bare:
        run_async(serve_bare(int(args.serve_bare)))
    elif args.client:
        asyncio.run(client_worker(int(args.client[0]), args.client[1], int(args.client[2])))
    else:
        sys.exit(asyncio.run(main(args.clients, args.rounds, args.web_procs, args.items)))
