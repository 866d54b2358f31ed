"""`travelinfo audit` reads the audit log the API wrote, from the same SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from test_notices_api import ORG, notice, test_settings

from travelinfo.api.keys import create_key
from travelinfo.cli import main
from travelinfo.notices.audit import format_entry
from travelinfo.store import open_store_from_url


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    path = tmp_path / "travelinfo.toml"
    path.write_text(f'[store]\nurl = "{url}"\n')
    monkeypatch.setenv("TRAVELINFO_STORE", url)  # wins over any REDIS_URL of the environment
    return path, url


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


async def test_audit_command_prints_one_line_per_change(
    config: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, url = config
    store = open_store_from_url(url)
    async with running_app(store, test_settings()) as run, aiohttp.ClientSession() as http:
        key, token = await create_key(store, "ports-ops", ["notices:write"], ORG)
        _, wax = await create_key(store, "wax-ops", ["notices:write"], "waxholmsbolaget")
        auth = {"Authorization": f"Bearer {token}"}
        async with http.post(run.url + "/api/v1/notices", json=notice(), headers=auth) as r:
            assert r.status == 201
        patch = {"severity": "SEVERE", "description": {"sv": "Gäller\nhela veckan"}}
        async with http.patch(run.url + "/api/v1/notices/kaj3-2026-11", json=patch, headers=auth) as r:
            assert r.status == 200
        async with http.delete(run.url + "/api/v1/notices/kaj3-2026-11", headers=auth) as r:
            assert r.status == 200
        other = {"Authorization": f"Bearer {wax}"}
        async with http.post(run.url + "/api/v1/notices", json=notice(upstream_id="w1"), headers=other) as r:
            assert r.status == 201

        # The CLI opens the same file while the service runs (WAL: readers never block).
        code, lines, _ = await cli(capsys, "-c", str(path), "audit")
    assert code == 0 and len(lines) == 4
    create, update, end, wax_line = lines
    assert f"  {ORG}  create  {ORG}:kaj3-2026-11  rev 1  by ports-ops (key {key.id})  " in create
    assert 'header.sv="Frihamnen kaj 3 stängd"' in create and 'severity="WARNING"' in create
    assert update.endswith(
        'description.sv: "Anlöp till kaj 3 flyttas till Värtahamnen under arbetet." -> '
        '"Gäller\\nhela veckan"; severity: "WARNING" -> "SEVERE"'
    )
    assert "  end  " in end and end.endswith('status: "active" -> "ended"')
    assert "waxholmsbolaget  create  waxholmsbolaget:w1" in wax_line

    code, lines, _ = await cli(capsys, "-c", str(path), "audit", "--org", ORG, "--limit", "2")
    assert code == 0 and lines == [update, end]
    code, lines, err = await cli(capsys, "-c", str(path), "audit", "--since", "2999-01-01T00:00:00Z")
    assert code == 0 and lines == [] and "no audit entries" in err
    code, lines, _ = await cli(capsys, "-c", str(path), "audit", "--since", "1h", "--json")
    entries = [json.loads(line) for line in lines]
    assert [e["action"] for e in entries] == ["create", "update", "end", "create"]
    assert entries[1]["changes"]["severity"] == {"from": "WARNING", "to": "SEVERE"}
    assert [format_entry(e) for e in entries] == [create, update, end, wax_line]
    code, _, err = await cli(capsys, "-c", str(path), "audit", "--since", "yesterday")
    assert code == 2 and "--since" in err
