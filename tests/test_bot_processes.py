"""Two real `travelinfo bot` processes on one Redis post to mastodon_mock and a fake Bluesky PDS
(its own process): every post exactly once, and after a SIGKILL of the posting process in the
middle of a burst the other one takes over with nothing lost and nothing posted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.botutil import PUBLIC_URL, TOKEN, Masto, mastodon_server
from tests.bskyfake import HANDLE, PASSWORD
from tests.procutil import ROOT, free_port, start_cli, stop_proc, wait_http
from tests.storeutil import REDIS_URL, batch, item, open_store
from tests.waiting import wait_until
from travelinfo.model import Disruption, Period
from travelinfo.store.base import Store

__all__ = ["mastodon_server"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BURST = 15


@pytest.fixture
async def masto(mastodon_server: Any) -> AsyncIterator[Masto]:
    async with aiohttp.ClientSession() as session:
        m = Masto(mastodon_server.base_url, session)
        await m.reset()
        await m.clear_faults()
        yield m
        await m.clear_faults()


@pytest.fixture
def bsky(tmp_path: Path) -> Iterator[str]:
    """tests/bskyfake.py in a process of its own on a free loopback port."""
    port = free_port()
    log = (tmp_path / "bsky.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bskyfake", "--port", str(port)], cwd=ROOT, stdout=log, stderr=log
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_proc(proc)


def _config(tmp_path: Path, prefix: str, masto_url: str, bsky_url: str) -> Path:
    cfg = tmp_path / "bot.toml"
    cfg.write_text(
        f"""
[store]
url = "{REDIS_URL}?prefix={prefix}"
[web]
base_url = "{PUBLIC_URL}"
[bot]
channels = ["mastodon", "bluesky"]
base_url = "{masto_url}"
token = {{ env = "MASTODON_TOKEN" }}
bluesky_url = "{bsky_url}"
bluesky_handle = "{HANDLE}"
bluesky_password = {{ env = "BLUESKY_APP_PASSWORD" }}
links_count_in_full = true
second_language = ""
budget = 1000
lock_ttl = "2s"
all_clear_hold = "1s"
""",
        encoding="utf-8",
    )
    return cfg


def _item(i: int, at: datetime, description: str = "") -> Disruption:
    now = datetime.now(UTC)  # the processes apply the rules at real time
    return item(
        f"burst-{i:02d}",
        at,
        source="sl",
        header=f"Buss {100 + i}: omledning vid Slussen",
        modes=("bus",),
        periods=(Period(now - timedelta(minutes=5)),),
        description=description,
    )


async def _bsky_posts(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/_fake/posts") as resp:
        posts: list[dict[str, Any]] = await resp.json()
    return posts


def _about(text: str) -> str:
    """The disruption a post is about (its link)."""
    marker = f"{PUBLIC_URL}/d/"
    return text.split(marker, 1)[1].split()[0] if marker in text else ""


def _bsky_about(post: dict[str, Any]) -> str:
    for facet in post["value"].get("facets", []):
        uri = facet["features"][0].get("uri", "")
        if uri.startswith(f"{PUBLIC_URL}/d/"):
            return str(uri.split("/d/", 1)[1])
    return ""


def _kind(text: str) -> str:
    return "end" if text.startswith("Klart:") else "update" if text.startswith("Uppdatering:") else "new"


async def _holder_pid(store: Store, lock: str) -> int | None:
    holder = await store.redis.get(store.k("lock", lock))  # type: ignore[attr-defined]
    if not holder:
        return None
    text = holder.decode() if isinstance(holder, bytes) else str(holder)
    return int(text.split(":")[1])


async def test_two_bot_processes_post_once_and_one_takes_over_after_sigkill(
    masto: Masto, bsky: str, tmp_path: Path
) -> None:
    env = {"MASTODON_TOKEN": TOKEN, "BLUESKY_APP_PASSWORD": PASSWORD, "TRAVELINFO_LOG_LEVEL": "INFO"}
    async with open_store("redis", tmp_path) as store, aiohttp.ClientSession() as session:
        await wait_http(session, f"{bsky}/_fake/posts")
        cfg = _config(tmp_path, store.p, masto.base_url, bsky)  # type: ignore[attr-defined]
        procs = [start_cli(cfg, "bot", log=tmp_path / f"bot{n}.log", env=env) for n in range(2)]
        try:

            async def counts() -> tuple[int, int]:
                return len(await masto.statuses()), len(await _bsky_posts(session, bsky))

            async def both(n: int) -> bool:  # (a duplicate shows in the exact count at the end)
                toots, skeets = await counts()
                return toots >= n and skeets >= n

            # Both started (each channel's cursor at the log's end) and each lease taken.
            for key in ("cursor", "bluesky:cursor"):
                await wait_until(lambda k=key: store.get_record("bot_state", k), 60, f"bot_state {key}")
            for lock in ("bot", "bot:bluesky"):
                await wait_until(lambda n=lock: _holder_pid(store, n), 60, f"the {lock} lease")
            pids = {p.pid for p in procs}
            assert {await _holder_pid(store, "bot"), await _holder_pid(store, "bot:bluesky")} <= pids

            # 1. Changes through the store: 6 new, 3 updates, 2 ended (all-clears after the hold).
            t0 = datetime.now(UTC)
            await store.apply(batch([_item(i, t0) for i in range(6)], t0, source="sl", complete=False))
            await wait_until(lambda: both(6), 60, "6 posts on each network", interval=0.2)
            t1 = t0 + timedelta(seconds=1)
            updated = [_item(i, t1, "Ersättningsbuss var tionde minut.") for i in range(3)]
            await store.apply(batch(updated, t1, source="sl", complete=False))
            await wait_until(lambda: both(9), 60, "3 updates on each network", interval=0.2)
            ended = [f"sl:burst-{i:02d}" for i in (4, 5)]
            await store.apply(batch([], t1, source="sl", complete=False, ended=ended))
            await wait_until(lambda: both(11), 60, "2 all-clears on each network", interval=0.2)

            # 2. A burst posted slowly (300 ms per Mastodon post); SIGKILL the process posting
            # it while it is under way; the other takes the lease over and posts the rest.
            rule = {
                "match": {"methods": ["POST"], "path": "/api/v1/statuses"},
                "effect": {"type": "latency", "delay_ms": 300},
            }
            async with session.post(f"{masto.base_url}/api/v1/_mock/faults", json=rule) as resp:
                resp.raise_for_status()
            t2 = t1 + timedelta(seconds=1)
            burst = [_item(i, t2) for i in range(10, 10 + BURST)]
            await store.apply(batch(burst, t2, source="sl", complete=False))
            await wait_until(lambda: _at_least(masto, 11 + 3), 60, "the burst under way", interval=0.2)
            victim = await _holder_pid(store, "bot")
            assert victim in pids
            os.kill(victim, signal.SIGKILL)
            killed = next(p for p in procs if p.pid == victim)
            killed.wait(10)
            at_kill = len(await masto.statuses())
            assert at_kill < 11 + BURST, "the burst was over before the kill: nothing was taken over"
            survivor = next(p for p in procs if p.pid != victim)
            await wait_until(
                lambda: both(11 + BURST), 90, "the rest of the burst, by the other process", interval=0.2
            )
            assert await _holder_pid(store, "bot") == survivor.pid
            await masto.clear_faults()
            # The survivor goes on with new changes too.
            await store.apply(batch([], t2, source="sl", complete=False, ended=["sl:burst-10"]))
            await wait_until(lambda: both(12 + BURST), 60, "the all-clear after the takeover", interval=0.2)
            assert survivor.poll() is None
        finally:
            for p in procs:
                stop_proc(p)
        toots = await masto.statuses()
        skeets = await _bsky_posts(session, bsky)

    logs = "\n".join((tmp_path / f"bot{n}.log").read_text(errors="replace") for n in range(2))
    assert "Traceback" not in logs, logs[-3000:]
    assert TOKEN not in logs and PASSWORD not in logs  # no secret in any message
    # Exactly once: one post per (disruption, kind) and nothing else, on each network.
    expected = Counter(
        {
            **{(f"sl:burst-{i:02d}", "new"): 1 for i in [*range(6), *range(10, 10 + BURST)]},
            **{(f"sl:burst-{i:02d}", "update"): 1 for i in range(3)},
            **{(f"sl:burst-{i:02d}", "end"): 1 for i in (4, 5, 10)},
        }
    )
    assert Counter((_about(p["text"]), _kind(p["text"])) for p in toots) == expected
    assert Counter((_bsky_about(p), _kind(p["value"]["text"])) for p in skeets) == expected
    # Threads: each update and all-clear replies to that disruption's first post.
    roots = {_about(p["text"]): p["id"] for p in toots if p["in_reply_to_id"] is None}
    assert len(roots) == 6 + BURST
    for p in toots:
        if p["in_reply_to_id"] is not None:
            assert p["in_reply_to_id"] == roots[_about(p["text"])]
    uris = {_bsky_about(p): p["uri"] for p in skeets if "reply" not in p["value"]}
    for p in skeets:
        if "reply" in p["value"]:
            assert p["value"]["reply"]["root"]["uri"] == uris[_bsky_about(p)]


async def _at_least(masto: Masto, n: int) -> bool:
    return len(await masto.statuses()) >= n
