"""Soak: N SSE clients and a bounded request loop against `travelinfo run` for M minutes.

    .venv/bin/python bench/soak.py [--clients 50] [--minutes 2] [--warmup 30] [--rate 40]

The server is a real `travelinfo run` subprocess (SQLite in a temporary folder) collecting a
replay source whose content changes every poll, so the data and the push stream keep moving.
Prints the server's RSS at start, after warm-up and at the end, its open file descriptors,
requests made, events received and every error. Targets: RSS growth after warm-up < 5 %,
0 errors (exit status 1 otherwise). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from faultfeed import write_replay
from procutil import free_port

PATHS = (
    "/",
    "/?lang=en",
    "/status",
    "/api/v1/disruptions",
    "/api/v1/sources",
    "/feeds/disruptions.atom",
    "/gtfs-rt/alerts.pb",
    "/d/soak:FAULT-STEADY",
)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def write_config(folder: Path, port: int) -> Path:
    feed = write_replay(folder / "feed", steps=300)
    cfg = folder / "travelinfo.toml"
    cfg.write_text(
        f"""
[store]
url = "sqlite:///{folder / "soak.db"}"
expire_interval = "5s"
[web]
port = {port}
[api]
rate_per_ip = 0
[push]
heartbeat = "5s"
[[sources]]
name = "soak"
type = "cap"
url = "{feed}"
interval = "0.5s"
""",
        encoding="utf-8",
    )
    return cfg


def spawn(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "travelinfo.cli", "-c", str(cfg), "run"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.events = 0
        self.errors: list[str] = []

    def error(self, text: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(text)
        else:
            self.errors.append("...")
            del self.errors[50:-1]


async def sse_client(session: aiohttp.ClientSession, url: str, tally: Tally, stop: asyncio.Event) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
    try:
        async with session.get(url, timeout=timeout) as r:
            if r.status != 200:
                tally.error(f"SSE status {r.status}")
                return
            async for line in r.content:
                if line.startswith(b"event: "):
                    tally.events += 1
                if stop.is_set():
                    return
        if not stop.is_set():
            tally.error("SSE stream ended early")
    except (aiohttp.ClientError, TimeoutError) as exc:
        if not stop.is_set():
            tally.error(f"SSE: {type(exc).__name__}: {exc}")


async def request_loop(
    session: aiohttp.ClientSession, base: str, rate: float, tally: Tally, stop: asyncio.Event
) -> None:
    i = 0
    while not stop.is_set():
        started = time.monotonic()
        path = PATHS[i % len(PATHS)]
        i += 1
        headers = {"Accept": "text/html"} if not path.startswith(("/api", "/feeds", "/gtfs")) else {}
        try:
            async with session.get(base + path, headers=headers) as r:
                await r.read()
                tally.requests += 1
                if r.status != 200:
                    tally.error(f"{path}: HTTP {r.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.error(f"{path}: {type(exc).__name__}: {exc}")
        await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))


async def soak(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = Path(tmp)
        port = free_port()
        cfg = write_config(folder, port)
        proc = spawn(cfg, folder / "server.log")
        base = f"http://127.0.0.1:{port}"
        tally = Tally()
        stop = asyncio.Event()
        conn = aiohttp.TCPConnector(limit=args.clients + 16)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as session:
            for _ in range(300):
                try:
                    async with session.get(base + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                print((folder / "server.log").read_text(), file=sys.stderr)
                return 1
            rss_start, fds_start = rss_kib(proc.pid), fds(proc.pid)
            tasks = [
                asyncio.create_task(sse_client(session, base + "/api/v1/stream", tally, stop))
                for _ in range(args.clients)
            ]
            tasks.append(asyncio.create_task(request_loop(session, base, args.rate, tally, stop)))
            t0 = time.monotonic()
            await asyncio.sleep(args.warmup)
            rss_warm, fds_warm = rss_kib(proc.pid), fds(proc.pid)
            samples = [rss_warm]
            while time.monotonic() - t0 < args.minutes * 60:
                await asyncio.sleep(5)
                samples.append(rss_kib(proc.pid))
                if proc.poll() is not None:
                    tally.error(f"server exited with {proc.returncode}")
                    break
            rss_end, fds_end = rss_kib(proc.pid), fds(proc.pid)
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        server_log = (folder / "server.log").read_text()
    growth = 100.0 * (rss_end - rss_warm) / rss_warm if rss_warm else 0.0
    tracebacks = server_log.count("Traceback")
    mib = [f"{v / 1024:.1f} MiB" for v in (rss_start, rss_warm, rss_end)]
    print(f"soak: {args.clients} SSE clients, {args.rate:g} req/s, {args.minutes:g} min")
    print(f"warm-up {args.warmup:g} s")
    print(f"RSS start {mib[0]}, after warm-up {mib[1]}, end {mib[2]}")
    print(f"RSS growth after warm-up {growth:+.2f} % (target < 5 %); max {max(samples) / 1024:.1f} MiB")
    print(f"fds start {fds_start}, after warm-up {fds_warm}, end {fds_end}")
    print(f"requests {tally.requests}, SSE events received {tally.events}, errors {len(tally.errors)}")
    print(f"server exit status {proc.returncode}, tracebacks in its log {tracebacks}")
    for e in tally.errors:
        print("  error:", e)
    ok = growth < 5.0 and not tally.errors and proc.returncode == 0 and not tracebacks
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50, help="SSE clients (default 50)")
    p.add_argument("--minutes", type=float, default=2.0, help="total duration (default 2)")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds before the RSS baseline (default 30)")
    p.add_argument("--rate", type=float, default=40.0, help="requests per second of the loop (default 40)")
    return asyncio.run(soak(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
