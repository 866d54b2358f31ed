"""Records (health, keys, webhooks, bot posts...) of SqliteStore: one table, written by its writer.

Listed by kind and key prefix as a range of the primary key (`LIST_SQL`), never a scan of the kind.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

# A prefix listing is a range of the (kind, key) primary key: no LIKE, so `%` and `_` are literal.
LIST_SQL = "SELECT key, value FROM records WHERE kind = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?"
LIST_OPEN_SQL = "SELECT key, value FROM records WHERE kind = ? AND key >= ? ORDER BY key LIMIT ?"


def after_prefix(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (None: no bound)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:  # surrogates cannot be stored as UTF-8: the next character is U+E000
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


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

    async def record_items(
        self, kind: str, prefix: str = "", limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        upper, most = after_prefix(prefix), -1 if limit is None else max(limit, 0)
        sql, args = (
            (LIST_OPEN_SQL, (kind, prefix, most))
            if upper is None
            else (LIST_SQL, (kind, prefix, upper, most))
        )
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        return [(str(r[0]), json.loads(r[1])) for r in rows]

    async def list_records(
        self, kind: str, prefix: str = "", limit: int | None = None
    ) -> list[dict[str, Any]]:
        return [value for _, value in await self.record_items(kind, prefix, limit)]

    async def delete_record(self, kind: str, key: str) -> bool:
        cur = await self._write(
            lambda: self._w.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
        )
        return bool(cur.rowcount)
