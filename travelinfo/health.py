"""Liveness, readiness, Prometheus metrics and per-source health (`/api/v1/sources`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from travelinfo.config import redact_url
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime import metrics as ops_metrics
from travelinfo.runtime.server import json_response
from travelinfo.settings import REFERENCE_SOURCE
from travelinfo.store.base import SourceHealth, list_health

MetricsWriter = Callable[[CollectorRegistry], None]
METRICS_WRITERS: web.AppKey[list[MetricsWriter]] = web.AppKey("metrics_writers", list)


def add_metrics(app: web.Application, writer: MetricsWriter) -> None:
    """Have `writer` add its metrics to every /metrics scrape (call from a publisher's setup)."""
    app.setdefault(METRICS_WRITERS, []).append(writer)


async def source_health(app: web.Application) -> list[dict[str, Any]]:
    """Every configured source with its health (configured but never polled: `pending`)."""
    now = datetime.now(UTC)
    settings = app[appmod.SETTINGS]
    records = {h.source: h for h in await list_health(app[appmod.STORE])}
    out = []
    for src in settings.sources:
        h = records.pop(src.name, None) or SourceHealth(
            src.name,
            interval=src.interval,
            stale_after=src.stale_after,
            type=src.type,
            url=redact_url(src.url) if "://" in src.url else src.url,
        )
        data = h.to_json(now)
        data["enabled"] = src.enabled
        out.append(data)
    ref = settings.reference
    if ref.gtfs_static:  # the reference data is a source of the scheduler too
        ref_health = records.pop(REFERENCE_SOURCE, None) or SourceHealth(
            REFERENCE_SOURCE,
            interval=ref.refresh,
            type=REFERENCE_SOURCE,
            url=redact_url(ref.gtfs_static) if "://" in ref.gtfs_static else ref.gtfs_static,
        )
        out.append({**ref_health.to_json(now), "enabled": True})
    for h in records.values():  # e.g. operators' notices, or sources since removed
        data = h.to_json(now)
        data["enabled"] = False
        out.append(data)
    return out


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 once the store answers and every enabled source has succeeded once or reported failing.

    503 with the reason otherwise: the store unreachable, a source still `pending` (named in
    `pending`), the worker of this process waiting for the collector lock or not collecting.
    """
    app = request.app
    try:
        await app[appmod.STORE].last_seq()
    except Exception as exc:
        return json_response({"ready": False, "reason": f"store unreachable: {exc}"}, 503)
    worker = app.get(appmod.WORKER)
    if worker is not None and worker.scheduler is None:
        return json_response({"ready": False, "reason": "waiting for the collector lock"}, 503)
    if worker is not None and not worker.collecting:
        return json_response({"ready": False, "reason": "the worker is not collecting"}, 503)
    if worker is not None and worker.scheduler is not None and not worker.scheduler.first_round.is_set():
        return json_response({"ready": False, "reason": "first collection not done"}, 503)
    try:
        pending = [h["source"] for h in await source_health(app) if h["enabled"] and _pending(h)]
    except Exception as exc:
        return json_response({"ready": False, "reason": f"store unreachable: {exc}"}, 503)
    if pending:
        reason = f"no poll has succeeded or failed yet for: {', '.join(pending)}"
        return json_response({"ready": False, "reason": reason, "pending": pending}, 503)
    return json_response({"ready": True})


def _pending(health: dict[str, Any]) -> bool:
    """Neither a success nor a failure reported yet (a held snapshot is a reported result)."""
    return not health["last_success"] and not health["last_error"] and health["state"] != "suspect"


async def sources(request: web.Request) -> web.Response:
    return json_response({"sources": await source_health(request.app)})


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    registry = CollectorRegistry()
    items = Gauge(
        "travelinfo_disruptions", "Disruptions in the store by status", ["status"], registry=registry
    )
    for status, n in (await app[appmod.STORE].count()).items():
        items.labels(status).set(n)
    state = Gauge("travelinfo_source_up", "1 when the source is ok", ["source", "state"], registry=registry)
    count = Gauge(
        "travelinfo_source_items", "Items in the source's last payload", ["source"], registry=registry
    )
    age = Gauge("travelinfo_source_age_seconds", "Seconds since last success", ["source"], registry=registry)
    now = datetime.now(UTC)
    for h in await source_health(app):
        state.labels(h["source"], h["state"]).set(1 if h["state"] == "ok" else 0)
        count.labels(h["source"]).set(h["item_count"])
        if h["last_success"]:
            last = datetime.fromisoformat(h["last_success"].replace("Z", "+00:00"))
            age.labels(h["source"]).set((now - last).total_seconds())
    hub = app[appmod.HUB]
    Gauge("travelinfo_push_subscribers", "Open push subscriptions", registry=registry).set(hub.subscribers)
    registry.register(_Renders(app[appmod.CACHE].renders))
    for write in app.get(METRICS_WRITERS, ()):
        write(registry)
    body = generate_latest(registry) + ops_metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Renders(Collector):
    """The render cache's count as a counter (`travelinfo_renders_total`): it only grows."""

    def __init__(self, renders: int) -> None:
        self.renders = renders

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("travelinfo_renders", "Renders since start", value=self.renders)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_server_header)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/sources", sources)


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Name the service, never the versions of Python and aiohttp (no help to an attacker)."""
    response.headers["Server"] = "travelinfo"
