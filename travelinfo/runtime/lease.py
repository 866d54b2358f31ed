"""One lease helper for every "only one of us does this" loop: worker, bot, webhook delivery.

A lease is a named store lock with a holder id and a TTL. The holder renews it at a third of
the TTL, so two missed renewals still hold it and a holder that died is replaced within one
TTL; `release()` hands over at once. Holder ids (`host:pid:boot:nonce`) let the embedded
store see that a holder's process is gone and take its lock without waiting for the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Protocol

log = logging.getLogger(__name__)

# One token per process start: a lock holder id naming this host and pid but another token
# is from an earlier run of a process that had the same pid (containers: pid 1 every time).
BOOT = uuid.uuid4().hex[:8]


def lock_holder() -> str:
    """A lock holder id `host:pid:boot:nonce` that lets a store see whether its holder is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{BOOT}:{uuid.uuid4().hex[:6]}"


def holder_gone(holder: str) -> bool:
    """True when `holder` (host:pid:...) names a process of this host that no longer runs."""
    parts = holder.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return len(parts) == 4 and parts[2] != BOOT
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class LockStore(Protocol):
    """What a lease needs of the store (every Store has it)."""

    async def try_lock(self, name: str, holder: str, ttl: float) -> bool: ...
    async def release_lock(self, name: str, holder: str) -> None: ...


class Lease:
    """A named lock held by `holder`, renewed at a third of `ttl` (see the module docstring)."""

    def __init__(
        self,
        store: LockStore,
        name: str,
        ttl: float,
        holder: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.name = name
        self.ttl = ttl
        self.holder = holder or lock_holder()
        self.clock = clock
        self.held = False
        self.renewed_at: float | None = None  # clock time of the last successful take/renew

    @property
    def renew_every(self) -> float:
        """How often a holder renews: a third of the TTL."""
        return self.ttl / 3

    def expired(self) -> bool:
        """True when a held lease was not renewed for a whole TTL (someone else may hold it now)."""
        return self.renewed_at is None or self.clock() - self.renewed_at > self.ttl

    async def acquire(self) -> bool:
        """Take the lease or renew it; False when another holder has it. Store errors propagate."""
        self.held = await self.store.try_lock(self.name, self.holder, self.ttl)
        if self.held:
            self.renewed_at = self.clock()
        return self.held

    async def release(self) -> None:
        """Give the lease up at once (never raises: a store that is down lets it expire)."""
        was, self.held = self.held, False
        if was or self.renewed_at is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release_lock(self.name, self.holder))
        self.renewed_at = None

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[Lease]:
        """Renew the (held) lease every `renew_every` seconds while the body runs.

        A renewal refused or failing for a whole TTL marks it not held (`held` is False); the
        body checks `held` where it matters.
        """
        task = asyncio.create_task(self._keep(), name=f"lease:{self.name}")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                if not await self.acquire():
                    log.warning("lease %s: taken over by another holder", self.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down: the lease lasts until its TTL
                if self.expired():
                    self.held = False
                log.debug("lease %s: renewal failed: %s", self.name, exc)
