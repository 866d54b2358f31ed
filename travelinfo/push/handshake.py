"""The WebSocket handshake headers `/api/v1/ws` requires, checked as the OpenAPI document states them.

aiohttp's own check is looser (any base64 that decodes to 16 bytes, versions 7 and 8); a
request this table refuses is a 400 naming the header, so the document and the server agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# (header, pattern of its value (ECMA-262 and Python alike), what it is)
HANDSHAKE: tuple[tuple[str, str, str], ...] = (
    ("Upgrade", "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$", "`websocket` (RFC 6455)."),
    ("Connection", "^(.*[ ,])?[Uu][Pp][Gg][Rr][Aa][Dd][Ee]([ ,].*)?$", "Names `Upgrade` (RFC 6455)."),
    ("Sec-WebSocket-Version", "^13$", "`13` (RFC 6455)."),
    ("Sec-WebSocket-Key", "^[A-Za-z0-9+/]{21}[AQgw]==$", "16 random bytes in base64 (RFC 6455)."),
)


def problem(headers: Mapping[str, str]) -> str | None:
    """What is wrong with the handshake headers, or None."""
    for name, pattern, about in HANDSHAKE:
        value = headers.get(name)
        if value is None or not re.fullmatch(pattern[1:-1], value):
            return f"a WebSocket endpoint: header {name} must be {about[:-1]}"
    return None
