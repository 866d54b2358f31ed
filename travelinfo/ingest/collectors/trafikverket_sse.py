"""A minimal Server-Sent Events reader for Trafikverket's push streams (one open response)."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

MAX_EVENT_BYTES = 16 * 1024 * 1024


class StreamClosed(Exception):
    """The stream ended or broke; the caller reconnects (with backoff) or falls back to polling."""


@dataclass(slots=True)
class Event:
    """One dispatched SSE event."""

    data: str
    id: str | None = None
    event: str = "message"


@dataclass(slots=True)
class SseReader:
    """Reads events from an open response; partial events survive a cancelled read."""

    resp: aiohttp.ClientResponse
    max_bytes: int = MAX_EVENT_BYTES
    _data: list[str] = field(default_factory=list)
    _id: str | None = None
    _event: str = ""
    _size: int = 0

    async def next_event(self) -> Event:
        """The next event with data; StreamClosed at end of stream or on a broken connection."""
        while True:
            try:
                raw = await self.resp.content.readline()
            except (aiohttp.ClientError, ConnectionError) as exc:
                raise StreamClosed(f"stream broke: {type(exc).__name__}") from None
            if not raw:
                raise StreamClosed("stream closed by the server")
            self._size += len(raw)
            if self._size > self.max_bytes:
                raise StreamClosed(f"event larger than {self.max_bytes} bytes")
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line:
                if self._data:
                    event = Event("\n".join(self._data), self._id, self._event or "message")
                    self._data, self._event, self._size = [], "", 0
                    return event
                self._event, self._size = "", 0
                continue
            if line.startswith(":"):
                continue  # a comment: the server's keep-alive
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                self._data.append(value)
            elif name == "id" and "\0" not in value:
                self._id = value
            elif name == "event":
                self._event = value

    def close(self) -> None:
        """Release the connection."""
        self.resp.close()
