"""Records benchmark: listing one owner's records costs what that owner has, not the kind's size.

Stores `--others` records of other owners and 10 of one owner, on SQLite and on Redis, then
times listing the owner's by key prefix against what callers did before (every record of the
kind, filtered in Python), and a prefix listing with 10x the others. Prints the ratios
(prefix / full scan: target <= 0.1; prefix at 10x others / prefix: target <= 2, i.e. flat).

    .venv/bin/python bench/records.py [--others 5000] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from storeutil import redis_cleanup

from travelinfo.store import open_store_from_url

OWNER = "k0042"


async def fill(store: Any, start: int, n: int) -> None:
    for base in range(start, start + n, 50):
        await asyncio.gather(
            *(
                store.put_record("bench", f"o{i:06d}/s", {"owner": f"o{i:06d}", "url": "http://x/" * 5})
                for i in range(base, min(base + 50, start + n))
            )
        )


async def timed(func: Any, rounds: int) -> float:
    await func()  # warm (the Redis index is built by the first listing of an older hash)
    t = time.perf_counter()
    for _ in range(rounds):
        await func()
    return (time.perf_counter() - t) / rounds


async def run(url: str, others: int, rounds: int, **kw: Any) -> tuple[float, float, float]:
    store = open_store_from_url(url, **kw)
    await store.open()
    try:
        await fill(store, 0, others)
        for j in range(10):
            await store.put_record("bench", f"{OWNER}/s{j}", {"owner": OWNER})

        async def prefix() -> None:
            assert len(await store.list_records("bench", f"{OWNER}/")) == 10

        async def full() -> None:
            assert len([r for r in await store.list_records("bench") if r.get("owner") == OWNER]) == 10

        p, f = await timed(prefix, rounds), await timed(full, max(1, rounds // 10))
        await fill(store, others, others * 9)
        p10 = await timed(prefix, rounds)
        return p, f, p10
    finally:
        await store.close()


def report(name: str, p: float, f: float, p10: float) -> bool:
    ok = p / f <= 0.1 and p10 / p <= 2
    print(
        f"{name:7s} prefix {p * 1000:7.3f} ms  full scan {f * 1000:8.2f} ms  ratio {p / f:.4f}  "
        f"prefix at 10x others {p10 * 1000:7.3f} ms (x{p10 / p:.2f})  {'ok' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--others", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = ap.parse_args()
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"load average {load}; {args.others} records of other owners")
    return asyncio.run(compare(args))


async def compare(args: argparse.Namespace) -> int:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= report("sqlite", *await run(f"sqlite:///{tmp}/bench.db", args.others, args.rounds))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        ok &= report("redis", *await run(args.redis, args.others, args.rounds, prefix=prefix))
    finally:
        await redis_cleanup(prefix)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
