"""Typed notice records: one organisation's by prefix, the old audit log moved, bad ones skipped."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from storeutil import open_store

from travelinfo.api.keys import ApiKey
from travelinfo.notices import drafts, records
from travelinfo.notices.audit import read_audit, record_audit
from travelinfo.store import records as store_records

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    store_records._logged.clear()  # bad records are logged once per process; once per backend here
    async with open_store(request.param, tmp_path) as s:
        yield s


def notice(org: str, nid: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{org}:{nid}",
        "org": org,
        "notice_id": nid,
        "revision": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "ended_at": None,
        "created_by": "k1",
        "fields": {"title": {"sv": nid}},
        **extra,
    }


def old_entry(entry: str, org: str | None, **extra: Any) -> dict[str, Any]:
    """An audit entry as the previous release wrote it (kind `audit`, key = the entry)."""
    return {
        "entry": entry,
        "at": "2026-01-01T00:00:00Z",
        "key_id": "k1",
        "key_name": "ports",
        "org": org,
        "action": "create",
        "notice": f"{org}:n1",
        "revision": 1,
        "changes": {},
        **extra,
    }


async def test_an_organisations_notices_and_drafts_never_another_ones(store, caplog) -> None:
    for org, nid in (("a", "1"), ("a", "2"), ("ab", "1"), ("b", "1")):
        await store.put_record(records.NOTICE_KIND, f"{org}:{nid}", notice(org, nid))
    await store.put_record(records.NOTICE_KIND, "a:b:1", notice("a:b", "1", id="a:b:1"))  # org with a colon
    await store.put_record(records.NOTICE_KIND, "a:3", notice("a", "3", revision="2"))  # wrong type
    await store.put_record(records.NOTICE_KIND, "a:4", {"id": "a:4", "org": "a"})  # fields missing
    await store.put_record(
        records.NOTICE_KIND, "a:5", notice("a", "5", updated_at="last week")
    )  # sorted by it
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        got = await records.org_notices(store, "a")
    assert [n.id for n in got] == ["a:1", "a:2"]
    assert got[0].to_json() == notice("a", "1")
    assert [n.id for n in await records.org_notices(store, "ab")] == ["ab:1"]
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 3 and "'revision' is str" in logged[0] and "'notice_id' is missing" in logged[1]
    assert "'updated_at': not an RFC 3339 time" in logged[2]

    key = ApiKey("k1", "ports", "a", ("notices:write",), "2026-01-01T00:00:00Z")
    other = ApiKey("k2", "ports", "ab", ("notices:write",), "2026-01-01T00:00:00Z")
    now = datetime(2026, 1, 2, tzinfo=UTC)
    await drafts.save_draft(store, key, "1", {"title": {"sv": "x"}}, now, exists=True)
    await drafts.save_draft(store, other, "1", {"title": {"sv": "y"}}, now, exists=False)
    await store.put_record(records.DRAFT_KIND, "a:9", {"id": "a:9", "org": "a", "pending": "yes"})
    (mine,) = await drafts.list_drafts(store, "a")
    assert mine["id"] == "a:1" and mine["fields"] == {"title": {"sv": "x"}} and mine["pending"] is False
    assert [d["id"] for d in await drafts.list_drafts(store, "ab")] == ["ab:1"]


async def test_audit_log_of_the_previous_release_is_moved_and_listed_by_org(store, caplog) -> None:
    old = [old_entry("00000000000000001-aaaa", "a"), old_entry("00000000000000003-cccc", "ab")]
    for e in old:
        await store.put_record(records.LEGACY_AUDIT_KIND, e["entry"], e)
    await store.put_record(
        records.LEGACY_AUDIT_KIND, "00000000000000002-bbbb", {"entry": "x", "action": "nuke"}
    )
    key = ApiKey("k1", "ports", "a", ("notices:write",), "2026-01-01T00:00:00Z")
    now = datetime(2026, 1, 2, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        await record_audit(
            store, key, "update", {"id": "a:n1", "revision": 2}, {"x": {"from": 1, "to": 2}}, now
        )
        mine = await read_audit(store, org="a")
    assert len(mine) == 2
    assert mine[0] == old[0], "moved as it was"
    assert mine[1]["action"] == "update" and mine[1]["org"] == "a" and mine[1]["revision"] == 2
    assert [e["org"] for e in await read_audit(store, org="ab")] == ["ab"]
    assert [e["org"] for e in await read_audit(store)] == ["a", "ab", "a"], "everyone's, in time order"
    assert await read_audit(store, org="a", limit=1) == [mine[1]]
    assert await store.list_records(records.LEGACY_AUDIT_KIND) == []
    assert await store.list_records("audit_unreadable") == [{"entry": "x", "action": "nuke"}]
    assert any("00000000000000002-bbbb" in r.getMessage() for r in caplog.records)
    keys = [k for k, _ in await store.record_items(records.AUDIT_KIND, "a/")]
    assert keys[0] == "a/00000000000000001-aaaa" and len(keys) == 2


async def test_operator_sessions_unreadable_ones_sign_nobody_in_and_are_pruned(store, caplog) -> None:
    from travelinfo.api import keys
    from travelinfo.operator import sessions

    now = datetime(2026, 1, 2, tzinfo=UTC)
    key, _ = await keys.create_key(store, "ports", ["notices:write"], org="a")
    token = await sessions.start(store, key, now)
    live = await sessions.load(store, token, now, idle=3600)
    assert live is not None and live.key == key
    ident = sessions._hash(token)
    rec = await store.get_record(sessions.KIND, ident)
    await store.put_record(sessions.KIND, ident, {**rec, "seen": "yesterday"})
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        assert await sessions.load(store, token, now, idle=3600) is None
    assert await store.get_record(sessions.KIND, ident) is None, "deleted, not kept failing"
    assert any("'seen'" in r.getMessage() for r in caplog.records)

    token2 = await sessions.start(store, key, now)
    await store.put_record(sessions.KIND, "broken", {"id": "broken"})
    await store.put_record(sessions.KIND, "idle", {**rec, "id": "idle", "seen": "2025-01-01T00:00:00Z"})
    assert await sessions.prune(store, now, idle=3600) == 2
    assert [r["id"] for r in await store.list_records(sessions.KIND)] == [sessions._hash(token2)]
    await store.put_record(keys.KIND, key.id, {"id": key.id, "name": 7})  # the key's record broken
    assert await sessions.load(store, token2, now, idle=3600) is None
