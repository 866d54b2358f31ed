"""Scoped API keys: the token is shown once, only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from travelinfo.model import format_time
from travelinfo.store.base import Store
from travelinfo.store.records import OwnerIndex, Record, decode, list_typed, spec

SCOPES = ("read", "webhooks", "notices:write", "notices:approve", "admin")
KIND = "api_key"  # key = the key id; the record holds the token's hash, never the token
BY_ORG = OwnerIndex(KIND, "api_key_by_org", "org")  # `<org>/<key id>`: an organisation's keys


@dataclass(frozen=True, slots=True)
class ApiKey(Record):
    """A stored key (never the token itself); its record also holds the token's `hash`."""

    RECORD = KIND
    id: str
    name: str
    org: str | None
    scopes: tuple[str, ...] = field(metadata=spec(missing=()))
    created: str
    revoked: bool = False


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    store: Store, name: str, scopes: list[str], org: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns it and the token (`ti_<id>_<secret>`), which is not stored."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise ValueError(f"unknown scope(s) {', '.join(bad)} (known: {', '.join(SCOPES)})")
    if not scopes:
        raise ValueError("at least one scope is required")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(key_id, name, org, tuple(scopes), format_time(datetime.now(UTC)))
    if org:
        await BY_ORG.add(store, org, key_id)  # the entry first: one without its key is skipped
    await store.put_record(KIND, key_id, {**key.to_json(), "hash": _hash(secret)})
    return key, f"ti_{key_id}_{secret}"


async def list_keys(store: Store, org: str | None = None) -> list[ApiKey]:
    """Every key in id order, or one organisation's (a prefix listing of `BY_ORG`)."""
    if org is None:
        return await list_typed(store, KIND, ApiKey.from_json)
    return await BY_ORG.records(store, org, ApiKey.from_json)


async def revoke_key(store: Store, key_id: str) -> bool:
    rec = await store.get_record(KIND, key_id)
    if rec is None:
        return False
    rec["revoked"] = True
    await store.put_record(KIND, key_id, rec)
    return True


async def authenticate(store: Store, token: str) -> ApiKey | None:
    """The live key a token belongs to, or None (constant-time comparison)."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "ti":
        return None
    rec = await store.get_record(KIND, parts[1])
    if rec is None or rec.get("revoked"):
        return None
    stored = rec.get("hash")
    if not isinstance(stored, str) or not hmac.compare_digest(stored, _hash(parts[2])):
        return None
    key = decode(KIND, parts[1], rec, ApiKey.from_json)  # an unreadable record authenticates nobody
    return key if key is not None and not key.revoked else None


def key_of(rec: Mapping[str, Any]) -> ApiKey:
    """The ApiKey of a stored key record (RecordInvalid when it does not fit)."""
    return ApiKey.from_json(rec)
