"""The bot's typed state (`bot_state` cursor, `bot_post` threads) over real stores: records an
older release wrote still drive the bot, and unreadable ones neither crash it nor post twice."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from storeutil import batch, item, open_store

from tests.botutil import PUBLIC_URL, bot_settings
from travelinfo.bot.rules import material_checksum
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Recorder
from travelinfo.bot.state import POST, STATE, BotState
from travelinfo.store import records as store_records

pytestmark = pytest.mark.timeout(60)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "records" / "golden.json").read_text())
ID = "demo:e4"


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    store_records._logged.clear()
    async with open_store(request.param, tmp_path) as s:
        yield s


def _bot(store: Any, net: Recorder) -> Bot:
    return Bot(bot_settings("http://127.0.0.1:9", second_language=""), store, net, clock=lambda: T0)


async def test_records_of_the_first_release_carry_the_thread_on(store) -> None:
    net = Recorder()
    bot = _bot(store, net)
    await bot.load()
    await store.apply(batch([item("e4", T0)], T0, complete=False))
    assert await bot.step() == 1
    first = net.posts[0]["id"]
    cursor = await store.get_record(STATE, "cursor")
    # As the first release stored them: no digest, ending nor epoch; a thread without ended_at.
    old_state = {"seq": cursor["seq"], "sent": [T0.timestamp()], "digest_at": None,
                 "overflow": {"new": 2, "other": 1}, "pending": {}}  # fmt: skip
    old_thread = {"type": "thread", "id": ID, "root": first, "last": first, "statuses": [first],
                  "checksum": (await store.get_record(POST, ID))["checksum"], "ended": False,
                  "updated": "2026-03-02T08:00:00Z"}  # fmt: skip
    await store.put_record(STATE, "cursor", old_state)
    await store.put_record(POST, ID, old_thread)

    severe = item("e4", T0, severity="SEVERE")
    await store.apply(batch([severe], T0, complete=False))
    bot = _bot(store, net)
    assert await bot.step() == 2  # the reply, and the digest of what the old record held back
    second, digest = net.posts[1:]
    assert second["in_reply_to"] == first, "the reply is in the old thread"
    assert (digest["in_reply_to"], digest["text"]) == (
        None,
        f"2 fler störningar och 1 uppdatering: {PUBLIC_URL}/",
    )
    assert await store.get_record(POST, ID) == {
        **old_thread,
        "last": second["id"],
        "statuses": [first, second["id"]],
        "checksum": material_checksum(severe),
        "ended_at": None,
        "cancelled": False,
        "cancellation": False,
        "digested": False,
    }
    assert await store.get_record(STATE, "cursor") == {
        "seq": await store.last_seq(),
        "sent": [T0.timestamp(), T0.timestamp()],  # the digest does not count in the budget
        "digest_at": T0.timestamp(),
        "overflow": {"new": 0, "other": 0},
        "pending": {},
        "digest": [],
        "ending": {},
        "epoch": await store.epoch(),
    }


async def test_golden_state_and_threads_load_from_the_store_unchanged(store) -> None:
    for i, case in enumerate(GOLDEN["BotState"]):
        await store.put_record(STATE, f"s{i}", case["stored"])
        got = BotState.from_json(await store.get_record(STATE, f"s{i}"))
        assert got.to_json() == case.get("encoded", case["stored"])
    for case in GOLDEN["Thread"]:
        await store.put_record(POST, case["stored"]["id"], case["stored"])
    bot = _bot(store, Recorder())
    for case in GOLDEN["Thread"]:
        thread = await bot.records.thread(case["stored"]["id"])
        assert thread is not None and thread.to_json() == case.get("encoded", case["stored"])


async def test_unreadable_state_starts_over_and_an_unreadable_thread_posts_nothing(store, caplog) -> None:
    net = Recorder()
    bot = _bot(store, net)
    await bot.load()
    await store.apply(batch([item("e4", T0)], T0, complete=False))
    assert await bot.step() == 1
    good = await store.get_record(POST, ID)
    # Hand edits: a number where the cursor's seq text was, a status id that is a number.
    await store.put_record(STATE, "cursor", {"seq": 5, "overflow": "many"})
    await store.put_record(POST, ID, {**good, "last": 7, "statuses": "all"})
    await store.apply(batch([item("e4", T0, header="Olycka på E4 vid Hallunda")], T0, complete=False))
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        bot = _bot(store, net)
        assert await bot.step() == 0, "started over at the log's end: no history is posted"
        assert await bot.step() == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "travelinfo.store.records"]
    assert len(lines) == 1 and "bot_state record 'cursor'" in lines[0] and "field 'seq' is int" in lines[0]
    state = BotState.from_json(await store.get_record(STATE, "cursor"))
    assert state.seq == await store.last_seq() and state.epoch == await store.epoch()

    # The thread is still unreadable: the item's all-clear finds no thread, so nothing is
    # posted, and the record is left for the operator (logged once, not rewritten).
    caplog.clear()
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        await store.apply(batch([], T0, complete=True))  # the source no longer has it: ended
        assert await bot.step() == 0
    assert (await store.get(ID)).status == "ended"
    lines = [r.getMessage() for r in caplog.records if r.name == "travelinfo.store.records"]
    assert len(lines) == 1 and f"bot_post record {ID!r}" in lines[0] and "field 'last' is int" in lines[0]
    assert (await store.get_record(POST, ID))["statuses"] == "all"
    assert len(net.posts) == 1
