"""Helpers for the webhook tests: a real receiver on loopback, the app on a real port, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import apputil
from aiohttp import web
from apputil import Running
from storeutil import batch, item, redis_cleanup

from travelinfo.api import keys
from travelinfo.config import Settings
from travelinfo.store.base import Change, Store
from travelinfo.webhooks.routes import ENGINE

DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


def documented_verify() -> Callable[..., bool]:
    """The `verify` function exactly as docs/webhooks.md shows it to receivers."""
    snippet = DOCS.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, str(DOCS), "exec"), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def settings_for(kind: str, tmp_path: Path, **webhooks: Any) -> tuple[Settings, str]:
    """Settings on a fresh store of `kind` with tiny backoff values; returns them and the Redis prefix."""
    s, prefix = apputil.fresh_store_settings(kind, tmp_path)
    w = s.webhooks
    w.allow_hosts = ["127.0.0.1"]
    w.backoff_base, w.backoff_max, w.max_age, w.timeout = 0.05, 0.3, 30.0, 2.0
    for name, value in webhooks.items():
        setattr(w, name, value)
    return s, prefix


@asynccontextmanager
async def cleanup_redis(prefix: str) -> AsyncIterator[None]:
    try:
        yield
    finally:
        if prefix:
            await redis_cleanup(prefix)


_QUICK = apputil.quick_engine(ENGINE)


async def start_app(settings: Settings, roles: frozenset[str]) -> Running:
    """The app with delivery intervals shortened for tests."""
    return await apputil.start_app(settings, roles, configure=_QUICK)


def running(settings: Settings, roles: frozenset[str]) -> AbstractAsyncContextManager[Running]:
    """The app with delivery intervals shortened, for the duration of the block."""
    return apputil.serving(settings, roles, configure=_QUICK)


async def make_key(store: Store, scopes: list[str], name: str = "test") -> str:
    _key, token = await keys.create_key(store, name, scopes)
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Hit:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    host: str


Behaviour = Callable[[web.Request, "Receiver"], Awaitable[web.StreamResponse]]


async def accept(_request: web.Request, _r: Receiver) -> web.StreamResponse:
    return web.Response(status=204)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records every request, answers per path."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.hits.append(Hit(request.path, dict(request.headers), body, time.monotonic(), request.host))
        return await self.behaviours.get(request.path, accept)(request, self)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner, self.port = await apputil.serve_loopback(app, self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def seqs(self, path: str, ok_only: bool = False) -> list[str]:
        """Event ids received on `path`, in arrival order."""
        return [h.headers["X-Travelinfo-Event-Id"] for h in self.hits if h.path == path]


@asynccontextmanager
async def receiver(**behaviours: Behaviour) -> AsyncIterator[Receiver]:
    r = Receiver({f"/{k}": v for k, v in behaviours.items()})
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def events(store: Store, n: int, tag: str, **kw: Any) -> list[Change]:
    """Apply `n` delta batches, each creating one disruption; returns the changes in log order."""
    out: list[Change] = []
    for i in range(n):
        now = datetime.now(UTC)
        out += await store.apply(batch([item(f"{tag}-{i}", now, **kw)], now, complete=False))
    return out


async def register(
    client: aiohttp.ClientSession, base: str, token: str, url: str, **extra: Any
) -> dict[str, Any]:
    body = {"url": url, **extra}
    async with client.post(f"{base}/api/v1/webhooks", json=body, headers=auth(token)) as resp:
        data: dict[str, Any] = await resp.json()
        assert resp.status == 201, data
        return data


def first_occurrences(seqs: list[str]) -> list[str]:
    seen: set[str] = set()
    return [s for s in seqs if not (s in seen or seen.add(s))]  # type: ignore[func-returns-value]
