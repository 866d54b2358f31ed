"""The webhooks' store records, typed: subscriptions, their delivery state, dead letters.

Kinds: `webhook` (the subscription, key = its id; written by the API), `webhook_by_key`
(index `<key id>/<subscription id>`, so one key's subscriptions are a prefix listing),
`webhook_state` (delivery state, key = subscription id; the owning engine), `webhook_dead`
(dead letters, key `<subscription id>:<seq>`), `webhook_engine` (engine heartbeats).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from travelinfo.store.base import Store
from travelinfo.store.records import REQUIRED, OwnerIndex, Reader, get_typed, list_typed

KIND = "webhook"
BY_KEY = "webhook_by_key"
STATE = "webhook_state"
DEAD = "webhook_dead"
ENGINES = "webhook_engine"

DeliveryLabel = Literal["active", "retrying", "failing"]
EventType = Literal["created", "updated", "ended"]


@dataclass(frozen=True, slots=True)
class Subscription:
    """A registered webhook: owner key, receiver, filters, secret, where its events start."""

    id: str
    key_id: str
    url: str
    secret: str
    created: str
    start_seq: str
    filters: Mapping[str, Any]
    description: str | None = None
    start_held: tuple[str, ...] | None = None  # None: registered before `start_held` existed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "key_id": self.key_id,
            "url": self.url,
            "filters": dict(self.filters),
            "description": self.description,
            "secret": self.secret,
            "created": self.created,
            "start_seq": self.start_seq,
        }
        if self.start_held is not None:
            out["start_held"] = list(self.start_held)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Subscription:
        r = Reader(data, "webhook")
        return cls(
            id=r.text("id", REQUIRED),
            key_id=r.text("key_id", REQUIRED),
            url=r.text("url", REQUIRED),
            secret=r.text("secret", REQUIRED),
            created=r.text("created", REQUIRED),
            start_seq=r.text("start_seq", ""),
            filters=r.obj("filters", {}),
            description=r.text("description"),
            start_held=r.texts("start_held"),
        )


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """What the API shows of a subscription's delivery state (the engine keeps the record)."""

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
        if data is None:
            return cls()
        r = Reader(data, "webhook_state")
        return cls(
            state=r.choice("state", get_args(DeliveryLabel), "active"),
            last_error=r.text("last_error"),
            dead_letters=r.count("dead_letters", 0),
            last_delivered_seq=r.text("last_delivered_seq"),
            delivered=r.count("delivered", 0),
            last_attempt=r.text("last_attempt"),
            failures=r.count("failures", 0),
            next_attempt=r.number("next_attempt"),
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event given up on, with the last error."""

    webhook: str
    seq: str
    type: EventType
    error: str
    attempts: int
    at: str
    event: Mapping[str, Any]

    def key(self) -> str:
        return f"{self.webhook}:{self.seq}"

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook": self.webhook,
            "seq": self.seq,
            "type": self.type,
            "error": self.error,
            "attempts": self.attempts,
            "at": self.at,
            "event": dict(self.event),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeadLetter:
        r = Reader(data, "webhook_dead")
        return cls(
            webhook=r.text("webhook", REQUIRED),
            seq=r.text("seq", REQUIRED),
            type=r.choice("type", get_args(EventType), REQUIRED),
            error=r.text("error", ""),
            attempts=r.count("attempts", 0),
            at=r.text("at", REQUIRED),
            event=r.obj("event", REQUIRED),
        )


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
