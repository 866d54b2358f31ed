"""The social media bot: posts selected disruptions to a Mastodon-compatible server.

It tails the store's change log through a `LogCursor` kept in the store (a replaced store is
continued at its end, history is not posted), threads updates and the
all-clear as replies to a disruption's first post, keeps to a rate budget (one digest post for
the rest of a burst, in priority order: `rules.rank`), holds an all-clear back for
`bot.all_clear_hold` (an item back within it continues its thread), and never posts twice (a
claim record per post plus `Idempotency-Key`). The service loop is `bot/service.py`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from travelinfo.bot.digest import compose_digest, entry_rank
from travelinfo.bot.rules import Rules, cancelled_ids, decide, material_checksum, post_key, priority, rank
from travelinfo.bot.social import SocialNetwork
from travelinfo.bot.state import POST, STATE, BotState, Overflow, Poster, Records, Thread
from travelinfo.bot.text import MASTODON, Limit, compose, link, title
from travelinfo.config import Settings
from travelinfo.model import Disruption, format_time
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.lease import lock_holder
from travelinfo.store.base import Change, Query, Store, sort_key
from travelinfo.store.cursor import LogCursor

log = logging.getLogger("travelinfo.bot")

LOCK = "bot"


def _now() -> datetime:
    return datetime.now(UTC)


class Bot:
    """One bot over one store and one social network (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        network: SocialNetwork,
        *,
        holder: str | None = None,
        clock: Callable[[], datetime] = _now,
        dry: bool = False,
        claim_ttl: float = 120.0,
        channel: str = "",
        limit: Limit = MASTODON,
    ) -> None:
        self.settings = settings
        self.cfg = settings.bot
        self.rules = Rules.from_settings(settings.bot, settings.region_bbox)
        self.store = store
        self.clock = clock
        self.limit = limit
        self.channel = channel  # '' for the first channel: its records keep their old keys
        self.lock = f"{LOCK}:{channel}" if channel else LOCK
        self.holder = holder or lock_holder()
        self.cursor = LogCursor(store, f"bot:{channel}" if channel else "bot")
        self.records = Records(store, dry=dry, prefix=f"{channel}:" if channel else "")
        self.poster = Poster(
            self.records, network, holder=self.holder, visibility=self.cfg.visibility, claim_ttl=claim_ttl
        )
        self.state = BotState(seq="0")
        self.previewed: set[str] = set()
        self.posts = 0  # statuses posted by this instance

    # -- state ----------------------------------------------------------------------------

    async def load(self) -> BotState:
        """Load the cursor; on the very first start begin at the log's end (no history)."""
        state = await self.records.typed(STATE, "cursor", BotState.from_json)
        if state is None:  # an unreadable one (logged once) starts over as on the first start
            await self.cursor.attach()  # the log's end
            self.state = BotState(seq=self.cursor.seq)
            await self.save()
            if self.records.dry:
                log.info("the bot has not run on this store yet: no change log to preview")
            else:
                log.info("bot starts at change %s (history is not posted)", self.state.seq)
        else:
            self.state = state
            if await self.cursor.attach(state.to_json()):  # another data set: its history is not posted
                self.state.seq = self.cursor.seq
                await self.save()
        return self.state

    async def save(self) -> None:
        self.cursor.seq, self.state.epoch = self.state.seq, self.cursor.epoch
        await self.records.put(STATE, "cursor", self.state.to_json())

    # -- one pass -------------------------------------------------------------------------

    async def step(self) -> int:
        """Post what the change log holds since the cursor, due planned items and a digest."""
        await self.load()
        before = self.poster.calls
        while True:
            got = await self.cursor.read(advance=False)  # moved on only once the page is done
            if got.reset:
                self.state.seq = self.cursor.seq
                await self.save()
                continue
            if not got.changes:
                break
            try:
                await self._process(got.changes)
            finally:
                await self.save()  # keep the budget even when a post failed mid-page
            self.state.seq = got.changes[-1].seq
            await self.save()
        await self._due_pending()
        await self._due_ends()
        await self._flush_digest()
        await self.save()
        return self.poster.calls - before

    async def _process(self, changes: tuple[Change, ...]) -> None:
        # Several changes of one disruption in a page: only its latest state matters.
        latest: dict[str, Change] = {}
        for change in changes:
            latest.pop(change.id, None)
            latest[change.id] = change
        # Cancellations first: the warning they end is then closed in its thread by them. Then
        # by priority (rules.rank), so the budget goes to what matters most in a burst.
        ordered = sorted(latest.values(), key=lambda c: (not cancelled_ids(c.disruption), rank(c.disruption)))
        for change in ordered:
            if change.id in self.previewed:
                continue
            await self.handle(change.type, change.disruption, change.at)

    async def _cancels(self, d: Disruption, now: datetime) -> bool:
        """A NAVTEX cancellation: the all-clear in each cancelled warning's thread; True if one."""
        names = cancelled_ids(d)
        if not names:
            return False
        if await self.records.get(POST, d.id) is not None:
            return True  # handled before (its change came again)
        for candidates in names:
            for ident in candidates:
                thread = await self.records.thread(ident)
                if thread is None:
                    continue
                if not thread.ended and thread.last:
                    original = await self.store.get(ident) or d
                    await self.publish("end", original, thread, now, cancel=d)
                elif not thread.ended:
                    await self.records.put_thread(replace(thread, ended=True, cancelled=True))
                break
        # Never a thread of its own, also when the warning it cancels was not posted.
        cancellation = Thread(d.id, checksum=material_checksum(d), ended=True, cancellation=True)
        await self.records.put_thread(cancellation)
        return True

    async def handle(self, change_type: str, d: Disruption, at: datetime | None = None) -> None:
        """Act on one change of `d` (made at `at`): post, reply, all-clear, defer or skip."""
        now = self.clock()
        if change_type != "ended" and d.status != "ended" and await self._cancels(d, now):
            return
        thread = await self.records.thread(d.id)
        action = decide(change_type, d, thread, self.rules, now, self.cfg.flap_window)
        if action == "defer":
            due = self.rules.due_at(d)
            if due is not None:
                self.state.pending[d.id] = due.timestamp()
            return
        self.state.pending.pop(d.id, None)
        if thread is not None and thread.ending is not None and action != "end":
            thread = await self._resume(d, thread)  # back within the hold-back: no all-clear
        if action == "end" and thread is not None and self.cfg.all_clear_hold > 0:
            await self._hold_end(d, thread, min(at or now, now))
        elif action in ("new", "update", "end"):
            await self.publish(action, d, thread, now)

    # -- the all-clear hold-back (flap suppression) ----------------------------------------

    async def _hold_end(self, d: Disruption, thread: Thread, ended: datetime) -> None:
        """Hold the all-clear of `d` back for `bot.all_clear_hold` from when it `ended`.

        Kept in its thread record and the cursor record: a restart goes on holding it, and a
        bot that was down longer than the hold posts it at once.
        """
        due = thread.ending
        if due is None:  # a second end while held keeps the first due time
            due = ended.timestamp() + self.cfg.all_clear_hold
            await self.records.put_thread(replace(thread, ending=due, ending_item=d.to_json()))
            until = format_time(datetime.fromtimestamp(due, UTC))
            log.info("%s ended: its all-clear is held back until %s (bot.all_clear_hold)", d.id, until)
        self.state.ending[d.id] = float(due)

    async def _resume(self, d: Disruption, thread: Thread) -> Thread:
        thread = replace(thread, ending=None, ending_item=None)
        await self.records.put_thread(thread)
        self.state.ending.pop(d.id, None)
        log.info("%s is back within the hold-back: its thread goes on, no all-clear", d.id)
        return thread

    async def _due_ends(self) -> None:
        """Post the held all-clears whose hold-back is over (the item stayed ended)."""
        now = self.clock()
        for ident, due in sorted(self.state.ending.items(), key=lambda kv: kv[1]):
            if due > now.timestamp():
                continue
            thread = await self.records.thread(ident)
            if thread is not None and thread.ending_item is not None and not thread.ended:
                # The item as it ended: the same text and key from any process, even once purged.
                await self.publish("end", Disruption.from_json(thread.ending_item), thread, now)
            self.state.ending.pop(ident, None)

    def next_due(self) -> float:
        """Seconds until the next held all-clear is due (inf: none held)."""
        if not self.state.ending:
            return math.inf
        return max(0.05, min(self.state.ending.values()) - self.clock().timestamp())

    async def _due_pending(self) -> None:
        now = self.clock()
        for ident, due in sorted(self.state.pending.items(), key=lambda kv: kv[1]):
            if due > now.timestamp():
                continue
            d = await self.store.get(ident)
            if d is None or d.status == "ended" or not self.rules.selects(d):
                self.state.pending.pop(ident, None)
                continue
            if not self.rules.wants(d, now):
                continue  # due by its first period, but that one is over: wait for the store's event
            self.state.pending.pop(ident, None)
            if await self.records.get(POST, ident) is None:
                await self.publish("new", d, None, now)

    # -- posting --------------------------------------------------------------------------

    async def publish(
        self,
        kind: str,
        d: Disruption,
        thread: Thread | None,
        now: datetime,
        cancel: Disruption | None = None,
    ) -> None:
        """Post `kind` for `d` (replying in its thread), or count it for the digest.

        Priority items (public warnings, SEVERE, operators' notices) and the replies of a
        thread already posted are never held back; the budget is for new, lower items.
        """
        url = self.settings.public_url
        draft = compose(d, kind, self.cfg.language, url, now, limit=self.limit, cancel=cancel)
        assert draft is not None  # only the strict (second-language) form can be None
        checksum = material_checksum(d)
        reply_to = thread.last if thread else None
        key = post_key(d.id, kind, checksum, reply_to, draft.language)
        settled, status_id = await self.poster.posted(key)
        allowed = self.state.allow(now, self.cfg.budget, self.cfg.budget_window)
        if not settled and not allowed and not priority(d) and kind == "new":
            await self._hold_back(kind, d, thread, checksum, now)
            return
        if not settled:
            status_id = await self.poster.send(key, draft, reply_to, d.id, kind, now)
            if status_id is not None:
                self.state.sent.append(now.timestamp())
                self.posts += 1
        if kind == "end":
            self.state.ending.pop(d.id, None)
        if status_id is None:  # rejected for good: keep the thread as it was
            if kind == "end" and thread is not None:
                await self.records.put_thread(replace(thread, ended=True, ended_at=now.timestamp()))
            return
        new_thread = Thread(
            d.id,
            root=(thread.root if thread else None) or status_id,
            last=status_id,
            statuses=(*(thread.statuses if thread else ()), status_id),
            checksum=checksum,
            ended=kind == "end",
            ended_at=now.timestamp() if kind == "end" else None,
            cancelled=cancel is not None,
            updated=format_time(now),
        )
        await self.records.put_thread(new_thread)
        await self._second_language(kind, d, checksum, status_id, draft.language, new_thread, now, cancel)

    async def _second_language(
        self,
        kind: str,
        d: Disruption,
        checksum: str,
        parent: str,
        used: str,
        thread: Thread,
        now: datetime,
        cancel: Disruption | None = None,
    ) -> None:
        lang = self.cfg.second_language
        if not lang or lang == used:
            return
        url = self.settings.public_url
        draft = compose(d, kind, lang, url, now, strict=True, limit=self.limit, cancel=cancel)
        if draft is None:
            return
        key = post_key(d.id, kind, checksum, parent, draft.language)
        settled, status_id = await self.poster.posted(key)
        if not settled:
            # A translation belongs to the post it translates: it does not use up the budget.
            status_id = await self.poster.send(key, draft, parent, d.id, f"{kind}/{lang}", now)
            self.posts += int(status_id is not None)
        if status_id is not None and status_id not in thread.statuses:
            await self.records.put_thread(replace(thread, statuses=(*thread.statuses, status_id)))

    async def _hold_back(
        self, kind: str, d: Disruption, thread: Thread | None, checksum: str, now: datetime
    ) -> None:
        log.info("rate budget used up; %s of %s goes into the digest", kind, d.id)
        if kind == "new":
            self.state.overflow.new += 1
            order = "{}.{}".format(*rank(d)[:2])  # class and severity: the digest lists by them
            headline = title(d, self.cfg.language)[1]
            self.state.digest.append([headline, link(d, self.settings.public_url), order])
            # No thread to reply to: later updates of it are not posted one by one either.
            digested = Thread(d.id, checksum=checksum, digested=True, updated=format_time(now))
            await self.records.put_thread(digested)
        else:
            self.state.overflow.other += 1
            if kind == "end" and thread is not None:
                await self.records.put_thread(replace(thread, ended=True))

    async def _flush_digest(self) -> None:
        now = self.clock()
        if not self.state.digest_due(now, self.cfg.budget_window):
            return
        new, other = self.state.overflow.new, self.state.overflow.other
        held = sorted(self.state.digest, key=entry_rank)  # stable: arrival order within a rank
        items = [(e[0], e[1]) for e in held]
        draft = compose_digest(new, other, self.cfg.language, self.settings.public_url, items, self.limit)
        raw = f"digest\x1f{self.state.seq}\x1f{new}\x1f{other}\x1f{self.state.digest_at}"
        key = hashlib.sha256(raw.encode()).hexdigest()
        settled, status_id = await self.poster.posted(key)
        if not settled:
            status_id = await self.poster.send(key, draft, None, "digest", "digest", now)
            self.posts += int(status_id is not None)
        self.state.digest_at = now.timestamp()
        self.state.overflow = Overflow()
        self.state.digest = []

    # -- preview and service ----------------------------------------------------------------

    async def preview_current(self) -> None:
        """(Dry run) first posts of the disruptions in the store that the rules select now."""
        now = self.clock()
        items, _ = await self.store.query(Query())
        for d in sorted(items, key=lambda d: (rank(d), d.first_seen, sort_key(d))):  # as a burst
            if self.rules.wants(d, now) and await self.records.get(POST, d.id) is None:
                self.previewed.add(d.id)
                await self.publish("new", d, None, now)
        await self._flush_digest()
        await self.save()

    async def run(self, tick: float = 30.0, retry: float = 30.0, lock_ttl: float = 60.0) -> None:
        """Run until cancelled; only the process holding the store's `bot` lease posts."""
        from travelinfo.bot.service import serve

        await serve(self, tick, retry, lock_ttl)


def setup(app: web.Application) -> None:
    """Run the bot in the background when the app has the `bot` role."""
    if "bot" in app[appmod.ROLES]:
        from travelinfo.bot.service import run_channels

        appmod.add_background(app, "bot", run_channels)


# -- command line (travelinfo/bot/command.py) --------------------------------------------------


def add_commands(subparsers: Any) -> None:
    """`travelinfo bot [--dry-run [--from-start]] [--at TIME]`."""
    from travelinfo.bot.command import add_commands as add

    add(subparsers)
