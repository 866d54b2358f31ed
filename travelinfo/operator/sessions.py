"""Operator sessions: a random token in an HttpOnly, SameSite=Strict cookie; its SHA-256 in the store.

The session names the API key it was opened with; a revoked key ends it at the next request.
Every form carries the session's CSRF token; the sign-in form a token of its own cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from aiohttp import web

from travelinfo.api import keys
from travelinfo.api.keys import ApiKey
from travelinfo.model import format_time
from travelinfo.store.base import Store
from travelinfo.store.records import Record, decode, spec

KIND = "operator_session"
COOKIE = "ti_operator"
LOGIN_COOKIE = "ti_operator_login"
TOUCH_EVERY = timedelta(seconds=30)  # idle time is tracked to this precision (fewer writes)


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in operator: the key (and so organisation and scopes) and the form token."""

    ident: str  # SHA-256 of the cookie's token
    key: ApiKey
    csrf: str


@dataclass(frozen=True, slots=True)
class SessionRecord(Record):
    """What the store keeps of a session (kind `operator_session`, key = `id`)."""

    RECORD = KIND
    id: str
    key_id: str
    csrf: str
    created: str = field(metadata=spec(missing=""))
    seen: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(store: Store, key: ApiKey, now: datetime) -> str:
    """A new session for `key`; returns the cookie's token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    ident = _hash(token)
    rec = SessionRecord(ident, key.id, secrets.token_urlsafe(24), format_time(now), now)
    await store.put_record(KIND, ident, rec.to_json())
    return token


async def load(store: Store, token: str | None, now: datetime, idle: float) -> Session | None:
    """The live session of a cookie's token, or None (unknown, idle too long, key revoked)."""
    if not token or len(token) > 100:
        return None
    ident = _hash(token)
    raw = await store.get_record(KIND, ident)
    if raw is None:
        return None
    rec = decode(KIND, ident, raw, SessionRecord.from_json)
    key_rec = None if rec is None else await store.get_record(keys.KIND, rec.key_id)
    key = (
        None if key_rec is None else decode(keys.KIND, str(key_rec.get("id")), key_rec, keys.ApiKey.from_json)
    )
    if rec is None or key is None or key.revoked or now - rec.seen > timedelta(seconds=idle):
        await store.delete_record(KIND, ident)  # an unreadable session signs nobody in
        return None
    if now - rec.seen > TOUCH_EVERY:
        await store.put_record(KIND, ident, replace(rec, seen=now).to_json())
    return Session(ident, key, rec.csrf)


async def prune(store: Store, now: datetime, idle: float) -> int:
    """Delete sessions unused for longer than `idle` (a browser that never came back)."""
    gone = 0
    for key, raw in await store.record_items(KIND):
        rec = decode(KIND, key, raw, SessionRecord.from_json)
        if rec is None or now - rec.seen > timedelta(seconds=idle):  # unreadable ones go too
            gone += await store.delete_record(KIND, key)
    return gone


async def stop(store: Store, session: Session) -> None:
    await store.delete_record(KIND, session.ident)


def token_ok(expected: str, given: object) -> bool:
    """Constant-time comparison of a form's CSRF token."""
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def secure(request: web.Request, public_url: str) -> bool:
    """Cookies are Secure when the request came over https or the service is published on https."""
    return request.secure or public_url.startswith("https://")


def set_cookie(
    resp: web.StreamResponse, name: str, value: str, *, secure: bool, path: str = "/operator"
) -> None:
    resp.set_cookie(name, value, path=path, httponly=True, samesite="Strict", secure=secure)


def clear_cookie(resp: web.StreamResponse, name: str, *, secure: bool) -> None:
    resp.del_cookie(name, path="/operator", secure=secure, httponly=True, samesite="Strict")
