"""Push: Server-Sent Events (`/api/v1/stream`) and WebSocket (`/api/v1/ws`) of store changes.

Both resume by `seq` and take the list API's filters; fan-out goes through app[HUB]. At
shutdown every stream is told to stop and every socket is closed with GOING_AWAY, so the
process exits promptly with thousands of clients connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict

from travelinfo.api import params as api_params
from travelinfo.api.params import FILTERS, SEQ_PATTERN, STREAM
from travelinfo.push import handshake
from travelinfo.push.stream import PUSH, Event, PushState, opened, run_stream, wait_all
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime import limits, streamhead
from travelinfo.runtime.jsonbody import BadJson, decode_json
from travelinfo.runtime.server import SECURITY_HEADERS, BadParameter, json_error

MAX_WS_MESSAGE = 16 * 1024


def _seq(name: str, value: str) -> str:
    if not re.fullmatch(SEQ_PATTERN[1:-1], value):
        raise BadParameter(name, "must be a seq (an event id) such as 42 or 1700000000000-0")
    return value


class SseResponse(web.StreamResponse):
    """An event stream's response: its header table, and the request's, dropped once it is on the wire.

    The headers are serialised and sent with the first write; nothing reads them after
    that, and each of 10,000 streams would otherwise hold its own table (about 1.7 KB), and
    the request's head (a browser's 16 headers, about 6 KB: runtime/streamhead.py).
    """

    async def open(self, request: web.Request, first: bytes) -> None:
        """Send the headers and `first`, then forget the response's and the request's headers."""
        await self.prepare(request)
        await self.write(first)
        self._headers = CIMultiDict()
        protocol = request.protocol
        streamhead.release(request, isinstance(protocol, limits.GuardedHandler) and protocol.parser_idle)

    # The stream's Sink itself (no object per stream to forward to it).
    async def send(self, event: Event) -> None:
        """Write one event's shared SSE frame."""
        await self.write(event.wire)

    async def heartbeat(self) -> None:
        """Write a heartbeat comment."""
        await self.write(b": heartbeat\n\n")


SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx must not buffer a stream
    "Access-Control-Allow-Origin": "*",
    **SECURITY_HEADERS,
}


def _stream_params(request: web.Request) -> tuple[api_params.Request, str | None, bool]:
    raw = {k: request.query.getall(k) for k in request.query}
    req = api_params.parse(raw, allowed=FILTERS + STREAM, home=request.app[appmod.SETTINGS].region_bbox)
    since = request.headers.get("Last-Event-ID") or None
    query_since = api_params._one(raw, "since")
    if query_since is not None:  # checked also when the header wins: a bad parameter is a 400
        query_since = _seq("since", query_since)
    since = _seq("Last-Event-ID", since.strip()) if since is not None else query_since
    snapshot = api_params._one(raw, "snapshot")
    if snapshot not in (None, "0", "1"):
        raise BadParameter("snapshot", "must be 0 or 1")
    return req, since, snapshot == "1"


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/stream: SSE; `Last-Event-ID` (or `?since=`) resumes, `?snapshot=1` starts whole."""
    # One coroutine frame for the stream's whole life and nothing held but what it needs:
    # with 10,000 streams per process every frame and dict counts.
    req, since, snapshot = _stream_params(request)
    app = request.app
    caps = app[limits.LIMITS]
    try:
        with caps.stream(request):
            resp = SseResponse(headers=SSE_HEADERS)
            push = app[appmod.SETTINGS].push
            start = await opened(app)
            await resp.open(request, f"retry: {push.retry_ms}\n\n".encode())
            try:
                if push.max_duration:
                    # A bounded life spreads long-lived clients over restarted or added web
                    # processes; EventSource reconnects by itself and resumes with Last-Event-ID.
                    async with asyncio.timeout(push.max_duration):
                        await run_stream(app, req, since, snapshot, resp, start)
                else:  # no Timeout object held by each stream
                    await run_stream(app, req, since, snapshot, resp, start)
            except (ConnectionError, TimeoutError):
                pass  # the client went away, or the stream's life ended
            return resp
    except limits.TooMany as exc:
        return caps.too_many_response(exc)


class WsSink:
    """Sends events as JSON text messages."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def send(self, event: Event) -> None:
        await self.ws.send_str(event.data)

    async def heartbeat(self) -> None:
        pass  # aiohttp pings the socket itself (WebSocketResponse heartbeat)


def _subscription(
    data: Any, home: tuple[float, float, float, float] | None
) -> tuple[api_params.Request, str | None, bool]:
    """Validate a client message `{"subscribe": {filters}, "since": seq, "snapshot": bool}`."""
    if not isinstance(data, dict) or not isinstance(data.get("subscribe"), dict):
        raise BadParameter("subscribe", 'expected {"subscribe": {...filters}, "since": "<seq>"}')
    extra = set(data) - {"subscribe", "since", "snapshot"}
    if extra:
        raise BadParameter(sorted(extra)[0], "unknown field")
    req = api_params.parse(data["subscribe"], allowed=FILTERS, home=home)
    since = data.get("since")
    if since is not None:
        if isinstance(since, bool) or not isinstance(since, str | int):
            raise BadParameter("since", "must be a seq string")
        since = _seq("since", str(since))
    snapshot = data.get("snapshot", False)
    if not isinstance(snapshot, bool):
        raise BadParameter("snapshot", "must be true or false")
    return req, since, snapshot


async def _close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    # A close reason is limited to 123 bytes by RFC 6455.
    await ws.close(code=code, message=reason.encode()[:123])


def error_reason(message: str) -> str:
    """A close reason `{"error": message}` that stays valid JSON within RFC 6455's 123 bytes."""
    while True:
        text = json.dumps({"error": message}, ensure_ascii=False)
        if len(text.encode()) <= 123:
            return text
        message = message[: len(message) - max(1, len(text.encode()) - 123)]


async def _fail(ws: web.WebSocketResponse, code: int, message: str) -> None:
    await _close(ws, code, error_reason(message))


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/ws: subscribe with filters, receive change events as JSON."""
    caps = request.app[limits.LIMITS]
    try:
        with caps.stream(request):
            return await _ws(request)
    except limits.TooMany as exc:
        return caps.too_many_response(exc)


async def _ws(request: web.Request) -> web.StreamResponse:
    app = request.app
    ws = web.WebSocketResponse(heartbeat=app[appmod.SETTINGS].push.heartbeat, max_msg_size=MAX_WS_MESSAGE)
    why = handshake.problem(request.headers)
    if why is not None or not ws.can_prepare(request).ok:
        raise json_error(400, why or "a WebSocket endpoint: send the RFC 6455 upgrade headers")
    await ws.prepare(request)
    app[PUSH].sockets.add(ws)
    task: asyncio.Task[None] | None = None
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await _fail(ws, WSCloseCode.UNSUPPORTED_DATA, "binary messages are not supported")
                break
            if msg.type != WSMsgType.TEXT:
                break
            try:
                data = decode_json(msg.data)
            except BadJson as exc:
                await _fail(ws, WSCloseCode.INVALID_TEXT, f"messages must be JSON: {exc}")
                break
            try:
                req, since, snapshot = _subscription(data, request.app[appmod.SETTINGS].region_bbox)
            except BadParameter as exc:
                await _fail(ws, WSCloseCode.POLICY_VIOLATION, str(exc))
                break
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            start = await opened(app)
            task = asyncio.create_task(_ws_stream(app, ws, req, since, snapshot, start))
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        app[PUSH].sockets.discard(ws)
    return ws


async def _ws_stream(
    app: web.Application,
    ws: web.WebSocketResponse,
    req: api_params.Request,
    since: str | None,
    snap: bool,
    start: str | None,
) -> None:
    with contextlib.suppress(ConnectionError):
        await run_stream(app, req, since, snap, WsSink(ws), start)


async def _on_shutdown(app: web.Application) -> None:
    app[PUSH].stop()
    sockets = list(app[PUSH].sockets)
    await wait_all([_close(ws, WSCloseCode.GOING_AWAY, "server shutdown") for ws in sockets])


def setup(app: web.Application) -> None:
    """Register the push routes (web role only)."""
    if "web" not in app[appmod.ROLES]:
        return
    app[PUSH] = PushState()
    # A stream's request head is let go once the stream runs (runtime/streamhead.py).
    limits.install(app).stream_paths.add("/api/v1/stream")
    app.router.add_get("/api/v1/stream", stream)
    app.router.add_get("/api/v1/ws", websocket)
    app.on_shutdown.append(_on_shutdown)
