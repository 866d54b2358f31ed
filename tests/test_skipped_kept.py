"""A record the parser had to skip is not one the upstream removed: a full snapshot keeps it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from storeutil import item, open_store

from travelinfo.ingest.parsers.vet import Skips, vet_batch
from travelinfo.model import Batch


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_complete_snapshot_does_not_end_skipped_items(kind: str, tmp_path: Path, now) -> None:
    async with open_store(kind, tmp_path) as store:
        a, b, c = (item(x, now) for x in ("A", "B", "C"))
        await store.apply(Batch("demo", now, (a, b, c), complete=True))
        later = now + timedelta(minutes=1)
        # B could not be read this time (kept), C really vanished.
        changes = await store.apply(Batch("demo", later, (a,), complete=True, skipped=1, kept=(b.id,)))
        assert [(ch.type, ch.id) for ch in changes] == [("ended", c.id)]
        stored_b = await store.get(b.id)
        assert stored_b is not None and stored_b.status == "active"


def test_vet_keeps_kind_mismatch_and_the_ids_it_skips(now) -> None:
    skips = Skips()
    assert skips.guard("entity 'X'", lambda: int("x"), keep="demo:X") is None
    batch = Batch("demo", now, (), complete=True, kind_mismatch="trip updates", kept=tuple(skips.kept))
    vetted = vet_batch(batch)
    assert vetted.kind_mismatch == "trip updates"
    assert vetted.kept == ("demo:X",)
