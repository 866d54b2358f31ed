"""Building blocks of the OpenAPI document shared by every package that adds paths to it.

A package describes its operations with `operation(...)`: the statuses every /api/ request can
get (429 with the RateLimit fields, 503 while the store is down) are added here, once, so no
operation forgets them; the caller names only what its handler adds (400, 401, 404, ...).
"""

from __future__ import annotations

from typing import Any

J = dict[str, Any]


def ref(name: str, kind: str = "schemas") -> J:
    return {"$ref": f"#/components/{kind}/{name}"}


RATE_HEADERS: J = {
    "RateLimit-Policy": ref("RateLimit-Policy", "headers"),
    "RateLimit": ref("RateLimit", "headers"),
}


def error_example(message: str, **extra: Any) -> J:
    return {"error": message, **extra}


def error(description: str, example: J | None = None, headers: J | None = None) -> J:
    """A JSON error response `{"error": ...}` with an example."""
    media: J = {"schema": ref("Error")}
    if example is not None:
        media["example"] = example
    # Every /api/ answer charged to a bucket carries the RateLimit fields, errors included.
    return {
        "description": description,
        "headers": {**(headers or {}), **RATE_HEADERS},
        "content": {"application/json": media},
    }


RETRY_AFTER: J = {"Retry-After": ref("Retry-After", "headers")}

HEADERS: J = {
    "RateLimit-Policy": {
        "description": (
            "The caller's quota (IETF draft-ietf-httpapi-ratelimit-headers): `q` requests in the "
            'bucket, refilled completely in `w` seconds; policy `"key"` (a valid API key) or '
            '`"address"` (anyone else). Absent when that limit is off.'
        ),
        "schema": {"type": "string", "examples": ['"address";q=60;w=6']},
    },
    "RateLimit": {
        "description": "What is left of it: `r` requests now, the bucket full again in `t` seconds.",
        "schema": {"type": "string", "examples": ['"address";r=59;t=1']},
    },
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}},
    "ETag": {"description": "Validator of the rendered bytes.", "schema": {"type": "string"}},
    "Last-Modified": {"description": "When the data last changed.", "schema": {"type": "string"}},
}
CACHE_HEADERS: J = {"ETag": ref("ETag", "headers"), "Last-Modified": ref("Last-Modified", "headers")}

RESPONSES: J = {
    "BadRequest": error(
        "A bad or unknown parameter (named in `parameter`), or a body that is not usable JSON.",
        error_example("severity: unknown value 'LOUD'", parameter="severity"),
        RATE_HEADERS,
    ),
    "Unauthorized": error(
        "Missing, invalid or revoked API key (`WWW-Authenticate: Bearer`).",
        error_example("invalid or revoked API key"),
        {"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    "Forbidden": error(
        "The API key lacks the scope.", error_example("this key lacks the scope notices:write")
    ),
    "NotFound": error("No such resource (or it is someone else's).", error_example("no webhook 9f2c")),
    "NotModified": {
        "description": "Not modified (`If-None-Match` / `If-Modified-Since`).",
        "headers": {**CACHE_HEADERS, **RATE_HEADERS},
    },
    "RequestTimeout": error("The body was not received within `limits.body_timeout`."),
    "PayloadTooLarge": error("The body is larger than `api.max_body`."),
    "UnsupportedMediaType": error(
        "The body is not sent as JSON.",
        error_example("send JSON (Content-Type: application/json), not text/plain"),
    ),
    "Conflict": error("The resource is in a state that forbids this (named in `error`)."),
    "TooManyRequests": error(
        "Rate limit exceeded (per API key, else per client address), or too many open streams.",
        error_example("rate limit exceeded for this client address; retry in 2 s"),
        {**RETRY_AFTER, **RATE_HEADERS},
    ),
    "ServiceUnavailable": error(
        "The data store is unreachable and no earlier answer is kept.",
        error_example("the data store is unreachable; try again shortly"),
        RETRY_AFTER,
    ),
}
BEARER: list[J] = [{"bearer": []}]
PUBLIC: list[J] = []
ALWAYS = {"429": ref("TooManyRequests", "responses"), "503": ref("ServiceUnavailable", "responses")}


def responses(*names: str) -> J:
    """`{"400": {"$ref": ...}, ...}` for the named shared responses."""
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "NotModified": "304",
        "RequestTimeout": "408",
        "Conflict": "409",
        "PayloadTooLarge": "413",
        "UnsupportedMediaType": "415",
    }
    return {codes[n]: ref(n, "responses") for n in names}


KEYED = ("Unauthorized", "Forbidden")
BODY = ("BadRequest", "RequestTimeout", "PayloadTooLarge", "UnsupportedMediaType")


def ok(schema: J, description: str, example: Any = None, headers: J | None = None, media: str = "") -> J:
    """A success response with the RateLimit fields (and any `headers`)."""
    content: J = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {
        "description": description,
        "headers": {**(headers or {}), **RATE_HEADERS},
        "content": {media or "application/json": content},
    }


def operation(
    op_id: str,
    tag: str,
    summary: str,
    ok_responses: J,
    *,
    errors: tuple[str, ...] = (),
    security: list[J] | None = None,
    params: list[J] | None = None,
    body: J | None = None,
    description: str | None = None,
    extra: J | None = None,
) -> J:
    """One operation: its own responses plus the shared ones every /api/ request can get."""
    op: J = {"operationId": op_id, "tags": [tag], "summary": summary}
    if description:
        op["description"] = description
    op["security"] = PUBLIC if security is None else security
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = body
    op["responses"] = {**ok_responses, **responses(*errors), **(extra or {}), **ALWAYS}
    return op


def json_body(schema: J, examples: J, media: tuple[str, ...] = ("application/json",)) -> J:
    """A required JSON request body with named examples."""
    return {"required": True, "content": {m: {"schema": schema, "examples": examples} for m in media}}
