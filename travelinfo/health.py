"""Liveness, readiness, Prometheus metrics and per-source health (`/api/v1/sources`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from travelinfo.config import redact_url
from travelinfo.runtime import appkeys as appmod
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
    app = request.app
    try:
        await app[appmod.STORE].last_seq()
    except Exception as exc:
        return json_response({"ready": False, "reason": f"store unreachable: {exc}"}, 503)
    worker = app.get(appmod.WORKER)
    sched = worker.scheduler if worker else None
    if sched is not None and not sched.first_round.is_set():
        return json_response({"ready": False, "reason": "first collection not done"}, 503)
    if worker is None and app[appmod.SETTINGS].sources:
        records = await list_health(app[appmod.STORE])
        if not any(h.last_attempt for h in records):
            return json_response({"ready": False, "reason": "no collection done yet"}, 503)
    if worker is not None and sched is None:
        return json_response({"ready": False, "reason": "waiting for the collector lock"}, 503)
    if worker is not None and not worker.collecting:
        return json_response({"ready": False, "reason": "the worker is not collecting"}, 503)
    return json_response({"ready": True})


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
    Gauge("travelinfo_render_count", "Renders since start", registry=registry).set(app[appmod.CACHE].renders)
    for write in app.get(METRICS_WRITERS, ()):
        write(registry)
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/sources", sources)
