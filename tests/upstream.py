"""A fake upstream on loopback (the only thing tests fake: the outside network).

It serves a payload with ETag/Last-Modified and can inject faults: timeout, HTTP 500,
429 with Retry-After, a truncated body, an oversize body, garbage. A tiny JSON parser is
registered as format `testjson`, the way an extension would add one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from travelinfo.model import Batch, Disruption, Period, Provenance, compute_status, make_id, parse_time
from travelinfo.parsers.base import ParseContext, ParseError, check_size, register


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
    for row in rows:
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
    return Batch(ctx.source, ctx.fetched_at, tuple(items), complete=doc.get("complete", True))


def payload(*items: tuple[str, str]) -> bytes:
    return json.dumps({"items": [{"id": i, "header": h} for i, h in items]}).encode()


@dataclass
class Upstream:
    """State of the fake upstream: what it serves next, and what it saw."""

    body: bytes = b'{"items": []}'
    fault: str | None = None
    retry_after: str = "7"
    delay: float = 2.0
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        fault = self.fault
        if fault == "timeout":
            await asyncio.sleep(self.delay)
        if fault == "500":
            return web.Response(status=500, text="upstream exploded")
        if fault == "401":
            return web.Response(status=401, text="bad key")
        if fault == "429":
            return web.Response(status=429, headers={"Retry-After": self.retry_after})
        if fault == "truncated":
            resp = web.StreamResponse(headers={"Content-Length": str(len(self.body) + 500)})
            await resp.prepare(request)
            await resp.write(self.body[: len(self.body) // 2])
            assert request.transport is not None
            request.transport.close()
            return resp
        if fault == "oversize":
            return web.Response(body=self.body + b" " * 1_000_000, content_type="application/json")
        if fault == "garbage":
            return web.Response(body=b"\x00\xffnot json at all", content_type="application/json")
        if request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304, headers={"ETag": self.etag})
        return web.Response(body=self.body, content_type="application/json", headers={"ETag": self.etag})


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
    try:
        yield up
    finally:
        await runner.cleanup()
