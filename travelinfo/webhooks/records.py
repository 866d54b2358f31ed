"""The webhooks' store records, typed: subscriptions, their delivery state, dead letters.

Kinds: `webhook` (the subscription, key = its id; written by the API), `webhook_by_key`
(index `<key id>/<subscription id>`, so one key's subscriptions are a prefix listing),
`webhook_state` (delivery state, key = subscription id; the owning engine), `webhook_dead`
(dead letters, key `<subscription id>:<seq>`), `webhook_engine` (engine heartbeats).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from travelinfo.store.base import Store
from travelinfo.store.records import OwnerIndex, Record, decode_as, get_typed, list_typed, spec

KIND = "webhook"
BY_KEY = "webhook_by_key"
STATE = "webhook_state"
DEAD = "webhook_dead"
ENGINES = "webhook_engine"

DeliveryLabel = Literal["active", "retrying", "failing"]
EventType = Literal["created", "updated", "ended"]


@dataclass(frozen=True, slots=True)
class Subscription(Record):
    """A registered webhook: owner key, receiver, filters, secret, where its events start."""

    RECORD = KIND
    id: str
    key_id: str
    url: str
    secret: str
    created: str
    start_seq: str = field(metadata=spec(missing=""))
    filters: Mapping[str, Any] = field(metadata=spec(missing=dict))
    description: str | None = None
    # None: registered before `start_held` existed (then left out of the stored JSON)
    start_held: tuple[str, ...] | None = field(default=None, metadata=spec(omit_none=True))


@dataclass(frozen=True, slots=True)
class DeliveryState(Record):
    """What the API shows of a subscription's delivery state (the engine keeps the record)."""

    RECORD = STATE
    state: DeliveryLabel = "active"
    last_error: str | None = None
    dead_letters: int = 0
    last_delivered_seq: str | None = None
    delivered: int = 0
    last_attempt: str | None = None
    failures: int = 0
    next_attempt: float | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> DeliveryState:
        return cls() if data is None else decode_as(cls, data)


@dataclass(frozen=True, slots=True)
class DeadLetter(Record):
    """An event given up on, with the last error."""

    RECORD = DEAD
    webhook: str
    seq: str
    type: EventType
    error: str = field(metadata=spec(missing=""))
    attempts: int = field(metadata=spec(missing=0))
    at: str
    event: Mapping[str, Any]

    def key(self) -> str:
        return f"{self.webhook}:{self.seq}"


BY_KEY_INDEX = OwnerIndex(KIND, BY_KEY, "key_id")


async def add_subscription(store: Store, sub: Subscription) -> None:
    """Store a subscription: its index entry first (an entry without a subscription is skipped)."""
    await BY_KEY_INDEX.add(store, sub.key_id, sub.id)
    await store.put_record(KIND, sub.id, sub.to_json())


async def get_subscription(store: Store, sub_id: str) -> Subscription | None:
    """The subscription, or None when absent or unreadable (logged once)."""
    return await get_typed(store, KIND, sub_id, Subscription.from_json)


async def key_subscriptions(store: Store, key_id: str) -> list[Subscription]:
    """One key's subscriptions in id order: a prefix listing of the index, never all of them."""
    return await BY_KEY_INDEX.records(store, key_id, Subscription.from_json)


async def remove_subscription(store: Store, sub: Subscription) -> None:
    """Delete a subscription, its state, its dead letters, then its index entry."""
    await store.delete_record(KIND, sub.id)
    await store.delete_record(STATE, sub.id)
    for key, _ in await store.record_items(DEAD, f"{sub.id}:"):
        await store.delete_record(DEAD, key)
    await BY_KEY_INDEX.remove(store, sub.key_id, sub.id)


async def dead_letters(store: Store, sub_id: str) -> list[DeadLetter]:
    """The subscription's dead letters in key order (bad ones skipped, logged once)."""
    return await list_typed(store, DEAD, DeadLetter.from_json, f"{sub_id}:")
