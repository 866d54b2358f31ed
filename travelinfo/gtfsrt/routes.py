"""`/gtfs-rt/alerts.pb` and `/gtfs-rt/alerts.json`: a GTFS-RT ServiceAlerts FULL_DATASET.

The filters are the list API's (the one filter table, `route=14`, `mode=metro`, ...; `as_of`),
read by the same parser, so an unknown or bad parameter is the same 400 JSON error; the feed
holds the items of the API's answer that have a public transport mode. Each variant is rendered
once per change batch (the app's RenderCache, bounded) and served as cached bytes with
ETag/Last-Modified/304 (and gzip for the JSON form). The unfiltered feed keeps its one key
and its bytes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from travelinfo.api import history
from travelinfo.api import params as api_params
from travelinfo.gtfsrt import inferred
from travelinfo.gtfsrt.render import render_feed, render_json
from travelinfo.model import Disruption
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import Rendered, respond
from travelinfo.store.base import Query
from travelinfo.vocab import PT_MODES

PB_TYPE = "application/x-protobuf"
JSON_TYPE = "application/json; charset=utf-8"
PB_KEY = ("gtfsrt", "pb")
JSON_KEY = ("gtfsrt", "json")
# The list API's filters and `as_of`; no paging (a FULL_DATASET is never paged).
PARAMS: tuple[api_params.Param, ...] = (*api_params.FILTERS, history.AS_OF)


@dataclasses.dataclass(frozen=True, slots=True)
class Variant:
    """One filtered feed: the list API's store query (its modes in one order) and the one
    language kept (`lang`). The feed is the answer's items with a public transport mode."""

    query: Query
    lang: str | None = None


def feed_query(q: Query) -> Query:
    """`q` as the feed asks the store: without a mode, only public transport modes (what the
    feed publishes anyway, fetched cheaper); modes in one order (one cached variant)."""
    return dataclasses.replace(q, modes=tuple(sorted(q.modes or PT_MODES)))


def parse(app: web.Application, raw: Mapping[str, Any]) -> Variant:
    """The variant a query string (name -> list of values) asks for; BadParameter as the API."""
    req = api_params.parse(raw, allowed=PARAMS, home=app[appmod.SETTINGS].region_bbox)
    return Variant(feed_query(req.query), req.lang)


def unfiltered(app: web.Application) -> Variant:
    """The feed without parameters: public transport, planned or active, in the home region."""
    return Variant(feed_query(Query(region=app[appmod.SETTINGS].region_bbox)))


def _in_lang(d: Disruption, lang: str | None) -> Disruption:
    if not lang:
        return d
    texts = {name: dict(getattr(d, name)) for name in ("header", "description", "location_text")}
    return d.replace(**api_params.reduce_lang(texts, lang))


async def _render(app: web.Application, kind: str, variant: Variant, at: datetime | None) -> Rendered:
    """Render the feed (`pb` or `json`) of `variant` from the store (as it was `at`)."""
    query = variant.query
    items, _ = await history.listing(app[appmod.STORE], query, at)  # the renderer keeps transit
    if app[appmod.SETTINGS].impacts.gtfsrt_inferred and at is None:
        # The filters apply to the inferred alerts as published (their routes and modes).
        others, _ = await app[appmod.STORE].query(Query(region=query.region, status=query.status))
        items = items + [a for a in inferred.alerts(others) if query.matches(a)]
    items = [_in_lang(d, variant.lang) for d in items]
    last_change = at or app[appmod.HUB].last_change_at
    if kind == "pb":
        return Rendered.make(render_feed(items, last_change), PB_TYPE, last_change)
    return Rendered.make(render_json(items, last_change), JSON_TYPE, last_change)


async def rendered(
    app: web.Application, kind: str, variant: Variant | None = None, at: datetime | None = None
) -> Rendered:
    """The feed (`pb` or `json`) of `variant` (default: unfiltered) as it was `at` (default:
    live), rendered once per change (the handlers and export)."""
    default = unfiltered(app)
    chosen = variant or default
    # The unfiltered live feed keeps its one key (the handlers' hot path peeks it directly).
    key: tuple[Any, ...] = ("gtfsrt", kind, chosen, at)
    if at is None and chosen == default:
        key = PB_KEY if kind == "pb" else JSON_KEY
    cache = app[appmod.CACHE]
    return cache.peek(key) or await cache.get(key, lambda: _render(app, kind, chosen, at))


async def _serve(request: web.Request, kind: str) -> web.Response:
    app = request.app
    if not request.query_string:  # the hot path: the unfiltered live feed, no parsing
        hit = app[appmod.CACHE].peek(PB_KEY if kind == "pb" else JSON_KEY)
        return respond(request, hit or await rendered(app, kind), lane=math.inf)
    variant = parse(app, {k: request.query.getall(k) for k in request.query})
    at = history.read_as_of(request.query)
    # `as_of` answers are not kept by the generation: never replayed.
    return respond(request, await rendered(app, kind, variant, at), lane=math.inf if at is None else None)


async def alerts_pb(request: web.Request) -> web.Response:
    return await _serve(request, "pb")


async def alerts_json(request: web.Request) -> web.Response:
    return await _serve(request, "json")


def setup(app: web.Application) -> None:
    if "web" not in app[appmod.ROLES]:
        return
    app.router.add_get("/gtfs-rt/alerts.pb", alerts_pb)
    app.router.add_get("/gtfs-rt/alerts.json", alerts_json)
