"""DATEX II fields beyond the overall validity (issue 19): recurring validity, direction,
AlertC location codes, certainty, vehicle restrictions, transit service type and delays.

Choices (docs/model.md):
- `validPeriod`s replace the overall period when given; each with a `recurringTimePeriodOfDay`
  or `recurringDayWeekMonthPeriod` becomes a `Schedule` (local times of day in the source's
  `tz`, default Europe/Stockholm: the wall clock the producer means, whatever offset it
  wrote); `exceptionPeriod`s become the schedules' exceptions.
- AlertC locations are kept as `location` entries `alertc:<country>:<table>:<code>`; no
  geometry is guessed without a location table (`options.alertc_table`, `alertc.py`).
- UK NTIS names its roads only in labelled comment lines (`From Location : The A628
  westbound ...`): those give `road` entries with their direction and the location text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from travelinfo.ingest.parsers.datex2_types import local as localname
from travelinfo.model import Affected, Period, Schedule

_DAYS = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
DIRECTION = {
    "both": "both",
    "bothways": "both",
    "allDirections": "both",
    "positive": "positive",
    "aligned": "positive",
    "negative": "negative",
    "opposite": "negative",
    "northBound": "northbound",
    "southBound": "southbound",
    "eastBound": "eastbound",
    "westBound": "westbound",
    "northEastBound": "northbound",
    "northWestBound": "northbound",
    "southEastBound": "southbound",
    "southWestBound": "southbound",
    "clockwise": "clockwise",
    "anticlockwise": "anticlockwise",
    "innerRing": "clockwise",
    "outerRing": "anticlockwise",
    "inboundTowardsTown": "inbound",
    "outboundFromTown": "outbound",
    "unknown": "unknown",
}
DIRECTION_TAGS = frozenset(
    {
        "alertCDirectionCoded",
        "alertCAffectedDirection",
        "directionBound",
        "directionRelative",
        "directionOnLinearSection",
        "directionRelativeOnLinearSection",
        "tpegDirection",
        "carriageway_direction",
    }
)
_SPECIFIC = "{*}specificLocation"
# DATEX `probabilityOfOccurrence` -> model certainty.
CERTAINTY = {"certain": "certain", "probable": "likely", "riskOf": "possible", "improbable": "possible"}
TimeReader = Callable[[str | None], datetime | None]


def enum(elem: Any) -> str:
    """An enum value (padded by some producers; v3 may carry `_extendedValue`)."""
    return (elem.text or "").strip() or (elem.get("_extendedValue") or "").strip()


def _time_of_day(text: str) -> str | None:
    # "07:00:00+01:00" -> "07:00": the wall-clock time the producer means.
    text = text.strip()
    if len(text) >= 5 and text[2] == ":" and text[:2].isdigit() and text[3:5].isdigit():
        return text[:5]
    return None


def validity(
    elem: Any, created: datetime | None, read: TimeReader, tz: str, notes: list[str]
) -> tuple[str, list[Period], list[Schedule]]:
    """(validityStatus, periods, schedules) of a `validity` element."""
    status = ""
    start = end = None
    concrete: list[Period] = []
    recurring: list[tuple[Period | None, tuple[str, ...], str | None, str | None]] = []
    exceptions: list[tuple[datetime, datetime]] = []
    for child in elem:
        name = localname(child.tag)
        if name == "validityStatus":
            status = enum(child)
        elif name == "validityTimeSpecification":
            for part in child:
                part_name = localname(part.tag)
                if part_name == "overallStartTime":
                    start = read(part.text)
                elif part_name == "overallEndTime":
                    end = read(part.text)
                elif part_name == "validPeriod":
                    span, days, a, b = _period(part, read, notes)
                    if days or a or b:
                        recurring.append((span, days, a, b))
                    elif span is not None:
                        concrete.append(span)
                elif part_name == "exceptionPeriod":
                    span, *_ = _period(part, read, notes)
                    if span is not None and span.end is not None:
                        exceptions.append((span.start, span.end))
                    else:
                        notes.append("exceptionPeriod without a readable start and end ignored")
    start = start or created
    periods: list[Period] = []
    spans = concrete + [r[0] for r in recurring if r[0] is not None]
    if spans:
        periods = spans
    elif start is not None:
        periods = [Period(start, end if end is None or end >= start else start)]
    schedules = [Schedule(days, a, b, tz, tuple(exceptions)) for _s, days, a, b in recurring]
    if concrete and recurring:
        # A concrete period next to a recurring one: the model's schedules apply to all periods.
        notes.append("validity mixes concrete and recurring periods: recurrence kept for all")
    if exceptions and not schedules:
        schedules = [Schedule((), None, None, tz, tuple(exceptions))]
    return status, periods, schedules


def _period(
    elem: Any, read: TimeReader, notes: list[str]
) -> tuple[Period | None, tuple[str, ...], str | None, str | None]:
    start = end = None
    days: list[str] = []
    a = b = None
    for node in elem.iter():
        name = localname(node.tag)
        if name == "startOfPeriod":
            start = read(node.text)
        elif name == "endOfPeriod":
            end = read(node.text)
        elif name == "applicableDay" and enum(node) in _DAYS:
            days.append(_DAYS[enum(node)])
        elif name == "startTimeOfPeriod":
            a = _time_of_day(node.text or "")
        elif name == "endTimeOfPeriod":
            b = _time_of_day(node.text or "")
        elif name in ("applicableMonth", "applicableWeek", "recurringSpecialDay"):
            notes.append(f"recurrence by {name} not kept (only days of week and times of day)")
    span = Period(start, end) if start is not None and (end is None or end > start) else None
    return span, tuple(dict.fromkeys(days)), a, b


Walk = list[tuple[str, Any]]  # (local name, element) of the elements read, in document order


def walk(elem: Any, names: frozenset[str]) -> Walk:
    """One pass over `elem` (itself included) keeping the elements named in `names`.

    A location is read by several readers (direction, AlertC codes, roads, texts, coordinates);
    one Python walk feeding them all costs less than one lxml tag-filtered iteration each.
    """
    out: Walk = []
    for node in elem.iter():
        name = localname(node.tag)
        if name in names:
            out.append((name, node))
    return out


def direction_of(nodes: Walk) -> str | None:
    """The direction a location's walk states (affected direction first), None when none."""
    found: dict[str, str] = {}
    for name, node in nodes:
        if name in DIRECTION_TAGS and name not in found and (value := DIRECTION.get(enum(node))):
            found[name] = value
    affected = found.pop("alertCAffectedDirection", None)
    if affected and affected != "unknown":
        return affected
    return next(iter(found.values()), affected)


def alertc_codes(elem: Any, nodes: Walk) -> list[str]:
    """`alertc:<country>:<table>:<code>` for every AlertC location below `elem` (`nodes`: its walk)."""
    # The AlertC elements that name a table are the parents of its `alertCLocationTableNumber`;
    # one such parent is the common case, several are read in document order.
    parents: list[Any] = []
    for name, number in nodes:
        if name == "alertCLocationTableNumber" and number is not elem:
            parent = number.getparent()
            if parent is not None and all(parent is not p for p in parents):
                parents.append(parent)
    if len(parents) > 1:
        order = {id(node): i for i, node in enumerate(elem.iter())}
        parents.sort(key=lambda node: order[id(node)])
    out: list[str] = []
    for node in parents:
        name = localname(node.tag)
        if not name.startswith("alertC") or name == "alertCLocation":
            continue
        kids = {localname(k.tag): (k.text or "").strip() for k in node}
        prefix = f"alertc:{kids.get('alertCLocationCountryCode', '?')}:{kids['alertCLocationTableNumber']}"
        for loc in node.iter(_SPECIFIC):
            code = (loc.text or "").strip()
            if code and f"{prefix}:{code}" not in out:
                out.append(f"{prefix}:{code}")
    return out


def location_affected(elem: Any, nodes: Walk, roads: list[str]) -> list[Affected]:
    """Location entries (AlertC codes) with the element's direction; road numbers get it too."""
    direction = direction_of(nodes)
    items = [Affected("location", code, None, direction) for code in alertc_codes(elem, nodes)]
    items += [Affected("road", road, None, direction) for road in roads] if direction else []
    return items


def restriction(elem: Any) -> list[dict[str, Any]]:
    """`forVehiclesWithCharacteristicsOf` as restriction objects (type, comparison, value, unit)."""
    values = {
        "grossVehicleWeight": ("grossWeight", "t"),
        "vehicleHeight": ("height", "m"),
        "vehicleWidth": ("width", "m"),
        "vehicleLength": ("length", "m"),
        "heaviestAxleWeight": ("axleWeight", "t"),
    }
    out: list[dict[str, Any]] = []
    for node in elem.iter():
        kids = {localname(k.tag): k for k in node}
        op = enum(kids["comparisonOperator"]) if "comparisonOperator" in kids else None
        for key, (kind, unit) in values.items():
            if key in kids and op:
                try:
                    value = float(enum(kids[key]))
                except ValueError:
                    continue
                if value == value and abs(value) < 1e6:  # no NaN, no absurd value
                    out.append({"type": kind, "comparison": op, "value": value, "unit": unit})
        for key in ("vehicleType", "fuelType", "loadType"):
            if localname(node.tag) == key and enum(node):
                out.append({"type": key, "comparison": "equalTo", "value": enum(node), "unit": None})
    return out


def delay_minutes(elem: Any) -> int | None:
    """`delayTimeValue` (seconds) below a `delays` element as whole minutes, None when absent."""
    for node in elem.iter():
        if localname(node.tag) == "delayTimeValue":
            try:
                seconds = float(enum(node))
            except ValueError:
                return None
            if 0 <= seconds < 10 * 86400:
                return round(seconds / 60)
    return None


# UK NTIS writes where an event is only in labelled comment lines ("From Location : The A628
# westbound between the junctions with the A6024 and the A57"): the first road named is the one
# the event is on, with its direction. Line by line, linear in the text.
_NTIS_LINE = re.compile(
    r"^(?:From|To|Event) Location : (?:The )?(?P<road>[AMB]\d{1,4}(?:\(M\))?)\b"
    r"(?: (?P<way>northbound|southbound|eastbound|westbound|clockwise|anticlockwise))?(?P<rest>.{0,300})$",
    re.M,
)


def labelled_roads(texts: dict[str, str]) -> list[tuple[str, str | None, str]]:
    """(road, direction, place) from NTIS `Event`, `From` and `To Location` comment lines."""
    out: list[tuple[str, str | None, str]] = []
    for text in texts.values():
        for found in _NTIS_LINE.finditer(text[:20_000]):
            place = f"{found['road']}{' ' + found['way'] if found['way'] else ''}{found['rest']}".strip()
            out.append((found["road"], found["way"], " ".join(place.split())))
    return out
