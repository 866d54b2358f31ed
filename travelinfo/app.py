"""The aiohttp application factory: roles, every resource in cleanup_ctx, the publishers.

The AppKeys live in `travelinfo.runtime.appkeys` (re-exported here) so outputs need not import
this factory.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from travelinfo.config import Settings
from travelinfo.impacts import view as impacts
from travelinfo.ingest.collectors import parse_pool
from travelinfo.ingest.worker import Worker
from travelinfo.push.hub import ChangeHub
from travelinfo.runtime.appkeys import (
    CACHE,
    FAILED,
    HUB,
    ROLES,
    SESSION,
    SETTINGS,
    STORE,
    WORKER,
    add_background,
    start_task,
    stop_task,
)
from travelinfo.runtime.server import RenderCache, errors_middleware
from travelinfo.runtime.stale import STALE, StaleCache
from travelinfo.store import make_store
from travelinfo.store.base import Store

log = logging.getLogger("travelinfo.app")

# Built-in publishers register exactly as an extension would: a module with `setup(app)`.
PUBLISHERS = [
    "travelinfo.health",
    "travelinfo.api.routes",
    "travelinfo.notices.routes",
    "travelinfo.push.routes",
    "travelinfo.webhooks.routes",
    "travelinfo.webpush.routes",
    "travelinfo.gtfsrt.routes",
    "travelinfo.feeds.routes",
    "travelinfo.standards.routes",
    "travelinfo.web.routes",
    "travelinfo.operator.routes",
    "travelinfo.bot.runner",
]


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
    impacts.configure(settings.impacts)
    app[STORE] = store or make_store(settings)
    app[ROLES] = roles
    app[FAILED] = asyncio.Event()
    app[CACHE] = RenderCache()
    app[STALE] = StaleCache()
    app[HUB] = ChangeHub(app[STORE])
    app[HUB].on_changes(app[CACHE].invalidate)
    impacts.on_install(app[CACHE].invalidate)  # new reference geometry: new inferred impacts
    hub = app[HUB]
    app[STALE].down = lambda: hub.backoff.failing
    app.cleanup_ctx.append(_resources)
    add_background(app, "hub", lambda a: a[HUB].run())
    if "worker" in roles:
        app.cleanup_ctx.append(parse_pool.app_ctx(settings.scheduler.parse_workers))
        app.cleanup_ctx.append(_worker_ctx)
    elif settings.reference.gtfs_static:
        app.on_startup.append(_line_names)
    for module in PUBLISHERS:
        importlib.import_module(module).setup(app)
    return app


async def _line_names(app: web.Application) -> None:
    """Without a worker, load the reference routes once so `route=14` resolves GTFS ids here too."""
    from pathlib import Path

    from travelinfo.filters import lines
    from travelinfo.ingest.gtfs_static import load_gtfs, mode_for_route_type

    settings = app[SETTINGS]
    location = settings.reference.gtfs_static
    if location.startswith(("http://", "https://")):
        return  # only the worker downloads; entries still match by the names they carry
    path = Path(location)
    try:
        gtfs = await asyncio.to_thread(load_gtfs, path if path.is_absolute() else settings.root() / path)
    except Exception as exc:  # names are a nicety: the page still serves without them
        log.warning("GTFS static reference data not loaded from %s: %s", location, exc)
        return
    lines.install(gtfs.routes, mode_for_route_type)
    from travelinfo.impacts.index import build_index

    impacts.install(await asyncio.to_thread(build_index, gtfs, mode_for_route_type))


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    worker = Worker(app[SETTINGS], app[STORE], app[SESSION])
    app[WORKER] = worker
    task = start_task(app, "worker", worker.run())
    yield
    await stop_task(task)


__all__ = [
    "CACHE",
    "FAILED",
    "HUB",
    "PUBLISHERS",
    "ROLES",
    "SESSION",
    "SETTINGS",
    "STORE",
    "WORKER",
    "add_background",
    "create_app",
    "start_task",
    "stop_task",
]
