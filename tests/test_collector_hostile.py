"""Hostile and broken DATEX II payloads through a running collector: last good data stays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from storeutil import open_store
from upstream import Upstream, serve_upstream

from travelinfo.config import SourceConfig
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.store.base import Query

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(60)

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d2LogicalModel [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" modelBaseVersion="2"><exchange><supplierIdentification>
<country>se</country><nationalIdentifier>&secret;</nationalIdentifier></supplierIdentification></exchange>
</d2LogicalModel>"""
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0">&lol9;</d2LogicalModel>'
)


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    async with open_store(request.param, tmp_path) as s:
        yield s


async def test_hostile_payloads_keep_last_good_data_and_recover(store) -> None:
    good = sorted((ROOT / "feeds" / "trafikverket").glob("*.xml"))[0].read_bytes()
    up = Upstream(body=good)
    now = datetime.now(UTC)
    async with serve_upstream(up), aiohttp.ClientSession() as session:
        src = SourceConfig(
            "trafikverket", "datex2", up.url, interval=60, timeout=2, max_bytes=len(good) + 1000
        )
        runner = SourceRunner(HttpCollector(src, session, "datex2", lambda: None), store, clock=lambda: now)
        assert (await runner.poll()).ok
        before, _ = await store.query(Query())
        assert before
        truncated = good[: len(good) // 2]
        oversize = good + b"<!--" + b"x" * 5000 + b"-->"
        for name, body, reason in (
            ("xxe", XXE, "DTD"),
            ("bomb", BOMB, "DTD"),
            ("truncated", truncated, "malformed or truncated XML"),
            ("oversize", oversize, "exceeds the maximum"),
        ):
            up.body = body
            result = await runner.poll()
            assert not result.ok and reason in (result.error or ""), (name, result.error)
            assert "root:" not in (result.error or "")
            after, _ = await store.query(Query())
            assert after == before, f"{name}: the store must be unchanged"
            health = await store.get_record("health", "trafikverket")
            assert health["state"] == "failing", name
        up.body = good
        result = await runner.poll()
        assert result.ok
        assert (await store.get_record("health", "trafikverket"))["state"] == "ok"
        assert (await store.query(Query()))[0] == before
        assert runner.health.effective_state(now + timedelta(minutes=1)) == "ok"
