"""The OpenAPI 3.1 document of `/api/v1`, built from the same parameter table the parser uses.

Each package describes its own operations next to its handlers and validators; `PATH_SOURCES`
names them, one line each, so a package adding paths adds one line there.
"""

from __future__ import annotations

import importlib
from typing import Any

from travelinfo.api import openapi_examples as ex
from travelinfo.api.history import AS_OF
from travelinfo.api.openapi_parts import CACHE_HEADERS, HEADERS, RESPONSES, J, error, ok, operation, ref
from travelinfo.api.openapi_schemas import PERMISSIVE, SCHEMAS
from travelinfo.api.params import FILTERS, PAGING, Param
from travelinfo.webpush import openapi as webpush_openapi

# Modules with a `paths()` (and optionally `schemas()`) adding to the document, one per line.
PATH_SOURCES: tuple[str, ...] = (
    "travelinfo.api.openapi",
    "travelinfo.push.openapi",
    "travelinfo.webhooks.openapi",
    "travelinfo.notices.openapi",
    "travelinfo.api.incidents",
    "travelinfo.webpush.openapi",
    "travelinfo.gtfsrt.openapi",
)
TAGS: list[J] = [
    {"name": "disruptions", "description": "The normalised disruptions: lists, one item, GeoJSON, history."},
    {"name": "push", "description": "Changes as they happen: Server-Sent Events and WebSocket."},
    {"name": "webhooks", "description": "Signed HTTP callbacks of changes (API key with scope `webhooks`)."},
    {"name": "notices", "description": "Operators' own notices (API key with scope `notices:write`)."},
    {"name": "incidents", "description": "Items from several sources that are one real-world event."},
    {"name": "webpush", "description": "Web Push commute alerts: a browser's subscription (no account)."},
    {"name": "service", "description": "Source health, this document and its pages."},
]


def param(p: Param, where: str = "query") -> J:
    """An OpenAPI parameter from a row of the one parameter table."""
    return {"name": p.name, "in": where, "required": False, "description": p.description, "schema": p.schema}


ID_PARAM: J = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The disruption id (`<source>:<upstream id>`).",
    "schema": {"type": "string", "minLength": 1},
    "example": ex.DISRUPTION["id"],
}
FILTER_PARAMS = [param(p) for p in FILTERS]
LANG = [param(p) for p in FILTERS if p.name == "lang"]
GONE: J = {"410": error("`as_of` is older than the kept history and no archive covers it.")}
VERSION: J = {
    "type": "object",
    "required": ["seq", "type", "id", "at", "disruption", "patch"],
    "properties": {
        "seq": {"type": "string"},
        "type": {"type": "string", "enum": ["created", "updated", "ended"]},
        "id": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "disruption": ref("Disruption"),
        "patch": {
            "description": "RFC 6902 JSON Patch turning the previous version into this one (null: first).",
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "required": ["op", "path"],
                "properties": {"op": {"type": "string"}, "path": {"type": "string"}},
            },
        },
    },
}
HISTORY: J = {
    "type": "object",
    "required": ["id", "count", "versions"],
    "properties": {
        "id": {"type": "string"},
        "count": {"type": "integer", "minimum": 1},
        "versions": {"type": "array", "items": VERSION},
    },
}
INDEX: J = {
    "type": "object",
    "required": ["name", "version", "links"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "links": {
            "type": "object",
            "description": "Where to go: `rel` name to a path on this server.",
            "additionalProperties": {"type": "string"},
        },
    },
}
LINK_HEADER: J = {
    "description": 'The next page, `rel="next"` (absent on the last).',
    "schema": {"type": "string"},
}
GET_ERRORS = ("NotModified", "BadRequest")


def _reads() -> J:
    list_params = FILTER_PARAMS + [param(p) for p in PAGING] + [param(AS_OF)]
    geo = ok(ref("FeatureCollection"), "RFC 7946 FeatureCollection", ex.FEATURES, CACHE_HEADERS)
    geo["content"] = {"application/geo+json": geo["content"]["application/json"]}
    return {
        "/api/v1/disruptions": {
            "get": operation(
                "listDisruptions",
                "disruptions",
                "List disruptions (`as_of`: as listed at that time)",
                {
                    "200": ok(
                        ref("DisruptionList"),
                        "One page, most severe first, then newest.",
                        ex.LIST,
                        {**CACHE_HEADERS, "Link": LINK_HEADER},
                    )
                },
                errors=GET_ERRORS,
                params=list_params,
                extra=GONE,
            )
        },
        "/api/v1/disruptions.geojson": {
            "get": operation(
                "listDisruptionsGeoJson",
                "disruptions",
                "Disruptions as an RFC 7946 FeatureCollection (not paged)",
                {"200": geo},
                errors=GET_ERRORS,
                params=[*FILTER_PARAMS, param(AS_OF)],
                extra=GONE,
            )
        },
        "/api/v1/disruptions/{id}/history": {
            "get": operation(
                "getDisruptionHistory",
                "disruptions",
                "Every published version of one disruption with what changed (RFC 6902 JSON Patch)",
                {"200": ok(HISTORY, "The versions, oldest first", None, CACHE_HEADERS)},
                errors=(*GET_ERRORS, "NotFound"),
                params=[ID_PARAM],
            )
        },
        "/api/v1/disruptions/{id}": {
            "get": operation(
                "getDisruption",
                "disruptions",
                "One disruption (ended ones stay readable for the grace period)",
                {"200": ok(ref("Disruption"), "The disruption", ex.DISRUPTION, CACHE_HEADERS)},
                errors=(*GET_ERRORS, "NotFound"),
                params=[ID_PARAM, *LANG],
            )
        },
    }


def _service() -> J:
    sources: J = {"type": "object", "required": ["sources"]}
    sources["properties"] = {"sources": {"type": "array", "items": ref("SourceHealth")}}
    html: J = {"text/html": {"schema": {"type": "string"}}}
    lang: J = {
        "name": "lang",
        "in": "query",
        "required": False,
        "description": "Language of the page: `sv` or `en` (default: `Accept-Language`).",
        "schema": {"type": "string", "enum": ["sv", "en"]},
    }
    return {
        "/api/v1": {
            "get": operation(
                "apiIndex",
                "service",
                "Where everything is: links to the document, its page and the collections",
                {"200": ok(INDEX, "Links", None)},
                errors=("BadRequest",),
            )
        },
        "/api/v1/sources": {
            "get": operation(
                "listSources",
                "service",
                "Health of every source",
                {"200": ok(sources, "Per-source health", ex.SOURCES)},
                errors=("BadRequest",),
            )
        },
        "/api/v1/openapi.json": {
            "get": operation(
                "getOpenApi",
                "service",
                "This document",
                {"200": ok(PERMISSIVE, "OpenAPI 3.1", None, CACHE_HEADERS)},
                errors=GET_ERRORS,
            )
        },
        "/api/v1/docs": {
            "get": operation(
                "getApiDocs",
                "service",
                "This document as a page (sv/en), every operation listed",
                {"200": {"description": "The page", "headers": CACHE_HEADERS, "content": html}},
                errors=GET_ERRORS,
                params=[lang],
            )
        },
    }


def paths() -> J:
    """The pull API's paths: disruptions, sources, this document and its page."""
    return {**_reads(), **_service()}


def _contributions() -> tuple[J, J]:
    out_paths: J = {}
    out_schemas: J = dict(SCHEMAS)
    for name in PATH_SOURCES:
        module: Any = importlib.import_module(name)
        out_paths.update(module.paths())
        if hasattr(module, "schemas"):
            out_schemas.update(module.schemas())
    return out_paths, out_schemas


def document() -> J:
    """The whole OpenAPI 3.1 document."""
    all_paths, schemas = _contributions()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "travelinfo API",
            "version": "1",
            "summary": "Real-time public travel disruptions for the Stockholm region.",
            "description": (
                "Reads are open (CORS `*`, no key); writes need an API key "
                "(`Authorization: Bearer ti_...`, made with `travelinfo keys create`) with the "
                "operation's scope. Unknown query parameters are refused with 400 naming them "
                "(parameters starting with `_` are ignored, for cache-busting). Every response "
                "under `/api/` is rate-limited and says so in `RateLimit-Policy`/`RateLimit`. "
                "The page `/api/v1/docs` shows this document."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/", "description": "This server"}],
        "tags": TAGS,
        "paths": all_paths,
        "components": {
            "schemas": schemas,
            "responses": RESPONSES,
            "headers": HEADERS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key `ti_<id>_<secret>` with the scope the operation names.",
                },
                **webpush_openapi.security_schemes(),
            },
        },
    }
