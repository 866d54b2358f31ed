"""Which disruptions the social bot posts, and which of their updates are worth a reply (pure)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from travelinfo.bot.state import Thread
from travelinfo.config import BotSettings
from travelinfo.filters import lines
from travelinfo.model import SEVERITY_RANK, Disruption
from travelinfo.store.query import Query

# `CANCEL BALTIC SEA NAV WARN 062/26` names the warning a NAVTEX message cancels.
_NAVTEX_CANCEL = re.compile(r"CANCEL\s+((?:[A-Z]+ )*?NAV WARN)\s+0*(\d+)/(\d{2,4})")
_NAVTEX_OWN = re.compile(r"^((?:[A-Z]+ )*?NAV WARN)\s+0*(\d+)/(\d{2,4})$")


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class Rules:
    """The configured selection: severity, time horizon, modes, sources, lines/roads, area."""

    min_severity: str = "WARNING"
    within: float = 86400.0
    modes: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    routes: tuple[str, ...] = ()
    area: tuple[float, float, float, float] | None = None
    # The home region (web.region) when bot.area is unset: as on the pages, an item without
    # geometry stays in, one whose geometry lies wholly outside is left out.
    region: tuple[float, float, float, float] | None = None

    @classmethod
    def from_settings(cls, s: BotSettings, region: tuple[float, float, float, float] | None = None) -> Rules:
        """Rules from the `[bot]` settings (`region`: web.region); ValueError on a bad value."""
        if s.min_severity not in SEVERITY_RANK:
            raise ValueError(f"bot.min_severity: unknown severity {s.min_severity!r}")
        if s.area and len(s.area) != 4:
            raise ValueError("bot.area: needs [minLon, minLat, maxLon, maxLat]")
        area = (float(s.area[0]), float(s.area[1]), float(s.area[2]), float(s.area[3])) if s.area else None
        return cls(
            min_severity=s.min_severity,
            within=float(s.within),
            modes=frozenset(s.modes),
            sources=frozenset(s.sources),
            routes=tuple(dict.fromkeys(r for r in s.routes if r.strip())),
            area=area,
            region=None if area else region,
        )

    @property
    def query(self) -> Query:
        """The same selection as the store Query every channel uses (status aside)."""
        box = None
        if self.area:  # corners in either order, as the API reads bbox
            lon, lat = sorted((self.area[0], self.area[2])), sorted((self.area[1], self.area[3]))
            box = (lon[0], lat[0], lon[1], lat[1])
        return Query(
            modes=tuple(sorted(self.modes)),
            status=(),
            sources=tuple(sorted(self.sources)),
            severity=self.min_severity,
            bbox=box,
            region=self.region,
        )

    def selects(self, d: Disruption, *, started: bool = False) -> bool:
        """Whether `d` is the kind of disruption to post (time aside).

        `started`: a thread already follows `d`; `min_severity` only gates starting one, so a
        severity drop is a reply in the thread, not an all-clear.
        """
        query = dataclasses.replace(self.query, severity=None) if started else self.query
        if not query.matches(d):
            return False
        # `routes` lists lines and roads alike (any of), each with the API's route/road meaning.
        return not self.routes or any(
            lines.affects_route(d, r) or lines.affects_road(d, r) for r in self.routes
        )

    def due_at(self, d: Disruption) -> datetime | None:
        """When `d` enters the posting horizon (active, or starting within `within`); None: never."""
        if d.status == "ended":
            return None
        if not d.periods:
            return d.first_seen
        starts = [p.start for p in d.periods]
        return min(starts) - timedelta(seconds=self.within)

    def wants(self, d: Disruption, now: datetime) -> bool:
        """Selected, not ended, and active now or starting within the horizon."""
        if d.status == "ended" or not self.selects(d):
            return False
        if d.active_at(now):
            return True
        horizon = now + timedelta(seconds=self.within)
        return any(p.start <= horizon and (p.end is None or p.end > now) for p in d.periods)


# Only these fields make a change worth a reply; last_seen/updated_at/version/provenance and
# the upstream's fine categories churn without anything a traveller would notice.
MATERIAL_FIELDS = ("severity", "periods", "effect", "header", "description", "location_text")


def material_checksum(d: Disruption) -> str:
    """SHA-256 of the fields whose change earns an update post."""
    data = d.to_json()
    canon = json.dumps({k: data[k] for k in MATERIAL_FIELDS}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()


def post_key(disruption_id: str, kind: str, checksum: str, reply_to: str | None, lang: str) -> str:
    """Deterministic `Idempotency-Key`: the same post from any process or retry has the same key."""
    raw = "\x1f".join((disruption_id, kind, checksum, reply_to or "", lang))
    return hashlib.sha256(raw.encode()).hexdigest()


def decide(
    change_type: str,
    d: Disruption,
    thread: Thread | None,
    rules: Rules,
    now: datetime,
    flap_window: float = 0.0,
) -> str:
    """What a change calls for: `new`, `update`, `end`, `defer` (planned, not yet due) or `skip`.

    An item back within `flap_window` seconds of its all-clear is an `update` in its old thread.
    """
    if thread is not None:
        ended = change_type == "ended" or d.status == "ended"
        back = thread.ended and thread.last and not ended and not thread.cancelled
        if back and now.timestamp() - (thread.ended_at or 0.0) < flap_window and rules.wants(d, now):
            return "update"
        if thread.ended or not thread.last:
            return "skip"  # closed, or summarised in a digest (no thread to reply to)
        if change_type == "ended" or d.status == "ended" or not rules.selects(d, started=True):
            return "end"  # ended, or no longer the kind of item the bot posts (events.classify)
        return "update" if material_checksum(d) != thread.checksum else "skip"
    if change_type == "ended" or d.status == "ended":
        return "skip"
    if rules.wants(d, now):
        return "new"
    due = rules.due_at(d)
    return "defer" if rules.selects(d) and due is not None and due > now else "skip"


def priority(d: Disruption) -> bool:
    """Public warnings (CAP/VMA), SEVERE items and operators' notices: always their own thread."""
    return priority_class(d) <= NOTICE


# NAVTEX warnings that are about a hazard to a vessel (a closed or restricted fairway, an
# unlit or missing aid, firing, explosives, a wreck, jamming, ice, shoals), by the parser's
# categories or the warning's own words; the rest (regattas, surveys, dredging, cables laid,
# aids changed) are routine.
_NAVTEX_DANGER = re.compile(r"\bDANGER(?:OUS)?\b|\bHAZARD", re.IGNORECASE)  # not "caution": nearly all say it
NAVTEX_SAFETY = frozenset(
    f"navtex:{kind}"
    for kind in (
        "closed", "restricted", "unlit", "off-position", "military-exercise", "explosives",
        "gnss-interference", "wreck", "ice", "depth",
    )
)  # fmt: skip

# Classes of `rank`, first posted first.
PUBLIC_WARNING, SEVERE, NOTICE, NAVTEX_SAFETY_WARNING, OTHER, NAVTEX_ROUTINE = range(6)


def priority_class(d: Disruption) -> int:
    """Public warning, SEVERE, operator's notice, NAVTEX safety warning, other, routine NAVTEX."""
    if d.source_type == "cap" or any(c.casefold() == "cap:code=vma" for c in d.categories):
        return PUBLIC_WARNING
    if d.severity == "SEVERE":
        return SEVERE
    if d.source_type == "manual":
        return NOTICE
    if d.source_type == "navtex":
        text = " ".join(d.description.values())[:4000]
        safety = NAVTEX_SAFETY.intersection(d.categories) or _NAVTEX_DANGER.search(text)
        return NAVTEX_SAFETY_WARNING if safety else NAVTEX_ROUTINE
    return OTHER


def rank(d: Disruption) -> tuple[int, int, float]:
    """Posting order under the budget: class, higher severity, then the newest news first.

    (A warning issued today is news; one in force for a year, seen for the first time by a
    bot that just started, is not.)
    """
    return priority_class(d), -SEVERITY_RANK.get(d.severity, 0), -d.updated_at.timestamp()


def _warn_key(issuer: str, number: str, year: str) -> tuple[str, int, int]:
    return (" ".join(issuer.split()), int(number), int(year) % 100)


def cancelled_ids(d: Disruption) -> list[list[str]]:
    """Candidate ids (paddings as upstreams write them) of each NAVTEX warning `d` cancels."""
    if d.source_type != "navtex":
        return []
    text = " ".join(" ".join(d.description.values()).upper().split())
    found = [_warn_key(*m.groups()) for m in _NAVTEX_CANCEL.finditer(text)]
    own_id = d.id.split(":", 1)[1] if ":" in d.id else d.id
    own = _NAVTEX_OWN.match(" ".join(own_id.upper().split()))
    mine = _warn_key(*own.groups()) if own else None
    out: list[list[str]] = []
    for issuer, n, y in dict.fromkeys(found):
        if (issuer, n, y) != mine:
            numbers = dict.fromkeys((f"{n:03d}", str(n), f"{n:02d}"))
            out.append(
                [f"{d.source}:{issuer} {num}/{yy}" for num in numbers for yy in (f"{y:02d}", f"20{y:02d}")]
            )
    return out
