"""Where a cached answer's time goes: CPU per request of the app's handler chain, in-process.

bench/serve.py measures the whole server with wrk against nginx; on a shared machine its
ratios swing with the load. This helper measures what our code adds on top of aiohttp, in
CPU time and without the network: for each URL it builds the request aiohttp's protocol would
build, runs the application (router, middleware, handler, cached rendering) and prepares the
response into a null writer, N times, best of R rounds; then the same for a bare aiohttp app
answering the same bytes with aiohttp's minimal headers. The ratio ours / bare is the figure
(1.0 would be nothing on top of aiohttp). `--profile` prints cProfile's top functions per URL.

Usage: .venv/bin/python bench/serve_chain.py [--requests 2000] [--rounds 6] [--profile] [URL...]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serve import PATHS, populate

from travelinfo import app as appmod
from travelinfo.config import Settings

HEADERS = (("Host", "127.0.0.1"), ("User-Agent", "wrk"), ("Accept", "*/*"))


class NullWriter:
    """A payload writer that sends nothing (the network is not what this measures)."""

    buffer_size = 0
    output_size = 0

    async def write_headers(self, *_: Any) -> None: ...
    async def write(self, *_: Any) -> None: ...
    async def write_eof(self, *_: Any) -> None: ...
    async def drain(self) -> None: ...
    def enable_compression(self, *_: Any) -> None: ...
    def enable_chunking(self) -> None: ...
    def send_headers(self, *_: Any) -> None: ...


class Transport:
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def is_closing(self) -> bool:
        return False


class Protocol:
    transport = Transport()
    ssl_context = None
    peername = ("127.0.0.1", 40000)
    sockname = ("127.0.0.1", 8080)

    def is_connected(self) -> bool:
        return True


def maker(app: web.Application) -> Callable[[str], web.BaseRequest]:
    task, writer, proto = asyncio.current_task(), NullWriter(), Protocol()
    headers = CIMultiDictProxy(CIMultiDict(HEADERS))
    raw = tuple((k.encode(), v.encode()) for k, v in HEADERS)

    def make(path: str) -> web.BaseRequest:
        msg = RawRequestMessage(
            "GET", path, HttpVersion11, headers, raw, False, None, False, False, URL(path)
        )
        return app._make_request(msg, EMPTY_PAYLOAD, proto, writer, task)  # type: ignore[arg-type]

    return make


async def serve_one(app: web.Application, make: Callable[[str], web.BaseRequest], path: str) -> int:
    request = make(path)
    resp = await app._handle(request)  # type: ignore[arg-type]
    await resp.prepare(request)
    await resp.write_eof()
    return resp.status


async def per_request(app: web.Application, path: str, n: int, rounds: int) -> float:
    """Best CPU microseconds per request over `rounds` rounds of `n`."""
    make = maker(app)
    status = await serve_one(app, make, path)
    if status != 200:
        raise SystemExit(f"{path}: {status}")
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(n):
            await serve_one(app, make, path)
        best = min(best, time.process_time() - t0)
    return best / n * 1e6


async def profile(app: web.Application, path: str, n: int) -> str:
    make = maker(app)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        await serve_one(app, make, path)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def bare_app(bodies: dict[str, bytes]) -> web.Application:
    app = web.Application()
    for path, body in bodies.items():

        async def answer(request: web.Request, body: bytes = body) -> web.Response:
            return web.Response(body=body, content_type="application/octet-stream")

        app.router.add_get(path.split("?")[0], answer)
    return app


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="travelinfo-chain-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        await populate(url)
        settings = Settings()
        settings.store.url = url
        settings.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
        app = appmod.create_app(settings, roles=frozenset({"web"}))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        make = maker(app)
        bodies = {}
        for path in args.paths:
            request = make(path)
            resp = await app._handle(request)  # type: ignore[arg-type]
            bodies[path] = getattr(resp, "body", b"") or b""
        bare = bare_app(bodies)
        bare_runner = web.AppRunner(bare, access_log=None)
        await bare_runner.setup()
        print(
            f"CPU per request, handler chain and headers, no network; best of {args.rounds} x {args.requests}"
        )
        for path in args.paths:
            ours = await per_request(app, path, args.requests, args.rounds)
            base = await per_request(bare, path, args.requests, args.rounds)
            print(
                f"{path}: travelinfo {ours:.1f} us, bare aiohttp {base:.1f} us, ours / bare {ours / base:.2f}"
            )
            if args.profile:
                print(await profile(app, path, args.requests))
        load = os.getloadavg()
        print(f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
        await bare_runner.cleanup()
        await runner.cleanup()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions per URL")
    parser.add_argument("paths", nargs="*", default=PATHS)
    from travelinfo.cli import run_async

    sys.exit(run_async(main(parser.parse_args())))
