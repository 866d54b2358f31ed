"""`/history?at=...`: the page as it was at a time (sv/en), with a time picker.

`at` is an RFC 3339 time with an offset, or what a `datetime-local` picker sends
(`2026-11-25T07:42`), read as Stockholm time. The list is the store's `as_of` answer
through the same page filters and region as `/`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from travelinfo.api import history
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import BadParameter, Rendered, respond
from travelinfo.web import render as view
from travelinfo.web.filters import group_by_mode, parse_filters
from travelinfo.web.routes import MAX_ITEMS, _base, _render, _warnings, page_lang, recent

LOCAL = ZoneInfo("Europe/Stockholm")
_PICKER = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?")


def read_at(raw: str | None) -> datetime:
    """The page's time: now when absent; BadParameter naming `at` when unreadable."""
    if not raw:
        return datetime.now(UTC).replace(microsecond=0)
    if _PICKER.fullmatch(raw):
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=LOCAL)
        except ValueError as exc:
            raise BadParameter("at", "must be a time like 2026-11-25T07:42") from exc
    try:
        at = history.read_as_of({"as_of": [raw]})
    except BadParameter as exc:
        raise BadParameter("at", "must be a time like 2026-11-25T07:42 or with an offset") from exc
    assert at is not None
    return at


async def page(request: web.Request) -> web.StreamResponse:
    """GET /history: what the list showed at `at`."""
    lang = page_lang(request)
    filters = parse_filters(request.query)
    at = read_at(request.query.get("at"))
    app = request.app
    records = view.depends_on(await view.health(app), filters.modes or None)
    key = ("web", "/history", filters.key(), lang, at, view.minute())  # minute: the banner of now

    async def render() -> Rendered:
        q = filters.query(app[appmod.SETTINGS].region_bbox)
        items, _ = await history.listing(app[appmod.STORE], q, at)
        items = filters.window(items, at)
        ctx = _base(request, lang, records, "/history")
        local = at.astimezone(LOCAL)
        planned = [d for d in items if d.status == "planned"] if not filters.when else []
        shown = [d for d in items if d not in planned] if planned else items
        ctx.update(
            filters=filters,
            groups=group_by_mode(shown[:MAX_ITEMS], filters.modes),
            planned=planned[:MAX_ITEMS],
            cleared=[],  # the picture at `at` as it was listed; "recently cleared" is a live view
            total=len(shown),
            seq="",
            at=at,
            at_local=local.strftime("%Y-%m-%dT%H:%M"),
            at_text=local.strftime("%Y-%m-%d %H:%M"),
            warnings=_warnings(*await recent(app)),  # a public warning of now leads this page too
        )
        return await _render(request, "history.html", ctx)

    rendered = await app[appmod.CACHE].get(key, render)
    return respond(request, rendered, cache_control="public, max-age=60")
