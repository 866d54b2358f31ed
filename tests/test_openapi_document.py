"""The OpenAPI document is kept true: every /api/v1 route is in it, real responses validate, and
schemathesis (an independent tool) finds no failure against a running instance with demo data."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema_rs
import pytest
from apputil import Running, running_app
from pushutil import apply_demo, hub_caught_up

from travelinfo.api.openapi import document
from travelinfo.config import Settings
from travelinfo.store import open_store_from_url

DEMO_AT = datetime(2026, 11, 25, 8, 5, tzinfo=UTC)
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Running]:
    store = open_store_from_url(f"sqlite:///{tmp_path / 's.db'}")
    s = Settings()
    s.api.rate_per_ip = 0  # schemathesis sends hundreds of requests a second
    async with running_app(store, s) as r:
        assert await apply_demo(store, DEMO_AT) > 5
        await hub_caught_up(r.app)
        yield r


def template(path: str) -> str:
    """aiohttp's `{id:.+}` is OpenAPI's `{id}`."""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


async def test_every_api_route_is_documented(demo: Running) -> None:
    doc = document()
    routes = set()
    for route in demo.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/v1") and route.method not in ("HEAD", "OPTIONS"):
            routes.add((template(path), route.method.lower()))
    assert routes, "no /api/v1 routes registered"
    missing = [r for r in sorted(routes) if r[1] not in doc["paths"].get(r[0], {})]
    assert not missing, f"routes missing from openapi.py: {missing}"
    for must in ("/api/v1/stream", "/api/v1/ws", "/api/v1/sources", "/api/v1/webhooks", "/api/v1/notices"):
        assert must in doc["paths"]


def validator(name: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document()["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


async def test_real_responses_validate(demo: Running) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(demo.url + "/api/v1/openapi.json") as resp:
            assert await resp.json() == document()
        async with s.get(demo.url + "/api/v1/disruptions?status=planned,active,ended") as resp:
            body = await resp.json()
        assert body["count"] >= 5
        validator("DisruptionList").validate(body)
        kinds = {d["source_type"] for d in body["disruptions"]}
        assert {"datex2", "gtfsrt", "navtex", "cap"} <= kinds
        one = body["disruptions"][0]["id"]
        async with s.get(demo.url + f"/api/v1/disruptions/{one}") as resp:
            validator("Disruption").validate(await resp.json())
        async with s.get(demo.url + "/api/v1/disruptions.geojson") as resp:
            validator("FeatureCollection").validate(await resp.json(content_type=None))
        async with s.get(demo.url + "/api/v1/disruptions?limit=-1") as resp:
            assert resp.status == 400
            validator("Error").validate(await resp.json())
        async with s.get(demo.url + "/api/v1/sources") as resp:
            for src in (await resp.json())["sources"]:
                validator("SourceHealth").validate(src)


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed in the venv")
async def test_schemathesis_finds_nothing(demo: Running, tmp_path: Path) -> None:
    # Streams and write endpoints are tested separately (test_push_*, the webhooks/notices/webpush suites).
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", demo.url + "/api/v1/openapi.json",
        "--checks", "all", "--max-examples", "20", "--seed", "7", "--no-color",
        "--exclude-path-regex", "^/api/v1/(stream|ws|webhooks|notices|push)",
        "--report-dir", str(tmp_path / "report"),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 100)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-4000:]
    assert re.search(r"\d+ generated, \d+ passed", text), text[-2000:]
    shutil.rmtree(tmp_path / "report", ignore_errors=True)
