"""The push paths of the OpenAPI document: `/api/v1/stream` (SSE) and `/api/v1/ws` (WebSocket).

OpenAPI 3.1 has no item schema for `text/event-stream`, so each event type is described in
the text with the component schema of its `data:` (`Change`, `Snapshot`).
"""

from __future__ import annotations

from travelinfo.api.openapi import FILTER_PARAMS, param
from travelinfo.api.openapi_parts import RATE_HEADERS, J, operation, ref
from travelinfo.api.params import SEQ_PATTERN, STREAM

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
SSE_EXAMPLE = (
    "retry: 3000\n\n"
    'id: 1841\nevent: snapshot\ndata: {"type":"snapshot","seq":"1841","disruptions":[...]}\n\n'
    'id: 1842\nevent: updated\ndata: {"seq":"1842","type":"updated","id":"trafikverket:...",...}\n\n'
    ": heartbeat\n\n"
)
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


def _header(name: str, schema: J, description: str) -> J:
    return {"name": name, "in": "header", "required": True, "schema": schema, "description": description}


UPGRADE_HEADERS: list[J] = [
    _header("Upgrade", {"type": "string", "enum": ["websocket"]}, "RFC 6455 handshake."),
    _header("Connection", {"type": "string", "enum": ["Upgrade"]}, "RFC 6455 handshake."),
    _header("Sec-WebSocket-Version", {"type": "string", "enum": ["13"]}, "RFC 6455 handshake."),
    _header(
        "Sec-WebSocket-Key",
        {"type": "string", "pattern": "^[A-Za-z0-9+/]{21}[AQgw]==$"},
        "RFC 6455 handshake: 16 random bytes in base64.",
    ),
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
        "description": "Resume after this `seq` (wins over `since`).",
        "schema": {"type": "string", "pattern": SEQ_PATTERN},
    }
    sse: J = {
        "description": "The event stream (see the table above).",
        "headers": RATE_HEADERS,
        "content": {"text/event-stream": {"schema": {"type": "string"}, "example": SSE_EXAMPLE}},
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
