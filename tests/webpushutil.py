"""Helpers for the Web Push tests: settings, the app with short engine intervals, subscribing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import apputil
from aiohttp import web
from apputil import Running
from storeutil import REDIS_URL

from travelinfo.config import Settings
from travelinfo.webpush.routes import ENGINE

STOCKHOLM = ZoneInfo("Europe/Stockholm")
BOTH = frozenset({"web", "deliver"})


def local(text: str) -> datetime:
    """A Stockholm wall-clock time, e.g. "2026-12-01 07:15" (a Tuesday)."""
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


def settings_for(kind: str, tmp_path: Path, **webpush: Any) -> tuple[Settings, str]:
    """Settings on a fresh store with tiny backoff values; the loopback push service allowed."""
    s = Settings()
    prefix = ""
    if kind == "sqlite":
        s.store.url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        s.store.url = f"{REDIS_URL}?prefix={prefix}"
    w = s.webpush
    w.allow_hosts = ["127.0.0.1"]
    w.backoff_base, w.backoff_max, w.timeout = 0.05, 0.3, 2.0
    for name, value in webpush.items():
        setattr(w, name, value)
    return s, prefix


def _quick(app: web.Application) -> None:
    if ENGINE in app:
        app[ENGINE].refresh = 0.1
        app[ENGINE].poll = 0.5


@asynccontextmanager
async def running(settings: Settings, roles: frozenset[str] = BOTH) -> AsyncIterator[Running]:
    r = await apputil.start_app(settings, roles, configure=_quick)
    try:
        yield r
    finally:
        await r.stop()


async def subscribe(
    http: aiohttp.ClientSession, base: str, subscription: dict[str, Any], status: int = 201, **extra: Any
) -> dict[str, Any]:
    async with http.post(
        f"{base}/api/v1/push/subscriptions", json={"subscription": subscription, **extra}
    ) as r:
        data: dict[str, Any] = await r.json()
        assert r.status == status, data
        return data
