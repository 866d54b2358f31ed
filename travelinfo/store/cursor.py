"""One reader's position in the change log: seq, store epoch, and what to do when either breaks.

The hub, the bot and webhook delivery all read the log through a `LogCursor`, so a log
trimmed past the position or a store whose data was replaced (Redis restarted empty, another
SQLite file: a new `epoch()`) is handled once: the cursor jumps to the end of the current
log and reports why. History of a replaced store is never replayed: its seqs mean nothing
against the old position.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from travelinfo.store.base import Change, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LogRead:
    """What one `LogCursor.read` found: events in order, or why the cursor jumped (`reset`)."""

    changes: tuple[Change, ...] = ()
    reset: str | None = None  # "replaced" (new epoch) | "trimmed" (position outside the log)


class LogCursor:
    """A position (`seq`) in one data set (`epoch`) of the store's change log."""

    def __init__(self, store: Store, what: str, seq: str = "0", epoch: str = "") -> None:
        self.store = store
        self.what = what  # who reads (for log lines)
        self.seq = seq
        self.epoch = epoch

    def to_json(self) -> dict[str, str]:
        return {"seq": self.seq, "epoch": self.epoch}

    async def attach(self, saved: Mapping[str, Any] | None = None, *, seq: str | None = None) -> str | None:
        """Continue from a saved position (`{"seq", "epoch"}`) or `seq`; without one, or when
        the saved epoch is not the store's, start at the end of the log. Returns the reset
        reason when the saved position was dropped, else None."""
        current = await self.store.epoch()
        saved_seq = (saved or {}).get("seq") or seq
        saved_epoch = (saved or {}).get("epoch") or ""
        self.epoch = current
        if not saved_seq:
            self.seq = await self.store.last_seq()
            return None
        if saved_epoch and saved_epoch != current:
            self.seq = await self.store.last_seq()
            log.warning(
                "%s: the store's data was replaced (epoch %s, was %s); continuing at %s without history",
                self.what,
                current,
                saved_epoch,
                self.seq,
            )
            return "replaced"
        self.seq = str(saved_seq)
        return None

    async def check(self) -> str | None:
        """Jump to the end of the log when the store's epoch changed ("replaced"), else None."""
        current = await self.store.epoch()
        if current == self.epoch:
            return None
        was, self.epoch = self.epoch, current
        self.seq = await self.store.last_seq()
        if was:  # the very first check only learns the epoch
            log.warning(
                "%s: the store's data was replaced (epoch %s, was %s): reset", self.what, current, was
            )
            return "replaced"
        return None

    async def read(self, limit: int = 1000, *, advance: bool = True) -> LogRead:
        """The events after the position; `advance=False` leaves moving it to `ack` (at-least-once)."""
        reset = await self.check()
        if reset:
            return LogRead(reset=reset)
        page = await self.store.changes_since(self.seq, limit)
        if page.reset:
            log.warning(
                "%s: the change log no longer reaches back to %s; skipping to %s",
                self.what,
                self.seq,
                page.last_seq,
            )
            self.seq = page.last_seq
            return LogRead(reset="trimmed")
        if advance and page.changes:
            self.seq = page.last_seq
        return LogRead(page.changes)

    def ack(self, change: Change) -> None:
        """`change` is done with: the position moves past it."""
        self.seq = change.seq

    async def wait(self, timeout: float) -> bool:
        """True as soon as the log has an event after the position (False on timeout)."""
        return await self.store.wait_for_change(self.seq, timeout)
