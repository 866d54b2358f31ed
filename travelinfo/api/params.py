"""Query parameters of the API and push streams: one table, parsed strictly into a `Query`.

The same table feeds the OpenAPI document (travelinfo.api.openapi), so what the
document promises is exactly what the parser accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from travelinfo.model import MODES, SEVERITIES, STATUSES, ModelError, parse_time
from travelinfo.runtime.server import BadParameter
from travelinfo.store import query as query_mod
from travelinfo.store.base import ACTIVE_STATUSES, Query

MAX_LIMIT = 1000


def _list_pattern(words: Iterable[str]) -> str:
    alt = "|".join(words)
    return f"^({alt})(,({alt}))*$"


SOURCE_NAME = r"[A-Za-z0-9_.\-]+"
NUMBER = r"-?[0-9]{1,3}(\.[0-9]{1,12})?"
# A cursor is a position in the sort order: severity rank, negated timestamp, hex of the id.
# Every string of this shape is a valid position, so the document's pattern is the whole truth.
CURSOR_PATTERN = r"^[0-3]~-?[0-9]{1,20}(\.[0-9]{1,20})?(e[+-]?[0-9]{1,3})?~([0-9a-f]{2}){0,512}$"
LANG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$"
SEQ_PATTERN = r"^[0-9]{1,20}(-[0-9]{1,20})?$"


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter: name, JSON Schema and a description (also used by OpenAPI)."""

    name: str
    schema: Mapping[str, Any]
    description: str


FILTERS: tuple[Param, ...] = (
    Param("mode", {"type": "string", "pattern": _list_pattern(MODES)}, "Comma list of modes (any of)."),
    Param(
        "status",
        {"type": "string", "pattern": _list_pattern(STATUSES)},
        "Comma list of statuses (any of); default `planned,active`.",
    ),
    Param(
        "source",
        {"type": "string", "pattern": f"^{SOURCE_NAME}(,{SOURCE_NAME})*$", "maxLength": 500},
        "Comma list of configured source names (any of).",
    ),
    Param("severity", {"type": "string", "enum": list(SEVERITIES)}, "Minimum severity."),
    Param(
        "bbox",
        {"type": "string", "pattern": f"^{NUMBER},{NUMBER},{NUMBER},{NUMBER}$"},
        "`minLon,minLat,maxLon,maxLat` (WGS 84). Corners may come in either order; the box is "
        "clipped to the world. Items without geometry never match.",
    ),
    Param("route", {"type": "string", "minLength": 1, "maxLength": 100}, "Affected route id or name."),
    Param("stop", {"type": "string", "minLength": 1, "maxLength": 100}, "Affected stop id or name."),
    Param("road", {"type": "string", "minLength": 1, "maxLength": 100}, "Affected road, e.g. `E4`."),
    Param("area", {"type": "string", "minLength": 1, "maxLength": 100}, "Area or place named in the texts."),
    Param("q", {"type": "string", "minLength": 1, "maxLength": 200}, "Free text (case-insensitive)."),
    Param(
        "region",
        {"type": "string", "enum": ["home", "all"]},
        "`home` (default): leave out items whose geometry lies wholly outside the service's home "
        "region (`web.region`, the Stockholm area); `all`: every stored item.",
    ),
    Param(
        "active_at",
        {"type": "string", "format": "date-time"},
        "RFC 3339 time with `Z` or an offset: only items valid at that instant.",
    ),
    Param(
        "lang",
        {"type": "string", "pattern": LANG_PATTERN},
        "Reduce `header`, `description` and `location_text` to this language where it is present "
        "(texts without it are kept whole).",
    ),
)
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


def _match(name: str, value: str, pattern: str, what: str) -> str:
    if not re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value):
        raise BadParameter(name, f"must be {what}, got {value[:60]!r}")
    return value


def _bounded(name: str, value: str, limit: int) -> str:
    if not value or len(value) > limit:
        raise BadParameter(name, f"must be 1 to {limit} characters")
    return value


def _bbox(value: str) -> tuple[float, float, float, float]:
    _match("bbox", value, FILTERS[4].schema["pattern"], "minLon,minLat,maxLon,maxLat")
    a, b, c, d = (float(v) for v in value.split(","))
    lon = sorted((max(-180.0, min(180.0, a)), max(-180.0, min(180.0, c))))
    lat = sorted((max(-90.0, min(90.0, b)), max(-90.0, min(90.0, d))))
    return lon[0], lat[0], lon[1], lat[1]


def _time(value: str) -> datetime:
    if not re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", value):
        raise BadParameter("active_at", "must be an RFC 3339 time with Z or an offset")
    try:
        return parse_time(value.replace("t", "T").replace(" ", "T"))
    except (ModelError, ValueError, OverflowError) as exc:
        raise BadParameter("active_at", "must be an RFC 3339 time with Z or an offset") from exc


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


def _enum_list(name: str, value: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    _match(name, value, _list_pattern(allowed), "a comma list of " + "|".join(allowed))
    return tuple(dict.fromkeys(value.split(",")))


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
    kw: dict[str, Any] = {}
    if (v := get.get("mode")) is not None:
        kw["modes"] = _enum_list("mode", v, MODES)
    kw["status"] = ACTIVE_STATUSES
    if (v := get.get("status")) is not None:
        kw["status"] = _enum_list("status", v, STATUSES)
    if (v := get.get("source")) is not None:
        _bounded("source", v, 500)
        kw["sources"] = tuple(_match("source", v, FILTERS[2].schema["pattern"], "source names").split(","))
    if (v := get.get("severity")) is not None:
        if v not in SEVERITIES:
            raise BadParameter("severity", "must be one of " + ", ".join(SEVERITIES))
        kw["severity"] = v
    if (v := get.get("bbox")) is not None:
        kw["bbox"] = _bbox(v)
    for name, limit in (("route", 100), ("stop", 100), ("road", 100), ("area", 100)):
        if (v := get.get(name)) is not None:
            kw[name] = _bounded(name, v, limit)
    if (v := get.get("q")) is not None:
        kw["text"] = _bounded("q", v, 200)
    region = get.get("region")
    if region is not None and region not in ("home", "all"):
        raise BadParameter("region", "must be home or all")
    kw["region"] = None if region == "all" else home
    if (v := get.get("active_at")) is not None:
        kw["active_at"] = _time(v)
    lang = get.get("lang")
    if lang is not None:
        _match("lang", lang, LANG_PATTERN, "a language tag such as sv or en")
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
    """Keep only `lang` in each text map that has it (others stay whole)."""
    if not lang:
        return data
    for field in ("header", "description", "location_text"):
        texts = data.get(field)
        if isinstance(texts, dict) and lang in texts:
            data[field] = {lang: texts[lang]}
    return data
