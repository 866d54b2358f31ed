"""The transport-free core of the push streams: per-client filtering, resume and fan-out state.

SSE and WebSocket both run `run_stream` with their own `Sink`. Every client is one
subscription of the process's ChangeHub (one change-log reader per process, whatever the
number of clients); event payloads are serialised once per (change, type, language).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from travelinfo.api.params import Request, reduce_lang
from travelinfo.filters import events
from travelinfo.impacts.view import with_impacts
from travelinfo.model import Disruption
from travelinfo.push.hub import Pending, Wake
from travelinfo.push.variants import Variants
from travelinfo.runtime import appkeys as appmod
from travelinfo.store.base import Change, Query, Store

PAYLOAD_CACHE = 512
# How long a new stream waits for the process's change-log reader to have its first position
# (only right after start, or while the store is unreachable then) before it opens anyway: a
# proxy must not time the request out, as an EventSource never retries a failed opening.
OPEN_WAIT = 5.0


def seq_key(seq: str) -> tuple[int, ...]:
    """Order of sequence numbers of either backend (`123` SQLite, `1700000000000-0` Redis)."""
    try:
        return tuple(int(part) for part in seq.split("-"))
    except ValueError:
        return (0,)


@dataclass(frozen=True, slots=True)
class Event:
    """One serialised event: the same JSON text goes to SSE `data:` and WebSocket messages.

    `wire` is the SSE frame, encoded once here: every client of the same variant is sent
    these very bytes, so a fan-out to 10,000 clients does no per-client encoding.
    """

    type: str
    seq: str
    data: str
    wire: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        frame = f"id: {self.seq}\nevent: {self.type}\ndata: {self.data}\n\n".encode()
        object.__setattr__(self, "wire", frame)

    def sse(self) -> bytes:
        """The SSE frame (shared bytes)."""
        return self.wire


class Sink(Protocol):
    """Where a stream's events go (an SSE response or a WebSocket)."""

    async def send(self, event: Event) -> None: ...
    async def heartbeat(self) -> None: ...


class Client:
    """One connected push client (for shutdown; `ready` once its connect-time set is read)."""

    __slots__ = ("feed", "ready", "wake")

    def __init__(self, wake: Wake) -> None:
        self.wake = wake
        self.ready = False
        self.feed: Feed | None = None


@dataclass
class PushState:
    """Per-app push state: connected clients, the stop flag and shared caches."""

    stopping: bool = False
    clients: set[Client] = field(default_factory=set)
    payloads: OrderedDict[tuple[str, str, str | None], Event] = field(default_factory=OrderedDict)
    current: dict[Query, tuple[int, asyncio.Future[Current]]] = field(default_factory=dict)
    # WebSockets to close with GOING_AWAY at shutdown (weak: a finished handler drops out).
    sockets: weakref.WeakSet[web.WebSocketResponse[Any]] = field(default_factory=weakref.WeakSet)
    # Every client of one filter holds the same Query and, while it follows the live log, the
    # same frozenset of held ids: per-client filter state is a few references.
    variants: Variants = field(default_factory=Variants)
    # One process-wide heartbeat tick wakes every idle stream (a callback, not a timer per client).
    beats: int = 0
    ticker: asyncio.TimerHandle | None = None

    def stop(self) -> None:
        """Ask every stream to end now (at shutdown)."""
        self.stopping = True
        if self.ticker is not None:
            self.ticker.cancel()
            self.ticker = None
        for client in self.clients:
            client.wake.set()

    def start_ticker(self, period: float) -> None:
        """Tick every `period` seconds while clients are connected."""
        if self.ticker is None and not self.stopping:
            self.ticker = asyncio.get_running_loop().call_later(period, self._tick, period)

    def _tick(self, period: float) -> None:
        self.ticker = None
        if not self.clients or self.stopping:
            return  # restarted by the next client
        self.beats += 1
        for client in self.clients:
            client.wake.set()
        self.start_ticker(period)

    def event(self, change: Change, type_: str, lang: str | None) -> Event:
        """The serialised event, shared by every client asking for the same variant."""
        key = (change.seq, type_, lang)
        hit = self.payloads.get(key)
        if hit is not None:
            return hit
        data = change.to_json()
        data["type"] = type_
        data["disruption"] = reduce_lang(with_impacts(data["disruption"], change.disruption), lang)
        if type_ == "ended":  # an item that stops matching may still be active upstream
            data["disruption"]["status"] = "ended"
        ev = Event(type_, change.seq, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        self.payloads[key] = ev
        if len(self.payloads) > PAYLOAD_CACHE:
            self.payloads.popitem(last=False)
        return ev


PUSH: web.AppKey[PushState] = web.AppKey("push_state", PushState)


def snapshot_event(type_: str, seq: str, items: list[Disruption], lang: str | None) -> Event:
    """A `snapshot` or `reset` event carrying the whole filtered set."""
    data = {
        "type": type_,
        "seq": seq,
        "disruptions": [reduce_lang(with_impacts(d.to_json(), d), lang) for d in items],
    }
    return Event(type_, seq, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


Current = tuple[list[Disruption], frozenset[str]]  # the filtered set and its ids (shared)


async def current(app: web.Application, query: Query) -> tuple[str, Current]:
    """The filtered set now and the hub position it covers (one query per change per filter)."""
    state, hub = app[PUSH], app[appmod.HUB]
    gen, pos = hub.generation, hub.last_seq  # read together: the query below sees at least `pos`
    hit = state.current.get(query)
    if hit is None or hit[0] != gen:
        if len(state.current) > 1000:
            state.current.clear()
        fut: asyncio.Future[Current] = asyncio.get_running_loop().create_future()
        state.current[query] = (gen, fut)
        try:
            items, _ = await app[appmod.STORE].query(query)
        except BaseException as exc:
            state.current.pop(query, None)
            fut.set_exception(exc)
            fut.exception()  # retrieved: concurrent waiters re-raise it themselves
            raise
        now = (items, state.variants.share(frozenset(d.id for d in items)))
        fut.set_result(now)
        return pos, now
    return pos, await asyncio.shield(hit[1])


class Feed:
    """One client's filter and the ids it holds; turns store changes into its events.

    The semantics are travelinfo.filters.events (the same for webhooks and the bot). Following
    the live log, `known` is a frozenset shared with every client of the same filter and
    history (`Variants.step`); during a replay it is the client's own set.
    """

    __slots__ = ("guessed", "known", "lang", "query", "state")

    def __init__(self, state: PushState, query: Query, lang: str | None, known: frozenset[str]) -> None:
        self.state = state
        self.query = state.variants.query(query)
        self.lang = lang
        self.known: frozenset[str] | set[str] = known
        self.guessed: set[str] | None = None  # during a replay: ids whose holding is settled

    def event(self, change: Change) -> Event | None:
        """The event this client gets for `change` from the live log, or None."""
        known = self.known
        if not isinstance(known, frozenset):  # only during a replay, which `replayed` ends
            known = self.state.variants.share(frozenset(known))
        step = self.state.variants.step(known, change, self.query)
        self.known = step.after
        out = step.out
        return None if out is None else self.state.event(change, out.type, self.lang)

    def replay_event(self, change: Change) -> Event | None:
        """The event for `change` read back from the log (a resume), or None."""
        d = change.disruption
        known = self.known
        assert isinstance(known, set) and self.guessed is not None
        if d.id not in self.guessed:
            # First sight of an item in the gap: a `created` one was not held before it; any
            # other of the client's kind may have been (an `ended` for it is then a no-op).
            self.guessed.add(d.id)
            if change.type != "created" and self.state.variants.loose_of(self.query).matches(d):
                known.add(d.id)
            else:
                known.discard(d.id)
        elif change.type == "created":
            known.discard(d.id)  # as in `Variants.step`
        out = events.track(change.type, d, self.query.matches, known)
        return None if out is None else self.state.event(change, out.type, self.lang)

    def replaying(self) -> None:
        """Start a replay: the held ids become this client's own to change."""
        self.known = set(self.known)
        self.guessed = set()

    def replayed(self) -> None:
        """Back on the live log: share the held ids again with every client holding the same."""
        self.known = self.state.variants.share(frozenset(self.known))
        self.guessed = None


async def opened(app: web.Application) -> str | None:
    """The change-log position a stream opened now starts after (`run_stream`'s `start`).

    Read before the client is told its stream is open (SSE headers; a WebSocket subscription
    taken), once the process's log reader has its first position: a change applied after this
    reaches the client, even one that lands before the stream is subscribed or before the
    reader started. None when the reader has none within OPEN_WAIT (the store is unreachable):
    the stream opens, and starts where the reader does once it has one."""
    hub = app[appmod.HUB]
    if not hub.is_started:
        try:
            await asyncio.wait_for(hub.started(), OPEN_WAIT)
        except TimeoutError:
            return None
    return hub.last_seq


async def run_stream(
    app: web.Application,
    req: Request,
    since: str | None,
    snapshot: bool,
    sink: Sink,
    start: str | None = None,
) -> None:
    """Send a client its events until it goes away or the app stops (`start`: see `opened`)."""
    state, hub = app[PUSH], app[appmod.HUB]
    await hub.started()
    heartbeat = app[appmod.SETTINGS].push.heartbeat
    sub = hub.subscribe()  # before reading any position, so nothing falls between
    client = Client(sub.wake)
    state.clients.add(client)
    state.start_ticker(heartbeat)
    beat = state.beats
    query = state.variants.query(req.query.narrow())
    try:
        pos, (items, ids) = await current(app, query)
        feed = client.feed = Feed(state, query, req.lang, ids)
        client.ready = True
        if since is not None:
            pos = await catch_up(app, feed, since, sink)
        elif snapshot:
            await sink.send(snapshot_event("snapshot", pos, items, req.lang))
        elif start is not None and seq_key(pos) > seq_key(start):
            # Changes came between the stream's opening and its subscription: read them back.
            pos = await catch_up(app, feed, start, sink)
        epoch = hub.epoch
        while not state.stopping:
            if sub.reset.is_set():
                sub.reset.clear()
                _drain(sub.queue)
                if hub.epoch != epoch:  # the store's data was replaced: positions mean nothing
                    epoch = hub.epoch
                    pos = await send_reset(app[appmod.STORE], feed, sink)
                else:
                    pos = await catch_up(app, feed, pos, sink)
                continue
            while not sub.queue.empty() and not state.stopping:
                change = sub.queue.get_nowait()
                if seq_key(change.seq) <= seq_key(pos):
                    continue
                pos = change.seq
                ev = feed.event(change)
                if ev is not None:
                    await sink.send(ev)
            if not sub.queue.empty() or state.stopping:
                continue
            sub.wake.clear()
            await sub.wake.wait()
            if state.beats != beat:
                beat = state.beats
                if sub.queue.empty() and not sub.reset.is_set() and not state.stopping:
                    await sink.heartbeat()
    finally:
        hub.unsubscribe(sub)
        state.clients.discard(client)


def _drain(queue: Pending) -> None:
    while not queue.empty():
        queue.get_nowait()


async def catch_up(app: web.Application, feed: Feed, since: str, sink: Sink) -> str:
    """Replay every event after `since` in order, or send `reset` when the log no longer reaches."""
    store, state = app[appmod.STORE], app[PUSH]
    feed.replaying()
    try:
        return await _replay(store, state, feed, since, sink)
    finally:
        feed.replayed()


async def _replay(store: Store, state: PushState, feed: Feed, pos: str, sink: Sink) -> str:
    while not state.stopping:
        try:
            page = await store.changes_since(pos)
        except ValueError:  # a position this store never had (a Redis id given to SQLite)
            return await send_reset(store, feed, sink)
        if page.reset:
            return await send_reset(store, feed, sink)
        if not page.changes:
            return pos
        for change in page.changes:
            ev = feed.replay_event(change)
            if ev is not None:
                await sink.send(ev)
        pos = page.last_seq
    return pos


async def send_reset(store: Store, feed: Feed, sink: Sink) -> str:
    """Send the whole filtered set as a `reset` event; returns the position it stands for."""
    last = await store.last_seq()
    items, _ = await store.query(feed.query)
    feed.known = feed.state.variants.share(frozenset(d.id for d in items))
    await sink.send(snapshot_event("reset", last, items, feed.lang))
    return last


def wait_all(aws: list[Awaitable[Any]]) -> Awaitable[Any]:
    """Gather, ignoring individual failures (closing many sockets at shutdown)."""
    return asyncio.gather(*aws, return_exceptions=True)
