"""Query parameters of the API and push streams: the filter table, parsed strictly into a `Query`.

The filters are travelinfo.filters.table's rows (shared with webhooks); the same table feeds
the OpenAPI document (travelinfo.api.openapi), so what the
document promises is exactly what the parser accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from travelinfo.filters import table
from travelinfo.filters.table import FILTERS, LANG_PATTERN, Param
from travelinfo.runtime.server import BadParameter
from travelinfo.store import query as query_mod
from travelinfo.store.base import Query

__all__ = ["FILTERS", "LANG_PATTERN", "PAGING", "STREAM", "Param", "Request", "parse", "reduce_lang"]

MAX_LIMIT = 1000

# A cursor is a position in the sort order: severity rank (+4 for a public warning), negated
# timestamp, hex of the id.
# Every string of this shape is a valid position, so the document's pattern is the whole truth.
CURSOR_PATTERN = r"^[0-7]~-?[0-9]{1,20}(\.[0-9]{1,20})?(e[+-]?[0-9]{1,3})?~([0-9a-f]{2}){0,512}$"
SEQ_PATTERN = r"^[0-9]{1,20}(-[0-9]{1,20})?$"
_match = table.match

PAGING: tuple[Param, ...] = (
    Param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "Page size (default `api.page_size`).",
    ),
    Param(
        "cursor",
        {"type": "string", "pattern": CURSOR_PATTERN},
        "Opaque position from `next_cursor` (or the `Link: rel=next` header).",
    ),
)
STREAM: tuple[Param, ...] = (
    Param("snapshot", {"type": "string", "enum": ["0", "1"]}, "`1`: start with a `snapshot` event."),
    Param(
        "since",
        {"type": "string", "pattern": SEQ_PATTERN},
        "Resume after this `seq` (same as the `Last-Event-ID` header, which wins).",
    ),
)


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request: the store query plus presentation options."""

    query: Query
    lang: str | None = None


def _one(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise BadParameter(name, "given more than once")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadParameter(name, "must be a string")
    return str(value)


def encode_cursor(key: tuple[int, float, str] | None) -> str | None:
    """The public form of a sort position (see CURSOR_PATTERN): the store's one cursor format."""
    return None if key is None else query_mod.encode_cursor(key)


def decode_cursor(value: str) -> tuple[int, float, str]:
    """Parse the public cursor into a sort position; BadParameter when malformed."""
    _match("cursor", value, CURSOR_PATTERN, "a cursor from next_cursor")
    try:
        return query_mod.decode_cursor(value)
    except ValueError:
        raise BadParameter("cursor", "must be a cursor from next_cursor") from None


def parse(
    raw: Mapping[str, Any],
    *,
    allowed: tuple[Param, ...] = FILTERS + PAGING,
    page_size: int | None = None,
    home: tuple[float, float, float, float] | None = None,
) -> Request:
    """Parse query parameters (or a WebSocket `subscribe` object) into a Request.

    Unknown names are refused (400) so a typo never silently widens a result; names starting
    with `_` are ignored, so cache-busting parameters (`_=1700000000`) keep working.
    """
    names = {p.name for p in allowed}
    for key in raw:
        if key not in names and not key.startswith("_"):
            raise BadParameter(str(key), "unknown parameter (known: " + ", ".join(sorted(names)) + ")")
    get = {name: _one(raw, name) for name in names}
    kw = table.read_filters(get, (p for p in allowed if p.read is not None), home)
    lang = get.get("lang")
    if "limit" in names:
        kw["limit"] = page_size
        if (v := get.get("limit")) is not None:
            if not re.fullmatch(r"[0-9]{1,9}", v) or not 1 <= int(v) <= MAX_LIMIT:
                raise BadParameter("limit", f"must be an integer from 1 to {MAX_LIMIT}")
            kw["limit"] = int(v)
    if (v := get.get("cursor")) is not None:
        decode_cursor(v)  # validated here; the store reads the same format
        kw["cursor"] = v
    return Request(Query(**kw), lang)


def reduce_lang(data: dict[str, Any], lang: str | None) -> dict[str, Any]:
    """Keep only `lang` in each text map that has it (others stay whole); `en` keeps `en-GB`
    (the same primary subtag) when there is no plain `en`."""
    if not lang:
        return data
    primary = lang.split("-")[0].lower()
    for field in ("header", "description", "location_text"):
        texts = data.get(field)
        if not isinstance(texts, dict):
            continue
        key = lang if lang in texts else next((k for k in texts if k.split("-")[0].lower() == primary), None)
        if key is not None:
            data[field] = {key: texts[key]}
    return data
