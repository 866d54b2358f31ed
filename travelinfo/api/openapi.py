"""The OpenAPI 3.1 document of `/api/v1`, built from the same parameter table the parser uses."""

from __future__ import annotations

from travelinfo.api import incidents
from travelinfo.api.history import AS_OF
from travelinfo.api.openapi_schemas import PERMISSIVE, SCHEMAS, J, ref
from travelinfo.api.params import FILTERS, PAGING, STREAM, Param
from travelinfo.webpush import openapi as webpush_openapi


def _param(p: Param, where: str = "query") -> J:
    return {"name": p.name, "in": where, "required": False, "description": p.description, "schema": p.schema}


def _json(schema: J, description: str, headers: J | None = None) -> J:
    out: J = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


CACHE_HEADERS: J = {
    "ETag": {"schema": {"type": "string"}},
    "Last-Modified": {"schema": {"type": "string"}},
}
ERRORS: J = {
    "400": _json(ref("Error"), "A bad or unknown query parameter (named in `parameter`)."),
    "429": _json(
        ref("Error"),
        "Rate limit exceeded (per API key, else per client address).",
        {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds"}},
    ),
}
NOT_MODIFIED: J = {"304": {"description": "Not modified (If-None-Match / If-Modified-Since)."}}
AUTH_ERRORS: J = {
    "401": _json(ref("Error"), "Missing or invalid API key."),
    "403": _json(ref("Error"), "The API key lacks the scope."),
}
BEARER: list[J] = [{"bearer": []}]


def _get(summary: str, params: list[J], ok: J, extra: J | None = None) -> J:
    return {
        "summary": summary,
        "parameters": params,
        "responses": {"200": ok, **NOT_MODIFIED, **ERRORS, **(extra or {})},
    }


def _write(
    summary: str, ok: str, body: str | None, params: list[J] | None = None, ref_name: str = "Webhook"
) -> J:
    """A keyed operation of the webhooks/notices publishers (permissive schemas they refine)."""
    op: J = {
        "summary": summary,
        "security": BEARER,
        "parameters": params or [],
        "responses": {
            ok: _json(ref(body or ref_name), "Done.") if ok != "204" else {"description": "Done."},
            **ERRORS,
            **AUTH_ERRORS,
            "404": _json(ref("Error"), "Not found."),
        },
    }
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    return op


ID_PARAM: J = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
FILTER_PARAMS = [_param(p) for p in FILTERS]
LANG = [_param(p) for p in FILTERS if p.name == "lang"]
AS_OF_PARAMS = [_param(AS_OF)]
GONE: J = {"410": _json(ref("Error"), "`as_of` is older than the kept history and no archive covers it.")}
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
            "items": {"type": "object", "required": ["op", "path"]},
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
EVENTS = (
    "`text/event-stream`. Events: `snapshot` (with `snapshot=1`), `created`, `updated`, `ended` "
    "(data: Change; `id:` is its `seq`), `reset` (data: Snapshot) when the resume point is older "
    "than the log keeps. An item that leaves the filter arrives as `ended`."
)


def paths() -> J:
    """Every /api/v1 path and operation."""
    list_ok = _json(ref("DisruptionList"), "One page, most severe first, then newest.", CACHE_HEADERS)
    list_ok["headers"]["Link"] = {"schema": {"type": "string"}, "description": 'rel="next"'}
    return {
        "/api/v1/disruptions": {
            "get": _get(
                "List disruptions (`as_of`: as listed at that time)",
                FILTER_PARAMS + [_param(p) for p in PAGING] + AS_OF_PARAMS,
                list_ok,
                GONE,
            )
        },
        "/api/v1/disruptions.geojson": {
            "get": {
                **_get(
                    "Disruptions as an RFC 7946 FeatureCollection (not paged)",
                    FILTER_PARAMS + AS_OF_PARAMS,
                    {},
                ),
                "responses": {
                    "200": {
                        "description": "FeatureCollection",
                        "headers": CACHE_HEADERS,
                        "content": {"application/geo+json": {"schema": ref("FeatureCollection")}},
                    },
                    **NOT_MODIFIED,
                    **ERRORS,
                    **GONE,
                },
            }
        },
        "/api/v1/disruptions/{id}/history": {
            "get": _get(
                "Every published version of one disruption with what changed (RFC 6902 JSON Patch)",
                [ID_PARAM],
                _json(HISTORY, "The versions, oldest first", CACHE_HEADERS),
                {"404": _json(ref("Error"), "No versions of that id are kept or archived.")},
            )
        },
        "/api/v1/disruptions/{id}": {
            "get": _get(
                "One disruption (ended ones stay readable for the grace period)",
                [ID_PARAM, *LANG],
                _json(ref("Disruption"), "The disruption", CACHE_HEADERS),
                {"404": _json(ref("Error"), "No such disruption.")},
            )
        },
        "/api/v1/sources": {
            "get": {
                "summary": "Health of every source",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["sources"],
                            "properties": {"sources": {"type": "array", "items": ref("SourceHealth")}},
                        },
                        "Per-source health",
                    ),
                    "429": ERRORS["429"],
                },
            }
        },
        "/api/v1/stream": {
            "get": {
                "summary": "Server-Sent Events of changes",
                "description": EVENTS,
                "parameters": [
                    *FILTER_PARAMS,
                    *[_param(p) for p in STREAM],
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": EVENTS,
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **ERRORS,
                },
            }
        },
        "/api/v1/ws": {
            "get": {
                "summary": "WebSocket of changes",
                "description": (
                    'Send `{"subscribe": {<filters as in /api/v1/stream>}, "since": "<seq>", '
                    '"snapshot": true}`; receive Change messages and Snapshot messages with `type`. '
                    "Bad messages close the socket with 1003 (not JSON) or 1008 (bad filter) and a reason."
                ),
                "responses": {"101": {"description": "Switching protocols"}, **ERRORS},
            }
        },
        "/api/v1/webhooks": {
            "get": _write("List your webhook subscriptions", "200", None),
            "post": _write("Register a webhook subscription", "201", "Webhook"),
            "delete": _write("Delete your subscriptions matching a URL", "200", None),
        },
        "/api/v1/webhooks/{id}": {
            "get": _write("One webhook subscription", "200", None, [ID_PARAM]),
            "delete": _write("Delete a webhook subscription", "204", None, [ID_PARAM]),
        },
        "/api/v1/webhooks/{id}/dead-letters": {
            "get": _write("Deliveries that failed for good", "200", None, [ID_PARAM]),
        },
        "/api/v1/webhooks/{id}/ping": {
            "post": {
                **_write(
                    "Send a signed test event now and return the receiver's answer",
                    "200",
                    None,
                    [ID_PARAM],
                    ref_name="WebhookPing",
                ),
                "description": (
                    "POSTs a signed `ping` event (`X-Travelinfo-Event: ping`) to the subscription's "
                    "URL within `webhooks.timeout` and answers 200 with the receiver's status or the "
                    "error; 429 while another ping to it is in flight. Does not change delivery state."
                ),
            },
        },
        "/api/v1/notices": {
            "get": _write("List your organisation's notices", "200", None, ref_name="Notice"),
            "post": _write("Publish a notice", "201", "Notice"),
        },
        "/api/v1/notices/{id}": {
            "get": _write("One notice", "200", None, [ID_PARAM], ref_name="Notice"),
            "patch": _write("Update a notice", "200", "Notice", [ID_PARAM]),
            "delete": _write("End a notice", "204", None, [ID_PARAM]),
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": _json(PERMISSIVE, "OpenAPI 3.1"),
                    **NOT_MODIFIED,
                    **ERRORS,
                },
            }
        },
    }


def document() -> J:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "travelinfo API",
            "version": "1",
            "description": (
                "Real-time public travel disruptions for the Stockholm region. Reads are open "
                "(CORS `*`); unknown query parameters are refused with 400 naming them (parameters "
                "starting with `_` are ignored, for cache-busting). See docs/api.md."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {**incidents.openapi_paths(paths()), **webpush_openapi.paths()},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                **webpush_openapi.security_schemes(),
            },
        },
    }
