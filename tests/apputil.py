"""Run the real application (or any aiohttp app) on a loopback port against a real store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from storeutil import REDIS_URL

from travelinfo.app import STORE, create_app
from travelinfo.config import Settings
from travelinfo.store.base import Store


@dataclass
class Running:
    """An app serving on 127.0.0.1."""

    app: web.Application
    url: str
    runner: web.AppRunner

    @property
    def store(self) -> Store:
        return self.app[STORE]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_app(
    settings: Settings,
    roles: frozenset[str] = frozenset({"web"}),
    store: Store | None = None,
    configure: Callable[[web.Application], None] | None = None,
) -> Running:
    """Serve create_app(...) on a free port; the app opens and closes the store.

    `configure` may adjust the app before it starts (e.g. shorter engine intervals).
    """
    app = create_app(settings, roles=roles, store=store)
    if configure is not None:
        configure(app)
    runner, port = await serve_loopback(app, shutdown_timeout=0.2)
    settings.web.port = port
    return Running(app, f"http://127.0.0.1:{port}", runner)


async def serve_loopback(
    app: web.Application, port: int = 0, shutdown_timeout: float = 0.1
) -> tuple[web.AppRunner, int]:
    """Serve `app` on 127.0.0.1:`port` (0: a free one) without an access log; the runner and port."""
    runner = web.AppRunner(app, shutdown_timeout=shutdown_timeout, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, runner.addresses[0][1]


def fresh_store_settings(kind: str, tmp_path: Path) -> tuple[Settings, str]:
    """Settings on a fresh, empty store of `kind`; returns them and the Redis prefix ('' for SQLite)."""
    s = Settings()
    prefix = ""
    if kind == "sqlite":
        s.store.url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        s.store.url = f"{REDIS_URL}?prefix={prefix}"
    return s, prefix


def quick_engine(key: web.AppKey[Any]) -> Callable[[web.Application], None]:
    """A `configure` that shortens a delivery engine's intervals (when the app's roles run it)."""

    def configure(app: web.Application) -> None:
        if key in app:
            app[key].refresh = 0.1
            app[key].poll = 0.5

    return configure


@asynccontextmanager
async def serving(
    settings: Settings, roles: frozenset[str], configure: Callable[[web.Application], None] | None = None
) -> AsyncIterator[Running]:
    """start_app(...) for the duration of the block (the app opens the store named in `settings`)."""
    r = await start_app(settings, roles, configure=configure)
    try:
        yield r
    finally:
        await r.stop()


@asynccontextmanager
async def running_app(
    store: Store, settings: Settings | None = None, roles: frozenset[str] = frozenset({"web"})
) -> AsyncIterator[Running]:
    """The app for the duration of the block."""
    r = await start_app(settings or Settings(), roles, store)
    try:
        yield r
    finally:
        await r.stop()
