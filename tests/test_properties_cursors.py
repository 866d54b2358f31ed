"""Properties of the two cursors on a real store (SQLite, and Redis when it runs).

- The list cursor: for any filter and any page size, following `next_cursor` visits every
  item of the unpaged answer exactly once, in its order, and every cursor is the public form
  the API's parser accepts.
- The log cursor (`LogCursor`, the hub's, the bot's and webhook delivery's): read in pages of
  any size, with or without acknowledging each event, it yields the whole log once, in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties_filters import channel_queries, filled, filters  # noqa: F401  (the fixture)

from travelinfo.api import params as api_params
from travelinfo.model import Disruption
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Change, Query
from travelinfo.store.cursor import LogCursor

PROPS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Filled = tuple[str, dict[str, Any], list[Disruption]]


async def pages(url: str, kw: dict[str, Any], q: Query, size: int) -> tuple[list[str], list[str], list[str]]:
    """(every id of the unpaged answer, the ids page after page, the cursors seen)."""
    store = open_store_from_url(url, **kw)
    await store.open()
    try:
        whole, none = await store.query(q)
        assert none is None
        seen: list[str] = []
        cursors: list[str] = []
        cursor: str | None = None
        for _ in range(len(whole) + 2):  # bounded: a cursor that loops fails below
            page, cursor = await store.query(dataclasses.replace(q, limit=size, cursor=cursor))
            assert len(page) <= size
            seen += [d.id for d in page]
            if cursor is None:
                break
            cursors.append(cursor)
        return [d.id for d in whole], seen, cursors
    finally:
        await store.close()


@PROPS
@given(f=filters(), size=st.integers(1, 40))
def test_paging_visits_every_item_once_in_order(filled: Filled, f: dict[str, Any], size: int) -> None:  # noqa: F811
    url, kw, _ = filled
    whole, seen, cursors = asyncio.run(pages(url, kw, channel_queries(f)["list"], size))
    assert seen == whole
    assert len(cursors) == max(0, -(-len(whole) // size) - 1)  # one per page but the last
    for c in cursors:
        assert api_params.parse({"cursor": c}).query.cursor == c  # the public form, accepted as is


async def read_log(url: str, kw: dict[str, Any], limit: int, ack: bool) -> tuple[list[Change], list[Change]]:
    """(the whole log in one read, the log read through a LogCursor in pages of `limit`)."""
    store = open_store_from_url(url, **kw)
    await store.open()
    try:
        whole = list((await store.changes_since("0", 100_000)).changes)
        cursor = LogCursor(store, "property")
        assert await cursor.attach(seq="0") is None
        got: list[Change] = []
        for _ in range(len(whole) + 2):
            read = await cursor.read(limit, advance=not ack)
            assert read.reset is None and len(read.changes) <= limit
            if not read.changes:
                break
            for change in read.changes:
                got.append(change)
                if ack:
                    cursor.ack(change)
        last = await cursor.read(limit)
        assert last.changes == () and last.reset is None  # nothing further, no reset
        return whole, got
    finally:
        await store.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.integers(1, 80), ack=st.booleans())
def test_the_log_cursor_yields_the_whole_log_once_in_order(filled: Filled, limit: int, ack: bool) -> None:  # noqa: F811
    url, kw, _ = filled
    whole, got = asyncio.run(read_log(url, kw, limit, ack))
    assert len(whole) >= 60  # a `created` per item not ended on arrival
    assert [c.seq for c in got] == [c.seq for c in whole]
    assert [(c.type, c.id) for c in got] == [(c.type, c.id) for c in whole]
