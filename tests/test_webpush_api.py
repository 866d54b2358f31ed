"""The Web Push API as a confused user or a hostile client meets it: every refusal is a 400 naming
the field, nothing is stored; SSRF-unsafe endpoints are refused; DELETE needs the subscription's secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pushservice import Subscriber, push_service
from webpushutil import running, settings_for, subscribe

from travelinfo.webpush.records import SUB, VAPID_KIND

URL = "/api/v1/push/subscriptions"


def _sub(endpoint: str = "https://push.example.net/x", **keys: str) -> dict[str, Any]:
    s = Subscriber("x").subscription("https://push.example.net")
    s["endpoint"] = endpoint
    s["keys"].update(keys)
    return s


UNSAFE = [
    "http://127.0.0.2/push/x",  # loopback, not allowlisted
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://10.1.2.3/push",  # private
    "https://[::ffff:10.0.0.1]/push",  # private in IPv6 clothing
    "https://[::1]/push",
    "http://8.8.8.8/push",  # public, but push services speak https
    "ftp://push.example.net/x",
    "https://user:pw@8.8.8.8/push",
    "https://8.8.8.8/push#frag",
    "not a url",
    "",
]


@pytest.mark.parametrize("endpoint", UNSAFE)
async def test_unsafe_endpoint_is_refused_at_subscribe(endpoint: str, tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    settings.webpush.allow_hosts = ["127.0.0.1"]
    async with running(settings) as app, aiohttp.ClientSession() as http:
        async with http.post(app.url + URL, json={"subscription": _sub(endpoint)}) as r:
            body = await r.json()
            assert r.status == 400, body
            assert body["parameter"].startswith("subscription"), body
        assert await app.store.list_records(SUB) == []


BAD: list[tuple[Any, str]] = [
    ({"subscription": _sub(p256dh="AAAA")}, "subscription.keys.p256dh"),
    ({"subscription": _sub(auth="c2hvcnQ")}, "subscription.keys.auth"),
    ({"subscription": _sub(p256dh="!!!")}, "subscription.keys.p256dh"),
    ({"subscription": {"endpoint": "https://push.example.net/x"}}, "subscription.keys"),
    ({"subscription": "https://push.example.net/x"}, "subscription"),
    ({}, "subscription"),
    ({"subscription": _sub(), "colour": "red"}, "colour"),
    ({"subscription": _sub(), "lang": "de"}, "lang"),
    ({"subscription": _sub(), "min_severity": "HIGH"}, "min_severity"),
    ({"subscription": _sub(), "planned": "yes"}, "planned"),
    ({"subscription": _sub(), "ahead": "8pm"}, "ahead"),
    ({"subscription": _sub(), "ahead": "20:00", "planned": False}, "ahead"),
    ({"subscription": _sub(), "filters": {"mode": "zeppelin"}}, "filters.mode"),
    ({"subscription": _sub(), "filters": {"colour": "red"}}, "filters.colour"),
    ({"subscription": _sub(), "windows": {"from": "06:30"}}, "windows"),
    ({"subscription": _sub(), "windows": [{"from": "25:00", "to": "09:00"}]}, "windows[0].from"),
    ({"subscription": _sub(), "windows": [{"from": "6:30", "to": "09:00"}]}, "windows[0].from"),
    ({"subscription": _sub(), "windows": [{"from": "06:30", "to": "06:30"}]}, "windows[0]"),
    (
        {"subscription": _sub(), "windows": [{"days": ["funday"], "from": "06:30", "to": "09:00"}]},
        "windows[0].days",
    ),
    ({"subscription": _sub(), "windows": [{"days": [], "from": "06:30", "to": "09:00"}]}, "windows[0].days"),
    ({"subscription": _sub(), "windows": [{"from": "06:30", "to": "09:00", "tz": "UTC"}]}, "windows[0]"),
    ({"subscription": _sub(), "windows": [{"from": "06:30", "to": "09:00"}] * 15}, "windows"),
]


@pytest.mark.parametrize(("body", "parameter"), BAD, ids=[p for _, p in BAD])
async def test_bad_bodies_are_400_naming_the_field(body: Any, parameter: str, tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings) as app, aiohttp.ClientSession() as http:
        async with http.post(app.url + URL, json=body) as r:
            data = await r.json()
            assert r.status == 400 and data["parameter"] == parameter, data
            assert isinstance(data["error"], str) and data["error"]
        assert await app.store.list_records(SUB) == []


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b'"x"', b"\xff\xfe", json.dumps([{"a": 1}]).encode()])
async def test_non_objects_are_400(raw: bytes, tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings) as app, aiohttp.ClientSession() as http:
        headers = {"Content-Type": "application/json"}
        async with http.post(app.url + URL, data=raw, headers=headers) as r:
            assert r.status == 400 and "error" in await r.json()


async def test_subscribe_again_replaces_and_delete_needs_the_secret(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with push_service() as ps, running(settings) as app, aiohttp.ClientSession() as http:
        s = ps.add("me").subscription(ps.base)
        first = await subscribe(http, app.url, s, filters={"mode": "ferry"})
        again = await subscribe(http, app.url, s, status=200, filters={"road": "E18"}, min_severity="WARNING")
        assert again["id"] == first["id"] and again["secret"] == first["secret"]
        assert again["filters"] == {"road": "E18", "severity": "WARNING"}
        assert len(await app.store.list_records(SUB)) == 1
        one = f"{app.url}{URL}/{first['id']}"
        for headers, status in (
            ({}, 401),
            ({"Authorization": "Bearer wrong"}, 404),
            ({"Authorization": f"Basic {first['secret']}"}, 401),
        ):
            async with http.delete(one, headers=headers) as r:
                assert r.status == status and "error" in await r.json()
                assert first["secret"] not in await r.text()
        auth = {"Authorization": f"Bearer {first['secret']}"}
        async with http.get(one, headers=auth) as r:
            stored = await r.json()
            assert r.status == 200 and stored["endpoint"] == s["endpoint"] and "keys" not in stored
        async with http.delete(one, headers=auth) as r:
            assert r.status == 204
        async with http.delete(one, headers=auth) as r:
            assert r.status == 404
        assert await app.store.list_records(SUB) == []


async def test_vapid_key_made_once_kept_and_private_key_never_served(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings) as app, aiohttp.ClientSession() as http:
        async with http.get(app.url + "/api/v1/push/vapid-public-key") as r:
            first = await r.json()
        record = await app.store.get_record(VAPID_KIND, "current")
        assert record is not None and record["public"] == first["public_key"]
        async with http.get(app.url + "/api/v1/push/vapid-public-key") as r:
            text = await r.text()
        assert record["private"] not in text and json.loads(text)["public_key"] == first["public_key"]
    async with running(settings) as app, aiohttp.ClientSession() as http:  # a restart keeps it
        r = await http.get(app.url + "/api/v1/push/vapid-public-key")
        assert (await r.json())["public_key"] == first["public_key"]


async def test_service_worker_is_served_same_origin_with_a_csp(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, frozenset({"web"})) as app, aiohttp.ClientSession() as http:
        r = await http.get(app.url + "/sw.js")
        assert r.status == 200 and r.content_type == "text/javascript"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert "showNotification" in await r.text()
