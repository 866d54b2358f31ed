"""Time travel for the outputs: the `as_of` parameter and `GET /api/v1/disruptions/{id}/history`.

`as_of` is read by the list, GeoJSON, Atom/RSS and GTFS-RT handlers next to their filters:
the same filters and region rules then run over the versions the store held at that time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from travelinfo.api.params import Param
from travelinfo.model import Disruption, ModelError, parse_time
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import BadParameter, Rendered, dumps, json_error, respond
from travelinfo.store.base import Query, Store
from travelinfo.store.history import HistoryGone, with_patches

AS_OF = Param(
    "as_of",
    {"type": "string", "format": "date-time"},
    "RFC 3339 time with `Z` or an offset: answer with what this endpoint answered at that moment "
    "(the versions then published; a future time gets the latest ones; see docs/history.md).",
)
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)")


def read_as_of(query: MultiMapping[str] | Mapping[str, Any]) -> datetime | None:
    """The `as_of` time of a request (None: live); BadParameter when malformed."""
    values = query.getall("as_of", []) if isinstance(query, MultiMapping) else query.get("as_of", [])
    if isinstance(values, str):
        values = [values]
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter("as_of", "given more than once")
    value = str(values[0])
    problem = "must be an RFC 3339 time with Z or an offset, e.g. 2026-11-25T07:42:00+01:00"
    if not _RFC3339.fullmatch(value):
        raise BadParameter("as_of", problem)
    try:
        at = parse_time(value.replace("t", "T").replace(" ", "T"))
    except (ModelError, ValueError, OverflowError) as exc:
        raise BadParameter("as_of", problem) from exc
    return at


def without_as_of(query: MultiMapping[str]) -> dict[str, list[str]]:
    """The query parameters but `as_of`, each as its list of values (for the filter parser)."""
    return {k: query.getall(k) for k in query if k != "as_of"}


async def listing(store: Store, q: Query, at: datetime | None) -> tuple[list[Disruption], str | None]:
    """The live list, or the list as it was at `at` (a 410 JSON error past the kept history)."""
    if at is None:
        return await store.query(q)
    try:
        return await store.as_of(q, at)
    except HistoryGone as exc:
        raise json_error(410, str(exc), parameter="as_of") from exc


async def history(request: web.Request) -> web.Response:
    """GET /api/v1/disruptions/{id}/history: every version with the JSON Patch from the one before."""
    for key in request.query:
        if not key.startswith("_"):
            raise BadParameter(key, "unknown parameter (this endpoint takes none)")
    ident = request.match_info["id"]
    app = request.app

    async def render() -> Rendered:
        versions = with_patches(await app[appmod.STORE].history(ident))
        if not versions:
            raise json_error(404, f"no versions of {ident!r}", id=ident)
        body = {"id": ident, "count": len(versions), "versions": versions}
        last = parse_time(versions[-1]["at"])
        return Rendered.make(dumps(body), "application/json; charset=utf-8", last)

    rendered = await app[appmod.CACHE].get(("api:history", ident), render)
    return respond(request, rendered, cache_control="public, max-age=15")


def add_routes(app: web.Application, list_path: str) -> None:
    """Register the history route (before the item route, whose `{id}` would swallow it)."""
    app.router.add_get(list_path + "/{id:.+}/history", history)
