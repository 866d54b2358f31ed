"""The collector seam: fetch bytes for one source and hand them to its parser.

Collectors raise only `UpstreamError` or `AuthError`; the scheduler alone logs, retries,
backs off and keeps health records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import aiohttp

from travelinfo.config import SourceConfig
from travelinfo.model import Batch


class UpstreamError(Exception):
    """The upstream failed (network, HTTP error, bad payload); `retry_after` in seconds if told."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(UpstreamError):
    """The upstream refused our credentials (401/403)."""


class Collector(Protocol):
    """Fetch one source; `None` means not modified (HTTP 304 or unchanged file).

    Optional hooks the scheduler calls when present: `commit()` once the payload parsed and
    was applied (only then remember ETag/Last-Modified), `forget()` while the source is
    failing or held (fetch unconditionally, so the same bad bytes are seen again).
    """

    source: SourceConfig

    async def collect(self, fetched_at: datetime) -> Batch | None: ...


ReferenceGetter = Callable[[], Any]
CollectorFactory = Callable[[SourceConfig, aiohttp.ClientSession, ReferenceGetter], Collector]

COLLECTORS: dict[str, CollectorFactory] = {}


def register(source_type: str) -> Callable[[CollectorFactory], CollectorFactory]:
    """Register a collector factory for a source type (built-ins use it like an extension)."""

    def deco(factory: CollectorFactory) -> CollectorFactory:
        COLLECTORS[source_type] = factory
        return factory

    return deco


def make_collector(
    source: SourceConfig, session: aiohttp.ClientSession, reference: ReferenceGetter | None = None
) -> Collector:
    """The registered collector for `source.type`, else the generic HTTP/file collector."""
    import importlib

    from travelinfo.ingest.collectors.http import HttpCollector

    module = source.type.replace("-", "_")
    try:
        importlib.import_module(f"travelinfo.ingest.collectors.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"travelinfo.ingest.collectors.{module}":
            raise
    factory = COLLECTORS.get(source.type)
    getter = reference or (lambda: None)
    if factory is not None:
        return factory(source, session, getter)
    return HttpCollector(source, session, source.type, getter)
