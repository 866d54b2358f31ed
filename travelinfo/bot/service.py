"""The bot as a service: each channel's `Bot` runs a pass whenever the change log moves.

Only the process holding a channel's store lease (`bot`, `bot:bluesky`) posts; the lease's TTL
is `bot.lock_ttl`, renewed at a third of it, so a bot process that died is replaced within one
TTL and a stopped one hands over at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from travelinfo.bot.channels import channel_key, make_network
from travelinfo.bot.social import PostError
from travelinfo.bot.state import ClaimBusy
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.backoff import Backoff, is_store_error
from travelinfo.runtime.lease import Lease

if TYPE_CHECKING:
    from travelinfo.bot.runner import Bot

log = logging.getLogger("travelinfo.bot")


async def serve(bot: Bot, tick: float = 30.0, retry: float = 30.0, lock_ttl: float = 60.0) -> None:
    """Run `bot` until cancelled; only the process holding the channel's lease posts."""
    lease = Lease(bot.store, bot.lock, lock_ttl, bot.holder)
    backoff = Backoff("bot: the store", log, cap=retry)
    while True:  # a store fault at start (Redis down) is waited out, not fatal
        try:
            await bot.load()
            break
        except Exception as exc:
            if not is_store_error(exc):
                raise
            await asyncio.sleep(backoff.failed(exc))
    backoff.succeeded()
    log.info("bot started as %s (posting lease %r)", bot.holder, bot.lock)
    try:
        await _loop(bot, tick, retry, lease, backoff)
    finally:
        # Hand over at once to another bot process instead of after the lease's expiry.
        await lease.release()


async def _loop(bot: Bot, tick: float, retry: float, lease: Lease, backoff: Backoff) -> None:
    while True:
        wait = 0.0
        try:
            was = lease.held
            if await lease.acquire():
                if not was:  # first start, or taking over from a bot process that stopped or died
                    log.info("bot: this process holds the posting lease %r now", bot.lock)
                async with lease.kept():  # a long pass (many posts) keeps the lease
                    await bot.step()
            else:
                wait = lease.renew_every
            if not wait:
                # A held all-clear comes due without a change: wake for it too.
                await bot.cursor.wait(min(tick, lease.renew_every, bot.next_due()))
            backoff.succeeded()
        except asyncio.CancelledError:
            raise
        except (PostError, ClaimBusy) as exc:
            log.warning("bot: %s; retrying in %.0f s", exc, retry)
            wait = retry
        except Exception as exc:
            if is_store_error(exc):  # logged once per outage by the backoff
                wait = backoff.failed(exc)
            else:
                log.exception("bot pass failed; retrying in %.0f s", retry)
                wait = retry
        if wait:
            await asyncio.sleep(wait)


async def run_channels(app: web.Application) -> None:
    """The app's background task: one `Bot` per configured channel."""
    from travelinfo.bot.runner import Bot

    settings = app[appmod.SETTINGS]
    cfg = settings.bot
    bots = []
    for channel in cfg.channels:
        try:
            network, limit = make_network(settings, app[appmod.SESSION], channel)
        except ValueError as exc:
            log.error("bot channel %s not started: %s", channel, exc)
            continue
        ns = channel_key(settings, channel)
        # A claim older than two lease TTLs is from a holder that lost the lease: resent with
        # the same idempotency key, which finds the first post if it was made.
        bots.append(
            Bot(settings, app[appmod.STORE], network, channel=ns, limit=limit, claim_ttl=2 * cfg.lock_ttl)
        )
    retry = min(30.0, cfg.lock_ttl)
    if bots:
        await asyncio.gather(*(serve(b, retry=retry, lock_ttl=cfg.lock_ttl) for b in bots))
