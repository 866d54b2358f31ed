"""Connection and stream caps, header read and idle timeouts: one place that counts clients.

aiohttp has no header read timeout and no connection caps, so `GuardedRunner` serves the app
through a `RequestHandler` subclass that counts every connection per address and in total,
closes a connection that has not sent complete request headers within `limits.header_timeout`
(slowloris), and answers a connection over a cap with 429 (per address) or 503 (in total) and
`Retry-After` instead of running the app. Push handlers take a stream slot per address
(`ConnectionLimits.stream`), so long-lived SSE/WebSocket streams are capped while they last,
not only counted once at connect by the rate limiter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import Counter as PromCounter

from travelinfo.runtime import streamhead
from travelinfo.runtime.fastlane import GuardedServer
from travelinfo.runtime.lanetable import LaneTable, lane_table
from travelinfo.settings import LimitSettings

log = logging.getLogger(__name__)

FD_RESERVE = 256  # descriptors kept for the store, upstream requests, logs and the listen socket
REJECTED_HEADER_TIMEOUT = 1.0  # a connection already refused gets this long to send its request
LINGER = 1.0
REASONS = ("per_address", "global", "streams_per_address", "header_timeout")


class TooMany(Exception):
    """A cap was hit: the status (429 or 503), the reason label and a message for the client."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class ConnectionLimits:
    """Open connections and streams per client address and in total, with rejection counts."""

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self.max_connections = settings.max_connections  # lowered to the open-file limit at start
        self.connections: Counter[str] = Counter()
        self.streams: Counter[str] = Counter()
        self.total = 0
        self.total_streams = 0
        self.accepted = 0  # connections counted since start
        self.rejected: Counter[str] = Counter()
        self.lane_answers: Callable[[], int] = lambda: 0  # requests the fast lane answered
        self.stream_paths: set[str] = set()  # GETs whose head is let go once streaming (streamhead)

    def open_connection(self, addr: str) -> TooMany | None:
        """Count a new connection; None when it may be served, else why not (not counted)."""
        if self.max_connections > 0 and self.total >= self.max_connections:
            self.rejected["global"] += 1
            return TooMany(503, "global", "the server is at its connection limit; retry later")
        per = self.settings.connections_per_ip
        if per > 0 and self.connections[addr] >= per:
            self.rejected["per_address"] += 1
            return TooMany(429, "per_address", f"too many open connections from this address (limit {per})")
        self.connections[addr] += 1
        self.total += 1
        self.accepted += 1
        return None

    def close_connection(self, addr: str) -> None:
        """Forget a connection counted by `open_connection`."""
        self.total -= 1
        self.connections[addr] -= 1
        if self.connections[addr] <= 0:
            del self.connections[addr]  # keep the table as small as the set of open addresses

    def stream(self, request: web.BaseRequest) -> StreamSlot:
        """A stream slot of the request's address, held for a `with` block; TooMany over the cap."""
        return StreamSlot(self, request)

    def too_many_response(self, exc: TooMany) -> web.Response:
        """The JSON 429/503 with `Retry-After` (and no keep-alive) for a refused request."""
        resp = web.Response(
            status=exc.status,
            text=json.dumps({"error": exc.message}),
            content_type="application/json",
            headers={"Retry-After": str(self.settings.retry_after), "X-Content-Type-Options": "nosniff"},
        )
        resp.force_close()
        return resp

    def write_metrics(self, registry: CollectorRegistry) -> None:
        """Caps, current counts and rejections by reason as Prometheus metrics."""
        s = self.settings
        caps = Gauge("travelinfo_limit", "Configured connection/stream caps", ["limit"], registry=registry)
        caps.labels("max_connections").set(self.max_connections)
        caps.labels("connections_per_ip").set(s.connections_per_ip)
        caps.labels("streams_per_ip").set(s.streams_per_ip)
        caps.labels("header_timeout_seconds").set(s.header_timeout)
        caps.labels("idle_timeout_seconds").set(s.idle_timeout)
        gauges = (
            ("connections_open", "Open HTTP connections", self.total),
            ("connection_addresses", "Client addresses with open connections", len(self.connections)),
            ("connections_max_per_address", "Most open connections of one address", _most(self.connections)),
            ("streams_open", "Open SSE/WebSocket streams", self.total_streams),
            ("streams_max_per_address", "Most open streams of one address", _most(self.streams)),
        )
        for name, help_text, value in gauges:
            Gauge("travelinfo_" + name, help_text, registry=registry).set(value)
        rejected = PromCounter(
            "travelinfo_connections_rejected",
            "Connections or streams refused or closed by a limit, by reason",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:
            rejected.labels(reason).inc(self.rejected[reason])
        PromCounter(
            "travelinfo_connections_accepted", "Connections accepted under the caps", registry=registry
        ).inc(self.accepted)
        PromCounter(
            "travelinfo_fast_lane_answers", "Requests answered by the fast lane", registry=registry
        ).inc(self.lane_answers())


class StreamSlot:
    """`ConnectionLimits.stream`: a class, not a generator, as each open stream holds one."""

    __slots__ = ("addr", "limits", "request")

    def __init__(self, limits: ConnectionLimits, request: web.BaseRequest) -> None:
        self.limits = limits
        self.request: web.BaseRequest | None = request
        self.addr = ""

    def __enter__(self) -> None:
        limits, request = self.limits, self.request
        assert request is not None
        self.request = None  # the slot need not keep the request alive
        addr = self.addr = client_address(request)
        per = limits.settings.streams_per_ip
        if per > 0 and limits.streams[addr] >= per:
            limits.rejected["streams_per_address"] += 1
            raise TooMany(
                429, "streams_per_address", f"too many open streams from this address (limit {per})"
            )
        limits.streams[addr] += 1
        limits.total_streams += 1
        if isinstance(request.protocol, GuardedHandler):
            request.protocol.start_streaming()

    def __exit__(self, *exc: object) -> None:
        limits, addr = self.limits, self.addr
        limits.total_streams -= 1
        limits.streams[addr] -= 1
        if limits.streams[addr] <= 0:
            del limits.streams[addr]


def _most(counts: Counter[str]) -> int:
    return max(counts.values(), default=0)


LIMITS: web.AppKey[ConnectionLimits] = web.AppKey("connection_limits", ConnectionLimits)


def install(app: web.Application) -> ConnectionLimits:
    """Give `app` its ConnectionLimits and report them in /metrics (call from a setup)."""
    from travelinfo.health import add_metrics
    from travelinfo.runtime import appkeys as appmod

    limits = app.get(LIMITS)
    if limits is None:
        limits = app[LIMITS] = ConnectionLimits(app[appmod.SETTINGS].limits)
        add_metrics(app, limits.write_metrics)
    return limits


def client_address(request: web.BaseRequest) -> str:
    """The address limits are counted by (the peer of the TCP connection)."""
    return request.remote or "?"


class GuardedHandler(RequestHandler):
    """A RequestHandler that counts its connection and enforces caps and the header timeout."""

    # No instance dict: one of these lives as long as each of 10,000 streams.
    __slots__ = ("addr", "header_mark", "header_since", "header_timer", "lane", "limits", "parser_idle",
                 "refused", "streaming")  # fmt: skip

    def __init__(self, manager: Server, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.limits = limits
        # Kept: aiohttp drops `_manager` once the client has gone; its request still runs to its end.
        self.lane: LaneTable | None = getattr(manager, "lane", None)
        self.addr: str | None = None  # set while counted
        self.refused: TooMany | None = None
        self.header_timer: asyncio.TimerHandle | None = None
        self.header_mark = 0
        self.header_since = 0.0  # loop time the watched header wait began
        self.streaming = False  # set by ConnectionLimits.stream
        self.parser_idle = False  # nothing read after a stream's head (streamhead.release)

    def start_streaming(self) -> None:
        """The request is a long-lived stream: cancel it as soon as its client goes away.

        A stream only notices a vanished client at its next write; cancelled at once instead,
        its slot is free when the client reconnects. Its header and keep-alive timers cannot
        fire usefully while it lasts (both check for a request in progress), so they are
        dropped now rather than held by each of thousands of streams (about 800 B each);
        aiohttp arms keep-alive again when the stream ends on a kept-alive connection.
        """
        self.streaming = True
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
            self._keepalive_handle = None

    def handle_error(self, request: Any, status: int = 500, exc: Any = None, message: Any = None) -> Any:
        """aiohttp's own answer to a request it could not parse, without its version in `Server`."""
        resp = super().handle_error(request, status, exc, message)
        resp.headers["Server"] = "travelinfo"
        return resp

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        addr = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        refused = self.limits.open_connection(addr)
        self.adopt(transport, None if refused else addr, refused)

    def adopt(
        self, transport: asyncio.BaseTransport, addr: str | None, refused: TooMany | None, since: float = 0.0
    ) -> None:
        """Serve a connection counted as `addr` (or refused) whose header wait began at `since`."""
        self.refused, self.addr = refused, addr
        super().connection_made(transport)
        if refused is not None:
            # Refused before the app runs: its request (once read) gets the 429/503. Reading it
            # first lets the client see the answer instead of a reset.
            self._request_handler = self._refuse
        self._arm_header_timer(since)

    async def _handle_request(self, request: BaseRequest, *args: Any) -> tuple[web.StreamResponse, bool]:
        lane = self.lane
        if lane is not None:
            lane.begin(request)
        return await super()._handle_request(request, *args)

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        out = await super().finish_response(request, resp, start_time)
        lane = self.lane
        if lane is not None:
            lane.served(request, resp)  # the fast lane may replay these bytes
        return out

    def connection_lost(self, exc: BaseException | None) -> None:
        task = self._task_handler
        if self.streaming and task is not None:
            task.cancel()
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        if self.addr is not None:
            self.limits.close_connection(self.addr)
            self.addr = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Bytes arriving while no header timer runs start the wait for the next request's headers;
        # so do bytes arriving while the running timer still watches a request already read (a
        # keep-alive connection's next request came before the first one's deadline): that wait
        # starts now, and the running timer re-arms itself for it when it fires (not one per request).
        if data and not self._upgraded:
            if self.header_timer is None:
                self._arm_header_timer()
            elif self._request_count > self.header_mark:
                self.header_mark = self._request_count
                self.header_since = self._loop.time()
        queued = len(self._messages)
        super().data_received(data)
        if data:
            self.parser_idle = streamhead.adopt(self._messages, queued, self.limits.stream_paths, data)

    def _header_timeout(self) -> float:
        timeout = self.limits.settings.header_timeout
        if self.refused is not None:
            return min(timeout, REJECTED_HEADER_TIMEOUT) if timeout > 0 else REJECTED_HEADER_TIMEOUT
        return timeout

    def _arm_header_timer(self, since: float = 0.0) -> None:
        timeout = self._header_timeout()
        if timeout <= 0:
            return
        now = self._loop.time()
        self.header_mark = self._request_count
        self.header_since = since or now
        self.header_timer = self._loop.call_later(self.header_since + timeout - now, self._header_deadline)

    def _header_deadline(self) -> None:
        self.header_timer = None
        # A request's headers arrived since the wait began, or one is being handled (a body
        # upload, a stream): not a header wait.
        busy = getattr(self, "_request_in_progress", False)
        if self._request_count > self.header_mark or busy or self._upgraded:
            return
        left = self.header_since + self._header_timeout() - self._loop.time()
        if left > 0:  # the wait watched now began after this timer was armed
            self.header_timer = self._loop.call_later(left, self._header_deadline)
            return
        if self.transport is not None:
            self.limits.rejected["header_timeout"] += 1
            self.force_close()

    async def _refuse(self, request: BaseRequest) -> web.StreamResponse:
        assert self.refused is not None
        return self.limits.too_many_response(self.refused)


class GuardedRunner(web.AppRunner):
    """An AppRunner serving through GuardedServer with the app's `[limits]` settings."""

    async def _make_server(self) -> Server:
        base = await super()._make_server()
        limits = self._app.get(LIMITS) or ConnectionLimits(_settings(self._app))
        limits.max_connections = fd_capped(limits.settings.max_connections)
        lane = lane_table(self._app, base._kwargs)
        if lane is not None:
            limits.lane_answers = lambda: lane.hits
        return GuardedServer(base, limits, GuardedHandler, lane)


def _settings(app: web.Application) -> LimitSettings:
    from travelinfo.runtime import appkeys as appmod

    return app[appmod.SETTINGS].limits


def _lim(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


def fd_capped(wanted: int) -> int:
    """Raise the soft open-file limit towards `wanted` connections; the cap the limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            # One clear line: an operator sizing for 10,000 streams must see what the system allowed.
            log.info("open-file limit raised from %d to %d (hard limit %s)", soft, target, _lim(hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("open-file limit %d could not be raised to %d: %s", soft, target, exc)
    else:
        log.info("open-file limit %s (hard limit %s) covers %d connections", _lim(soft), _lim(hard), wanted)
    if soft == resource.RLIM_INFINITY or wanted <= 0:
        return wanted
    allowed = max(1, soft - FD_RESERVE)
    if allowed < wanted:
        log.warning(
            "limits.max_connections %d lowered to %d by the open-file limit (ulimit -n %d)",
            wanted,
            allowed,
            soft,
        )
    return min(wanted, allowed)


def make_runner(app: web.Application, **kwargs: Any) -> GuardedRunner:
    """The runner `travelinfo run`/`web` serve with: caps, header timeout, idle timeout."""
    settings = _settings(app)
    kwargs.setdefault("keepalive_timeout", settings.idle_timeout)
    # After an early answer (413, 408) aiohttp drains the unread body this long (default 10 s):
    # long enough for the client to read the answer, too short to hold a trickling upload.
    kwargs.setdefault("lingering_time", LINGER)
    return GuardedRunner(app, **kwargs)


async def start_site(runner: web.AppRunner, host: str, port: int, **kwargs: Any) -> web.TCPSite:
    """Listen on host:port with the configured backlog (runner set up already)."""
    backlog = _settings(runner.app).backlog
    site = web.TCPSite(runner, host, port, backlog=backlog, **kwargs)
    await site.start()
    return site
