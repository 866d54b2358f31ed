"""Trust under faults: a running service against a hostile upstream never shows a wrong picture.

The app serves on loopback from a real store (SQLite file; Redis for a few faults); the
worker's own wiring (`Worker.build()`) polls a real aiohttp upstream that sends an ETag,
honours If-None-Match and switches behaviour. Polls are driven through the runner with a
moved clock, so backoff is checked on the delays it computes rather than by waiting.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apputil import start_app
from faultutil import (
    FIXED,
    GOOD_IDS,
    INTERVAL,
    KEY,
    ROOT,
    TOKEN,
    Service,
    alerts,
    open_service,
    trip_updates,
    write_config,
)
from upstream import Upstream, gzip_bomb, serve_upstream
from yarl import URL

from travelinfo.cli import main as cli_main
from travelinfo.config import SourceConfig, load_settings
from travelinfo.ingest.collectors.base import UpstreamError
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.runtime.server import MAX_RETRY_AFTER

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def make_service(tmp_path: Path) -> Callable[..., Any]:
    """open_service(...) in this test's tmp_path."""
    return functools.partial(open_service, tmp_path)


# fault name -> (how to set it up, expected state, reason fragment, requests per poll at most)
async def _refuse(s: Service) -> None:
    await s.up.refuse()


async def _redirect_away(s: Service) -> None:
    s.up.fault = "redirect"
    s.up.redirect_to = s.other.url + "?steal=1"


def _fault(name: str) -> Callable[[Service], Any]:
    async def go(s: Service) -> None:
        s.up.fault = name

    return go


async def _gzip_bomb(s: Service) -> None:
    gzip_bomb()  # built before the first request, not while the client's timeout runs
    s.up.fault = "gzip-bomb"


def _body(body: bytes) -> Callable[[Service], Any]:
    async def go(s: Service) -> None:
        s.up.body = body

    return go


DATEX = (ROOT / "feeds" / "trafikverket" / "001-2026-11-25T0745.xml").read_bytes()
HTML = b"<!doctype html><html><body><h1>Service temporarily unavailable</h1></body></html>"
FAULTS: dict[str, tuple[Callable[[Service], Any], str, str, int]] = {
    "refused": (_refuse, "failing", "network error", 0),
    "hang": (_fault("timeout"), "failing", "timed out", 1),
    "drip": (_fault("drip"), "failing", "timed out", 1),
    "500": (_fault("500"), "failing", "HTTP 500", 1),
    "503": (_fault("503"), "failing", "HTTP 503", 1),
    "429": (_fault("429"), "failing", "HTTP 429", 1),
    "401": (_fault("401"), "failing", "authentication failed", 1),
    "truncated": (_fault("truncated"), "failing", "truncated", 1),
    "oversize": (_fault("oversize"), "failing", "exceeds the maximum", 1),
    "oversize-chunked": (_fault("oversize-chunked"), "failing", "exceeds the maximum", 1),
    "gzip-bomb": (_gzip_bomb, "failing", "exceeds the maximum", 1),
    "redirect-loop": (_fault("redirect-loop"), "failing", "too many redirects", 4),
    "redirect-away": (_redirect_away, "failing", "redirect to another host refused", 1),
    "garbage": (_body(b"\x00\xff\x13garbage, not protobuf"), "failing", "unparsable payload", 1),
    "html-200": (_body(HTML), "failing", "unparsable payload", 1),
    "wrong-format": (_body(DATEX), "failing", "unparsable payload", 1),
    "empty": (_body(alerts()), "suspect", "would end all 20 item(s)", 1),
    "drop-95": (_body(alerts(GOOD_IDS[0])), "suspect", "would end 19 of 20 items", 1),
    "wrong-kind": (_body(trip_updates(30)), "suspect", "wrong kind of feed", 1),
}
CASES = [pytest.param(f, "sqlite", id=f) for f in FAULTS] + [
    pytest.param(f, "redis", id=f"{f}-redis") for f in ("html-200", "empty", "503")
]


@pytest.mark.parametrize(("fault", "kind"), CASES)
async def test_fault_keeps_the_public_picture_and_recovers(
    make_service, fault: str, kind: str, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="travelinfo.ingest.scheduler")
    setup, state, reason, per_poll = FAULTS[fault]
    # Held snapshots are accepted after confirm_polls; 5 lets the same bad bytes come 4 times.
    async with make_service(kind, "guard = { confirm_polls = 5 }") as s:
        s.up.retry_after = "120"
        first = await s.poll()
        assert first.ok and first.items == 20 and first.changes == 20
        good = await s.public()
        assert len(good["/"]) == 20 and len(good["/gtfs-rt/alerts.pb"]) > 200
        # A conditional poll while good: 304, nothing changes.
        s.clock.tick(INTERVAL)
        assert (await s.poll()).not_modified
        before = len(s.up.requests)
        good_etag = s.up.etag

        await setup(s)
        bad_etag = s.up.etag
        sim, polls, delays = 0.0, 0, []
        horizon = 16 * INTERVAL  # a fixed cadence would poll 16 times in it
        # Held snapshots: 4 polls (the 5th would confirm); failures: the whole horizon.
        while (sim < horizon or polls < 3) and not (state == "suspect" and polls == 4):
            result = await s.poll()
            polls += 1
            assert await s.public() == good, f"{fault}: the public picture changed"
            h = await s.health()
            assert h["state"] == state, (fault, h)
            shown = h["last_error"] if state == "failing" else h["suspect_reason"]
            assert reason in (shown or ""), (fault, shown)
            assert KEY not in str(h) and TOKEN not in str(h)
            delay = s.runner.next_delay(result, 0)
            delays.append(delay)
            s.clock.tick(delay)
            sim += delay
        seen = s.up.requests[before:]
        assert len(seen) <= polls * per_poll, (fault, len(seen), polls)
        if state == "failing":
            assert polls <= 6, f"{fault}: backoff must thin out polls ({polls} in {horizon:g} s)"
            assert all(b >= a * 0.49 for a, b in itertools.pairwise(delays)), delays
            if fault in ("429", "503"):
                assert min(delays) >= 120, "Retry-After honoured"
        else:
            assert polls == 4 and all(d == INTERVAL for d in delays), "held at the fixed cadence"
        if per_poll == 1:
            assert len(seen) >= 3, f"{fault}: the same bad answer came at least 3 times"
        if bad_etag != good_etag:
            # The same bad bytes are fetched again each poll, never answered by a 304.
            assert all(r.get("If-None-Match") != bad_etag for r in seen), fault
        if fault == "redirect-loop":
            assert len(seen) == 4 * polls, "a redirect loop costs 4 requests per poll, no more"
        if fault == "redirect-away":
            assert s.other.requests == [], "nothing, least of all our key, went to the other host"
        status, page = await s.get("/")
        banner = re.search(rb'<div class="banner".*?</div>', page, re.S)
        assert banner and b"sl" in banner.group(0), "the banner names the source"
        status, page = await s.get("/status?lang=en")
        assert status == 200 and reason.split("(")[0].strip().encode() in page

        # Fixed: new bytes that parse -> state ok, new data published.
        if fault == "refused":
            await s.up.listen()
        s.up.fault = None
        s.up.body = FIXED
        result = await s.poll()
        assert result.ok and result.held is None, result
        h = await s.health()
        assert h["state"] == "ok" and h["last_error"] is None and h["suspect_reason"] is None
        after = await s.public()
        assert after["/"] == sorted(f"sl:{i}" for i in (*GOOD_IDS[:10], "new1"))
        assert after["/gtfs-rt/alerts.pb"] != good["/gtfs-rt/alerts.pb"]
        assert "Åtgärdat".encode() in after["/api/v1/disruptions"]
        # Then conditional again: the fixed bytes' ETag is remembered.
        s.clock.tick(INTERVAL)
        assert (await s.poll()).not_modified
        assert s.up.requests[-1].get("If-None-Match") == s.up.etag

    logs = [r for r in caplog.records if r.name == "travelinfo.ingest.scheduler"]
    warnings = [r for r in logs if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert state in warnings[0].getMessage()
    back = "recovered" if state == "failing" else "no longer suspect"
    assert sum(back in r.getMessage() for r in logs) == 1
    assert all(KEY not in r.getMessage() and TOKEN not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_quiet_night_empties_after_the_confirmation_window(make_service, kind: str) -> None:
    async with make_service(kind) as s:
        assert (await s.poll()).changes == 20
        s.up.body = alerts()  # the upstream really has nothing to say tonight
        for n in (1, 2):
            s.clock.tick(INTERVAL)
            result = await s.poll()
            assert result.held and (await s.health())["held_polls"] == n
            assert len((await s.public())["/"]) == 20
        s.clock.tick(INTERVAL)
        result = await s.poll()
        assert result.ok and result.held is None and result.changes == 20, "third poll: accepted"
        h = await s.health()
        assert h["state"] == "ok" and h["item_count"] == 0
        assert (await s.public())["/"] == []


async def test_a_changing_result_restarts_the_count_and_time_confirms(make_service) -> None:
    async with make_service("sqlite", 'guard = { confirm_polls = 10, confirm_after = "2m" }') as s:
        await s.poll()
        for body in (alerts(*GOOD_IDS[:2]), alerts(*GOOD_IDS[:3]), alerts(*GOOD_IDS[:3])):
            s.up.body = body
            s.clock.tick(INTERVAL)
            assert (await s.poll()).held
        assert (await s.health())["held_polls"] == 2, "a different item set restarts the count"
        s.clock.tick(121)
        result = await s.poll()
        assert result.held is None and result.changes == 17, "held for 2 minutes: accepted"
        assert len((await s.public())["/"]) == 3


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_operator_accepts_a_held_snapshot_with_the_cli(make_service, kind: str, capsys) -> None:
    async with make_service(kind) as s:
        await s.poll()
        args = ["-c", str(s.config), "sources", "accept", "sl"]
        env = {k: v for k, v in s.env.items() if k != "store"}

        def run(argv: list[str]) -> int:
            os.environ.update(env)
            try:
                return cli_main(argv)
            finally:
                for k in env:
                    os.environ.pop(k, None)

        assert await asyncio.to_thread(run, args) == 2, "nothing is held yet"
        assert "holds no snapshot" in capsys.readouterr().err
        assert await asyncio.to_thread(run, ["-c", str(s.config), "sources", "accept", "nope"]) == 2
        assert "no source named 'nope'" in capsys.readouterr().err
        s.up.body = alerts(GOOD_IDS[0])
        s.clock.tick(INTERVAL)
        assert (await s.poll()).held
        assert await asyncio.to_thread(run, args) == 0
        assert "accepted: source sl" in capsys.readouterr().out
        s.clock.tick(INTERVAL)
        result = await s.poll()
        assert result.held is None and result.changes == 19
        assert (await s.health())["state"] == "ok"
        assert await s.app.store.get_record("guard-accept", "sl") is None, "one accept, used once"
        # The accept does not carry over to the next suspicious snapshot.
        s.up.body = alerts()
        s.clock.tick(INTERVAL)
        assert (await s.poll()).held


async def test_allowed_redirect_host_gets_neither_headers_nor_params(make_service) -> None:
    async with make_service("sqlite", 'allow_redirect_hosts = ["localhost"]') as s:
        s.up.fault = "redirect"
        s.up.redirect_to = s.other.url.replace("127.0.0.1", "localhost")
        result = await s.poll()
        assert result.ok and result.items == 20, result
        assert s.up.requests[0]["X-Api-Key"] == KEY and f"token={TOKEN}" in s.up.paths[0]
        assert len(s.other.requests) == 1
        assert "X-Api-Key" not in s.other.requests[0] and TOKEN not in s.other.paths[0]


async def test_same_host_redirect_keeps_credentials_and_downgrades_are_refused(make_service) -> None:
    async with make_service("sqlite") as s:
        s.up.fault, s.up.redirect_to = "redirect", "/feed?moved=1"
        result = await s.poll()
        assert result.ok and result.items == 20
        assert s.up.paths[1].startswith("/feed?moved=1") and s.up.requests[1]["X-Api-Key"] == KEY
        collector = s.runner.collector
        assert isinstance(collector, HttpCollector)
        collector.source.url = "https://feeds.example/alerts"
        with pytest.raises(UpstreamError, match="scheme 'http' not allowed"):
            collector._redirect(URL(collector.source.url), "http://feeds.example/alerts", {}, None)
        with pytest.raises(UpstreamError, match="another host refused"):
            collector._redirect(URL(collector.source.url), "https://feeds.example.evil/x?key=S3", {}, None)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_datex2_source_refuses_other_xml_and_holds_an_empty_publication(make_service, kind) -> None:
    cap = (ROOT / "feeds" / "cap" / "001-vma-alert.xml").read_bytes()
    empty = re.sub(rb"<situation .*?</situation>", b"", DATEX, flags=re.S)
    async with make_service(kind, "guard = { confirm_polls = 4 }", "datex2", DATEX) as s:
        s.up.content_type = "application/xml"
        assert (await s.poll()).changes == 2
        good = await s.public()
        assert len(good["/"]) == 2
        for body, state, reason in (
            (cap, "failing", "not a DATEX II document"),
            (empty, "suspect", "end all 2"),
        ):
            s.up.body = body
            for _ in range(3):  # the same bytes, with their ETag, three times
                s.clock.tick(INTERVAL)
                await s.poll()
                h = await s.health()
                assert h["state"] == state and reason in (h["last_error"] or h["suspect_reason"] or ""), h
                assert await s.public() == good
                assert s.up.requests[-1].get("If-None-Match") != s.up.etag
        s.up.body = DATEX
        s.clock.tick(INTERVAL)
        assert (await s.poll()).ok and (await s.health())["state"] == "ok"
        assert (await s.public())["/"] == good["/"]


async def test_a_304_while_failing_does_not_read_recovered(make_service, caplog) -> None:
    caplog.set_level(logging.INFO, logger="travelinfo.ingest.scheduler")
    async with make_service("sqlite") as s:
        await s.poll()
        s.up.body = HTML
        s.clock.tick(INTERVAL)
        assert not (await s.poll()).ok
        s.up.fault = "always-304"  # a broken upstream answering 304 to an unconditional GET
        for _ in range(3):
            s.clock.tick(INTERVAL)
            assert not (await s.poll()).ok
            assert (await s.health())["state"] == "failing"
        assert not any("recovered" in r.getMessage() for r in caplog.records)


async def test_notes_are_logged_once_per_distinct_set(make_service, caplog) -> None:
    caplog.set_level(logging.INFO, logger="travelinfo.ingest.scheduler")
    async with make_service("sqlite") as s:
        await s.poll()
        for n in (30, 31, 32):  # counts change, the note does not
            s.up.body = trip_updates(n)
            s.clock.tick(INTERVAL)
            await s.poll()
    notes = [r for r in caplog.records if "without an alert" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO


async def test_skipped_items_are_public_on_the_sources_api(tmp_path: Path) -> None:
    body = json.dumps({"items": [{"id": "a", "header": "Olycka"}, {"id": "b"}, {"id": "c"}]}).encode()
    async with serve_upstream(Upstream(body=body)) as up:
        settings = load_settings(
            write_config(tmp_path, f"sqlite:///{tmp_path / 's.db'}", up.url),
            env={"SL_KEY": KEY, "SL_TOKEN": TOKEN},
        )
        settings.sources = [SourceConfig("tj", "testjson", up.url, interval=INTERVAL, timeout=1)]
        running = await start_app(settings, frozenset({"web"}))
        try:
            async with aiohttp.ClientSession() as http:
                collector = HttpCollector(settings.sources[0], http, "testjson", lambda: None)
                runner = SourceRunner(collector, running.store)
                assert (await runner.poll()).items == 1
                async with http.get(running.url + "/api/v1/sources") as r:
                    (tj,) = (await r.json())["sources"]
                assert tj["state"] == "ok" and tj["item_count"] == 1
                assert tj["skipped_items"] == 2 and tj["skip_reason"] == "item 'b' has no header"
        finally:
            await running.stop()


def test_guard_and_redirect_settings_are_validated_with_their_key_paths(tmp_path: Path) -> None:
    from travelinfo.config import ConfigError

    extra = 'allow_redirect_hosts = "evil"\nguard = { max_drop_share = 2, confirm_polls = 0, typo = 1 }'
    cfg = write_config(tmp_path, "sqlite:///x.db", "http://127.0.0.1:1/feed", extra)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={"SL_KEY": KEY, "SL_TOKEN": TOKEN})
    problems = err.value.problems
    assert "sources[0].allow_redirect_hosts: must be a list of host names" in problems
    assert "sources[0].guard.typo: unknown setting" in problems
    assert "sources[0].guard.max_drop_share: must be between 0 and 1" in problems
    assert "sources[0].guard.confirm_polls: must be at least 1" in problems
    ok = write_config(
        tmp_path, "sqlite:///x.db", "http://127.0.0.1:1/feed", 'guard = { confirm_after = "15m" }'
    )
    src = load_settings(ok, env={"SL_KEY": KEY, "SL_TOKEN": TOKEN}).sources[0]
    assert src.guard.confirm_after == 900 and src.guard.confirm_polls == 3 and src.allow_redirect_hosts == []


@pytest.mark.parametrize(
    "hostile", ["\u00b2", "\u0663", "1" * 400, "-5", "Fri, 31 Dec 9999 23:59:59 GMT", "soon"]
)
async def test_hostile_retry_after_is_a_plain_failure_with_a_bounded_wait(make_service, hostile: str) -> None:
    # Found by the Retry-After property test: "²" passed str.isdigit() and then float() raised.
    async with make_service("sqlite") as s:
        assert (await s.poll()).ok
        good = await s.public()
        s.up.fault, s.up.retry_after = "503", hostile
        result = await s.poll()
        assert not result.ok and "HTTP 503" in (result.error or "")
        assert result.retry_after is None or 0 <= result.retry_after <= MAX_RETRY_AFTER
        h = await s.health()
        assert h["state"] == "failing" and "HTTP 503" in h["last_error"]
        assert await s.public() == good
