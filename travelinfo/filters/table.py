"""The filter table: one row per filter with its name, schema, meaning and reader.

Every channel reads filters through these rows - the list API and its GeoJSON, SSE and
WebSocket subscriptions, webhook `filters` (travelinfo.webhooks), GTFS-RT, `travelinfo export
--filter`, and the OpenAPI document - so a filter has one spelling, one parser and one meaning
(the matching is `Query.matches`).
Adding a filter is adding a row (and its `Query` field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from travelinfo.model import MODES, SEVERITIES, STATUSES, ModelError, parse_time
from travelinfo.runtime.server import BadParameter

Box = tuple[float, float, float, float]
# Reads one raw value (None: the parameter is absent) into `Query` keyword arguments.
Reader = Callable[[str | None, Box | None], dict[str, Any]]
ACTIVE = ("active", "planned")


def list_pattern(words: Iterable[str]) -> str:
    """A JSON Schema pattern for a comma list of `words`."""
    alt = "|".join(words)
    return f"^({alt})(,({alt}))*$"


SOURCE_NAME = r"[A-Za-z0-9_.\-]+"
NUMBER = r"-?[0-9]{1,3}(\.[0-9]{1,12})?"
LANG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$"
SOURCES_PATTERN = f"^{SOURCE_NAME}(,{SOURCE_NAME})*$"
BBOX_PATTERN = f"^{NUMBER},{NUMBER},{NUMBER},{NUMBER}$"


def match(name: str, value: str, pattern: str, what: str) -> str:
    """`value` when it matches `pattern` whole; else BadParameter naming `name`."""
    if not re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value):
        raise BadParameter(name, f"must be {what}, got {value[:60]!r}")
    return value


def bounded(name: str, value: str, limit: int) -> str:
    """`value` when it has 1 to `limit` characters."""
    if not value or len(value) > limit:
        raise BadParameter(name, f"must be 1 to {limit} characters")
    return value


def enum_list(name: str, value: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A comma list of `allowed` words, duplicates dropped, order kept."""
    match(name, value, list_pattern(allowed), "a comma list of " + "|".join(allowed))
    return tuple(dict.fromkeys(value.split(",")))


MAX_NAMES = 30  # `route=14,13,...`: a list names at most this many lines (or roads)
MAX_NAME = 100
NAMES_LIMIT = MAX_NAMES * (MAX_NAME + 1)
_NAME = f"[^,\\u0000-\\u001F]{{0,{MAX_NAME}}}"
# What `names` accepts, for the OpenAPI document: at most MAX_NAMES names of at most MAX_NAME
# characters, no control character, and one name that is not blank.
NAMES_PATTERN = f"^(?=.*[^, ]){_NAME}(,{_NAME}){{0,{MAX_NAMES - 1}}}$"


def names(name: str, value: str) -> str:
    """A line or road name, or a comma list of them (`14,13`: any of them), as one normalised
    value: the spaces around each name, empty names and repeats dropped ('' when none is left).
    The limits count the names and characters as given."""
    if len(value) > NAMES_LIMIT:
        raise BadParameter(name, f"at most {NAMES_LIMIT} characters")
    if any(ord(c) < 32 for c in value):
        raise BadParameter(name, "control characters are not allowed")
    parts = value.split(",")
    if len(parts) > MAX_NAMES:
        raise BadParameter(name, f"at most {MAX_NAMES} names")
    if any(len(p) > MAX_NAME for p in parts):
        raise BadParameter(name, f"at most {MAX_NAME} characters per name")
    return ",".join(dict.fromkeys(part for p in parts if (part := p.strip(" "))))


def _names(name: str, what: str) -> Reader:
    def read(v: str | None, _: Box | None) -> dict[str, Any]:
        if v is None:
            return {}
        kept = names(name, v)
        if not kept:
            raise BadParameter(name, f"must name {what}")
        return {name: kept}

    return read


def read_bbox(value: str) -> Box:
    """`minLon,minLat,maxLon,maxLat`: corners in either order, clipped to the world."""
    match("bbox", value, BBOX_PATTERN, "minLon,minLat,maxLon,maxLat")
    a, b, c, d = (float(v) for v in value.split(","))
    lon = sorted((max(-180.0, min(180.0, a)), max(-180.0, min(180.0, c))))
    lat = sorted((max(-90.0, min(90.0, b)), max(-90.0, min(90.0, d))))
    return lon[0], lat[0], lon[1], lat[1]


def read_time(value: str) -> datetime:
    """An RFC 3339 time with `Z` or an offset."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", value):
        raise BadParameter("active_at", "must be an RFC 3339 time with Z or an offset")
    try:
        return parse_time(value.replace("t", "T").replace(" ", "T"))
    except (ModelError, ValueError, OverflowError) as exc:
        raise BadParameter("active_at", "must be an RFC 3339 time with Z or an offset") from exc


def _severity(v: str | None, _: Box | None) -> dict[str, Any]:
    if v is None:
        return {}
    if v not in SEVERITIES:
        raise BadParameter("severity", "must be one of " + ", ".join(SEVERITIES))
    return {"severity": v}


def _flag(name: str, v: str) -> bool:
    if v not in ("true", "false"):
        raise BadParameter(name, "must be true or false")
    return v == "true"


def _sources(v: str) -> tuple[str, ...]:
    return tuple(match("source", bounded("source", v, 500), SOURCES_PATTERN, "source names").split(","))


def _region(v: str | None, home: Box | None) -> dict[str, Any]:
    if v is not None and v not in ("home", "all"):
        raise BadParameter("region", "must be home or all")
    return {"region": None if v == "all" else home}


def _text(name: str, field: str, limit: int) -> Reader:
    return lambda v, _: {} if v is None else {field: bounded(name, v, limit)}


def _search(v: str | None, _: Box | None) -> dict[str, Any]:
    if v is None:
        return {}
    if any(ord(c) < 32 for c in v):
        raise BadParameter("search", "control characters are not allowed")
    return {"search": bounded("search", v, 100)}


def _lang(v: str | None, _: Box | None) -> dict[str, Any]:
    if v is not None:
        match("lang", v, LANG_PATTERN, "a language tag such as sv or en")
    return {}  # presentation, not a Query field (the caller keeps the value)


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: name, JSON Schema, description (also used by OpenAPI), and its reader."""

    name: str
    schema: Mapping[str, Any]
    description: str
    read: Reader | None = None


def _text_param(name: str, description: str, field: str | None = None, limit: int = 100) -> Param:
    """A free-text parameter of 1 to `limit` characters, read into `field` (default: its name)."""
    schema = {"type": "string", "minLength": 1, "maxLength": limit}
    return Param(name, schema, description, _text(name, field or name, limit))


def _names_param(name: str, what: str, description: str) -> Param:
    """`route`, `road`: one name or a comma list of names, any of them."""
    schema = {"type": "string", "pattern": NAMES_PATTERN}
    return Param(name, schema, description + " A comma list matches any of them.", _names(name, what))


FILTERS: tuple[Param, ...] = (
    Param(
        "mode",
        {"type": "string", "pattern": list_pattern(MODES)},
        "Comma list of modes (any of).",
        lambda v, _: {} if v is None else {"modes": enum_list("mode", v, MODES)},
    ),
    Param(
        "status",
        {"type": "string", "pattern": list_pattern(STATUSES)},
        "Comma list of statuses (any of); default `planned,active`.",
        lambda v, _: {"status": ACTIVE if v is None else enum_list("status", v, STATUSES)},
    ),
    Param(
        "source",
        {"type": "string", "pattern": SOURCES_PATTERN, "maxLength": 500},
        "Comma list of configured source names (any of).",
        lambda v, _: (
            {}
            if v is None
            else {
                "sources": tuple(
                    match("source", bounded("source", v, 500), SOURCES_PATTERN, "source names").split(",")
                )
            }
        ),
    ),
    Param("severity", {"type": "string", "enum": list(SEVERITIES)}, "Minimum severity.", _severity),
    Param(
        "bbox",
        {"type": "string", "pattern": BBOX_PATTERN},
        "`minLon,minLat,maxLon,maxLat` (WGS 84). Corners may come in either order; the box is "
        "clipped to the world. Items without geometry never match.",
        lambda v, _: {} if v is None else {"bbox": read_bbox(v)},
    ),
    _names_param(
        "route",
        "a line, e.g. 14",
        "Affected line as people name it: GTFS route id, number (`14`), long name, or a colloquial "
        "name such as `röda linjen` (case-insensitive). The pages call it `line`.",
    ),
    Param(
        "inferred",
        {"type": "string", "enum": ["true", "false"]},
        "`true`: `route` also matches items whose inferred impacts (`impacts`, never an "
        "operator's own entry) name that line, e.g. a road closure on the E4 for `route=515`.",
        lambda v, _: {} if v is None else {"inferred": _flag("inferred", v)},
    ),
    _text_param("stop", "Affected stop id or name."),
    _names_param(
        "road", "a road, e.g. E4", "Affected road, e.g. `E4` (also inside `E4/E20`; `E 4`, `e4` alike)."
    ),
    _text_param("area", "Area or place named in the texts."),
    _text_param("q", "Free text (case-insensitive).", "text", 200),
    Param(
        "search",
        {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^\\u0000-\\u001F]+$"},
        "What a person types in a search box: a line (`14`, `tram 7`, `röda linjen`), road (`E4`, "
        "`E 4`), stop or place (`Slussen`) or mode (`sjöfart`, `buss`) name; a mode word narrows "
        "the rest (`tram 7` is line 7 among trams).",
        _search,
    ),
    Param(
        "region",
        {"type": "string", "enum": ["home", "all"]},
        "`home` (default): leave out items whose geometry lies wholly outside the service's home "
        "region (`web.region`, the Stockholm area); `all`: every stored item.",
        _region,
    ),
    Param(
        "active_at",
        {"type": "string", "format": "date-time"},
        "RFC 3339 time with `Z` or an offset: only items valid at that instant.",
        lambda v, _: {} if v is None else {"active_at": read_time(v)},
    ),
    Param(
        "lang",
        {"type": "string", "pattern": LANG_PATTERN},
        "Reduce `header`, `description` and `location_text` to this language where it is present "
        "(texts without it are kept whole).",
        _lang,
    ),
)
BY_NAME = {p.name: p for p in FILTERS}
# The pages' documented aliases (docs/web.md): `line` is `route`.
ALIASES = {"line": "route"}


def read_filters(get: Mapping[str, str | None], rows: Iterable[Param], home: Box | None) -> dict[str, Any]:
    """`Query` keyword arguments for the raw values `get` (by name) of the table's `rows`."""
    kw: dict[str, Any] = {"status": ACTIVE, "region": home}  # the defaults, whichever rows apply
    for row in rows:
        if row.read is not None:
            kw.update(row.read(get.get(row.name), home))
    return kw
