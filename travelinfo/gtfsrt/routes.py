"""`/gtfs-rt/alerts.pb` and `/gtfs-rt/alerts.json`: a GTFS-RT ServiceAlerts FULL_DATASET.

Rendered once per change batch (the app's RenderCache), then served as cached bytes with
ETag/Last-Modified/304 (and gzip for the JSON form).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from travelinfo.api import history
from travelinfo.gtfsrt import inferred
from travelinfo.gtfsrt.render import PT_MODES, render_feed, render_json
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import Rendered, respond
from travelinfo.store.base import Query

PB_TYPE = "application/x-protobuf"
JSON_TYPE = "application/json; charset=utf-8"
PB_KEY = ("gtfsrt", "pb")
JSON_KEY = ("gtfsrt", "json")


async def _render(app: web.Application, kind: str, at: datetime | None = None) -> Rendered:
    """Render the feed (`pb` or `json`) from the store (as it was `at`); use `rendered`."""
    query = Query(modes=tuple(sorted(PT_MODES)), region=app[appmod.SETTINGS].region_bbox)
    items, _ = await history.listing(app[appmod.STORE], query, at)
    last_change = at or app[appmod.HUB].last_change_at
    if app[appmod.SETTINGS].impacts.gtfsrt_inferred and at is None:
        others, _ = await app[appmod.STORE].query(Query(region=query.region))
        items = items + inferred.alerts(others)
    if kind == "pb":
        return Rendered.make(render_feed(items, last_change), PB_TYPE, last_change)
    return Rendered.make(render_json(items, last_change), JSON_TYPE, last_change)


async def rendered(app: web.Application, kind: str) -> Rendered:
    """The feed (`pb` or `json`), rendered once per change (the handlers and export)."""
    key = PB_KEY if kind == "pb" else JSON_KEY
    cache = app[appmod.CACHE]
    return cache.peek(key) or await cache.get(key, lambda: _render(app, kind))


async def _as_of(request: web.Request, kind: str) -> web.Response | None:
    # `?as_of=`: the feed as it was then (rendered per time, kept in the same cache).
    at = history.read_as_of(request.query)
    if at is None:
        return None
    app = request.app
    past = await app[appmod.CACHE].get(("gtfsrt", kind, at), lambda: _render(app, kind, at))
    return respond(request, past)


async def alerts_pb(request: web.Request) -> web.Response:
    if "as_of" in request.query and (past := await _as_of(request, "pb")) is not None:
        return past
    return respond(request, await rendered(request.app, "pb"))


async def alerts_json(request: web.Request) -> web.Response:
    if "as_of" in request.query and (past := await _as_of(request, "json")) is not None:
        return past
    return respond(request, await rendered(request.app, "json"))


def setup(app: web.Application) -> None:
    if "web" not in app[appmod.ROLES]:
        return
    app.router.add_get("/gtfs-rt/alerts.pb", alerts_pb)
    app.router.add_get("/gtfs-rt/alerts.json", alerts_json)
