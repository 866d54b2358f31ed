"""Benchmark: our cached feeds against nginx serving the very same bytes from a file.

Fills a temporary SQLite store from the demo payloads (feeds/*, parsed with the registered
parsers, in replay order), starts the app (web role) on 127.0.0.1, writes the bytes it
serves for each URL to files, starts nginx (1 worker, temp prefix and config) on them, and
in one run measures both with wrk (same threads, connections and duration, no gzip). Then
shows that conditional requests get 304 (and how fast those are served). Our server is run as
`travelinfo web` runs it: connection caps, header timeout and the fast lane in front of aiohttp
(travelinfo/runtime/fastlane.py); the share of our requests the lane answered is printed.

Usage: .venv/bin/python bench/serve.py [--duration 5] [--connections 50]
Targets: ratio (ours / nginx) >= 0.6 for /feeds/disruptions.atom, >= 0.5 for `/` and `/board`.
Ratios are only meaningful on a quiet machine: the load average is printed with them. Where the
per-request time goes: bench/serve_chain.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from travelinfo import app as appmod
from travelinfo.config import Settings, load_settings
from travelinfo.ingest.parsers.base import ParseContext, ParseError, get_parser, load_builtins
from travelinfo.runtime.limits import make_runner, start_site
from travelinfo.store import open_store_from_url

# Each URL and its target ratio (ours / nginx serving the same bytes); None: shown, no target.
TARGETS: dict[str, float | None] = {
    "/feeds/disruptions.atom": 0.6,
    "/": 0.5,
    "/board": 0.5,
    "/gtfs-rt/alerts.pb": None,
    "/map/network.geojson": None,
}
PATHS = list(TARGETS)
NGINX_CONF = """worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  server {{
    listen 127.0.0.1:{port};
    root {prefix}/www;
    location / {{ default_type application/octet-stream; etag on; }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def populate(store_url: str) -> int:
    """Replay every demo folder through its parser into the store; returns the items applied."""
    load_builtins()
    settings = load_settings(ROOT / "config" / "travelinfo.toml", env={})
    store = open_store_from_url(store_url)
    await store.open()
    applied = 0
    try:
        for src in settings.sources:
            folder = ROOT / src.url
            if not folder.is_dir():
                continue
            parse = get_parser(src.type)
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                ctx = ParseContext(src.name, datetime.now(UTC), path.as_uri(), src.options)
                try:
                    batch = parse(path.read_bytes(), ctx)
                except ParseError as exc:
                    print(f"  skip {path.name}: {exc}")
                    continue
                await store.apply(batch)
                applied += len(batch.items)
    finally:
        await store.close()
    return applied


WRK_DONE: list[int] = []  # requests completed by each wrk run, in order


async def wrk(url: str, args: argparse.Namespace, *headers: str) -> float:
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s"]
    for h in headers:
        cmd += ["-H", h]
    proc = await asyncio.create_subprocess_exec(*cmd, url, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await proc.communicate()
    text = out.decode()
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    done = re.search(r"(\d+) requests in", text)
    if not match or not done or ("Non-2xx" in text and not headers):
        raise SystemExit(f"wrk failed on {url}:\n{text}")
    WRK_DONE.append(int(done.group(1)))
    return float(match.group(1))


async def bare_server(bodies: dict[str, bytes]) -> tuple[web.AppRunner, int]:
    """aiohttp with one handler answering each path's bytes from memory: the framework's floor."""

    async def handler(request: web.Request) -> web.Response:
        body = bodies.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/octet-stream")

    bare = web.Application()
    bare.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(bare, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def raw_response(port: int, path: str) -> tuple[bytes, bytes]:
    """Our complete identity response to a plain GET, read off the socket: (head minus Date, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\nContent-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    body = await reader.readexactly(length)
    writer.close()
    lines = [line for line in head[:-4].split(b"\r\n") if not line.lower().startswith(b"date:")]
    return b"\r\n".join(lines) + b"\r\n", body


async def lane_ceiling(responses: dict[str, tuple[bytes, bytes]]) -> tuple[asyncio.Server, int]:
    """What a fast lane in front of aiohttp could reach: an asyncio Protocol with httptools' parser
    writing our complete pre-serialised responses (Date regenerated once a second). Only the hit
    path: no hand-off to aiohttp, no metrics, no limits; a ceiling, not the lane."""
    import httptools  # only this row needs it

    date = [0, b""]
    miss = (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n", b"")

    class Lane(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)
            self.url = b""

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_url(self, url: bytes) -> None:
            self.url = url

        def on_message_complete(self) -> None:
            now = int(time.time())
            if now != date[0]:
                date[0], date[1] = now, b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n\r\n"
            head, body = responses.get(self.url.decode(), miss)
            self.transport.write(head + date[1] + body)  # type: ignore[attr-defined]

    port = free_port()
    server = await asyncio.get_running_loop().create_server(Lane, "127.0.0.1", port)
    return server, port


async def main(args: argparse.Namespace) -> int:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y wrk nginx")
    with tempfile.TemporaryDirectory(prefix="travelinfo-bench-") as tmp:
        prefix = Path(tmp)
        os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user and must read www/
        n = await populate(f"sqlite:///{prefix / 'bench.db'}")
        print(f"store filled from feeds/: {n} parsed items applied")
        settings = Settings()  # no sources, no bootstrap keys: only the web role over the filled store
        settings.store.url = f"sqlite:///{prefix / 'bench.db'}"
        settings.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")  # the board's lines
        app = appmod.create_app(settings, roles=frozenset({"web"}))
        # The runner `travelinfo web` serves with (connection caps, header timeout), access log
        # off as by default.
        runner = make_runner(app, access_log=None)
        await runner.setup()
        lane_table = runner.server.lane  # type: ignore[union-attr]
        if lane_table is None:
            raise SystemExit("the fast lane is off (limits.fast_lane = false)")
        ours = free_port()
        await start_site(runner, "127.0.0.1", ours)
        (prefix / "www").mkdir()
        paths = []
        bodies: dict[str, bytes] = {}
        responses: dict[str, tuple[bytes, bytes]] = {}
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            for path in PATHS:
                async with s.get(
                    f"http://127.0.0.1:{ours}{path}", headers={"Accept-Encoding": "identity"}
                ) as r:
                    if r.status == 404:
                        print(f"{path}: 404 here, skipped")
                        continue
                    body = await r.read()
                    etag = r.headers["ETag"]
                target = prefix / "www" / (path.lstrip("/") or "index.html")  # nginx's index for `/`
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
                paths.append((path, len(body), etag))
                bodies[path] = body
                responses[path] = await raw_response(ours, path)
                assert responses[path][1] == body
                async with s.get(f"http://127.0.0.1:{ours}{path}", headers={"If-None-Match": etag}) as r:
                    print(f"{path}: {len(body)} bytes, conditional GET with its ETag -> {r.status}")
                    assert r.status == 304
        port = free_port()
        (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, port=port))
        nginx = await asyncio.create_subprocess_exec(
            "nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")
        )
        bare_runner, bare_port = await bare_server(bodies)
        lane, lane_port = await lane_ceiling(responses)
        try:
            await asyncio.sleep(0.5)
            print(
                f"wrk -t1 -c{args.connections} -d{args.duration}s, identity encoding, same bytes; "
                f"{args.rounds} alternating rounds, median ratio"
            )
            failed: list[str] = []
            for path, size, etag in paths:
                ratios, mine, theirs, floor, ceiling = [], [], [], [], []
                served = hits = 0
                for _ in range(args.rounds):
                    nginx_rps = await wrk(f"http://127.0.0.1:{port}{path}", args)
                    before = lane_table.hits
                    our_rps = await wrk(f"http://127.0.0.1:{ours}{path}", args)
                    hits += lane_table.hits - before
                    served += WRK_DONE[-1]
                    bare_rps = await wrk(f"http://127.0.0.1:{bare_port}{path}", args)
                    theirs.append(nginx_rps)
                    mine.append(our_rps)
                    floor.append(bare_rps)
                    ceiling.append(await wrk(f"http://127.0.0.1:{lane_port}{path}", args))
                    ratios.append(our_rps / nginx_rps)
                our_304 = await wrk(f"http://127.0.0.1:{ours}{path}", args, f"If-None-Match: {etag}")
                ratio = statistics.median(ratios)
                target = TARGETS[path]
                if target is not None and ratio < target:
                    failed.append(f"{path} {ratio:.2f} < {target}")
                print(
                    f"{path} ({size} B): nginx {statistics.median(theirs):,.0f} req/s, travelinfo "
                    f"{statistics.median(mine):,.0f} req/s, ratio {ratio:.2f} "
                    f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; target "
                    f"{'>= ' + str(target) if target is not None else 'none'}); "
                    f"travelinfo 304s {our_304:,.0f} req/s; "
                    f"fast lane answered {hits / max(served, 1):.1%} of ours"
                )
                bare_median = statistics.median(floor)
                print(
                    f"  bare aiohttp, same bytes: {bare_median:,.0f} req/s, "
                    f"{bare_median / statistics.median(theirs):.2f} of nginx; "
                    f"travelinfo {statistics.median(mine) / bare_median:.2f} of bare aiohttp"
                )
                lane_median = statistics.median(ceiling)
                print(
                    f"  fast-lane ceiling (httptools Protocol, our complete response bytes): "
                    f"{lane_median:,.0f} req/s, {lane_median / statistics.median(theirs):.2f} of nginx"
                )
            load = os.getloadavg()
            print(
                f"{'FAIL: ' + '; '.join(failed) if failed else 'PASS: every target met'} "
                f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})"
            )
            code = 1 if failed else 0
        finally:
            nginx.terminate()
            await asyncio.wait_for(nginx.wait(), 5)
            await bare_runner.cleanup()
            lane.close()
            await runner.cleanup()
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="alternating nginx/travelinfo rounds")
    # The same event loop as `travelinfo web` (uvloop when installed).
    from travelinfo.cli import run_async

    sys.exit(run_async(main(parser.parse_args())))
