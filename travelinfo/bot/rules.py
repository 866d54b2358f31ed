"""Which disruptions the social bot posts, and which of their updates are worth a reply (pure)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from travelinfo.config import BotSettings
from travelinfo.filters import lines
from travelinfo.model import SEVERITY_RANK, Disruption
from travelinfo.store.query import Query


@dataclass(frozen=True, slots=True)
class Rules:
    """The configured selection: severity, time horizon, modes, sources, lines/roads, area."""

    min_severity: str = "WARNING"
    within: float = 86400.0
    modes: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    routes: tuple[str, ...] = ()
    area: tuple[float, float, float, float] | None = None
    # The service's home region, as on the list: items wholly outside it are never posted.
    region: tuple[float, float, float, float] | None = None

    @classmethod
    def from_settings(cls, s: BotSettings, region: tuple[float, float, float, float] | None = None) -> Rules:
        """Rules from the `[bot]` settings; raise ValueError on a bad severity or area."""
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
            region=region,
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
    change_type: str, d: Disruption, thread: dict[str, Any] | None, rules: Rules, now: datetime
) -> str:
    """What a change calls for: `new`, `update`, `end`, `defer` (planned, not yet due) or `skip`."""
    if thread is not None:
        if thread.get("ended") or not thread.get("last"):
            return "skip"  # closed, or summarised in a digest (no thread to reply to)
        if change_type == "ended" or d.status == "ended" or not rules.selects(d, started=True):
            return "end"  # ended, or no longer the kind of item the bot posts (events.classify)
        return "update" if material_checksum(d) != thread.get("checksum") else "skip"
    if change_type == "ended" or d.status == "ended":
        return "skip"
    if rules.wants(d, now):
        return "new"
    due = rules.due_at(d)
    return "defer" if rules.selects(d) and due is not None and due > now else "skip"
