"""The re-published standards: SIRI-SX 2.1, DATEX II v3.5 and CAP 1.2 (with its Atom index).

Every output takes the feeds' filters (`mode`, `line`, `road`, `area`, `severity`, `when`) and
region rule, is rendered once per change into the RenderCache and served with ETag/304/gzip.
SIRI-SX also answers `?since=<seq or RFC 3339 time>` with only the situations changed since
(`IncrementalUpdates` true; closed ones included), and says the current seq in `X-Seq`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from travelinfo.model import Disruption, ModelError, parse_time
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import BadParameter, Rendered, json_error, respond
from travelinfo.standards import cap as cap_out
from travelinfo.standards import datex2 as datex2_out
from travelinfo.standards import siri as siri_out
from travelinfo.store.base import Query
from travelinfo.vocab import PT_MODES
from travelinfo.web.filters import Filters, parse_filters
from travelinfo.web.routes import page_lang

SIRI_PATH = "/siri/2.1/situation-exchange.xml"
DATEX_PATH = "/datex2/3.5/situations.xml"
CAP_INDEX_PATH = "/cap/alerts.atom"
MAX_SINCE = 100
MAX_LOG_PAGES = 200  # a `since` time older than this many pages of the log gets everything


async def _items(app: web.Application, filters: Filters, modes: tuple[str, ...] = ()) -> list[Disruption]:
    query = filters.query(app[appmod.SETTINGS].region_bbox)
    if modes and not filters.modes:
        query = dataclasses.replace(query, modes=modes)
    items, _ = await app[appmod.STORE].query(query)
    return filters.window(items, datetime.now(UTC))


def _since(value: str) -> tuple[str | None, datetime | None]:
    """(seq, time) from a `since` value: an RFC 3339 time when it parses as one, else a seq."""
    value = value.strip()
    if not value or len(value) > MAX_SINCE or any(ord(c) < 33 for c in value):
        raise BadParameter("since", "a change seq or an RFC 3339 time")
    if "T" in value or "t" in value:
        try:
            return None, parse_time(value)
        except ModelError:
            raise BadParameter("since", "not an RFC 3339 time (an offset or Z is required)") from None
    return value, None


async def _changed(
    app: web.Application, filters: Filters, seq: str | None, at: datetime | None
) -> list[Disruption] | None:
    """The latest version of each item changed after `seq` / `at` (None: the log does not reach back)."""
    store = app[appmod.STORE]
    query: Query = dataclasses.replace(filters.query(app[appmod.SETTINGS].region_bbox), status=())
    latest: dict[str, Disruption] = {}
    pos = seq
    for _ in range(MAX_LOG_PAGES):
        try:
            page = await store.changes_since(pos)
        except ValueError:
            raise BadParameter("since", "unknown change seq") from None
        if page.reset:  # the log no longer reaches back: the consumer needs everything
            return None
        for change in page.changes:
            if at is None or change.at > at:
                latest.pop(change.id, None)  # keep the log's order: last change last
                latest[change.id] = change.disruption
        if not page.changes or page.last_seq == pos:
            break
        pos = page.last_seq
    else:
        return None
    return [d for d in latest.values() if query.matches(d)]


async def siri(request: web.Request) -> web.Response:
    """`/siri/2.1/situation-exchange.xml`: every PT situation, or those changed `since`."""
    filters = parse_filters(request.query)
    raw = request.query.getall("since", [])
    if len(raw) > 1:
        raise BadParameter("since", "give it once")
    seq, at = _since(raw[0]) if raw else (None, None)
    app = request.app
    hub = app[appmod.HUB]
    key = ("siri-sx", filters.key(), seq, at)

    async def render() -> Rendered:
        # Read from the store before the query: the delivery holds every change up to this seq
        # (the hub may not have caught up yet right after start).
        headers = {"X-Seq": str(await app[appmod.STORE].last_seq())}
        last = hub.last_change_at
        changed = await _changed(app, filters, seq, at) if raw else None
        incremental = changed is not None
        items = changed if changed is not None else await _items(app, filters, tuple(sorted(PT_MODES)))

        def make() -> Rendered:
            body = siri_out.render(items, last, incremental=incremental)
            return Rendered.make(body, siri_out.CONTENT_TYPE, last, headers)

        # A whole region takes a while to build and gzip (about 1 ms per situation): off the loop.
        return await asyncio.to_thread(make)

    cache = app[appmod.CACHE]
    rendered = cache.peek(key) or await cache.get(key, render)
    return respond(request, rendered, cache_control="public, max-age=15")


async def datex2(request: web.Request) -> web.Response:
    """`/datex2/3.5/situations.xml`: the road situations as a SituationPublication."""
    filters = parse_filters(request.query)
    app = request.app
    key = ("datex2", filters.key())

    async def render() -> Rendered:
        last = app[appmod.HUB].last_change_at
        items = await _items(app, filters, ("road",))

        def make() -> Rendered:
            return Rendered.make(datex2_out.render(items, last), datex2_out.CONTENT_TYPE, last)

        return await asyncio.to_thread(make)  # as for SIRI: off the loop

    cache = app[appmod.CACHE]
    rendered = cache.peek(key) or await cache.get(key, render)
    return respond(request, rendered, cache_control="public, max-age=30")


def _sender(app: web.Application) -> str:
    host = app[appmod.SETTINGS].public_url.split("://", 1)[-1].split("/", 1)[0]
    return f"travelinfo@{host}"


async def cap_index(request: web.Request) -> web.Response:
    """`/cap/alerts.atom`: the current CAP alerts (OASIS CAP feed: one entry per alert)."""
    filters = parse_filters(request.query)
    lang = page_lang(request)
    app = request.app
    key = ("cap-index", filters.key(), lang)

    async def render() -> Rendered:
        last = app[appmod.HUB].last_change_at
        items = [d for d in await _items(app, filters) if cap_out.is_alert(d)]
        body = cap_out.render_index(items, app[appmod.SETTINGS].public_url, last, lang)
        return Rendered.make(body, cap_out.ATOM_TYPE, last, {"Vary": "Accept-Encoding, Accept-Language"})

    cache = app[appmod.CACHE]
    rendered = cache.peek(key) or await cache.get(key, render)
    return respond(request, rendered, cache_control="public, max-age=30")


async def cap_alert(request: web.Request) -> web.Response:
    """`/cap/{id}.xml`: the CAP alert of one item's current version (Cancel once it ended)."""
    ident = request.match_info["id"]
    if len(ident) > 300 or any(ord(c) < 32 for c in ident):
        raise BadParameter("id", "not a disruption id")
    app = request.app
    key = ("cap-alert", ident)

    async def render() -> Rendered:
        d = await app[appmod.STORE].get(ident)
        if d is None or not cap_out.is_alert(d):
            raise json_error(404, f"no CAP alert {ident}")
        return Rendered.make(cap_out.render_alert(d, _sender(app)), cap_out.CAP_TYPE, d.updated_at)

    cache = app[appmod.CACHE]
    rendered = cache.peek(key) or await cache.get(key, render)
    return respond(request, rendered, cache_control="public, max-age=30")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROUTES: tuple[tuple[str, Handler], ...] = (
    (SIRI_PATH, siri),
    (DATEX_PATH, datex2),
    (CAP_INDEX_PATH, cap_index),
    (r"/cap/{id:.+}.xml", cap_alert),
)


def setup(app: web.Application) -> None:
    """Add the standards' routes when this process serves the web role."""
    if "web" not in app[appmod.ROLES]:
        return
    for path, handler in ROUTES:
        app.router.add_get(path, handler)
