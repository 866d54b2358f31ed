"""The home region: every item is stored, the Stockholm outputs show what concerns Stockholm."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from storeutil import batch, item

from travelinfo.app import STORE
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Query

pytestmark = pytest.mark.timeout(60)


async def test_far_away_warnings_are_stored_but_not_on_stockholm_outputs(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = open_store_from_url(f"sqlite:///{tmp_path / 'r.db'}")
    furusund = item(
        "furusund",
        now,
        modes=["shipping"],
        header="Furusund: lightbuoy off position",
        geometry={"type": "Point", "coordinates": [18.92, 59.66]},
    )
    bothnia = item(
        "bothnia",
        now,
        modes=["shipping"],
        header="Bothnian Bay: drifting ice",
        geometry={"type": "Point", "coordinates": [23.0, 65.0]},
    )
    nowhere = item("nogeo", now, modes=["shipping"], header="All Swedish waters: GNSS interference")
    async with running_app(store) as srv, aiohttp.ClientSession() as http:
        await srv.app[STORE].apply(batch([furusund, bothnia, nowhere], now))
        stored, _ = await srv.app[STORE].query(Query())
        assert {d.upstream_id for d in stored} == {"furusund", "bothnia", "nogeo"}
        for path in ("/?lang=en", "/feeds/disruptions.atom?lang=en", "/feeds/disruptions.rss?lang=en"):
            async with http.get(srv.url + path) as r:
                text = await r.text()
            assert "Furusund" in text and "GNSS" in text, path
            assert "Bothnian" not in text, path
        async with http.get(srv.url + "/api/v1/disruptions") as r:
            ids = {d["upstream_id"] for d in (await r.json())["disruptions"]}
        assert ids == {"furusund", "nogeo"}, "the API's default is the home region too"
        async with http.get(srv.url + "/api/v1/disruptions?region=all") as r:
            ids = {d["upstream_id"] for d in (await r.json())["disruptions"]}
        assert ids == {"furusund", "nogeo", "bothnia"}, "and it can still ask for all"
        async with http.get(srv.url + "/api/v1/disruptions?region=mars") as r:
            assert r.status == 400 and (await r.json())["parameter"] == "region"
