"""Webhook delivery against a real receiver on 127.0.0.1 (allowlisted): signatures, retries, order."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from waiting import wait_until
from webhookutil import (
    Receiver,
    auth,
    cleanup_redis,
    documented_verify,
    events,
    make_key,
    receiver,
    register,
    running,
    settings_for,
    until,
)

BOTH = frozenset({"web", "deliver"})


KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


async def _status(http: aiohttp.ClientSession, base: str, token: str, sub_id: str) -> dict[str, object]:
    async with http.get(f"{base}/api/v1/webhooks", headers=auth(token)) as resp:
        found = [w for w in (await resp.json())["webhooks"] if w["id"] == sub_id]
    return found[0]


@pytest.mark.parametrize("kind", KINDS)
async def test_signed_in_order_and_filtered(kind: str, tmp_path: Path) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    verify = documented_verify()
    async with (
        cleanup_redis(prefix),
        receiver() as rx,
        running(settings, BOTH) as app,
        aiohttp.ClientSession() as http,
    ):
        token = await make_key(app.store, ["webhooks"])
        all_ = await register(http, app.url, token, rx.url("/all"))
        metro = await register(http, app.url, token, rx.url("/metro"), filters={"mode": "metro"})
        road = await events(app.store, 3, "road")
        rail = await events(app.store, 2, "metro", modes=("metro",))
        await until(lambda: len(rx.seqs("/all")) == 5 and len(rx.seqs("/metro")) == 2, what="deliveries")
        assert rx.seqs("/all") == [c.seq for c in road + rail]
        assert rx.seqs("/metro") == [c.seq for c in rail]
        for hit in rx.hits:
            secret = all_["secret"] if hit.path == "/all" else metro["secret"]
            h = hit.headers
            stamp = h["X-Travelinfo-Timestamp"]
            assert abs(int(stamp) - time.time()) < 30
            mac = hmac.new(secret.encode(), f"{stamp}.".encode() + hit.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(h["X-Travelinfo-Signature"], f"sha256={mac}")
            assert verify(secret, h, hit.body)
            assert not verify(secret, h, hit.body + b" ")
            assert not verify(secret, h, hit.body, now=int(stamp) + 301)  # a replay, later
            body = json.loads(hit.body)
            assert body["seq"] == h["X-Travelinfo-Event-Id"] and body["type"] == h["X-Travelinfo-Event"]
            assert body["type"] == "created" and body["disruption"]["id"] == body["id"]
            assert h["Content-Type"] == "application/json"
            assert hit.host == f"127.0.0.1:{rx.port}"  # connected to the checked address, Host kept
        state = await _status(http, app.url, token, all_["id"])
        for _ in range(50):
            if state["last_delivered_seq"] == rail[-1].seq:
                break
            await asyncio.sleep(0.05)
            state = await _status(http, app.url, token, all_["id"])
        assert state["state"] == "active" and state["last_delivered_seq"] == rail[-1].seq
        assert state["dead_letters"] == 0 and state["delivered"] == 5


@pytest.mark.parametrize("kind", KINDS)
async def test_receiver_down_then_back_gets_everything_in_order(kind: str, tmp_path: Path) -> None:
    # A high threshold keeps it "retrying" (below it) instead of racing the switch to "failing".
    settings, prefix = settings_for(kind, tmp_path, failure_threshold=1000)
    down_until = time.monotonic() + 1.0

    async def flaky(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        return web.Response(status=503 if time.monotonic() < down_until else 200)

    async with (
        cleanup_redis(prefix),
        receiver(hook=flaky) as rx,
        running(settings, BOTH) as app,
        aiohttp.ClientSession() as http,
    ):
        token = await make_key(app.store, ["webhooks"])
        sub = await register(http, app.url, token, rx.url("/hook"))
        changes = await events(app.store, 5, "outage")
        await until(lambda: len(rx.hits) >= 3, what="first retries")
        state = await _status(http, app.url, token, sub["id"])
        assert state["state"] == "retrying" and "HTTP 503" in str(state["last_error"])
        await until(lambda: _delivered(rx, down_until) == [c.seq for c in changes], what="all events")
        # The first event was retried (503s), never overtaken by the later ones.
        seqs = rx.seqs("/hook")
        assert seqs[0] == seqs[1] == changes[0].seq
        assert sorted(set(seqs), key=seqs.index) == [c.seq for c in changes]


def _delivered(rx: Receiver, down_until: float) -> list[str]:
    return [h.headers["X-Travelinfo-Event-Id"] for h in rx.hits if h.at >= down_until]


async def test_receiver_stopped_then_restarted(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with receiver() as rx, running(settings, BOTH) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        sub = (await register(http, app.url, token, rx.url("/hook")))["id"]
        first = await events(app.store, 2, "before")
        await until(lambda: len(rx.hits) == 2, what="first deliveries")
        await rx.stop()  # connection refused from now on
        later = await events(app.store, 4, "during")

        async def refused() -> bool:
            state = await _status(http, app.url, token, sub)
            return state["state"] == "retrying" and "onnect" in str(state["last_error"])

        await wait_until(refused, what="a delivery refused while the receiver is down")
        await rx.start()  # same port
        await until(lambda: len(set(rx.seqs("/hook"))) == 6, what="deliveries after restart")
        assert rx.seqs("/hook") == [c.seq for c in first + later]


async def test_permanent_failure_is_dead_lettered_and_visible(tmp_path: Path) -> None:
    # max_age 2 s: room for several 0.05-0.3 s backoffs even when a loaded machine starts the
    # first attempt late (at 0.6 s, one attempt of one event was all a busy run once made).
    settings, _ = settings_for("sqlite", tmp_path, max_age=2.0)

    async def broken(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        return web.Response(status=500)

    async def gone(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        return web.Response(status=410)

    async with (
        receiver(broken=broken, gone=gone) as rx,
        running(settings, BOTH) as app,
        aiohttp.ClientSession() as http,
    ):
        token = await make_key(app.store, ["webhooks"])
        retried = await register(http, app.url, token, rx.url("/broken"))
        refused = await register(http, app.url, token, rx.url("/gone"))
        changes = await events(app.store, 2, "doomed")

        async def dead(sub_id: str) -> int:
            return int(str((await _status(http, app.url, token, sub_id))["dead_letters"]))

        deadline = time.monotonic() + 10
        while (await dead(retried["id"]), await dead(refused["id"])) != (2, 2):
            assert time.monotonic() < deadline, "dead letters did not appear"
            await asyncio.sleep(0.1)
        state = await _status(http, app.url, token, retried["id"])
        assert state["state"] == "failing" and "HTTP 500" in str(state["last_error"])
        assert len(rx.seqs("/broken")) > 2  # 5xx is retried until max_age
        assert rx.seqs("/gone") == [c.seq for c in changes]  # other 4xx: no retry
        url = f"{app.url}/api/v1/webhooks/{refused['id']}/dead-letters"
        async with http.get(url, headers=auth(token)) as resp:
            letters = (await resp.json())["dead_letters"]
        assert [d["seq"] for d in letters] == sorted(c.seq for c in changes)
        assert letters[0]["attempts"] == 1 and "HTTP 410" in letters[0]["error"]
        assert letters[0]["event"]["id"] == changes[0].id or letters[0]["event"]["id"] == changes[1].id


@pytest.mark.realtime  # the others within 1.5 s
async def test_slow_receiver_does_not_delay_others(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path, timeout=5.0)

    released = asyncio.Event()

    async def slow(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        await released.wait()  # answers only once the test has seen the fast receiver get everything
        return web.Response(status=200)

    async with receiver(slow=slow) as rx, running(settings, BOTH) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        await register(http, app.url, token, rx.url("/slow"))
        await register(http, app.url, token, rx.url("/fast"))
        started = time.monotonic()
        changes = await events(app.store, 4, "busy")
        await until(lambda: len(rx.seqs("/fast")) == 4, timeout=5, what="fast deliveries")
        assert time.monotonic() - started < 1.5
        assert rx.seqs("/fast") == [c.seq for c in changes]
        assert len(rx.seqs("/slow")) <= 1  # not past its first event while the fast one got all 4
        await until(lambda: len(rx.seqs("/slow")) >= 1, timeout=5, what="the slow receiver's first event")
        assert rx.seqs("/slow")[0] == changes[0].seq  # in order
        released.set()
        await until(lambda: len(rx.seqs("/slow")) == 4, timeout=10, what="the slow receiver's catch-up")
        assert rx.seqs("/slow") == [c.seq for c in changes]


@pytest.mark.realtime  # Retry-After waited within 0.95-2.5 s
async def test_429_retry_after_is_honoured(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)

    async def limited(_request: web.Request, r: Receiver) -> web.StreamResponse:
        if len(r.hits) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(status=200)

    async with receiver(hook=limited) as rx, running(settings, BOTH) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        await register(http, app.url, token, rx.url("/hook"))
        changes = await events(app.store, 2, "limited")
        await until(lambda: len(rx.hits) == 3, what="retry after 429")
        assert rx.seqs("/hook") == [changes[0].seq, changes[0].seq, changes[1].seq]
        waited = rx.hits[1].at - rx.hits[0].at
        assert 0.95 <= waited < 2.5, waited  # backoff alone would have waited at most 0.05 s


@pytest.mark.parametrize("kind", KINDS)
async def test_deleted_subscription_stops_cleanly(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    async with (
        cleanup_redis(prefix),
        receiver() as rx,
        running(settings, BOTH) as app,
        aiohttp.ClientSession() as http,
    ):
        token = await make_key(app.store, ["webhooks"])
        sub = await register(http, app.url, token, rx.url("/hook"))
        await events(app.store, 1, "kept")
        await until(lambda: len(rx.hits) == 1, what="first delivery")
        async with http.delete(f"{app.url}/api/v1/webhooks/{sub['id']}", headers=auth(token)) as resp:
            assert resp.status == 204
        # A witness subscribed after the delete: once it has both later events, the deleted one
        # would have had them too (same worker, same log).
        witness = await register(http, app.url, token, rx.url("/witness"))
        after = await events(app.store, 2, "after-delete")
        await until(lambda: len(rx.seqs("/witness")) == 2, what="the witness's deliveries")
        assert rx.seqs("/witness") == [c.seq for c in after]
        assert rx.seqs("/hook") and len(rx.seqs("/hook")) == 1
        assert await app.store.get_record("webhook_state", sub["id"]) is None
        redis = getattr(app.store, "redis", None)
        if redis is not None:
            groups = await redis.xinfo_groups(app.store.k("log"))  # type: ignore[attr-defined]
            assert [g["name"] for g in groups] == [f"webhook:{witness['id']}"]
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "webhook" in r.name]
