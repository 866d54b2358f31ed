"""A long-lived stream's request head, held only until the stream has started.

aiohttp keeps each request's parsed head (the raw header pairs, the decoded header table and
the message holding both) for as long as its handler runs: `RequestHandler.start` holds the
message in a local, the request in `_message`/`_headers`. For a normal request that is
milliseconds; for an event stream it is hours, and with the 16 headers a browser's
EventSource sends it is about 6 KB per stream, a third of what a stream costs.

The message aiohttp's parser produced cannot be changed, and `start`'s local cannot be
reached, so a GET for one of the app's stream paths (`ConnectionLimits.stream_paths`) is
queued as a `StreamHead` instead: the same fields, but ones that can be let go. Once the
stream's response is on the wire (its filter and `Last-Event-ID` read, its headers sent)
`release` drops the headers; the request then reports none. Every other request keeps
aiohttp's own message untouched.

The connection's parser also keeps the last head's header pairs (lists it clears only when
the next request begins, about 2.4 KB), so a stream whose head ended the bytes read so far
(nothing pipelined after it) gets a fresh parser, the state a new connection starts in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from typing import Any

from aiohttp import web
from aiohttp.http_parser import HttpRequestParser, RawRequestMessage
from aiohttp.web_protocol import MAX_MSG_QUEUE_SIZE, RequestHandler, RequestPayloadError
from multidict import CIMultiDict, CIMultiDictProxy

NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
FIELDS = (
    "method", "path", "version", "headers", "raw_headers", "should_close", "compression", "upgrade",
    "chunked", "url",
)  # fmt: skip


class StreamHead:
    """A parsed request head with RawRequestMessage's fields, whose headers can be dropped."""

    __slots__ = FIELDS

    def __init__(self, message: Any) -> None:
        for name in FIELDS:
            setattr(self, name, getattr(message, name))

    def _replace(self, **changes: Any) -> RawRequestMessage:
        """What `BaseRequest.clone` calls: an ordinary message with `changes` applied."""
        fields = {name: getattr(self, name) for name in FIELDS}
        return RawRequestMessage(**{**fields, **changes})

    def release(self) -> None:
        """Forget the headers (raw and decoded)."""
        self.headers = NO_HEADERS
        self.raw_headers = ()


def adopt(messages: deque[Any], first: int, paths: Collection[str], data: bytes) -> bool:
    """Queue the GETs for `paths` among `messages[first:]` (just parsed from `data`) as
    StreamHeads; True if the parser is now between requests after one (`release` may replace it).

    A GET has no body, so when its head (ending in an empty line) is the last thing parsed
    and `data` ends with that empty line, nothing of a next request is buffered.
    """
    head = False
    if not paths:
        return head
    for i in range(first, len(messages)):
        message, payload = messages[i]
        head = getattr(message, "method", None) == "GET" and message.url.path in paths
        if head:
            messages[i] = (StreamHead(message), payload)
    return head and data.endswith(b"\r\n\r\n")


def release(request: web.BaseRequest, parser_idle: bool) -> bool:
    """Let go of the head of `request`, a stream whose response is on the wire; False if it
    was not queued as a StreamHead (a path not registered, a server without GuardedHandler).

    The request then has no headers; what was worked out from them already (the host, the
    keep-alive decision, the query) stays. `parser_idle`: no byte has been read after the
    head, so the connection's parser can be replaced by a fresh one.
    """
    head = request._message
    if not isinstance(head, StreamHead):
        return False
    request.host  # noqa: B018 - cached while the Host header is there (else aiohttp asks DNS)
    head.release()
    # Private, as aiohttp keeps them: the header table and its reified copy (in a cache dict
    # rebuilt at its size: the one the host was added to may have grown for it).
    request._headers = NO_HEADERS
    request._cache = {key: value for key, value in request._cache.items() if key != "headers"}
    protocol = request.protocol
    if parser_idle and protocol._parser is not None and not (protocol._messages or protocol._buffer_paused):
        protocol._parser = fresh_parser(protocol)
    return True


def fresh_parser(handler: RequestHandler) -> HttpRequestParser:
    """The parser `RequestHandler.__init__` gives a new connection, for `handler`."""
    kwargs = getattr(handler._manager, "_kwargs", {})
    return HttpRequestParser(
        handler,
        handler._loop,
        handler._read_bufsize,
        max_line_size=handler.max_line_size,
        max_field_size=handler.max_field_size,
        max_headers=handler.max_headers,
        payload_exception=RequestPayloadError,
        auto_decompress=kwargs.get("auto_decompress", True),
        max_msg_queue_size=MAX_MSG_QUEUE_SIZE,
    )
