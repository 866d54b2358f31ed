"""Reading and decoding client JSON (request bodies, WebSocket messages) without surprises.

Every failure — bad UTF-8, malformed JSON, NaN/Infinity, nesting deep enough to exhaust the
recursion limit — is a `BadJson` with a short message, which callers turn into a 400 JSON
error or a WebSocket close 1007; nothing reaches the client as a traceback.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from travelinfo.runtime.server import json_error
from travelinfo.vocab import nesting

MAX_DEPTH = 32  # deeper than any body or message the API accepts; later code never recurses deeper


class BadJson(ValueError):
    """Client JSON that cannot be used; the message says why (no payload echoed)."""


def _reject_constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON")


def decode_json(raw: bytes | str) -> Any:
    """Strict JSON (UTF-8, no NaN/Infinity, at most MAX_DEPTH levels) or BadJson."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BadJson(f"not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels") from None
    except BadJson:
        raise
    except ValueError as exc:
        raise BadJson(str(exc)[:200]) from None
    if nesting(data, MAX_DEPTH) > MAX_DEPTH:
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels")
    return data


async def read_body(request: web.Request) -> bytes:
    """The request body within `limits.body_timeout` (408) and `api.max_body` (413)."""
    from travelinfo.runtime import appkeys as appmod

    settings = request.app[appmod.SETTINGS]
    limit = settings.api.max_body
    if request.content_length is not None and request.content_length > limit:
        raise json_error(413, f"request body larger than {limit} bytes (api.max_body)")
    try:
        async with asyncio.timeout(settings.limits.body_timeout or None):
            return await request.read()  # aiohttp stops at client_max_size (= api.max_body)
    except web.HTTPRequestEntityTooLarge:
        raise json_error(413, f"request body larger than {limit} bytes (api.max_body)") from None
    except TimeoutError:
        raise json_error(
            408, f"request body not received within {settings.limits.body_timeout:g} s"
        ) from None


async def read_json(request: web.Request, what: str = "invalid JSON") -> Any:
    """The decoded JSON body, or a 400 `{"error": "<what>: <why>"}`."""
    raw = await read_body(request)
    try:
        return decode_json(raw)
    except BadJson as exc:
        raise json_error(400, f"{what}: {exc}") from None
