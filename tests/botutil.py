"""Helpers for the social bot tests: a mastodon_mock server on loopback and a test clock."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from travelinfo.config import Settings

TOKEN = "alice_token"  # mastodon_mock's seeded test account, not a real credential
PUBLIC_URL = "https://trafik.example.se"


@pytest.fixture(scope="module")
def mastodon_server() -> Iterator[Any]:
    """A real mastodon_mock (FastAPI under uvicorn) on 127.0.0.1 and a free port."""
    testing = pytest.importorskip("mastodon_mock.testing", reason="mastodon_mock is not installed")
    server = testing.MockServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def masto(mastodon_server: Any) -> AsyncIterator[Masto]:
    """The mock server, emptied, and a client to read it back and inject faults."""
    async with aiohttp.ClientSession() as session:
        m = Masto(mastodon_server.base_url, session)
        await m.reset()
        yield m


class Masto:
    """Read back what the bot posted; inject faults (mastodon_mock's /api/v1/_mock/faults)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def reset(self) -> None:
        async with self.session.post(f"{self.base_url}/api/v1/_mock/reset") as resp:
            resp.raise_for_status()

    async def statuses(self) -> list[dict[str, Any]]:
        """Every status of the bot's account, oldest first, with `text` (content without HTML)."""
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with self.session.get(
            f"{self.base_url}/api/v1/accounts/verify_credentials", headers=auth
        ) as resp:
            account = (await resp.json())["id"]
        async with self.session.get(
            f"{self.base_url}/api/v1/accounts/{account}/statuses", params={"limit": "40"}, headers=auth
        ) as resp:
            resp.raise_for_status()
            items = await resp.json()
        for s in items:
            text = re.sub(r"<br\s*/?>|</p><p>", "\n", s["content"])
            s["text"] = html.unescape(re.sub(r"<[^>]+>", "", text))
        return sorted(items, key=lambda s: int(s["id"]))

    async def fault(
        self, status: int, count: int, headers: dict[str, str] | None = None, kind: str = "status"
    ) -> None:
        rule = {
            "match": {"methods": ["POST"], "path": "/api/v1/statuses"},
            "effect": {"type": kind, "status": status, "headers": headers or {}},
            "count": count,
        }
        async with self.session.post(f"{self.base_url}/api/v1/_mock/faults", json=rule) as resp:
            resp.raise_for_status()

    async def clear_faults(self) -> None:
        async with self.session.delete(f"{self.base_url}/api/v1/_mock/faults") as resp:
            resp.raise_for_status()


def bot_settings(base_url: str, **bot: Any) -> Settings:
    """Settings for a bot posting to `base_url` with links to PUBLIC_URL."""
    s = Settings()
    s.web.base_url = PUBLIC_URL
    s.bot.base_url = base_url
    s.bot.token = TOKEN
    for key, value in bot.items():
        setattr(s.bot, key, value)
    return s


class Clock:
    """A settable clock for the bot."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
