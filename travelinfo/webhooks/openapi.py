"""The webhook paths of the OpenAPI document, with a body schema made from the validator's own
tables (`travelinfo/webhooks/routes.py`: FIELDS, FILTERS, MAX_TEXT; the vocabulary's enums).

What the schema cannot say, the handler answers 400 for: a URL whose host resolves to an
address the SSRF guard refuses, a filter value the list API's parser refuses.
"""

from __future__ import annotations

import re

from travelinfo.api import openapi_examples as ex
from travelinfo.api.openapi_parts import BEARER, BODY, KEYED, J, json_body, ok, operation, ref
from travelinfo.model import MODES, SEVERITIES, STATUSES
from travelinfo.webhooks import routes as hooks

NONBLANK = r"\S"


def one_of(values: tuple[str, ...]) -> str:
    """One value, with the blanks around it the validator strips."""
    return r"^\s*(" + "|".join(map(re.escape, values)) + r")\s*$"


def comma_list(values: tuple[str, ...]) -> str:
    """`a,b` (empty items skipped) with at least one of `values`."""
    v = "(" + "|".join(map(re.escape, values)) + ")"
    return rf"^(\s*,)*\s*{v}\s*(,\s*({v}\s*)?)*$"


def _words(values: tuple[str, ...] | None, single: bool = False) -> J:
    item: J = {"type": "string", "pattern": one_of(values) if values else NONBLANK}
    text: J = {"type": "string", "pattern": comma_list(values) if values else r"[^,\s]"}
    if single and values:
        text = item
    return {"anyOf": [text, {"type": "array", "minItems": 1, "items": item}]}


def _text() -> J:
    return {"type": "string", "pattern": NONBLANK, "maxLength": hooks.MAX_TEXT}


FILTER_SCHEMAS: dict[str, J] = {
    "mode": _words(MODES),
    "status": _words(STATUSES),
    "source": _words(None),
    "severity": {**_words(SEVERITIES, single=True), "description": "The minimum severity."},
    "bbox": {
        "description": "`min_lon,min_lat,max_lon,max_lat` (a string or four numbers).",
        "anyOf": [{"type": "string"}, {"type": "array", "minItems": 4, "maxItems": 4, "items": {}}],
    },
    "region": _words(("home", "all"), single=True),
    "route": _text(),
    "stop": _text(),
    "road": _text(),
    "q": _text(),
    "inferred": {
        "description": "`route` also matches lines inferred from road and shipping events.",
        "anyOf": [{"type": "boolean"}, {"type": "string", "pattern": one_of(("true", "false"))}],
    },
}
assert set(FILTER_SCHEMAS) == set(hooks.FILTERS), "every filter the validator knows is described"
FILTERS: J = {
    "type": "object",
    "description": "The list API's filters (values as strings or lists); none: every change.",
    "additionalProperties": False,
    "properties": FILTER_SCHEMAS,
}
NEW_WEBHOOK: J = {
    "type": "object",
    "required": ["url"],
    "additionalProperties": False,
    "properties": {
        "url": {
            "type": "string",
            "format": "uri",
            "description": "http(s) URL whose host resolves only to public addresses (or allow_hosts).",
        },
        "secret": {
            "type": ["string", "null"],
            "minLength": 16,
            "maxLength": 256,
            "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$",
            "description": "HMAC key for the signatures (printable); null or omitted: one is made.",
        },
        "filters": {"anyOf": [FILTERS, {"type": "null", "description": "No filters: every change."}]},
        "description": {"type": ["string", "null"], "maxLength": hooks.MAX_TEXT},
    },
}
assert set(NEW_WEBHOOK["properties"]) == set(hooks.FIELDS)
TIME_OR_NULL: J = {"type": ["string", "null"], "format": "date-time"}
WEBHOOK: J = {
    "type": "object",
    "description": "A webhook subscription (see docs/webhooks.md); never its secret.",
    "required": ["id", "url", "filters", "created", "state", "dead_letters", "delivered"],
    "properties": {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "filters": {"type": "object"},
        "description": {"type": ["string", "null"]},
        "created": {"type": "string", "format": "date-time"},
        "state": {
            "type": "string",
            "enum": ["active", "retrying", "failing"],
            "description": (
                "`retrying`: the last request failed; `failing`: `webhooks.failure_threshold` "
                "failed requests in a row or an event dead-lettered since the last success."
            ),
        },
        "last_error": {"type": ["string", "null"]},
        "dead_letters": {"type": "integer", "minimum": 0},
        "last_delivered_seq": {"type": ["string", "null"]},
        "delivered": {"type": "integer", "minimum": 0},
        "last_attempt": TIME_OR_NULL,
        "consecutive_failures": {"type": "integer", "minimum": 0},
        "next_attempt": TIME_OR_NULL,
    },
    "examples": [ex.WEBHOOK],
}
CREATED: J = {
    "allOf": [ref("Webhook")],
    "type": "object",
    "required": ["secret"],
    "properties": {"secret": {"type": "string", "description": "Shown this once."}},
}
DEAD_LETTER: J = {
    "type": "object",
    "required": ["webhook", "seq", "type", "error", "attempts", "at", "event"],
    "properties": {
        "webhook": {"type": "string"},
        "seq": {"type": "string"},
        "type": {"type": "string", "enum": ["created", "updated", "ended"]},
        "error": {"type": "string"},
        "attempts": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "event": ref("Change"),
    },
}
HOOK_ID: J = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
HOOK_ID["example"] = ex.WEBHOOK["id"]


def _keyed(
    op_id: str,
    summary: str,
    ok_responses: J,
    *,
    errors: tuple[str, ...] = (),
    params: list[J] | None = None,
    body: J | None = None,
    description: str | None = None,
) -> J:
    return operation(
        op_id,
        "webhooks",
        summary,
        ok_responses,
        errors=errors + KEYED,
        security=BEARER,
        params=params,
        body=body,
        description=description,
    )


def paths() -> J:
    """Every /api/v1/webhooks operation."""
    body = json_body(ref("NewWebhook"), {"ferry-app": {"value": ex.WEBHOOK_BODY}})
    location = {"Location": {"description": "The new subscription's path.", "schema": {"type": "string"}}}
    listed: J = {"type": "object", "required": ["webhooks"]}
    listed["properties"] = {"webhooks": {"type": "array", "items": ref("Webhook")}}
    deleted: J = {"type": "object", "required": ["deleted"]}
    deleted["properties"] = {"deleted": {"type": "array", "items": {"type": "string"}}}
    dead: J = {"type": "object", "required": ["dead_letters"]}
    dead["properties"] = {"dead_letters": {"type": "array", "items": ref("DeadLetter")}}
    match = [
        {
            "name": "id",
            "in": "query",
            "required": False,
            "description": "A subscription id (repeatable).",
            "schema": {"type": "array", "items": {"type": "string"}},
            "style": "form",
            "explode": True,
        },
        {
            "name": "url",
            "in": "query",
            "required": False,
            "description": "Every subscription to this URL.",
            "schema": {"type": "string"},
        },
    ]
    created = ok(ref("WebhookCreated"), "Registered; events after now are delivered.", None, location)
    created["content"]["application/json"]["example"] = {**ex.WEBHOOK, "secret": "s3cr3t-shown-once-0123"}
    return {
        "/api/v1/webhooks": {
            "get": _keyed("listWebhooks", "List your webhook subscriptions", {"200": ok(listed, "Yours")}),
            "post": _keyed(
                "createWebhook",
                "Register a webhook subscription",
                {"201": created},
                errors=(*BODY, "Conflict"),
                body=body,
                description="409 when the key already has `MAX_PER_KEY` (100) subscriptions.",
            ),
            "delete": _keyed(
                "deleteWebhooks",
                "Delete your subscriptions named by `id` or `url` (one of them is required)",
                {"200": ok(deleted, "The ids deleted", {"deleted": [ex.WEBHOOK["id"]]})},
                errors=("BadRequest",),
                params=match,
            ),
        },
        "/api/v1/webhooks/{id}": {
            "get": _keyed(
                "getWebhook",
                "One webhook subscription",
                {"200": ok(ref("Webhook"), "It", ex.WEBHOOK)},
                errors=("NotFound",),
                params=[HOOK_ID],
            ),
            "delete": _keyed(
                "deleteWebhook",
                "Delete a webhook subscription",
                {"204": {"description": "Deleted."}},
                errors=("NotFound",),
                params=[HOOK_ID],
            ),
        },
        "/api/v1/webhooks/{id}/dead-letters": {
            "get": _keyed(
                "listDeadLetters",
                "Deliveries that failed for good",
                {"200": ok(dead, "The dead letters")},
                errors=("NotFound",),
                params=[HOOK_ID],
            ),
        },
        "/api/v1/webhooks/{id}/ping": {
            "post": _keyed(
                "pingWebhook",
                "Send a signed test event now and return the receiver's answer",
                {"200": ok(ref("WebhookPing"), "The receiver's answer", ex.PING)},
                errors=("NotFound",),
                params=[HOOK_ID],
                description=(
                    "POSTs a signed `ping` event (`X-Travelinfo-Event: ping`) to the subscription's "
                    "URL within `webhooks.timeout` and answers 200 with the receiver's status or the "
                    "error; 429 while another ping to it is in flight. Does not change delivery state."
                ),
            ),
        },
    }


def schemas() -> J:
    return {
        "NewWebhook": NEW_WEBHOOK,
        "Webhook": WEBHOOK,
        "WebhookCreated": CREATED,
        "DeadLetter": DEAD_LETTER,
    }
