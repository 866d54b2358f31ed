"""Records listed by key prefix, on both backends: order, literal metacharacters, limits, what is read."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import redis.asyncio as aioredis
from storeutil import REDIS_URL, open_store

from travelinfo.store import records
from travelinfo.store.records import OwnerIndex, Record, RecordInvalid, list_typed, owner_prefix
from travelinfo.store.sqlite_records import LIST_OPEN_SQL, LIST_SQL, after_prefix
from travelinfo.store.sqlite_sql import SCHEMA

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with open_store(request.param, tmp_path) as s:
        yield s


async def keys(store: Any, kind: str, prefix: str = "", limit: int | None = None) -> list[str]:
    return [k for k, _ in await store.record_items(kind, prefix, limit)]


async def test_prefix_listing_is_ordered_literal_and_limited(store) -> None:
    names = ["b/2", "a/1", "ab/1", "a/10", "a/2", "a%/x", "a_/x", "a*/x", "a[/x", "a\\/x", "A/1", "a", "aé/1"]
    for n in names:
        await store.put_record("thing", n, {"n": n})
    await store.put_record("other", "a/1", {"n": "other kind"})
    assert await keys(store, "thing") == sorted(names), "the whole kind, in key (code point) order"
    assert await keys(store, "thing", "a/") == ["a/1", "a/10", "a/2"], "owner a never lists ab's"
    assert await keys(store, "thing", "a/", limit=2) == ["a/1", "a/10"]
    assert await keys(store, "thing", "a/", limit=0) == []
    assert await keys(store, "thing", "ab/") == ["ab/1"]
    # LIKE's and MATCH's wildcards and escapes are plain characters of a prefix.
    for meta in ("%", "_", "*", "[", "\\"):
        assert await keys(store, "thing", f"a{meta}") == [f"a{meta}/x"], meta
    assert await keys(store, "thing", "zz") == []
    assert await keys(store, "thing", "a", limit=3) == ["a", "a%/x", "a*/x"]
    assert await keys(store, "thing", "aé") == ["aé/1"]
    assert [r["n"] for r in await store.list_records("thing", "a/")] == ["a/1", "a/10", "a/2"]
    assert await store.list_records("missing-kind", "a") == []


async def test_prefix_listing_follows_writes_and_deletes(store) -> None:
    assert await store.add_record_if_absent("thing", "o/1", {"v": 1})
    assert not await store.add_record_if_absent("thing", "o/1", {"v": 2})
    await store.put_record("thing", "o/2", {"v": 2})
    await store.put_record("thing", "o/2", {"v": 3})
    assert await store.list_records("thing", "o/") == [{"v": 1}, {"v": 3}]
    assert await store.delete_record("thing", "o/1")
    assert not await store.delete_record("thing", "o/1")
    assert await store.record_items("thing", "o/") == [("o/2", {"v": 3})]


async def test_keys_near_the_end_of_unicode(store) -> None:
    top = "\U0010ffff"
    for n in ("p" + top, "p" + top + "x", "q", "\ud7ffa", "\ue000"):
        await store.put_record("thing", n, {})
    assert await keys(store, "thing", "p") == ["p" + top, "p" + top + "x"]
    assert await keys(store, "thing", "p" + top) == ["p" + top, "p" + top + "x"]
    assert await keys(store, "thing", "\ud7ff") == ["\ud7ffa"]
    assert after_prefix(top) is None and after_prefix("a" + top) == "b" and after_prefix("\ud7ff") == "\ue000"


def test_sqlite_lists_by_primary_key_range_not_a_scan(tmp_path: Path) -> None:
    """The query used reads only the owner's rows: a SEARCH of the (kind, key) key, never a SCAN."""
    db = sqlite3.connect(tmp_path / "plan.db")
    db.executescript(SCHEMA)  # the store's own tables and keys
    db.executemany("INSERT INTO records VALUES ('w', ?, '{}')", [(f"other{i}/x",) for i in range(5000)])
    for sql, args in ((LIST_SQL, ("w", "a/", "a0", -1)), (LIST_OPEN_SQL, ("w", "a/", -1))):
        plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, args))
        assert "SEARCH records USING" in plan and "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
    assert "key>? AND key<?" in " ".join(
        r[3] for r in db.execute("EXPLAIN QUERY PLAN " + LIST_SQL, ("w", "a/", "a0", -1))
    )


async def test_redis_reads_only_the_owners_fields(tmp_path: Path) -> None:
    """5,000 records of other owners: listing one owner's three fetches three fields, no HGETALL/HKEYS."""
    async with open_store("redis", tmp_path) as store:
        h = store.k("rec", "w")
        async with store.redis.pipeline(transaction=False) as pipe:
            for i in range(5000):
                pipe.hset(h, f"o{i:04d}/x", "{}")
            await pipe.execute()
        for n in ("o1/a", "o1/b", "o1/c"):
            await store.put_record("w", n, {"n": n})
        await store.list_records("w", "o1/")  # the first listing builds the index of the old hash
        seen = await monitored(store, lambda: store.list_records("w", "o1/"), store.p)
        assert [c[0].upper() for c in seen].count("HMGET") == 1, seen
        (hmget,) = [c for c in seen if c[0].upper() == "HMGET"]
        assert hmget[2:] == ["o1/a", "o1/b", "o1/c"], "only the owner's fields are read"
        assert not {c[0].upper() for c in seen} & {"HGETALL", "HKEYS", "HVALS", "HSCAN", "SCAN", "KEYS"}


async def monitored(store: Any, action: Any, prefix: str) -> list[list[str]]:
    """The commands (with args) touching `prefix` while `action` runs, Lua's included (MONITOR)."""
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    marker = f"{prefix}:end-of-monitor"
    out: list[list[str]] = []
    try:
        async with client.monitor() as m:
            await action()
            await store.redis.get(marker)
            while True:
                cmd = await asyncio.wait_for(m.next_command(), 10)
                words = cmd["command"].split(" ")
                if marker in words:
                    return out
                if any(prefix in w for w in words) and words[0].upper() not in ("EVAL", "EVALSHA"):
                    out.append(words)
    finally:
        await client.aclose()


async def test_redis_store_written_by_the_previous_release_is_listed(tmp_path: Path) -> None:
    """The previous release kept only the hash; an old process may still write beside a new one."""
    async with open_store("redis", tmp_path) as store:
        h = store.k("rec", "webhook_dead")
        await store.redis.hset(h, mapping={"s1:1": '{"n": 1}', "s1:2": '{"n": 2}', "s10:1": '{"n": 10}'})
        assert await keys(store, "webhook_dead", "s1:") == ["s1:1", "s1:2"]
        await store.redis.hset(h, "s1:3", '{"n": 3}')  # written the old way after the upgrade
        assert await keys(store, "webhook_dead", "s1:") == ["s1:1", "s1:2", "s1:3"]
        await store.redis.hdel(h, "s1:1")  # deleted the old way
        assert await keys(store, "webhook_dead", "s1:") == ["s1:2", "s1:3"]
        await store.redis.hdel(h, "s1:2")
        await store.redis.hset(h, "s1:4", '{"n": 4}')  # same count, different keys
        assert await keys(store, "webhook_dead", "s1:") == ["s1:3"], "a stale index entry is never a record"
        await store.redis.hset(h, "s1:5", '{"n": 5}')
        assert await keys(store, "webhook_dead", "s1:") == ["s1:3", "s1:4", "s1:5"]
        assert await store.get_record("webhook_dead", "s1:4") == {"n": 4}


@dataclass(frozen=True, slots=True)
class Thing(Record):
    RECORD = "thing"
    id: str
    size: int = 0
    state: Literal["on", "off"] = "off"


async def test_typed_listing_skips_bad_records_and_logs_each_once(store, caplog) -> None:
    records._logged.clear()  # once per process: this test runs once per backend
    await store.put_record("thing", "a/1", {"id": "1", "size": 3, "state": "on", "added_later": True})
    await store.put_record("thing", "a/2", {"size": 3})  # missing field
    await store.put_record("thing", "a/3", {"id": "3", "size": "3"})  # wrong type
    await store.put_record("thing", "a/4", {"id": "4", "size": True})  # a bool is no count
    await store.put_record("thing", "a/5", {"id": "5", "state": "maybe"})  # not one of the Literal's
    await store.put_record("thing", "a/6", {"id": "6"})
    await store.put_record("thing", "ab/1", {"id": "ab"})
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        for _ in range(3):
            got = await list_typed(store, "thing", Thing.from_json, owner_prefix("a"))
            assert got == [Thing("1", 3, "on"), Thing("6", 0, "off")]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines
    assert any("'a/2'" in m and "'id' is missing" in m for m in lines)
    assert any("'a/3'" in m and "'size' is str, not int" in m for m in lines)
    assert any("'a/5'" in m and "'maybe'" in m for m in lines)
    with pytest.raises(RecordInvalid, match="not a JSON object"):
        Thing.from_json(["id"])
    with pytest.raises(ValueError, match="owner id"):
        owner_prefix("")


async def test_owner_index_keeps_owners_apart_and_indexes_an_older_store_once(store) -> None:
    owners = ["a", "ab", "a/b", "a%2Fb", "a%", "ä"]
    for i, owner in enumerate(owners):  # written before the index existed
        await store.put_record("thing", f"t{i}", {"id": str(i), "owner": owner})
    await store.put_record("thing", "t9", {"id": "9"})  # no owner: listed by nobody
    index = OwnerIndex("thing", "thing_by_owner", "owner")
    for i, owner in enumerate(owners):
        assert await index.keys(store, owner) == [f"t{i}"], owner
    await index.add(store, "a", "t7")
    await store.put_record("thing", "t7", {"id": "7", "owner": "a"})
    await index.add(store, "a", "t8")  # its record never written (a create interrupted): skipped
    await store.put_record("thing", "t6", {"id": "6", "owner": "ab"})  # the entry says a, the record ab
    await index.add(store, "a", "t6")
    got = await index.records(store, "a", lambda raw: raw["id"])
    assert got == ["0", "7"]
    await index.remove(store, "a", "t7")
    assert await index.keys(store, "a") == ["t0", "t6", "t8"]


async def test_api_keys_listed_by_organisation_also_on_an_older_store(store, caplog) -> None:
    from travelinfo.api import keys

    records._logged.clear()
    # A key the previous release made: no index entry; one with a broken record; one of org "portsx".
    await store.put_record(keys.KIND, "old1", {"id": "old1", "name": "old", "org": "ports", "created": "x"})
    await store.put_record(
        keys.KIND, "bad1", {"id": "bad1", "name": "bad", "org": "ports", "scopes": "admin"}
    )
    await store.put_record(keys.KIND, "px1", {"id": "px1", "name": "px", "org": "portsx", "created": "x"})
    made, token = await keys.create_key(store, "new", ["notices:write"], org="ports")
    nobody, _ = await keys.create_key(store, "reader", ["read"])
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        assert [k.id for k in await keys.list_keys(store, "ports")] == sorted(["old1", made.id])
        assert [k.id for k in await keys.list_keys(store, "portsx")] == ["px1"]
        assert {k.id for k in await keys.list_keys(store)} == {"old1", "px1", made.id, nobody.id}
    assert ["'bad1'" in r.getMessage() for r in caplog.records] == [True], "logged once"
    assert await keys.authenticate(store, token) == made
    await store.put_record(keys.KIND, made.id, {**made.to_json(), "scopes": [1], "hash": "x"})
    assert await keys.authenticate(store, token) is None
