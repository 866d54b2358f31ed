"""Scoped API keys: the token is shown once, only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from travelinfo.model import format_time
from travelinfo.store.base import Store

SCOPES = ("read", "webhooks", "notices:write", "notices:approve", "admin")
KIND = "api_key"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (never the token itself)."""

    id: str
    name: str
    org: str | None
    scopes: tuple[str, ...]
    created: str
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "org": self.org,
            "scopes": list(self.scopes),
            "created": self.created,
            "revoked": self.revoked,
        }


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
    await store.put_record(KIND, key_id, {**key.to_json(), "hash": _hash(secret)})
    return key, f"ti_{key_id}_{secret}"


async def list_keys(store: Store) -> list[ApiKey]:
    return [key_of(r) for r in await store.list_records(KIND)]


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
    if not hmac.compare_digest(rec.get("hash", ""), _hash(parts[2])):
        return None
    return key_of(rec)


def key_of(rec: dict[str, Any]) -> ApiKey:
    """The ApiKey of a stored key record."""
    return ApiKey(
        rec["id"],
        rec["name"],
        rec.get("org"),
        tuple(rec.get("scopes", ())),
        rec["created"],
        bool(rec.get("revoked")),
    )
