"""The push paths of the OpenAPI document: `/api/v1/stream` (SSE) and `/api/v1/ws` (WebSocket).

OpenAPI 3.1 has no item schema for `text/event-stream`, so each event type is described in
the text with the component schema of its `data:` (`Change`, `Snapshot`).
"""

from __future__ import annotations

import json

from travelinfo.api import openapi_examples as ex
from travelinfo.api.openapi import FILTER_PARAMS, param
from travelinfo.api.openapi_parts import RATE_HEADERS, J, operation, ref
from travelinfo.api.params import SEQ_PATTERN, STREAM
from travelinfo.push.handshake import HANDSHAKE

EVENTS: tuple[tuple[str, str, str], ...] = (
    ("snapshot", "Snapshot", "first, with `snapshot=1`: the whole filtered set when you connect"),
    ("created", "Change", "an item first matches your filter (new, or changed so that it matches)"),
    ("updated", "Change", "an item that matched changed and still matches"),
    ("ended", "Change", "an item that matched ended upstream or stopped matching (`status: ended`)"),
    ("reset", "Snapshot", "the resume point is older than the log keeps: replace your state with it"),
)
EVENT_TABLE = "\n".join(f"| `{name}` | `{schema}` | {when} |" for name, schema, when in EVENTS)
STREAM_TEXT = (
    "Server-Sent Events of changes. Each event is `id: <seq>`, `event: <type>`, `data: <JSON>`:\n\n"
    "| event | `data:` schema | when |\n|---|---|---|\n" + EVENT_TABLE + "\n\n"
    "A comment `: heartbeat` comes every `push.heartbeat` seconds; `retry:` is `push.retry_ms`. "
    "Resume with `Last-Event-ID` (browsers send it on reconnect) or `since`: every missed event "
    "is replayed in order. With `push.max_duration` set, the server ends a stream after that "
    "long and the client reconnects and resumes."
)
EVENT_EXAMPLE: J = {
    "event": "updated",
    "id": ex.CHANGE["seq"],
    "data": json.dumps(ex.CHANGE, ensure_ascii=False),
}
WS_TEXT = (
    "WebSocket of changes. Send one text message to subscribe (another one replaces it):\n\n"
    '`{"subscribe": {<the filters of /api/v1/stream, as strings>}, "since": "<seq>", '
    '"snapshot": true}`\n\n'
    "You receive the same JSON as the SSE `data:` of each event (`Change` with `type` "
    "`created`/`updated`/`ended`, `Snapshot` with `type` `snapshot`/`reset`). The server pings "
    "every `push.heartbeat` seconds. A bad message closes the socket with a JSON reason "
    '`{"error": "..."}`: 1007 (not JSON), 1003 (binary), 1008 (bad subscription, naming the '
    "field); shutdown closes with 1001. A request without the WebSocket upgrade headers is "
    "answered 400."
)


def _event(types: tuple[str, ...], data: str) -> J:
    return {
        "type": "object",
        "title": data,
        "required": ["event", "id", "data"],
        "properties": {
            "event": {"type": "string", "enum": list(types)},
            "id": {"type": "string", "description": "The `seq` (send it back as `Last-Event-ID`)."},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": ref(data)},
            "retry": {"type": "integer"},
        },
    }


# Without 3.2's `itemSchema`, tools read an event stream's `schema` as that of one event: its
# fields `event`, `id`, `data` (a JSON text; its schema named by event type).
EVENT_DATA: J = {
    "description": "One event: created/updated/ended carry a `Change`, snapshot/reset a `Snapshot`.",
    "oneOf": [
        _event(("created", "updated", "ended"), "Change"),
        _event(("snapshot", "reset"), "Snapshot"),
    ],
}


def _header(name: str, schema: J, description: str) -> J:
    return {"name": name, "in": "header", "required": True, "schema": schema, "description": description}


UPGRADE_HEADERS: list[J] = [
    _header(name, {"type": "string", "pattern": pattern}, about) for name, pattern, about in HANDSHAKE
]
SUBSCRIBE: J = {
    "type": "object",
    "description": "The WebSocket subscribe message (sent by the client after the upgrade).",
    "required": ["subscribe"],
    "additionalProperties": False,
    "properties": {
        "subscribe": {"type": "object", "description": "Filters as in /api/v1/stream, as strings."},
        "since": {"type": "string", "pattern": SEQ_PATTERN},
        "snapshot": {"type": "boolean"},
    },
    "examples": [{"subscribe": {"mode": "bus,metro", "severity": "WARNING", "lang": "en"}, "since": "1841"}],
}


def paths() -> J:
    """The SSE and WebSocket operations."""
    last_event: J = {
        "name": "Last-Event-ID",
        "in": "header",
        "required": False,
        "description": "Resume after this `seq` (wins over `since`); empty: from now.",
        "schema": {"type": "string", "pattern": f"^({SEQ_PATTERN[1:-1]})?$"},
    }
    sse: J = {
        "description": "The event stream (see the table above).",
        "headers": RATE_HEADERS,
        "content": {"text/event-stream": {"schema": EVENT_DATA, "example": EVENT_EXAMPLE}},
    }
    upgraded: J = {"description": "Switching protocols: the socket is open.", "headers": RATE_HEADERS}
    bad_upgrade = ref("BadRequest", "responses")
    return {
        "/api/v1/stream": {
            "get": operation(
                "streamChanges",
                "push",
                "Server-Sent Events of changes",
                {"200": sse},
                errors=("BadRequest",),
                params=[*FILTER_PARAMS, *[param(p) for p in STREAM], last_event],
                description=STREAM_TEXT,
            )
        },
        "/api/v1/ws": {
            "get": operation(
                "websocketChanges",
                "push",
                "WebSocket of changes",
                {"101": upgraded},
                params=UPGRADE_HEADERS,
                description=WS_TEXT,
                extra={"400": bad_upgrade},
            )
        },
    }


def schemas() -> J:
    """The WebSocket's client message (its server messages are `Change` and `Snapshot`)."""
    return {"Subscribe": SUBSCRIBE}
