"""Renderings kept in memory: the bytes, their validators and headers, the render-once cache.

`Rendered` is what a publisher renders once per change (body, gzip copy, ETag, Last-Modified
and the response headers per Cache-Control, built once); `RenderCache` keeps them per key and
change generation, least recently used dropped; `Recent` bounds what raw request forms parsed
to. `travelinfo.runtime.server.respond` serves them.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def entity_tags(if_none_match: str) -> set[str]:
    """The entity tags an If-None-Match value lists, weak ones by their opaque tag (RFC 9110 13.1.2)."""
    return {t.strip().removeprefix("W/") for t in if_none_match.split(",")}


@dataclass(frozen=True, slots=True)
class Rendered:
    """Bytes rendered once, with their validators and a gzip copy."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    gzipped: bytes | None
    headers: tuple[tuple[str, str], ...] = ()
    http_date: str = ""  # Last-Modified, formatted once rather than per request
    # Response headers per Cache-Control value, built on first use: the hot path of a cached
    # answer is then a dict lookup and one Response. (304, 200 identity, 200 gzip)
    _prepared: dict[str, tuple[dict[str, str], dict[str, str], dict[str, str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def prepared(self, cache_control: str) -> dict[str, str]:
        """Validators, caching and security headers for a 304 (add Content-Type for a 200)."""
        return self._variants(cache_control)[0]

    def _variants(self, cache_control: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        hit = self._prepared.get(cache_control)
        if hit is None:
            base = {
                "ETag": self.etag,
                "Last-Modified": self.http_date,
                "Cache-Control": cache_control,
                "Vary": "Accept-Encoding",
                **SECURITY_HEADERS,
                **dict(self.headers),
            }
            plain = {**base, "Content-Type": self.content_type}
            hit = (base, plain, {**plain, "Content-Encoding": "gzip"})
            self._prepared[cache_control] = hit
        return hit

    @classmethod
    def make(
        cls, body: bytes, content_type: str, last_modified: datetime, headers: dict[str, str] | None = None
    ) -> Rendered:
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        compressible = content_type.startswith(("text/", "application/")) and not content_type.startswith(
            "application/x-protobuf"
        )
        zipped = gzip.compress(body, 6, mtime=0) if compressible and len(body) > 512 else None
        last_modified = last_modified.replace(microsecond=0)
        return cls(
            body,
            content_type,
            etag,
            last_modified,
            zipped,
            tuple((headers or {}).items()),
            format_datetime(last_modified, usegmt=True),
        )


class RenderCache:
    """Keeps one rendering per (key, generation): rendered once per change, whatever the traffic.

    Least recently used renderings are dropped beyond `max_items` or `budget` bytes (body and
    gzip copy), so endless distinct query strings cost renders, never unbounded memory.
    """

    def __init__(self, max_items: int = 2000, budget: int = 64 * 1024 * 1024) -> None:
        self._items: OrderedDict[Hashable, tuple[int, Rendered]] = OrderedDict()
        self.max_items = max_items
        self.budget = budget
        self.size = 0  # bytes held
        self.renders = 0  # counted, so tests can prove "once per change"
        self.generation = 0

    def __len__(self) -> int:
        return len(self._items)

    def invalidate(self, *_: Any) -> None:
        self.generation += 1

    def peek(self, key: Hashable) -> Rendered | None:
        """The current rendering of `key` if there is one (no await on the hot path)."""
        hit = self._items.get(key)
        if hit is None or hit[0] != self.generation:
            return None
        self._items.move_to_end(key)
        return hit[1]

    async def get(self, key: Hashable, render: Callable[[], Awaitable[Rendered]]) -> Rendered:
        gen = self.generation
        hit = self.peek(key)
        if hit is not None:
            return hit
        rendered = await render()
        self.renders += 1
        self._keep(key, gen, rendered)
        return rendered

    def _keep(self, key: Hashable, gen: int, rendered: Rendered) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= _weight(old[1])
        self._items[key] = (gen, rendered)
        self.size += _weight(rendered)
        while len(self._items) > 1 and (len(self._items) > self.max_items or self.size > self.budget):
            _, (_, dropped) = self._items.popitem(last=False)
            self.size -= _weight(dropped)


def _weight(r: Rendered) -> int:
    return len(r.body) + (len(r.gzipped) if r.gzipped is not None else 0)


class Recent(Generic[K, V]):
    """A bounded map, least recently used dropped first: what a raw request form parsed to.

    Handlers memoise parsing per raw path, query and headers with it: clients repeat the same
    URL, but a hostile one can send endless distinct ones.
    """

    def __init__(self, max_items: int = 1000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
        return hit

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return value
