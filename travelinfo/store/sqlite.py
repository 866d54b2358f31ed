"""The embedded default store: SQLite (stdlib) in WAL mode, one writer thread, reads off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from travelinfo.model import Batch, Disruption
from travelinfo.store import history_sqlite
from travelinfo.store import sqlite_sql as sql
from travelinfo.store.base import (
    Change,
    ChangesPage,
    DecodedCache,
    Query,
    end_item,
    holder_gone,
    next_transition,
    parse_seq_int,
    plan_apply,
    retimed,
    select,
    split_unchanged,
)
from travelinfo.store.sqlite_records import SqliteRecords

T = TypeVar("T")


class SqliteStore(SqliteRecords, history_sqlite.SqliteHistory):
    """Store backend on one SQLite file (the embedded default, single process)."""

    def __init__(
        self,
        url: str = "sqlite:///var/travelinfo.db",
        *,
        grace: float = 6 * 3600,
        archive_retention: float = 30 * 86400,
        log_retention: float = 24 * 3600,
        root: Path | None = None,
        history_retention: float = 30 * 86400,
        archive_dir: Path | None = None,
        clock: Callable[[], float] = time.time,  # lock expiry reads it (tests move it)
    ) -> None:
        self.url = url
        self.clock = clock
        raw = url.removeprefix("sqlite://")
        path = Path(raw[1:] if raw.startswith("/") and not raw.startswith("//") else raw)
        if raw.startswith("//"):
            path = Path(raw[1:])
        if not path.is_absolute() and root is not None:
            path = root / path
        self.path = path
        self.grace = grace
        self.archive_retention = archive_retention
        self.log_retention = log_retention
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._write_conn: sqlite3.Connection | None = None
        self._changed: asyncio.Event | None = None
        self._last_seq = 0
        self._cache = DecodedCache()
        self._init_history(history_retention, archive_dir)

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sql.private_files(self.path)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="sqlite-reader")
        self._changed = asyncio.Event()
        await self._write(self._init)
        self._last_seq = await self._read(sql.max_seq)

    async def close(self) -> None:
        if self._writer:
            await self._write(self._close_writer)
            self._writer.shutdown(wait=True)
        if self._readers:
            self._readers.shutdown(wait=True)
        self._writer = self._readers = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _init(self) -> None:
        self._write_conn = self._connect()
        self._write_conn.executescript(sql.SCHEMA + history_sqlite.SCHEMA)

    def _close_writer(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    async def _write(self, func: Callable[..., T], *args: Any) -> T:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._writer, func, *args)

    async def _read(self, func: Callable[..., T], *args: Any) -> T:
        if self._readers is None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: func(self._reader(), *args))

    @property
    def _w(self) -> sqlite3.Connection:
        assert self._write_conn is not None
        return self._write_conn

    # -- apply ----------------------------------------------------------------------------------
    async def apply(self, batch: Batch) -> list[Change]:
        changes = await self._write(self._apply, batch)
        self._notify(changes)
        return changes

    def _apply(self, batch: Batch) -> list[Change]:
        conn = self._w
        at = batch.fetched_at
        conn.execute("BEGIN IMMEDIATE")
        try:
            if batch.complete:
                # Unchanged items (the common case) cost one checksum comparison each: only
                # the rest have their stored metadata read and decoded.
                sums = dict(conn.execute("SELECT id, checksum FROM items WHERE source = ?", (batch.source,)))
                same, rest = split_unchanged(batch.items, sums)
                metas = {r[0]: sql.meta_of(r) for r in sql.metas_for(conn, [d.id for d in rest])}
                # Only a stored item the snapshot lacks can end: with none (the common case),
                # the source's statuses are not read at all.
                active = []
                if sums.keys() - {d.id for d in batch.items}:
                    active = [
                        r[0]
                        for r in conn.execute(
                            "SELECT id FROM items WHERE source = ? AND status != 'ended'", (batch.source,)
                        )
                    ]
                plan = plan_apply(batch, metas, active, items=rest, unchanged=same)
            else:
                wanted = [d.id for d in batch.items] + list(batch.ended)
                metas = {r[0]: sql.meta_of(r) for r in sql.metas_for(conn, wanted)}
                active = [m.id for m in metas.values() if m.status != "ended"]
                plan = plan_apply(batch, metas, active)
            ended = [end_item(d, at) for d in sql.load_items(conn, plan.to_end) if d.status != "ended"]
            writes = plan.writes + [(d, d.content_checksum()) for d in ended]
            events = plan.events + [("ended", d) for d in ended]
            sql.upsert(conn, writes, at)
            if batch.complete:
                conn.execute(
                    "INSERT INTO source_seen(source, at) VALUES (?, ?) "
                    "ON CONFLICT(source) DO UPDATE SET at = excluded.at",
                    (batch.source, at.timestamp()),
                )
            elif plan.touched:
                conn.executemany(
                    "UPDATE items SET last_seen = ? WHERE id = ?",
                    [(at.timestamp(), i) for i in plan.touched],
                )
            changes = sql.log_events(conn, events, at)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changes

    def _notify(self, changes: list[Change]) -> None:
        if changes:
            self._last_seq = max(self._last_seq, int(changes[-1].seq))
            if self._changed is not None:
                self._changed.set()
                self._changed = asyncio.Event()

    # -- expiry ---------------------------------------------------------------------------------
    async def expire(self, now: datetime) -> list[Change]:
        changes = await self._write(self._expire, now)
        self._notify(changes)
        await self.keep_history(now)
        return changes

    def _expire(self, now: datetime) -> list[Change]:
        conn = self._w
        ts = now.timestamp()
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                "SELECT data FROM items WHERE next_transition IS NOT NULL AND next_transition <= ? "
                "AND status != 'ended'",
                (ts,),
            ).fetchall()
            writes: list[tuple[Disruption, str]] = []
            events: list[tuple[str, Disruption]] = []
            for (data,) in rows:
                d = Disruption.loads(data)
                new = retimed(d, now)
                if new is None:
                    conn.execute(
                        "UPDATE items SET next_transition = ? WHERE id = ?",
                        (next_transition(d, now), d.id),
                    )
                    continue
                writes.append((new, new.content_checksum()))
                events.append(("ended" if new.status == "ended" else "updated", new))
            sql.upsert(conn, writes, now)
            changes = sql.log_events(conn, events, now)
            conn.execute(
                "UPDATE items SET archived = 1 WHERE status = 'ended' AND archived = 0 AND ended_at <= ?",
                (ts - self.grace,),
            )
            conn.execute(
                "DELETE FROM items WHERE archived = 1 AND ended_at <= ?",
                (ts - self.archive_retention,),
            )
            cutoff = ts - self.log_retention
            row = conn.execute("SELECT MAX(seq) FROM log WHERE at < ?", (cutoff,)).fetchone()
            if row and row[0] is not None:
                conn.execute("DELETE FROM log WHERE seq <= ?", (row[0],))
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('log_floor', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (str(row[0]),),
                )
            conn.execute("DELETE FROM locks WHERE expires < ?", (self.clock(),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changes

    # -- reads ----------------------------------------------------------------------------------
    async def query(self, q: Query) -> tuple[list[Disruption], str | None]:
        items = await self._read(self._candidates, q)
        return select(items, q)

    def _candidates(self, conn: sqlite3.Connection, q: Query) -> list[Disruption]:
        where, args = [], []
        if q.status:
            where.append(f"status IN ({','.join('?' * len(q.status))})")
            args += list(q.status)
        if q.sources:
            where.append(f"source IN ({','.join('?' * len(q.sources))})")
            args += list(q.sources)
        if q.ids:
            where.append(f"id IN ({','.join('?' * len(q.ids))})")
            args += list(q.ids)
        sql = "SELECT id, source, status, checksum, last_seen, data FROM items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        seen = dict(conn.execute("SELECT source, at FROM source_seen").fetchall())
        return [self._decode(row, seen) for row in conn.execute(sql, args)]

    def _decode(self, row: tuple[Any, ...], seen: Mapping[str, float]) -> Disruption:
        ident, source, status, checksum, last_seen, data = row
        if status != "ended":
            last_seen = max(last_seen, seen.get(source, 0.0))
        stamp = DecodedCache.stamp(checksum, status, last_seen)
        return self._cache.get(ident, stamp) or self._cache.decode(ident, stamp, data, last_seen)

    async def get(self, id: str) -> Disruption | None:
        def one(conn: sqlite3.Connection) -> Disruption | None:
            row = conn.execute(
                "SELECT id, source, status, checksum, last_seen, data FROM items WHERE id = ?",
                (id,),
            ).fetchone()
            if row is None:
                return None
            seen = dict(conn.execute("SELECT source, at FROM source_seen").fetchall())
            return self._decode(row, seen)

        return await self._read(one)

    async def count(self) -> dict[str, int]:
        def counts(conn: sqlite3.Connection) -> dict[str, int]:
            out = {"planned": 0, "active": 0, "ended": 0, "archived": 0}
            for status, archived, n in conn.execute(
                "SELECT status, archived, COUNT(*) FROM items GROUP BY status, archived"
            ):
                out["archived" if archived else status] += n
            return out

        return await self._read(counts)

    # -- change log -----------------------------------------------------------------------------
    async def last_seq(self) -> str:
        self._last_seq = max(self._last_seq, await self._read(sql.max_seq))
        return str(self._last_seq)

    async def epoch(self) -> str:
        row = await self._read(lambda c: c.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone())
        return str(row[0]) if row else ""

    async def last_change_at(self) -> datetime | None:
        row = await self._read(lambda c: c.execute("SELECT MAX(at) FROM log").fetchone())
        return datetime.fromtimestamp(row[0], UTC) if row and row[0] is not None else None

    async def changes_since(self, seq: str | None, limit: int = 1000) -> ChangesPage:
        after = parse_seq_int(seq)

        def page(conn: sqlite3.Connection) -> ChangesPage:
            last = sql.max_seq(conn)
            row = conn.execute("SELECT value FROM meta WHERE key = 'log_floor'").fetchone()
            floor = int(row[0]) if row else 0
            if after < floor or after > last:
                return ChangesPage((), str(last), reset=True)
            rows = conn.execute(
                "SELECT seq, data FROM log WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
            changes = tuple(sql.change_of(s, data) for s, data in rows)
            return ChangesPage(changes, changes[-1].seq if changes else str(after))

        return await self._read(page)

    async def wait_for_change(self, after: str, timeout: float) -> bool:
        target = parse_seq_int(after)
        deadline = time.monotonic() + timeout
        while True:
            if self._last_seq > target or int(await self.last_seq()) > target:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._changed is None:
                return False
            # Wake on an in-process write at once; poll the file for writers in other processes.
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    # -- locks (records: sqlite_records.SqliteRecords) ------------------------------------------
    async def try_lock(self, name: str, holder: str, ttl: float) -> bool:
        def lock() -> bool:
            now = self.clock()
            conn = self._w
            conn.execute("DELETE FROM locks WHERE name = ? AND expires < ?", (name, now))
            row = conn.execute("SELECT holder FROM locks WHERE name = ?", (name,)).fetchone()
            if row and row[0] != holder and holder_gone(row[0]):
                # Its holder was killed (kill -9, a crash): no reason to wait out the expiry.
                conn.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (name, row[0]))
            conn.execute(
                "INSERT OR IGNORE INTO locks(name, holder, expires) VALUES (?, ?, ?)",
                (name, holder, now + ttl),
            )
            cur = conn.execute(
                "UPDATE locks SET expires = ? WHERE name = ? AND holder = ?",
                (now + ttl, name, holder),
            )
            return bool(cur.rowcount)

        return await self._write(lock)

    async def release_lock(self, name: str, holder: str) -> None:
        await self._write(
            lambda: self._w.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (name, holder))
        )
