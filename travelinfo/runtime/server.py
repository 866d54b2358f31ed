"""HTTP helpers shared by publishers: render-once caching, conditional GET, gzip, JSON errors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import perf_counter
from typing import Any

from aiohttp import web

from travelinfo.runtime import secrets
from travelinfo.runtime.backoff import is_store_error
from travelinfo.runtime.lanetable import FILL, GZIP, NOT_MODIFIED, PLAIN
from travelinfo.runtime.metrics import count_request

# Renderings live in `rendered.py`; publishers import them from here, with `respond`.
from travelinfo.runtime.rendered import SECURITY_HEADERS as SECURITY_HEADERS
from travelinfo.runtime.rendered import Recent as Recent
from travelinfo.runtime.rendered import RenderCache as RenderCache
from travelinfo.runtime.rendered import Rendered as Rendered
from travelinfo.runtime.rendered import entity_tags
from travelinfo.runtime.stale import STALE

log = logging.getLogger(__name__)

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def not_modified(request: web.Request, r: Rendered) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = entity_tags(inm)
        return r.etag in tags or "*" in tags
    since = http_date(request.headers.get("If-Modified-Since"))
    return since is not None and r.last_modified <= since


def respond(
    request: web.Request, r: Rendered, *, cache_control: str = "public, max-age=15", lane: float | None = None
) -> web.Response:
    """Serve cached bytes: 304 when the client has them, gzip when it accepts it.

    `lane`: until when (time.time(); math.inf: until the render cache's generation changes) the
    same request gets this same rendering, so the fast lane may replay the answer; None: never.
    """
    not_mod, plain, zipped = r._variants(cache_control)
    headers = request.headers
    if ("If-None-Match" in headers or "If-Modified-Since" in headers) and not_modified(request, r):
        if lane is not None:
            request[FILL] = (r, NOT_MODIFIED, lane)
        return web.Response(status=304, headers=not_mod)
    if r.gzipped is not None and "gzip" in headers.get("Accept-Encoding", ""):
        if lane is not None:
            request[FILL] = (r, GZIP, lane)
        return web.Response(body=r.gzipped, headers=zipped)
    if lane is not None:
        request[FILL] = (r, PLAIN, lane)
    return web.Response(body=r.body, headers=plain)


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
    """JSON errors for every failure (HTML for browsers when the web publisher offers it); every
    request counted and timed by route template and the status the client gets.

    One middleware rather than a stack of them (errors, metrics, API guards, stale bytes): each
    aiohttp middleware layer costs a call chain on every request, and cached answers are served
    in microseconds.
    """
    started = perf_counter()
    status = 500
    try:
        resp = await _answer(request, handler)
        status = resp.status
        return resp
    except web.HTTPException as exc:  # below 400 (redirects): aiohttp answers it
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away first (nginx's "client closed request")
        raise
    finally:
        count_request(request, status, perf_counter() - started)


async def _answer(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
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
