"""A fake upstream on loopback (the only thing tests fake: the outside network).

It serves a payload with an ETag (honouring If-None-Match) and can inject faults: timeout
(hang), a 1 B/s drip, HTTP 500, 503/429 with Retry-After, 401, a truncated body, an oversize
body with or without Content-Length, a gzip bomb, a redirect loop, a redirect to another
server, garbage, an unconditional 304, and a refused connection (`refuse()`/`listen()`).
A tiny JSON parser is registered as format `testjson`, the way an extension would add one.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from travelinfo.ingest.parsers.base import ParseContext, ParseError, check_size, register
from travelinfo.model import Batch, Disruption, Period, Provenance, compute_status, make_id, parse_time


@register("testjson")
def parse_testjson(data: bytes, ctx: ParseContext) -> Batch:
    """`{"items": [{"id", "header", "severity"?, "start"?}]}` -> disruptions (tests only)."""
    check_size(data, ctx)
    try:
        doc = json.loads(data)
        rows = doc["items"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"not a testjson payload: {exc}") from None
    items = []
    skipped, skip_reason = 0, None
    for row in rows:
        if not row.get("header"):
            skipped += 1
            skip_reason = skip_reason or f"item {row.get('id')!r} has no header"
            continue
        periods = (Period(parse_time(row["start"])),) if row.get("start") else ()
        items.append(
            Disruption(
                id=make_id(ctx.source, row["id"]),
                source=ctx.source,
                source_type="manual",
                upstream_id=row["id"],
                updated_at=ctx.fetched_at,
                first_seen=ctx.fetched_at,
                last_seen=ctx.fetched_at,
                status=compute_status(periods, ctx.fetched_at),
                modes=tuple(row.get("modes", ["road"])),
                header={"sv": row["header"]},
                severity=row.get("severity", "WARNING"),
                periods=periods,
                provenance=Provenance(ctx.fetched_at, ctx.url),
            )
        )
    return Batch(
        ctx.source,
        ctx.fetched_at,
        tuple(items),
        complete=doc.get("complete", True),
        skipped=skipped,
        skip_reason=skip_reason,
    )


def payload(*items: tuple[str, str]) -> bytes:
    return json.dumps({"items": [{"id": i, "header": h} for i, h in items]}).encode()


@dataclass
class Upstream:
    """State of the fake upstream: what it serves next, and what it saw."""

    body: bytes = b'{"items": []}'
    fault: str | None = None
    retry_after: str = "7"
    delay: float = 2.0
    redirect_to: str = ""
    content_type: str = "application/json"
    requests: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""
    port: int = 0
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'

    async def refuse(self) -> None:
        """Stop listening: connections are refused until `listen()`."""
        assert self._site is not None and self._runner is not None
        await self._site.stop()
        self._site = None
        server = self._runner.server
        for conn in list(server.connections if server else ()):  # kept-alive ones too
            conn.force_close()

    async def listen(self) -> None:
        """Listen again on the same port."""
        if self._site is None and self._runner is not None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
            await self._site.start()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        self.paths.append(request.path_qs)
        fault = self.fault
        if fault == "timeout":
            await asyncio.sleep(self.delay)  # about time: an upstream slower than the timeout
        if fault == "drip":
            resp = web.StreamResponse(headers={"Content-Length": str(len(self.body)), "ETag": self.etag})
            await resp.prepare(request)
            for i in range(len(self.body)):
                await resp.write(self.body[i : i + 1])
                await asyncio.sleep(1.0)  # about time: one byte a second outlives any timeout
            return resp
        if fault == "500":
            return web.Response(status=500, text="upstream exploded")
        if fault == "401":
            return web.Response(status=401, text="bad key")
        if fault in ("429", "503"):
            return web.Response(status=int(fault), headers={"Retry-After": self.retry_after})
        if fault == "truncated":
            resp = web.StreamResponse(headers={"Content-Length": str(len(self.body) + 500)})
            await resp.prepare(request)
            await resp.write(self.body[: len(self.body) // 2])
            assert request.transport is not None
            request.transport.close()
            return resp
        if fault == "oversize":
            return web.Response(body=self.body + b" " * 1_000_000, content_type=self.content_type)
        if fault == "oversize-chunked":
            resp = web.StreamResponse(headers={"Content-Type": self.content_type})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for _ in range(64):
                await resp.write(b" " * 16384)
            return resp
        if fault == "gzip-bomb":
            return web.Response(body=gzip_bomb(), headers={"Content-Encoding": "gzip", "ETag": '"bomb"'})
        if fault == "redirect-loop":
            n = int(request.query.get("hop", "0")) + 1
            return web.Response(status=302, headers={"Location": f"/feed?hop={n}"})
        if fault == "redirect" and "moved" not in request.query:
            return web.Response(status=302, headers={"Location": self.redirect_to})
        if fault == "always-304":
            return web.Response(status=304, headers={"ETag": self.etag})
        if fault == "garbage":
            return web.Response(body=b"\x00\xffnot json at all", content_type=self.content_type)
        if request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304, headers={"ETag": self.etag})
        return web.Response(body=self.body, content_type=self.content_type, headers={"ETag": self.etag})


@functools.cache
def gzip_bomb() -> bytes:
    """16 MiB of zeros in about 16 KB: what a hostile upstream sends as `Content-Encoding: gzip`."""
    return gzip.compress(b"\0" * (16 << 20), compresslevel=9)


@asynccontextmanager
async def serve_upstream(upstream: Upstream | None = None) -> AsyncIterator[Upstream]:
    """Run the fake upstream on 127.0.0.1 (a free port) for the duration of the block."""
    up = upstream or Upstream()
    app = web.Application()
    app.router.add_get("/feed", up.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    up.url = f"http://127.0.0.1:{port}/feed"
    up.port, up._runner, up._site = port, runner, site
    try:
        yield up
    finally:
        await runner.cleanup()
