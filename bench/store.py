"""Store benchmark: cost follows changes, not size.

Applies a 10,000-item snapshot, re-applies it unchanged, then with 1% changed, on SQLite and on
Redis; prints the times and the ratio (re-apply unchanged / first apply). Target: <= 0.1 on both.
Each round builds fresh Disruption objects, as a parser would on every poll.

    .venv/bin/python bench/store.py [--items 10000] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from storeutil import redis_cleanup
from synthetic import roadwork

from travelinfo.model import Batch, Period
from travelinfo.store import open_store_from_url

TARGET = 0.1


def build(n: int, at: datetime, changed: set[int]) -> Batch:
    start = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    period = Period(start, start + timedelta(days=30))
    categories = ("datex2:MaintenanceWorks", "datex2:roadMaintenanceType=roadworks")
    items = [
        roadwork(
            i,
            at,
            period=period,
            header=f"Vägarbete på väg {i % 900}, ett körfält avstängt",
            updated_at=start,
            severity="SEVERE" if i in changed else None,
            categories=categories,
        )
        for i in range(n)
    ]
    return Batch("bench", at, tuple(items), complete=True)


async def run(url: str, n: int) -> tuple[float, float, float]:
    store = open_store_from_url(url)
    await store.open()
    try:
        t0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        b = build(n, t0, set())
        s = time.perf_counter()
        first = await store.apply(b)
        first_t = time.perf_counter() - s
        assert len(first) == n

        b = build(n, t0 + timedelta(minutes=1), set())
        s = time.perf_counter()
        same = await store.apply(b)
        same_t = time.perf_counter() - s
        assert same == [], "an unchanged snapshot must make no events"

        changed = set(range(0, n, 100))
        b = build(n, t0 + timedelta(minutes=2), changed)
        s = time.perf_counter()
        some = await store.apply(b)
        some_t = time.perf_counter() - s
        assert len(some) == len(changed)
        return first_t, same_t, some_t
    finally:
        await store.close()


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = ap.parse_args()
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        backends = [("sqlite", f"sqlite:///{tmp}/bench.db"), ("redis", f"{args.redis}?prefix={prefix}")]
        load = os.getloadavg()
        print(
            f"store benchmark: {args.items} items; target re-apply unchanged / first apply <= {TARGET}; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        for name, url in backends:
            try:
                first, same, some = await run(url, args.items)
            finally:
                if name == "redis":
                    await redis_cleanup(prefix)
            ratio = same / first
            worst = max(worst, ratio)
            print(
                f"{name:7s} first apply {first * 1000:8.1f} ms | unchanged {same * 1000:8.1f} ms "
                f"(ratio {ratio:.3f}) | 1% changed {some * 1000:8.1f} ms (ratio {some / first:.3f})"
            )
    verdict = "PASS" if worst <= TARGET else "FAIL"
    print(f"{verdict}: worst unchanged/first ratio {worst:.3f} (target <= {TARGET})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
