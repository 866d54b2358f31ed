"""Parsing in a small pool of separate processes, with a hard time limit per payload.

A parser stuck in a C-level regex holds the GIL, so no thread-based timeout can stop it and the
whole event loop freezes with it. Each payload is therefore parsed in a worker process; when it
runs over its limit the process is killed (SIGKILL) and replaced, and the source fails with
`parse timed out after N s`. The event loop only waits; the web side never parses.

Every pool slot is one thread of a private executor that owns one worker process and talks to
it over a pipe, so queued payloads wait in the executor's queue (not in threads) and the pool is
usable from any event loop. Processes start lazily with `forkserver` (safe with asyncio and
threads; later workers fork from a server that has the parsers preloaded). Reference data (GTFS
static names) is sent to each worker once per object, not with every payload.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import logging
import multiprocessing
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from travelinfo.ingest.collectors.base import UpstreamError
from travelinfo.ingest.collectors.parse_worker import worker_main
from travelinfo.ingest.parsers.base import ParseContext, ParseError, Parser
from travelinfo.model import Batch
from travelinfo.runtime import metrics

log = logging.getLogger("travelinfo.parse_pool")

DEFAULT_WORKERS = 2
STARTUP_TIMEOUT = 60.0
# What the fork server imports once, so each worker is a cheap fork (no aiohttp in workers).
PRELOAD = [
    "travelinfo.ingest.collectors.parse_worker",
    "travelinfo.ingest.parsers.datex2",
    "travelinfo.ingest.parsers.gtfsrt",
    "travelinfo.ingest.parsers.siri",
    "travelinfo.ingest.parsers.navtex",
    "travelinfo.ingest.parsers.cap",
]


class ParseTimeout(UpstreamError):
    """Parsing one payload ran over its limit; the worker process was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"parse timed out after {seconds:g} s")
        self.seconds = seconds


class ParserDied(UpstreamError):
    """The worker process died while parsing (killed, out of memory, crashed)."""


class RemoteTraceback(Exception):
    """The traceback of an unexpected exception in a worker process (set as `__cause__`)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# -- the parent side --------------------------------------------------------------------------


def _mp_context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


class _Slot:
    """One worker process and its pipe (used by one executor thread only)."""

    def __init__(self, mp: BaseContext) -> None:
        self.mp = mp
        self.proc: BaseProcess | None = None
        self.conn: Connection | None = None
        self.reference: Any = None  # the object the worker holds (kept alive: compared by identity)
        self.parsers: set[int] = set()  # ids of the parsers the worker has loaded
        self.starts = 0

    def ensure(self) -> Connection:
        if self.proc is None or self.conn is None or not self.proc.is_alive():
            self.kill()
            parent, child = self.mp.Pipe()
            proc = self.mp.Process(  # type: ignore[attr-defined]
                target=worker_main, args=(child,), name="travelinfo-parse", daemon=True
            )
            proc.start()
            child.close()
            self.proc, self.conn, self.reference, self.parsers = proc, parent, None, set()
            self.starts += 1
            # Start-up (fork, imports) is not the payload's time: wait for the worker apart.
            if not parent.poll(STARTUP_TIMEOUT) or parent.recv() != ("ready",):
                self.kill()
                raise ParserDied(f"parser process did not start within {STARTUP_TIMEOUT:g} s")
        return self.conn

    def kill(self) -> None:
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        self.reference = None
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)
        if conn is not None:
            conn.close()


class ParsePool:
    """A few parser processes with a hard per-payload time limit."""

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        self.workers = max(1, workers)
        self.timeouts = 0
        self._executor: ThreadPoolExecutor | None = None
        self._slots: list[_Slot] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._mp: BaseContext | None = None

    @property
    def processes(self) -> list[int]:
        """Pids of the live worker processes."""
        with self._lock:
            return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.pid is not None]

    async def parse(self, parser: Parser, data: bytes, ctx: ParseContext, timeout: float) -> Batch:
        """`parser(data, ctx)` in a worker; ParseError, ParseTimeout or ParserDied on failure."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="parse-pool")
            executor = self._executor
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self._run, parser, data, ctx, timeout)

    def _slot(self) -> _Slot:
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is None:
            with self._lock:
                if self._mp is None:
                    self._mp = _mp_context()
                slot = _Slot(self._mp)
                self._slots.append(slot)
            self._local.slot = slot
        return slot

    def _run(self, parser: Parser, data: bytes, ctx: ParseContext, timeout: float) -> Batch:
        slot = self._slot()
        try:
            conn = slot.ensure()
            if id(parser) not in slot.parsers:  # registered parsers live as long as the process
                conn.send(("parser", id(parser), parser))
                if not conn.poll(STARTUP_TIMEOUT) or conn.recv() != ("loaded",):
                    raise EOFError
                slot.parsers.add(id(parser))
            if ctx.reference is not slot.reference:
                conn.send(("reference", ctx.reference))
                slot.reference = ctx.reference
            conn.send(("parse", id(parser), data, dataclasses.replace(ctx, reference=None)))
            if not conn.poll(timeout):
                slot.kill()
                self.timeouts += 1
                raise ParseTimeout(timeout)
            reply = conn.recv()
        except (EOFError, OSError):
            proc = slot.proc
            if proc is not None:
                proc.join(2)
            code = proc.exitcode if proc is not None else None
            slot.kill()
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            raise ParserDied(f"parser process died ({how})") from None
        if reply[0] == "ok":
            batch: Batch = reply[1]
            return batch
        if reply[0] == "parse_error":
            raise ParseError(reply[1])
        exc: BaseException = reply[1]
        if reply[2]:
            exc.__cause__ = RemoteTraceback(reply[2])
        raise exc

    def shutdown(self) -> None:
        """Kill every worker process; the pool starts afresh on its next use."""
        with self._lock:
            executor, self._executor = self._executor, None
            slots, self._slots = self._slots, []
            self._local = threading.local()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        for slot in slots:
            slot.kill()


_pool = ParsePool()
_users = 0
atexit.register(lambda: _pool.shutdown())


def pool() -> ParsePool:
    """The process-wide parse pool."""
    return _pool


async def parse(parser: Parser, data: bytes, ctx: ParseContext, timeout: float) -> Batch:
    """Parse one payload in the process-wide pool (see `ParsePool.parse`), counted in /metrics."""
    metrics.POLL_BYTES.labels(ctx.source).inc(len(data))
    started = time.perf_counter()
    try:
        batch = await _pool.parse(parser, data, ctx, timeout)
    except Exception:
        metrics.PARSES.labels(ctx.source, "error").inc()
        raise
    finally:
        metrics.PARSE_SECONDS.labels(ctx.source).observe(time.perf_counter() - started)
    metrics.PARSES.labels(ctx.source, "ok").inc()
    metrics.PARSED_ITEMS.labels(ctx.source).inc(len(batch.items))
    metrics.PARSE_SKIPPED.labels(ctx.source).inc(batch.skipped)
    return batch


def app_ctx(workers: int) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp cleanup_ctx: size the pool for this app, kill its processes at cleanup.

    Several apps in one process (tests) share the pool; the last one out shuts it down.
    """

    async def ctx(_app: Any) -> AsyncIterator[None]:
        global _users
        _users += 1
        _pool.workers = max(1, workers) if _users == 1 else max(_pool.workers, workers)
        try:
            yield
        finally:
            _users -= 1
            if _users == 0:
                await asyncio.get_running_loop().run_in_executor(None, _pool.shutdown)

    return ctx
