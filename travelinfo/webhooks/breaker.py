"""Per-subscription circuit breaker and store-outage tracking of the webhook delivery engine.

Web Push delivery uses the same breaker with its own logger and noun (`web push <id>: ...` on
`travelinfo.webpush.deliver`), so its log lines never say "webhook".

A subscription's failures back off as a whole, not per event: after a failed request the
next request to that receiver (for whatever event is then current) waits the subscription's
backoff, so a receiver that fails forever is hit at most once per `webhooks.backoff_max / 2`
seconds however many events queue up. Events whose `max_age` runs out while waiting are
dead-lettered without a request. Each outage is logged once when it starts and once when it
ends; the breaker's fields live in the subscription's state record, so a restart keeps them.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import redis.exceptions

from travelinfo.config import WebhookSettings
from travelinfo.runtime.backoff import delay as backoff_delay

log = logging.getLogger("travelinfo.webhooks.delivery")

# What a store raises while it is unreachable or busy (Redis down, SQLite locked): retried.
STORE_ERRORS: tuple[type[BaseException], ...] = (OSError, sqlite3.Error, redis.exceptions.RedisError)


def backoff(settings: WebhookSettings, failures: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, capped at `backoff_max`; never sooner than Retry-After.

    Retry-After is honoured up to `max_age`: a longer wait would only expire every event.
    """
    # Jitter spreads retries of many subscriptions.
    delay = backoff_delay(failures, settings.backoff_base, settings.backoff_max)
    return max(delay, min(retry_after or 0.0, settings.max_age))


def retry_delay(failures: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Delay before retrying a store operation after `failures` consecutive errors."""
    return backoff_delay(failures, base, cap)


class Breaker:
    """A subscription's circuit: consecutive failures, when the next request may go, the outage."""

    def __init__(
        self,
        sub_id: str,
        state: dict[str, Any],
        settings: WebhookSettings,
        *,
        logger: logging.Logger = log,
        noun: str = "webhook",
    ) -> None:
        self.id = sub_id
        self.state = state  # the subscription's state record, updated in place
        self.settings = settings
        self.log = logger
        self.name = f"{noun} {sub_id}"  # how log lines name the subscription

    @property
    def failures(self) -> int:
        """Failed requests since the last success."""
        return int(self.state.get("failures") or 0)

    @property
    def outage_dead(self) -> int:
        """Events dead-lettered since the last success."""
        return int(self.state.get("outage_dead") or 0)

    @property
    def label(self) -> str:
        """`active`, `retrying`, or `failing` (N failures in a row or a dead letter since a success)."""
        if self.tripped or self.outage_dead:
            return "failing"
        return "retrying" if self.failures else "active"

    @property
    def tripped(self) -> bool:
        """`failure_threshold` failed requests in a row."""
        return self.failures >= max(1, self.settings.failure_threshold)

    def pause(self, now: float) -> float:
        """Seconds until the receiver may be called again (0: now)."""
        return max(0.0, float(self.state.get("next_attempt") or 0.0) - now)

    def success(self) -> None:
        """A delivery succeeded: close the circuit, log the recovery if the outage was logged."""
        if self.tripped or self.outage_dead:
            self.log.info(
                "%s: delivering again after %d failed attempts; %d events dead-lettered meanwhile",
                self.name,
                self.failures,
                self.outage_dead,
            )
        self.state.update(failures=0, next_attempt=None, outage_dead=0)
        self.state["state"] = self.label

    def failure(self, now: float, retry_after: float | None) -> float:
        """A request failed: count it, schedule the next one; returns the delay."""
        failures = self.failures + 1
        delay = backoff(self.settings, failures, retry_after)
        self.state.update(failures=failures, next_attempt=now + delay)
        if failures == max(1, self.settings.failure_threshold) and not self.outage_dead:
            self.log.warning(
                "%s: failing after %d failed attempts in a row (%s); "
                "retrying with backoff up to %g s until a delivery succeeds",
                self.name,
                failures,
                self.state.get("last_error"),
                self.settings.backoff_max,
            )
        self.state["state"] = self.label
        return delay

    def dead_letter(self) -> None:
        """An event was given up on: count it; only the outage's first one is logged."""
        first = not self.outage_dead
        if first:
            self.log.warning(
                "%s: dead-lettering events (%s); later dead letters of this outage are "
                "counted in dead_letters, not logged",
                self.name,
                self.state.get("last_error"),
            )
        self.state["outage_dead"] = self.outage_dead + 1
        self.state["dead_letters"] = int(self.state.get("dead_letters") or 0) + 1
        self.state["state"] = self.label


class StoreHealth:
    """Logs a store outage once when it starts and once when it ends (shared by an engine's tasks)."""

    def __init__(self, logger: logging.Logger = log, engine: str = "webhook delivery") -> None:
        self.down: str | None = None
        self.log = logger
        self.engine = engine  # how log lines name the engine

    def failed(self, what: str, exc: BaseException) -> None:
        """A store operation failed; log it if this starts an outage."""
        if self.down is None:
            self.down = f"{type(exc).__name__}: {exc}"[:300]
            self.log.warning(
                "%s: store error while %s (%s); retrying with backoff", self.engine, what, self.down
            )

    def ok(self) -> None:
        """A store operation succeeded; log the end of an outage."""
        if self.down is not None:
            self.log.info("%s: store reachable again (was: %s)", self.engine, self.down)
            self.down = None
