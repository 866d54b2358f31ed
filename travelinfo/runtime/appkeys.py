"""Typed AppKeys for the state every output reads, and background tasks for the app's lifetime.

Outputs import this module, never the app factory, so a publisher does not load the worker,
the scheduler or the collectors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from travelinfo.config import Settings
from travelinfo.push.hub import ChangeHub
from travelinfo.runtime.server import RenderCache
from travelinfo.store.base import Store

if TYPE_CHECKING:
    from travelinfo.ingest.worker import Worker

log = logging.getLogger("travelinfo.app")

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
SESSION = web.AppKey("session", aiohttp.ClientSession)
HUB = web.AppKey("hub", ChangeHub)
CACHE = web.AppKey("cache", RenderCache)
ROLES = web.AppKey("roles", frozenset)
WORKER: web.AppKey[Worker] = web.AppKey("worker")
# Set when a background task died of an error: `travelinfo run/web/worker` then exit non-zero
# so a supervisor restarts them (store faults are retried inside the tasks; this is for bugs).
FAILED = web.AppKey("failed", asyncio.Event)


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
    """Cancel a task started by start_task (within about a second); its error was logged.

    The cancel is repeated: a library may swallow one that lands in its own timeout (redis-py
    retrying a read does), and shutdown must not wait for the next round of its loop.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 1.0
    while not task.done() and loop.time() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    if task.done() and not task.cancelled():
        with contextlib.suppress(Exception):
            task.exception()  # retrieved: it was logged when the task died


def add_background(
    app: web.Application, name: str, make: Callable[[web.Application], Coroutine[Any, Any, None]]
) -> None:
    """Publishers use this for their long-running tasks (delivery, bot, export)."""
    app.cleanup_ctx.append(_background(name, make))
