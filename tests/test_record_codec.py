"""The one record codec: main's stored JSON still reads and re-encodes the same, round trips for
every record class, and hostile stored JSON is a RecordInvalid that a listing skips."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storeutil import open_store

from travelinfo.api.keys import ApiKey
from travelinfo.bot.state import BotState, Claim, Thread
from travelinfo.notices.records import AuditEntry, Draft, Notice
from travelinfo.operator.sessions import SessionRecord
from travelinfo.store import records
from travelinfo.store.codec import MAX_TEXT
from travelinfo.store.records import RecordInvalid, list_typed
from travelinfo.webhooks.records import DeadLetter, DeliveryState, Subscription
from travelinfo.webpush.records import Held, PushState, PushSubscription, Queued

CLASSES: dict[str, Any] = {
    c.__name__: c
    for c in (
        Subscription,
        DeadLetter,
        DeliveryState,
        Notice,
        Draft,
        AuditEntry,
        ApiKey,
        Claim,
        SessionRecord,
        BotState,
        Thread,
        PushSubscription,
        Held,
        Queued,
        PushState,
    )
}
GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "records" / "golden.json").read_text())
CASES = [(name, case) for name, cases in GOLDEN.items() if name != "_about" for case in cases]


def test_golden_covers_every_class() -> None:
    assert {name for name, _ in CASES} == set(CLASSES)


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_main_stored_json_reads_and_reencodes_the_same(name: str, case: dict[str, Any]) -> None:
    rec = CLASSES[name].from_json(case["stored"])
    out = rec.to_json()
    assert out == case.get("encoded", case["stored"])
    assert json.dumps(out, sort_keys=True) == json.dumps(case.get("encoded", case["stored"]), sort_keys=True)
    assert CLASSES[name].from_json(out) == rec


TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
TEXT = st.text(max_size=20)
JSONISH = st.dictionaries(TEXT, st.one_of(st.none(), st.booleans(), st.integers(), TEXT), max_size=4)
TIME_FIELDS = {("Notice", "created_at"), ("Notice", "updated_at"), ("AuditEntry", "at")}


def _strategy(tp: Any) -> st.SearchStrategy[Any]:
    origin, args = get_origin(tp), get_args(tp)
    if tp is str:
        return TEXT
    if tp is int:
        return st.integers(-(2**53), 2**53)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is bool:
        return st.booleans()
    if tp is datetime:
        return TIMES
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (tuple, list):
        items = st.lists(_strategy(args[0]), max_size=3)
        return items.map(tuple) if origin is tuple else items
    if origin is dict:
        return st.dictionaries(TEXT, _strategy(args[1]), max_size=3)
    if type(None) in args:
        return st.none() | _strategy(next(a for a in args if a is not type(None)))
    if dataclasses.is_dataclass(tp):
        return _records(tp)  # a nested record (BotState's overflow)
    return JSONISH  # Mapping[str, Any]


def _records(cls: Any) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls)
    fields = {}
    for f in dataclasses.fields(cls):
        if (cls.__name__, f.name) in TIME_FIELDS:
            fields[f.name] = TIMES.map(lambda d: d.isoformat().replace("+00:00", "Z"))
        else:
            fields[f.name] = _strategy(hints[f.name])
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=list(CLASSES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_for_every_record_class(cls: Any, data: st.DataObject) -> None:
    rec = data.draw(_records(cls))
    stored = json.loads(json.dumps(rec.to_json()))  # through real JSON text, as the store keeps it
    assert cls.from_json(stored) == rec
    assert cls.from_json(stored).to_json() == stored


GOOD = GOLDEN["DeadLetter"][0]["stored"]
HOSTILE = [
    ({**GOOD, "attempts": "8"}, "field 'attempts' is str, not int"),
    ({**GOOD, "attempts": True}, "field 'attempts' is bool, not int"),
    ({**GOOD, "type": "exploded"}, "field 'type' is 'exploded', not one of ['created', 'ended', 'updated']"),
    ({k: v for k, v in GOOD.items() if k != "seq"}, "field 'seq' is missing"),
    ({**GOOD, "at": None}, "field 'at' is missing"),
    ({**GOOD, "event": ["not", "an", "object"]}, "field 'event' is list, not object"),
    ({**GOOD, "error": "x" * (MAX_TEXT + 1)}, "field 'error' is 1,000,001 characters"),
    ({**GOOD, "webhook": 7}, "field 'webhook' is int, not str"),
    ("not an object", "webhook_dead: not a JSON object"),
]


@pytest.mark.parametrize(("raw", "message"), HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_record_is_invalid_with_a_precise_message(raw: Any, message: str) -> None:
    with pytest.raises(RecordInvalid) as err:
        DeadLetter.from_json(raw)
    assert message in str(err.value)
    assert str(err.value).startswith("webhook_dead")


def test_hostile_nested_and_literal_fields() -> None:
    with pytest.raises(RecordInvalid, match=r"api_key: field 'scopes'\[1\] is int, not str"):
        ApiKey.from_json({**GOLDEN["ApiKey"][1]["stored"], "scopes": ["read", 3]})
    with pytest.raises(RecordInvalid, match="operator_session: field 'seen'"):
        SessionRecord.from_json({**GOLDEN["SessionRecord"][0]["stored"], "seen": "yesterday"})
    with pytest.raises(RecordInvalid, match="notice: field 'updated_at'"):
        Notice.from_json({**GOLDEN["Notice"][0]["stored"], "updated_at": "2026-13-01"})
    with pytest.raises(RecordInvalid, match="webhook_state: field 'state' is 'asleep'"):
        DeliveryState.from_json({"state": "asleep"})
    sub = GOLDEN["PushSubscription"][0]["stored"]
    with pytest.raises(RecordInvalid, match="webpush_sub: field 'keys': field 'auth' is missing"):
        PushSubscription.from_json({**sub, "keys": {"p256dh": sub["keys"]["p256dh"]}})
    with pytest.raises(RecordInvalid, match=r"webpush_sub: field 'lang' is 'de', not one of \['en', 'sv'\]"):
        PushSubscription.from_json({**sub, "lang": "de"})
    with pytest.raises(RecordInvalid, match=r"webpush_held: field 'told'\['sl:1'\] is str, not list"):
        Held.from_json({"id": "a0", "told": {"sl:1": "SEVERE"}})
    with pytest.raises(RecordInvalid, match="webpush_queue: field 'ttl' is float, not int"):
        Queued.from_json({**GOLDEN["Queued"][0]["stored"], "ttl": 3600.5})
    with pytest.raises(RecordInvalid, match="bot_state: field 'overflow': field 'new' is str, not int"):
        BotState.from_json({"seq": "1", "overflow": {"new": "2"}})
    with pytest.raises(RecordInvalid, match=r"bot_post thread: field 'statuses'\[1\] is int, not str"):
        Thread.from_json({"id": "d", "statuses": ["1", 2]})
    # an extra key (a newer release's, or the key's hash) is not part of the typed view
    extra = {**GOLDEN["Draft"][0]["stored"], "added_later": {"x": 1}}
    assert "added_later" not in Draft.from_json(extra).to_json()


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with open_store(request.param, tmp_path) as s:
        yield s


async def test_listing_skips_hostile_records_logs_each_once_and_continues(store, caplog) -> None:
    records._logged.clear()  # once per process: this test runs once per backend
    rows = {f"wh1:{i:02d}": raw for i, (raw, _) in enumerate(HOSTILE[:-1])}
    rows["wh1:50"] = GOOD
    rows["wh1:51"] = {**GOOD, "seq": "17-4", "extra": [1, 2]}
    for key, raw in rows.items():
        await store.put_record("webhook_dead", key, raw)
    with caplog.at_level(logging.WARNING, "travelinfo.store.records"):
        for _ in range(2):
            got = await list_typed(store, "webhook_dead", DeadLetter.from_json, "wh1:")
            assert [d.to_json() for d in got] == [GOOD, {**GOOD, "seq": "17-4"}]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(HOSTILE) - 1, lines
    for (_, message), key in zip(HOSTILE[:-1], sorted(rows)[:-2], strict=True):
        assert any(repr(key) in m and message in m for m in lines), (key, message)
