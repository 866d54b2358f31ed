"""The process's Prometheus counters and histograms, in one registry `/metrics` adds to its gauges.

Every part counts what it does through the objects here (one name each, defined once):
requests by route template, polls, parses and store applies per source, webhook deliveries
and dead letters, bot posts and Web Push sends (`count_webpush`). The gauges (items, source
state, open streams) are computed per scrape by `travelinfo.health`. Counters are per process
(as Prometheus expects), so in a test several apps of one process add to the same series:
read them back as differences.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

# Latencies of pages and API answers are milliseconds; polls and parses take seconds.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter(
    "travelinfo_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "travelinfo_http_request_duration_seconds",
    "Time to answer a request, by method and route template (a stream: its whole life)",
    ["method", "route"],
    buckets=_FAST,
    registry=REGISTRY,
)
POLLS = Counter(
    "travelinfo_polls",
    "Polls of a source by result (ok, not_modified, held, failed)",
    ["source", "result"],
    registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "travelinfo_poll_duration_seconds",
    "Time of one poll (fetch, parse and apply) per source",
    ["source"],
    buckets=_SLOW,
    registry=REGISTRY,
)
POLL_BYTES = Counter(
    "travelinfo_poll_bytes", "Payload bytes fetched and handed to the parser", ["source"], registry=REGISTRY
)
PARSES = Counter(
    "travelinfo_parses", "Payloads parsed by result (ok, error)", ["source", "result"], registry=REGISTRY
)
PARSE_SECONDS = Histogram(
    "travelinfo_parse_duration_seconds",
    "Time to parse one payload",
    ["source"],
    buckets=_SLOW,
    registry=REGISTRY,
)
PARSED_ITEMS = Counter(
    "travelinfo_parsed_items", "Disruptions the parser produced", ["source"], registry=REGISTRY
)
PARSE_SKIPPED = Counter(
    "travelinfo_parse_skipped_items",
    "Upstream records the parser skipped as invalid",
    ["source"],
    registry=REGISTRY,
)
STORE_APPLIES = Counter(
    "travelinfo_store_applies", "Batches applied to the store per source", ["source"], registry=REGISTRY
)
STORE_CHANGES = Counter(
    "travelinfo_store_changes", "Change events the applies made per source", ["source"], registry=REGISTRY
)
STORE_APPLY_SECONDS = Histogram(
    "travelinfo_store_apply_duration_seconds",
    "Time of one store apply",
    ["source"],
    buckets=_SLOW,
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "travelinfo_webhook_deliveries",
    "Webhook delivery attempts by result (ok, retry, failed)",
    ["result"],
    registry=REGISTRY,
)
WEBHOOK_DEAD_LETTERS = Counter(
    "travelinfo_webhook_dead_letters", "Webhook events given up and dead-lettered", registry=REGISTRY
)
BOT_POSTS = Counter(
    "travelinfo_bot_posts",
    "Bot posts by network and result (posted, rejected)",
    ["network", "result"],
    registry=REGISTRY,
)
WEBPUSH_SENDS = Counter(
    "travelinfo_webpush_sends",
    "Web Push messages sent to push services by result (ok, gone, retry, failed)",
    ["result"],
    registry=REGISTRY,
)
UP = Gauge("travelinfo_up", "1 while this process runs", registry=REGISTRY)
UP.set(1)


def count_webpush(result: str) -> None:
    """Count one Web Push send: `ok`, `gone` (subscription expired), `retry` or `failed`."""
    WEBPUSH_SENDS.labels(result).inc()


def exposition() -> bytes:
    """The text exposition of this registry (appended to the per-scrape gauges)."""
    return generate_latest(REGISTRY)


def route_of(request: web.Request) -> str:
    """The route template a request matched (`/d/{id}`), never its path: bounded label values."""
    resource = request.match_info.route.resource
    if resource is None:  # 404 and 405 answer from a system route
        return "unmatched"
    return resource.canonical


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Label children by (method, route, status): `labels()` takes a lock and builds a key on every
# call; a dict hit is cheaper on the hot path of cached pages. The set is bounded by the routes.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _child(method: str, route: str, status: int) -> tuple[Any, Any]:
    key = (method, route, status)
    hit = _children.get(key)
    if hit is None:
        hit = (REQUESTS.labels(method, route, str(status)), REQUEST_SECONDS.labels(method, route))
        _children[key] = hit
    return hit


@web.middleware
async def requests_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request by route template and final status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away first (nginx's "client closed request")
        raise
    finally:
        method = request.method if request.method in METHODS else "OTHER"  # a client picks it
        count, seconds = _child(method, route_of(request), status)
        count.inc()
        seconds.observe(time.perf_counter() - started)


def setup(app: web.Application) -> None:
    """Put the request counter outermost, so it sees the status the client gets."""
    app.middlewares.insert(0, requests_middleware)
