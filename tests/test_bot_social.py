"""The Mastodon client's retry policy: network errors, Retry-After, giving up."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import aiohttp
import pytest

from travelinfo.bot.social import Mastodon, PostUnavailable, Recorder
from travelinfo.runtime.server import retry_after_seconds as retry_after


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 25 Nov 2026 12:00:30 GMT", now) == 30.0
    assert retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_network_errors_are_retried_with_backoff_then_reported() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with aiohttp.ClientSession() as session:
        client = Mastodon(
            f"http://127.0.0.1:{_closed_port()}",
            "s3cr3t-token",
            session,
            attempts=4,
            backoff_base=1,
            sleep=sleep,
        )
        assert "s3cr3t" not in repr(client)  # the token never shows in logs
        with pytest.raises(PostUnavailable, match="after 4 attempts"):
            await client.post("hej", idempotency_key="k")
    assert len(waits) == 3
    assert all(0.5 * 2**i <= w <= 2**i for i, w in enumerate(waits))  # exponential, jittered


async def test_recorder_ids_are_unique_per_run() -> None:
    a, b = Recorder(), Recorder()
    ids = {await r.post("x", idempotency_key="k") for r in (a, b)}
    assert len(ids) == 2 and a.posts[0]["text"] == "x"
