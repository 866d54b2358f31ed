"""Records (health, keys, webhooks, bot posts...) of SqliteStore: one table, written by its writer."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class SqliteRecords:
    """`records(kind, key, value)` rows through the store's writer thread and readers."""

    async def _write(self, func: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def _read(self, func: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    @property
    def _w(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        text = json.dumps(dict(value), ensure_ascii=False)
        await self._write(
            lambda: self._w.execute(
                "INSERT INTO records(kind, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value",
                (kind, key, text),
            )
        )

    async def add_record_if_absent(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        text = json.dumps(dict(value), ensure_ascii=False)
        cur = await self._write(
            lambda: self._w.execute(
                "INSERT OR IGNORE INTO records(kind, key, value) VALUES (?, ?, ?)",
                (kind, key, text),
            )
        )
        return bool(cur.rowcount)

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        )
        return json.loads(row[0]) if row else None

    async def list_records(self, kind: str) -> list[dict[str, Any]]:
        rows = await self._read(
            lambda c: c.execute("SELECT value FROM records WHERE kind = ? ORDER BY key", (kind,)).fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    async def delete_record(self, kind: str, key: str) -> bool:
        cur = await self._write(
            lambda: self._w.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
        )
        return bool(cur.rowcount)
