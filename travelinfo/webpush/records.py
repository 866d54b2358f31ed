"""The store records of Web Push and the order of the change log's seqs.

Kinds: `webpush_sub` (what the subscriber gave: endpoint, keys, filters, windows, language;
written by the API), `webpush_state` (delivery state and breaker; the engine), `webpush_held`
(what matches and what the person was told; the engine), `webpush_queue` (pending
notifications, key `<sub>:<order>` so they sort in log order; the engine), `webpush_cursor`
(the engine's position in the change log) and `webpush_vapid` (the key pair).
"""

from __future__ import annotations

from travelinfo.store.base import Store

SUB = "webpush_sub"
STATE = "webpush_state"
HELD = "webpush_held"
QUEUE = "webpush_queue"
CURSOR = "webpush_cursor"
VAPID_KIND = "webpush_vapid"


def order(seq: str) -> str:
    """A key that sorts as the log orders `seq` (SQLite integers, Redis `ms-n` stream ids)."""
    ms, _, n = str(seq).partition("-")
    try:
        return f"{int(ms or 0):016d}-{int(n or 0):08d}"
    except ValueError:
        raise ValueError(f"invalid seq {seq!r}") from None


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
