"""Property: a filter of the one table selects the same items on every channel.

Hypothesis draws a filter (any rows of the table, each in the spelling its channel uses: the
query string of the list API and SSE, a WebSocket `subscribe` object, a webhook's JSON
`filters` as stored) and the same items must come out of each: the list as a real store
answers it (SQLite, and Redis when it runs), the push streams' and webhook delivery's
in-memory matching of the query they parse, and GTFS-RT's store query (the list's transit
items). The items are a fixed pool spanning modes, places, lines, roads, statuses and sources.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storeutil import REDIS_URL, batch, item, redis_cleanup

from travelinfo.api import params as api_params
from travelinfo.gtfsrt.render import PT_MODES
from travelinfo.gtfsrt.routes import feed_query
from travelinfo.model import MODES, SEVERITIES, STATUSES, Affected, Disruption, Period
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Query
from travelinfo.webhooks.delivery import query_of
from travelinfo.webhooks.routes import FILTERS as WEBHOOK_FILTERS
from travelinfo.webhooks.routes import parse_filters

AT = datetime.now(UTC).replace(microsecond=0)
HOME = (17.2, 58.6, 19.9, 60.4)
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GEOMETRIES: list[dict[str, Any] | None] = [
    {"type": "Point", "coordinates": [18.07, 59.33]},  # Slussen
    {"type": "Point", "coordinates": [18.35, 59.40]},  # Vaxholm
    {"type": "Point", "coordinates": [23.2, 65.1]},  # the Bothnian Bay: outside home
    {"type": "LineString", "coordinates": [[17.95, 59.30], [18.05, 59.36]]},
    None,
]
MODE_SETS = [
    ("metro",),
    ("tram",),
    ("bus",),
    ("ferry",),
    ("road",),
    ("shipping",),
    ("road", "bus"),
    ("unknown",),
]
AFFECTED = [
    [Affected("route", "14", "Fruängen–Mörby centrum")],
    [Affected("route", "7", None)],
    [Affected("road", "E4/E20", None)],
    [Affected("stop", "9001", "Slussen")],
    [Affected("area", "vaxholm", "Vaxholm")],
    [Affected("route", "80", "Sjövägen"), Affected("stop", "9002", "Nybroplan")],
    [],
]
HEADERS = [
    *("Röda linjen 14: signalfel", "Spårväg City: buss ersätter", "E4 Hallunda: olycka"),
    *("Hissen vid Slussen", "Vaxholmsbåten inställd", "Väg 274: vägarbete"),
]
SOURCES = ("sl", "trafikverket", "vma")
STATES = ("active", "planned", "ended")


def pool() -> list[tuple[str, Disruption]]:
    """(source, item) for 120 items mixing every dimension the filters read."""
    out = []
    for i in range(120):
        state = STATES[i % 3]
        start = AT + timedelta(days=2) if state == "planned" else AT - timedelta(hours=1 + i % 5)
        end = start + timedelta(hours=3 + i % 7) if i % 4 else None
        d = item(f"i{i}", AT, source=SOURCES[i % 3], header=HEADERS[i % 6], severity=SEVERITIES[i % 4],
                 modes=MODE_SETS[i % 8], geometry=GEOMETRIES[(i // 3) % 5], affected=AFFECTED[(i // 2) % 7],
                 periods=[Period(start, end)], ended=state == "ended")  # fmt: skip
        out.append((SOURCES[i % 3], d))
    return out


async def fill(url: str, **kw: Any) -> None:
    store = open_store_from_url(url, **kw)
    await store.open()
    try:
        for source in SOURCES:
            await store.apply(batch([d for s, d in pool() if s == source], AT, source=source))
    finally:
        await store.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def filled(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, Any], list[Disruption]]]:
    """A real store holding the pool: its URL, options, and every item as the store reads it."""
    with tempfile.TemporaryDirectory() as tmp:
        if request.param == "sqlite":
            url, kw = f"sqlite:///{Path(tmp) / 'store.db'}", {}
        else:
            # A prefix of its own: another suite on the same Redis (a parallel run, another
            # checkout) must not fill or clean up this one's keys.
            url, kw = REDIS_URL, {"prefix": f"test-props-{uuid.uuid4().hex[:12]}"}
        asyncio.run(fill(url, **kw))
        stored, _ = asyncio.run(query(url, kw, Query(status=())))
        try:
            yield url, kw, stored
        finally:
            if "prefix" in kw:
                asyncio.run(redis_cleanup(kw["prefix"]))


async def query(url: str, kw: dict[str, Any], q: Query) -> tuple[list[Disruption], str | None]:
    store = open_store_from_url(url, **kw)
    await store.open()
    try:
        return await store.query(q)
    finally:
        await store.close()


# -- strategies: one filter, as each channel spells it -----------------------------------------

BOXES = [
    (17.9, 59.2, 18.2, 59.4),
    (18.2, 59.4, 17.9, 59.2),
    (18.3, 59.35, 18.4, 59.45),
    (10.0, 55.0, 25.0, 70.0),
]
TEXTS = {
    "route": ["14", "röda linjen", "7", "Spårväg City", "80", "vaxholmsbåten", "1", "Fruängen–Mörby centrum"],
    "road": ["E4", "e 4", "E20", "274"],
    "stop": ["Slussen", "9001", "nybroplan"],
    "area": ["Vaxholm", "Slussen"],
    "q": ["slussen", "olycka", "sl:i4"],
    "search": ["14", "tram 7", "Slussen", "E4", "buss", "sjöfart"],
}


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    """A filter as a webhook's JSON (lists, numbers, booleans): the richest spelling."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["mode"] = draw(st.lists(st.sampled_from(MODES), min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        out["status"] = draw(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        out["source"] = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        out["severity"] = draw(st.sampled_from(SEVERITIES))
    if draw(st.integers(0, 3)) == 0:
        out["bbox"] = list(draw(st.sampled_from(BOXES)))
    if draw(st.integers(0, 3)) == 0:
        out["region"] = draw(st.sampled_from(["home", "all"]))
    if draw(st.integers(0, 4)) == 0:
        out["active_at"] = (AT + timedelta(hours=draw(st.integers(-6, 72)))).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, values in TEXTS.items():
        if draw(st.integers(0, 3)) == 0:
            out[name] = draw(st.sampled_from(values))
    if "route" in out and draw(st.booleans()):
        out["inferred"] = draw(st.booleans())
    return out


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def channel_queries(f: dict[str, Any]) -> dict[str, Query]:
    """The store query each channel reads from `f` in its own spelling and parser (webhooks
    take the rows that make sense for events: not `active_at`, `area`, `search`, `lang`)."""
    qs = {name: [as_text(v)] for name, v in f.items()}  # aiohttp's query.getall per name
    ws = {name: as_text(v) for name, v in f.items()}  # the `subscribe` object's strings
    rows = api_params.FILTERS
    out = {
        "list": api_params.parse(qs, allowed=rows + api_params.PAGING, home=HOME).query,
        "sse": api_params.parse(qs, allowed=rows + api_params.STREAM, home=HOME).query,
        "ws": api_params.parse(ws, allowed=rows, home=HOME).query,
    }
    if set(f) <= set(WEBHOOK_FILTERS):
        stored = json.loads(json.dumps(parse_filters(f)))  # as the webhook record is kept
        out["webhook"] = query_of(stored, HOME)
    return out


def ids(items: list[Disruption]) -> list[str]:
    return sorted(d.id for d in items)


@PROPS
@given(f=filters())
def test_a_filter_selects_the_same_items_on_every_channel(
    filled: tuple[str, dict[str, Any], list[Disruption]], f: dict[str, Any]
) -> None:
    url, kw, stored = filled
    qs = channel_queries(f)
    listed, cursor = asyncio.run(query(url, kw, qs["list"]))
    assert cursor is None  # no limit: one page
    expected = ids(listed)
    for name in set(qs) - {"list"}:
        assert ids([d for d in stored if qs[name].matches(d)]) == expected, name
    feed, _ = asyncio.run(query(url, kw, feed_query(qs["list"])))
    transit = ids([d for d in feed if PT_MODES.intersection(d.modes)])
    assert transit == ids([d for d in listed if PT_MODES.intersection(d.modes)]), "gtfs-rt"


def test_the_pool_is_wide_enough_for_the_property_to_mean_something(
    filled: tuple[str, dict[str, Any], list[Disruption]],
) -> None:
    url, kw, stored = filled
    assert len(stored) == 120 and {d.status for d in stored} == set(STATES)
    home = len(asyncio.run(query(url, kw, channel_queries({})["list"]))[0])
    assert home < len([d for d in stored if d.status != "ended"]), "the home region leaves some out"
    for f in (
        {"route": "14"},
        {"route": "röda linjen", "mode": ["metro"]},
        {"road": "E4"},
        {"stop": "Slussen"},
        {"bbox": [18.2, 59.4, 17.9, 59.2]},
        {"search": "tram 7"},
    ):
        found = asyncio.run(query(url, kw, channel_queries(f)["list"]))[0]
        assert 0 < len(found) < home, f"{f} selects some items, not all"
