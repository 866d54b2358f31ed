"""The fast lane: cached GETs answered from complete prepared responses before aiohttp runs.

Each connection starts with a `FastLane` protocol (counted under the same `ConnectionLimits`,
with the same header and idle timeouts). It answers a request only when it is an exact hit:
GET or HEAD, HTTP/1.x, no body, no Cookie, Authorization, Upgrade, Expect or
If-Modified-Since, and a `LaneTable` entry for its raw path and query and Accept-Language that
aiohttp filled when it served the same variant (method, version, keep-alive, 304/gzip/identity)
of a `Rendered` under the current RenderCache generation. Anything else hands the connection
to aiohttp (a `GuardedHandler`) with the bytes read so far; it stays aiohttp's from then on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, cast

import httptools
from aiohttp.web_server import Server

from travelinfo.runtime.lanetable import (
    CHOOSING,
    GZIP,
    MAX_HEAD,
    NOT_MODIFIED,
    PARK,
    PLAIN,
    REFUSED,
    LaneTable,
    date_line,
)
from travelinfo.runtime.metrics import REQUEST_STATS

if TYPE_CHECKING:
    from travelinfo.runtime.limits import ConnectionLimits, GuardedHandler, TooMany

# A parsed head: (raw path and query, Accept-Language), If-None-Match, Accept-Encoding, method,
# HTTP version, keep-alive. Clients repeat the very same head bytes, so these are memoised.
Parsed = tuple[tuple[bytes, bytes], bytes | None, bytes, str, str, bool]
MEMO_HEAD = 2048  # longer heads are parsed every time
MEMO_HEADS = 1024  # distinct heads remembered (all forgotten at once beyond)


class FastLane(asyncio.Protocol):
    """One connection while it is in the lane (see the module docstring)."""

    __slots__ = (
        "addr",
        "buffer",
        "complete",
        "handler",
        "head_since",
        "headers",
        "idle_since",
        "idle_timeout",
        "keep_alive",
        "limits",
        "loop",
        "make_handler",
        "parked",
        "parser",
        "table",
        "timer",
        "transport",
        "url",
        "writing_paused",
    )

    def __init__(
        self,
        table: LaneTable,
        limits: ConnectionLimits,
        make_handler: Callable[[], GuardedHandler],
        idle_timeout: float,
    ) -> None:
        self.table, self.limits, self.make_handler = table, limits, make_handler
        self.idle_timeout = idle_timeout  # aiohttp's keepalive_timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.handler: GuardedHandler | None = None
        self.addr = "?"
        self.buffer = b""
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.complete = False
        self.keep_alive = False
        self.parked = False
        self.writing_paused = False
        self.timer: asyncio.TimerHandle | None = None
        self.head_since = self.idle_since = 0.0

    # -- connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        peer = transport.get_extra_info("peername")
        self.addr = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        refused = self.limits.open_connection(self.addr)
        if refused is not None:
            self.hand_off(refused)  # the 429/503 and its short header wait are aiohttp's
            return
        self.table.lanes.add(self)
        self.head_since = self.loop.time()
        self._arm(self._timeout())

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.handler is not None:
            return
        self._stop()
        self.limits.close_connection(self.addr)
        self.transport = None

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.transport is not None and not self.parked:
            self.transport.resume_reading()
            self._process()

    def close(self) -> None:
        """Close at shutdown (the lane's connections are not aiohttp's to close)."""
        if self.transport is not None:
            self.transport.close()

    def _stop(self) -> None:
        self.table.lanes.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def hand_off(self, refused: TooMany | None = None) -> None:
        """The connection becomes aiohttp's, with the bytes read so far; counted once still."""
        transport = self.transport
        assert transport is not None
        self._stop()
        handler = self.handler = self.make_handler()
        handler.adopt(transport, None if refused else self.addr, refused, self.head_since)
        transport.set_protocol(handler)
        if self.writing_paused:
            handler.pause_writing()
        if self.parked or self.writing_paused:
            transport.resume_reading()
        self.transport = None
        # The parser refers back to this object (a cycle only the cyclic GC frees): the last
        # head's header values go now, not whenever that runs.
        self.headers, self.url = {}, b""
        if self.buffer:
            data, self.buffer = self.buffer, b""
            handler.data_received(data)

    # -- timeouts: one timer per connection, re-armed for whichever wait is current --------------

    def _arm(self, delay: float) -> None:
        self.timer = self.loop.call_later(delay, self._deadline) if delay > 0 else None

    def _deadline(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is None:
            return
        now = self.loop.time()
        if self.buffer or self.idle_since == 0.0:  # waiting for a head (or the first one)
            timeout, since = self.limits.settings.header_timeout, self.head_since
        else:  # an idle keep-alive connection
            timeout, since = self.idle_timeout, self.idle_since
        left = since + timeout - now
        if self.parked or timeout <= 0:
            self._arm(self._timeout())
        elif left > 0:
            self._arm(left)
        else:
            if self.buffer or self.idle_since == 0.0:
                self.limits.rejected["header_timeout"] += 1
            transport.close()

    def _timeout(self) -> float:
        """The shortest wait that can end: when the timer fires it re-arms for the current one."""
        waits = (self.limits.settings.header_timeout, self.idle_timeout)
        return min((t for t in waits if t > 0), default=3600.0)

    # -- requests --------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self.buffer:
            self.head_since = self.loop.time()
            if self.timer is None:
                self._arm(self._timeout())
        self.buffer += data
        if not self.parked and not self.writing_paused:
            self._process()

    def _process(self) -> None:
        buf = self.buffer
        transport = self.transport
        # A client that does not read its answers stops the loop (pause_writing) until it does.
        while buf and transport is not None and not self.writing_paused:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD or b"\n\n" in buf or b"\n\r\n" in buf:
                    self.buffer = buf
                    self.hand_off()
                    return
                break
            head = buf[: end + 4]
            answer = self._answer(head) if end < MAX_HEAD else None
            if answer is None:
                self.buffer = buf
                if not self.parked:
                    self.hand_off()
                return
            buf = buf[end + 4 :]
            if answer[1]:
                transport.writelines(answer[:2])  # a large body: not copied (uvloop: one writev)
            else:
                transport.write(answer[0])
            if not answer[2]:
                self.buffer = b""
                transport.close()
                return
        self.buffer = buf
        if not buf:
            self.idle_since = self.loop.time()

    def _answer(self, head: bytes) -> tuple[bytes, bytes, bool] | None:
        started = perf_counter()
        heads = self.table.heads
        request = heads.get(head)
        if request is None:
            request = self._parse(head)
            if request is None:
                return None
            if len(head) <= MEMO_HEAD:
                if len(heads) >= MEMO_HEADS:
                    heads.clear()
                heads[head] = request
        key, inm, accept_encoding, method, version, keep_alive = request
        now = time.time()
        entry = self.table.current(key, now)
        if entry is None:
            self._maybe_park(key)
            return None
        if self.table.suspended():
            return None
        if inm is not None and entry.matches(inm):
            kind = NOT_MODIFIED
        elif entry.has_gzip and b"gzip" in accept_encoding:
            kind = GZIP
        else:
            kind = PLAIN
        variant = entry.variants.get((method == "HEAD", version, keep_alive, kind))
        if variant is None:
            return None
        self.table.hits += 1
        out = variant.before + date_line(now) + variant.after
        REQUEST_STATS.count(method, entry.route, variant.status, perf_counter() - started)
        return out, variant.body, keep_alive

    def _parse(self, head: bytes) -> Parsed | None:
        """What of a complete head the answer depends on; None: not the lane's to answer."""
        if head.count(b"\n") != head.count(b"\r\n"):
            return None  # bare LF line ends: aiohttp's parser decides
        self.url, self.complete = b"", False
        headers = self.headers = {}
        try:
            self.parser.feed_data(head)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self.parser = httptools.HttpRequestParser(self)  # in an error state: a fresh one
            return None
        if not self.complete or not self.url.startswith(b"/") or REFUSED.intersection(headers):
            return None
        method = self.parser.get_method()
        if method not in (b"GET", b"HEAD"):
            return None
        key = (self.url, headers.get(b"accept-language", b""))
        version = self.parser.get_http_version()
        ae = headers.get(b"accept-encoding", b"")
        return key, headers.get(b"if-none-match"), ae, method.decode(), version, self.keep_alive

    def _maybe_park(self, key: tuple[bytes, bytes]) -> None:
        """An entry being refreshed by another connection's request: wait for it (PARK at most)
        rather than hand this connection to aiohttp too; the first one to find it stale goes."""
        table = self.table
        if key not in table.entries or self.transport is None:
            return
        waiter = table.pending.get(key)
        if waiter is None or waiter.done():
            waiter = table.pending[key] = self.loop.create_future()
            self.loop.call_later(PARK, _give_up, table, key, waiter)
            return  # this one refreshes it
        self.parked = True
        self.transport.pause_reading()
        waiter.add_done_callback(self._unpark)

    def _unpark(self, _: object) -> None:
        self.parked = False
        if self.transport is not None:
            if not self.writing_paused:
                self.transport.resume_reading()
            self._process()

    # -- httptools callbacks ---------------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in CHOOSING and name in self.headers:
            self.headers[b"cookie"] = b""  # a repeated choosing header: refused, aiohttp decides
        self.headers[name] = value

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # reset once the next message may begin


def _give_up(table: LaneTable, key: tuple[bytes, bytes], waiter: asyncio.Future[None]) -> None:
    if table.pending.get(key) is waiter:
        del table.pending[key]
    if not waiter.done():
        waiter.set_result(None)


class GuardedServer(Server):
    """An aiohttp Server whose connections start in the fast lane, else are GuardedHandlers."""

    def __init__(
        self,
        base: Server,
        limits: ConnectionLimits,
        handler_class: type[GuardedHandler],
        lane: LaneTable | None = None,
    ) -> None:
        # Rebuilt from the app's own Server so the app's handler, request factory and runner
        # arguments stay exactly what AppRunner chose (`_kwargs` has no public accessor).
        super().__init__(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            **base._kwargs,
        )
        self.limits = limits
        self.handler_class = handler_class
        self.lane = lane
        self.idle_timeout = float(self._kwargs.get("keepalive_timeout", 3630))

    def handler(self) -> GuardedHandler:
        return self.handler_class(self, limits=self.limits, loop=self._loop, **self._kwargs)

    def __call__(self) -> asyncio.Protocol:  # type: ignore[override]
        if self.lane is None:
            return self.handler()
        return FastLane(self.lane, self.limits, self.handler, self.idle_timeout)

    async def shutdown(self, timeout: float | None = None) -> None:
        if self.lane is not None:
            for lane in list(self.lane.lanes):
                lane.close()
        await super().shutdown(timeout)
