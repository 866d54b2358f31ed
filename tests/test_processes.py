"""Real processes: `travelinfo worker` and a web reader sharing one Redis; leader election; SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from storeutil import REDIS_URL, redis_cleanup
from waiting import wait_until

from travelinfo.app import HUB, STORE, create_app
from travelinfo.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


def write_config(tmp_path: Path, store_url: str, *, interval: str = "0.3s", lock_ttl: str = "1s") -> Path:
    cfg = tmp_path / "travelinfo.toml"
    cfg.write_text(
        f"""
[store]
url = "{store_url}"
expire_interval = "1s"
[scheduler]
jitter = 0
lock_ttl = "{lock_ttl}"
[reference]
gtfs_static = "{ROOT / "feeds" / "sl-gtfs"}"
[[sources]]
name = "sl"
type = "gtfsrt"
url = "{ROOT / "feeds" / "sl-alerts"}"
interval = "{interval}"
""",
        encoding="utf-8",
    )
    return cfg


def start(cfg: Path, *args: str, log: Path, level: str = "INFO") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TRAVELINFO_LOG_LEVEL": level}
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "travelinfo.cli", "-c", str(cfg), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> float:
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - t0


@pytest.fixture
def redis_prefix() -> str:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    asyncio.run(redis_cleanup(prefix))


@pytest.mark.realtime  # SIGTERM stops the worker within 2 s
async def test_worker_events_reach_a_web_reader_in_order_exactly_once(
    tmp_path: Path, redis_prefix: str
) -> None:
    url = f"{REDIS_URL}?prefix={redis_prefix}"
    cfg = write_config(tmp_path, url)
    settings = load_settings(cfg, env={})
    app = create_app(settings, roles=frozenset({"web"}))
    from aiohttp import web

    runner = web.AppRunner(app)
    await runner.setup()  # starts the store and the hub, like `travelinfo web`
    hub = app[HUB]
    await hub.started()
    sub = hub.subscribe()
    start_seq = hub.last_seq
    worker = start(cfg, "worker", log=tmp_path / "worker.log")
    received = []
    try:
        deadline = time.monotonic() + 30
        while len(received) < 12 and time.monotonic() < deadline:
            try:
                received.append(await asyncio.wait_for(sub.queue.get(), 1))
            except TimeoutError:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        assert stop(worker) < 2.0, "SIGTERM stops the worker within 2 s"
        logged = list((await app[STORE].changes_since(start_seq)).changes)

        def drained() -> bool:
            while not sub.queue.empty():
                received.append(sub.queue.get_nowait())
            return len(received) >= len(logged)

        # The hub delivers what the worker logged before it stopped; nothing may come after.
        await wait_until(drained, 10, "the hub to deliver every logged change")
    finally:
        if worker.poll() is None:
            worker.kill()
        await runner.cleanup()
    assert len(received) >= 12, (tmp_path / "worker.log").read_text()
    seqs = [c.seq for c in received]
    assert len(seqs) == len(set(seqs)), "none doubled"
    assert seqs == [c.seq for c in logged], "every event of the log, in order, none missing"
    assert {c.type for c in received} >= {"created", "updated", "ended"}
    assert not sub.reset.is_set()


def wait_log(path: Path, text: str, timeout: float) -> bool:
    """Wait until `text` appears in a process's log (start-up is slow on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.1)
    return False


def test_one_leader_polls_and_another_takes_over(tmp_path: Path, redis_prefix: str) -> None:
    cfg = write_config(tmp_path, f"{REDIS_URL}?prefix={redis_prefix}", interval="5s", lock_ttl="1s")
    a_path, b_path = tmp_path / "a.log", tmp_path / "b.log"
    a = start(cfg, "worker", log=a_path)
    b = None
    try:
        assert wait_log(a_path, "polling 1 source(s)", 30), a_path.read_text()
        b = start(cfg, "worker", log=b_path, level="DEBUG")
        assert wait_log(b_path, "another worker polls; standing by", 30), b_path.read_text()
        assert "polling" not in b_path.read_text(), b_path.read_text()
        a.kill()  # dies without releasing: B takes over once the lock expires
        a.wait()
        assert wait_log(b_path, "polling 1 source(s)", 6), b_path.read_text()
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                stop(p)


@pytest.mark.realtime  # SIGTERM within 2 s
def test_run_serves_healthz_quickly_and_stops_on_sigterm(tmp_path: Path) -> None:
    import json
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "TRAVELINFO_STORE": f"sqlite:///{tmp_path / 'run.db'}"}
    env.pop("REDIS_URL", None)
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "travelinfo.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        t0 = time.monotonic()
        status = None
        while time.monotonic() - t0 < 20:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(0.1)
        assert status == 200, log.read_text()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/sources", timeout=2) as r:
                sources = json.load(r)["sources"]
            if all(s["state"] != "pending" for s in sources):
                break
            time.sleep(0.1)
        names = {s["source"] for s in sources}
        assert {"trafikverket", "sl", "sjofartsverket", "krisinformation"} <= names
        assert all(s["state"] in ("ok", "failing", "stale") for s in sources), sources
    finally:
        took = stop(proc)
    assert took < 2.0, f"SIGTERM took {took:.2f} s"
    assert proc.returncode == 0, log.read_text()
