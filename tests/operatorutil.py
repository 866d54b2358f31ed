"""Driving the operator UI over HTTP like a browser without JavaScript: cookies, forms, CSRF tokens."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from apputil import Running, running_app
from storeutil import REDIS_URL, redis_cleanup

from travelinfo.config import Settings
from travelinfo.store import open_store_from_url
from travelinfo.store.base import Store

ORG = "ports-of-stockholm"
OTHER = "waxholmsbolaget"
TZ = ZoneInfo("Europe/Stockholm")
ROOT = Path(__file__).resolve().parent.parent
HTML = {"Accept": "text/html,application/xhtml+xml"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def local(dt: datetime) -> str:
    """A time as an operator types it (Stockholm local time)."""
    return dt.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def csrf_of(page: str) -> str:
    m = _CSRF.search(page)
    assert m, "no CSRF token on the page"
    return html.unescape(m.group(1))


def operator_settings(**notices: Any) -> Settings:
    s = Settings()
    s.api.rate_per_ip = s.api.rate_per_key = 1000.0
    s.api.burst = 1000
    s.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
    for name, value in notices.items():
        setattr(s.notices, name, value)
    return s


def form(now: datetime, **over: Any) -> dict[str, Any]:
    """A complete notice form as a person fills it in (texts, pickers, Stockholm local times)."""
    base: dict[str, Any] = {
        "notice_id": "kaj3",
        "header_sv": "Frihamnen kaj 3 stängd",
        "header_en": "Frihamnen quay 3 closed",
        "description_sv": "Anlöp flyttas till Värtahamnen.",
        "description_en": "",
        "location_text_sv": "Frihamnen, kaj 3",
        "location_text_en": "",
        "modes": ["ferry"],
        "cause": "MAINTENANCE",
        "effect": "STOP_MOVED",
        "severity": "WARNING",
        "start_0": local(now - timedelta(hours=1)),
        "end_0": local(now + timedelta(days=2)),
        "geometry_kind": "point",
        "coords": "59.3419, 18.1167",
        "url": "",
        "action": "preview",
    }
    base.update(over)
    return base


def encode(fields: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            out.append((name, str(v)))
    return out


@dataclass
class Operator:
    """One person's browser: its own cookie jar, signed in with one key."""

    url: str
    http: aiohttp.ClientSession
    csrf: str = ""

    async def get(self, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.get(self.url + path, headers=HTML, allow_redirects=False) as r:
            return r.status, await r.text(), r

    async def post(self, path: str, fields: dict[str, Any], csrf: str | None = "") -> tuple[int, str, str]:
        """POST a form with the session's token (csrf=None: none at all); (status, body, Location)."""
        data = encode(fields)
        if csrf is not None:
            data.append(("csrf", csrf or self.csrf))
        async with self.http.post(self.url + path, data=data, headers=HTML, allow_redirects=False) as r:
            return r.status, await r.text(), r.headers.get("Location", "")

    async def sign_in(self, token: str) -> int:
        _, page, _ = await self.get("/operator")
        status, _, _ = await self.post("/operator/signin", {"token": token}, csrf=csrf_of(page))
        if status == 303:
            _, home, _ = await self.get("/operator")
            self.csrf = csrf_of(home)
        return status

    async def save(self, fields: dict[str, Any]) -> tuple[int, str, str]:
        return await self.post("/operator/save", fields)


@asynccontextmanager
async def operator_app(
    kind: str, tmp_path: Path, s: Settings | None = None
) -> AsyncIterator[tuple[Store, Running]]:
    """The app (web role) on a real store of `kind`, cleaned up afterwards."""
    prefix = ""
    if kind == "sqlite":
        store = open_store_from_url(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        store = open_store_from_url(REDIS_URL, prefix=prefix)
    try:
        async with running_app(store, s or operator_settings()) as run:
            yield store, run
    finally:
        if prefix:
            await redis_cleanup(prefix)


@asynccontextmanager
async def person(url: str) -> AsyncIterator[Operator]:
    # unsafe: the app is on 127.0.0.1, and aiohttp keeps no cookies for IP addresses otherwise.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Operator(url, http)
