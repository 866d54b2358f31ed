"""Consumer groups: an optional Store capability (Redis Streams have them, SQLite does not).

A consumer group keeps, in the store, how far one named reader got in the change log and
which events a consumer read but did not acknowledge, so a new consumer can take those over.
Callers check `isinstance(store, ConsumerGroups)` and fall back to a `LogCursor` kept in
their own record otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from travelinfo.store.base import Change


class GroupMissing(Exception):
    """The group (or the log it reads) does not exist: deleted, or the store lost its data."""


@dataclass(frozen=True, slots=True)
class GroupRead:
    """Events read for a consumer, and the ids of pending ones trimmed from the log meanwhile."""

    changes: tuple[Change, ...] = ()
    trimmed: tuple[str, ...] = ()


@runtime_checkable
class ConsumerGroups(Protocol):
    """Named, store-kept readers of the change log (at-least-once, with takeover)."""

    async def group_create(self, group: str, seq: str) -> None:
        """Create `group` positioned after `seq`; an existing group keeps its position."""
        ...

    async def group_move(self, group: str, seq: str) -> None:
        """Position `group` after `seq` (its pending events are dropped)."""
        ...

    async def group_take_over(self, group: str, consumer: str) -> None:
        """Give `consumer` every pending event of the group and drop the other, idle consumers."""
        ...

    async def group_read(self, group: str, consumer: str, count: int, *, pending: bool) -> GroupRead:
        """`consumer`'s pending events (`pending=True`) or the next new ones; GroupMissing if gone."""
        ...

    async def group_ack(self, group: str, seq: str) -> None: ...

    async def group_destroy(self, group: str) -> None:
        """Drop `group` (nothing happens when it does not exist)."""
        ...
