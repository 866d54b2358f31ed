"""SIRI-SX beyond the Nordic core (issue 19): VDV736 `PublishingActions`, `ReasonName`,
line sections. Pure helpers over lxml elements."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from travelinfo.ingest.parsers.xmlsafe import localname

# TextualContent parts joined into `description`, in reading order.
TEXT_PARTS = ("DescriptionText", "ConsequenceText", "RecommendationText", "DurationText", "Remark")


def publishing_affects(elem: Any) -> list[Any]:
    """The `Affects` blocks inside `PublishingActions/*/PublishAtScope` (VDV736)."""
    return [
        node for scope in elem.iter("{*}PublishAtScope") for node in scope if localname(node.tag) == "Affects"
    ]


TextsOf = Callable[[Any, Iterable[str]], dict[str, str]]


def publishing_texts(elem: Any, texts: TextsOf) -> list[dict[str, str]]:
    """Description-like texts of every `TextualContent` of the passenger information actions."""
    out: list[dict[str, str]] = []
    for content in elem.iter("{*}TextualContent"):
        for block in content:
            out.append(texts(block, TEXT_PARTS))
    return out


def summaries(elem: Any, texts: TextsOf) -> list[dict[str, str]]:
    """`SummaryText` of every `TextualContent` (a title when the situation has no `Summary`)."""
    return [texts(block, ("SummaryText",)) for block in elem.iter("{*}SummaryContent")]


def section_quays(node: Any) -> list[str]:
    """First and last quay refs of an `AffectedSection` (line sections, Entur NSR:Quay:...)."""
    return [
        (q.text or "").strip()
        for q in node.iter("{*}FirstQuayRef", "{*}LastQuayRef")
        if (q.text or "").strip()
    ]


# SIRI `Repetitions/DayType` -> days of week of a schedule (other day types are noted).
DAY_TYPES = {
    "monday": ("mon",),
    "tuesday": ("tue",),
    "wednesday": ("wed",),
    "thursday": ("thu",),
    "friday": ("fri",),
    "saturday": ("sat",),
    "sunday": ("sun",),
    "weekdays": ("mon", "tue", "wed", "thu", "fri"),
    "weekend": ("sat", "sun"),
    "everyday": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
}


def repetition_days(elem: Any, notes: list[str]) -> tuple[str, ...]:
    """Days of week from `Repetitions/DayType` (empty when none or none we can read)."""
    days: list[str] = []
    for block in elem:
        if localname(block.tag) != "Repetitions":
            continue
        for node in block:
            word = (node.text or "").strip()
            if word.lower() in DAY_TYPES:
                days += DAY_TYPES[word.lower()]
            elif word:
                notes.append(f"day type {word[:40]!r} not kept")
    return tuple(dict.fromkeys(days))


# SIRI `DirectionRef` values that say a direction of our vocabulary (lower case); other refs
# (an operator's own `ch:vbl:VBL006:A`, `0`/`1`, `H`/`R`) are a direction we cannot name.
DIRECTION_REFS = {
    "inbound": "inbound",
    "outbound": "outbound",
    "clockwise": "clockwise",
    "anticlockwise": "anticlockwise",
    "counterclockwise": "anticlockwise",
    "northbound": "northbound",
    "southbound": "southbound",
    "eastbound": "eastbound",
    "westbound": "westbound",
    "both": "both",
    "bothdirections": "both",
}


def _kids(node: Any, name: str) -> list[Any]:
    return [c for c in node if localname(c.tag) == name]


def _first_text(nodes: Iterable[Any]) -> str:
    return next((" ".join((n.text or "").split()) for n in nodes if (n.text or "").strip()), "")


def direction_of(ref: str) -> str:
    """A SIRI `DirectionRef` as a model direction (`unknown` when it names none we know)."""
    return DIRECTION_REFS.get(ref.strip().lower().replace("-", "").replace("_", ""), "unknown")


def directions(line: Any) -> list[tuple[str | None, str | None]]:
    """(direction, towards) pairs of an `AffectedLine`/`AffectedVehicleJourney`/`AffectedRoute`.

    Each `Direction` (DirectionRef, DirectionName) is one pair; a bare `DirectionRef` child
    another; without either, the `Destinations` names say where the line runs (direction None).
    Empty when the element says nothing about direction.
    """
    out: list[tuple[str | None, str | None]] = []
    for node in _kids(line, "Direction"):
        ref = _first_text(_kids(node, "DirectionRef"))
        towards = _first_text(_kids(node, "DirectionName")) or None
        if ref or towards:
            out.append((direction_of(ref) if ref else "unknown", towards))
    ref = _first_text(_kids(line, "DirectionRef"))
    if ref:
        out.append((direction_of(ref), None))
    if not out:
        names = [
            _first_text([*_kids(d, "StopPlaceName"), *_kids(d, "StopPointName")])
            for d in _kids(line, "Destinations")
        ]
        names = [n for n in dict.fromkeys(names) if n]
        if names:
            out.append((None, " / ".join(names)))
    return list(dict.fromkeys(out))


def line_of_stop(ref: Any) -> Any:
    """The `AffectedLine` whose `StopPoints` hold this `StopPointRef`, else an empty element."""
    point = ref.getparent()
    points = point.getparent() if point is not None else None
    line = points.getparent() if points is not None else None
    if (
        line is not None
        and points is not None
        and localname(points.tag) == "StopPoints"
        and localname(line.tag) == "AffectedLine"
    ):
        return line
    return ()
