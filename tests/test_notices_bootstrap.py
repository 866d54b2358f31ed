"""Bootstrap keys: created on the first start of a web process, token logged once, never again."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from storeutil import REDIS_URL, redis_cleanup
from test_notices_api import notice, test_settings

from travelinfo.api.keys import authenticate, list_keys, revoke_key
from travelinfo.notices.bootstrap import check_entries, ensure_keys
from travelinfo.store import open_store_from_url

DEMO = [{"name": "ports-of-stockholm", "org": "ports-of-stockholm", "scopes": ["notices:write"]}]
TOKEN = re.compile(r"\bti_[0-9a-f]{12}_[A-Za-z0-9_-]+")


def tokens_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [t for r in caplog.records for t in TOKEN.findall(r.getMessage())]


async def test_first_start_creates_the_key_and_logs_its_token_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "travelinfo.notices.bootstrap")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = test_settings(bootstrap_keys=DEMO)
    store = open_store_from_url(url)
    async with running_app(store, settings) as run, aiohttp.ClientSession() as http:
        [token] = tokens_in(caplog)
        [record] = [r for r in caplog.records if token in r.getMessage()]
        assert record.levelno == logging.WARNING and "shown ONCE" in record.getMessage()
        key = await authenticate(store, token)
        assert key is not None and key.org == "ports-of-stockholm" and key.scopes == ("notices:write",)
        async with http.post(
            run.url + "/api/v1/notices", json=notice(), headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 201
    caplog.clear()
    # Second start on the same store: the key exists, nothing is created or printed.
    store = open_store_from_url(url)
    async with running_app(store, test_settings(bootstrap_keys=DEMO)):
        assert tokens_in(caplog) == []
        assert [k.name for k in await list_keys(store)] == ["ports-of-stockholm"]
        # A revoked bootstrap key stays revoked: a restart does not mint a new one.
        assert await revoke_key(store, key.id)
        assert await ensure_keys(store, DEMO) == []


async def test_no_keys_without_the_web_role(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store_from_url(f"sqlite:///{tmp_path / 'store.db'}")
    async with running_app(store, test_settings(bootstrap_keys=DEMO), roles=frozenset({"deliver"})):
        assert await list_keys(store) == []
    assert tokens_in(caplog) == []


async def test_bad_entries_are_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    entries = [
        {"name": "ok", "scopes": ["read"]},
        {"name": "", "scopes": ["read"]},
        {"name": "x", "org": "o", "scopes": ["root"], "colour": 1},
        "ports",
    ]
    assert check_entries(entries) == [
        "api.bootstrap_keys[1].name: required (a non-empty string)",
        "api.bootstrap_keys[2]: unknown field(s) colour",
        "api.bootstrap_keys[2].scopes: unknown scope(s) root",
        "api.bootstrap_keys[3]: must be a table { name, org, scopes }",
    ]
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    store = open_store_from_url(REDIS_URL, prefix=prefix)
    await store.open()
    try:
        created = await ensure_keys(store, entries)
        assert [k.name for k, _ in created] == ["ok"]
        assert await ensure_keys(store, entries) == []  # idempotent, also across processes (guard)
        assert sum("bootstrap key skipped" in r.getMessage() for r in caplog.records) == 8
    finally:
        await store.close()
        await redis_cleanup(prefix)
