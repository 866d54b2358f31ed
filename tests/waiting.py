"""Waiting on conditions instead of sleeping: poll a predicate until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Short enough that a test ends promptly once its condition holds; long enough not to spin a
# loaded 2-core machine.
INTERVAL = 0.02


async def wait_until(
    cond: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    what: str = "the condition",
    interval: float = INTERVAL,
) -> T:
    """Return the first truthy value of `cond()` (sync or async), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def wait_until_sync(
    cond: Callable[[], T], timeout: float = 10.0, what: str = "the condition", interval: float = 0.05
) -> T:
    """Blocking twin of `wait_until` for tests that drive subprocesses from plain threads."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


async def subscribed(hub: object, count: int, timeout: float = 10.0) -> None:
    """Wait until a ChangeHub has at least `count` subscribers (a stream client is attached)."""
    await wait_until(lambda: hub.subscribers >= count, timeout, f"{count} hub subscriber(s)")  # type: ignore[attr-defined]


async def streams_ready(app: object, count: int, timeout: float = 10.0) -> None:
    """Wait until `count` push clients have read their connect-time set: a change applied
    after this is news to each of them (before it, it may already be in what they hold)."""
    from travelinfo.push.stream import PUSH

    def ready() -> bool:
        return sum(c.ready for c in app[PUSH].clients) >= count  # type: ignore[index]

    await wait_until(ready, timeout, f"{count} ready push client(s)")
