"""Planned works ahead: the evening before, what starts tomorrow on what a person follows.

A subscription with `ahead` ("20:00", Stockholm time) hears once a day, at that time or at the
engine's first look after it, about each planned item it matches whose first period starts
the next local day and that it was not told about yet. It is then `told`, so the day it comes
into effect is a `started` notification and its end an all-clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from travelinfo.model import Disruption
from travelinfo.webpush.message import Notice
from travelinfo.webpush.subscription import ZONE, Compiled

AHEAD = "ahead"


def starts_on(d: Disruption) -> date | None:
    """The local date a planned item's first period starts (None: no start known)."""
    starts = [p.start for p in d.periods if p.start.year > 1970]
    return min(starts).astimezone(ZONE).date() if starts else None


def due_today(sub: Compiled, tracked: dict[str, Any], now: datetime) -> date | None:
    """The local date of this evening's look when it is due now, else None."""
    at = sub.record.ahead
    if not at or not sub.record.planned:
        return None
    local = now.astimezone(ZONE)
    hour, minute = (int(x) for x in str(at).split(":"))
    if (
        local.time().replace(tzinfo=None) < time(hour, minute)
        or tracked.get("ahead_day") == local.date().isoformat()
    ):
        return None
    return local.date()


def notices(
    sub: Compiled, tracked: dict[str, Any], planned: Iterable[Disruption], now: datetime
) -> list[Notice]:
    """What `sub` hears this evening (marked told and the day recorded), oldest start first."""
    today = due_today(sub, tracked, now)
    if today is None:
        return []
    tracked["ahead_day"] = today.isoformat()
    tomorrow = today + timedelta(days=1)
    told: dict[str, list[str]] = tracked["told"]
    out = []
    for d in sorted(planned, key=lambda d: (starts_on(d) or tomorrow, d.id)):
        if d.status == "planned" and d.id not in told and starts_on(d) == tomorrow and sub.query.matches(d):
            told[d.id] = [d.severity, d.status]
            out.append(Notice(AHEAD, d, now))
    return out
