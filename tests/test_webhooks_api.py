"""The webhook subscriptions API: keys and scopes, validation, ownership, SSRF refusal, secret once."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from webhookutil import auth, make_key, register, running, settings_for

WEB = frozenset({"web"})


async def test_auth_required_and_scope_checked(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        reader = await make_key(app.store, ["read"])
        hooks = f"{app.url}/api/v1/webhooks"
        async with http.get(hooks) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert "Authorization: Bearer" in (await resp.json())["error"]
        async with http.post(hooks, json={"url": "http://127.0.0.1:9/"}, headers=auth("ti_nope_x")) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"] == "invalid or revoked API key"
        async with http.get(hooks, headers=auth(reader)) as resp:
            assert resp.status == 403
            assert "'webhooks' scope" in (await resp.json())["error"]
        async with http.delete(f"{hooks}/abc", headers=auth(reader)) as resp:
            assert resp.status == 403


async def test_secret_is_shown_once_and_generated(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        made = await register(http, app.url, token, "http://127.0.0.1:9/hook", filters={"mode": "metro"})
        assert len(made["secret"]) >= 32
        assert made["state"] == "active" and made["dead_letters"] == 0
        assert made["last_delivered_seq"] is None and made["filters"] == {"mode": ["metro"]}
        chosen = "a-secret-of-my-own-choosing"
        mine = await register(http, app.url, token, "http://127.0.0.1:9/other", secret=chosen)
        assert mine["secret"] == chosen
        for path in ("/api/v1/webhooks", f"/api/v1/webhooks/{made['id']}"):
            async with http.get(f"{app.url}{path}", headers=auth(token)) as resp:
                text = await resp.text()
                assert resp.status == 200
                assert made["secret"] not in text and chosen not in text and '"secret"' not in text
        async with http.get(f"{app.url}/api/v1/webhooks", headers=auth(token)) as resp:
            listed = (await resp.json())["webhooks"]
        assert sorted(w["id"] for w in listed) == sorted([made["id"], mine["id"]])
        assert {"state", "last_error", "dead_letters", "last_delivered_seq"} <= set(listed[0])


@pytest.mark.parametrize(
    ("body", "parameter", "words"),
    [
        ({}, "url", "required"),
        ({"url": "ftp://127.0.0.1/"}, "url", "http://"),
        ({"url": "http://user:pw@127.0.0.1/"}, "url", "credentials"),
        ({"url": "http://127.0.0.1/", "filters": {"colour": "red"}}, "filters.colour", "unknown filter"),
        ({"url": "http://127.0.0.1/", "filters": {"mode": "zeppelin"}}, "filters.mode", "'zeppelin'"),
        ({"url": "http://127.0.0.1/", "filters": {"status": ["active", "x"]}}, "filters.status", "'x'"),
        ({"url": "http://127.0.0.1/", "filters": {"severity": "HUGE"}}, "filters.severity", "HUGE"),
        ({"url": "http://127.0.0.1/", "filters": {"bbox": "18,59,17"}}, "filters.bbox", "min_lon"),
        ({"url": "http://127.0.0.1/", "filters": {"bbox": [18, 59, 190, 60]}}, "filters.bbox", "-180..180"),
        ({"url": "http://127.0.0.1/", "filters": {"route": ""}}, "filters.route", "non-empty"),
        ({"url": "http://127.0.0.1/", "filters": "mode=bus"}, "filters", "object"),
        ({"url": "http://127.0.0.1/", "secret": "short"}, "secret", "16 to 256"),
        ({"url": "http://127.0.0.1/", "colour": "red"}, "colour", "unknown field"),
    ],
)
async def test_validation_names_the_parameter(
    tmp_path: Path, body: dict[str, object], parameter: str, words: str
) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        async with http.post(f"{app.url}/api/v1/webhooks", json=body, headers=auth(token)) as resp:
            data = await resp.json()
        assert resp.status == 400, data
        assert data["parameter"] == parameter
        assert words in data["error"]
        async with http.post(
            f"{app.url}/api/v1/webhooks",
            data=b"[1,",
            headers={**auth(token), "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 400
            assert "JSON object" in (await resp.json())["error"]


async def test_valid_filters_are_normalised(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        filters = {
            "mode": "metro,bus",
            "status": ["active"],
            "source": "sl-alerts",
            "severity": "WARNING",
            "bbox": "17.9,59.2,18.2,59.4",
            "route": "17",
            "stop": "Slussen",
            "road": "E4",
            "q": "signalfel",
        }
        made = await register(http, app.url, token, "http://127.0.0.1:9/", filters=filters)
        assert made["filters"] == {
            **filters,
            "mode": ["metro", "bus"],
            "source": ["sl-alerts"],
            "bbox": [17.9, 59.2, 18.2, 59.4],
        }


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://localhost:8080/", "host 'localhost' resolves to"),
        ("http://[::ffff:127.0.0.1]/", "(IPv4 127.0.0.1) is a loopback address"),
        ("https://[fd00:ec2::254]/", "cloud metadata"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://127.0.0.1:8080/", "loopback"),
    ],
)
async def test_registration_refuses_internal_targets(tmp_path: Path, url: str, words: str) -> None:
    # No allowlist here; every URL is a literal address or resolves from /etc/hosts: no connection is made.
    settings, _ = settings_for("sqlite", tmp_path, allow_hosts=[])
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        token = await make_key(app.store, ["webhooks"])
        async with http.post(f"{app.url}/api/v1/webhooks", json={"url": url}, headers=auth(token)) as resp:
            data = await resp.json()
        assert resp.status == 400, data
        assert data["parameter"] == "url"
        assert words in data["error"] and "public addresses" in data["error"]
        assert await app.store.list_records("webhook") == []


async def test_keys_only_see_and_delete_their_own(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        alice = await make_key(app.store, ["webhooks"], "alice")
        bob = await make_key(app.store, ["webhooks", "read"], "bob")
        a1 = await register(http, app.url, alice, "http://127.0.0.1:9/a1")
        a2 = await register(http, app.url, alice, "http://127.0.0.1:9/a2")
        b1 = await register(http, app.url, bob, "http://127.0.0.1:9/b1")
        hooks = f"{app.url}/api/v1/webhooks"
        async with http.get(hooks, headers=auth(bob)) as resp:
            assert [w["id"] for w in (await resp.json())["webhooks"]] == [b1["id"]]
        for method in ("GET", "DELETE"):
            async with http.request(method, f"{hooks}/{a1['id']}", headers=auth(bob)) as resp:
                assert resp.status == 404
        async with http.delete(hooks, params={"id": a1["id"]}, headers=auth(bob)) as resp:
            assert (await resp.json()) == {"deleted": []}
        async with http.delete(hooks, headers=auth(alice)) as resp:
            assert resp.status == 400  # refuses to delete everything without naming what
        async with http.delete(f"{hooks}/{a1['id']}", headers=auth(alice)) as resp:
            assert resp.status == 204
        async with http.delete(hooks, params={"url": "http://127.0.0.1:9/a2"}, headers=auth(alice)) as resp:
            assert (await resp.json()) == {"deleted": [a2["id"]]}
        async with http.get(f"{hooks}/{a1['id']}", headers=auth(alice)) as resp:
            assert resp.status == 404
        assert [r["id"] for r in await app.store.list_records("webhook")] == [b1["id"]]
