"""Typed post claims (`claim:<key>`): settled ones honoured, unreadable ones taken over, no crash."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from storeutil import open_store

from travelinfo.bot.social import Recorder
from travelinfo.bot.state import POST, Claim, ClaimBusy, Poster, Records
from travelinfo.bot.text import Draft
from travelinfo.store import records as store_records
from travelinfo.store.records import RecordInvalid

pytestmark = pytest.mark.timeout(60)
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    store_records._logged.clear()
    async with open_store(request.param, tmp_path) as s:
        yield s


async def test_claims_settled_busy_and_unreadable(store, caplog) -> None:
    net = Recorder()
    poster = Poster(Records(store), net, holder="this-host:1:boot", visibility="public", claim_ttl=120)
    draft = Draft("Röda linjen 14: inga tåg", "sv")

    first = await poster.send("k1", draft, None, "sl:14", "new", NOW)
    assert first == f"{net.prefix}1" and await poster.posted("k1") == (True, first)
    assert await poster.send("k1", draft, None, "sl:14", "new", NOW) == first, "posted once"
    stored = Claim.from_json(await store.get_record(POST, "claim:k1"))
    assert (stored.state, stored.status_id, stored.holder, stored.disruption) == (
        "posted",
        first,
        "this-host:1:boot",
        "sl:14",
    )

    busy = Claim("k2", "sl:7", "new", "other-host:99:boot", NOW.timestamp() - 5).to_json()
    await store.put_record(POST, "claim:k2", busy)
    with pytest.raises(ClaimBusy, match="other-host"):
        await poster.send("k2", draft, None, "sl:7", "new", NOW)
    assert await poster.posted("k2") == (False, None)

    # Left by an older release or a hand edit: unreadable, so taken over as stale (the same
    # Idempotency-Key lets the server answer with the first status if it had one).
    await store.put_record(POST, "claim:k3", {"key": "k3", "state": "sent?", "claimed_at": "soon"})
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        assert await poster.posted("k3") == (False, None)
        third = await poster.send("k3", draft, None, "sl:80", "new", NOW)
    assert third == f"{net.prefix}2" and [p["key"] for p in net.posts] == ["k1", "k3"]
    assert Claim.from_json(await store.get_record(POST, "claim:k3")).state == "posted"
    assert ["claim:k3" in r.getMessage() for r in caplog.records] == [True], "logged once"
    with pytest.raises(RecordInvalid, match="'state' is 'maybe'"):
        Claim.from_json({"key": "k", "state": "maybe"})
