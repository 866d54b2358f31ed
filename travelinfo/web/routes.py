"""The commuters' website: `/`, `/d/{id}`, `/status`, HTML error pages and `/static/`.

Pages are rendered once per change per variant (path, filters, language, source-health
states, minute for relative times) through the app's RenderCache and served with
ETag/Last-Modified/304/gzip. They work without JavaScript; `static/live.js` refreshes the
list from the push stream, or by long-polling the list fragment until that stream answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web
from xstatic.pkg import leaflet as xleaflet  # type: ignore[import-untyped]

from travelinfo.impacts import view as impacts_view
from travelinfo.impacts import wording
from travelinfo.model import Disruption
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import HTML_ERRORS, PAGE_CSP, BadParameter, Recent, Rendered, respond
from travelinfo.runtime.stale import STALE_HTML
from travelinfo.store.base import Query
from travelinfo.web import board as boards
from travelinfo.web import mylines, network
from travelinfo.web import render as view
from travelinfo.web.filters import Filters, group_by_mode, parse_filters
from travelinfo.web.i18n import negotiate

ENV: web.AppKey[jinja2.Environment] = web.AppKey("web_env", jinja2.Environment)
HTML = "text/html; charset=utf-8"
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Vary": "Accept-Encoding, Accept-Language"}
CACHE_CONTROL = "public, max-age=10"
LONG_POLL = 25.0  # seconds a fragment request with `after=` waits for a change
MAX_ITEMS = 500  # a page longer than this helps nobody; the feeds and the API page further
CLEARED_FOR = timedelta(hours=3)  # "recently cleared" and "the warning is over" last this long
MAX_CLEARED = 10
LINES: web.AppKey[list[boards.Line]] = web.AppKey("web_board_lines", list)


def page_lang(request: web.Request) -> str:
    """The reader's language; a `lang` other than sv/en is a 400 naming it."""
    default = request.app[appmod.SETTINGS].web.default_lang
    lang = negotiate(request.query.get("lang"), request.headers.get("Accept-Language", ""), default)
    if lang is None:
        raise BadParameter("lang", "one of sv, en")
    return lang


async def recent(app: web.Application) -> tuple[list[Any], list[Any]]:
    """(active public warnings, items ended within CLEARED_FOR) in the home region, newest first."""
    store = app[appmod.STORE]
    region = app[appmod.SETTINGS].region_bbox
    active, _ = await store.query(Query(status=("active",), region=region))
    ended, _ = await store.query(Query(status=("ended",), region=region))
    since = datetime.now(UTC) - CLEARED_FOR
    cleared = sorted((d for d in ended if d.updated_at >= since), key=lambda d: d.updated_at, reverse=True)
    return [d for d in active if d.public_warning], cleared


def _warnings(active: list[Any], cleared: list[Any]) -> list[tuple[Any, bool]]:
    """The crisis banner: active public warnings, else the ones that ended lately (marked ended)."""
    if active:
        return [(d, False) for d in active]
    return [(d, True) for d in cleared if d.public_warning][:1]


def _base(request: web.Request, lang: str, records: list[dict[str, Any]], path: str) -> dict[str, Any]:
    other = "en" if lang == "sv" else "sv"
    router = request.app.router
    return {
        "lang": lang,
        "other_lang": other,
        "path": quote(path),
        "troubled": view.troubled(records),
        "css": str(router["static"].url_for(filename="site.css")),
        "js": str(router["static"].url_for(filename="live.js")),
        "map_js": str(router["static"].url_for(filename="map.js")),
        "star_js": str(router["static"].url_for(filename="star.js")),
        "network_url": str(router["network"].url_for()),
        "leaflet_js": str(router["leaflet"].url_for(filename="leaflet.js")),
        "leaflet_css": str(router["leaflet"].url_for(filename="leaflet.css")),
        "web": request.app[appmod.SETTINGS].web,
        "now": datetime.now(UTC),
        "warnings": [],
    }


def page_context(request: web.Request, lang: str, path: str) -> dict[str, Any]:
    """The context every page template needs (the operator UI renders the public page with it)."""
    return _base(request, lang, [], path)


def page_headers(app: web.Application) -> dict[str, str]:
    """The page headers; a configured base-map tile server is the one extra image origin allowed."""
    tiles = app[appmod.SETTINGS].web.map_tiles
    parts = urlsplit(tiles) if tiles else None
    if not parts or parts.scheme not in ("http", "https") or not parts.netloc:
        return PAGE_HEADERS
    origin = f"{parts.scheme}://{parts.netloc}".replace("{s}.", "*.")
    csp = PAGE_CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")
    return {**PAGE_HEADERS, "Content-Security-Policy": csp}


# `/` and `/board` put "my lines" first from the `mylines` cookie: caches keep a copy per cookie.
MINE_VARY = {"Vary": "Accept-Encoding, Accept-Language, Cookie"}


async def _render(
    request: web.Request, template: str, context: dict[str, Any], extra: dict[str, str] | None = None
) -> Rendered:
    env = request.app[ENV]
    body = env.get_template(template).render(**context)
    headers = {**page_headers(request.app), **(extra or {})}
    return Rendered.make(body.encode(), HTML, datetime.now(UTC), headers)


async def _wait_for_change(request: web.Request, after: str) -> None:
    """Long-poll: return once the change log moves past `after` (or after LONG_POLL seconds)."""
    hub = request.app[appmod.HUB]
    if str(hub.last_seq) != after:
        return
    sub = hub.subscribe()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sub.wake.wait(), LONG_POLL)
    finally:
        hub.unsubscribe(sub)


@dataclass(slots=True)
class Variant:
    """What one raw request form of a page asked for, parsed once (`VARIANTS`)."""

    lang: str
    filters: Filters
    fragment: bool
    mine: tuple[str, ...]  # the starred board lines of the `mylines` cookie that exist
    generation: int  # the render cache's: new reference lines may change `mine`
    key: tuple[object, ...] = ()  # the cache key's part this variant fixes
    records: object = None  # the health records `deps` and `stamp` were computed from
    deps: list[dict[str, Any]] = field(default_factory=list)
    stamp: tuple[tuple[str, str], ...] = ()


# Raw (path and query, Accept-Language, Cookie) -> Variant: readers reload the same URL, so the
# hot path of a cached page is lookups, not parsing; bounded against endless query strings.
VARIANTS: web.AppKey[Recent[tuple[str, str, str], Variant]] = web.AppKey("web_variants", Recent)


def _variant(request: web.Request, *, page: bool) -> Variant:
    """The request's variant (parsed, validated: a 400 is raised before anything is kept)."""
    app = request.app
    headers = request.headers
    raw = (request.raw_path, headers.get("Accept-Language", ""), headers.get("Cookie", ""))
    memo = app[VARIANTS]
    known = memo.get(raw)
    generation = app[appmod.CACHE].generation
    if known is not None and known.generation == generation:
        return known
    lang = page_lang(request)
    starred = request.cookies.get(boards.COOKIE, "") if raw[2] else ""
    mine = boards.mine_keys(starred, app[LINES] + boards.road_lines()) if starred else ()
    if not page:
        return memo.put(raw, Variant(lang, Filters(), False, mine, generation))
    filters = parse_filters(request.query)
    fragment = request.query.get("fragment") == "1"
    key = ("web", "/", filters.key(), lang, fragment, mine)
    return memo.put(raw, Variant(lang, filters, fragment, mine, generation, key))


async def _depends(
    app: web.Application, v: Variant
) -> tuple[list[dict[str, Any]], tuple[tuple[str, str], ...]]:
    """(the health records the page shows, their stamp for the cache key), recomputed only when
    the health records were read again."""
    records = await view.health(app)
    if v.records is not records:
        v.deps = view.depends_on(records, v.filters.modes or None)
        v.stamp = view.health_stamp(v.deps)
        v.records = records
    return v.deps, v.stamp


async def index(request: web.Request) -> web.StreamResponse:
    """The board, then current and upcoming disruptions by mode; `fragment=1` gives just the list."""
    v = _variant(request, page=True)
    lang, filters, fragment, mine = v.lang, v.filters, v.fragment, v.mine
    if fragment and "after" in request.query_string:
        after = request.query.get("after", "")
        if after and len(after) < 64:
            await _wait_for_change(request, after)
    app = request.app
    records, stamp = await _depends(app, v)
    key = (*v.key, stamp, view.minute())
    cache = app[appmod.CACHE]
    # A long-poll waits for a change: never replayed.
    lane = None if fragment and "after" in request.query_string else view.valid_until(app)
    hit = cache.peek(key)
    if hit is not None:
        return respond(request, hit, cache_control="no-cache" if fragment else CACHE_CONTROL, lane=lane)
    board_lines = app[LINES] + boards.road_lines()

    async def render() -> Rendered:
        items, _ = await app[appmod.STORE].query(filters.query(app[appmod.SETTINGS].region_bbox))
        items = filters.window(items, datetime.now(UTC))
        active_warnings, cleared = await recent(app)
        listed = [d for d in items if not d.public_warning]  # public warnings lead as the banner
        planned = [d for d in listed if d.status == "planned"] if not filters.when else []
        shown = [d for d in listed if d not in planned] if planned else listed
        mine_items, shown = boards.split_mine(shown, board_lines, mine)
        ctx = _base(request, lang, records, "/")
        ctx.update(
            mine=mine,
            mine_items=mine_items[:MAX_ITEMS],
            filters=filters,
            groups=group_by_mode(shown[:MAX_ITEMS], filters.modes),
            planned=planned[:MAX_ITEMS],
            cleared=cleared[:MAX_CLEARED] if filters.empty else [],
            total=len(shown) + len(mine_items),
            seq=str(app[appmod.HUB].last_seq),
            warnings=_warnings(active_warnings, cleared),
            rows=boards.board(board_lines, items) if filters.empty else [],
            board_page=False,
            mapped=mine_items[:MAX_ITEMS] + shown[:MAX_ITEMS] + planned[:MAX_ITEMS],
            mine_ids={d.id for d in mine_items},
        )
        return await _render(request, "_list.html" if fragment else "index.html", ctx, MINE_VARY)

    rendered = await cache.get(key, render)
    return respond(request, rendered, cache_control="no-cache" if fragment else CACHE_CONTROL, lane=lane)


async def board_page(request: web.Request) -> web.StreamResponse:
    """`/board`: every line and main road with its state, nothing else."""
    v = _variant(request, page=False)
    lang = v.lang
    app = request.app
    records, stamp = await _depends(app, v)
    mine = v.mine  # "my lines" lead the board
    key = ("web", "/board", lang, stamp, view.minute(), mine)
    hit = app[appmod.CACHE].peek(key)
    if hit is not None:
        return respond(request, hit, cache_control=CACHE_CONTROL, lane=view.valid_until(app))
    board_lines = app[LINES] + boards.road_lines()

    async def render() -> Rendered:
        region = app[appmod.SETTINGS].region_bbox
        items, _ = await app[appmod.STORE].query(Query(status=("active", "planned"), region=region))
        active_warnings, cleared = await recent(app)
        ctx = _base(request, lang, records, "/board")
        ctx.update(
            filters=Filters(),
            rows=boards.board(board_lines, items),
            mine=mine,
            warnings=_warnings(active_warnings, cleared),
            board_page=True,
            inferred=[(d, text) for d in items if (text := _may_affect(d, lang))],
        )
        return await _render(request, "board.html", ctx, MINE_VARY)

    rendered = await app[appmod.CACHE].get(key, render)
    return respond(request, rendered, cache_control=CACHE_CONTROL, lane=view.valid_until(app))


def _may_affect(d: Disruption, lang: str) -> str | None:
    return wording.may_affect(impacts_view.ANNOTATOR.impacts(d), d, lang)


async def derived(app: web.Application, d: Disruption, lang: str) -> dict[str, Any]:
    """The page's inferred impacts and the other members of the item's incident (travelinfo.impacts)."""
    hub = app[appmod.HUB]
    incident = (await impacts_view.incidents(app[appmod.STORE], hub, (hub.epoch, hub.last_seq))).get(d.id)
    others = [
        m
        for i in (incident.members if incident else ())
        if i != d.id and (m := await app[appmod.STORE].get(i))
    ]
    return {"may_affect": _may_affect(d, lang), "incident": incident, "incident_members": others}


async def detail(request: web.Request) -> web.StreamResponse:
    """One disruption's permalink page."""
    lang = page_lang(request)
    ident = request.match_info["id"]
    app = request.app
    item = await app[appmod.STORE].get(ident)
    if item is None:
        raise web.HTTPNotFound()
    records = view.depends_on(await view.health(app), None, (item.source,))
    key = ("web", "/d", ident, lang, view.health_stamp(records), view.minute())

    async def render() -> Rendered:
        current = await app[appmod.STORE].get(ident) or item
        ctx = _base(request, lang, records, f"/d/{ident}")
        ctx.update(d=current, filters=Filters(), warnings=_warnings(*await recent(app)))
        ctx.update(await derived(app, current, lang))
        return await _render(request, "detail.html", ctx)

    return respond(request, await app[appmod.CACHE].get(key, render), cache_control=CACHE_CONTROL)


async def status(request: web.Request) -> web.StreamResponse:
    """Every source with its freshness, failures shown plainly."""
    lang = page_lang(request)
    app = request.app
    records = await view.health(app)
    stamp = tuple((r["source"], r["state"], r["last_success"], r["last_error"]) for r in records)
    key = ("web", "/status", lang, stamp, view.minute())

    async def render() -> Rendered:
        ctx = _base(request, lang, records, "/status")
        ctx.update(
            sources=records, filters=Filters(), parse=_parse_time, warnings=_warnings(*await recent(app))
        )
        return await _render(request, "status.html", ctx)

    return respond(request, await app[appmod.CACHE].get(key, render), cache_control="no-cache")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


# Shown when the store is unreachable: on the last rendered page kept (stale.py), and as the
# error page's message when no page was kept.
STALE_MARK = b"<!--stale-banner-->"
STALE_TEXT = {
    "sv": "Uppgifterna kan vara inaktuella: tjänsten når inte sina data just nu. Sidan visar läget "
    "när den senast uppdaterades.",
    "en": "The data may be out of date: the service cannot reach its data right now. This page "
    "shows the picture when it was last updated.",
}
DOWN_TEXT = {
    "sv": "Tjänsten når inte sina data just nu. Försök igen om en stund.",
    "en": "The service cannot reach its data right now. Please try again shortly.",
}
_LANG = re.compile(rb'<html lang="([a-z]{2})"')


def stale_banner(body: bytes) -> bytes:
    """A kept page with the "data may be out of date" banner, in the page's language."""
    found = _LANG.search(body, 0, 200)
    lang = found.group(1).decode() if found else "sv"
    text = html.escape(STALE_TEXT.get(lang, STALE_TEXT["sv"]))
    banner = f'<div class="banner stale" role="alert"><p>{text}</p></div>'.encode()
    if STALE_MARK in body:
        return body.replace(STALE_MARK, banner, 1)
    return body


async def error_page(request: web.Request, status: int, message: str) -> web.StreamResponse:
    """The HTML error page the errors middleware shows browsers (404, 400 naming the parameter)."""
    default = request.app[appmod.SETTINGS].web.default_lang
    lang = negotiate(request.query.get("lang"), request.headers.get("Accept-Language", ""), default)
    lang = lang or default
    ctx = _base(request, lang, [], request.path)
    if status == 503:
        message = DOWN_TEXT.get(lang, DOWN_TEXT["sv"])
    ctx.update(status=status, message=message, filters=Filters())
    body = request.app[ENV].get_template("error.html").render(**ctx)
    return web.Response(status=status, text=body, content_type="text/html", headers=PAGE_HEADERS)


def setup(app: web.Application) -> None:
    """Add the pages when this process serves the web role."""
    if "web" not in app[appmod.ROLES]:
        return
    app[ENV] = view.make_env()
    app[view.HEALTH_CACHE] = []
    app[VARIANTS] = Recent()
    app[HTML_ERRORS] = error_page
    app[STALE_HTML] = stale_banner
    app[LINES] = boards.load_lines(app[appmod.SETTINGS].reference.gtfs_static)
    app.router.add_get("/", index)
    app.router.add_get("/board", board_page)
    app.router.add_get("/d/{id:.+}", detail)
    app.router.add_get("/status", status)
    network.setup(app)  # the maps' base layer: the reference's lines and stops
    from travelinfo.web import history_page  # imports this module's helpers

    app.router.add_get("/history", history_page.page)
    app.router.add_post("/mylines", mylines.toggle)  # the board's stars without JavaScript
    app.router.add_static("/static", view.STATIC, name="static", append_version=True)
    # Leaflet straight from its installed package (XStatic-Leaflet): no CDN, no copy in the repo.
    app.router.add_static("/vendor/leaflet", xleaflet.BASE_DIR, name="leaflet", append_version=True)
