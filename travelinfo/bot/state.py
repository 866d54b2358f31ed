"""The social bot's persisted state: cursor, rate budget, post threads and post claims.

Everything lives in store records so a restart, a retry or a second bot process carries on
where the last one stopped: kind `bot_state` (key `cursor`) holds the change-log cursor, the
budget and planned disruptions waiting to come due; kind `bot_post` holds one thread per
disruption (key = disruption id) and one claim per post (key `claim:<idempotency key>`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

from travelinfo.bot.social import PostError, PostRejected, SocialNetwork
from travelinfo.bot.text import Draft
from travelinfo.runtime import metrics
from travelinfo.runtime.lease import holder_gone
from travelinfo.store.base import Store
from travelinfo.store.records import Record, decode, encode, spec

log = logging.getLogger("travelinfo.bot")

R = TypeVar("R")
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


@dataclass(frozen=True, slots=True)
class Thread(Record):
    """The thread of one disruption (kind `bot_post`, key = its id): its statuses, the checksum
    of what was last posted, how it ended, and an all-clear held back (`ending`, the item as
    it ended in `ending_item`). With no status (`last` None) it was summarised in a digest
    (`digested`) or is a cancellation (`cancellation`): there is nothing to reply to."""

    RECORD = "bot_post thread"
    id: str = field(metadata=spec(missing=""))
    root: str | None = None
    last: str | None = None
    statuses: tuple[str, ...] = ()
    checksum: str = ""
    ended: bool = False
    ended_at: float | None = None
    cancelled: bool = False  # ended by a NAVTEX cancellation
    cancellation: bool = False  # the record of a cancellation itself (never a thread of its own)
    digested: bool = False
    updated: str | None = None
    ending: float | None = field(default=None, metadata=spec(omit_none=True))
    ending_item: Mapping[str, Any] | None = field(default=None, metadata=spec(omit_none=True))

    def to_json(self) -> dict[str, Any]:
        return {"type": "thread", **encode(self)}


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

    async def typed(self, kind: str, key: str, from_json: Callable[[Mapping[str, Any]], R]) -> R | None:
        """The record read by `from_json`; None when absent or unreadable (logged once)."""
        rec = await self.get(kind, key)
        return None if rec is None else decode(kind, self.prefix + key, rec, from_json)

    async def thread(self, ident: str) -> Thread | None:
        return await self.typed(POST, ident, Thread.from_json)

    async def put_thread(self, thread: Thread) -> None:
        await self.put(POST, thread.id, thread.to_json())


@dataclass(slots=True)
class Overflow(Record):
    """Posts held back since the last digest: new disruptions and other posts (replies, ends)."""

    RECORD = "bot_state overflow"
    new: int = 0
    other: int = 0


@dataclass(slots=True)
class BotState(Record):
    """Cursor (`seq` in the store's data set `epoch`), rate budget, disruptions held for the
    digest and deferred (planned, not yet due) ones (kind `bot_state`, key `cursor`)."""

    RECORD = "bot_state"
    seq: str
    sent: list[float] = field(default_factory=list)  # epoch seconds of posts in the window
    digest_at: float | None = None
    overflow: Overflow = field(default_factory=Overflow)
    pending: dict[str, float] = field(default_factory=dict)  # id -> epoch when due
    digest: list[list[str]] = field(default_factory=list)  # [headline, link, rank] held back
    ending: dict[str, float] = field(default_factory=dict)  # id -> epoch its held all-clear is due
    epoch: str = field(default="", metadata=spec(missing=""))  # the store's data set (LogCursor)

    def allow(self, now: datetime, budget: int, window: float) -> bool:
        """Whether one more post fits the budget of the sliding window."""
        cutoff = now.timestamp() - window
        self.sent = [t for t in self.sent if t > cutoff]
        return len(self.sent) < budget

    def digest_due(self, now: datetime, window: float) -> bool:
        """Held-back posts to summarise, and no digest yet in this window."""
        if not (self.overflow.new or self.overflow.other):
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
        return await self.records.typed(POST, ckey, Claim.from_json)

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
            rejected = replace(mine, state="rejected", error=str(exc)[:300])
            await self.records.put(POST, ckey, rejected.to_json())
            metrics.BOT_POSTS.labels(self.network_name, "rejected").inc()
            return None
        self.calls += 1
        metrics.BOT_POSTS.labels(self.network_name, "posted").inc()
        await self.records.put(POST, ckey, replace(mine, state="posted", status_id=status_id).to_json())
        return status_id
