"""Public warnings lead the API list (`/api/v1/disruptions` default order), as they lead pages and feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from storeutil import open_store

from travelinfo.model import Batch, Disruption, Period


def item(n: str, source_type: str, severity: str, age: int, categories: tuple[str, ...] = ()) -> Disruption:
    now = datetime.now(UTC) - timedelta(minutes=age)
    return Disruption(
        id=f"t:{n}",
        source="t",
        source_type=source_type,
        upstream_id=n,
        updated_at=now,
        first_seen=now,
        last_seen=now,
        status="active",
        modes=("road",),
        severity=severity,
        header={"sv": f"Störning {n}"},
        periods=(Period(now - timedelta(hours=1)),),
        categories=categories,
    )


ITEMS = [
    item("severe-new", "datex2", "SEVERE", 1),
    item("vma-info", "cap", "INFO", 30),  # a CAP warning of minor severity still leads
    item("warning", "datex2", "WARNING", 2),
    item("marked", "manual", "WARNING", 40, ("public_warning",)),  # an operator's public warning
    item("severe-old", "datex2", "SEVERE", 50),
]
EXPECTED = ["t:marked", "t:vma-info", "t:severe-new", "t:severe-old", "t:warning"]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_public_warnings_lead_and_paging_keeps_every_item_once(kind: str, tmp_path: Path) -> None:
    assert [d.public_warning for d in ITEMS] == [False, True, False, True, False]
    async with open_store(kind, tmp_path) as store, running_app(store) as app:
        await store.apply(Batch(source="t", fetched_at=datetime.now(UTC), items=tuple(ITEMS), complete=True))
        async with aiohttp.ClientSession() as s:
            async with s.get(app.url + "/api/v1/disruptions") as r:
                body = await r.json()
            # Warnings first (by severity, then newest), then every other item by the usual order.
            assert [d["id"] for d in body["disruptions"]] == EXPECTED
            seen, url = [], app.url + "/api/v1/disruptions?limit=1"
            while url:  # one item a page: the cursor crosses the warnings' boundary losing nothing
                async with s.get(url) as r:
                    assert r.status == 200
                    page = await r.json()
                seen += [d["id"] for d in page["disruptions"]]
                cursor = page["next_cursor"]
                url = f"{app.url}/api/v1/disruptions?limit=1&cursor={cursor}" if cursor else ""
            assert seen == EXPECTED
