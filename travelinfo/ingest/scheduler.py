"""The one polling engine every collector uses: cadence, jitter, timeouts, backoff, health.

Collectors only fetch and parse; the scheduler alone logs (once on failure, once on recovery),
retries with exponential backoff and jitter, honours `Retry-After`, and keeps each source's
health record. A failed fetch or an unparsable payload changes nothing in the store, and a
full snapshot that would wipe the source is held by the sanity guard (`travelinfo.ingest.guard`):
state `suspect` until the same result repeats or an operator accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from travelinfo.ingest.collectors.base import AuthError, Collector, UpstreamError
from travelinfo.ingest.guard import ACCEPT_KIND, check_snapshot, confirmed
from travelinfo.model import Batch
from travelinfo.runtime import metrics
from travelinfo.runtime.backoff import Backoff, is_store_error
from travelinfo.runtime.backoff import delay as backoff_delay
from travelinfo.store.base import ACTIVE_STATUSES, Query, SourceHealth, Store, put_health

log = logging.getLogger("travelinfo.ingest.scheduler")

Clock = Callable[[], datetime]
TROUBLED = ("failing", "suspect")
_DIGITS = re.compile(r"\d+")
_MORE_NOTES = re.compile(r"\.\.\. and (\d+) more notes")
MAX_HEALTH_NOTES = 10  # notes shown on /api/v1/sources (all of them are counted)


def _hook(collector: Collector, name: str) -> None:
    """Call an optional collector hook (`commit`: payload applied; `forget`: drop validators)."""
    method = getattr(collector, name, None)
    if callable(method):
        method()


def _result_label(result: PollResult | None) -> str:
    """The poll's result as a metrics label (None: the poll itself raised, e.g. cancelled)."""
    if result is None:
        return "aborted"
    if not result.ok:
        return "failed"
    if result.held:
        return "held"
    return "not_modified" if result.not_modified else "ok"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class PollResult:
    """What one poll did (for tests and metrics)."""

    ok: bool
    changes: int = 0
    items: int | None = None
    not_modified: bool = False
    error: str | None = None
    retry_after: float | None = None
    held: str | None = None  # the guard held the snapshot, for this reason


def _notes(batch: Batch) -> dict[str, Any]:
    """`note_count` and the first `MAX_HEALTH_NOTES` notes of a batch for its health record.

    The parser seam keeps at most `vet.MAX_NOTES` notes, the last one counting the rest
    ("... and N more notes"): that count is added back.
    """
    count = len(batch.notes)
    more = _MORE_NOTES.fullmatch(batch.notes[-1]) if batch.notes else None
    if more:
        count += int(more.group(1)) - 1
    return {"note_count": count, "notes": batch.notes[:MAX_HEALTH_NOTES]}


class SourceRunner:
    """Polls one source on a fixed cadence; backs off while it fails."""

    def __init__(
        self,
        collector: Collector,
        store: Store,
        *,
        clock: Clock = utcnow,
        backoff_max: float = 900.0,
        jitter: float = 0.1,
        on_changes: Callable[[str, int], None] | None = None,
    ) -> None:
        self.collector = collector
        self.source = collector.source
        self.store = store
        self.clock = clock
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.on_changes = on_changes
        self.health = SourceHealth(
            source=self.source.name,
            interval=self.source.interval,
            stale_after=self.source.stale_after,
            type=self.source.type,
            url=getattr(collector, "public_url", None),
        )
        self.first_poll = asyncio.Event()
        self._notes_key: tuple[str, ...] = ()

    async def load_health(self) -> None:
        """Continue from the stored record (a restart keeps last success and counts)."""
        rec = await self.store.get_record("health", self.source.name)
        if rec:
            stored = SourceHealth.from_json(rec)
            self.health = replace(
                stored,
                interval=self.source.interval,
                stale_after=self.source.stale_after,
                type=self.source.type,
                url=self.health.url,
            )

    async def poll(self) -> PollResult:
        """Fetch, parse and apply once; record health; never raises for upstream trouble."""
        started = time.perf_counter()
        result: PollResult | None = None
        try:
            result = await self._poll()
            return result
        finally:
            self.first_poll.set()
            name = self.source.name
            metrics.POLL_SECONDS.labels(name).observe(time.perf_counter() - started)
            metrics.POLLS.labels(name, _result_label(result)).inc()

    async def _poll(self) -> PollResult:
        now = self.clock()
        try:
            # Fetch and parse each have their own limit; this one only catches what slips past both.
            async with asyncio.timeout(self.source.timeout + self.source.parse_timeout + 5):
                batch = await self.collector.collect(now)
        except (UpstreamError, TimeoutError) as exc:
            retry_after = exc.retry_after if isinstance(exc, UpstreamError) else None
            reason = str(exc) or f"timed out after {self.source.timeout:g} s"
            if isinstance(exc, AuthError):
                reason = f"authentication failed: {reason}"
            return await self._failed(now, reason, retry_after)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a collector must not stop the others
            log.exception("source %s: unexpected error", self.source.name)
            return await self._failed(now, f"internal error: {type(exc).__name__}: {exc}", None)
        if batch is None:
            # Validators are dropped while troubled, so this 304 (or unchanged file) proves
            # nothing about the bad or held payload: the source stays as it is.
            if self.health.state == "failing":
                return await self._failed(now, self.health.last_error or "not modified while failing", None)
            if self.health.state == "suspect":
                self.health = replace(self.health, last_attempt=now)
                await self._save()
                return PollResult(True, not_modified=True, held=self.health.suspect_reason)
            return await self._succeeded(now, None, 0, not_modified=True)
        self._log_notes(batch)
        if batch.complete and self.source.guard.enabled:
            held = await self._guard(batch, now)
            if held is not None:
                return held
        applying = time.perf_counter()
        changes = await self.store.apply(batch)
        metrics.STORE_APPLY_SECONDS.labels(self.source.name).observe(time.perf_counter() - applying)
        metrics.STORE_APPLIES.labels(self.source.name).inc()
        metrics.STORE_CHANGES.labels(self.source.name).inc(len(changes))
        _hook(self.collector, "commit")
        if changes and self.on_changes:
            self.on_changes(self.source.name, len(changes))
        counted = getattr(self.collector, "item_count", None)  # a source of other things than items
        items = counted if isinstance(counted, int) else len(batch.items)
        return await self._succeeded(now, items, len(changes), batch=batch)

    def _log_notes(self, batch: Batch) -> None:
        """Notes at INFO once per distinct set (counts aside), so a wiped source says why."""
        key = tuple(sorted(_DIGITS.sub("#", n) for n in batch.notes))
        if key != self._notes_key and batch.notes:
            log.info("source %s: %s", self.source.name, "; ".join(batch.notes))
        self._notes_key = key

    async def _guard(self, batch: Batch, now: datetime) -> PollResult | None:
        """Hold a suspicious full snapshot (None: apply it)."""
        current, _ = await self.store.query(Query(sources=(self.source.name,), status=ACTIVE_STATUSES))
        verdict = check_snapshot(batch, (d.id for d in current), self.source.guard)
        if verdict is None:
            if self.health.state == "suspect" or self.health.held_checksum:
                log.info("source %s: snapshot looks sane again; the held one is dropped", self.source.name)
                await self._release()
            return None
        h = self.health
        polls, since = (
            (h.held_polls + 1, h.held_since) if h.held_checksum == verdict.fingerprint else (1, now)
        )
        accept = await self.store.get_record(ACCEPT_KIND, self.source.name)
        if accept is not None or confirmed(self.source.guard, polls, since, now):
            by = f"by {accept.get('by') or 'an operator'}" if accept is not None else f"after {polls} poll(s)"
            log.info("source %s: held snapshot accepted %s (%s)", self.source.name, by, verdict.reason)
            await self._release()
            return None
        if h.state != "suspect":
            log.warning(
                "source %s suspect: %s; holding it (last good data stays published)",
                self.source.name,
                verdict.reason,
            )
        _hook(self.collector, "forget")
        self.health = replace(
            h,
            state="suspect",
            last_attempt=now,
            last_error=None,
            consecutive_failures=0,
            suspect_reason=verdict.reason,
            held_since=since,
            held_polls=polls,
            held_checksum=verdict.fingerprint,
            skipped_items=batch.skipped,
            skip_reason=batch.skip_reason,
            **_notes(batch),
        )
        await self._save()
        return PollResult(True, items=len(batch.items), held=verdict.reason)

    async def _release(self) -> None:
        self.health = replace(
            self.health, suspect_reason=None, held_since=None, held_polls=0, held_checksum=None
        )
        await self.store.delete_record(ACCEPT_KIND, self.source.name)

    async def _save(self) -> None:
        """Store the health record, with how a push-capable collector gets its data now."""
        transport = getattr(self.collector, "mode", None)
        if isinstance(transport, str) and transport != self.health.transport:
            self.health = replace(self.health, transport=transport)
        await put_health(self.store, self.health)

    async def _failed(self, now: datetime, reason: str, retry_after: float | None) -> PollResult:
        first = self.health.state != "failing"
        _hook(self.collector, "forget")
        self.health = replace(
            self.health,
            state="failing",
            last_attempt=now,
            last_error=reason,
            consecutive_failures=self.health.consecutive_failures + 1,
        )
        if first:
            log.warning("source %s failing: %s (last good data stays published)", self.source.name, reason)
        await self._save()
        return PollResult(False, error=reason, retry_after=retry_after)

    async def _succeeded(
        self,
        now: datetime,
        items: int | None,
        changes: int,
        not_modified: bool = False,
        batch: Batch | None = None,
    ) -> PollResult:
        if self.health.state == "failing":
            log.info(
                "source %s recovered after %d failed attempt(s)",
                self.source.name,
                self.health.consecutive_failures,
            )
        elif self.health.state == "suspect":
            log.info("source %s is no longer suspect", self.source.name)
        self.health = replace(
            self.health,
            state="ok",
            last_success=now,
            last_attempt=now,
            last_error=None,
            consecutive_failures=0,
            item_count=self.health.item_count if items is None else items,
            skipped_items=batch.skipped if batch is not None else self.health.skipped_items,
            skip_reason=batch.skip_reason if batch is not None else self.health.skip_reason,
            **(_notes(batch) if batch is not None else {}),
        )
        await self._save()
        return PollResult(True, changes=changes, items=items, not_modified=not_modified)

    def next_delay(self, result: PollResult, elapsed: float) -> float:
        """Fixed cadence on success; exponential backoff with jitter on failure (>= Retry-After)."""
        interval = self.source.interval
        if result.ok:
            return max(0.0, interval - elapsed)
        n = max(1, self.health.consecutive_failures)
        delay = backoff_delay(n, interval, self.backoff_max)
        if result.retry_after is not None:
            # Honoured, but a hostile Retry-After cannot park the source beyond backoff_max.
            delay = max(delay, min(result.retry_after, self.backoff_max))
        return delay

    async def run(self) -> None:
        """Poll forever (until cancelled), first poll jittered to stagger sources."""
        await self.load_health()
        await asyncio.sleep(random.uniform(0, self.jitter * self.source.interval))
        while True:
            started = time.monotonic()
            result = await self.poll()
            await asyncio.sleep(self.next_delay(result, time.monotonic() - started))


class Scheduler:
    """Runs every source and the store's expiry sweep."""

    def __init__(
        self,
        runners: list[SourceRunner],
        store: Store,
        *,
        expire_interval: float = 30.0,
        clock: Clock = utcnow,
        first: list[SourceRunner] | None = None,
    ) -> None:
        self.first = first or []  # polled once before the others start (reference data)
        self.first_wait = 60.0  # the longest the others wait for that
        self.runners = runners
        self.store = store
        self.expire_interval = expire_interval
        self.clock = clock
        self.first_round = asyncio.Event()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for runner in self.first:
                tg.create_task(runner.run(), name=f"source:{runner.source.name}")
            # Parsers name lines and stops from the reference data: load it before they run,
            # but a hanging reference upstream must not hold collection back for long.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.first_wait):
                    await asyncio.gather(*(r.first_poll.wait() for r in self.first))
            for runner in self.runners:
                tg.create_task(runner.run(), name=f"source:{runner.source.name}")
            tg.create_task(self._watch_first_round())
            tg.create_task(self._expire_loop())

    async def _watch_first_round(self) -> None:
        await asyncio.gather(*(r.first_poll.wait() for r in (*self.first, *self.runners)))
        self.first_round.set()

    async def _expire_loop(self) -> None:
        backoff = Backoff("expiry sweep", log, cap=self.expire_interval)
        while True:
            try:
                await self.store.expire(self.clock())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_store_error(exc) and not backoff.failing:  # a bug: keep its traceback
                    log.exception("expiry sweep failed; retrying next round")
                await asyncio.sleep(backoff.failed(exc))  # logged once per outage
                continue
            backoff.succeeded()
            await asyncio.sleep(self.expire_interval)
