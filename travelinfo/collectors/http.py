"""The generic collector: HTTP(S) with conditional GET, `file:` URLs and replay folders."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from travelinfo import secrets
from travelinfo.collectors import parse_pool
from travelinfo.collectors.base import AuthError, ReferenceGetter, UpstreamError
from travelinfo.config import SourceConfig, redact_url
from travelinfo.http import retry_after_seconds
from travelinfo.model import Batch
from travelinfo.parsers.base import ParseContext, ParseError, get_parser


class HttpCollector:
    """Fetches `source.url` and parses it with the parser named `parser_name`."""

    def __init__(
        self,
        source: SourceConfig,
        session: aiohttp.ClientSession,
        parser_name: str,
        reference: ReferenceGetter,
    ) -> None:
        self.source = source
        self.session = session
        self.parser = get_parser(parser_name)
        self.reference = reference
        self.etag: str | None = None
        self.last_modified: str | None = None
        self._replay_index = 0
        self._file_mtime: float | None = None
        self.public_url = redact_url(source.url) if "://" in source.url else source.url

    async def collect(self, fetched_at: datetime) -> Batch | None:
        data = await self.fetch()
        if data is None:
            return None
        return await self.parse(data, fetched_at)

    async def parse(self, data: bytes, fetched_at: datetime) -> Batch:
        ctx = ParseContext(
            source=self.source.name,
            fetched_at=fetched_at,
            url=self.public_url,
            options=self.source.options,
            max_bytes=self.source.max_bytes,
            reference=self.reference(),
        )
        try:
            # In a separate process with a hard limit: a parser stuck in C holds the GIL.
            return await parse_pool.parse(self.parser, data, ctx, self.source.parse_timeout)
        except ParseError as exc:
            raise UpstreamError(f"unparsable payload: {exc}") from None

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
        self._file_mtime = stat.st_mtime
        return data

    def _next_replay(self, folder: Path) -> bytes:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise UpstreamError(f"replay folder {folder} is empty")
        path = files[self._replay_index % len(files)]
        self._replay_index += 1
        self._file_mtime = None
        data = self._read_file(path)
        assert data is not None
        return data

    async def _fetch_http(self) -> bytes | None:
        headers = dict(self.source.headers)
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        timeout = aiohttp.ClientTimeout(total=self.source.timeout)
        try:
            async with self.session.get(
                self.source.url, headers=headers, params=self.source.params or None, timeout=timeout
            ) as resp:
                if resp.status == 304:
                    return None
                if resp.status in (401, 403):
                    raise AuthError(f"HTTP {resp.status} from {self.public_url}")
                if resp.status >= 400:
                    raise UpstreamError(
                        f"HTTP {resp.status} from {self.public_url}",
                        retry_after_seconds(resp.headers.get("Retry-After")),
                    )
                data = await self._read_capped(resp)
                self.etag = resp.headers.get("ETag") or None
                self.last_modified = resp.headers.get("Last-Modified") or None
                return data
        except TimeoutError:
            raise UpstreamError(f"timed out after {self.source.timeout:g} s") from None
        except aiohttp.ClientPayloadError as exc:
            raise UpstreamError(f"truncated response from {self.public_url}: {exc}") from None
        except aiohttp.ClientError as exc:
            msg = secrets.scrub(str(exc).replace(self.source.url, self.public_url))
            raise UpstreamError(f"network error: {type(exc).__name__}: {msg}") from None

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
