"""GTFS static reference data as a source of the one scheduler.

The zip (or folder) in `reference.gtfs_static` is polled like any source: fetched with
`If-None-Match`/`If-Modified-Since` (a file by its modification time), capped at
`reference.max_bytes`, given a health record (`gtfs-static` on `/api/v1/sources` and
`/status`), backed off while it fails. A new version is loaded off the event loop and only
replaces the names parsers see once it loaded whole; a broken one keeps the last good data.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import aiohttp

from travelinfo.config import Settings, SourceConfig
from travelinfo.filters import lines
from travelinfo.impacts import view as impacts
from travelinfo.impacts.index import ReferenceIndex, build_index
from travelinfo.ingest.collectors.base import UpstreamError
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.gtfs_static import GtfsStatic, load_gtfs, mode_for_route_type
from travelinfo.model import Batch
from travelinfo.settings import REFERENCE_SOURCE, GuardConfig

log = logging.getLogger("travelinfo.ingest.reference")


class ReferenceData:
    """The GTFS static data parsers name lines and stops from (None until first loaded)."""

    def __init__(self) -> None:
        self.current: GtfsStatic | None = None

    def get(self) -> GtfsStatic | None:
        return self.current


def reference_source(settings: Settings) -> SourceConfig | None:
    """The scheduler's source for `reference.gtfs_static` (None when none is configured)."""
    ref = settings.reference
    if not ref.gtfs_static:
        return None
    url = ref.gtfs_static
    if "://" not in url and not Path(url).is_absolute():
        url = str(settings.root() / url)
    return SourceConfig(
        name=REFERENCE_SOURCE,
        type=REFERENCE_SOURCE,
        url=url,
        interval=ref.refresh,
        timeout=ref.timeout,
        stale_after=ref.refresh * 2 + ref.timeout,
        max_bytes=ref.max_bytes,
        parse_timeout=ref.timeout,  # loading a country's feed takes a while
        guard=GuardConfig(enabled=False),  # no disruptions: nothing to end
    )


def _folder_mark(folder: Path) -> tuple[tuple[str, float, int], ...]:
    """Name, mtime and size of each .txt file: a folder changed when this did."""
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file())
    return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in files)


class GtfsStaticCollector(HttpCollector):
    """Fetches the GTFS static zip like any payload; "parsing" loads it into `data`."""

    def __init__(self, source: SourceConfig, session: aiohttp.ClientSession, data: ReferenceData) -> None:
        super().__init__(source, session, None, lambda: None)
        self.data = data
        self.item_count: int | None = None  # routes + stops of the loaded feed (health record)
        self._loaded: GtfsStatic | None = None
        self._geometry: ReferenceIndex | None = None  # the loaded feed's patterns, indexed
        self._folder_mark: tuple[tuple[str, float, int], ...] | None = None
        self._pending_mark: tuple[tuple[str, float, int], ...] | None = None

    async def collect(self, fetched_at: datetime) -> Batch | None:
        folder = self._folder()
        if folder is not None:
            loaded = await self._load_folder(folder)
        else:
            payload = await self.fetch()
            if payload is None:
                return None
            loaded = await self._load_bytes(payload)
        if loaded is None:
            return None
        self._loaded = loaded
        note = f"{len(loaded.routes)} routes, {len(loaded.stops)} stops, {len(loaded.agencies)} agencies"
        return Batch(source=self.source.name, fetched_at=fetched_at, items=(), complete=False, notes=(note,))

    def commit(self) -> None:
        """Loaded whole: parsers see the new names from now on."""
        super().commit()
        self._folder_mark = self._pending_mark
        if self._loaded is not None:
            self.data.current, self._loaded = self._loaded, None
            self.item_count = len(self.data.current.routes) + len(self.data.current.stops)
            # The outputs' line filter (`route=14`, "röda linjen") resolves names through it.
            lines.install(self.data.current.routes, mode_for_route_type)
            impacts.install(self._geometry)  # the impacts' reference geometry, from the same load
            log.info("GTFS static reference data loaded from %s", self.public_url)

    def forget(self) -> None:
        super().forget()
        self._folder_mark = None

    def _folder(self) -> Path | None:
        url = self.source.url
        if "://" in url and not url.startswith("file://"):
            return None
        path = Path(url.removeprefix("file://"))
        return path if path.is_dir() else None

    async def _load_folder(self, folder: Path) -> GtfsStatic | None:
        try:
            mark = await asyncio.to_thread(_folder_mark, folder)
        except OSError as exc:
            raise UpstreamError(f"cannot read {folder}: {exc.strerror}") from None
        if mark == self._folder_mark:
            return None
        size = sum(m[2] for m in mark)
        if size > self.source.max_bytes:
            raise UpstreamError(f"GTFS folder of {size} bytes exceeds the maximum of {self.source.max_bytes}")
        self._pending_mark = mark
        return await self._load(folder)

    async def _load_bytes(self, payload: bytes) -> GtfsStatic:
        fd, name = tempfile.mkstemp(suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            return await self._load(Path(name))
        finally:
            os.unlink(name)

    async def _load(self, path: Path) -> GtfsStatic:
        try:
            gtfs = await asyncio.to_thread(load_gtfs, path)
            self._geometry = await asyncio.to_thread(build_index, gtfs, mode_for_route_type)
            return gtfs
        except (
            ValueError,
            KeyError,
            OSError,
            csv.Error,
            zipfile.BadZipFile,
        ) as exc:  # GtfsTooLarge: a ValueError
            raise UpstreamError(f"unusable GTFS static feed: {exc}") from None
