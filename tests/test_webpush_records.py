"""Web Push's typed records over real stores: what the first release stored still delivers after a
restart, and a hand-edited subscription, queue entry or delivery state is skipped (logged once),
never a crash of the engine nor a stop for the other subscribers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from pushservice import push_service
from storeutil import batch, item, redis_cleanup
from waiting import wait_until
from webpushutil import running, settings_for, subscribe

from travelinfo.store import records as store_records
from travelinfo.webpush.records import CURSOR, HELD, QUEUE, STATE, SUB, Held, PushState, PushSubscription

KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.mark.parametrize("kind", KINDS)
async def test_first_release_records_deliver_and_hand_edits_are_skipped(kind, tmp_path: Path, caplog) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    store_records._logged.clear()
    now = datetime.now(UTC)
    ferry = item("ferry-1", now, modes=("ferry",), header="Färjan Vaxholm inställd")
    try:
        async with push_service() as ps, aiohttp.ClientSession() as http:
            async with running(settings) as app:
                await app.store.apply(batch([ferry], now, complete=False))
                old = await subscribe(
                    http, app.url, ps.add("old").subscription(ps.base), filters={"mode": "ferry"}
                )
                bad = await subscribe(
                    http, app.url, ps.add("bad").subscription(ps.base), filters={"mode": "ferry"}, lang="en"
                )
                store = app.store
                road = item("road-1", now)  # a change the engine reads: its position is then stored

                async def saved() -> bool:
                    cursor = await store.get_record(CURSOR, "engine")
                    return cursor is not None and cursor["seq"] == await store.last_seq()

                await store.apply(batch([road], now, complete=False))
                await wait_until(saved, 20, "the engine's position stored")
                stored = await store.get_record(SUB, old["id"])
                # As the first release wrote them: no `ahead`, no `ahead_day`; told of the ferry.
                first = {k: v for k, v in stored.items() if k != "ahead"}
                await store.put_record(SUB, old["id"], first)
                told = {"id": old["id"], "held": [ferry.id], "told": {ferry.id: ["WARNING", "active"]}}
                await store.put_record(HELD, old["id"], told)
                # Hand edits: keys without auth; a queue entry with a TTL in words; a state of
                # failures in words (the breaker would have raised on it).
                broken = await store.get_record(SUB, bad["id"])
                await store.put_record(
                    SUB, bad["id"], {**broken, "keys": {"p256dh": broken["keys"]["p256dh"]}}
                )
                await store.put_record(
                    QUEUE, f"{old['id']}:0", {"sub": old["id"], "key": f"{old['id']}:0", "ttl": "soon"}
                )
                await store.put_record(STATE, old["id"], {"id": old["id"], "failures": "many"})

            caplog.clear()
            with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
                async with running(settings) as app:
                    await app.store.apply(batch([ferry.replace(status="ended")], now, complete=False))
                    await wait_until(lambda: len(ps.of("old")) == 1, 20, "the all-clear to the old record")
                    auth = {"Authorization": f"Bearer {old['secret']}"}
                    url = f"{app.url}/api/v1/push/subscriptions/{old['id']}"

                    async def delivered() -> bool:
                        async with http.get(url, headers=auth) as r:
                            return r.status == 200 and (await r.json())["sent"] == 1

                    await wait_until(delivered, 20, "the delivery counted in its state")
                    async with http.get(url, headers=auth) as r:
                        shown = await r.json()
                    bad_url = f"{app.url}/api/v1/push/subscriptions/{bad['id']}"
                    bad_auth = {"Authorization": f"Bearer {bad['secret']}"}
                    async with http.get(bad_url, headers=bad_auth) as r:
                        assert r.status == 409, await r.text()
                        assert "unreadable" in (await r.json())["error"]
                    async with http.delete(bad_url, headers=bad_auth) as r:
                        assert r.status == 204
                    assert await app.store.get_record(SUB, bad["id"]) is None
                    held = Held.from_json(await app.store.get_record(HELD, old["id"]))
                    state = PushState.from_json(await app.store.get_record(STATE, old["id"]))
                    sub = PushSubscription.from_json(await app.store.get_record(SUB, old["id"]))
    finally:
        if kind == "redis":
            await redis_cleanup(prefix)

    message = ps.of("old")[0]
    assert (message.payload["kind"], message.payload["id"]) == ("cleared", ferry.id)
    assert ps.of("bad") == [], "the unreadable subscription is skipped"
    assert shown == {
        "id": old["id"],
        "endpoint": old["endpoint"],
        "filters": {"mode": ["ferry"]},
        "windows": [],
        "lang": "sv",
        "planned": True,
        "ahead": None,  # the first release had no `ahead`
        "created": old["created"],
        "sent": 1,
        "dropped": 0,
        "last_error": None,
        "state": "active",
    }
    assert (held.held, held.told, held.ahead_day) == ((), {}, None), "told of the all-clear: forgotten"
    assert (state.sent, state.failures, state.state) == (1, 0, "active"), "the bad state started afresh"
    assert sub.ahead is None and sub.start_held == (ferry.id,)
    lines = sorted(r.getMessage() for r in caplog.records if r.name == "travelinfo.store.records")
    assert len(lines) == 3, lines
    assert f"webpush_queue record '{old['id']}:0'" in lines[0] and "field 'order' is missing" in lines[0]
    assert (
        f"webpush_state record '{old['id']}'" in lines[1] and "field 'failures' is str, not int" in lines[1]
    )
    assert f"webpush_sub record '{bad['id']}'" in lines[2] and "field 'auth' is missing" in lines[2]


def test_earliest_is_in_log_order_and_never_an_unreadable_seq() -> None:
    from travelinfo.webpush.records import earliest

    # Redis stream ids order by number, not text ("9-0" before "10-0"); SQLite seqs are integers.
    assert earliest(["10-0", "9-5", "9-12"]) == "9-5"
    assert earliest(["120", "99"]) == "99"
    # A hostile or broken record's start_seq is never where the engine starts.
    assert earliest(["12", "x1", "0x1", "'; DROP", "3-a"]) == "12"
    assert earliest(["bad", "worse"]) == "" and earliest([]) == ""
