"""The collecting side: leader election, GTFS static reference data, the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from travelinfo.config import Settings
from travelinfo.filters import lines
from travelinfo.ingest.collectors.base import make_collector
from travelinfo.ingest.scheduler import Scheduler, SourceRunner
from travelinfo.runtime.backoff import Backoff, is_store_error
from travelinfo.store.base import Store, lock_holder

log = logging.getLogger("travelinfo.ingest.worker")
LOCK_NAME = "collectors"


class ReferenceData:
    """GTFS static names and modes, loaded at start and refreshed on a schedule."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.location = settings.reference.gtfs_static
        self.refresh = settings.reference.refresh
        self.root = settings.root()
        self.session = session
        self.current: Any = None

    def get(self) -> Any:
        return self.current

    async def load(self) -> None:
        if not self.location:
            return
        try:
            from travelinfo.ingest.gtfs_static import load_gtfs, mode_for_route_type, read_capped
        except ImportError:  # pragma: no cover - the module ships with the package
            return
        try:
            if self.location.startswith(("http://", "https://")):
                async with self.session.get(self.location, timeout=aiohttp.ClientTimeout(total=120)) as r:
                    r.raise_for_status()
                    data = await read_capped(r.content.iter_chunked(64 * 1024))  # size-capped
                with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as f:
                    f.write(data)
                try:
                    self.current = await asyncio.to_thread(load_gtfs, f.name)
                finally:
                    os.unlink(f.name)
            else:
                path = Path(self.location)
                path = path if path.is_absolute() else self.root / path
                self.current = await asyncio.to_thread(load_gtfs, path)
            # The outputs' line filter (`route=14`, "röda linjen") resolves names through it.
            lines.install(self.current.routes, mode_for_route_type)
            log.info("GTFS static reference data loaded from %s", self.location)
        except Exception as exc:  # keep the previous data; names are a nicety, not a must
            log.warning("GTFS static reference data not loaded from %s: %s", self.location, exc)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            await self.load()


class Worker:
    """Polls every configured source while holding the leader lock (one poller per store)."""

    def __init__(self, settings: Settings, store: Store, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.store = store
        self.session = session
        self.reference = ReferenceData(settings, session)
        self.holder = lock_holder()
        self.scheduler: Scheduler | None = None
        self.leader = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.lock_backoff = Backoff("worker: the store (collector lock)", log, cap=1.0)
        self.sched_backoff = Backoff("worker: the scheduler", log, cap=5.0)

    def build(self) -> Scheduler:
        sched = self.settings.scheduler
        runners = []
        for src in self.settings.sources:
            if not src.enabled:
                continue
            try:
                collector = make_collector(src, self.session, self.reference.get)
            except Exception as exc:  # one misconfigured source must not stop the others
                log.error("source %s not started: %s", src.name, exc)
                continue
            runners.append(
                SourceRunner(collector, self.store, backoff_max=sched.backoff_max, jitter=sched.jitter)
            )
        return Scheduler(runners, self.store, expire_interval=self.settings.store.expire_interval)

    @property
    def collecting(self) -> bool:
        """True while this worker leads, its scheduler runs and the store answers."""
        task = self._task
        return task is not None and not task.done() and not self.lock_backoff.failing

    async def run(self) -> None:
        """Take the lock, poll while holding it, stand by while another worker holds it.

        Store faults (Redis down, SQLite locked) never end this loop: it retries with backoff,
        logging once per outage, and stops polling when it could not renew the lock for a
        whole `lock_ttl` (another worker may lead by then). Other errors end it (and the
        process, which exits non-zero for its supervisor).
        """
        ttl = self.settings.scheduler.lock_ttl
        await self.reference.load()
        refresher = asyncio.create_task(self.reference.run(), name="gtfs-static-refresh")
        renewed = time.monotonic()
        restart_at = 0.0  # monotonic time before which a crashed scheduler is not restarted
        started = 0.0
        try:
            while True:
                held: bool | None
                wait = ttl / 3
                try:
                    held = await self.store.try_lock(LOCK_NAME, self.holder, ttl)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if not is_store_error(exc):
                        raise
                    held = None
                    wait = min(wait, self.lock_backoff.failed(exc))
                else:
                    self.lock_backoff.succeeded()
                    renewed = time.monotonic()
                now = time.monotonic()
                task = self._task
                if task is not None and task.done():
                    died = None if task.cancelled() else task.exception()
                    await self._stop_scheduler()
                    delay = self.sched_backoff.failed(died or RuntimeError("scheduler ended"))
                    if died is not None and not is_store_error(died):
                        log.error("the scheduler stopped; restarting it", exc_info=died)
                    restart_at = now + delay
                if held and self._task is None and now >= restart_at:
                    self.scheduler = self.build()
                    log.info("polling %d source(s) as %s", len(self.scheduler.runners), self.holder)
                    self._task = asyncio.create_task(self.scheduler.run(), name="scheduler")
                    started = now
                    self.leader.set()
                elif held is False and self._task is not None:
                    log.warning("lost the collector lock; standing by")
                    await self._stop_scheduler()
                elif held is None and self._task is not None and now - renewed > ttl:
                    log.warning(
                        "collector lock not renewed for %.0f s; polling stops until the store answers", ttl
                    )
                    await self._stop_scheduler()
                elif held is False:
                    log.debug("another worker polls; standing by")
                if self._task is not None and self.sched_backoff.failing and now - started > 1.0:
                    self.sched_backoff.succeeded()
                if self._task is None and held and restart_at > now:
                    wait = min(wait, restart_at - now)
                # Wake at once when the scheduler dies instead of after a whole renewal period.
                waiting = {self._task} if self._task is not None else set()
                if waiting:
                    await asyncio.wait(waiting, timeout=wait)
                else:
                    await asyncio.sleep(wait)
        finally:
            refresher.cancel()
            await self._stop_scheduler()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release_lock(LOCK_NAME, self.holder))

    async def _stop_scheduler(self) -> None:
        task, self._task, self.scheduler = self._task, None, None
        self.leader.clear()
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
