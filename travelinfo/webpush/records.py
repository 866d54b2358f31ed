"""The store records of Web Push and the order of the change log's seqs.

Kinds: `webpush_sub` (what the subscriber gave: endpoint, keys, filters, windows, language;
written by the API), `webpush_state` (delivery state and breaker; the engine), `webpush_held`
(what matches and what the person was told; the engine), `webpush_queue` (pending
notifications, key `<sub>:<order>` so they sort in log order; the engine), `webpush_cursor`
(the engine's position in the change log) and `webpush_vapid` (the key pair). The first four
are typed records here (the one codec, `store/codec.py`); a stored one that does not fit is
skipped and logged once, as every typed listing does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from travelinfo.store.base import Store
from travelinfo.store.records import Record, decode_as

SUB = "webpush_sub"
STATE = "webpush_state"
HELD = "webpush_held"
QUEUE = "webpush_queue"
CURSOR = "webpush_cursor"
VAPID_KIND = "webpush_vapid"

Lang = Literal["sv", "en"]
Label = Literal["active", "retrying", "failing"]


@dataclass(frozen=True, slots=True)
class PushKeys(Record):
    """The browser's keys of a subscription: its P-256 point and auth secret (base64url)."""

    RECORD = "webpush_sub keys"
    p256dh: str
    auth: str


@dataclass(frozen=True, slots=True)
class PushSubscription(Record):
    """A subscription (kind `webpush_sub`, key = id, a hash of its endpoint), as the API
    validated it: filters, windows (`{"days", "from", "to"}`), language, whether planned works
    count and when to hear of tomorrow's (`ahead`), what it held and where the log stood at
    the start (`start_held`, `start_seq`), the VAPID key it was made with."""

    RECORD = SUB
    id: str
    endpoint: str
    keys: PushKeys
    created: str
    filters: Mapping[str, Any] = field(default_factory=dict)
    windows: tuple[Mapping[str, Any], ...] = ()
    lang: Lang = "sv"
    planned: bool = True
    ahead: str | None = None  # local HH:MM; None before `ahead` existed, or not wanted
    vapid: str = ""
    start_held: tuple[str, ...] = ()
    start_seq: str = ""


@dataclass(frozen=True, slots=True)
class Held(Record):
    """What a subscription holds (kind `webpush_held`): the items that match, what the person
    was told of each (`[severity, status]`) and the day they last heard of planned works."""

    RECORD = HELD
    id: str
    held: tuple[str, ...] = ()
    told: dict[str, list[str]] = field(default_factory=dict)
    ahead_day: str | None = None


@dataclass(frozen=True, slots=True)
class Queued(Record):
    """One pending notification (kind `webpush_queue`, key `<sub>:<order>`): the encrypted
    body's plaintext, its Topic, Urgency and TTL, when it was decided (`at`, epoch seconds:
    the TTL counts from then) and when the change happened."""

    RECORD = QUEUE
    key: str
    sub: str
    order: str
    seq: str
    kind: str  # message.py: new, worse, better, started, cleared, ahead
    body: str
    topic: str
    urgency: str  # RFC 8030 5.3
    ttl: int
    at: float
    changed_at: float


@dataclass(frozen=True, slots=True)
class PushState(Record):
    """What the API shows of a subscription's delivery state (kind `webpush_state`). The
    engine keeps the record as a plain object that the webhooks' breaker updates in place."""

    RECORD = STATE
    state: Label = "active"
    sent: int = 0
    dead_letters: int = 0
    last_error: str | None = None
    last_attempt: str | None = None
    delivered_upto: str = ""
    failures: int = 0
    next_attempt: float | None = None
    recent: tuple[float, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PushState:
        return cls() if data is None else decode_as(cls, data)


def order(seq: str) -> str:
    """A key that sorts as the log orders `seq` (SQLite integers, Redis `ms-n` stream ids)."""
    ms, _, n = str(seq).partition("-")
    try:
        return f"{int(ms or 0):016d}-{int(n or 0):08d}"
    except ValueError:
        raise ValueError(f"invalid seq {seq!r}") from None


def earliest(seqs: Iterable[str]) -> str:
    """The first of `seqs` in log order; an empty or unreadable one (a bad record) never is."""
    keyed = []
    for seq in seqs:
        try:
            keyed.append((order(seq), seq))
        except ValueError:
            continue
    return min(keyed)[1] if keyed else ""


def queue_key(sub_id: str, seq: str) -> str:
    return f"{sub_id}:{order(seq)}"


async def forget(store: Store, sub_id: str) -> None:
    """Delete everything kept for one subscription; the subscription itself first, so that
    nothing reading the subscriptions meanwhile brings it back (what is left of an interrupted
    delete is an orphan the engine removes when it next loads)."""
    await store.delete_record(SUB, sub_id)
    for key, _ in await store.record_items(QUEUE, f"{sub_id}:"):  # its queue only, by key prefix
        await store.delete_record(QUEUE, key)
    await store.delete_record(HELD, sub_id)
    await store.delete_record(STATE, sub_id)
