"""Helpers for tests that run real `travelinfo` processes and a Redis server of their own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server on its own loopback port and folder, restartable with or without its data."""

    def __init__(self, folder: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.exe = exe
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.folder), "--dbfilename", "dump.rdb"]
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self, *, keep_data: bool) -> None:
        """SHUTDOWN SAVE (the restart finds its data) or NOSAVE and no dump (restart empty)."""
        assert self.proc is not None
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1) as s:
            s.sendall(b"SHUTDOWN SAVE\r\n" if keep_data else b"SHUTDOWN NOSAVE\r\n")
            with contextlib.suppress(OSError):
                s.recv(64)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if not keep_data:
            (self.folder / "dump.rdb").unlink(missing_ok=True)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def start_cli(cfg: Path, *args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m travelinfo.cli -c CFG ARGS...` with its output in `log`."""
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "travelinfo.cli", "-c", str(cfg), *args],
        cwd=ROOT,
        env=full,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop_proc(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def wait_http(session: aiohttp.ClientSession, url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


async def wait_for(cond: Any, timeout: float, what: str) -> None:
    """Wait until `cond()` is true (checked every 0.05 s)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class SseClient:
    """Reads `/api/v1/stream` in the background, keeping (type, id, data) of every event."""

    url: str
    last_event_id: str | None = None
    events: list[tuple[str, str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    task: asyncio.Task[None] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self, session: aiohttp.ClientSession) -> SseClient:
        self.task = asyncio.create_task(self._run(session))
        return self

    async def _run(self, session: aiohttp.ClientSession) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        try:
            async with session.get(self.url, headers=headers, timeout=timeout) as r:
                assert r.status == 200, r.status
                self.connected.set()
                ev: dict[str, str] = {}
                async for raw in r.content:
                    line = raw.decode().rstrip("\r\n")
                    if not line:
                        if "event" in ev:
                            data = json.loads(ev.get("data", "null"))
                            self.events.append((ev["event"], ev.get("id", ""), data))
                        ev = {}
                    elif not line.startswith(":"):
                        key, _, value = line.partition(":")
                        ev[key] = value.removeprefix(" ")
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # kept for the test to report
            self.error = exc

    def changes(self) -> list[tuple[str, str]]:
        return [(t, i) for t, i, _ in self.events if t in ("created", "updated", "ended")]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
