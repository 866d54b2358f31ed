"""History benchmark: an `as_of` list over 1 million stored versions vs the live list.

Stores `--versions` versions (default 1,000,000) of `--ids` disruptions over 30 days in a
SQLite store (each id lives ~1.2 days with 20 versions, the last one ended, so about 2,000 are
current at any time, an SL-sized feed), with the same statements the store's apply hook runs;
applies the current items as the live list; then times `query(Query())` and
`as_of(Query(), T)` (T now, 10 and 20 days back), cold (first call) and warm (median of 10).
Target: warm as_of / warm live <= 3. Also prints bytes per version in the store (dbstat) and in
a day's archive file (NDJSON gzip).

    .venv/bin/python bench/history.py [--versions 1000000] [--ids 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from synthetic import item_id, roadwork

from travelinfo.model import Batch, Disruption, Period, format_time
from travelinfo.store import history_sqlite, open_store_from_url
from travelinfo.store.base import Query
from travelinfo.store.history_archive import Archive
from travelinfo.store.sqlite import SqliteStore

TARGET = 3.0
DAYS = 30
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=DAYS)


def disruption(i: int, at: datetime) -> Disruption:
    # `@@V@@` becomes each version's own text when the versions are written.
    period = Period(at - timedelta(hours=1), at + timedelta(days=3))
    return roadwork(i, at, period=period, header=f"Vägarbete på väg {i % 900}, @@V@@")


def plan(n_versions: int, n_ids: int) -> list[tuple[float, int, int]]:
    """(time, id number, version number) of every version, in time order."""
    per = max(2, n_versions // n_ids)
    span = DAYS * 86400.0
    life = (span / n_ids) * 2000  # ~2,000 ids alive at any time
    out = []
    for i in range(n_ids):
        start = START.timestamp() + i * (span - life) / n_ids
        for j in range(per):
            out.append((start + j * life / (per - 1), i, j))
    out.sort()
    return out[:n_versions]


def fill(store: SqliteStore, n_versions: int, n_ids: int) -> int:
    """Write the versions with the store's history statements (one transaction per 50,000)."""
    templates: dict[int, str] = {}
    per = max(2, n_versions // n_ids)
    conn = store._w
    written = 0
    versions = plan(n_versions, n_ids)
    conn.execute("BEGIN")
    for ts, i, j in versions:
        at = datetime.fromtimestamp(ts, UTC)
        if i not in templates:
            templates[i] = disruption(i, at).dumps()
        last = j == per - 1
        body_d = templates[i].replace("@@V@@", f"version {j}")
        if last:
            body_d = body_d.replace('"status":"active"', '"status":"ended"')
        kind = "created" if j == 0 else ("ended" if last else "updated")
        ident = item_id(i)
        head = f'{{"type":"{kind}","id":"{ident}","at":"{format_time(at)}"'
        written += 1
        history_sqlite.record(
            conn,
            written,
            ident,
            "ended" if last else "active",
            at,
            head + ',"disruption":' + body_d + "}",
        )
        if written % 50_000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            templates = {k: v for k, v in templates.items() if k > i - 5000}
    conn.execute("COMMIT")
    # The log's sequence continues after the bench's versions.
    conn.execute("INSERT INTO log(seq, at, data) VALUES (?, 0, '{}')", (written,))
    conn.execute("DELETE FROM log")
    return written


async def timed(fn: object, runs: int = 10) -> tuple[float, float, int]:
    """(cold seconds, warm median seconds, items)."""
    s = time.perf_counter()
    items, _ = await fn()  # type: ignore[operator]
    cold = time.perf_counter() - s
    warm = []
    for _ in range(runs):
        s = time.perf_counter()
        await fn()  # type: ignore[operator]
        warm.append(time.perf_counter() - s)
    return cold, statistics.median(warm), len(items)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", type=int, default=1_000_000)
    ap.add_argument("--ids", type=int, default=50_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        store = open_store_from_url(f"sqlite:///{path}")
        assert isinstance(store, SqliteStore)
        await store.open()
        s = time.perf_counter()
        n = await store._write(fill, store, args.versions, args.ids)
        print(f"stored {n:,} versions in {time.perf_counter() - s:.1f} s")
        # The live list: the items current now, applied as a source's snapshot.
        alive = {i for ts, i, j in plan(args.versions, args.ids) if ts <= NOW.timestamp()}
        current = [disruption(i, NOW) for i in sorted(alive)[-2000:]]
        await store.apply(Batch("bench", NOW, tuple(current), complete=False))
        await store.close()

        store = open_store_from_url(f"sqlite:///{path}")
        await store.open()
        live = await timed(lambda: store.query(Query()))
        print(f"live list: {live[2]} items, cold {live[0] * 1000:.1f} ms, warm {live[1] * 1000:.1f} ms")
        worst = 0.0
        for back in (0, 10, 20):
            at = NOW - timedelta(days=back, minutes=7)
            past = await timed(lambda at=at: store.as_of(Query(), at))
            ratio = past[1] / live[1]
            worst = max(worst, ratio)
            print(
                f"as_of now-{back}d: {past[2]} items, cold {past[0] * 1000:.1f} ms, "
                f"warm {past[1] * 1000:.1f} ms, warm ratio {ratio:.2f} (cold ratio {past[0] / live[0]:.2f})"
            )
        count = await store.history_count()

        def sizes(conn: object) -> dict[str, int]:
            rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()  # type: ignore[attr-defined]
            return dict(rows)

        try:
            by_table = await store._read(sizes)
            hist = sum(
                v for k, v in by_table.items() if k.startswith(("versions", "sqlite_autoindex_versions"))
            )
        except Exception:  # dbstat not compiled in: the whole file
            hist = path.stat().st_size
        what = "versions table, indexes, R*Tree"
        print(f"store: {count:,} versions, {hist / count:.0f} bytes per version ({what})")
        day = NOW - timedelta(days=15)
        t0 = day.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        versions = await store._h_between(t0, t0 + 86400)
        archive = Archive(Path(tmp) / "archive")
        archive.write_day("bench", versions)
        entry = archive.manifest()["days"]["bench"]
        per_version = entry["bytes"] / entry["versions"]
        print(f"archive: {entry['versions']:,} versions in one day file, {per_version:.0f} bytes each (gzip)")
        await store.close()
        verdict = "PASS" if worst <= TARGET else "FAIL"
        print(f"worst warm as_of / live ratio {worst:.2f} (target <= {TARGET}) -> {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
