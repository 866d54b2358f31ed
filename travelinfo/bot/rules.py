"""Which disruptions the social bot posts, and which of their updates are worth a reply (pure)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from travelinfo.config import BotSettings
from travelinfo.model import SEVERITY_RANK, Disruption, bbox_of


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class Rules:
    """The configured selection: severity, time horizon, modes, sources, lines/roads, area."""

    min_severity: str = "WARNING"
    within: float = 86400.0
    modes: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()
    area: tuple[float, float, float, float] | None = None

    @classmethod
    def from_settings(cls, s: BotSettings) -> Rules:
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
            routes=frozenset(_norm(r) for r in s.routes),
            area=area,
        )

    def selects(self, d: Disruption) -> bool:
        """Whether `d` is the kind of disruption to post (time aside)."""
        if SEVERITY_RANK[d.severity] < SEVERITY_RANK[self.min_severity]:
            return False
        if self.modes and not self.modes & set(d.modes):
            return False
        if self.sources and d.source not in self.sources:
            return False
        if self.routes and not any(
            a.type in ("route", "road")
            and (_norm(a.id) in self.routes or (a.name is not None and _norm(a.name) in self.routes))
            for a in d.affected
        ):
            return False
        if self.area:
            box = bbox_of(d.geometry)
            if box is None:
                return False
            w, s, e, n = self.area
            if box[2] < w or box[0] > e or box[3] < s or box[1] > n:
                return False
        return True

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
        if change_type == "ended" or d.status == "ended":
            return "end"
        return "update" if material_checksum(d) != thread.get("checksum") else "skip"
    if change_type == "ended" or d.status == "ended":
        return "skip"
    if rules.wants(d, now):
        return "new"
    due = rules.due_at(d)
    return "defer" if rules.selects(d) and due is not None and due > now else "skip"
