"""Typed webhook records: a store the previous release wrote, bad records, one key's listing read alone."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from webhookutil import auth, cleanup_redis, register, running, settings_for, until

from travelinfo.api import keys
from travelinfo.store import records
from travelinfo.store.records import INDEXES
from travelinfo.webhooks.records import BY_KEY, DEAD, KIND, STATE
from travelinfo.webhooks.routes import ENGINE

WEB = frozenset({"web"})
pytestmark = pytest.mark.timeout(120)


def old_sub(sub_id: str, key_id: str, **extra: Any) -> dict[str, Any]:
    """A subscription as the release before the index wrote it (no `start_held`, no index entry)."""
    return {
        "id": sub_id,
        "key_id": key_id,
        "url": f"http://127.0.0.1:9/{sub_id}",
        "filters": {"mode": ["metro"]},
        "description": None,
        "secret": "s" * 32,
        "created": "2026-01-01T00:00:00Z",
        "start_seq": "0",
        **extra,
    }


def dead(sub_id: str, seq: str) -> dict[str, Any]:
    return {
        "webhook": sub_id,
        "seq": seq,
        "type": "created",
        "error": "HTTP 500",
        "attempts": 3,
        "at": "2026-01-01T00:00:00Z",
        "event": {"seq": seq},
    }


class Counting:
    """Counts the records the real store hands back (the store itself is untouched)."""

    def __init__(self, store: Any) -> None:
        self.store, self.rows, self.kinds = store, 0, set[str]()
        self._items, self._get = store.record_items, store.get_record
        store.record_items, store.get_record = self.record_items, self.get_record

    async def record_items(self, kind: str, prefix: str = "", limit: int | None = None) -> Any:
        got = await self._items(kind, prefix, limit)
        self.rows += len(got)
        self.kinds.add(f"{kind}[{prefix}]")
        return got

    async def get_record(self, kind: str, key: str) -> Any:
        got = await self._get(kind, key)
        self.rows += got is not None
        return got


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_store_of_the_previous_release_lists_only_the_keys_own(
    tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    records._logged.clear()  # logged once per process: this test runs once per backend
    settings, prefix = settings_for(backend, tmp_path)
    async with cleanup_redis(prefix), running(settings, WEB) as app, aiohttp.ClientSession() as http:
        store = app.store
        alice, alice_token = await keys.create_key(store, "alice", ["webhooks"])
        bob, bob_token = await keys.create_key(store, "bob", ["webhooks"])
        # Written the old way: subscriptions keyed by id only, dead letters, delivery state.
        await store.put_record(KIND, "a1", old_sub("a1", alice.id, comment="added later"))
        await store.put_record(KIND, "a2", old_sub("a2", alice.id))
        await store.put_record(KIND, "b1", old_sub("b1", bob.id))
        await store.put_record(KIND, "x1", old_sub("x1", alice.id + "0"))  # an id alice's is a prefix of
        await store.put_record(KIND, "bad1", {"id": "bad1", "key_id": alice.id})  # no url, no secret
        await store.put_record(KIND, "bad2", old_sub("bad2", alice.id, url=["not", "a", "string"]))
        await store.put_record(STATE, "a2", {"state": "sleeping", "delivered": "many"})  # not a state
        await store.put_record(STATE, "a1", {"state": "failing", "dead_letters": 2, "failures": 4})
        for key, rec in (("a1:7", dead("a1", "7")), ("a1:9", dead("a1", "9")), ("a10:1", dead("a10", "1"))):
            await store.put_record(DEAD, key, rec)
        await store.put_record(DEAD, "a1:8", {"webhook": "a1", "seq": "8", "type": "exploded"})
        assert await store.get_record(INDEXES, BY_KEY) is None

        hooks = f"{app.url}/api/v1/webhooks"
        with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
            async with http.get(hooks, headers=auth(alice_token)) as resp:
                listed = (await resp.json())["webhooks"]
                assert resp.status == 200
            async with http.get(f"{hooks}/a1/dead-letters", headers=auth(alice_token)) as resp:
                letters = (await resp.json())["dead_letters"]
            async with http.get(f"{hooks}/bad1", headers=auth(alice_token)) as resp:
                assert resp.status == 404, "an unreadable subscription is absent, not a 500"
        assert [w["id"] for w in listed] == ["a1", "a2"]
        assert listed[0]["state"] == "failing" and listed[0]["dead_letters"] == 2
        assert listed[0]["consecutive_failures"] == 4 and "comment" not in listed[0]
        assert (listed[1]["state"], listed[1]["delivered"]) == ("active", 0), "a bad state reads as fresh"
        assert [d["seq"] for d in letters] == ["7", "9"], "a10's never, the bad one skipped"
        assert letters[0] == dead("a1", "7")
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "'bad1'" in logged and "'bad2'" in logged and "'a1:8'" in logged
        assert await store.get_record(INDEXES, BY_KEY) is not None

        async with http.get(hooks, headers=auth(bob_token)) as resp:
            assert [w["id"] for w in (await resp.json())["webhooks"]] == ["b1"]
        new = await register(http, app.url, alice_token, "http://127.0.0.1:9/new")
        async with http.delete(f"{hooks}/a1", headers=auth(alice_token)) as resp:
            assert resp.status == 204
        assert [k for k, _ in await store.record_items(DEAD)] == ["a10:1"], "a1's dead letters went with it"
        async with http.get(hooks, headers=auth(alice_token)) as resp:
            assert sorted(w["id"] for w in (await resp.json())["webhooks"]) == sorted(["a2", new["id"]])


@pytest.mark.slow  # 15,000 writes first (the store-level proof is tests/test_store_records.py)
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_listing_one_key_reads_its_records_not_5000_others(tmp_path: Path, backend: str) -> None:
    settings, prefix = settings_for(backend, tmp_path)
    async with cleanup_redis(prefix), running(settings, WEB) as app, aiohttp.ClientSession() as http:
        store = app.store
        _mine, token = await keys.create_key(store, "mine", ["webhooks"])
        made = [await register(http, app.url, token, f"http://127.0.0.1:9/{i}") for i in range(3)]
        for start in range(0, 5000, 10):  # other keys' subscriptions (registered through the index)
            writes = []
            for sub, owner in ((f"o{i:05d}", f"k{i % 50:04d}") for i in range(start, start + 10)):
                writes += [
                    store.put_record(BY_KEY, f"{owner}/{sub}", {"id": sub}),
                    store.put_record(KIND, sub, old_sub(sub, owner)),
                    store.put_record(DEAD, f"{sub}:1", dead(sub, "1")),
                ]
            await asyncio.gather(*writes)
        counting = Counting(store)
        async with http.get(f"{app.url}/api/v1/webhooks", headers=auth(token)) as resp:
            assert sorted(w["id"] for w in (await resp.json())["webhooks"]) == sorted(m["id"] for m in made)
        async with http.get(
            f"{app.url}/api/v1/webhooks/{made[0]['id']}/dead-letters", headers=auth(token)
        ) as resp:
            assert (await resp.json()) == {"dead_letters": []}
        # The key record, the index marker, 3 index entries, 3 subscriptions (+ their states: none yet),
        # then the key, marker... for the second request: a few dozen rows, never thousands.
        assert counting.rows < 30, (counting.rows, counting.kinds)
        assert all("[]" not in k for k in counting.kinds), counting.kinds


async def test_the_engine_gives_an_unreadable_subscription_no_worker(tmp_path: Path, caplog) -> None:
    records._logged.clear()
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, frozenset({"web", "deliver"})) as app, aiohttp.ClientSession() as http:
        _key, token = await keys.create_key(app.store, "app", ["webhooks"])
        await app.store.put_record(KIND, "0bad", {"id": "0bad", "url": 12})  # sorts first
        good = await register(http, app.url, token, "http://127.0.0.1:9/good")
        engine = app.app[ENGINE]
        with caplog.at_level(logging.WARNING):
            await until(lambda: good["id"] in engine.workers, what="the good subscription's worker")
            await engine.tick()
        assert set(engine.workers) == {good["id"]}
        assert [r.getMessage() for r in caplog.records if "0bad" in r.getMessage()] == [
            "skipping webhook record '0bad': webhook: field 'key_id' is missing"
        ], "logged once, however many ticks"
