"""A push subscription: the browser's PushSubscription, the filters, weekdays and time windows.

Filters are the webhooks' (the one vocabulary: `travelinfo.filters`, read as the list API
reads them); windows are local Stockholm times, so 06:30 stays 06:30 across daylight saving.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from travelinfo.model import SEVERITIES, Disruption
from travelinfo.runtime.server import BadParameter
from travelinfo.store.base import Query
from travelinfo.webhooks.delivery import query_of
from travelinfo.webhooks.routes import parse_filters
from travelinfo.webpush.records import PushSubscription
from travelinfo.webpush.vapid import unb64url

ZONE = ZoneInfo("Europe/Stockholm")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGS = ("sv", "en")
FIELDS = ("subscription", "filters", "windows", "lang", "min_severity", "planned", "ahead")
MAX_WINDOWS = 14
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True, slots=True)
class Window:
    """Weekdays and a local time span; `end` before `start` runs past midnight."""

    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        if t >= self.start:  # the evening part, on the window's own day
            return local.weekday() in self.days
        return t < self.end and (local.weekday() - 1) % 7 in self.days

    def to_json(self) -> dict[str, Any]:
        return {
            "days": [DAYS[d] for d in sorted(self.days)],
            "from": self.start.strftime("%H:%M"),
            "to": self.end.strftime("%H:%M"),
        }


def in_windows(windows: tuple[Window, ...], at: datetime) -> bool:
    """Whether `at` (aware) falls in any window, read in Europe/Stockholm; no windows: always."""
    if not windows:
        return True
    local = at.astimezone(ZONE)
    return any(w.contains(local) for w in windows)


def _clock(param: str, value: Any) -> time:
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise BadParameter(param, "must be a local time HH:MM (00:00-23:59)")
    return time(int(value[:2]), int(value[3:]))


def parse_window(i: int, raw: Any) -> Window:
    param = f"windows[{i}]"
    if not isinstance(raw, dict) or set(raw) - {"days", "from", "to"}:
        raise BadParameter(param, 'must be {"days": ["mon", ...], "from": "HH:MM", "to": "HH:MM"}')
    days = raw.get("days", list(DAYS))
    if not isinstance(days, list) or not days or not all(isinstance(d, str) and d in DAYS for d in days):
        raise BadParameter(f"{param}.days", f"must be a non-empty list of {', '.join(DAYS)}")
    start, end = _clock(f"{param}.from", raw.get("from")), _clock(f"{param}.to", raw.get("to"))
    if start == end:
        raise BadParameter(param, "`from` and `to` must differ")
    return Window(frozenset(DAYS.index(d) for d in days), start, end)


def windows_of(raw: Any) -> tuple[Window, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_WINDOWS:
        raise BadParameter("windows", f"must be a list of at most {MAX_WINDOWS} windows")
    return tuple(parse_window(i, w) for i, w in enumerate(raw))


def parse_push_subscription(raw: Any) -> dict[str, Any]:
    """The browser's `PushSubscription.toJSON()`: endpoint and keys.p256dh (P-256 point), keys.auth."""
    if not isinstance(raw, dict) or not isinstance(raw.get("endpoint"), str):
        raise BadParameter("subscription", "must be the browser's PushSubscription JSON (endpoint, keys)")
    keys = raw.get("keys")
    if not isinstance(keys, dict):
        raise BadParameter("subscription.keys", "must hold p256dh and auth")
    try:
        point = unb64url(keys.get("p256dh", ""))
    except ValueError:
        point = b""
    if len(point) != 65 or point[0] != 4:
        raise BadParameter("subscription.keys.p256dh", "must be an uncompressed P-256 point, base64url")
    try:
        auth = unb64url(keys.get("auth", ""))
    except ValueError:
        auth = b""
    if len(auth) != 16:
        raise BadParameter("subscription.keys.auth", "must be a 16-byte secret, base64url")
    expires = raw.get("expirationTime")
    if expires is not None and (not isinstance(expires, int | float) or isinstance(expires, bool)):
        raise BadParameter("subscription.expirationTime", "must be a number or null")
    return {"endpoint": raw["endpoint"], "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


def parse_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a subscribe body (not the endpoint's address: the caller checks that)."""
    for name in data:
        if name not in FIELDS:
            raise BadParameter(name, f"unknown field (known: {', '.join(FIELDS)})")
    sub = parse_push_subscription(data.get("subscription"))
    filters = parse_filters(data.get("filters"))
    lang = data.get("lang", "sv")
    if lang not in LANGS:
        raise BadParameter("lang", "one of sv, en")
    severity = data.get("min_severity")
    if severity is not None:
        if severity not in SEVERITIES:
            raise BadParameter("min_severity", f"one of {', '.join(SEVERITIES)}")
        filters["severity"] = severity
    planned = data.get("planned", True)
    if not isinstance(planned, bool):
        raise BadParameter("planned", "must be true or false")
    windows = windows_of(data.get("windows"))
    ahead = data.get("ahead")
    if ahead is not None:
        ahead = _clock("ahead", ahead).strftime("%H:%M")
        if not planned:
            raise BadParameter("ahead", "needs planned: true (it is about planned works)")
    return {
        **sub,
        "filters": filters,
        "windows": [w.to_json() for w in windows],
        "lang": lang,
        "planned": planned,
        "ahead": ahead,
    }


@dataclass(frozen=True, slots=True)
class Compiled:
    """A stored subscription made ready for matching many changes."""

    id: str
    record: PushSubscription
    query: Query
    home: Query
    windows: tuple[Window, ...]

    @property
    def lang(self) -> str:
        return self.record.lang

    def matches(self, d: Disruption) -> bool:
        """Its filters, or a public warning in its area (those reach every subscriber)."""
        return self.query.matches(d) or (d.public_warning and self.home.matches(d))


def compile_record(record: PushSubscription, home: tuple[float, float, float, float] | None) -> Compiled:
    """Read a stored subscription (validated when it was stored) for matching."""
    query = query_of(record.filters, home)
    if not record.planned:
        query = dataclasses.replace(query, status=("active",))
    area = query.bbox or None
    return Compiled(
        record.id,
        record,
        query,
        Query(status=("active",), region=home, bbox=area),
        windows_of(list(record.windows)),
    )
