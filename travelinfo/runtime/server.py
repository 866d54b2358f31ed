"""HTTP helpers shared by publishers: render-once caching, conditional GET, gzip, JSON errors."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web

from travelinfo.runtime import secrets
from travelinfo.runtime.backoff import is_store_error
from travelinfo.runtime.stale import STALE

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """Bytes rendered once, with their validators and a gzip copy."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    gzipped: bytes | None
    headers: tuple[tuple[str, str], ...] = ()
    http_date: str = ""  # Last-Modified, formatted once rather than per request
    # Response headers per Cache-Control value, built on first use: the hot path of a cached
    # feed is then a dict lookup and one Response.
    _prepared: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def prepared(self, cache_control: str) -> dict[str, str]:
        """Validators, caching and security headers for a 304 (add Content-Type for a 200)."""
        hit = self._prepared.get(cache_control)
        if hit is None:
            hit = {
                "ETag": self.etag,
                "Last-Modified": self.http_date,
                "Cache-Control": cache_control,
                "Vary": "Accept-Encoding",
                **SECURITY_HEADERS,
                **dict(self.headers),
            }
            self._prepared[cache_control] = hit
        return hit

    @classmethod
    def make(
        cls, body: bytes, content_type: str, last_modified: datetime, headers: dict[str, str] | None = None
    ) -> Rendered:
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        compressible = content_type.startswith(("text/", "application/")) and not content_type.startswith(
            "application/x-protobuf"
        )
        zipped = gzip.compress(body, 6, mtime=0) if compressible and len(body) > 512 else None
        last_modified = last_modified.replace(microsecond=0)
        return cls(
            body,
            content_type,
            etag,
            last_modified,
            zipped,
            tuple((headers or {}).items()),
            format_datetime(last_modified, usegmt=True),
        )


class RenderCache:
    """Keeps one rendering per (key, generation): rendered once per change, whatever the traffic."""

    def __init__(self) -> None:
        self._items: dict[Hashable, tuple[int, Rendered]] = {}
        self.renders = 0  # counted, so tests can prove "once per change"
        self.generation = 0

    def invalidate(self, *_: Any) -> None:
        self.generation += 1

    def peek(self, key: Hashable) -> Rendered | None:
        """The current rendering of `key` if there is one (no await on the hot path)."""
        hit = self._items.get(key)
        return hit[1] if hit is not None and hit[0] == self.generation else None

    async def get(self, key: Hashable, render: Callable[[], Awaitable[Rendered]]) -> Rendered:
        gen = self.generation
        hit = self._items.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1]
        rendered = await render()
        self.renders += 1
        if len(self._items) > 2000:  # bound the number of filter variants kept
            self._items.clear()
        self._items[key] = (gen, rendered)
        return rendered


def not_modified(request: web.Request, r: Rendered) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return r.etag in tags or "*" in tags
    since = http_date(request.headers.get("If-Modified-Since"))
    return since is not None and r.last_modified <= since


def respond(request: web.Request, r: Rendered, *, cache_control: str = "public, max-age=15") -> web.Response:
    """Serve cached bytes: 304 when the client has them, gzip when it accepts it."""
    headers = r.prepared(cache_control)
    if ("If-None-Match" in request.headers or "If-Modified-Since" in request.headers) and not_modified(
        request, r
    ):
        return web.Response(status=304, headers=headers)
    if r.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        zipped = {**headers, "Content-Type": r.content_type, "Content-Encoding": "gzip"}
        return web.Response(body=r.gzipped, headers=zipped)
    return web.Response(body=r.body, headers={**headers, "Content-Type": r.content_type})


# A hostile header must not ask for forever (400 digits are float("inf")): a year is plenty, and
# every caller caps far lower still.
MAX_RETRY_AFTER = 365 * 86400.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() alone also takes "²" and "٣"
        return min(float(value), MAX_RETRY_AFTER)
    when = http_date(value)
    if when is None:
        return None
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), MAX_RETRY_AFTER)


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 9110; GMT when it names no zone) as an aware datetime, or None."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=dumps(data), status=status, content_type="application/json", charset="utf-8", headers=headers
    )


def json_error(status: int, message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error carrying a JSON body `{"error": message, ...}` (raise it; text, not the
    body= aiohttp deprecates on its exceptions)."""
    text = secrets.scrub(json.dumps({"error": message, **extra}, ensure_ascii=False))
    kwargs: dict[str, Any] = {"text": text, "content_type": "application/json"}
    if status == 401:  # RFC 9110: a 401 names the scheme it wants
        kwargs["headers"] = {"WWW-Authenticate": 'Bearer realm="travelinfo"'}
    cls = _ERROR_CLASSES.get(status)
    if cls is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, **kwargs)
    if cls is None or cls is web.HTTPMethodNotAllowed:
        exc = web.HTTPBadRequest(**kwargs)
        exc.set_status(status)
        return exc
    return cls(**kwargs)


def _error_classes() -> dict[int, type[web.HTTPException]]:
    out: dict[int, type[web.HTTPException]] = {}
    stack: list[type[web.HTTPException]] = [web.HTTPClientError, web.HTTPServerError]
    while stack:
        klass = stack.pop()
        code = getattr(klass, "status_code", -1)
        if code > 0:
            out.setdefault(code, klass)
        stack.extend(klass.__subclasses__())
    return out


_ERROR_CLASSES = _error_classes()


class BadParameter(ValueError):
    """A bad query parameter; becomes a 400 naming it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


HtmlErrorRenderer = Callable[[web.Request, int, str], Awaitable[web.StreamResponse]]
HTML_ERRORS: web.AppKey[HtmlErrorRenderer] = web.AppKey("html_errors")

# Checks run before every /api/ handler (rate limits, CORS preflight): a guard returns a
# response to answer at once, or None to go on. One middleware dispatches them, so pages and
# feeds do not pay for API-only middleware layers on every request.
ApiGuard = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
API_GUARDS: web.AppKey[list[ApiGuard]] = web.AppKey("api_guards", list)
EXPOSE_HEADERS = "ETag, Last-Modified, Link, Retry-After, RateLimit, RateLimit-Policy"


def add_api_guard(app: web.Application, guard: ApiGuard) -> None:
    """Run `guard` before every /api/ request of `app` (call from a publisher's setup)."""
    app.setdefault(API_GUARDS, []).append(guard)


def wants_html(request: web.Request) -> bool:
    if request.path.startswith(("/api/", "/gtfs-rt/", "/feeds/", "/metrics", "/healthz", "/readyz")):
        return False
    accept = request.headers.get("Accept", "")
    return "text/html" in accept


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """JSON errors for every failure (HTML for browsers when the web publisher offers it)."""
    try:
        if request.path.startswith("/api/"):
            for guard in request.app.get(API_GUARDS, ()):
                answer = await guard(request)
                if answer is not None:
                    return _finish(request, answer)
        resp = await handler(request)
    except BadParameter as exc:
        message = secrets.scrub(str(exc))  # it may echo what the client sent
        resp = json_response({"error": message, "parameter": exc.parameter}, 400)
        return _finish(request, await _maybe_html(request, resp, 400, message))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.content_type == "application/json" and exc.body:
            resp = web.Response(status=exc.status, body=exc.body, headers=exc.headers)
            return _finish(request, resp)
        message = secrets.scrub(exc.reason if exc.status != 404 else f"not found: {request.path}")
        if exc.status == 405:
            message = f"method {request.method} not allowed on {request.path}"
        headers = {
            k: exc.headers[k] for k in ("Allow", "Retry-After", "WWW-Authenticate") if k in exc.headers
        }
        resp = json_response({"error": message}, exc.status, headers)
        return _finish(request, await _maybe_html(request, resp, exc.status, message))
    except Exception as exc:
        if is_store_error(exc):
            return _finish(request, await _store_down(request, exc))
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _finish(request, json_response({"error": "internal error"}, 500))
    stale = request.app.get(STALE)
    if stale is not None:
        resp = stale.remember(request, resp)
    return _finish(request, resp)


async def _store_down(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The last good answer marked stale, else a 503 (an outage, not a bug: no traceback)."""
    stale = request.app.get(STALE)
    if stale is not None:
        stale.outage(exc)
        kept = stale.answer(request)
        if kept is not None:
            return kept
    message = "the data store is unreachable; try again shortly"
    resp = json_response({"error": message}, 503, {"Retry-After": "5"})
    return await _maybe_html(request, resp, 503, message)


async def _maybe_html(
    request: web.Request, resp: web.StreamResponse, status: int, message: str
) -> web.StreamResponse:
    renderer = request.app.get(HTML_ERRORS)
    if renderer is not None and wants_html(request):
        return await renderer(request, status, message)
    return resp


def _finish(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    headers = resp.headers
    if "X-Content-Type-Options" not in headers:  # respond() sets them all at once
        for key, value in SECURITY_HEADERS.items():
            headers.setdefault(key, value)
    if request.method in ("GET", "HEAD", "OPTIONS") and request.path.startswith(
        ("/api/", "/gtfs-rt/", "/feeds/")
    ):
        headers.setdefault("Access-Control-Allow-Origin", "*")
        if request.path.startswith("/api/"):
            headers.setdefault("Access-Control-Expose-Headers", EXPOSE_HEADERS)
    return resp
