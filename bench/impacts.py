"""Impact inference speed: our inference vs a bare STRtree.query + intersection, in one run.

A synthetic GTFS of 2,000 route patterns (bus lines as random walks of 60 points, 150 m
apart, over a 30 x 30 km square around Stockholm, in pairs of opposite directions) and 1,000
road events (one in five a point on a pattern, the others stretches of 150 m to 3 km along
one). Reported: time per event of `infer` and of the baseline (STRtree.query of the same
corridor ours cuts + shapely.intersection of the candidates), best and median of five
interleaved runs, their ratio (target <= 2 on the best), and the index build time for 5,000
patterns (SL's network size).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import shapely

from travelinfo.impacts.index import build_index
from travelinfo.impacts.infer import infer
from travelinfo.ingest.gtfs_static import Pattern, Route, Stop, mode_for_route_type
from travelinfo.model import Affected, Disruption, Period
from travelinfo.settings import ImpactSettings

KX, KY = 56_800.0, 111_195.0  # metres per degree at 59.33 N


@dataclass
class Feed:
    routes: dict[str, Route]
    stops: dict[str, Stop]
    patterns: tuple[Pattern, ...]


def synthetic(n: int, rng: random.Random) -> Feed:
    routes, stops, patterns = {}, {}, []
    for k in range(n):
        rid = f"r{k // 2}"
        routes[rid] = Route(str(k // 2), "", 3, "a")
        lon, lat = 17.85 + rng.random() * 0.5, 59.20 + rng.random() * 0.27
        heading = rng.random() * 2 * np.pi
        coords, ids = [], []
        for i in range(60):
            heading += rng.gauss(0, 0.15)
            lon += np.sin(heading) * 150 / KX
            lat += np.cos(heading) * 150 / KY
            coords.append((lon, lat))
            if i % 6 == 0:
                sid = f"s{k}-{i}"
                stops[sid] = Stop(sid, lat, lon)
                ids.append(sid)
        if k % 2:
            coords.reverse()
            ids.reverse()
        patterns.append(Pattern(rid, k % 2, "", tuple(coords), tuple(ids)))
    return Feed(routes, stops, tuple(patterns))


def events(feed: Feed, n: int, rng: random.Random) -> list[Disruption]:
    now = Period(__import__("datetime").datetime(2026, 12, 1, tzinfo=__import__("datetime").UTC))
    out = []
    for k in range(n):
        p = rng.choice(feed.patterns)
        if k % 5 == 0:
            lon, lat = p.shape[rng.randrange(len(p.shape))]
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        else:
            start = rng.randrange(len(p.shape) - 21)
            geometry = {
                "type": "LineString",
                "coordinates": [list(c) for c in p.shape[start : start + rng.randint(2, 20)]],
            }
        out.append(Disruption(
            id=f"b:{k}", source="b", source_type="datex2", upstream_id=str(k), updated_at=now.start,
            first_seen=now.start, last_seen=now.start, status="active", modes=("road",), header={"sv": "x"},
            cause="ACCIDENT", effect="NO_SERVICE", periods=(now,), geometry=geometry,
            affected=(Affected("road", "E4", None, "both"),),
        ))  # fmt: skip
    return out


def main() -> int:
    rng = random.Random(16)
    feed = synthetic(2000, rng)
    idx = build_index(feed, mode_for_route_type)
    evs = events(feed, 1000, rng)
    s = ImpactSettings()
    geoms = [idx.projection.geometry(dict(e.geometry or {})) for e in evs]

    def baseline() -> int:
        found = 0
        for g in geoms:
            # The same corridor ours cuts (flat ends on a stretch, a disc around a point).
            area = g.buffer(s.buffer_m if g.geom_type != "Point" else s.point_radius_m, cap_style="flat")
            hits = idx.tree.query(area, predicate="intersects")
            found += int(np.count_nonzero(~shapely.is_empty(shapely.intersection(idx.lines[hits], area))))
        return found

    def ours() -> int:
        return sum(len(infer(e, idx, s)) for e in evs)

    base_t, our_t = [], []
    for _ in range(5):  # interleaved, best of five: the machine is shared
        t = time.perf_counter()
        n_base = baseline()
        base_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        n_ours = ours()
        our_t.append(time.perf_counter() - t)
    b, o = min(base_t) / len(evs), min(our_t) / len(evs)
    ratio = o / b
    med_ratio = statistics.median(our_t) / statistics.median(base_t)
    print(f"patterns={len(idx)} events={len(evs)} candidates(baseline)={n_base} impacts(ours)={n_ours}")
    med_b, med_o = statistics.median(base_t) / len(evs), statistics.median(our_t) / len(evs)
    print(f"baseline STRtree.query+intersection: {b * 1e3:.3f} ms/event (median {med_b * 1e3:.3f})")
    print(f"our inference:                       {o * 1e3:.3f} ms/event (median {med_o * 1e3:.3f})")
    print(f"ratio ours/baseline: {ratio:.2f} best, {med_ratio:.2f} median (target <= 2)")
    big = synthetic(5000, random.Random(5))
    t = time.perf_counter()
    built = build_index(big, mode_for_route_type)
    print(f"index build for {len(built)} patterns ({sum(len(p.shape) for p in big.patterns)} points): "
          f"{time.perf_counter() - t:.2f} s")  # fmt: skip
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
