"""`/gtfs-rt/alerts.pb` and `/gtfs-rt/alerts.json`: a GTFS-RT ServiceAlerts FULL_DATASET.

Rendered once per change batch (the app's RenderCache), then served as cached bytes with
ETag/Last-Modified/304 (and gzip for the JSON form).
"""

from __future__ import annotations

from aiohttp import web

from travelinfo.gtfsrt.render import PT_MODES, render_feed, render_json
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import Rendered, respond
from travelinfo.store.base import Query

PB_TYPE = "application/x-protobuf"
JSON_TYPE = "application/json; charset=utf-8"
PB_KEY = ("gtfsrt", "pb")
JSON_KEY = ("gtfsrt", "json")


async def _render(app: web.Application, kind: str) -> Rendered:
    """Render the feed (`pb` or `json`) from the store; use `rendered` for the cached result."""
    query = Query(modes=tuple(sorted(PT_MODES)), region=app[appmod.SETTINGS].region_bbox)
    items, _ = await app[appmod.STORE].query(query)
    last_change = app[appmod.HUB].last_change_at
    if kind == "pb":
        return Rendered.make(render_feed(items, last_change), PB_TYPE, last_change)
    return Rendered.make(render_json(items, last_change), JSON_TYPE, last_change)


async def rendered(app: web.Application, kind: str) -> Rendered:
    """The feed (`pb` or `json`), rendered once per change (the handlers and export)."""
    key = PB_KEY if kind == "pb" else JSON_KEY
    cache = app[appmod.CACHE]
    return cache.peek(key) or await cache.get(key, lambda: _render(app, kind))


async def alerts_pb(request: web.Request) -> web.Response:
    return respond(request, await rendered(request.app, "pb"))


async def alerts_json(request: web.Request) -> web.Response:
    return respond(request, await rendered(request.app, "json"))


def setup(app: web.Application) -> None:
    if "web" not in app[appmod.ROLES]:
        return
    app.router.add_get("/gtfs-rt/alerts.pb", alerts_pb)
    app.router.add_get("/gtfs-rt/alerts.json", alerts_json)
