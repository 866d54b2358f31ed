"""Trafikverket Open API v2: POSTed XML queries, incremental `changeid`, optional SSE push.

Settings (`[[sources]]` with `type = "trafikverket"`): `url` is the query endpoint
(`https://api.trafikinfo.trafikverket.se/v2/data.json`); `options.key` the API key as an
env reference; `options.objecttypes` (default `["Situation"]`), `options.county` (CountyNo),
`options.bbox` (`[min_lon, min_lat, max_lon, max_lat]`, a WGS84 `WITHIN` box),
`options.ferry_routes` (route names), `options.push` (follow the SSE stream; then a short
`interval` such as 2 s bounds the delay, and `options.poll_interval`, default 60 s, how often
it polls while the stream is down).

Every query asks `changeid=<last LASTCHANGEID>`, so after the first (full) answer each poll
carries only what changed, with deleted objects. With `push`, the first answer's `SSEURL` is
followed: events are read during `collect()` (no task outlives it), a dropped or refused
stream makes the source poll again (`mode = "polling"`) and reconnect with backoff, resuming
from the last event id; change ids already applied are skipped, so nothing is lost or doubled.
A folder or file `url` replays recorded answers through the generic collector (the demo).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

import aiohttp

from travelinfo.config import SourceConfig, parse_duration, redact_url
from travelinfo.ingest.collectors import parse_pool
from travelinfo.ingest.collectors.base import AuthError, Collector, ReferenceGetter, UpstreamError, register
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.collectors.trafikverket_sse import SseReader, StreamClosed
from travelinfo.ingest.parsers import trafikverket as tvp
from travelinfo.ingest.parsers import trafikverket_tree as tv
from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.model import Batch, Disruption
from travelinfo.runtime.backoff import delay as backoff_delay
from travelinfo.runtime.server import retry_after_seconds

SCHEMA_VERSIONS = {"Situation": "1.5", "FerryAnnouncement": "1.2", "TrainMessage": "1.7"}
COUNTY_FIELD = {"Situation": "Deviation.CountyNo", "TrainMessage": "CountyNo"}
GEOMETRY_FIELD = {"Situation": "Deviation.Geometry.Point.WGS84", "TrainMessage": "Geometry.WGS84"}
QUOTA_RETRY = 60.0  # seconds, when a quota answer gives no Retry-After
MAX_EVENTS = 1000  # pushed events merged into one batch at most
DRAIN_WAIT = 0.05  # seconds to wait for a further, already sent event
MAX_WAIT = 4.0  # seconds one collection waits for pushed events


@dataclass(slots=True)
class Query:
    """One `<QUERY>` of the request and its incremental state."""

    objecttype: str
    schemaversion: str
    change_id: str = "0"
    sse_url: str | None = None
    stream: SseReader | None = None
    retry_at: float = 0.0  # the collector's `clock` time of the next stream attempt
    failures: int = 0


def _filters(objecttype: str, options: dict[str, Any]) -> list[str]:
    out = []
    county = options.get("county")
    if county is not None and objecttype in COUNTY_FIELD:
        out.append(f"<EQ name={quoteattr(COUNTY_FIELD[objecttype])} value={quoteattr(str(int(county)))} />")
    bbox = options.get("bbox")
    if bbox and objecttype in GEOMETRY_FIELD:
        lon1, lat1, lon2, lat2 = (float(v) for v in bbox)
        box = f"{lon1:g} {lat1:g}, {lon2:g} {lat2:g}"
        out.append(
            f'<WITHIN name={quoteattr(GEOMETRY_FIELD[objecttype])} shape="box" value={quoteattr(box)} />'
        )
    routes = options.get("ferry_routes")
    if routes and objecttype == "FerryAnnouncement":
        eqs = "".join(f'<EQ name="Route.Name" value={quoteattr(str(r))} />' for r in routes)
        out.append(f"<OR>{eqs}</OR>")
    return out


def build_request(key: str, queries: list[Query], options: dict[str, Any], sse: bool) -> str:
    """The XML request body: the key in `LOGIN`, one `QUERY` per object type."""
    parts = [f"<REQUEST><LOGIN authenticationkey={quoteattr(key)} />"]
    for q in queries:
        attrs = (
            f"objecttype={quoteattr(q.objecttype)} schemaversion={quoteattr(q.schemaversion)} "
            f'includedeletedobjects="true" changeid={quoteattr(q.change_id)}'
        )
        if sse:
            attrs += ' sseurl="true"'
        filters = _filters(q.objecttype, options)
        body = f"<FILTER>{''.join(filters)}</FILTER>" if filters else ""
        parts.append(f"<QUERY {attrs}>{body}</QUERY>")
    parts.append("</REQUEST>")
    return "".join(parts)


def merge(batches: list[Batch], source: str, fetched_at: datetime) -> Batch:
    """Several deltas in order -> one delta (a later end or version wins)."""
    items: dict[str, Disruption] = {}
    ended: dict[str, None] = {}
    notes: list[str] = []
    for b in batches:
        for d in b.items:
            ended.pop(d.id, None)
            items[d.id] = d
        for i in b.ended:
            items.pop(i, None)
            ended[i] = None
        notes += b.notes
    return Batch(
        source, fetched_at, tuple(items.values()), complete=False, ended=tuple(ended), notes=tuple(notes)
    )


def _seconds(value: Any) -> float:
    """A duration option: seconds, or text such as `60s`/`2m`."""
    return parse_duration(value) if isinstance(value, str) else float(value)


class TrafikverketCollector:
    """Polls (and optionally streams) Trafikverket's Open API for one source."""

    def __init__(
        self, source: SourceConfig, session: aiohttp.ClientSession, reference: ReferenceGetter
    ) -> None:
        self.source = source
        self.session = session
        self.reference = reference
        opts = dict(source.options)
        self.key = str(opts.pop("key", "") or "")
        self.options = opts
        self.push = bool(opts.get("push", False))
        self.backoff = float(opts.get("push_backoff", 2.0))
        self.backoff_max = float(opts.get("push_backoff_max", 300.0))
        types = opts.get("objecttypes") or ["Situation"]
        self.queries = [Query(str(t), str(SCHEMA_VERSIONS.get(str(t), "1"))) for t in types]
        self.public_url = redact_url(source.url)
        self.mode = "polling"  # "streaming" while every push stream is open
        self.polls = 0
        self._last_poll: float | None = None
        self.clock: Callable[[], float] = time.monotonic  # the cadence, deadlines and backoff
        self.poll_interval = max(source.interval, _seconds(opts.get("poll_interval", 60.0)))

    # -- the Collector protocol ------------------------------------------------------------
    async def collect(self, fetched_at: datetime) -> Batch | None:
        """One poll, or (push) the events that arrived, merged into one delta."""
        if self.push:
            await self._connect_streams()
            if self.queries and all(q.stream is not None for q in self.queries):
                self.mode = "streaming"
                return await self._listen(fetched_at)
            # A push source runs on a short cadence; while its stream is down it polls no
            # more often than `poll_interval`, to stay inside the key's quota.
            last = self._last_poll
            if last is not None and self.clock() - last < self.poll_interval:
                self.mode = "polling"
                return None
        self.mode = "polling"
        return await self.poll(fetched_at)

    # -- polling ---------------------------------------------------------------------------
    async def poll(self, fetched_at: datetime) -> Batch:
        """POST the query with the last change ids; update them from the answer."""
        full = all(q.change_id == "0" for q in self.queries)
        body = build_request(self.key, self.queries, self.options, sse=self.push)
        data = await self._post(body)
        try:
            results = tv.read_answer(data, self._ctx(fetched_at))
        except tv.TrafikverketError as exc:
            raise self._error(exc, None) from None
        except ParseError as exc:
            raise UpstreamError(f"unparsable payload: {self._redact(str(exc))}") from None
        batch = await self._parse(data, fetched_at, complete=full)
        for q, result in zip(self.queries, results, strict=False):
            if result.last_change_id and tvp._int(result.last_change_id) >= tvp._int(q.change_id):
                q.change_id = result.last_change_id
            q.sse_url = result.sse_url or q.sse_url
        self.polls += 1
        self._last_poll = self.clock()
        return batch

    async def _post(self, body: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self.source.timeout)
        headers = {"Content-Type": "text/xml; charset=utf-8", **self.source.headers}
        try:
            async with self.session.post(
                self.source.url,
                data=body.encode(),
                headers=headers,
                params=self.source.params or None,
                timeout=timeout,
            ) as resp:
                data = await resp.content.read(self.source.max_bytes + 1)
                if len(data) > self.source.max_bytes:
                    raise UpstreamError(f"payload exceeds the maximum of {self.source.max_bytes} bytes")
                if resp.status >= 400:
                    raise self._http_error(resp, data)
                return data
        except TimeoutError:
            raise UpstreamError(f"timed out after {self.source.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"network error: {type(exc).__name__}: {self._redact(str(exc))}") from None

    def _http_error(self, resp: aiohttp.ClientResponse, data: bytes) -> UpstreamError:
        retry = retry_after_seconds(resp.headers.get("Retry-After"))
        try:
            tv.read_answer(data, self._ctx(datetime.now().astimezone()))
        except tv.TrafikverketError as exc:
            return self._error(exc, retry, resp.status)
        except ParseError:
            pass
        if resp.status in (401, 403):
            return AuthError(f"HTTP {resp.status} from {self.public_url}")
        if resp.status == 429:
            return UpstreamError(f"quota exceeded: HTTP 429 from {self.public_url}", retry or QUOTA_RETRY)
        return UpstreamError(f"HTTP {resp.status} from {self.public_url}", retry)

    def _error(self, exc: tv.TrafikverketError, retry: float | None, status: int = 200) -> UpstreamError:
        msg = self._redact(str(exc))
        if exc.auth or status in (401, 403):
            return AuthError(msg)
        if exc.quota or status == 429:
            return UpstreamError(msg, retry or QUOTA_RETRY)
        return UpstreamError(msg, retry)

    def _redact(self, text: str) -> str:
        return text.replace(self.key, "***") if self.key else text

    def _ctx(self, fetched_at: datetime, complete: bool = False) -> ParseContext:
        return ParseContext(
            source=self.source.name,
            fetched_at=fetched_at,
            url=self.public_url,
            options={**self.options, "complete": complete},
            max_bytes=self.source.max_bytes,
            reference=self.reference(),
        )

    async def _parse(self, data: bytes, fetched_at: datetime, complete: bool = False) -> Batch:
        try:
            ctx = self._ctx(fetched_at, complete)
            return await parse_pool.parse(tvp.parse, data, ctx, self.source.parse_timeout)
        except tv.TrafikverketError as exc:
            raise self._error(exc, None) from None
        except ParseError as exc:
            raise UpstreamError(f"unparsable payload: {self._redact(str(exc))}") from None

    # -- push ------------------------------------------------------------------------------
    async def _connect_streams(self) -> None:
        if any(q.sse_url is None for q in self.queries):
            return  # the first poll (or a poll after a drop) brings the SSE URLs
        now = self.clock()
        for q in self.queries:
            if q.stream is not None or now < q.retry_at or q.sse_url is None:
                continue
            try:
                q.stream = await self._open(q)
                q.failures = 0
            except UpstreamError:
                self._stream_failed(q)

    async def _open(self, q: Query) -> SseReader:
        assert q.sse_url is not None
        headers = {"Accept": "text/event-stream"}
        params = {}
        if q.change_id != "0":
            # Resume after what was applied: the header for EventSource servers, the parameter
            # for Trafikverket's (it documents `lasteventid`).
            headers["Last-Event-ID"] = q.change_id
            params["lasteventid"] = q.change_id
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.source.timeout, sock_connect=self.source.timeout
        )
        try:
            resp = await self.session.get(q.sse_url, headers=headers, params=params, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"stream refused: {type(exc).__name__}") from None
        if resp.status != 200 or "text/event-stream" not in resp.headers.get("Content-Type", ""):
            resp.release()
            raise UpstreamError(f"stream refused: HTTP {resp.status}")
        return SseReader(resp, self.source.max_bytes)

    def _stream_failed(self, q: Query) -> None:
        if q.stream is not None:
            q.stream.close()
        q.stream = None
        q.failures += 1
        # The one retry law, without jitter: one stream per query, reconnected on a fixed ladder.
        q.retry_at = self.clock() + backoff_delay(q.failures, self.backoff, self.backoff_max, spread=0.0)

    async def _listen(self, fetched_at: datetime) -> Batch | None:
        """Wait (bounded by the cadence) for events, then drain what is buffered; a broken or
        unreadable stream is covered at once by a poll from the last applied change id."""
        # The scheduler allows `timeout + 5` s per collection, and a broken stream is followed by
        # a poll of up to `timeout`: so at most MAX_WAIT here.
        deadline = self.clock() + max(0.05, min(self.source.interval * 0.8, MAX_WAIT))
        readers = {asyncio.ensure_future(q.stream.next_event()): q for q in self.queries if q.stream}
        batches: list[Batch] = []
        events = 0
        broken = False
        try:
            while readers and events < MAX_EVENTS:
                remaining = deadline - self.clock()
                # After the first event only what is already buffered is taken: no long wait.
                limit = min(DRAIN_WAIT, remaining) if events else remaining
                if limit <= 0:
                    break
                done, _ = await asyncio.wait(readers, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    break
                for task in done:
                    q = readers.pop(task)
                    try:
                        event = task.result()
                        batch = await self._event(q, event.data, event.id, fetched_at)
                    except (StreamClosed, UpstreamError):
                        self._stream_failed(q)
                        broken = True
                        continue
                    events += 1
                    if batch is not None:
                        batches.append(batch)
                    assert q.stream is not None
                    readers[asyncio.ensure_future(q.stream.next_event())] = q
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        if broken:
            self.mode = "polling"
            batches.append(await self.poll(fetched_at))
        if not batches:
            return None
        return merge(batches, self.source.name, fetched_at)

    async def _event(self, q: Query, data: str, event_id: str | None, fetched_at: datetime) -> Batch | None:
        raw = data.encode()
        try:
            results = tv.read_answer(raw, self._ctx(fetched_at))
        except ParseError as exc:
            raise UpstreamError(f"unparsable stream event: {self._redact(str(exc))}") from None
        change = event_id or next((r.last_change_id for r in results if r.last_change_id), None)
        if change is not None and tvp._int(change) <= tvp._int(q.change_id):
            return None  # already applied (by a poll covering a gap, or a replayed event)
        batch = await self._parse(raw, fetched_at)
        if change is not None:
            q.change_id = change
        return batch

    def close(self) -> None:
        """Close open streams (the session closes the rest at shutdown)."""
        for q in self.queries:
            if q.stream is not None:
                q.stream.close()
                q.stream = None


@register("trafikverket")
def make(source: SourceConfig, session: aiohttp.ClientSession, reference: ReferenceGetter) -> Collector:
    """The API collector for http(s) URLs; recorded answers (a file or folder) replay as files."""
    if urlsplit(source.url).scheme in ("http", "https"):
        return TrafikverketCollector(source, session, reference)
    return HttpCollector(source, session, "trafikverket", reference)
