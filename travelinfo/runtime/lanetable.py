"""The fast lane's table: complete prepared responses aiohttp served, keyed for exact replay.

`respond` marks a request whose answer may be replayed (`FILL`); when aiohttp has written it,
`LaneTable.served` keeps its exact bytes (the head split around its Date line) by raw path and
query and Accept-Language, per variant (method, HTTP version, keep-alive, 304/gzip/identity),
for the RenderCache generation and the time the handler said it holds. `travelinfo.runtime.
fastlane` replays them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from travelinfo.runtime.metrics import route_of
from travelinfo.runtime.rendered import Rendered, entity_tags

if TYPE_CHECKING:
    from travelinfo.runtime.fastlane import FastLane

# Set on the request by `respond` when its answer may be replayed: (rendering, kind, valid until
# this time.time(); math.inf: until the generation changes).
FILL: web.RequestKey[tuple[Rendered, int, float]] = web.RequestKey("fastlane_fill", tuple)
BEGUN: web.RequestKey[int] = web.RequestKey("fastlane_begun", int)
NOT_MODIFIED, PLAIN, GZIP = 0, 1, 2
MAX_HEAD = 8192  # a longer head is aiohttp's to judge (431, 400)
MAX_ENTRIES = 1000
PARK = 1.0  # seconds a request for an entry being refreshed waits before going to aiohttp
SMALL = 65536  # bodies below this are copied behind their head and written in one piece
# Any of these and the answer is not ours to give.
REFUSED = frozenset(
    {
        b"cookie",
        b"authorization",
        b"upgrade",
        b"expect",
        b"content-length",
        b"transfer-encoding",
        b"if-modified-since",
    }
)
CHOOSING = frozenset({b"accept-language", b"accept-encoding", b"if-none-match"})
REFUSED_TEXT = tuple(name.decode() for name in REFUSED)
CHOOSING_TEXT = tuple(name.decode() for name in CHOOSING)

_date: list[Any] = [0, b""]


def date_line(now: float) -> bytes:
    """`Date: ...\\r\\n` for this second (formatted once a second)."""
    second = int(now)
    if second != _date[0]:
        _date[0], _date[1] = second, b"Date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
    line: bytes = _date[1]
    return line


class Variant:
    """One prepared answer: the head before and after its Date line, the body, the status."""

    __slots__ = ("after", "before", "body", "status")

    def __init__(self, before: bytes, after: bytes, body: bytes, status: int) -> None:
        self.before, self.status = before, status
        small = len(body) < SMALL
        self.after = after + body if small else after
        self.body = b"" if small else body


class Entry:
    """The prepared answers of one (raw path and query, Accept-Language) for one rendering."""

    __slots__ = ("etag", "expires", "generation", "has_gzip", "rendered", "route", "variants")

    def __init__(self, r: Rendered, generation: int, expires: float, route: str) -> None:
        self.rendered = r
        self.etag = r.etag
        self.has_gzip = r.gzipped is not None
        self.generation = generation
        self.expires = expires
        self.route = route
        self.variants: dict[tuple[bool, str, bool, int], Variant] = {}

    def matches(self, inm: bytes) -> bool:
        """`server.not_modified` for If-None-Match (the only validator the lane takes)."""
        tags = entity_tags(inm.decode("latin-1"))  # header bytes as aiohttp decodes them
        return self.etag in tags or "*" in tags


class Generation(Protocol):
    generation: int


class LaneTable:
    """Prepared answers by raw path and query and Accept-Language, valid for one generation."""

    def __init__(self, cache: Generation, suspended: Callable[[], bool] = lambda: False) -> None:
        self.cache = cache
        self.suspended = suspended  # the store is down: answers must come marked stale
        self.entries: dict[tuple[bytes, bytes], Entry] = {}
        self.pending: dict[tuple[bytes, bytes], asyncio.Future[None]] = {}
        self.heads: dict[bytes, Any] = {}  # complete request heads as the lane parsed them
        self.hits = 0
        self.lanes: set[FastLane] = set()  # connections still in the lane (closed at shutdown)

    def current(self, key: tuple[bytes, bytes], now: float) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None or entry.generation != self.cache.generation or now >= entry.expires:
            return None
        return entry

    def begin(self, request: web.BaseRequest) -> None:
        """aiohttp starts on `request`: a rendering it gets while the data changes is not replayed."""
        request[BEGUN] = self.cache.generation

    def served(self, request: web.BaseRequest, resp: web.StreamResponse) -> None:
        """aiohttp answered `request`: keep its exact bytes if they may be replayed (the
        generation has not changed since it began); wake the requests waiting for them."""
        key = None
        if self.pending:
            key = _key(request)
            waiter = self.pending.pop(key, None) if key is not None else None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        mark = request.get(FILL)
        if mark is not None and request.get(BEGUN) == self.cache.generation:
            self._fill(request, resp, mark, key or _key(request))
        elif (
            key is not None and (stale := self.entries.get(key)) and stale.generation != self.cache.generation
        ):
            del self.entries[key]  # no longer replayable: later requests go straight to aiohttp

    def _fill(
        self, request: web.BaseRequest, resp: web.StreamResponse, mark: Any, key: tuple[bytes, bytes] | None
    ) -> None:
        r, kind, until = mark
        headers = request.headers
        if (
            key is None
            or not isinstance(resp, web.Response)
            or resp.status != (304 if kind == NOT_MODIFIED else 200)
            or resp.keep_alive != request.keep_alive
            or resp.headers.get("ETag") != r.etag
            or "Warning" in resp.headers
            or any(name in headers for name in REFUSED_TEXT)
            or any(len(headers.getall(name, ())) > 1 for name in CHOOSING_TEXT)
            or request.version.major != 1
        ):
            return
        body = b"" if kind == NOT_MODIFIED else (r.gzipped if kind == GZIP else r.body)
        if resp.body is not body and kind != NOT_MODIFIED:
            return
        generation = self.cache.generation
        entry = self.entries.get(key)
        if entry is None or entry.generation != generation or entry.rendered is not r:
            if entry is None and len(self.entries) >= MAX_ENTRIES:
                del self.entries[next(iter(self.entries))]
            entry = self.entries[key] = Entry(r, generation, until, route_of(request))  # type: ignore[arg-type]
        entry.expires = until  # the handler has just chosen this rendering: current till then
        head = [f"HTTP/{request.version.major}.{request.version.minor} {resp.status} {resp.reason}\r\n"]
        cut = 0
        for name, value in resp.headers.items():
            if name == "Date":
                cut = len(head)
                continue
            head.append(f"{name}: {value}\r\n")
        if not cut:
            return
        head.append("\r\n")
        before = "".join(head[:cut]).encode()
        after = "".join(head[cut:]).encode()
        version = f"{request.version.major}.{request.version.minor}"
        is_head = request.method == "HEAD"
        variant = Variant(before, after, b"" if is_head else (body or b""), resp.status)
        entry.variants[(is_head, version, request.keep_alive, kind)] = variant


def _key(request: web.BaseRequest) -> tuple[bytes, bytes] | None:
    url, lang = request.raw_path, request.headers.get("Accept-Language", "")
    if not (url.isascii() and lang.isascii()):
        return None
    return url.encode(), lang.encode()


def lane_table(app: web.Application, runner_kwargs: Mapping[str, Any]) -> LaneTable | None:
    """The app's lane table, or None: lane disabled (`limits.fast_lane`), no render cache, or an
    access log to write (the lane does not log; every request then goes to aiohttp)."""
    from aiohttp.log import access_logger

    from travelinfo.runtime import appkeys as appmod
    from travelinfo.runtime.stale import STALE

    access = runner_kwargs.get("access_log", access_logger)
    if not app[appmod.SETTINGS].limits.fast_lane or appmod.CACHE not in app:
        return None
    if isinstance(access, logging.Logger) and access.isEnabledFor(logging.INFO):
        return None
    stale = app.get(STALE)
    if stale is None:
        return LaneTable(app[appmod.CACHE])
    return LaneTable(app[appmod.CACHE], lambda: stale.outage_since is not None or stale.down())
