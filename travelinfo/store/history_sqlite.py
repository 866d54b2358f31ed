"""SQLite history: the `versions` table and an R*Tree over each version's validity span.

Plain functions of a connection, run by the store's writer thread (inside `apply`'s and
`expire`'s transactions) or its readers. The R*Tree answers "valid at T" without scanning a
million versions; its 32-bit coordinates are rounded outwards, so the exact columns decide.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from travelinfo.store.history import OPEN, Version, cls_of, version_of
from travelinfo.store.history_mixin import HistoryMixin

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    at REAL NOT NULL,
    until REAL,
    cls INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_id ON versions(id, seq);
CREATE INDEX IF NOT EXISTS versions_at ON versions(at);
CREATE INDEX IF NOT EXISTS versions_until ON versions(until);
CREATE VIRTUAL TABLE IF NOT EXISTS versions_span USING rtree(seq, t0, t1, c0, c1);
"""

CLS = {"live": 0, "ended": 1}


def record(conn: sqlite3.Connection, seq: int, ident: str, status: str, at: datetime, body: str) -> None:
    """Keep one change event as a version; the id's previous version ends where it starts."""
    ts = at.timestamp()
    prev = conn.execute(
        "SELECT seq, at FROM versions WHERE id = ? AND until IS NULL ORDER BY seq DESC LIMIT 1", (ident,)
    ).fetchone()
    if prev is not None:
        # Sources' clocks differ: a batch stamped before the previous version ends it at once.
        ts = max(ts, prev[1])
        conn.execute("UPDATE versions SET until = ? WHERE seq = ?", (ts, prev[0]))
        conn.execute("UPDATE versions_span SET t1 = ? WHERE seq = ?", (ts, prev[0]))
    c = CLS[cls_of(status)]
    conn.execute(
        "INSERT INTO versions(seq, id, at, until, cls, data) VALUES (?, ?, ?, NULL, ?, ?)",
        (seq, ident, ts, c, body),
    )
    conn.execute("INSERT INTO versions_span VALUES (?, ?, ?, ?, ?)", (seq, ts, OPEN, c, c))


def valid_at(
    conn: sqlite3.Connection, at: datetime, classes: tuple[str, ...]
) -> list[tuple[int, float | None, str]]:
    """(seq, until, body) of the versions valid at `at` in the given classes."""
    t = at.timestamp()
    codes = [CLS[c] for c in classes]
    if not codes:
        return []
    return conn.execute(
        "SELECT v.seq, v.until, v.data FROM versions_span s JOIN versions v ON v.seq = s.seq "
        "WHERE s.t0 <= ? AND s.t1 >= ? AND s.c0 >= ? AND s.c1 <= ? "
        "AND v.at <= ? AND (v.until IS NULL OR v.until > ?)",
        (t, t, min(codes), max(codes), t, t),
    ).fetchall()


def history(conn: sqlite3.Connection, ident: str) -> list[Version]:
    """Every kept version of one id, oldest first."""
    rows = conn.execute("SELECT seq, data FROM versions WHERE id = ? ORDER BY seq", (ident,)).fetchall()
    return [version_of(str(s), d) for s, d in rows]


def between(conn: sqlite3.Connection, t0: float, t1: float) -> list[Version]:
    """Versions whose time lies in [t0, t1), in order (one archive day)."""
    rows = conn.execute(
        "SELECT seq, data FROM versions WHERE at >= ? AND at < ? ORDER BY seq", (t0, t1)
    ).fetchall()
    return [version_of(str(s), d) for s, d in rows]


def oldest(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT MIN(at) FROM versions").fetchone()
    return float(row[0]) if row and row[0] is not None else None


def floor(conn: sqlite3.Connection) -> float:
    """The time before which versions may have been pruned (0: none ever were)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'history_floor'").fetchone()
    return float(row[0]) if row else 0.0


def prune(conn: sqlite3.Connection, cutoff: float, archive_retention: float) -> int:
    """Drop versions whose validity ended before `cutoff`; the number dropped."""
    # Two conditions, each on its own index (an OR would scan every version on every sweep).
    removed = 0
    for where, arg in (
        ("until < ?", cutoff),
        ("until IS NULL AND cls = 1 AND at < ?", cutoff - archive_retention),
    ):
        conn.execute(
            f"DELETE FROM versions_span WHERE seq IN (SELECT seq FROM versions WHERE {where})", (arg,)
        )
        removed += conn.execute(f"DELETE FROM versions WHERE {where}", (arg,)).rowcount
    if cutoff > floor(conn):
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('history_floor', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (repr(cutoff),),
        )
    return removed


def count(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COUNT(*) FROM versions").fetchone()
    return int(row[0])


class SqliteHistory(HistoryMixin):
    """The history primitives of SqliteStore (its readers and its one writer thread)."""

    async def _read(self, func: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def _write(self, func: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    @property
    def _w(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def _h_valid_at(self, at: datetime, cls: tuple[str, ...]) -> list[tuple[str, float | None, str]]:
        rows = await self._read(valid_at, at, cls)
        return [(str(s), u, d) for s, u, d in rows]

    async def _h_history(self, ident: str) -> list[Version]:
        return await self._read(history, ident)

    async def _h_between(self, t0: float, t1: float) -> list[Version]:
        return await self._read(between, t0, t1)

    async def _h_oldest(self) -> float | None:
        return await self._read(oldest)

    async def _h_floor(self) -> float:
        return await self._read(floor)

    async def _h_prune(self, cutoff: float) -> int:
        def run() -> int:
            conn = self._w
            conn.execute("BEGIN IMMEDIATE")
            try:
                n = prune(conn, cutoff, self.archive_retention)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return n

        return await self._write(run)

    async def history_count(self) -> int:
        """How many versions the store keeps."""
        return await self._read(count)
