"""The line status board: every line of the reference GTFS and the main roads, with its state."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from travelinfo.model import SEVERITY_RANK, Disruption

# Roads a Stockholm commuter asks about first (Trafikverket's map shows the same).
MAIN_ROADS = (
    "E4",
    "E18",
    "E20",
    "Essingeleden",
    "Södra länken",
    "Norra länken",
    "73",
    "75",
    "222",
    "226",
    "279",
)
BOARD_MODES = ("metro", "rail", "tram", "ferry")  # bus lines come on demand (search), not on the board
_ROUTE_TYPES = {
    0: "tram",
    1: "metro",
    2: "rail",
    4: "ferry",
    5: "tram",
    900: "tram",
    1000: "ferry",
    1200: "ferry",
}
MAX_ROUTES = 5000  # a reference feed bigger than this is not one city's board


@dataclass(frozen=True, slots=True)
class Line:
    """One board row's subject: a public transport line or a road."""

    key: str  # `line:14`, `road:E4`: the star's and the filter link's value
    mode: str
    short: str
    long: str
    group: str  # metro colour ("tunnelbanans röda linje") or the mode
    route_id: str = ""

    @property
    def label(self) -> str:
        return " ".join(x for x in (self.short, self.long) if x)


@dataclass(frozen=True, slots=True)
class Row:
    """A line with its worst current disruption and its next planned one (None: normal)."""

    line: Line
    worst: Disruption | None
    planned: Disruption | None
    count: int


def _csv_rows(raw: bytes) -> Iterator[dict[str, str]]:
    text = raw.decode("utf-8-sig", errors="replace")
    for n, row in enumerate(csv.DictReader(io.StringIO(text))):
        if n >= MAX_ROUTES:
            return
        yield {k.strip(): (v or "").strip() for k, v in row.items() if k}


def _routes_bytes(location: str) -> bytes | None:
    """routes.txt of a local GTFS folder or zip; None for URLs and anything unreadable."""
    if not location or "://" in location:
        return None
    path = Path(location)
    try:
        if path.is_dir():
            return (path / "routes.txt").read_bytes()
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("routes.txt")
            if info.file_size > 16 * 1024 * 1024:
                return None
            return z.read(info)
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


def load_lines(location: str) -> list[Line]:
    """The board's lines from the reference GTFS (metro, rail, tram, ferry), in board order."""
    raw = _routes_bytes(location)
    lines: list[Line] = []
    for row in _csv_rows(raw) if raw else ():
        try:
            mode = _ROUTE_TYPES.get(int(row.get("route_type", "")))
        except ValueError:
            continue
        if mode is None:
            continue
        short, long = row.get("route_short_name", ""), row.get("route_long_name", "")
        group = row.get("route_desc", "") if mode == "metro" else mode
        lines.append(Line(f"line:{short or long}", mode, short, long, group or mode, row.get("route_id", "")))
    return sorted(lines, key=lambda x: (BOARD_MODES.index(x.mode), x.group, _num(x.short), x.label))


def _num(text: str) -> tuple[int, str]:
    digits = re.match(r"\d+", text)
    return (int(digits.group()) if digits else 10**6, text)


_ROADS = [Line(f"road:{r}", "road", r, "", "road") for r in MAIN_ROADS]


def road_lines() -> list[Line]:
    """The main roads as board rows."""
    return list(_ROADS)


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text.casefold())


def affects(d: Disruption, line: Line) -> bool:
    """Whether `d` touches `line` (by GTFS route id or name; roads by number or name)."""
    if line.mode == "road":
        want = _norm(line.short)
        for a in d.affected:
            if a.type == "road" and (_norm(a.id) == want or _norm(a.name or "") == want):
                return True
        if not want.isalnum() or not want[-1].isdigit():  # named roads: Essingeleden
            texts = (*d.header.values(), *d.location_text.values(), *(a.name or "" for a in d.affected))
            return any(want in _norm(t) for t in texts)
        return False
    if line.mode not in d.modes:
        return False
    for a in d.affected:
        if a.type != "route":
            continue
        if line.route_id and a.id == line.route_id:
            return True
        name = (a.name or "").strip()
        if line.short and (name == line.short or name.startswith(line.short + " ")):
            return True
    return False


def board(lines: Sequence[Line], items: Iterable[Disruption]) -> list[Row]:
    """Each line with the worst active and the first planned disruption touching it."""
    current = [d for d in items if d.status in ("active", "planned")]
    rows = []
    for line in lines:
        hits = [d for d in current if affects(d, line)]
        active = [d for d in hits if d.status == "active"]
        planned = sorted(
            (d for d in hits if d.status == "planned"),
            key=lambda d: d.periods[0].start if d.periods else d.updated_at,
        )
        worst = max(active, key=lambda d: (SEVERITY_RANK[d.severity], d.updated_at), default=None)
        rows.append(Row(line, worst, planned[0] if planned else None, len(active)))
    return rows


def groups(rows: Sequence[Row]) -> list[tuple[str, list[Row]]]:
    """Rows grouped by metro colour / mode, in board order."""
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(r.line.group, []).append(r)
    return list(out.items())


COOKIE = "mylines"  # star.js keeps "my lines" in localStorage and in this cookie, for the server
MAX_COOKIE = 4000


def mine_keys(raw: str, lines: Sequence[Line]) -> tuple[str, ...]:
    """The starred keys of the `mylines` cookie that name a board line, in board order.

    The cookie is what star.js wrote (the keys, comma-joined, URI-encoded); anything else in
    it is ignored, never an error: a cookie is no reader's typing.
    """
    if not raw or len(raw) > MAX_COOKIE:
        return ()
    wanted = {k.strip() for k in unquote(raw).split(",")}
    return tuple(dict.fromkeys(x.key for x in lines if x.key in wanted))


def split_mine(
    items: Sequence[Disruption], lines: Sequence[Line], mine: Sequence[str]
) -> tuple[list[Disruption], list[Disruption]]:
    """(items touching a starred line, the others), each in the order given."""
    starred = [x for x in lines if x.key in mine]
    if not starred:
        return [], list(items)
    hits = [d for d in items if any(affects(d, x) for x in starred)]
    chosen = {d.id for d in hits}
    return hits, [d for d in items if d.id not in chosen]
