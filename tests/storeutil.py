"""Helpers to open real stores (SQLite file, Redis server) and build disruptions in tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from travelinfo.model import Affected, Batch, Disruption, Period, Provenance, compute_status, make_id
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Store

REDIS_URL = os.environ.get("TRAVELINFO_TEST_REDIS") or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_cleanup(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@asynccontextmanager
async def open_store(kind: str, tmp_path: Path, **kw: Any) -> AsyncIterator[Store]:
    """A real, empty store of `kind` (sqlite file under tmp_path, or Redis with a unique prefix)."""
    if kind == "sqlite":
        store = open_store_from_url(f"sqlite:///{tmp_path / 'store.db'}", **kw)
        prefix = ""
    else:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        store = open_store_from_url(REDIS_URL, prefix=prefix, **kw)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        if prefix:
            await redis_cleanup(prefix)


def item(
    upstream_id: str,
    at: datetime,
    *,
    source: str = "demo",
    header: str = "Olycka på E4",
    severity: str = "WARNING",
    modes: Sequence[str] = ("road",),
    periods: Sequence[Period] | None = None,
    geometry: dict[str, Any] | None = None,
    affected: Sequence[Affected] = (),
    updated_at: datetime | None = None,
    version: str | None = None,
    description: str = "",
    ended: bool = False,
) -> Disruption:
    """A valid disruption as a parser would produce it at `at`."""
    start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    periods = tuple(periods if periods is not None else (Period(start),))
    return Disruption(
        id=make_id(source, upstream_id),
        source=source,
        source_type="datex2",
        upstream_id=upstream_id,
        version=version,
        updated_at=updated_at or at,
        first_seen=at,
        last_seen=at,
        status=compute_status(periods, at, ended=ended),
        modes=tuple(modes),
        cause="ACCIDENT",
        effect="SIGNIFICANT_DELAYS",
        severity=severity,
        periods=periods,
        header={"sv": header},
        description={"sv": description} if description else {},
        geometry=geometry,
        affected=tuple(affected),
        provenance=Provenance(at, "https://example.invalid/feed"),
    )


def batch(
    items: Sequence[Disruption],
    at: datetime,
    *,
    source: str = "demo",
    complete: bool = True,
    ended: Sequence[str] = (),
) -> Batch:
    return Batch(source=source, fetched_at=at, items=tuple(items), complete=complete, ended=tuple(ended))
