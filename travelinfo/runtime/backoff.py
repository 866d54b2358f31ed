"""The one retry law: capped exponential backoff with jitter (`delay`), and `Backoff`, the helper
for background loops that also logs once per outage and once on recovery.

The scheduler (a failing source), webhook delivery (a failing receiver, a store error) and
every background loop (hub, bot, worker, expiry sweep) take their delays from `delay`.
"""

from __future__ import annotations

import logging
import random
import sqlite3


def store_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "the store is unreachable or busy right now" (retry, do not crash)."""
    import redis.exceptions

    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        redis.exceptions.BusyLoadingError,
        sqlite3.OperationalError,
        ConnectionError,
        TimeoutError,
        OSError,
    )


STORE_ERRORS = store_errors()


def is_store_error(exc: BaseException) -> bool:
    """True when `exc` says the store is unreachable or locked (a fault to ride out); a task
    group's error is one when every error in it is."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_store_error(e) for e in exc.exceptions)
    return isinstance(exc, STORE_ERRORS)


def delay(failures: int, base: float, cap: float, *, spread: float = 0.5) -> float:
    """Seconds to wait after `failures` (>= 1) failures in a row: `base` doubling per failure
    up to `cap`, times a random factor in [1 - spread, 1] (several clients never retry in
    lockstep, and the cap is never passed)."""
    raw = min(cap, base * 2.0 ** min(max(failures, 1) - 1, 60))
    return raw * random.uniform(1.0 - spread, 1.0)


class Backoff:
    """Delays for one retrying loop, with one WARNING per outage and one INFO on recovery.

    `failed(exc)` returns the next delay (doubling up to `cap`, with jitter so several
    processes do not reconnect in lockstep); `succeeded()` resets it and logs the recovery.
    """

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        *,
        base: float = 0.2,
        cap: float = 5.0,
        jitter: float = 0.25,
    ) -> None:
        self.what = what
        self.log = logger
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException) -> float:
        """Record a failure; the first of an outage is logged. Returns seconds to wait."""
        self.failures += 1
        if self.failures == 1:
            self.log.warning("%s failed: %s; retrying with backoff", self.what, _describe(exc))
        return delay(self.failures, self.base, self.cap, spread=self.jitter)

    def succeeded(self) -> None:
        """Record a success; logs the recovery when there was an outage."""
        if self.failures:
            self.log.info("%s recovered after %d failed attempt(s)", self.what, self.failures)
        self.failures = 0


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
