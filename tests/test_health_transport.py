"""A push-capable source says on its health record whether it streams or polls right now."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from storeutil import item, open_store

from travelinfo.config import SourceConfig
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.model import Batch
from travelinfo.store.base import list_health


class Switching:
    """A collector that reports how it got its data, like the Trafikverket push collector."""

    def __init__(self) -> None:
        self.source = SourceConfig(name="tv", type="trafikverket", url="https://example.invalid/")
        self.mode = "polling"

    async def collect(self, now: datetime) -> Batch:
        return Batch("tv", now, (item("A", now, source="tv"),), complete=False)


async def test_health_record_follows_the_collectors_transport(tmp_path: Path, now: datetime) -> None:
    async with open_store("sqlite", tmp_path) as store:
        collector = Switching()
        runner = SourceRunner(collector, store, clock=lambda: now)  # type: ignore[arg-type]
        await runner.poll()
        (h,) = await list_health(store)
        assert h.transport == "polling" and h.to_json(now)["transport"] == "polling"
        collector.mode = "streaming"
        await runner.poll()
        (h,) = await list_health(store)
        assert h.transport == "streaming"
