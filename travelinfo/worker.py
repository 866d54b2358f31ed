"""The collecting side: leader election, GTFS static reference data, the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from travelinfo.collectors.base import make_collector
from travelinfo.config import Settings
from travelinfo.scheduler import Scheduler, SourceRunner
from travelinfo.store.base import Store

log = logging.getLogger("travelinfo.worker")
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
            from travelinfo.gtfs_static import load_gtfs, read_capped
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
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.scheduler: Scheduler | None = None
        self.leader = asyncio.Event()

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

    async def run(self) -> None:
        """Take the lock, poll while holding it, stand by while another worker holds it."""
        ttl = self.settings.scheduler.lock_ttl
        await self.reference.load()
        task: asyncio.Task[None] | None = None
        refresher = asyncio.create_task(self.reference.run())
        try:
            while True:
                held = await self.store.try_lock(LOCK_NAME, self.holder, ttl)
                if held and task is None:
                    self.scheduler = self.build()
                    log.info("polling %d source(s) as %s", len(self.scheduler.runners), self.holder)
                    task = asyncio.create_task(self.scheduler.run())
                    self.leader.set()
                elif not held and task is not None:
                    log.warning("lost the collector lock; standing by")
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    task = None
                    self.leader.clear()
                elif not held:
                    log.debug("another worker polls; standing by")
                if task is not None and task.done() and not task.cancelled():
                    log.error("the scheduler stopped: %r; restarting it", task.exception())
                    task = None
                await asyncio.sleep(ttl / 3)
        finally:
            refresher.cancel()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release_lock(LOCK_NAME, self.holder))
