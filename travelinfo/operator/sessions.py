"""Operator sessions: a random token in an HttpOnly, SameSite=Strict cookie; its SHA-256 in the store.

The session names the API key it was opened with; a revoked key ends it at the next request.
Every form carries the session's CSRF token; the sign-in form a token of its own cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from travelinfo.api import keys
from travelinfo.api.keys import ApiKey
from travelinfo.model import format_time, parse_time
from travelinfo.store.base import Store

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


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(store: Store, key: ApiKey, now: datetime) -> str:
    """A new session for `key`; returns the cookie's token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    ident = _hash(token)
    rec = {"id": ident, "key_id": key.id, "csrf": secrets.token_urlsafe(24), "created": format_time(now)}
    await store.put_record(KIND, ident, {**rec, "seen": format_time(now)})
    return token


async def load(store: Store, token: str | None, now: datetime, idle: float) -> Session | None:
    """The live session of a cookie's token, or None (unknown, idle too long, key revoked)."""
    if not token or len(token) > 100:
        return None
    ident = _hash(token)
    rec = await store.get_record(KIND, ident)
    if rec is None:
        return None
    seen = parse_time(rec["seen"])
    key_rec = await store.get_record(keys.KIND, rec["key_id"])
    if now - seen > timedelta(seconds=idle) or key_rec is None or key_rec.get("revoked"):
        await store.delete_record(KIND, ident)
        return None
    if now - seen > TOUCH_EVERY:
        await store.put_record(KIND, ident, {**rec, "seen": format_time(now)})
    return Session(ident, keys.key_of(key_rec), rec["csrf"])


async def prune(store: Store, now: datetime, idle: float) -> int:
    """Delete sessions unused for longer than `idle` (a browser that never came back)."""
    gone = 0
    for rec in await store.list_records(KIND):
        if "id" in rec and now - parse_time(rec["seen"]) > timedelta(seconds=idle):
            gone += await store.delete_record(KIND, rec["id"])
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
