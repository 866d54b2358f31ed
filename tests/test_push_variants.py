"""Clients of one filter share their filter state (one Query, one held-id set) and still each
get exactly their own events: live, resumed and unfiltered clients side by side."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apputil import Running, running_app
from hypothesis import given, settings
from hypothesis import strategies as st
from pushutil import hub_caught_up, read_events
from storeutil import batch, item, open_store
from waiting import streams_ready, wait_until

from travelinfo.config import Settings
from travelinfo.filters import events
from travelinfo.push.stream import PUSH, Feed
from travelinfo.push.variants import HELD_SETS, STEP_CACHE, Variants
from travelinfo.store.base import Change, Query, Store

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["sqlite", "redis"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Running, Store]]:
    async with open_store(request.param, tmp_path, log_retention=3600) as store:
        s = Settings()
        s.api.rate_per_ip = 0
        async with running_app(store, s) as r:
            await hub_caught_up(r.app)
            yield r, store


def feeds(r: Running) -> list[Feed]:
    return [c.feed for c in r.app[PUSH].clients if c.feed is not None]


async def test_clients_of_one_filter_share_state_and_get_their_own_events(
    served: tuple[Running, Store],
) -> None:
    r, store = served
    first = await store.apply(
        batch([item(f"s{k}", NOW, severity="SEVERE") for k in range(3)], NOW, complete=False)
    )
    await store.apply(batch([item("w0", NOW, severity="WARNING")], NOW, complete=False))
    await hub_caught_up(r.app)
    severe = r.url + "/api/v1/stream?severity=SEVERE"
    async with aiohttp.ClientSession() as s:
        live = [await s.get(severe) for _ in range(3)]
        plain = [await s.get(r.url + "/api/v1/stream") for _ in range(2)]
        # Resumes after the first SEVERE item: s1, s2 replayed (created), then back on the live log.
        resumed = await s.get(severe, headers={"Last-Event-ID": first[0].seq})
        replay = await read_events(resumed, 2)
        assert [(e.event, e.data["id"]) for e in replay] == [("created", "demo:s1"), ("created", "demo:s2")]
        await streams_ready(r.app, 6)
        # The resumed one is back on the live log once its replay read the log's end.
        await wait_until(lambda: all(isinstance(f.known, frozenset) for f in feeds(r)), what="replay end")
        by_filter: dict[Query, list[Feed]] = {}
        for feed in feeds(r):
            by_filter.setdefault(feed.query, []).append(feed)
        assert sorted(len(v) for v in by_filter.values()) == [2, 4]
        for group in by_filter.values():
            assert len({id(f.query) for f in group}) == 1  # one instance per filter
        sev = next(g for g in by_filter.values() if len(g) == 4)
        # The resumed client (ids s1, s2 learnt in the replay, s0 assumed held) shares them too.
        assert len({id(f.known) for f in sev}) == 1
        assert sev[0].known == {"demo:s0", "demo:s1", "demo:s2"}

        # s0 lowered (ended for the SEVERE clients, updated for the others), a SEVERE newcomer,
        # s1 ended upstream.
        await store.apply(
            batch([item("s0", NOW + timedelta(minutes=1), severity="WARNING")], NOW, complete=False)
        )
        await store.apply(batch([item("n", NOW, severity="SEVERE")], NOW, complete=False))
        await store.apply(batch([], NOW, ended=["demo:s1"], complete=False))
        for resp in [*live, resumed]:
            got = await read_events(resp, 3)
            assert [(e.event, e.data["id"]) for e in got] == [
                ("ended", "demo:s0"),
                ("created", "demo:n"),
                ("ended", "demo:s1"),
            ]
            assert [e.data["disruption"]["status"] for e in got] == ["ended", "active", "ended"]
        for resp in plain:
            got = await read_events(resp, 3)
            assert [(e.event, e.data["id"]) for e in got] == [
                ("updated", "demo:s0"),
                ("created", "demo:n"),
                ("ended", "demo:s1"),
            ]
        sev = [f for f in feeds(r) if f.query.severity is not None]
        assert len(sev) == 4 and len({id(f.known) for f in sev}) == 1
        assert sev[0].known == {"demo:s2", "demo:n"}
        for resp in [*live, *plain, resumed]:
            resp.close()


def _change(k: int, kind: str, ident: str, severity: str) -> Change:
    d = item(ident, NOW, severity=severity)
    if kind == "ended":
        d = d.replace(status="ended")
    return Change(seq=str(k + 1), type=kind, id=d.id, disruption=d, at=NOW)


CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["created", "updated", "ended"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["WARNING", "SEVERE"]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(CHANGES, st.sets(st.sampled_from(["demo:a", "demo:b", "demo:c"])), st.integers(0, 2**32))
def test_sharing_changes_no_clients_events(changes: list, start: set[str], seed: int) -> None:
    """Law: clients sharing held sets through `Variants.step`, in any order, get exactly the
    events and end with exactly the held ids a private set per client gives."""
    variants = Variants()
    queries = [Query(severity="SEVERE"), Query()]
    rng = random.Random(seed)
    clients = [(variants.query(queries[i % 2]), variants.share(frozenset(start))) for i in range(6)]
    private = [(q, set(start)) for q, _ in clients]
    for k, spec in enumerate(changes):
        change = _change(k, *spec)
        order = list(range(len(clients)))
        rng.shuffle(order)  # clients take a change in any order
        for i in order:
            query, held = clients[i]
            step = variants.step(held, change, query)
            clients[i] = (query, step.after)
            mine = private[i][1]
            if change.type == "created":
                mine.discard(change.disruption.id)
            want = events.track(change.type, change.disruption, query.matches, mine)
            assert (step.out and step.out.type) == (want and want.type)
            assert step.after == mine
    for q in queries:  # equal histories: one shared set per filter
        assert len({id(h) for query, h in clients if query == q}) == 1


def test_what_sharing_keeps_stays_bounded_over_a_long_day() -> None:
    """3,000 changes through two filters: the transitions and sets kept stay within their
    bounds, and clients of one filter still share one set at the end."""
    variants = Variants()
    queries = [variants.query(Query(severity="SEVERE")), variants.query(Query())]
    clients = [(queries[i % 2], variants.share(frozenset())) for i in range(4)]
    for k in range(3000):
        change = _change(k, "created" if k % 3 else "ended", f"i{k % 500}", "SEVERE")
        clients = [(q, variants.step(held, change, q).after) for q, held in clients]
    assert len(variants.steps) <= STEP_CACHE and len(variants.held) <= HELD_SETS
    assert len({id(h) for _, h in clients}) == 1  # both filters hold the same ids here
    # Each id's last change is k = 2500 + j: an `ended` when k is a multiple of 3.
    assert clients[0][1] == {f"demo:i{j}" for j in range(500) if (2500 + j) % 3}
