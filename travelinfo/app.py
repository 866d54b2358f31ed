"""The aiohttp application factory: typed AppKeys, every resource in cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from travelinfo.config import Settings
from travelinfo.ingest.collectors import parse_pool
from travelinfo.ingest.worker import Worker
from travelinfo.push.hub import ChangeHub
from travelinfo.runtime.server import RenderCache, errors_middleware
from travelinfo.runtime.stale import STALE, StaleCache
from travelinfo.store import make_store
from travelinfo.store.base import Store

log = logging.getLogger("travelinfo.app")

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
SESSION = web.AppKey("session", aiohttp.ClientSession)
HUB = web.AppKey("hub", ChangeHub)
CACHE = web.AppKey("cache", RenderCache)
ROLES = web.AppKey("roles", frozenset)
WORKER = web.AppKey("worker", Worker)
# Set when a background task died of an error: `travelinfo run/web/worker` then exit non-zero
# so a supervisor restarts them (store faults are retried inside the tasks; this is for bugs).
FAILED = web.AppKey("failed", asyncio.Event)

# Built-in publishers register exactly as an extension would: a module with `setup(app)`.
PUBLISHERS = [
    "travelinfo.health",
    "travelinfo.api.routes",
    "travelinfo.notices.routes",
    "travelinfo.push.routes",
    "travelinfo.webhooks.routes",
    "travelinfo.gtfsrt.routes",
    "travelinfo.feeds.routes",
    "travelinfo.standards.routes",
    "travelinfo.web.routes",
    "travelinfo.bot.runner",
]


def _background(
    name: str, make: Callable[[web.Application], Coroutine[Any, Any, None]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that runs a coroutine for the app's lifetime and cancels it at shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = start_task(app, name, make(app))
        yield
        await stop_task(task)

    return ctx


def start_task(app: web.Application, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run `coro` as a task whose death by an error is logged and fails the process."""
    task = asyncio.create_task(coro, name=name)

    def done(t: asyncio.Task[None]) -> None:
        if t.cancelled() or t.exception() is None:
            return
        log.critical("background task %s died; the process stops", t.get_name(), exc_info=t.exception())
        app[FAILED].set()

    task.add_done_callback(done)
    return task


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel a task started by start_task; its own error was logged when it died."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
        await asyncio.wait_for(task, 1.0)


def add_background(
    app: web.Application, name: str, make: Callable[[web.Application], Coroutine[Any, Any, None]]
) -> None:
    """Publishers use this for their long-running tasks (delivery, bot, export)."""
    app.cleanup_ctx.append(_background(name, make))


async def _resources(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.open()
    session = aiohttp.ClientSession(
        headers={"User-Agent": "travelinfo/0.1 (+https://github.com/travelinfo)"},
        timeout=aiohttp.ClientTimeout(total=60),
    )
    app[SESSION] = session
    yield
    await session.close()
    await store.close()


def create_app(
    settings: Settings,
    *,
    roles: frozenset[str] = frozenset({"web", "worker"}),
    store: Store | None = None,
) -> web.Application:
    """The application for the given roles: `web`, `worker`, `deliver`, `bot` (any mix)."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=settings.api.max_body)
    app[SETTINGS] = settings
    app[STORE] = store or make_store(settings)
    app[ROLES] = roles
    app[FAILED] = asyncio.Event()
    app[CACHE] = RenderCache()
    app[STALE] = StaleCache()
    app[HUB] = ChangeHub(app[STORE])
    app[HUB].on_changes(app[CACHE].invalidate)
    hub = app[HUB]
    app[STALE].down = lambda: hub.backoff.failing
    app.cleanup_ctx.append(_resources)
    add_background(app, "hub", lambda a: a[HUB].run())
    if "worker" in roles:
        app.cleanup_ctx.append(parse_pool.app_ctx(settings.scheduler.parse_workers))
        app.cleanup_ctx.append(_worker_ctx)
    for module in PUBLISHERS:
        importlib.import_module(module).setup(app)
    return app


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    worker = Worker(app[SETTINGS], app[STORE], app[SESSION])
    app[WORKER] = worker
    task = start_task(app, "worker", worker.run())
    yield
    await stop_task(task)
