"""Last good answers, served with a warning while the store is unreachable (issue 11).

The errors middleware remembers the bytes of every successful GET per variant (path, query,
Accept-Language, Cookie, Authorization) within a byte budget; the same cached rendering served
again only refreshes its time. When a handler fails because the store is down it answers
with those bytes, `Warning: 110 - "Response is Stale"`, `Age`, and, on pages, the banner the
web publisher injects; without them a 503. One log line per outage, one on recovery.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from travelinfo.runtime.rendered import entity_tags

log = logging.getLogger("travelinfo.runtime.stale")

WARNING = '110 - "Response is Stale"'
# Probes and metrics must say the truth about now, never repeat an old answer.
NOT_STALE = ("/healthz", "/readyz", "/metrics", "/api/v1/stream", "/api/v1/ws")
# Answers that never read the store say nothing about whether it is back.
STORELESS = ("/static/", "/api/v1/openapi")
# Headers that described the fresh answer and would mislead on the stale one.
DROPPED = ("Content-Length", "Date", "Age", "Warning")

# The web publisher sets this to put its "data may be out of date" banner into a stale page.
StaleDecorator = Callable[[bytes], bytes]
STALE_HTML: web.AppKey[StaleDecorator] = web.AppKey("stale_html")


@dataclass(slots=True)
class Kept:
    """One remembered answer (`at` moves on while the same bytes are served again)."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    at: float  # time.time() when it was served fresh


class StaleCache:
    """Last good bytes per GET variant, least recently used dropped beyond `budget` bytes."""

    def __init__(self, budget: int = 32 * 1024 * 1024) -> None:
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[tuple[str, str, str, str], Kept] = OrderedDict()
        self.outage_since: float | None = None
        self.served = 0  # stale answers given (tests, metrics)
        # Whether this process's change-log reader currently fails to read the store (the app
        # wires the hub in): answers made from caches then say they may be out of date too.
        self.down: Callable[[], bool] = lambda: False

    @staticmethod
    def key(request: web.Request) -> tuple[str, str, str, str] | None:
        # Cookie and Authorization are part of the variant: `/` lists a reader's "my lines"
        # first, and an answer made for one signed-in caller is never another's stale answer.
        if request.method not in ("GET", "HEAD") or request.path.startswith(NOT_STALE):
            return None
        h = request.headers
        auth = h.get("Authorization", "")
        return (request.path_qs, h.get("Accept-Language", ""), h.get("Cookie", ""), auth)

    def remember(self, request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
        """Keep a successful answer's bytes (every fresh 200; a dict update). While the store
        is known to be down, an answer made from a render cache is returned marked stale."""
        if resp.status != 200 or type(resp) is not web.Response:
            return resp
        body = resp.body
        key = self.key(request)
        if key is None or not isinstance(body, bytes) or request.path.startswith(STORELESS):
            return resp
        old = self._items.get(key)
        down = self.down()
        if old is not None and old.body is body and not down and self.outage_since is None:
            # The same cached rendering served again (the hot path): it is fresh as of now.
            old.at = time.time()
            self._items.move_to_end(key)
            return resp
        headers = tuple((k, v) for k, v in resp.headers.items() if k not in DROPPED)
        if down:
            return self._serve(request, Kept(body, headers, old.at if old else time.time()))
        if self.outage_since is not None:
            log.info("store reachable again after %.0f s", time.time() - self.outage_since)
            self.outage_since = None
        if len(body) > self.budget // 8:
            return resp
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        self._items[key] = Kept(body, headers, time.time())
        self.size += len(body)
        while self.size > self.budget and self._items:
            _, dropped = self._items.popitem(last=False)
            self.size -= len(dropped.body)
        return resp

    def outage(self, exc: BaseException) -> None:
        """Note a store failure; only the first of an outage is logged."""
        if self.outage_since is None:
            self.outage_since = time.time()
            log.warning(
                "store unreachable (%s: %s); serving the last answers with a warning",
                type(exc).__name__,
                exc,
            )

    def answer(self, request: web.Request) -> web.Response | None:
        """The remembered answer for this request, marked stale (None: nothing kept)."""
        key = self.key(request)
        kept = self._items.get(key) if key is not None else None
        return None if kept is None else self._serve(request, kept)

    def _serve(self, request: web.Request, kept: Kept) -> web.Response:
        self.served += 1
        headers = dict(kept.headers)
        body = kept.body
        headers["Warning"] = WARNING
        headers["Age"] = str(max(0, int(time.time() - kept.at)))
        headers["Cache-Control"] = "no-cache"
        decorate = request.app.get(STALE_HTML)
        content_type = headers.get("Content-Type", "")
        gzipped = headers.get("Content-Encoding") == "gzip"
        if decorate is not None and content_type.startswith("text/html"):
            body = decorate(gzip.decompress(body) if gzipped else body)
            headers.pop("Content-Encoding", None)
            # The page now differs from the one these validators named.
            headers.pop("ETag", None)
            headers.pop("Last-Modified", None)
        elif gzipped and "gzip" not in request.headers.get("Accept-Encoding", ""):
            body = gzip.decompress(body)
            headers.pop("Content-Encoding", None)
        etag = headers.get("ETag")
        inm = request.headers.get("If-None-Match")
        if etag and inm and etag in entity_tags(inm):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)


STALE: web.AppKey[StaleCache] = web.AppKey("stale", StaleCache)
