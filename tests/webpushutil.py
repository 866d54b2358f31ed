"""Helpers for the Web Push tests: settings, the app with short engine intervals, subscribing."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import apputil
from apputil import Running

from travelinfo.config import Settings
from travelinfo.webpush.routes import ENGINE

STOCKHOLM = ZoneInfo("Europe/Stockholm")
BOTH = frozenset({"web", "deliver"})


def local(text: str) -> datetime:
    """A Stockholm wall-clock time, e.g. "2026-12-01 07:15" (a Tuesday)."""
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


def settings_for(kind: str, tmp_path: Path, **webpush: Any) -> tuple[Settings, str]:
    """Settings on a fresh store with tiny backoff values; the loopback push service allowed."""
    s, prefix = apputil.fresh_store_settings(kind, tmp_path)
    w = s.webpush
    w.allow_hosts = ["127.0.0.1"]
    w.backoff_base, w.backoff_max, w.timeout = 0.05, 0.3, 2.0
    for name, value in webpush.items():
        setattr(w, name, value)
    return s, prefix


def running(settings: Settings, roles: frozenset[str] = BOTH) -> AbstractAsyncContextManager[Running]:
    """The app with the push engine's intervals shortened, for the duration of the block."""
    return apputil.serving(settings, roles, configure=apputil.quick_engine(ENGINE))


async def subscribe(
    http: aiohttp.ClientSession, base: str, subscription: dict[str, Any], status: int = 201, **extra: Any
) -> dict[str, Any]:
    async with http.post(
        f"{base}/api/v1/push/subscriptions", json={"subscription": subscription, **extra}
    ) as r:
        data: dict[str, Any] = await r.json()
        assert r.status == status, data
        return data
