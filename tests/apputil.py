"""Run the real application on a loopback port against a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from travelinfo.app import create_app
from travelinfo.config import Settings
from travelinfo.store.base import Store


@dataclass
class Running:
    app: web.Application
    url: str


@asynccontextmanager
async def running_app(
    store: Store, settings: Settings | None = None, roles: frozenset[str] = frozenset({"web"})
) -> AsyncIterator[Running]:
    """Serve create_app(...) on 127.0.0.1 (free port); the store is opened/closed by the app."""
    settings = settings or Settings()
    app = create_app(settings, roles=roles, store=store)
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings.web.port = port
    try:
        yield Running(app, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
