"""The developers' pull API: `/api/v1/disruptions`, one item, GeoJSON and the OpenAPI document.

Every response is rendered once per change per variant (app[CACHE]) and served with ETag/304.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from travelinfo.api import docs, history, incidents, openapi, ratelimit
from travelinfo.api import params as api_params
from travelinfo.api.params import FILTERS, PAGING, Param
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import EXPOSE_HEADERS, Rendered, add_api_guard, dumps, json_response, respond

LIST_PATH = "/api/v1/disruptions"
JSON = "application/json; charset=utf-8"
GEOJSON = "application/geo+json; charset=utf-8"
CACHE_CONTROL = "public, max-age=15"
LANG_ONLY: tuple[Param, ...] = tuple(p for p in FILTERS if p.name == "lang")


def _parse(request: web.Request, allowed: tuple[Param, ...]) -> api_params.Request:
    raw = {k: request.query.getall(k) for k in request.query}
    settings = request.app[appmod.SETTINGS]
    return api_params.parse(raw, allowed=allowed, page_size=settings.api.page_size, home=settings.region_bbox)


async def _cached(
    request: web.Request, key: tuple[Any, ...], render: Callable[[], Awaitable[Rendered]]
) -> web.Response:
    rendered = await request.app[appmod.CACHE].get(key, render)
    return respond(request, rendered, cache_control=CACHE_CONTROL)


def _next_link(request: web.Request, cursor: str) -> str:
    # A relative reference (RFC 8288 allows it): the cached bytes never depend on the Host header.
    # Cache-busting `_` parameters are left out, so they never multiply the cached variants.
    params = [(k, v) for k, v in request.query.items() if k != "cursor" and not k.startswith("_")]
    params.append(("cursor", cursor))
    return f'<{LIST_PATH}?{urlencode(params)}>; rel="next"'


async def disruptions(request: web.Request) -> web.Response:
    """GET /api/v1/disruptions: filtered, ordered, cursor-paged list."""
    req = _parse(request, (*FILTERS, *PAGING, history.AS_OF))
    at = history.read_as_of(request.query)
    app = request.app

    async def render() -> Rendered:
        items, raw_cursor = await history.listing(app[appmod.STORE], req.query, at)
        cursor = raw_cursor  # the store's cursor is the public one (one format)
        fused = {} if at else await incidents.fused(app)
        body = {
            "disruptions": [api_params.reduce_lang(incidents.item_json(d, fused), req.lang) for d in items],
            "next_cursor": cursor,
            "count": len(items),
        }
        headers = {"Link": _next_link(request, cursor)} if cursor else None
        return Rendered.make(dumps(body), JSON, at or app[appmod.HUB].last_change_at, headers)

    # The Link header repeats the caller's parameters, so their spelling is part of the key.
    key = (
        "api:list",
        req,
        at,
        tuple(sorted((k, v) for k, v in request.query.items() if not k.startswith("_"))),
    )
    return await _cached(request, key, render)


async def disruption(request: web.Request) -> web.Response:
    """GET /api/v1/disruptions/{id}: one item (also ended ones still kept), or a 404 JSON error."""
    req = _parse(request, LANG_ONLY)
    ident = request.match_info["id"]
    app = request.app

    async def render() -> Rendered:
        d = await app[appmod.STORE].get(ident)
        if d is None:
            raise LookupError(ident)
        fused = await incidents.fused(app)
        data = api_params.reduce_lang(incidents.item_json(d, fused), req.lang)
        return Rendered.make(dumps(data), JSON, d.last_seen)

    try:
        return await _cached(request, ("api:one", ident, req.lang), render)
    except LookupError:
        return json_response({"error": f"no disruption {ident!r}", "id": ident}, 404)


def feature(data: dict[str, Any]) -> dict[str, Any]:
    """An RFC 7946 Feature: the disruption JSON minus its geometry as properties."""
    geometry = data.pop("geometry", None)
    return {"type": "Feature", "id": data["id"], "geometry": geometry, "properties": data}


async def geojson(request: web.Request) -> web.Response:
    """GET /api/v1/disruptions.geojson: the filtered set as a FeatureCollection (not paged)."""
    req = _parse(request, (*FILTERS, history.AS_OF))
    at = history.read_as_of(request.query)
    return respond(request, await rendered_geojson(request.app, req, at), cache_control=CACHE_CONTROL)


async def rendered_geojson(
    app: web.Application, req: api_params.Request, at: datetime | None = None
) -> Rendered:
    """The FeatureCollection for `req` (as it was `at`), rendered once per change."""

    async def render() -> Rendered:
        items, _ = await history.listing(app[appmod.STORE], req.query, at)
        fused = {} if at else await incidents.fused(app)
        body = {
            "type": "FeatureCollection",
            "features": [
                feature(api_params.reduce_lang(incidents.item_json(d, fused), req.lang)) for d in items
            ],
        }
        return Rendered.make(dumps(body), GEOJSON, at or app[appmod.HUB].last_change_at)

    return await app[appmod.CACHE].get(("api:geojson", req, at), render)


async def openapi_json(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json: the OpenAPI 3.1 description of /api/v1."""
    _parse(request, ())
    app = request.app

    async def render() -> Rendered:
        doc = openapi.document()
        return Rendered.make(dumps(doc), JSON, app[appmod.HUB].last_change_at)

    return await _cached(request, ("api:openapi",), render)


PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Last-Event-ID, If-None-Match, If-Modified-Since",
    "Access-Control-Expose-Headers": EXPOSE_HEADERS,
    "Access-Control-Max-Age": "86400",
}


async def preflight_guard(request: web.Request) -> web.StreamResponse | None:
    """Answer CORS preflights under /api/ (reads are open to every origin)."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(status=204, headers=PREFLIGHT_HEADERS)
    return None


def setup(app: web.Application) -> None:
    """Register the API routes, CORS preflight and rate limits (web role only)."""
    if "web" not in app[appmod.ROLES]:
        return
    ratelimit.install(app)
    add_api_guard(app, preflight_guard)
    app.router.add_get(LIST_PATH, disruptions)
    app.router.add_get(LIST_PATH + ".geojson", geojson)
    history.add_routes(app, LIST_PATH)
    incidents.add_routes(app)
    app.router.add_get(LIST_PATH + "/{id:.+}", disruption)
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    docs.add_routes(app)
