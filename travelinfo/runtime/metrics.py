"""The process's Prometheus counters and histograms, in one registry `/metrics` adds to its gauges.

Every part counts what it does through the objects here (one name each, defined once):
requests by route template, polls, parses and store applies per source, webhook deliveries
and dead letters, bot posts and Web Push sends (`count_webpush`). The gauges (items, source
state, open streams) are computed per scrape by `travelinfo.health`. Counters are per process
(as Prometheus expects), so in a test several apps of one process add to the same series:
read them back as differences.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

# Latencies of pages and API answers are milliseconds; polls and parses take seconds.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _counter(name: str, doc: str, *labels: str) -> Counter:
    return Counter(name, doc, labels, registry=REGISTRY)


def _seconds(name: str, doc: str, *labels: str) -> Histogram:
    return Histogram(name, doc, labels, buckets=_SLOW, registry=REGISTRY)


POLLS = _counter(
    "travelinfo_polls", "Polls of a source by result (ok, not_modified, held, failed)", "source", "result"
)
POLL_SECONDS = _seconds(
    "travelinfo_poll_duration_seconds", "Time of one poll (fetch, parse and apply) per source", "source"
)
POLL_BYTES = _counter("travelinfo_poll_bytes", "Payload bytes fetched and handed to the parser", "source")
PARSES = _counter("travelinfo_parses", "Payloads parsed by result (ok, error)", "source", "result")
PARSE_SECONDS = _seconds("travelinfo_parse_duration_seconds", "Time to parse one payload", "source")
PARSED_ITEMS = _counter("travelinfo_parsed_items", "Disruptions the parser produced", "source")
PARSE_SKIPPED = _counter(
    "travelinfo_parse_skipped_items", "Upstream records the parser skipped as invalid", "source"
)
STORE_APPLIES = _counter("travelinfo_store_applies", "Batches applied to the store per source", "source")
STORE_CHANGES = _counter("travelinfo_store_changes", "Change events the applies made per source", "source")
STORE_APPLY_SECONDS = _seconds("travelinfo_store_apply_duration_seconds", "Time of one store apply", "source")
WEBHOOK_DELIVERIES = _counter(
    "travelinfo_webhook_deliveries", "Webhook delivery attempts by result (ok, retry, failed)", "result"
)
WEBHOOK_DEAD_LETTERS = _counter(
    "travelinfo_webhook_dead_letters", "Webhook events given up and dead-lettered"
)
BOT_POSTS = _counter(
    "travelinfo_bot_posts", "Bot posts by network and result (posted, rejected)", "network", "result"
)
WEBPUSH_SENDS = _counter(
    "travelinfo_webpush_sends",
    "Web Push messages sent to push services by result (ok, gone, retry, failed)",
    "result",
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


class RequestStats(Collector):
    """Requests by (method, route template, status) and their latency histogram by (method, route).

    Plain dicts of ints and floats, exported per scrape as `travelinfo_http_requests_total` and
    `travelinfo_http_request_duration_seconds`: prometheus_client's own Counter/Histogram take
    a lock and check their state on every `inc`/`observe`, which showed on the hot path of
    cached pages. One event loop thread counts, so there is nothing to lock. The label sets
    are bounded by the routes (the method is one of METHODS or OTHER).
    """

    def __init__(self, bounds: tuple[float, ...] = _FAST) -> None:
        self.bounds = bounds
        self.counts: dict[tuple[str, str, int], int] = {}
        # (method, route) -> [count per bucket (the last one is +Inf), sum of seconds]
        self.latency: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def count(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request that took `seconds`."""
        key = (method, route, status)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        hist = self.latency.get((method, route))
        if hist is None:
            hist = self.latency[(method, route)] = ([0] * (len(self.bounds) + 1), [0.0])
        hist[0][bisect_left(self.bounds, seconds)] += 1
        hist[1][0] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "travelinfo_http_requests",
            "HTTP requests answered, by method, route template and status",
            labels=["method", "route", "status"],
        )
        for (method, route, status), n in sorted(self.counts.items()):
            requests.add_metric([method, route, str(status)], n)
        yield requests
        seconds = HistogramMetricFamily(
            "travelinfo_http_request_duration_seconds",
            "Time to answer a request, by method and route template (a stream: its whole life)",
            labels=["method", "route"],
        )
        edges = [repr(float(b)) for b in self.bounds] + ["+Inf"]  # `le` as prometheus_client writes it
        for (method, route), (buckets, total) in sorted(self.latency.items()):
            cumulative, running = [], 0
            for edge, n in zip(edges, buckets, strict=True):
                running += n
                cumulative.append((edge, running))
            seconds.add_metric([method, route], cumulative, total[0])
        yield seconds


REQUEST_STATS = RequestStats()
REGISTRY.register(REQUEST_STATS)


def count_request(request: web.Request, status: int, seconds: float) -> None:
    """Count one answered request by its route template and final status."""
    method = request.method if request.method in METHODS else "OTHER"  # a client picks it
    REQUEST_STATS.count(method, route_of(request), status, seconds)
