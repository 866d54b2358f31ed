"""The social bot's persisted state: cursor, rate budget, post threads and post claims.

Everything lives in store records so a restart, a retry or a second bot process carries on
where the last one stopped: kind `bot_state` (key `cursor`) holds the change-log cursor, the
budget and planned disruptions waiting to come due; kind `bot_post` holds one thread per
disruption (key = disruption id) and one claim per post (key `claim:<idempotency key>`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from travelinfo.bot.social import PostError, PostRejected, SocialNetwork
from travelinfo.bot.text import Draft
from travelinfo.runtime import metrics
from travelinfo.runtime.lease import holder_gone
from travelinfo.store.base import Store
from travelinfo.store.records import Record, decode, encode, spec

log = logging.getLogger("travelinfo.bot")

STATE = "bot_state"
POST = "bot_post"


ClaimState = Literal["claimed", "posted", "rejected"]


@dataclass(frozen=True, slots=True)
class Claim(Record):
    """The claim of one post (kind `bot_post`, key `claim:<idempotency key>`): who sends it, and
    how it ended (`posted` with its status id, or `rejected` for good)."""

    RECORD = "bot_post claim"
    key: str
    disruption: str = field(metadata=spec(missing=""))
    kind: str = field(metadata=spec(missing=""))
    holder: str = field(metadata=spec(missing=""))
    claimed_at: float = field(metadata=spec(missing=0.0))
    state: ClaimState = "claimed"
    status_id: str | None = None
    error: str | None = field(default=None, metadata=spec(omit_none=True))

    def to_json(self) -> dict[str, Any]:
        return {"type": "claim", **encode(self)}


class ClaimBusy(PostError):
    """Another live bot process holds the claim of this post: leave it to that process."""


class Records:
    """Store records, or (dry run) reads from the store with writes kept in memory."""

    def __init__(self, store: Store, *, dry: bool = False, prefix: str = "") -> None:
        self.store = store
        self.dry = dry
        self.prefix = prefix  # one namespace per channel (`bluesky:`); the first channel has none
        self._mem: dict[tuple[str, str], dict[str, Any]] = {}

    async def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The record, the in-memory one first."""
        key = self.prefix + key
        if (kind, key) in self._mem:
            return dict(self._mem[kind, key])
        return await self.store.get_record(kind, key)

    async def put(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        """Write (in memory only when dry)."""
        key = self.prefix + key
        if self.dry:
            self._mem[kind, key] = dict(value)
        else:
            await self.store.put_record(kind, key, value)

    async def claim(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        """Create the record unless it exists (atomic in the store)."""
        if self.dry:
            if await self.get(kind, key) is not None:
                return False
            self._mem[kind, self.prefix + key] = dict(value)
            return True
        return await self.store.add_record_if_absent(kind, self.prefix + key, value)


@dataclass
class BotState:
    """Cursor, rate budget and deferred (planned, not yet due) disruptions."""

    seq: str
    sent: list[float] = field(default_factory=list)  # epoch seconds of posts in the window
    digest_at: float | None = None
    overflow_new: int = 0
    overflow_other: int = 0
    pending: dict[str, float] = field(default_factory=dict)  # id -> epoch when due
    digest: list[list[str]] = field(default_factory=list)  # [headline, link, rank] held back
    ending: dict[str, float] = field(default_factory=dict)  # id -> epoch its held all-clear is due

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "seq": self.seq,
            "sent": self.sent,
            "digest_at": self.digest_at,
            "overflow": {"new": self.overflow_new, "other": self.overflow_other},
            "pending": self.pending,
            "ending": self.ending,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BotState:
        over = data.get("overflow") or {}
        return cls(
            seq=str(data["seq"]),
            sent=[float(t) for t in data.get("sent", [])],
            digest_at=data.get("digest_at"),
            overflow_new=int(over.get("new", 0)),
            overflow_other=int(over.get("other", 0)),
            pending={str(k): float(v) for k, v in (data.get("pending") or {}).items()},
            digest=[[str(v) for v in entry] for entry in data.get("digest") or []],
            ending={str(k): float(v) for k, v in (data.get("ending") or {}).items()},
        )

    def allow(self, now: datetime, budget: int, window: float) -> bool:
        """Whether one more post fits the budget of the sliding window."""
        cutoff = now.timestamp() - window
        self.sent = [t for t in self.sent if t > cutoff]
        return len(self.sent) < budget

    def digest_due(self, now: datetime, window: float) -> bool:
        """Held-back posts to summarise, and no digest yet in this window."""
        if not (self.overflow_new or self.overflow_other):
            return False
        return self.digest_at is None or now.timestamp() - self.digest_at >= window


class Poster:
    """Sends a post at most once: claim it in the store, then post with its idempotency key."""

    def __init__(
        self,
        records: Records,
        network: SocialNetwork,
        *,
        holder: str,
        visibility: str,
        claim_ttl: float = 120.0,
    ) -> None:
        self.records = records
        self.network = network
        self.holder = holder
        self.visibility = visibility
        self.claim_ttl = claim_ttl
        self.calls = 0  # posts this process sent and the network accepted
        self.network_name = str(getattr(network, "name", "") or type(network).__name__.lower())

    async def _claim(self, ckey: str) -> Claim | None:
        """The stored claim; None when absent or unreadable (then it is taken over as stale)."""
        rec = await self.records.get(POST, ckey)
        return None if rec is None else decode(POST, self.records.prefix + ckey, rec, Claim.from_json)

    async def posted(self, key: str) -> tuple[bool, str | None]:
        """(claim settled?, status id): posted -> (True, id), rejected -> (True, None)."""
        claim = await self._claim(f"claim:{key}")
        if claim is not None and claim.state == "posted":
            return True, claim.status_id
        if claim is not None and claim.state == "rejected":
            return True, None
        return False, None

    async def send(
        self, key: str, draft: Draft, reply_to: str | None, about: str, kind: str, now: datetime
    ) -> str | None:
        """Post `draft` once; the status id, or None when the server rejected it for good.

        Raises ClaimBusy when another live process is posting it, PostUnavailable on outage.
        """
        mine = Claim(key, about, kind, self.holder, now.timestamp())
        claim = mine.to_json()
        ckey = f"claim:{key}"
        if not await self.records.claim(POST, ckey, claim):
            rec = await self._claim(ckey)  # an unreadable one is stale: taken over
            if rec is not None and rec.state == "posted" and rec.status_id is not None:
                return rec.status_id
            if rec is not None and rec.state == "rejected":
                return None
            age = now.timestamp() - (rec.claimed_at if rec else 0.0)
            holder = rec.holder if rec else ""
            # A claim of a process of this host that is gone (killed mid-post) is stale at once.
            if holder != self.holder and age < self.claim_ttl and not holder_gone(holder):
                raise ClaimBusy(f"post {key[:12]} for {about} is claimed by {holder}")
            # A stale claim (its process died mid-post): resending with the same
            # Idempotency-Key makes the server answer with the first status if it got there.
            await self.records.put(POST, ckey, claim)
        try:
            status_id = await self.network.post(
                draft.text,
                in_reply_to=reply_to,
                language=draft.language,
                visibility=self.visibility,
                idempotency_key=key,
            )
        except PostRejected as exc:
            log.warning("post about %s rejected, skipped: %s", about, exc)
            await self.records.put(POST, ckey, {**claim, "state": "rejected", "error": str(exc)[:300]})
            metrics.BOT_POSTS.labels(self.network_name, "rejected").inc()
            return None
        self.calls += 1
        metrics.BOT_POSTS.labels(self.network_name, "posted").inc()
        await self.records.put(POST, ckey, {**claim, "state": "posted", "status_id": status_id})
        return status_id
