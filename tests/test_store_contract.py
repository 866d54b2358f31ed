"""One contract, every backend: the same tests run against SQLite and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storeutil import batch, item, open_store

from travelinfo.model import Affected, Period
from travelinfo.store.base import Query, SourceHealth, list_health, put_health
from travelinfo.store.sqlite import SqliteStore

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    async with open_store(
        request.param, tmp_path, grace=3600, archive_retention=86400, log_retention=7200
    ) as s:
        yield s


async def test_created_then_unchanged_then_updated(store, now: datetime) -> None:
    a, b = item("1", now), item("2", now, header="Vägarbete")
    changes = await store.apply(batch([a, b], now))
    assert [(c.type, c.id) for c in changes] == [("created", "demo:1"), ("created", "demo:2")]
    assert int(changes[0].seq.split("-")[0]) <= int(changes[1].seq.split("-")[0])

    later = now + timedelta(minutes=1)
    again = await store.apply(batch([item("1", later), item("2", later, header="Vägarbete")], later))
    assert again == [], "an unchanged checksum makes no event"
    got = await store.get("demo:1")
    assert got is not None and got.first_seen == now and got.last_seen == later

    changed = await store.apply(
        batch([item("1", later, severity="SEVERE"), item("2", later, header="Vägarbete")], later)
    )
    assert [(c.type, c.id, c.disruption.severity) for c in changes + changed][-1] == (
        "updated",
        "demo:1",
        "SEVERE",
    )
    assert (await store.get("demo:1")).severity == "SEVERE"


async def test_json_round_trip_of_stored_items(store, now: datetime) -> None:
    d = item(
        "x",
        now,
        geometry={"type": "LineString", "coordinates": [[18.0, 59.3], [18.1, 59.4]]},
        affected=[Affected("road", "E4", None)],
        description="Kö mot Norrtull",
    )
    await store.apply(batch([d], now))
    assert await store.get("demo:x") == d


async def test_version_only_bump_makes_no_event_and_older_version_is_ignored(store, now) -> None:
    await store.apply(batch([item("1", now, version="2", updated_at=now)], now))
    later = now + timedelta(minutes=5)
    assert await store.apply(batch([item("1", later, version="3", updated_at=later)], later)) == []
    older = item("1", later, version="1", updated_at=now - timedelta(hours=1), severity="SEVERE")
    assert await store.apply(batch([older], later)) == []
    assert (await store.get("demo:1")).severity == "WARNING"


async def test_full_snapshot_ends_what_it_no_longer_holds(store, now) -> None:
    await store.apply(batch([item("1", now), item("2", now)], now))
    await store.apply(batch([item("9", now, source="other")], now, source="other"))
    later = now + timedelta(minutes=1)
    changes = await store.apply(batch([item("1", later)], later))
    assert [(c.type, c.id) for c in changes] == [("ended", "demo:2")]
    assert (await store.get("demo:2")).status == "ended"
    assert (await store.get("other:9")).status == "active", "other sources are untouched"


async def test_delta_touches_only_what_it_names_and_explicit_ends(store, now) -> None:
    await store.apply(batch([item("1", now), item("2", now)], now))
    later = now + timedelta(minutes=1)
    changes = await store.apply(batch([item("3", later)], later, complete=False))
    assert [(c.type, c.id) for c in changes] == [("created", "demo:3")]
    changes = await store.apply(batch([], later, complete=False, ended=["demo:1", "demo:404"]))
    assert [(c.type, c.id) for c in changes] == [("ended", "demo:1")]
    statuses = {d.id: d.status for d in (await store.query(Query(status=("active", "ended"))))[0]}
    assert statuses == {"demo:1": "ended", "demo:2": "active", "demo:3": "active"}


async def test_missing_periods_are_filled_from_first_seen(store, now) -> None:
    d = item("np", now, periods=[])
    await store.apply(batch([d], now))
    got = await store.get("demo:np")
    assert got.periods == (Period(now),) and got.status == "active"
    later = now + timedelta(minutes=3)
    assert await store.apply(batch([item("np", later, periods=[])], later)) == []


async def test_expiry_starts_ends_archives_and_prunes(store, now) -> None:
    planned = item("p", now, periods=[Period(now + timedelta(minutes=10), now + timedelta(minutes=20))])
    short = item("s", now, periods=[Period(now - timedelta(minutes=5), now + timedelta(minutes=5))])
    assert planned.status == "planned"
    await store.apply(batch([planned, short], now))
    changes = await store.expire(now + timedelta(minutes=6))
    assert [(c.type, c.id) for c in changes] == [("ended", "demo:s")]
    changes = await store.expire(now + timedelta(minutes=11))
    assert [(c.type, c.id, c.disruption.status) for c in changes] == [("updated", "demo:p", "active")]
    changes = await store.expire(now + timedelta(minutes=21))
    assert [(c.type, c.id) for c in changes] == [("ended", "demo:p")]
    # Ended items stay readable; after the grace period they are archived, still queryable.
    await store.expire(now + timedelta(hours=2))
    ended, _ = await store.query(Query(status=("ended",)))
    assert {d.id for d in ended} == {"demo:s", "demo:p"}
    counts = await store.count()
    assert counts["archived"] == 2 and counts["active"] == 0
    assert (await store.query(Query()))[0] == []
    await store.expire(now + timedelta(days=2))
    assert await store.get("demo:s") is None, "pruned after the retention"


async def test_changes_since_in_order_and_reset_when_too_old(store, now) -> None:
    assert await store.last_change_at() is None
    start = await store.last_seq()
    await store.apply(batch([item("1", now)], now))
    await store.apply(batch([item("1", now, severity="SEVERE"), item("2", now)], now))
    page = await store.changes_since(start)
    assert not page.reset
    assert [(c.type, c.id) for c in page.changes] == [
        ("created", "demo:1"),
        ("updated", "demo:1"),
        ("created", "demo:2"),
    ]
    assert await store.last_change_at() == now
    mid = page.changes[0].seq
    assert [c.id for c in (await store.changes_since(mid)).changes] == ["demo:1", "demo:2"]
    assert (await store.changes_since(page.last_seq)).changes == ()
    # Log retention (2 h here): an older position needs a reset.
    await store.expire(datetime.now(now.tzinfo) + timedelta(hours=3))
    assert (await store.changes_since(start)).reset
    # A position the log never had (e.g. from another store) also needs a reset.
    assert (await store.changes_since("99999999999999-0" if "-" in mid else "99999")).reset


async def test_wait_for_change_wakes_a_reader(store, now) -> None:
    seq = await store.last_seq()
    assert not await store.wait_for_change(seq, 0.2)
    waiter = asyncio.create_task(store.wait_for_change(seq, 5))
    await asyncio.sleep(0.05)
    await store.apply(batch([item("w", now)], now))
    assert await asyncio.wait_for(waiter, 3)


async def test_query_filters_and_paging(store, now) -> None:
    items = [
        item(
            "e4",
            now,
            severity="SEVERE",
            affected=[Affected("road", "E4", None)],
            geometry={"type": "Point", "coordinates": [18.0, 59.37]},
            header="Olycka vid Järva krog",
        ),
        item(
            "t14",
            now,
            modes=["metro"],
            severity="WARNING",
            header="Signalfel",
            affected=[
                Affected("route", "14", "Tunnelbanans röda linje 14"),
                Affected("stop", "9001", "Slussen"),
            ],
        ),
        item(
            "ferry",
            now,
            modes=["ferry"],
            severity="INFO",
            header="Inställd tur",
            geometry={"type": "Point", "coordinates": [18.35, 59.40]},
        ),
        item("later", now, modes=["bus"], periods=[Period(now + timedelta(hours=3))], header="Planerat"),
    ]
    await store.apply(batch(items, now))

    async def ids(**kw: object) -> list[str]:
        return [d.id.split(":")[1] for d in (await store.query(Query(**kw)))[0]]

    assert await ids() == ["e4", "later", "t14", "ferry"]  # severity desc, then newest, then id
    assert await ids(modes=("metro", "ferry")) == ["t14", "ferry"]
    assert await ids(status=("planned",)) == ["later"]
    assert await ids(severity="WARNING") == ["e4", "later", "t14"]
    assert await ids(bbox=(17.9, 59.3, 18.1, 59.4)) == ["e4"]
    assert await ids(road="e4") == ["e4"]
    assert await ids(route="14") == ["t14"]
    assert await ids(stop="Slussen") == ["t14"]
    assert await ids(text="järva") == ["e4"]
    assert await ids(active_at=now + timedelta(hours=4)) == ["e4", "later", "t14", "ferry"]
    assert await ids(active_at=now - timedelta(hours=13)) == []
    assert await ids(sources=("nope",)) == []
    # The home region leaves out what lies wholly outside it, keeps what has no geometry.
    assert await ids(region=(17.9, 59.3, 18.1, 59.4)) == ["e4", "later", "t14"]
    first, cursor = await store.query(Query(limit=2))
    assert [d.id for d in first] == ["demo:e4", "demo:later"] and cursor
    rest, cursor2 = await store.query(Query(limit=2, cursor=cursor))
    assert [d.id for d in rest] == ["demo:t14", "demo:ferry"] and cursor2 is None


async def test_records_health_and_idempotency(store, now) -> None:
    await store.put_record("api_key", "k1", {"name": "ports", "scopes": ["notices:write"]})
    assert await store.get_record("api_key", "k1") == {"name": "ports", "scopes": ["notices:write"]}
    assert await store.add_record_if_absent("bot_post", "demo:1", {"status_id": "1"})
    assert not await store.add_record_if_absent("bot_post", "demo:1", {"status_id": "2"})
    assert (await store.get_record("bot_post", "demo:1"))["status_id"] == "1"
    assert [r["name"] for r in await store.list_records("api_key")] == ["ports"]
    assert await store.delete_record("api_key", "k1")
    assert await store.get_record("api_key", "k1") is None
    await put_health(store, SourceHealth("trafikverket", "failing", None, now, "HTTP 500", 0, 2))
    [h] = await list_health(store)
    assert (h.source, h.state, h.last_error, h.consecutive_failures) == (
        "trafikverket",
        "failing",
        "HTTP 500",
        2,
    )


async def test_lock_with_expiry_is_taken_over(store) -> None:
    assert await store.try_lock("poll", "a", 0.3)
    assert await store.try_lock("poll", "a", 0.3), "the holder renews"
    assert not await store.try_lock("poll", "b", 0.3)
    await asyncio.sleep(0.4)  # a test about time: one TTL (Redis expires it on its own clock)
    assert await store.try_lock("poll", "b", 0.3), "taken over when the holder stops renewing"
    await store.release_lock("poll", "b")
    assert await store.try_lock("poll", "a", 0.3)


async def test_sqlite_lock_expiry_follows_the_injected_clock(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = SqliteStore(f"sqlite:///{tmp_path / 'lock.db'}", clock=lambda: now[0])
    await store.open()
    try:
        assert await store.try_lock("poll", "a", 30)
        now[0] += 29.9
        assert not await store.try_lock("poll", "b", 30), "not expired a moment before its TTL"
        assert await store.try_lock("poll", "a", 30), "the holder renews: a new TTL from now"
        now[0] += 29.9
        assert not await store.try_lock("poll", "b", 30)
        now[0] += 0.2
        assert await store.try_lock("poll", "b", 30), "taken over once the renewed TTL ran out"
        assert not await store.try_lock("poll", "a", 30)
        now[0] += 3600
        await store.expire(datetime.now(UTC))  # the sweep drops expired locks on the same clock
        assert await store.try_lock("poll", "a", 30)
    finally:
        await store.close()
