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
