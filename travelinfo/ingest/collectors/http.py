"""The generic collector: HTTP(S) with conditional GET, `file:` URLs and replay folders."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from travelinfo.config import SourceConfig, redact_url
from travelinfo.ingest.collectors import parse_pool, replay
from travelinfo.ingest.collectors.base import AuthError, ReferenceGetter, UpstreamError
from travelinfo.ingest.parsers.alertc import AlertCTable, TableError
from travelinfo.ingest.parsers.base import ParseContext, ParseError, get_parser
from travelinfo.model import Batch
from travelinfo.runtime import secrets
from travelinfo.runtime.server import retry_after_seconds

MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HttpCollector:
    """Fetches `source.url` and parses it with the parser named `parser_name`."""

    def __init__(
        self,
        source: SourceConfig,
        session: aiohttp.ClientSession,
        parser_name: str | None,
        reference: ReferenceGetter,
    ) -> None:
        self.source = source
        self.session = session
        # None: a subclass loads the payload itself (GTFS static reference data).
        self.parser = get_parser(parser_name) if parser_name else None
        self.reference = reference
        self.etag: str | None = None
        self.last_modified: str | None = None
        self._replay_index = 0
        self._replay_loop = -1  # the loop of the payload last read from a replay folder
        self._rebaser: replay.Rebaser | None = None
        self._file_mtime: float | None = None
        self._pending_validators: tuple[str | None, str | None] = (None, None)
        self._pending_mtime: float | None = None
        self.public_url = redact_url(source.url) if "://" in source.url else source.url
        self._table: tuple[float, AlertCTable] | None = None  # (file mtime, table)

    async def collect(self, fetched_at: datetime) -> Batch | None:
        self._replay_loop = -1
        data = await self.fetch()
        if data is None:
            return None
        batch = await self.parse(data, fetched_at)
        if self._replay_loop >= 0 and self.source.options.get(replay.OPTION):
            # Only a replay folder's payload is ever rebased (the demo), never a real source's.
            self._rebaser = self._rebaser or replay.Rebaser(fetched_at)
            recorded = replay.recorded_at(batch)
            if recorded is not None and recorded < fetched_at:
                # Parsed as of its recording, so that the states are the story's, not the
                # calendar's (planned works recorded for a spring must not read "ended" in June).
                batch = replay.as_fetched(await self.parse(data, recorded), fetched_at)
            batch = self._rebaser.apply(batch, self._replay_loop)
        return batch

    async def parse(self, data: bytes, fetched_at: datetime) -> Batch:
        if self.parser is None:
            raise UpstreamError(f"source {self.source.name} has no parser")
        ctx = ParseContext(
            source=self.source.name,
            fetched_at=fetched_at,
            url=self.public_url,
            options=self.source.options,
            max_bytes=self.source.max_bytes,
            reference=self.reference(),
            locations=self._alertc_table(),
        )
        try:
            # In a separate process with a hard limit: a parser stuck in C holds the GIL.
            return await parse_pool.parse(self.parser, data, ctx, self.source.parse_timeout)
        except ParseError as exc:
            raise UpstreamError(f"unparsable payload: {exc}") from None

    def _alertc_table(self) -> AlertCTable | None:
        """The source's `options.alertc_table` (read again when the file changes), None when unset."""
        path = str(self.source.options.get("alertc_table") or "")
        if not path:
            return None
        try:
            mtime = Path(path).stat().st_mtime
            if self._table is None or self._table[0] != mtime:
                self._table = (mtime, AlertCTable.parse(Path(path).read_bytes()))
        except OSError as exc:
            raise UpstreamError(f"options.alertc_table: cannot read {path}: {exc.strerror}") from None
        except TableError as exc:
            raise UpstreamError(f"options.alertc_table {path}: {exc}") from None
        return self._table[1]

    async def fetch(self) -> bytes | None:
        scheme = urlsplit(self.source.url).scheme
        if scheme in ("http", "https"):
            return await self._fetch_http()
        path = Path(self.source.url.removeprefix("file://")) if scheme in ("file", "") else None
        if path is None:
            raise UpstreamError(f"unsupported URL scheme {scheme!r}")
        if path.is_dir():
            return self._next_replay(path)
        return self._read_file(path)

    def _read_file(self, path: Path) -> bytes | None:
        try:
            stat = path.stat()
            if self._file_mtime == stat.st_mtime:
                return None
            if stat.st_size > self.source.max_bytes:
                raise UpstreamError(
                    f"payload of {stat.st_size} bytes exceeds the maximum of {self.source.max_bytes}"
                )
            data = path.read_bytes()
        except OSError as exc:
            raise UpstreamError(f"cannot read {path}: {exc.strerror}") from None
        self._pending_mtime = stat.st_mtime
        return data

    def _next_replay(self, folder: Path) -> bytes:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise UpstreamError(f"replay folder {folder} is empty")
        path = files[self._replay_index % len(files)]
        self._replay_loop = self._replay_index // len(files)
        self._replay_index += 1
        self._file_mtime = None
        data = self._read_file(path)
        assert data is not None
        self._pending_mtime = None  # a replay folder serves the next file on every poll
        return data

    def commit(self) -> None:
        """The last payload parsed and was applied: remember its validators for conditional GETs."""
        self.etag, self.last_modified = self._pending_validators
        self._file_mtime = self._pending_mtime

    def forget(self) -> None:
        """The source is failing or held: fetch unconditionally until a payload is applied.

        Otherwise an upstream repeating the same bad bytes would answer 304 and read "recovered".
        """
        self.etag = self.last_modified = None
        self._file_mtime = None

    async def _fetch_http(self) -> bytes | None:
        headers = dict(self.source.headers)
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        timeout = aiohttp.ClientTimeout(total=self.source.timeout)
        url = URL(self.source.url)
        params: dict[str, str] | None = self.source.params or None
        try:
            # aiohttp would follow up to 10 redirects and re-send our headers to any host;
            # follow them here: at most MAX_REDIRECTS, to allowed hosts, secrets on ours only.
            async with asyncio.timeout(self.source.timeout):
                for hop in range(MAX_REDIRECTS + 1):
                    async with self.session.get(
                        url, headers=headers, params=params, timeout=timeout, allow_redirects=False
                    ) as resp:
                        if resp.status in REDIRECTS and "Location" in resp.headers:
                            if hop == MAX_REDIRECTS:
                                raise UpstreamError(
                                    f"too many redirects (more than {MAX_REDIRECTS}) from {self.public_url}"
                                )
                            url, headers, params = self._redirect(
                                url, resp.headers["Location"], headers, params
                            )
                            continue
                        return await self._response(resp)
        except TimeoutError:
            raise UpstreamError(f"timed out after {self.source.timeout:g} s") from None
        except aiohttp.ClientPayloadError as exc:
            raise UpstreamError(f"truncated response from {self.public_url}: {exc}") from None
        except aiohttp.ClientError as exc:
            msg = secrets.scrub(str(exc).replace(self.source.url, self.public_url))
            raise UpstreamError(f"network error: {type(exc).__name__}: {msg}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _redirect(
        self, current: URL, location: str, headers: dict[str, str], params: dict[str, str] | None
    ) -> tuple[URL, dict[str, str], dict[str, str] | None]:
        """The next hop, with the headers and params it may receive (or UpstreamError)."""
        try:
            target = current.join(URL(location))
        except ValueError:
            raise UpstreamError(f"invalid redirect from {self.public_url}") from None
        origin = URL(self.source.url)
        shown = redact_url(str(target.with_query(None)))
        if target.scheme not in ("http", "https") or (origin.scheme == "https" and target.scheme != "https"):
            raise UpstreamError(f"redirect to {shown} refused: scheme {target.scheme!r} not allowed")
        if (target.scheme, target.host, target.port) == (origin.scheme, origin.host, origin.port):
            return target, headers, params
        if (target.host or "").lower() not in self.source.allow_redirect_hosts:
            raise UpstreamError(
                f"redirect to another host refused ({shown}); list it in allow_redirect_hosts to follow"
            )
        # Another (allowed) host: none of our configured headers or params go there.
        return target, {}, None

    async def _response(self, resp: aiohttp.ClientResponse) -> bytes | None:
        if resp.status == 304:
            return None
        if resp.status in (401, 403):
            raise AuthError(f"HTTP {resp.status} from {self.public_url}")
        if resp.status >= 300:
            raise UpstreamError(
                f"HTTP {resp.status} from {self.public_url}",
                retry_after_seconds(resp.headers.get("Retry-After")),
            )
        data = await self._read_capped(resp)
        # Remembered only once the payload parsed and was applied (see commit()).
        self._pending_validators = (
            resp.headers.get("ETag") or None,
            resp.headers.get("Last-Modified") or None,
        )
        return data

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        limit = self.source.max_bytes
        length = resp.content_length
        if length is not None and length > limit:
            raise UpstreamError(f"payload of {length} bytes exceeds the maximum of {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                raise UpstreamError(f"payload exceeds the maximum of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
