"""Benchmark: our DATEX II parser against a bare lxml iterparse pass over the same ~50 MB.

Builds a v2.3 SituationPublication by replicating every situation found in the corpus's
DATEX II v2 files (fresh ids per copy), then in one run times
  (a) `for _, e in lxml.etree.iterparse(buf): e.clear()`  (the floor: parsing only), and
  (b) `travelinfo.ingest.parsers.datex2.parse(data, ctx)`         (everything, Disruptions built),
best of --repeat runs each, alternating; the ratio is (b) / (a) in wall time, and the CPU-time
ratio is printed beside it (other processes on the machine inflate wall times unevenly). For
reference it also times an iterparse filtered to the situations that reads nothing (the part of
our time above it is Python work per situation), and the same plus one Disruption built per
situation through the parsers' fast constructor from its id alone (what this design spends
before it reads a single field: the budget left for reading is 1.5 minus that ratio).
Peak RSS growth is measured in a fresh subprocess per contender: the payload is read first,
the kernel's peak-RSS mark is reset (/proc/self/clear_refs = 5), and growth = VmHWM after
the parse - VmRSS before it (Linux only). So the input bytes are not counted; the Disruptions
the parser returns are.

Usage: .venv/bin/python bench/datex2_parse.py [--corpus DIR] [--mb 50] [--repeat 3]
Targets: time ratio <= 1.5, our peak RSS growth <= 50 MB.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from travelinfo.ingest.parsers import trusted
from travelinfo.ingest.parsers.base import ParseContext, gc_paused
from travelinfo.ingest.parsers.datex2 import parse

HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="2"><exchange>'
    b"<supplierIdentification><country>se</country><nationalIdentifier>BENCH</nationalIdentifier>"
    b'</supplierIdentification></exchange><payloadPublication xsi:type="SituationPublication" '
    b'lang="en"><publicationTime>2026-11-25T12:00:00Z</publicationTime><publicationCreator>'
    b"<country>se</country><nationalIdentifier>BENCH</nationalIdentifier></publicationCreator>\n"
)
TAIL = b"</payloadPublication></d2LogicalModel>\n"
RATIO_TARGET = 1.5
RSS_TARGET_MB = 50.0
_ID = re.compile(rb' id="([^"]*)"')


def situations(corpus: Path) -> list[bytes]:
    """Every `situation` element of the corpus's v2 files, serialised on its own."""
    found: list[bytes] = []
    for path in sorted((corpus / "datex2-v2").glob("*.xml")):
        for _, elem in etree.iterparse(str(path), tag="{http://datex2.eu/schema/2/2_0}situation"):
            found.append(etree.tostring(elem))
    return found


def build(corpus: Path, megabytes: float) -> bytes:
    """A v2.3 publication of about `megabytes` MB: corpus situations, copied with fresh ids."""
    pool = situations(corpus)
    if not pool:
        raise SystemExit(f"no DATEX II v2 situations under {corpus}/datex2-v2")
    target = int(megabytes * 1_000_000)
    parts = [HEAD]
    size = len(HEAD) + len(TAIL)
    copy = 0
    while size < target:
        suffix = b"_c%d" % copy
        for sit in pool:
            fresh = _ID.sub(lambda m, s=suffix: b' id="' + m.group(1) + s + b'"', sit)
            parts.append(fresh)
            size += len(fresh)
            if size >= target:
                break
        copy += 1
    parts.append(TAIL)
    return b"".join(parts)


def bare(data: bytes) -> int:
    """The floor: lxml iterparse over every element, clearing as it goes."""
    count = 0
    for _, elem in etree.iterparse(io.BytesIO(data)):
        elem.clear()
        count += 1
    return count


def drop(elem: etree._Element) -> None:
    """Clear a situation and the earlier ones still held by its parent, as our parser does."""
    elem.clear()
    parent = elem.getparent()
    while elem.getprevious() is not None:
        del parent[0]  # type: ignore[union-attr]


def situations_only(data: bytes) -> int:
    """For reference, not the target's baseline: iterparse filtered (in C) to the situations,
    each cleared with its preceding siblings, nothing read; what is left of our time above
    it is Python work per situation."""
    count = 0
    for _, elem in etree.iterparse(io.BytesIO(data), tag="{*}situation"):
        drop(elem)
        count += 1
    return count


_HEADER = {"en": "Bridge opening"}


def built_only(data: bytes) -> int:
    """For reference: `situations_only` plus one Disruption per situation from its id alone,
    built as our parser builds each (parsers/trusted.py, the collector paused as in a parse),
    nothing else read."""
    ctx = ParseContext("bench", datetime(2026, 11, 25, 12, tzinfo=UTC), max_bytes=len(data) + 1)
    prov = trusted.provenance(ctx)
    items = []
    fixed: dict[str, Any] = {"status": "active", "updated_at": None, "modes": ("road",), "header": _HEADER}
    with gc_paused():
        for _, elem in etree.iterparse(io.BytesIO(data), tag="{*}situation"):
            sid = elem.get("id") or "?"
            items.append(trusted.disruption(ctx, prov, "datex2", sid, periods=(), **fixed))
            drop(elem)
    return len(items)


def ours(data: bytes) -> int:
    """Our parser, as the collector calls it."""
    ctx = ParseContext("bench", datetime(2026, 11, 25, 12, tzinfo=UTC), max_bytes=len(data) + 1)
    return len(parse(data, ctx).items)


def status_kib(field: str) -> int:
    """A memory figure from /proc/self/status (Linux), in KiB: VmRSS now, VmHWM peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(which: str, path: str) -> None:
    """Run one contender in this (fresh) process and print its peak RSS growth in MB."""
    data = Path(path).read_bytes()
    # Reset the high-water mark so reading the payload does not hide the parse's own peak.
    # (Not ru_maxrss: Linux carries the parent's peak across fork+exec into the child's.)
    Path("/proc/self/clear_refs").write_text("5")
    before = status_kib("VmRSS")
    (bare if which == "bare" else ours)(data)
    peak = status_kib("VmHWM")
    print(max(0, peak - before) / 1024)


def rss_growth(which: str, path: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args.add_argument("--mb", type=float, default=50.0)
    args.add_argument("--repeat", type=int, default=3)
    args.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.child:
        child(*opts.child)
        return 0

    data = build(opts.corpus, opts.mb)
    print(f"payload: {len(data) / 1e6:.1f} MB, built from {opts.corpus}/datex2-v2")
    best = {name: float("inf") for name in ("bare", "ours", "situations", "built")}
    cpu = dict(best)
    counts = {}
    contenders = (("bare", bare), ("ours", ours), ("situations", situations_only), ("built", built_only))
    for _ in range(opts.repeat):
        for name, run in contenders:
            start, start_cpu = time.perf_counter(), time.process_time()
            counts[name] = run(data)
            best[name] = min(best[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    ratio = best["ours"] / best["bare"]
    print(f"bare lxml iterparse+clear: {best['bare']:.3f} s ({counts['bare']} elements)")
    print(f"travelinfo datex2.parse:   {best['ours']:.3f} s ({counts['ours']} disruptions)")
    print(
        f"(reference: iterparse filtered to the {counts['situations']} situations, nothing read: "
        f"{best['situations']:.3f} s; ours / that {best['ours'] / best['situations']:.2f})"
    )
    print(
        f"(reference: the same plus one Disruption per situation from its id alone: {best['built']:.3f} s, "
        f"{best['built'] / best['bare']:.2f} x bare before any field is read; our reading and building of "
        f"the fields: {(best['ours'] - best['built']) / best['bare']:.2f} x bare)"
    )
    load = os.getloadavg()
    print(
        f"ratio: {ratio:.2f} (target <= {RATIO_TARGET})  [best of {opts.repeat}; load average {load[0]:.2f}; "
        f"CPU-time ratio {cpu['ours'] / cpu['bare']:.2f}, steadier on a busy machine]"
    )

    with tempfile.NamedTemporaryFile(suffix=".xml") as tmp:
        tmp.write(data)
        tmp.flush()
        grow_bare = rss_growth("bare", Path(tmp.name))
        grow_ours = rss_growth("ours", Path(tmp.name))
    print(
        f"peak RSS growth (fresh subprocess, VmHWM after - VmRSS before, payload loaded): "
        f"bare {grow_bare:.1f} MB, ours {grow_ours:.1f} MB (target <= {RSS_TARGET_MB:.0f} MB)"
    )
    ok = ratio <= RATIO_TARGET and grow_ours <= RSS_TARGET_MB
    print(
        f"{'PASS' if ok else 'FAIL'}: ratio {ratio:.2f} (<= {RATIO_TARGET}), "
        f"peak RSS growth {grow_ours:.1f} MB (<= {RSS_TARGET_MB:.0f})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
