"""Two OpenAPI linters nobody here wrote accept the document as served: Redocly CLI (its
`recommended` ruleset) and Spectral (`spectral:oas`, which also checks every example against
its schema) report no error on GET /api/v1/openapi.json."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from apputil import Running, running_app
from storeutil import open_store

from travelinfo.api.openapi import document

BIN = Path(__file__).resolve().parent / "node_modules" / ".bin"
REDOCLY, SPECTRAL = BIN / "redocly", BIN / "spectral"
pytestmark = pytest.mark.skipif(
    not (REDOCLY.exists() and SPECTRAL.exists()),
    reason="needs @redocly/cli and @stoplight/spectral-cli: npm install in tests/ (.ci/run does it)",
)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Path]:
    """The document as a client gets it, saved to a file."""
    async with open_store("sqlite", tmp_path) as store, running_app(store) as r:
        yield await fetch(r, tmp_path / "openapi.json")


async def fetch(r: Running, path: Path) -> Path:
    async with aiohttp.ClientSession() as s, s.get(r.url + "/api/v1/openapi.json") as resp:
        assert resp.status == 200
        body = await resp.read()
    assert json.loads(body) == document()
    await asyncio.to_thread(path.write_bytes, body)
    return path


async def run(*args: str, cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 100)
    return proc.returncode or 0, out.decode(errors="replace")


async def test_redocly_recommended_reports_no_error(served: Path) -> None:
    code, out = await run(
        str(REDOCLY), "lint", "--extends=recommended", "--format=json", str(served), cwd=served.parent
    )
    report, _ = json.JSONDecoder().raw_decode(out[out.find("{") :])  # a banner may follow
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == [], errors
    assert code == 0, out[-3000:]
    # The rules the issue found broken stay fixed (they are warnings there, checked here).
    rules = {p["ruleId"] for p in report["problems"]}
    assert not rules & {"operation-operationId", "operation-tag-defined", "security-defined"}, rules


async def test_spectral_oas_reports_no_error(served: Path) -> None:
    ruleset = served.parent / ".spectral.yaml"
    ruleset.write_text('extends: ["spectral:oas"]\n')
    code, out = await run(
        str(SPECTRAL), "lint", "-r", str(ruleset), "-f", "json", "--quiet", str(served), cwd=served.parent
    )
    start = out.find("[")
    problems = json.loads(out[start:]) if start >= 0 else []
    errors = [
        (p["code"], ".".join(map(str, p["path"])), p["message"]) for p in problems if p["severity"] == 0
    ]
    assert errors == [], errors
    assert code == 0, out[-3000:]
