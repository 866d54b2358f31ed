"""Run the real application on a loopback port against a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

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
    runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    settings.web.port = port
    return Running(app, f"http://127.0.0.1:{port}", runner)


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
