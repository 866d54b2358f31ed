"""How the Redis store encodes its per-item metadata and change-log entries."""

from __future__ import annotations

import json
from datetime import datetime

from travelinfo.store.base import Change, Meta


def meta_of(ident: str, raw: str) -> Meta:
    m = json.loads(raw)
    return Meta(
        ident,
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        bool(m[5]),
        source=m[6],
        last_seen=float(m[7]),
        ended_at=m[8],
    )


def checksum_of(raw: str) -> str:
    """The checksum of an encoded meta without decoding the rest (it is the first string)."""
    if raw.startswith('["'):
        return raw[2 : raw.find('"', 2)]
    return str(json.loads(raw)[0])


def with_last_seen(meta: Meta, at: datetime) -> str:
    return json.dumps(
        [
            meta.checksum,
            meta.status,
            meta.updated_at,
            meta.version,
            meta.first_seen,
            int(meta.archived),
            meta.source,
            at.timestamp(),
            meta.ended_at,
        ]
    )


def change_of(seq: str, data: str) -> Change:
    body = json.loads(data)
    body["seq"] = seq
    return Change.from_json(body)


LOCK_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""
UNLOCK_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def stream_id(seq: str | None) -> tuple[int, int]:
    """Parse a Redis stream id (`ms-n`, or `ms`, or '' for the beginning)."""
    if not seq:
        return (0, 0)
    ms, _, n = seq.partition("-")
    try:
        return (int(ms), int(n or 0))
    except ValueError as exc:
        raise ValueError(f"invalid seq {seq!r}") from exc
