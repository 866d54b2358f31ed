"""Re-applying a complete snapshot: unchanged items take the checksum-only fast path.

The fast path must not change what the slow one decided: duplicates keep the first
occurrence, items without periods keep their first_seen, removed items still end, a
changed item among many unchanged ones is still the only event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from storeutil import batch, item, open_store

from travelinfo.store.base import Query, Store


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(request.param, tmp_path) as s:
        yield s


async def test_one_changed_among_unchanged_is_the_only_event(store: Store, now: datetime) -> None:
    items = [item(str(i), now) for i in range(200)]
    assert len(await store.apply(batch(items, now))) == 200
    later = now + timedelta(minutes=1)
    again = [item(str(i), later, severity="SEVERE" if i == 77 else "WARNING") for i in range(200)]
    changes = await store.apply(batch(again, later))
    assert [(c.type, c.id, c.disruption.severity) for c in changes] == [("updated", "demo:77", "SEVERE")]
    assert await store.apply(batch(again, later + timedelta(minutes=1))) == []
    got = await store.get("demo:5")
    assert got is not None and got.first_seen == now and got.last_seen == later + timedelta(minutes=1)


async def test_a_removed_item_still_ends_when_the_rest_is_unchanged(store: Store, now: datetime) -> None:
    await store.apply(batch([item("a", now), item("b", now)], now))
    later = now + timedelta(minutes=1)
    changes = await store.apply(batch([item("a", later)], later))
    assert [(c.type, c.id) for c in changes] == [("ended", "demo:b")]
    items, _ = await store.query(Query())
    assert [d.id for d in items] == ["demo:a"]


async def test_a_repeated_id_keeps_the_first_occurrence(store: Store, now: datetime) -> None:
    await store.apply(batch([item("a", now)], now))
    later = now + timedelta(minutes=1)
    # The first copy is unchanged; a second, different copy of the same id is ignored,
    # exactly as the full diff ignores it.
    dup = [item("a", later), item("a", later, header="Annan text")]
    assert await store.apply(batch(dup, later)) == []
    got = await store.get("demo:a")
    assert got is not None and got.header == {"sv": "Olycka på E4"}
    # And the other way round: a changed first copy wins over an unchanged second one.
    dup = [item("a", later, header="Ny text"), item("a", later)]
    changes = await store.apply(batch(dup, later))
    assert [(c.type, c.disruption.header["sv"]) for c in changes] == [("updated", "Ny text")]


async def test_an_item_without_periods_keeps_its_first_seen(store: Store, now: datetime) -> None:
    await store.apply(batch([item("p", now, periods=())], now))
    later = now + timedelta(minutes=5)
    assert await store.apply(batch([item("p", later, periods=())], later)) == []
    got = await store.get("demo:p")
    assert got is not None and got.first_seen == now and got.periods[0].start == now
