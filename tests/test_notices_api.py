"""Operators' notices over HTTP: a real server on loopback against real SQLite and Redis stores."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apputil import Running, running_app
from storeutil import REDIS_URL, redis_cleanup

from travelinfo.api.keys import create_key
from travelinfo.app import SETTINGS
from travelinfo.config import Settings, SourceConfig
from travelinfo.model import format_time, parse_time
from travelinfo.notices.audit import read_audit
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Query, Store, list_health

ORG = "ports-of-stockholm"


def soon(hours: float) -> str:
    return format_time(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours))


def notice(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "upstream_id": "kaj3-2026-11",
        "header": {"sv": "Frihamnen kaj 3 stängd", "en": "Frihamnen quay 3 closed"},
        "description": {"sv": "Anlöp till kaj 3 flyttas till Värtahamnen under arbetet."},
        "location_text": {"sv": "Frihamnen, kaj 3"},
        "modes": ["ferry", "shipping"],
        "cause": "MAINTENANCE",
        "effect": "STOP_MOVED",
        "severity": "WARNING",
        "periods": [{"start": soon(-1), "end": soon(48)}],
        "geometry": {"type": "Point", "coordinates": [18.1167, 59.3419]},
        "affected": [{"type": "port", "id": "SESTO-FRI", "name": "Frihamnen"}],
        "url": "https://www.portsofstockholm.com/",
    }
    base.update(over)
    return base


@dataclass
class Env:
    store: Store
    run: Running
    http: aiohttp.ClientSession
    token: str  # notices:write for ORG
    other: str  # notices:write for another organisation

    async def call(self, method: str, path: str, token: str | None = "", **kw: Any) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", {}))
        tok = self.token if token == "" else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        async with self.http.request(method, self.run.url + path, headers=headers, **kw) as resp:
            assert resp.content_type == "application/json", (resp.status, await resp.text())
            return resp.status, await resp.json()


def make_store(kind: str, tmp_path: Path) -> tuple[Store, str]:
    """An unopened store (the app opens and closes it) and its Redis prefix ('' for SQLite)."""
    if kind == "sqlite":
        return open_store_from_url(f"sqlite:///{tmp_path / 'store.db'}"), ""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    return open_store_from_url(REDIS_URL, prefix=prefix), prefix


def test_settings(**over: Any) -> Settings:
    s = Settings()
    s.api.rate_per_ip = s.api.rate_per_key = 1000.0
    s.api.burst = 1000
    for name, value in over.items():
        setattr(s.api, name, value)
    return s


test_settings.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "redis"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    store, prefix = make_store(request.param, tmp_path)
    try:
        async with running_app(store, test_settings()) as run, aiohttp.ClientSession() as http:
            _, token = await create_key(store, "ports", ["notices:write"], ORG)
            _, other = await create_key(store, "waxholm", ["notices:write"], "waxholmsbolaget")
            yield Env(store, run, http, token, other)
    finally:
        if prefix:
            await redis_cleanup(prefix)


async def test_create_update_end(env: Env) -> None:
    store = env.store
    ident = f"{ORG}:kaj3-2026-11"
    status, body = await env.call("POST", "/api/v1/notices", json=notice())
    assert status == 201, body
    assert body["id"] == ident and body["upstream_id"] == "kaj3-2026-11" and body["org"] == ORG
    assert body["status"] == "active" and body["revision"] == 1 and body["severity"] == "WARNING"

    d = await store.get(ident)
    assert d is not None and d.source_type == "manual" and d.source == ORG
    assert d.upstream_id == "kaj3-2026-11" and d.version == "1" and d.status == "active"
    assert d.header["en"] == "Frihamnen quay 3 closed" and d.affected[0].id == "SESTO-FRI"
    items, _ = await store.query(Query(modes=("ferry",), area="Frihamnen"))
    assert [i.id for i in items] == [ident]
    page = await store.changes_since(None)
    assert [(c.type, c.id) for c in page.changes] == [("created", ident)]
    health = {h.source: h for h in await list_health(store)}
    assert health[ORG].type == "manual" and health[ORG].state == "ok" and health[ORG].item_count == 1

    # Every publisher reads the store: the public API shows it like any collected source.
    if any(r.canonical.startswith("/api/v1/disruptions/") for r in env.run.app.router.resources()):
        status, pub = await env.call("GET", f"/api/v1/disruptions/{ident}", token=None)
        assert status == 200 and pub["source_type"] == "manual" and pub["source"] == ORG
        status, listing = await env.call("GET", "/api/v1/disruptions?mode=shipping", token=None)
        assert ident in [x["id"] for x in listing["disruptions"]]
    status, sources = await env.call("GET", "/api/v1/sources", token=None)
    assert {"source": ORG, "type": "manual", "state": "ok"}.items() <= next(
        s for s in sources["sources"] if s["source"] == ORG
    ).items()

    patch = {"severity": "SEVERE", "header": {"en": "Frihamnen quay 3 closed all week"}}
    merge = {"Content-Type": "application/merge-patch+json"}
    status, body = await env.call(
        "PATCH", "/api/v1/notices/kaj3-2026-11", data=json.dumps(patch), headers=merge
    )
    assert status == 200, body
    assert body["revision"] == 2 and body["severity"] == "SEVERE"
    assert body["header"] == {"sv": "Frihamnen kaj 3 stängd", "en": "Frihamnen quay 3 closed all week"}
    d = await store.get(ident)
    assert d is not None and d.severity == "SEVERE" and d.version == "2"
    # The same patch again is no change: no event, no revision, no audit entry.
    status, again = await env.call("PATCH", f"/api/v1/notices/{ident}", json=patch)
    assert status == 200 and again["revision"] == 2

    status, listing = await env.call("GET", "/api/v1/notices")
    assert status == 200 and [n["id"] for n in listing["notices"]] == [ident]
    status, other_list = await env.call("GET", "/api/v1/notices", token=env.other)
    assert status == 200 and other_list == {"notices": []}

    status, body = await env.call("DELETE", f"/api/v1/notices/{ident}")
    assert status == 200 and body["status"] == "ended" and body["ended_at"]
    # Ending sets the end to now: the old end (hours ahead) would still read as valid.
    assert [p["end"] for p in body["periods"]] == [body["ended_at"]]
    d = await store.get(ident)
    assert d is not None and d.status == "ended"
    assert [p.end for p in d.periods] == [parse_time(body["ended_at"])]
    page = await store.changes_since(None)
    assert [c.type for c in page.changes] == ["created", "updated", "ended"]
    assert {h.source: h for h in await list_health(store)}[ORG].item_count == 0
    status, body = await env.call("PATCH", f"/api/v1/notices/{ident}", json={"severity": "INFO"})
    assert status == 409 and "has ended" in body["error"]
    status, body = await env.call("DELETE", f"/api/v1/notices/{ident}")  # idempotent
    assert status == 200 and body["status"] == "ended"

    entries = await read_audit(store)
    assert [e["action"] for e in entries] == ["create", "update", "end"]
    for e in entries:
        assert e["org"] == ORG and e["key_name"] == "ports" and e["notice"] == ident and e["key_id"]
    assert entries[0]["changes"]["header.sv"] == {"from": None, "to": "Frihamnen kaj 3 stängd"}
    assert entries[1]["changes"] == {
        "header.en": {"from": "Frihamnen quay 3 closed", "to": "Frihamnen quay 3 closed all week"},
        "severity": {"from": "WARNING", "to": "SEVERE"},
    }
    assert entries[2]["changes"]["status"] == {"from": "active", "to": "ended"}
    assert entries[2]["changes"]["periods"]["to"][0]["end"] == body["ended_at"]


async def test_generated_id_and_planned_status(env: Env) -> None:
    body = notice(periods=[{"start": soon(24), "end": None}])
    del body["upstream_id"]
    status, created = await env.call("POST", "/api/v1/notices", json=body)
    assert status == 201 and created["status"] == "planned"
    assert created["id"] == f"{ORG}:{created['upstream_id']}"
    status, dup = await env.call("POST", "/api/v1/notices", json={**body, "id": created["id"]})
    assert status == 409 and "already exists" in dup["error"]


async def test_authentication_and_ownership(env: Env) -> None:
    status, body = await env.call("POST", "/api/v1/notices", token=None, json=notice())
    assert status == 401 and "missing API key" in body["error"]
    async with env.http.get(env.run.url + "/api/v1/notices") as resp:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    status, body = await env.call("GET", "/api/v1/notices", token="ti_nope_nope")
    assert status == 401 and body["error"] == "invalid or revoked API key"
    _, reader = await create_key(env.store, "reader", ["read"], ORG)
    status, body = await env.call("POST", "/api/v1/notices", token=reader, json=notice())
    assert status == 403 and "notices:write" in body["error"]
    _, orgless = await create_key(env.store, "orgless", ["notices:write"])
    status, body = await env.call("POST", "/api/v1/notices", token=orgless, json=notice())
    assert status == 403 and "organisation" in body["error"]

    status, _ = await env.call("POST", "/api/v1/notices", json=notice())
    assert status == 201
    ident = f"{ORG}:kaj3-2026-11"
    for method, kw in (("GET", {}), ("PATCH", {"json": {"severity": "INFO"}}), ("DELETE", {})):
        status, body = await env.call(method, f"/api/v1/notices/{ident}", token=env.other, **kw)
        assert status == 403 and "another organisation" in body["error"], (method, body)
    # The other organisation's bare id is its own namespace: nothing there.
    status, body = await env.call("DELETE", "/api/v1/notices/kaj3-2026-11", token=env.other)
    assert status == 404
    d = await env.store.get(ident)
    assert d is not None and d.status == "active" and d.severity == "WARNING"
    assert [e["action"] for e in await read_audit(env.store)] == ["create"]


async def test_bad_bodies(env: Env) -> None:
    bad = notice(
        periods=[{"start": soon(2), "end": soon(1)}],
        cause="FOO",
        header={"sv": "x" * 201},
        description={"en": "y" * 5001},
        geometry={"type": "Polygon", "coordinates": [[[18, 59], [18.1, 59], [18.1, 59.1], [18, 59.1]]]},
    )
    status, body = await env.call("POST", "/api/v1/notices", json=bad)
    assert status == 400 and body["error"] == "invalid notice"
    assert body["fields"]["periods[0].end"] == "must be after start"
    assert body["fields"]["cause"].startswith("unknown value 'FOO' (one of UNKNOWN_CAUSE")
    assert body["fields"]["header.sv"] == "longer than 200 characters (201)"
    assert body["fields"]["description.en"] == "longer than 5000 characters (5001)"
    assert body["fields"]["geometry"].startswith("invalid GeoJSON: coordinates[0]: linear ring is not closed")
    assert len(body["fields"]) == 5

    status, body = await env.call("POST", "/api/v1/notices", json=notice(geometry={"type": "Point"}, x=1))
    assert status == 400 and body["fields"] == {
        "x": "unknown field",
        "geometry": "invalid GeoJSON: Point without 'coordinates'",
    }
    past = notice(periods=[{"start": soon(-5), "end": soon(-1)}])
    status, body = await env.call("POST", "/api/v1/notices", json=past)
    assert status == 400 and body["fields"] == {"periods": "every period has already ended"}
    status, body = await env.call(
        "POST", "/api/v1/notices", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"].startswith("invalid JSON")
    status, body = await env.call(
        "POST", "/api/v1/notices", data=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert status == 415 and "application/json" in body["error"]
    status, body = await env.call(
        "POST", "/api/v1/notices", data=b"[NaN]", headers={"Content-Type": "application/json"}
    )
    assert status == 400

    status, _ = await env.call("POST", "/api/v1/notices", json=notice())
    assert status == 201
    status, body = await env.call("PATCH", "/api/v1/notices/kaj3-2026-11", json={"modes": None, "cause": "X"})
    assert status == 400 and set(body["fields"]) == {"modes", "cause"}
    status, body = await env.call("PATCH", "/api/v1/notices/kaj3-2026-11", json={"id": "other"})
    assert status == 400 and body["fields"] == {"id": "cannot be changed"}
    assert [e["action"] for e in await read_audit(env.store)] == ["create"]


async def test_oversize_bodies_get_a_json_413(env: Env) -> None:
    limit = env.run.app[SETTINGS].api.max_body
    big = notice(affected=[{"type": "port", "id": "P" * 150}] * (limit // 150))
    status, body = await env.call("POST", "/api/v1/notices", json=big)
    assert status == 413 and body["error"] == f"request body larger than {limit} bytes (api.max_body)"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"modes": ["ferry"], "header": {"sv": "'
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096
        yield b'"}}'

    json_type = {"Content-Type": "application/json"}
    status, body = await env.call("POST", "/api/v1/notices", data=chunks(), headers=json_type)
    assert status == 413 and "larger than" in body["error"]
    assert await read_audit(env.store) == []


async def test_org_that_is_a_configured_source_is_refused(tmp_path: Path) -> None:
    settings = test_settings()
    settings.sources = [SourceConfig(name="trafikverket", type="datex2", url="feeds/trafikverket")]
    store, _ = make_store("sqlite", tmp_path)
    async with running_app(store, settings, roles=frozenset({"web"})) as run, aiohttp.ClientSession() as http:
        _, token = await create_key(store, "tv", ["notices:write"], "trafikverket")
        async with http.post(
            run.url + "/api/v1/notices", json=notice(), headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 403
            assert "configured source name" in (await resp.json())["error"]
