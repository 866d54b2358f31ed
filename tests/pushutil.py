"""Helpers for the API and push tests: demo data applied through the real parsers."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.store.base import Store

ROOT = Path(__file__).resolve().parent.parent
DEMO = (
    ("trafikverket", "datex2", "trafikverket"),
    ("sl", "gtfsrt", "sl-alerts"),
    ("sjofartsverket", "navtex", "navtex"),
    ("krisinformation", "cap", "cap"),
)


async def apply_demo(store: Store, at: datetime, step: int = 0) -> int:
    """Apply file number `step` of every demo feed folder (as the replaying collector would)."""
    n = 0
    for source, fmt, folder in DEMO:
        files = sorted(p for p in (ROOT / "feeds" / folder).iterdir() if p.is_file())
        path = files[min(step, len(files) - 1)]
        ctx = ParseContext(source=source, fetched_at=at, url=f"file:{path.name}")
        n += len(await store.apply(get_parser(fmt)(path.read_bytes(), ctx)))
    return n


@dataclass
class Sse:
    """One parsed Server-Sent Event."""

    id: str | None
    event: str
    data: dict[str, Any]


async def read_events(
    resp: aiohttp.ClientResponse, n: int, timeout: float = 5.0, until: str | None = None
) -> list[Sse]:
    """Read `n` events (or up to an event of type `until`) from an SSE response."""
    out: list[Sse] = []

    async def go() -> None:
        ident, event, data = None, "message", []
        while len(out) < n:
            line = (await resp.content.readline()).decode()
            if not line:
                raise EOFError("stream closed")
            line = line.rstrip("\n")
            if not line:
                if data:
                    out.append(Sse(ident, event, json.loads("\n".join(data))))
                    if until and event == until:
                        return
                ident, event, data = None, "message", []
            elif line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])

    await asyncio.wait_for(go(), timeout)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def hub_caught_up(app: Any, timeout: float = 5.0) -> None:
    """Wait until the app's ChangeHub has read the store's log to its end."""
    from travelinfo.app import HUB, STORE

    hub, store = app[HUB], app[STORE]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while hub.last_seq != await store.last_seq():
        if loop.time() > deadline:
            raise TimeoutError("hub did not catch up")
        await asyncio.sleep(0.02)
