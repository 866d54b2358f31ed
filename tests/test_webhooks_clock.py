"""Webhook delivery reads one injected clock: the signature's timestamp and `Retry-After` dates.

The engine's `clock` (wall time, default `time.time`) already set event deadlines and the
breaker's pauses; the POST itself read `time.time()` and `datetime.now()`. Now a moved clock
moves them all alike (a receiver behind a skewed clock is what this stands for).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from webhookutil import (
    Receiver,
    documented_verify,
    events,
    make_key,
    receiver,
    register,
    running,
    settings_for,
)
from webhookutil import until as wait_for

from travelinfo.webhooks import ssrf
from travelinfo.webhooks.routes import ENGINE
from travelinfo.webhooks.send import post

FIXED = 1_800_000_000.0  # 2027-01-15T08:00:00Z


async def test_post_stamps_and_reads_retry_after_with_the_clock_it_is_given(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    later = format_datetime(datetime.fromtimestamp(FIXED + 120, UTC), usegmt=True)

    async def limited(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        return web.Response(status=429, headers={"Retry-After": later})

    sub = {"id": "w1", "url": "", "secret": "s" * 32}
    allow = ssrf.parse_allow(settings.webhooks.allow_hosts)
    async with receiver(busy=limited) as rx, aiohttp.ClientSession() as http:
        out = await post(
            http, {**sub, "url": rx.url("/ok")}, b"{}", ("7", "created"), settings, allow, lambda: FIXED
        )
        assert out.ok
        (hit,) = rx.hits
        assert hit.headers["X-Travelinfo-Timestamp"] == str(int(FIXED))
        verify = documented_verify()
        assert verify(sub["secret"], hit.headers, hit.body, now=int(FIXED))  # the receiver's check
        busy = await post(http, {**sub, "url": rx.url("/busy")}, b"{}", ("8", "created"), settings, allow,
                          lambda: FIXED)  # fmt: skip
        # The HTTP date is two minutes after the clock's now, whatever the real time is.
        assert (busy.ok, busy.retry, busy.status, busy.retry_after) == (False, True, 429, 120.0)


async def test_the_engine_signs_with_its_clock(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with (
        receiver() as rx,
        running(settings, frozenset({"web", "deliver"})) as app,
        aiohttp.ClientSession() as http,
    ):
        engine = app.app[ENGINE]
        engine.clock = lambda: time.time() - 3600  # an hour behind: deadlines stay far ahead
        token = await make_key(app.store, ["webhooks"])
        await register(http, app.url, token, rx.url("/hook"))
        await events(app.store, 1, "skew")
        await wait_for(lambda: len(rx.hits) == 1, what="the delivery")
        stamp = int(rx.hits[0].headers["X-Travelinfo-Timestamp"])
        assert abs(stamp - (time.time() - 3600)) < 30, "the engine's clock, not the real one"
