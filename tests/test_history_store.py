"""History on both backends: every published version kept, `as_of`, patches, archive files."""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonpatch
import pytest

from tests.storeutil import batch, item, open_store
from travelinfo.store.base import Query, Store
from travelinfo.store.history import HistoryGone, with_patches

pytestmark = pytest.mark.asyncio
CET = timezone(timedelta(hours=1))
DAY = datetime(2026, 11, 25, tzinfo=CET)


def t(hh: int, mm: int, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hh, minutes=mm)


async def publish_three(store: Store) -> str:
    """v1 at 07:40, v2 at 07:45, ended (gone from the snapshot) at 08:00; another item stays."""
    v1 = item("A1", t(7, 40), header="Olycka på E4 vid Häggvik", description="Ett körfält avstängt")
    other = item("B2", t(7, 40), header="Vägarbete Essingeleden")
    await store.apply(batch([v1, other], t(7, 40)))
    v2 = item("A1", t(7, 45), header="Olycka på E4 vid Häggvik: två körfält avstängda", description="Köer")
    await store.apply(batch([v2, item("B2", t(7, 40), header="Vägarbete Essingeleden")], t(7, 45)))
    await store.apply(batch([item("B2", t(7, 40), header="Vägarbete Essingeleden")], t(8, 0)))
    return v1.id


async def headers_at(store: Store, at: datetime, q: Query | None = None) -> dict[str, str]:
    items, _ = await store.as_of(q or Query(), at)
    return {d.id: d.header["sv"] for d in items}


async def check_answers(store: Store, ident: str) -> None:
    at742 = await headers_at(store, t(7, 42))
    assert at742[ident] == "Olycka på E4 vid Häggvik"
    at750 = await headers_at(store, t(7, 50))
    assert at750[ident] == "Olycka på E4 vid Häggvik: två körfält avstängda"
    at810 = await headers_at(store, t(8, 10))
    assert ident not in at810 and len(at810) == 1  # the other item is still active
    assert await headers_at(store, t(7, 39)) == {}  # before anything was published
    ended, _ = await store.as_of(Query(status=("ended",)), t(8, 10))
    assert [d.id for d in ended] == [ident]
    # Filters and paging apply exactly as on the live list.
    page, cursor = await store.as_of(Query(limit=1), t(7, 42))
    assert len(page) == 1 and cursor is not None
    assert list((await headers_at(store, t(7, 42), Query(text="Essinge"))).values()) == [
        "Vägarbete Essingeleden"
    ]
    versions = with_patches(await store.history(ident))
    assert [v["type"] for v in versions] == ["created", "updated", "ended"]
    assert versions[0]["patch"] is None
    for before, after in itertools.pairwise(versions):
        patched = jsonpatch.apply_patch(before["disruption"], after["patch"])
        assert patched == after["disruption"]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_as_of_and_history(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store:
        ident = await publish_three(store)
        await check_answers(store, ident)
        live, _ = await store.query(Query())
        now_answer, _ = await store.as_of(Query(), t(8, 0))
        # Everything but `last_seen` (the live list stamps the latest poll; a version its own).
        assert [d.replace(last_seen=live[0].last_seen) for d in now_answer] == live
        assert await store.history_count() == 4


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_after_retention_from_archive(kind: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    async with open_store(kind, tmp_path, history_retention=3600, archive_dir=archive) as store:
        ident = await publish_three(store)
        await store.expire(t(9, 0))  # same day: nothing archived, nothing older than an hour pruned
        assert not (archive / "manifest.json").exists()
        # Next day: the day's file is written, then the versions past retention leave the store.
        await store.expire(t(12, 0, day=1))
        manifest = json.loads((archive / "manifest.json").read_text())
        day = manifest["days"]["2026-11-25"]
        lines = gzip.decompress((archive / day["file"]).read_bytes()).decode().splitlines()
        assert day["versions"] == len(lines) == 4
        assert await store.history_count() < 4
        await check_answers(store, ident)
        assert not list(archive.glob(".*.tmp"))


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_without_archive_old_times_are_refused(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path, history_retention=3600) as store:
        await publish_three(store)
        await store.expire(t(12, 0, day=1))
        with pytest.raises(HistoryGone):
            await store.as_of(Query(), t(7, 42))
        # Recent times still answer from the store.
        items, _ = await store.as_of(Query(), t(11, 30, day=1))
        assert [d.header["sv"] for d in items] == ["Vägarbete Essingeleden"]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_batch_stamped_earlier_than_the_last_version_keeps_history_consistent(
    kind: str, tmp_path: Path
) -> None:
    """Two sources' clocks differ: a change stamped before the item's last version."""
    async with open_store(kind, tmp_path) as store:
        await store.apply(batch([item("A1", t(7, 45), header="från klocka A")], t(7, 45), complete=False))
        late = item("A1", t(7, 44), header="från klocka B", updated_at=t(7, 46))
        await store.apply(batch([late], t(7, 44), complete=False))
        versions = await store.history("demo:A1")
        assert [v.disruption.header["sv"] for v in versions] == ["från klocka A", "från klocka B"]
        # Never two versions of one id at once: at any time one answer or none.
        for minute in (43, 44, 45, 46):
            items, _ = await store.as_of(Query(), t(7, minute))
            assert len(items) <= 1
        assert (await headers_at(store, t(7, 46)))["demo:A1"] == "från klocka B"
