"""Render disruptions as a GTFS-RT ServiceAlerts FeedMessage (protobuf bytes or JSON). Pure.

Only non-ended public transport disruptions (bus, metro, tram, rail, ferry) are written, one
FeedEntity each, its id the disruption id (stable across versions). The `gtfsrt:` categories
the parser keeps (tts texts, details, images, whole selectors, extra periods, url translations)
are written back, so a GTFS-RT upstream passes through without loss.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2

from travelinfo.model import Disruption, Period, parse_time, utc
from travelinfo.vocab import (
    MAX_EXPANDED,
    OPEN_START,
    PT_MODES,
    ROUTE_TYPE_OF_MODE,
    SELECTOR_FIELDS,
    TRIP_FIELDS,
)

EARLIEST_TIME = 1104537600  # 2005-01-01T00:00:00Z
HORIZON_DAYS = 14  # recurring validity is expanded into active_periods this far ahead
LATEST_TIME = 1991620134  # 2033-02-10T03:48:54Z, the top of the POSIX window GTFS-RT validators accept
_ALERT = gtfs_realtime_pb2.Alert
_CAUSE_NAMES = frozenset(_ALERT.Cause.keys())
_INT_FIELDS = {"route_type", "direction_id"}
_TEXT_FIELDS = (
    "tts_header_text",
    "tts_description_text",
    "cause_detail",
    "effect_detail",
    "image_alternative_text",
)


def split_category(category: str) -> tuple[str, str, str] | None:
    """`gtfsrt:field:lang=value` -> (field, lang, value); None for other namespaces."""
    key, sep, value = category.partition("=")
    if not sep or not key.startswith("gtfsrt:"):
        return None
    _, _, rest = key.partition(":")
    name, _, lang = rest.partition(":")
    return name, lang, value


def _set_texts(target: Any, texts: Iterable[tuple[str, str]]) -> None:
    for lang, text in texts:
        tr = target.translation.add()
        tr.text = text
        if lang:
            tr.language = lang


def _set_range(rng: Any, period: Period) -> None:
    # Consumers (MobilityData's validator, E001) take times outside 2005..2033 for milliseconds
    # sent by mistake; so a start before that is written open, an end after it (Halifax's
    # "year 3000") open too: the same meaning in practice.
    start = int(period.start.timestamp())
    if period.start != OPEN_START and start >= EARLIEST_TIME:
        rng.start = start
    if period.end is not None and int(period.end.timestamp()) <= LATEST_TIME:
        rng.end = int(period.end.timestamp())


def _interval(value: str) -> Period | None:
    start, sep, end = value.partition("/")
    if not sep:
        return None
    return Period(
        OPEN_START if start == ".." else parse_time(start), None if end == ".." else parse_time(end)
    )


_SELECTOR_KINDS = {"agency_id": "agency", "route_id": "route", "route_type": "route_type", "stop_id": "stop"}
_SELECTOR_KINDS |= {"trip.trip_id": "trip", "trip.route_id": "route"}


def _selector(
    alert: Any, fields: Mapping[str, str], ids: Mapping[tuple[str, str], str]
) -> set[tuple[str, str]]:
    """Add an EntitySelector from `gtfsrt:selector` fields; return the (type, id) it covers.

    `ids` maps (type, id) to the reference GTFS's id; a selector naming an id the reference
    does not know ("") is left out whole (dropping one field would widen it).
    """
    covered = {(_SELECTOR_KINDS[k], v) for k, v in fields.items() if k in _SELECTOR_KINDS}
    if any(ids.get(c) == "" for c in covered):
        return covered
    sel = alert.informed_entity.add()
    for key, value in fields.items():
        target, name = (sel.trip, key[5:]) if key.startswith("trip.") else (sel, key)
        if name not in (TRIP_FIELDS if target is sel.trip else SELECTOR_FIELDS):
            continue
        value = ids.get((_SELECTOR_KINDS.get(key, ""), value)) or value
        setattr(target, name, int(value) if name in _INT_FIELDS else value)
    return covered


def _informed(alert: Any, d: Disruption, selectors: list[str]) -> None:
    # Informed entities the reference GTFS resolved are written with its ids; unknown ones
    # (gtfs_id "") are left out (the ingest noted them; the API keeps them).
    ids = {(a.type, a.id): a.gtfs_id for a in d.affected if a.gtfs_id is not None}
    covered: set[tuple[str, str]] = set()
    for query in selectors:
        covered |= _selector(alert, dict(parse_qsl(query)), ids)
    for item in d.affected:
        if (item.type, item.id) in covered or item.gtfs_id == "":
            continue
        covered.add((item.type, item.id))
        ident = item.gtfs_id or item.id
        if item.type in ("agency", "route", "stop"):
            setattr(alert.informed_entity.add(), f"{item.type}_id", ident)
        elif item.type == "trip":
            alert.informed_entity.add().trip.trip_id = ident
        elif item.type == "route_type" and item.id.isdigit():
            alert.informed_entity.add().route_type = int(item.id)
    if not alert.informed_entity:
        # GTFS-RT needs at least one informed entity: say which kinds of service are hit.
        for mode in d.modes:
            if mode in ROUTE_TYPE_OF_MODE:
                alert.informed_entity.add().route_type = ROUTE_TYPE_OF_MODE[mode]


def _image(alert: Any, lang: str, value: str) -> None:
    url, _, media_type = value.partition(" ")
    img = alert.image.localized_image.add()
    img.url = url
    img.media_type = media_type or mimetypes.guess_type(url)[0] or "image/png"
    if lang:
        img.language = lang


def expanded_periods(d: Disruption, start: datetime, days: int = HORIZON_DAYS) -> list[Period]:
    """`d.periods`, or for recurring validity its occurrences from `start` for `days` days."""
    if not d.schedules:
        return list(d.periods)
    end = start + timedelta(days=days)
    spans = d.periods or (Period(start, end),)
    out: list[Period] = []
    for schedule in d.schedules:
        for period in spans:
            a, b = max(period.start, start), min(period.end or end, end)
            out += [Period(x, y) for x, y in schedule.occurrences(a, b)] if a < b else []
    return sorted(set(out), key=lambda p: p.start)[:MAX_EXPANDED]


def fill_alert(alert: Any, d: Disruption, at: datetime | None = None) -> None:
    """Write one disruption into an `Alert` message (recurring validity expanded from `at`)."""
    for period in expanded_periods(d, at or d.updated_at):
        _set_range(alert.active_period.add(), period)
    extra: dict[str, list[tuple[str, str]]] = {}
    selectors: list[str] = []
    cause = d.cause
    for category in d.categories:
        parts = split_category(category)
        if parts is None:
            continue
        name, lang, value = parts
        if name == "selector":
            selectors.append(value)
        elif name == "cause" and value in _CAUSE_NAMES:
            cause = value
        elif name == "image":
            _image(alert, lang, value)
        elif name in ("communication_period", "impact_period") and hasattr(alert, name):
            extra_period = _interval(value)
            if extra_period is not None:
                _set_range(getattr(alert, name).add(), extra_period)
        else:
            extra.setdefault(name, []).append((lang, value))
    _informed(alert, d, selectors)
    alert.cause = _ALERT.Cause.Value(cause)
    alert.effect = _ALERT.Effect.Value(d.effect)
    alert.severity_level = _ALERT.SeverityLevel.Value(d.severity)
    if d.url:
        _set_texts(alert.url, [("", d.url)])
    _set_texts(alert.url, extra.pop("url", []))
    _set_texts(alert.header_text, d.header.items())
    _set_texts(alert.description_text, d.description.items())
    for name in _TEXT_FIELDS:
        if name in extra:
            _set_texts(getattr(alert, name), extra[name])


def published(disruptions: Iterable[Disruption]) -> Iterator[Disruption]:
    """The disruptions a GTFS-RT consumer gets: not ended, some public transport mode."""
    for d in disruptions:
        if d.status != "ended" and PT_MODES.intersection(d.modes):
            yield d


def build_message(disruptions: Iterable[Disruption], last_change: datetime) -> Any:
    """The FeedMessage (FULL_DATASET, version 2.0, header timestamp = last change)."""
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    # uint64: an `as_of` before 1970 (when nothing was published) says the earliest it can.
    msg.header.timestamp = max(0, int(utc(last_change).timestamp()))
    for d in sorted(published(disruptions), key=lambda d: d.id):
        if d.schedules and not expanded_periods(d, last_change):
            continue  # no occurrence within the horizon: no active_period would mean "always"
        entity = msg.entity.add()
        entity.id = d.id
        fill_alert(entity.alert, d, last_change)
        if not entity.alert.informed_entity:
            # GTFS-RT requires one: nothing the reference GTFS knows and no known mode is left.
            del msg.entity[-1]
    return msg


def render_feed(disruptions: Iterable[Disruption], last_change: datetime) -> bytes:
    """The ServiceAlerts feed as protobuf bytes."""
    data: bytes = build_message(disruptions, last_change).SerializeToString()
    return data


def render_json(disruptions: Iterable[Disruption], last_change: datetime) -> bytes:
    """The same FeedMessage as UTF-8 JSON (protobuf JSON mapping, proto field names)."""
    msg = build_message(disruptions, last_change)
    text: str = json_format.MessageToJson(
        msg, preserving_proto_field_name=True, ensure_ascii=False, indent=None
    )
    return text.encode("utf-8")
