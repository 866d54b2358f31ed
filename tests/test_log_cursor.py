"""One log cursor for the hub, the bot and webhook delivery; a replaced store is not replayed.

"Replaced" is what an operator meets when Redis lost its data or the SQLite file was swapped:
the store has a new epoch and a new log, while the records (subscriptions, their states, the
bot's cursor) may have come back from a backup. Readers must continue at the new log's end:
neither the new log's history nor old positions are sent again.
"""

from __future__ import annotations

import ast
import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from storeutil import REDIS_URL, batch, item, redis_cleanup
from webhookutil import cleanup_redis, events, make_key, receiver, register, running, settings_for, until

from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Recorder
from travelinfo.bot.state import POST
from travelinfo.bot.state import STATE as BOT_STATE
from travelinfo.config import Settings
from travelinfo.model import Affected, Period
from travelinfo.push.hub import ChangeHub
from travelinfo.store import make_store, open_store_from_url
from travelinfo.store.base import Store
from travelinfo.store.cursor import LogCursor
from travelinfo.store.groups import ConsumerGroups
from travelinfo.webhooks.delivery import KIND, STATE
from travelinfo.webhooks.feed import CursorFeed, GroupFeed, make_feed

KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]
ROOT = Path(__file__).resolve().parent.parent / "travelinfo"
T0 = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


async def replace_data(
    settings: Settings, kind: str, prefix: str, tmp_path: Path, kinds: tuple[str, ...]
) -> Store:
    """Replace the store's data (Redis: every key gone; SQLite: a new file), then put back the
    records of `kinds` as a restore from a backup would; returns the new store, open."""
    old = make_store(settings)
    await old.open()
    saved = {k: await old.list_records(k) for k in kinds}
    epoch = await old.epoch()
    await old.close()
    if kind == "sqlite":
        for f in await asyncio.to_thread(lambda: list(tmp_path.glob("store.db*"))):
            f.unlink()
    else:
        await redis_cleanup(prefix)
    new = make_store(settings)
    await new.open()
    assert await new.epoch() != epoch, "the replaced store has a new epoch"
    for k, records in saved.items():
        for rec in records:
            await new.put_record(k, str(rec.get("id") or "cursor"), rec)
    return new


def test_the_three_readers_read_the_log_through_one_cursor_class() -> None:
    # The readers that tail the log (hub, bot, webhooks) go through store/cursor.py (and the
    # consumer groups, a store capability): none can grow its own reset or epoch handling.
    # Replaying from a position a client sends (SSE Last-Event-ID, SIRI `since`) is a one-shot
    # paged read answered by the store; those two are the only other readers.
    client_replays = {"push/stream.py", "standards/routes.py"}
    readers = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("store/") or rel in client_replays:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("changes_since", "wait_for_change"):
                readers.append(rel)
    assert readers == [], f"modules reading the change log past LogCursor: {readers}"


@pytest.mark.parametrize("kind", KINDS)
async def test_hub_bot_and_feeds_hold_a_log_cursor(kind: str, tmp_path: Path) -> None:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    url = _sqlite(tmp_path) if kind == "sqlite" else f"{REDIS_URL}?prefix={prefix}"
    store = open_store_from_url(url) if kind == "sqlite" else open_store_from_url(REDIS_URL, prefix=prefix)
    await store.open()
    try:
        hub = ChangeHub(store)
        bot = Bot(Settings(), store, Recorder())
        feed = make_feed(store, "w1", "engine-a", "0")
        assert isinstance(hub.cursor, LogCursor)
        assert isinstance(bot.cursor, LogCursor)
        assert isinstance(feed, (CursorFeed, GroupFeed)) and isinstance(feed.cursor, LogCursor)
        # Consumer groups are a capability the store has or not, not a peek at its client.
        assert isinstance(store, ConsumerGroups) == (kind == "redis")
        assert isinstance(feed, GroupFeed) == (kind == "redis")
    finally:
        await store.close()
        if kind == "redis":
            await redis_cleanup(prefix)


@pytest.mark.parametrize("kind", KINDS)
async def test_cursor_jumps_to_the_new_log_when_the_epoch_changes(kind: str, tmp_path: Path) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    async with cleanup_redis(prefix):
        store = make_store(settings)
        await store.open()
        cursor = LogCursor(store, "test")
        await cursor.attach()
        first = await events(store, 3, "old")
        got = await cursor.read()
        assert [c.seq for c in got.changes] == [c.seq for c in first] and got.reset is None
        saved = cursor.to_json()
        await store.close()

        new = await replace_data(settings, kind, prefix, tmp_path, ())
        try:
            history = await events(new, 4, "history")
            # A reader coming back with its saved position skips the new log's history...
            again = LogCursor(new, "test")
            assert await again.attach(saved) == "replaced"
            assert (await again.read()).changes == ()
            later = await events(new, 2, "new")
            assert [c.seq for c in (await again.read()).changes] == [c.seq for c in later]
            # ...and a running reader (same store object, data replaced under it) as well.
            if kind == "redis":
                await redis_cleanup(prefix)
                await events(new, 2, "lost")
                assert (await again.read()).reset == "replaced"
                fresh = await events(new, 1, "fresh")
                assert [c.seq for c in (await again.read()).changes] == [c.seq for c in fresh]
            assert history  # the history existed and was not read
        finally:
            await new.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_webhooks_continue_with_new_events_after_the_store_was_replaced(
    kind: str, tmp_path: Path
) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    async with cleanup_redis(prefix), receiver() as rx, aiohttp.ClientSession() as http:
        async with running(settings, frozenset({"web", "deliver"})) as first:
            token = await make_key(first.store, ["webhooks"])
            sub = await register(http, first.url, token, rx.url("/hook"))
            before = await events(first.store, 2, "before")
            await until(lambda: set(rx.seqs("/hook")) >= {c.seq for c in before}, what="first deliveries")
            # The cursor is saved after the receiver answered: wait for it, do not race it.
            for _ in range(500):
                state = await first.store.get_record(STATE, sub["id"])
                if state is not None and state.get("cursor") == before[-1].seq:
                    break
                await asyncio.sleep(0.02)
            assert state is not None and state["cursor"] == before[-1].seq and state["epoch"]

        new = await replace_data(settings, kind, prefix, tmp_path, (KIND, STATE))
        try:
            history = await events(new, 3, "history")
        finally:
            await new.close()
        hits_before = len(rx.hits)
        async with running(settings, frozenset({"deliver"})) as second:
            epoch = await second.store.epoch()
            states: list[dict[str, Any] | None] = [None]

            async def moved() -> bool:
                states[0] = await second.store.get_record(STATE, sub["id"])
                return bool(states[0] and states[0].get("epoch") == epoch)

            # The engine notices the new data at its start; what happens after that is new.
            for _ in range(500):
                if await moved():
                    break
                await asyncio.sleep(0.02)
            assert states[0] is not None and states[0]["epoch"] == epoch, states[0]
            after = await events(second.store, 2, "after")
            await until(lambda: set(rx.seqs("/hook")) >= {c.seq for c in after}, what="new deliveries")
            state = await second.store.get_record(STATE, sub["id"])
            assert state is not None and state["epoch"] == await second.store.epoch()
        sent = [h.body for h in rx.hits[hits_before:]]
        ids = [c.id for c in history]
        replayed = [b for b in sent if any(i.encode() in b for i in ids)]
        assert not replayed, "history of the new log was replayed"
        assert [c.seq for c in after] == rx.seqs("/hook")[hits_before:]
        assert "replaced" in str(state.get("last_error")), "the skip is visible on the subscription"


def _bot_item(n: str, at: datetime) -> Any:
    return item(
        n,
        at,
        source="trafikverket",
        header=f"E4 avstängd {n}",
        severity="SEVERE",
        periods=(Period(T0 - timedelta(minutes=10), T0 + timedelta(hours=3)),),
        affected=(Affected("road", "E4", "Södertäljevägen"),),
    )


async def _post(store: Store, name: str) -> None:
    await store.apply(batch([_bot_item(name, T0)], T0, source="trafikverket", complete=False))


@pytest.mark.parametrize("kind", KINDS)
async def test_bot_continues_with_new_events_after_the_store_was_replaced(kind: str, tmp_path: Path) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    settings.bot.second_language = ""
    async with cleanup_redis(prefix):
        store = make_store(settings)
        await store.open()
        net = Recorder()
        bot = Bot(settings, store, net, clock=lambda: T0)
        await bot.load()
        await _post(store, "old")
        assert await bot.step() == 1
        await store.close()

        new = await replace_data(settings, kind, prefix, tmp_path, (BOT_STATE, POST))
        try:
            for n in ("h1", "h2", "h3"):
                await _post(new, n)  # the new log's history
            net2 = Recorder()
            bot2 = Bot(settings, new, net2, clock=lambda: T0)
            assert await bot2.step() == 0, [p["text"] for p in net2.posts]
            await _post(new, "fresh")
            assert await bot2.step() == 1
            assert [p["text"].split("\n")[0] for p in net2.posts] == ["E4 avstängd fresh"]
            rec = await new.get_record(BOT_STATE, "cursor")
            assert rec is not None and rec["epoch"] == await new.epoch()
            if kind == "redis":  # the data replaced under the running bot: no replay either
                await redis_cleanup(prefix)
                await new.put_record(BOT_STATE, "cursor", rec)
                await _post(new, "h4")
                assert await bot2.step() == 0
                await _post(new, "fresh2")
                assert await bot2.step() == 1
                assert net2.posts[-1]["text"].split("\n")[0] == "E4 avstängd fresh2"
        finally:
            await new.close()
