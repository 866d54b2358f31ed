"""The Trafikverket collector against a local server implementing the query endpoint and its SSE push."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from apputil import serve_loopback

from tests.storeutil import open_store
from travelinfo.config import SourceConfig
from travelinfo.ingest.collectors.base import AuthError, UpstreamError, make_collector
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.collectors.trafikverket import TrafikverketCollector
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.model import Batch, Disruption
from travelinfo.store.base import Store
from travelinfo.store.query import Query

KEY = "s3cr3t-trafikverket-key-0123456789"
BASE_ID = 7438126400000000000


@dataclass
class Change:
    cid: int
    obj: dict[str, Any]


@dataclass
class FakeTrafikverket:
    """Situations with a change log; answers queries by changeid and streams changes over SSE."""

    changes: list[Change] = field(default_factory=list)
    queries: list[ET.Element] = field(default_factory=list)
    stream_resumes: list[int] = field(default_factory=list)
    refuse_stream: bool = False
    drop_after: int | None = None  # abort the stream connection after this many events
    answer_status: int = 200
    garbage: bool = False  # send the next change as an unreadable event
    answer_body: bytes | None = None
    cond: asyncio.Condition = field(default_factory=asyncio.Condition)
    url: str = ""

    async def change(self, n: int, version: int, deleted: bool = False) -> None:
        obj: dict[str, Any] = {
            "Id": f"SE_STA_TRISSID_{n}",
            "Deleted": deleted,
            "VersionTime": f"2026-11-25T08:{version:02d}:00.000+01:00",
        }
        if not deleted:
            obj["Deviation"] = [
                {
                    "Id": f"SE_STA_TRISSID_1_{n}",
                    "Message": f"Vägarbete {n} version {version}",
                    "MessageType": "Vägarbete",
                    "StartTime": "2026-11-25T07:00:00.000+01:00",
                    "RoadNumber": "E4",
                    "Geometry": {"Point": {"WGS84": "POINT (18.0 59.3)"}},
                }
            ]
        self.changes.append(Change(BASE_ID + len(self.changes) + 1, obj))
        async with self.cond:
            self.cond.notify_all()

    def last(self) -> int:
        return self.changes[-1].cid if self.changes else BASE_ID

    def answer(self, since: int, sse: bool) -> dict[str, Any]:
        latest: dict[str, dict[str, Any]] = {}
        for c in self.changes:
            if c.cid > since:
                latest[c.obj["Id"]] = c.obj
        objs = [o for o in latest.values() if since or not o["Deleted"]]
        info: dict[str, Any] = {"LASTCHANGEID": str(self.last())}
        if sse:
            info["SSEURL"] = f"{self.url}/v2/Notifications/stream?token=abc"
        return {"RESPONSE": {"RESULT": [{"Situation": objs, "INFO": info}]}}

    async def query(self, request: web.Request) -> web.Response:
        root = ET.fromstring(await request.read())
        self.queries.append(root)
        if self.answer_body is not None:
            return web.Response(
                status=self.answer_status, body=self.answer_body, content_type="application/json"
            )
        q = root.find("QUERY")
        assert q is not None
        since = int(q.get("changeid", "0"))
        return web.json_response(self.answer(since if since else 0, q.get("sseurl") == "true"))

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_stream:
            return web.Response(status=503, text="push disabled")
        last = int(request.query.get("lasteventid") or request.headers.get("Last-Event-ID") or 0)
        self.stream_resumes.append(last)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(b": welcome\n\n")
        sent = 0
        while True:
            for c in [c for c in self.changes if c.cid > max(last, BASE_ID)]:
                body = {
                    "RESPONSE": {"RESULT": [{"Situation": [c.obj], "INFO": {"LASTCHANGEID": str(c.cid)}}]}
                }
                data = json.dumps(body)
                if self.garbage:
                    self.garbage, data = False, data[: len(data) // 2]
                await resp.write(f"id: {c.cid}\nevent: message\ndata: {data}\n\n".encode())
                last, sent = c.cid, sent + 1
                if self.drop_after is not None and sent >= self.drop_after:
                    self.drop_after = None
                    assert request.transport is not None
                    request.transport.abort()  # a dropped connection, not a clean end
                    return resp
            if self.refuse_stream:
                return resp  # the server closes its stream (then refuses reconnections)
            async with self.cond:
                await self.cond.wait()


@pytest.fixture
async def upstream() -> AsyncIterator[FakeTrafikverket]:
    fake = FakeTrafikverket()
    app = web.Application()
    app.router.add_post("/v2/data.json", fake.query)
    app.router.add_get("/v2/Notifications/stream", fake.stream)
    runner, port = await serve_loopback(app)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        async with fake.cond:
            fake.refuse_stream = True
            fake.cond.notify_all()
        await runner.cleanup()


def source(fake: FakeTrafikverket, **options: Any) -> SourceConfig:
    opts = {"key": KEY, "objecttypes": ["Situation"], **options}
    return SourceConfig(
        name="tv",
        type="trafikverket",
        url=f"{fake.url}/v2/data.json",
        interval=0.3,
        timeout=2.0,
        options=opts,
    )


async def current(store: Store) -> list[Disruption]:
    items, _ = await store.query(Query())
    return items


def now() -> datetime:
    return datetime.now(UTC)


async def collect_until(
    c: TrafikverketCollector, done: Callable[[list[Batch]], bool], limit: float = 8.0
) -> list[Batch]:
    batches: list[Batch] = []
    deadline = time.monotonic() + limit
    while not done(batches):
        assert time.monotonic() < deadline, f"condition not met; got {batches!r}"
        b = await c.collect(now())
        if b is not None:
            batches.append(b)
    return batches


def seen(batches: list[Batch]) -> list[str]:
    """What the batches applied, in order: `Id vN` for items, `-Id` for ends."""
    out = []
    for b in batches:
        out += [f"{d.upstream_id} {d.description['sv'].rsplit(' ', 1)[-1]}" for d in b.items]
        out += [f"-{e.removeprefix('tv:')}" for e in b.ended]
    return out


def expected(fake: FakeTrafikverket, after: int) -> list[str]:
    return [
        f"-{c.obj['Id']}"
        if c.obj["Deleted"]
        else f"{c.obj['Id']} {c.obj['Deviation'][0]['Message'].rsplit(' ', 1)[-1]}"
        for c in fake.changes
        if c.cid > after
    ]


async def test_polls_incrementally_with_the_posted_query(
    upstream: FakeTrafikverket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await upstream.change(1, 1)
    await upstream.change(2, 1)
    async with aiohttp.ClientSession() as session, open_store("sqlite", tmp_path) as store:
        src = source(upstream, county=1, bbox=[17.5, 59.0, 19.0, 59.9])
        c = make_collector(src, session)
        assert isinstance(c, TrafikverketCollector) and c.mode == "polling"
        runner = SourceRunner(c, store, jitter=0)
        assert (await runner.poll()).ok
        q = upstream.queries[-1]
        assert q.find("LOGIN").get("authenticationkey") == KEY  # type: ignore[union-attr]
        query = q.find("QUERY")
        assert (
            query is not None
            and query.get("objecttype") == "Situation"
            and query.get("schemaversion") == "1.5"
        )
        assert query.get("changeid") == "0" and query.get("includedeletedobjects") == "true"
        assert query.get("sseurl") is None  # no push asked
        eq, within = list(query.find("FILTER"))  # type: ignore[arg-type]
        assert (eq.tag, eq.get("name"), eq.get("value")) == ("EQ", "Deviation.CountyNo", "1")
        assert (within.tag, within.get("shape"), within.get("value")) == ("WITHIN", "box", "17.5 59, 19 59.9")
        first_last = upstream.last()
        assert {d.id for d in await current(store)} == {"tv:SE_STA_TRISSID_1", "tv:SE_STA_TRISSID_2"}

        await upstream.change(1, 2)
        await upstream.change(2, 2, deleted=True)
        await upstream.change(3, 1)
        result = await runner.poll()
        assert result.ok and result.items == 2
        assert upstream.queries[-1].find("QUERY").get("changeid") == str(first_last)  # type: ignore[union-attr]
        live = {d.id: d for d in await current(store)}
        assert set(live) == {"tv:SE_STA_TRISSID_1", "tv:SE_STA_TRISSID_3"}
        assert live["tv:SE_STA_TRISSID_1"].description["sv"].endswith("version 2")
        assert (await store.get("tv:SE_STA_TRISSID_2")).status == "ended"  # type: ignore[union-attr]

        # A delta (nothing changed) ends nothing: unlike the first, full answer.
        assert (await runner.poll()).ok
        assert upstream.queries[-1].find("QUERY").get("changeid") == str(upstream.last())  # type: ignore[union-attr]
        assert {d.id for d in await current(store)} == set(live)
    assert KEY not in caplog.text


async def test_error_answers_map_to_auth_and_quota(
    upstream: FakeTrafikverket, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiohttp.ClientSession() as session:
        c = TrafikverketCollector(source(upstream), session, lambda: None)
        upstream.answer_status = 401
        upstream.answer_body = (
            b'{"RESPONSE":{"RESULT":[{"ERROR":{"SOURCE":"Security","MESSAGE":"Invalid authentication"}}]}}'
        )
        with pytest.raises(AuthError) as auth:
            await c.collect(now())
        assert "Invalid authentication" in str(auth.value) and KEY not in str(auth.value)
        upstream.answer_status = 200  # some deployments answer errors with 200
        with pytest.raises(AuthError):
            await c.collect(now())
        upstream.answer_status = 429
        upstream.answer_body = (
            b'{"RESPONSE":{"RESULT":[{"ERROR":{"SOURCE":"Quota","MESSAGE":"Quota exceeded"}}]}}'
        )
        with pytest.raises(UpstreamError) as quota:
            await c.collect(now())
        assert not isinstance(quota.value, AuthError) and quota.value.retry_after == 60
        upstream.answer_body = b"<html>Bad gateway</html>"
        upstream.answer_status = 502
        with pytest.raises(UpstreamError, match="HTTP 502"):
            await c.collect(now())
        upstream.answer_status, upstream.answer_body = 200, b'{"RESPONSE":{"RESULT":['
        with pytest.raises(UpstreamError, match="unparsable"):
            await c.collect(now())
        # A key echoed back by the upstream is never repeated.
        upstream.answer_body = json.dumps(
            {"RESPONSE": {"RESULT": [{"ERROR": {"SOURCE": "Security", "MESSAGE": f"bad key {KEY}"}}]}}
        ).encode()
        with pytest.raises(AuthError) as echoed:
            await c.collect(now())
        assert KEY not in str(echoed.value) and "***" in str(echoed.value)
    assert KEY not in caplog.text


async def test_push_stream_drop_resume_and_fallback(
    upstream: FakeTrafikverket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await upstream.change(1, 1)
    async with aiohttp.ClientSession() as session:
        c = TrafikverketCollector(
            source(upstream, push=True, push_backoff=0.05, poll_interval=0), session, lambda: None
        )
        first = await c.collect(now())
        assert first is not None and first.complete and c.mode == "polling" and c.polls == 1
        assert upstream.queries[-1].find("QUERY").get("sseurl") == "true"  # type: ignore[union-attr]
        start = upstream.last()

        # Streaming: changes arrive as events, without polls.
        await upstream.change(1, 2)
        await upstream.change(2, 1)
        got = await collect_until(c, lambda bs: len(seen(bs)) >= 2)
        assert c.mode == "streaming" and c.polls == 1
        assert upstream.stream_resumes == [start]  # connected from the first answer's change id
        assert all(not b.complete for b in got)

        # A dropped connection: the next change is lost on the wire, the poll covers the gap.
        upstream.drop_after = 1
        await upstream.change(2, 2)
        await upstream.change(3, 1)
        got += await collect_until(c, lambda bs: len(seen(got + bs)) >= 4)
        assert c.polls == 2 and c.mode == "polling"  # one poll from the last applied event id
        got += await collect_until(c, lambda bs: c.mode == "streaming")

        # Reconnected (after backoff) from where it stopped; more events stream in.
        await upstream.change(1, 3, deleted=True)
        got += await collect_until(c, lambda bs: len(seen(got + bs)) >= 5)
        assert len(upstream.stream_resumes) == 2 and upstream.stream_resumes[1] > start
        assert c.mode == "streaming"
        # Nothing lost, nothing applied twice, in upstream order.
        assert seen(got) == expected(upstream, start)

        # The stream is refused from now on: the source polls and keeps up.
        async with upstream.cond:
            upstream.refuse_stream = True
            upstream.cond.notify_all()
        polls = c.polls
        await upstream.change(4, 1)
        got += await collect_until(c, lambda bs: len(seen(got + bs)) >= 6)
        deadline = time.monotonic() + 5
        while c.polls <= polls + 1:  # polls go on (every `interval` here: poll_interval 0)
            assert time.monotonic() < deadline
            await c.collect(now())
            await asyncio.sleep(0.05)
        assert c.mode == "polling"
        assert seen(got) == expected(upstream, start)
        c.close()
    assert KEY not in caplog.text


async def test_a_replay_folder_uses_the_file_collector(tmp_path: Path) -> None:
    folder = tmp_path / "tv"
    folder.mkdir()
    (folder / "001.json").write_text(
        '{"RESPONSE":{"RESULT":[{"Situation":[{"Id":"S","Deviation":[{"Message":"x"}]}]}]}}'
    )
    async with aiohttp.ClientSession() as session:
        c = make_collector(SourceConfig(name="tv", type="trafikverket", url=str(folder)), session)
        assert isinstance(c, HttpCollector)
        batch = await c.collect(now())
        assert batch is not None and [d.upstream_id for d in batch.items] == ["S"]


def test_the_key_is_an_env_reference_in_options(tmp_path: Path) -> None:
    from travelinfo.config import ConfigError, load_settings

    cfg = tmp_path / "t.toml"
    base = '[[sources]]\nname = "tv"\ntype = "trafikverket"\nurl = "https://api.trafikinfo.trafikverket.se/v2/data.json"\n'
    cfg.write_text(base + 'options = { key = { env = "TV_KEY" }, push = true }\n')
    src = load_settings(cfg, env={"TV_KEY": KEY}).sources[0]
    assert src.options["key"] == KEY and src.interval == 60 and KEY not in repr(src)
    with pytest.raises(ConfigError, match="TV_KEY is not set"):
        load_settings(cfg, env={})
    cfg.write_text(base + f'options = {{ key = "{KEY}" }}\n')
    with pytest.raises(ConfigError, match="secrets must be an env reference") as err:
        load_settings(cfg, env={})
    assert KEY not in str(err.value)


async def test_push_drains_bursts_and_limits_polls_while_refused(upstream: FakeTrafikverket) -> None:
    await upstream.change(1, 1)
    async with aiohttp.ClientSession() as session:
        c = TrafikverketCollector(source(upstream, push=True, poll_interval="1h"), session, lambda: None)
        # The collector's clock moves only when the test moves it. On the real clock a collection
        # stops at its cadence deadline (0.24 s here), which a loaded machine reaches part-way
        # through the 40 parses of a burst; stopped, what ends a collection is what is tested:
        # no further event already buffered.
        clock = [1000.0]
        c.clock = lambda: clock[0]
        assert (await c.collect(now())) is not None and c.polls == 1
        start = upstream.last()
        for n in range(40):
            await upstream.change(100 + n, 1)
        got = await collect_until(c, lambda bs: len(seen(bs)) >= 40)
        assert len(got) <= 3 and c.mode == "streaming" and c.polls == 1  # a burst, not 40 collects
        assert seen(got) == expected(upstream, start)
        # The server closes the stream and refuses it: one poll covers the gap, then no poll
        # before `poll_interval` however often the (short) cadence collects.
        async with upstream.cond:
            upstream.refuse_stream = True
            upstream.cond.notify_all()
        await upstream.change(200, 1)
        got += await collect_until(c, lambda bs: len(seen(got + bs)) >= 41)
        posted = len(upstream.queries)
        for _ in range(5):
            clock[0] += 60.0  # a minute apart: each time the stream is tried again, and refused
            assert await c.collect(now()) is None
        assert len(upstream.queries) == posted and c.mode == "polling"
        assert seen(got) == expected(upstream, start)
        clock[0] += 3600.0  # `poll_interval` after the gap's poll: one poll, then none again
        assert await c.collect(now()) is not None and len(upstream.queries) == posted + 1
        assert await c.collect(now()) is None and len(upstream.queries) == posted + 1


async def test_an_unreadable_event_is_covered_by_a_poll(upstream: FakeTrafikverket) -> None:
    await upstream.change(1, 1)
    async with aiohttp.ClientSession() as session:
        c = TrafikverketCollector(source(upstream, push=True, push_backoff=0.05), session, lambda: None)
        await c.collect(now())
        start = upstream.last()
        await upstream.change(2, 1)
        got = await collect_until(c, lambda bs: len(seen(bs)) >= 1)
        assert c.mode == "streaming"
        upstream.garbage = True
        await upstream.change(3, 1)  # its event arrives truncated: the poll brings it
        got += await collect_until(c, lambda bs: len(seen(got + bs)) >= 2)
        assert c.polls == 2
        got += await collect_until(c, lambda bs: c.mode == "streaming")
        await upstream.change(2, 2)
        got += await collect_until(c, lambda bs: len(seen(got + bs)) >= 3)
        assert seen(got) == expected(upstream, start)
