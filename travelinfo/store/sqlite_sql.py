"""SQLite schema and the statements the store's writer thread runs (plain functions of a connection)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from travelinfo.model import Disruption, format_time
from travelinfo.store import history_sqlite
from travelinfo.store.base import Change, Meta, change_text, next_transition

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    checksum TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version TEXT,
    first_seen TEXT NOT NULL,
    last_seen REAL NOT NULL,
    ended_at REAL,
    next_transition REAL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_source ON items(source, status);
CREATE INDEX IF NOT EXISTS items_status ON items(status, archived);
CREATE INDEX IF NOT EXISTS items_next ON items(next_transition);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS source_seen (source TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('epoch', lower(hex(randomblob(8))));
"""

UPSERT = """
INSERT INTO items (id, source, status, archived, checksum, updated_at, version, first_seen,
                   last_seen, ended_at, next_transition, data)
VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    status = excluded.status, archived = 0, checksum = excluded.checksum,
    updated_at = excluded.updated_at, version = excluded.version, last_seen = excluded.last_seen,
    ended_at = CASE WHEN excluded.status = 'ended' THEN COALESCE(items.ended_at, excluded.ended_at)
                    ELSE NULL END,
    next_transition = excluded.next_transition, data = excluded.data
"""


def metas_for(conn: sqlite3.Connection, ids: list[str]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows += conn.execute(
            "SELECT id, checksum, status, updated_at, version, first_seen, archived "
            f"FROM items WHERE id IN ({marks})",
            chunk,
        ).fetchall()
    return rows


def load_items(conn: sqlite3.Connection, ids: Iterable[str]) -> list[Disruption]:
    out = []
    for i in ids:
        row = conn.execute("SELECT data FROM items WHERE id = ?", (i,)).fetchone()
        if row:
            out.append(Disruption.loads(row[0]))
    return out


def upsert(conn: sqlite3.Connection, writes: list[tuple[Disruption, str]], at: datetime) -> None:
    rows = []
    for d, checksum in writes:
        rows.append(
            (
                d.id,
                d.source,
                d.status,
                checksum,
                format_time(d.updated_at),
                d.version,
                format_time(d.first_seen),
                d.last_seen.timestamp(),
                at.timestamp() if d.status == "ended" else None,
                next_transition(d, at),
                d.dumps(),
            )
        )
    conn.executemany(UPSERT, rows)


def log_events(conn: sqlite3.Connection, events: list[tuple[str, Disruption]], at: datetime) -> list[Change]:
    changes = []
    for kind, d in events:
        body = change_text(kind, d, at)
        cur = conn.execute(
            "INSERT INTO log(at, data) VALUES (?, ?)",
            (at.timestamp(), body),
        )
        seq = int(cur.lastrowid or 0)
        history_sqlite.record(conn, seq, d.id, d.status, at, body)  # every published version kept
        changes.append(Change(str(seq), kind, d.id, d, at))
    return changes


def max_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
    return int(row[0]) if row else 0


def meta_of(row: tuple[Any, ...]) -> Meta:
    ident, checksum, status, updated_at, version, first_seen, archived = row
    return Meta(ident, checksum, status, updated_at, version, first_seen, bool(archived))


def change_of(seq: int, data: str) -> Change:
    body = json.loads(data)
    body["seq"] = str(seq)
    return Change.from_json(body)


def private_files(path: Path) -> None:
    """Create the database file 0600 (it holds webhook secrets) and tighten one made wider.

    SQLite gives the -wal and -shm files the database file's permissions; any already there
    are tightened too.
    """
    if str(path) == ":memory:":
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # umask can only narrow 0600
    os.close(fd)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if p.stat().st_mode & 0o077:
                p.chmod(0o600)
        except FileNotFoundError:
            pass
