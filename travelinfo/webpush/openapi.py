"""The Web Push paths of the OpenAPI document (`travelinfo.api.openapi` adds them in one line)."""

from __future__ import annotations

from travelinfo.api.openapi_parts import BODY, J, ok, operation
from travelinfo.model import MODES, SEVERITIES
from travelinfo.webpush.subscription import DAYS, LANGS, MAX_WINDOWS

B64URL = "^[A-Za-z0-9_-]+={0,2}$"
WINDOW: J = {
    "type": "object",
    "additionalProperties": False,
    "required": ["from", "to"],
    "properties": {
        "days": {"type": "array", "minItems": 1, "items": {"enum": list(DAYS)}},
        "from": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        "to": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    },
    "description": "Local Europe/Stockholm time; `to` before `from` runs past midnight.",
}
SUBSCRIBE: J = {
    "type": "object",
    "additionalProperties": False,
    "required": ["subscription"],
    "properties": {
        "subscription": {
            "type": "object",
            "description": "The browser's `PushSubscription.toJSON()` (endpoint: https, public address).",
            "required": ["endpoint", "keys"],
            "properties": {
                "endpoint": {"type": "string", "format": "uri"},
                "expirationTime": {"type": ["number", "null"]},
                "keys": {
                    "type": "object",
                    "required": ["p256dh", "auth"],
                    "properties": {
                        "p256dh": {"type": "string", "pattern": B64URL, "minLength": 86, "maxLength": 88},
                        "auth": {"type": "string", "pattern": B64URL, "minLength": 22, "maxLength": 24},
                    },
                },
            },
        },
        "filters": {
            "type": "object",
            "description": "The webhook filters (docs/webhooks.md): mode, status, source, severity, bbox, "
            "route, stop, road, q, region.",
            "properties": {
                "mode": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"enum": list(MODES)}}]}
            },
        },
        "windows": {"type": "array", "maxItems": MAX_WINDOWS, "items": WINDOW},
        "lang": {"enum": list(LANGS), "default": "sv"},
        "min_severity": {"enum": list(SEVERITIES)},
        "planned": {"type": "boolean", "default": True, "description": "Also planned works ahead."},
        "ahead": {
            "type": ["string", "null"],
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "description": "Local time the evening before when planned works starting tomorrow are told.",
        },
    },
}
SUBSCRIPTION: J = {
    "type": "object",
    "required": ["id", "endpoint", "filters", "windows", "lang", "created"],
    "properties": {
        "id": {"type": "string"},
        "endpoint": {"type": "string"},
        "filters": {"type": "object"},
        "windows": {"type": "array", "items": WINDOW},
        "lang": {"enum": list(LANGS)},
        "planned": {"type": "boolean"},
        "ahead": {"type": ["string", "null"]},
        "created": {"type": "string", "format": "date-time"},
        "secret": {"type": "string", "description": "Shown at subscribe: deletes the subscription."},
        "vapid_public_key": {"type": "string"},
        "sent": {"type": "integer"},
        "dropped": {"type": "integer"},
        "state": {"type": "string"},
        "last_error": {"type": ["string", "null"]},
    },
}
SECRET: list[J] = [{"pushSecret": []}]
ID: J = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The subscription id (given at subscribe).",
    "schema": {"type": "string", "minLength": 1},
}
SUB_EXAMPLE: J = {
    "id": "wp_3f2a9c1d",
    "endpoint": "https://push.example.net/send/abc",
    "filters": {"route": "14"},
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "06:30", "to": "09:00"}],
    "lang": "sv",
    "created": "2026-12-01T06:00:00Z",
}
OWNED_ERRORS = ("Unauthorized", "NotFound")


def paths() -> J:
    """`/api/v1/push/...`: subscribe, read, delete, the VAPID public key."""
    body: J = {"required": True, "content": {"application/json": {"schema": SUBSCRIBE}}}
    return {
        "/api/v1/push/subscriptions": {
            "post": operation(
                "createPushSubscription",
                "webpush",
                "Subscribe a browser to Web Push alerts (no account: the secret deletes it)",
                {
                    "201": ok(SUBSCRIPTION, "Subscribed; the response holds the secret.", SUB_EXAMPLE),
                    "200": ok(SUBSCRIPTION, "The same endpoint again: its settings replaced."),
                },
                errors=(*BODY, "Conflict"),
                body=body,
                description="400 also for an endpoint that is not https on a public address (SSRF guard).",
            )
        },
        "/api/v1/push/subscriptions/{id}": {
            "get": operation(
                "getPushSubscription",
                "webpush",
                "What is stored about a push subscription",
                {"200": ok(SUBSCRIPTION, "Stored.", SUB_EXAMPLE)},
                errors=(*OWNED_ERRORS, "Conflict"),
                security=SECRET,
                params=[ID],
                description="409 when the stored subscription cannot be read (a hand edit): delete it.",
            ),
            "delete": operation(
                "deletePushSubscription",
                "webpush",
                "Unsubscribe (everything kept for it is deleted)",
                {"204": {"description": "Gone."}},
                errors=OWNED_ERRORS,
                security=SECRET,
                params=[ID],
            ),
        },
        "/api/v1/push/vapid-public-key": {
            "get": operation(
                "getVapidPublicKey",
                "webpush",
                "The VAPID public key (`applicationServerKey`)",
                {
                    "200": ok(
                        {
                            "type": "object",
                            "required": ["public_key"],
                            "properties": {"public_key": {"type": "string"}, "created": {"type": "string"}},
                        },
                        "The key, base64url.",
                    )
                },
            )
        },
    }


def security_schemes() -> J:
    return {
        "pushSecret": {"type": "http", "scheme": "bearer", "description": "A push subscription's secret."}
    }
