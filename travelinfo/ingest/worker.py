"""The collecting side: leader election (a `Lease`) and the scheduler of every source.

GTFS static reference data is one of the sources (`travelinfo.ingest.reference`): polled,
backed off and given a health record by the same scheduler, loaded before the others poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from travelinfo.config import Settings
from travelinfo.ingest.collectors.base import make_collector
from travelinfo.ingest.reference import GtfsStaticCollector, ReferenceData, reference_source
from travelinfo.ingest.scheduler import Scheduler, SourceRunner
from travelinfo.runtime.backoff import Backoff, is_store_error
from travelinfo.runtime.lease import Lease
from travelinfo.store.base import Store

log = logging.getLogger("travelinfo.ingest.worker")
LOCK_NAME = "collectors"


class Worker:
    """Polls every configured source while holding the leader lock (one poller per store)."""

    def __init__(self, settings: Settings, store: Store, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.store = store
        self.session = session
        self.reference = ReferenceData()
        ref = reference_source(settings)
        # Kept across leaderships: its validators make the next leader's first poll a 304.
        self.reference_collector = GtfsStaticCollector(ref, session, self.reference) if ref else None
        self.lease = Lease(store, LOCK_NAME, settings.scheduler.lock_ttl)
        self.holder = self.lease.holder
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
        first = []
        if self.reference_collector is not None:
            first.append(
                SourceRunner(self.reference_collector, self.store, backoff_max=sched.backoff_max, jitter=0)
            )
        return Scheduler(
            runners, self.store, expire_interval=self.settings.store.expire_interval, first=first
        )

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
        ttl = self.lease.ttl
        renewed = time.monotonic()
        restart_at = 0.0  # monotonic time before which a crashed scheduler is not restarted
        started = 0.0
        try:
            while True:
                held: bool | None
                wait = self.lease.renew_every
                try:
                    held = await self.lease.acquire()
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
            await self._stop_scheduler()
            await self.lease.release()

    async def _stop_scheduler(self) -> None:
        task, self._task, self.scheduler = self._task, None, None
        self.leader.clear()
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
