"""POST /api/v1/webhooks/{id}/ping: a signed test event, sent now, answered with the receiver's reply."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema_rs
import pytest
from aiohttp import web
from webhookutil import (
    Receiver,
    auth,
    documented_verify,
    make_key,
    receiver,
    register,
    running,
    settings_for,
    until,
)

from travelinfo.api.openapi import document

WEB = frozenset({"web"})  # no delivery engine: the ping goes from the web process itself


def validator(name: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document()["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


async def _ping(http: aiohttp.ClientSession, base: str, token: str, sub_id: str) -> tuple[int, Any]:
    async with http.post(f"{base}/api/v1/webhooks/{sub_id}/ping", headers=auth(token)) as resp:
        return resp.status, await resp.json()


@pytest.mark.realtime  # a 0.5 s timeout answered within 2 s
async def test_ping_is_signed_and_reports_the_answer(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path, timeout=0.5)
    verify = documented_verify()

    async def broken(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        return web.Response(status=503, headers={"Retry-After": "30"})

    released = asyncio.Event()

    async def hang(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        await released.wait()  # never answers while the ping waits: only its timeout ends it
        return web.Response(status=200)

    async with (
        receiver(broken=broken, hang=hang) as rx,
        running(settings, WEB) as app,
        aiohttp.ClientSession() as http,
    ):
        token = await make_key(app.store, ["webhooks"])
        ok = await register(http, app.url, token, rx.url("/ok"))
        status, body = await _ping(http, app.url, token, ok["id"])
        assert status == 200, body
        validator("WebhookPing").validate(body)
        assert body["ok"] is True and body["status"] == 204 and body["error"] is None
        assert body["id"] == ok["id"] and body["url"] == ok["url"] and ok["secret"] not in json.dumps(body)
        [hit] = rx.hits
        assert hit.headers["X-Travelinfo-Event"] == "ping"
        assert hit.headers["X-Travelinfo-Event-Id"] == body["event_id"]
        assert hit.headers["X-Travelinfo-Webhook-Id"] == ok["id"]
        assert verify(ok["secret"], hit.headers, hit.body)  # signed like every event
        sent = json.loads(hit.body)
        assert sent["type"] == "ping" and sent["webhook"] == ok["id"] and sent["seq"] == body["event_id"]

        bad = await register(http, app.url, token, rx.url("/broken"))
        status, body = await _ping(http, app.url, token, bad["id"])
        assert status == 200 and body["ok"] is False and body["status"] == 503
        assert body["error"] == "HTTP 503"

        slow = await register(http, app.url, token, rx.url("/hang"))
        started = time.monotonic()
        status, body = await _ping(http, app.url, token, slow["id"])
        assert status == 200 and body["ok"] is False and body["status"] is None
        assert body["error"] == "timed out after 0.5 s" and time.monotonic() - started < 2
        released.set()

        await rx.stop()  # nobody listening
        status, body = await _ping(http, app.url, token, ok["id"])
        assert status == 200 and body["ok"] is False and body["status"] is None
        assert "Cannot connect" in body["error"] or "Connect" in body["error"]

        # A ping changes nothing in the delivery state.
        async with http.get(f"{app.url}/api/v1/webhooks/{ok['id']}", headers=auth(token)) as resp:
            view = await resp.json()
        validator("Webhook").validate(view)
        assert view["state"] == "active" and view["delivered"] == 0 and view["last_error"] is None


async def test_ping_rechecks_the_address_and_is_one_at_a_time(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path, timeout=2.0)
    release = asyncio.Event()

    async def held(_request: web.Request, _r: Receiver) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=200)

    async with receiver(held=held) as rx, running(settings, WEB) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        sub = await register(http, app.url, token, rx.url("/held"))
        first = asyncio.create_task(_ping(http, app.url, token, sub["id"]))
        await until(lambda: len(rx.hits) == 1, what="the first ping to arrive")
        async with http.post(f"{app.url}/api/v1/webhooks/{sub['id']}/ping", headers=auth(token)) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "1"
            assert "in progress" in (await resp.json())["error"]
        release.set()
        status, body = await first
        assert status == 200 and body["ok"] is True and len(rx.hits) == 1

        settings.webhooks.allow_hosts = []  # the operator withdrew the exception for loopback
        status, body = await _ping(http, app.url, token, sub["id"])
        assert status == 200 and body["ok"] is False and body["status"] is None
        assert body["error"].startswith("refused: ") and "127.0.0.1" in body["error"]
        assert len(rx.hits) == 1  # checked before connecting: nothing was sent


async def test_ping_needs_the_key_and_the_scope_and_ownership(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with receiver() as rx, running(settings, WEB) as app, aiohttp.ClientSession() as http:
        owner = await make_key(app.store, ["webhooks"], "owner")
        other = await make_key(app.store, ["webhooks"], "other")
        reader = await make_key(app.store, ["read"], "reader")
        sub = await register(http, app.url, owner, rx.url("/hook"))
        url = f"{app.url}/api/v1/webhooks/{sub['id']}/ping"
        async with http.post(url) as resp:
            assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.post(url, headers=auth("ti_nope_x")) as resp:
            assert resp.status == 401
        async with http.post(url, headers=auth(reader)) as resp:
            assert resp.status == 403 and "'webhooks' scope" in (await resp.json())["error"]
        for token, sub_id in ((other, sub["id"]), (owner, "0123456789abcdef")):
            async with http.post(f"{app.url}/api/v1/webhooks/{sub_id}/ping", headers=auth(token)) as resp:
                assert resp.status == 404 and (await resp.json())["error"] == f"no webhook {sub_id}"
        async with http.get(url, headers=auth(owner)) as resp:
            assert resp.status == 405
        assert rx.hits == []  # none of these reached the receiver
