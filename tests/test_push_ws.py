"""WebSocket push over a real server: subscribe, events, resume, bad messages, shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from pushutil import hub_caught_up
from storeutil import batch, item, open_store

from travelinfo.config import Settings

NOW = datetime.now(UTC).replace(microsecond=0)


def settings() -> Settings:
    s = Settings()
    s.api.rate_per_ip = 0
    s.push.heartbeat = 1
    return s


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_subscribe_receive_and_resume(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store, running_app(store, settings()) as r:
        first = await store.apply(batch([item("a", NOW, severity="SEVERE")], NOW, complete=False))
        await hub_caught_up(r.app)
        async with aiohttp.ClientSession() as s, s.ws_connect(r.url + "/api/v1/ws") as ws:
            await ws.send_json({"subscribe": {"severity": "SEVERE", "lang": "sv"}, "snapshot": True})
            snap = await ws.receive_json(timeout=3)
            assert snap["type"] == "snapshot" and [d["id"] for d in snap["disruptions"]] == ["demo:a"]
            await store.apply(batch([item("low", NOW, severity="INFO")], NOW, complete=False))
            await store.apply(batch([item("b", NOW, severity="SEVERE")], NOW, complete=False))
            msg = await ws.receive_json(timeout=3)
            assert (msg["type"], msg["id"]) == ("created", "demo:b")
            # A new subscription replaces the old one; `since` replays the log.
            await ws.send_json({"subscribe": {}, "since": first[0].seq})
            replay = [await ws.receive_json(timeout=3) for _ in range(2)]
            assert [(m["type"], m["id"]) for m in replay] == [("created", "demo:low"), ("created", "demo:b")]


@pytest.mark.parametrize(
    ("send", "code", "reason"),
    [
        ("not json", aiohttp.WSCloseCode.INVALID_TEXT, "messages must be JSON"),
        (b"\x00\x01", aiohttp.WSCloseCode.UNSUPPORTED_DATA, "binary messages are not supported"),
        ('{"subscribe": {"mode": "boat"}}', aiohttp.WSCloseCode.POLICY_VIOLATION, "mode: must be"),
        ('{"subscribe": {"sevrity": "SEVERE"}}', aiohttp.WSCloseCode.POLICY_VIOLATION, "sevrity: unknown"),
        ('{"subscribe": {}, "since": "x"}', aiohttp.WSCloseCode.POLICY_VIOLATION, "since: must be a seq"),
        ('["subscribe"]', aiohttp.WSCloseCode.POLICY_VIOLATION, "subscribe: expected"),
    ],
)
async def test_bad_message_closes_with_a_reason(
    tmp_path: Path, send: str | bytes, code: int, reason: str
) -> None:
    async with (
        open_store("sqlite", tmp_path) as store,
        running_app(store, settings()) as r,
        aiohttp.ClientSession() as s,
        s.ws_connect(r.url + "/api/v1/ws") as ws,
    ):
        if isinstance(send, bytes):
            await ws.send_bytes(send)
        else:
            await ws.send_str(send)
        msg = await ws.receive(timeout=3)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert msg.data == code
        assert reason in msg.extra


async def test_sockets_closed_going_away_at_shutdown(tmp_path: Path) -> None:
    async with open_store("sqlite", tmp_path) as store, aiohttp.ClientSession() as s:
        async with running_app(store, settings()) as r:
            sockets = [await s.ws_connect(r.url + "/api/v1/ws") for _ in range(5)]
            for ws in sockets:
                await ws.send_json({"subscribe": {}})
            await asyncio.sleep(0.1)
        for ws in sockets:
            msg = await ws.receive(timeout=2)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
            assert msg.extra == "server shutdown"
            await ws.close()
