"""One sequence of store changes seen through every channel with the same filter.

SSE, WebSocket, a webhook, the bot's rules and a client polling the list API all ask for
`mode=metro,ferry` (region: home) and must see the same items with the same event types
(docs/api.md "Events"): `created` when an item first matches, `updated` while it matches,
`ended` once when it ends or stops matching, nothing for what never matched (a road item,
a ferry warning outside the home region). GTFS-RT, fetched with the same filter after every
step, holds exactly the items the events say are current, as the list does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.transit import gtfs_realtime_pb2
from pushutil import hub_caught_up, read_events
from storeutil import batch, item
from webhookutil import cleanup_redis, make_key, receiver, register, running, settings_for, until

from travelinfo.app import HUB
from travelinfo.bot.rules import Rules, decide, material_checksum
from travelinfo.bot.state import Thread
from travelinfo.model import Disruption
from travelinfo.store.base import Store

BOTH = frozenset({"web", "deliver"})
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
CITY = {"type": "Point", "coordinates": [18.07, 59.33]}
BOTHNIAN_BAY = {"type": "Point", "coordinates": [23.2, 65.1]}  # far outside the home region
Step = list[tuple[str, str]]  # (event type, upstream id)


def x(uid: str, n: int, **kw: Any) -> Disruption:
    """Version `n` of item `uid` (each version newer than the last)."""
    at = T0 + timedelta(minutes=n)
    return item(uid, at, source="x", updated_at=at, **kw)


# (items to write, ids ended upstream) per step; header changes make every write a material change.
STEPS: list[tuple[list[Disruption], list[str]]] = [
    (
        [
            x("m1", 1, modes=("metro",), geometry=CITY, header="Röda linjen 14: signalfel"),
            x("f1", 1, modes=("ferry",), geometry=CITY, header="Vaxholmsbåten: inställd"),
            x("f2", 1, modes=("ferry",), geometry=BOTHNIAN_BAY, header="Färja Luleå: inställd"),
            x("r1", 1, modes=("road",), geometry=CITY, header="E4: olycka"),
            x("b1", 1, modes=("bus",), geometry=CITY, header="Buss 4: omledd"),
        ],
        [],
    ),
    (
        [
            x("m1", 2, modes=("metro",), geometry=CITY, header="Röda linjen 14: stopp", severity="SEVERE"),
            x("r1", 2, modes=("road",), geometry=CITY, header="E4: olycka, kö"),
            x("f2", 2, modes=("ferry",), geometry=BOTHNIAN_BAY, header="Färja Luleå: inställd i dag"),
        ],
        [],
    ),
    (  # m1 is re-classified as a replacement bus: it stops matching
        [
            x("m1", 3, modes=("bus",), geometry=CITY, header="Ersättningsbussar för röda linjen"),
            x("f1", 3, modes=("ferry",), geometry=CITY, header="Vaxholmsbåten: inställd, buss ersätter"),
        ],
        [],
    ),
    (  # nothing here matches: no event anywhere
        [x("m1", 4, modes=("bus",), geometry=CITY, header="Ersättningsbussar, tätare")],
        ["x:r1", "x:f2"],
    ),
    ([], ["x:f1", "x:m1"]),  # f1 ends (held: ended); m1 ends (ended for us already: nothing)
    ([x("b1", 6, modes=("bus", "metro"), geometry=CITY, header="Buss 4 och tunnelbana")], []),
    ([x("zz", 7, modes=("metro",), geometry=CITY, header="Sentinel")], []),  # the last event everywhere
]
EXPECTED: list[Step] = [
    [("created", "m1"), ("created", "f1")],
    [("updated", "m1")],
    [("ended", "m1"), ("updated", "f1")],
    [],
    [("ended", "f1")],
    [("created", "b1")],
    [("created", "zz")],
]
FLAT = [e for step in EXPECTED for e in step]


def key(event: dict[str, Any]) -> tuple[str, str]:
    d = event["disruption"]
    assert d["id"] == event["id"]
    # The embedded disruption says what the event says: `ended` carries status ended, others not.
    assert (d["status"] == "ended") == (event["type"] == "ended"), event
    assert "road" not in d["modes"] and d["geometry"] != BOTHNIAN_BAY, event
    return event["type"], event["id"].removeprefix("x:")


async def apply_step(store: Store, n: int) -> None:
    items, ended = STEPS[n]
    at = T0 + timedelta(minutes=n + 1, seconds=30)
    await store.apply(batch(items, at, source="x", complete=False, ended=ended))


def bot_events(rules: Rules, changes: list[Any]) -> list[tuple[str, str]]:
    """What the bot's rules decide for the log, as event types (its threads play `held`)."""
    threads: dict[str, Thread] = {}
    out = []
    now = datetime.now(UTC)
    for c in changes:
        d = c.disruption
        action = decide(c.type, d, threads.get(d.id), rules, now)
        if action == "new":
            threads[d.id] = Thread(d.id, last="post", checksum=material_checksum(d))
        elif action == "update":
            threads[d.id] = replace(threads[d.id], checksum=material_checksum(d))
        elif action == "end":
            threads[d.id] = replace(threads[d.id], ended=True)
        kind = {"new": "created", "update": "updated", "end": "ended"}.get(action)
        if kind:
            out.append((kind, d.id.removeprefix("x:")))
    return out


def held_after(n: int) -> list[str]:
    """The items a `mode=metro,ferry` subscriber holds after step `n` (from EXPECTED)."""
    held: set[str] = set()
    for step in EXPECTED[: n + 1]:
        for kind, uid in step:
            if kind == "ended":
                held.discard(uid)
            else:
                held.add(uid)
    return sorted(f"x:{uid}" for uid in held)


async def api_ids(http: aiohttp.ClientSession, url: str, query: str) -> list[str]:
    async with http.get(f"{url}/api/v1/disruptions?{query}") as resp:
        assert resp.status == 200
        return sorted(d["id"] for d in (await resp.json())["disruptions"])


async def gtfsrt_ids(http: aiohttp.ClientSession, url: str, query: str) -> list[str]:
    """The entity ids of `/gtfs-rt/alerts.pb` with the same filter (the FeedMessage, decoded)."""
    async with http.get(f"{url}/gtfs-rt/alerts.pb?{query}") as resp:
        assert resp.status == 200 and resp.content_type == "application/x-protobuf"
        msg = gtfs_realtime_pb2.FeedMessage()
        msg.ParseFromString(await resp.read())
    return [e.id for e in msg.entity]


def api_diff(before: dict[str, Any], after: dict[str, Any]) -> Step:
    """The events a polling client infers from two pages of the list."""
    out: Step = [("created", i) for i in after if i not in before]
    out += [("updated", i) for i in after if i in before and after[i] != before[i]]
    out += [("ended", i) for i in before if i not in after]
    return [(t, i.removeprefix("x:")) for t, i in out]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_five_channels_one_semantics(kind: str, tmp_path: Path) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    settings.api.rate_per_ip = 0
    async with (
        cleanup_redis(prefix),
        receiver() as rx,
        running(settings, BOTH) as app,
        aiohttp.ClientSession() as http,
    ):
        store, hub = app.store, app.app[HUB]
        token = await make_key(store, ["webhooks"])
        await register(http, app.url, token, rx.url("/both"), filters={"mode": ["metro", "ferry"]})
        await register(http, app.url, token, rx.url("/metro"), filters={"mode": "metro"})
        start = await store.last_seq()
        sse = await http.get(app.url + "/api/v1/stream?mode=metro,ferry")
        sse_metro = await http.get(app.url + "/api/v1/stream?mode=metro")
        ws = await http.ws_connect(app.url + "/api/v1/ws")
        await ws.send_json({"subscribe": {"mode": "metro,ferry"}})
        await until(lambda: hub.subscribers == 3, what="three push subscribers")

        async def sse_until_sentinel(resp: aiohttp.ClientResponse) -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            while not got or got[-1]["id"] != "x:zz":
                got += [e.data for e in await read_events(resp, 1, timeout=20)]
            return got

        async def ws_until_sentinel() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            while not got or got[-1]["id"] != "x:zz":
                got.append(json.loads(await ws.receive_str(timeout=20)))
            return got

        readers = [
            asyncio.create_task(sse_until_sentinel(sse)),
            asyncio.create_task(sse_until_sentinel(sse_metro)),
            asyncio.create_task(ws_until_sentinel()),
        ]
        polled: list[Step] = []
        page: dict[str, Any] = {}
        for n in range(len(STEPS)):
            await apply_step(store, n)
            await hub_caught_up(app.app)
            async with http.get(app.url + "/api/v1/disruptions?mode=metro,ferry") as resp:
                assert resp.status == 200
                now_page = {d["id"]: d for d in (await resp.json())["disruptions"]}
            polled.append(api_diff(page, now_page))
            page = now_page
            # GTFS-RT with the same filter holds the same items as the list, after every step.
            for query in ("mode=metro,ferry", "mode=metro"):
                assert await gtfsrt_ids(http, app.url, query) == await api_ids(http, app.url, query), (
                    n,
                    query,
                )
        sse_got, metro_got, ws_got = await asyncio.gather(*readers)
        # A client resuming from before the sequence replays the log: the same story again.
        late = await http.get(app.url + "/api/v1/stream?mode=metro,ferry", headers={"Last-Event-ID": start})
        replayed = await sse_until_sentinel(late)
        late.close()
        sse.close()
        sse_metro.close()
        await ws.close()

        def hook(path: str) -> Callable[[], list[dict[str, Any]]]:
            return lambda: [json.loads(h.body) for h in rx.hits if h.path == path]

        await until(lambda: any(e["id"] == "x:zz" for e in hook("/both")()), what="webhook sentinel")
        await until(lambda: any(e["id"] == "x:zz" for e in hook("/metro")()), what="webhook sentinel")
        log = (await store.changes_since(start)).changes
        rules = Rules(
            min_severity="UNKNOWN_SEVERITY", modes=frozenset({"metro", "ferry"}), region=settings.region_bbox
        )

        assert [key(e) for e in sse_got] == FLAT
        assert [key(e) for e in ws_got] == FLAT
        assert [key(e) for e in replayed] == FLAT
        assert [key(e) for e in hook("/both")()] == FLAT
        assert bot_events(rules, list(log)) == FLAT
        # The list API, polled after every step, tells the same story (a page has no order of events).
        assert [sorted(step) for step in polled] == [sorted(step) for step in EXPECTED]
        # A metro-only subscriber never hears of the road, ferry or outside-the-region items.
        metro = [("created", "m1"), ("updated", "m1"), ("ended", "m1"), ("created", "b1"), ("created", "zz")]
        assert [key(e) for e in metro_got] == metro
        assert [key(e) for e in hook("/metro")()] == metro
        # The store itself did write events for everything (the channels filtered them).
        assert {c.id for c in log} == {"x:m1", "x:f1", "x:f2", "x:r1", "x:b1", "x:zz"}
        assert sum(1 for c in log if c.id == "x:m1" and c.type == "ended") == 1


async def test_a_subscription_older_than_held_still_gets_its_ended(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with receiver() as rx, running(settings, BOTH) as app, aiohttp.ClientSession() as http:
        store = app.store
        token = await make_key(store, ["webhooks"])
        await apply_step(store, 0)  # m1 (metro) is active before the subscription's engine starts
        sub = await register(http, app.url, token, rx.url("/old"), filters={"mode": "metro"})
        record = await store.get_record("webhook", sub["id"])
        assert record is not None and record.pop("start_held") == ["x:m1"]
        await store.delete_record("webhook_state", sub["id"])
        await store.put_record("webhook", sub["id"], record)  # as registered by an older release
        # A road change the subscription skips: its state (with what it holds) is then saved.
        await store.apply(
            batch([x("r1", 9, modes=("road",), header="E4: röjning")], T0, source="x", complete=False)
        )
        for _ in range(200):
            state = await store.get_record("webhook_state", sub["id"])
            if state and "held" in state:
                break
            await asyncio.sleep(0.05)
        assert state and state["held"] == ["x:m1"]
        await store.apply(batch([], T0 + timedelta(hours=1), source="x", complete=False, ended=["x:m1"]))
        await until(lambda: len(rx.hits) == 1, what="the ended event")
        body = json.loads(rx.hits[0].body)
        assert (body["type"], body["id"], body["disruption"]["status"]) == ("ended", "x:m1", "ended")
