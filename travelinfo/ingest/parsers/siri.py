"""SIRI-SX (Situation Exchange) -> disruptions, one per `PtSituationElement`.

Choices:
- Texts without `xml:lang` are filed under `ctx.options["lang"]`, else `sv` (Samtrafiken's
  Swedish feeds; configure `lang = "no"` for Entur). Language tags are checked as BCP 47 and
  written in canonical case (`NO` -> `no`, `en-gb` -> `en-GB`); an invalid one is filed
  under the default language.
- A situation that cannot be read (no SituationNumber, a bad number...) is skipped and
  counted (`Batch.skipped`); only links with an http(s) URL are kept.
- `Description`, `Detail` and `Advice` are joined (in that order) into `description`.
- Severity: noImpact/verySlight/slight -> INFO, normal -> WARNING, severe/verySevere -> SEVERE,
  unknown/undefined -> UNKNOWN_SEVERITY; the situation's own `Severity` wins, else the
  highest of its consequences.
- `Progress` closed -> status `ended`. A response is a full snapshot unless it says
  `IncrementalUpdates` true; `ctx.options["complete"]` overrides both.
- `RoadSituationElement`s are skipped with a note (roads come from DATEX II).
- Direction (issue 19): each `AffectedLine`'s `Direction` (`DirectionRef` -> `direction`,
  `DirectionName` -> `towards`), a journey's `DirectionRef`, else its `Destinations` names;
  a line affected in two directions is two `route` entries; the stops of a line's
  `StopPoints` get the line's direction too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from travelinfo.ingest.gtfs_static import GtfsStatic
from travelinfo.ingest.parsers import siri_fields as fields
from travelinfo.ingest.parsers.base import ParseContext, ParseError, register, source_tz
from travelinfo.ingest.parsers.siri_codes import _CONDITION as _CONDITION
from travelinfo.ingest.parsers.siri_codes import _EFFECT_ORDER as _EFFECT_ORDER
from travelinfo.ingest.parsers.siri_codes import _MODE as _MODE
from travelinfo.ingest.parsers.siri_codes import _REASON_DEFAULT as _REASON_DEFAULT
from travelinfo.ingest.parsers.siri_codes import _REASON_VALUE as _REASON_VALUE
from travelinfo.ingest.parsers.siri_codes import _SEVERITY as _SEVERITY
from travelinfo.ingest.parsers.vet import MAX_RECORDS, Skips, lang_tag, safe_url
from travelinfo.ingest.parsers.xmlsafe import iterparse, localname, release, text_of
from travelinfo.model import (
    SEVERITY_RANK,
    Affected,
    Batch,
    Disruption,
    ModelError,
    Period,
    Schedule,
    merge_texts,
)
from travelinfo.vocab import DEFAULT_TZ, parse_local_time

_ROOTS = (
    "Siri",
    "ServiceDelivery",
    "SituationExchangeDelivery",
    "PtSituationElement",
    "RoadSituationElement",
)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DEFAULT_LANG = "sv"
MAX_TEXT = 20_000  # characters of one text element looked at


def severity_of(value: str) -> str:
    """A SIRI `Severity` value as a model severity."""
    return _SEVERITY.get(value.strip().lower(), "UNKNOWN_SEVERITY")


def mode_of(value: str) -> str | None:
    """A SIRI vehicle mode as a model mode, None when it is not public transport we know."""
    return _MODE.get(value.strip().lower())


def cause_of(elem: Any) -> tuple[str, list[str]]:
    """(cause, `siri:<Reason>=<value>` categories) from the situation's reason elements."""
    cause = ""
    cats: list[str] = []
    for node in elem:
        name = localname(node.tag)
        if name in _REASON_DEFAULT:
            value = text_of(node)
            cats.append(f"siri:{name}={value}" if value else f"siri:{name}")
            cause = cause or _REASON_VALUE.get(value.lower(), _REASON_DEFAULT[name])
    return cause or "UNKNOWN_CAUSE", cats


def effect_of(conditions: Iterable[str]) -> str:
    """The most serious effect among the consequences' `Condition`s."""
    effects = {_CONDITION.get(c.strip().lower(), "OTHER_EFFECT") for c in conditions if c.strip()}
    for effect in _EFFECT_ORDER:
        if effect in effects:
            return effect
    return "UNKNOWN_EFFECT"


def clean(text: str) -> str:
    """Collapse XML indentation into single spaces, keeping blank-line paragraph breaks."""
    # Line by line rather than a regex over the whole text: linear whatever the input.
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text[:MAX_TEXT].split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append(" ".join(" ".join(current).split()))
            current = []
    if current:
        paragraphs.append(" ".join(" ".join(current).split()))
    return "\n\n".join(paragraphs)


def children(elem: Any, name: str) -> list[Any]:
    """Direct children with local name `name` (any namespace)."""
    return [c for c in elem if localname(c.tag) == name]


def child_text(elem: Any, name: str) -> str:
    """Text of the first direct child called `name`, '' when absent."""
    found = children(elem, name)
    return text_of(found[0]) if found else ""


def descendants(elem: Any, name: str) -> Iterable[Any]:
    """Every element below `elem` with local name `name`."""
    return (e for e in elem.iter() if localname(e.tag) == name)


def _texts(elem: Any, names: Iterable[str], lang: str) -> dict[str, str]:
    parts = []
    for name in names:
        for node in children(elem, name):
            text = clean(text_of(node))
            if text:
                parts.append({lang_tag(node.get(XML_LANG)) or lang: text})
    return merge_texts(parts)


def _time(text: str, tz: str = DEFAULT_TZ, notes: list[str] | None = None) -> datetime | None:
    """A SIRI time; one without offset is wall-clock time in `tz`; an unreadable one is noted."""
    if not text:
        return None
    try:
        return parse_local_time(text, tz)
    except (ModelError, OverflowError):  # not a time, or out of datetime's range
        if notes is not None:
            notes.append(f"unreadable time {text.strip()[:40]!r}")
        return None


def _periods(elem: Any, tz: str, notes: list[str]) -> list[Period]:
    out = []
    for node in children(elem, "ValidityPeriod"):
        start_text, end_text = child_text(node, "StartTime"), child_text(node, "EndTime")
        start = _time(start_text, tz, notes)
        end = _time(end_text, tz, notes)
        if start is None:
            # SIRI requires a StartTime: without a readable one the period cannot be placed.
            notes.append(f"period without a readable StartTime dropped ({start_text[:40]!r})")
        elif end is not None and end <= start:
            notes.append(f"period ending before it starts dropped ({start_text[:40]!r}-{end_text[:40]!r})")
        else:
            if end is None and end_text:
                notes.append(f"period kept open-ended: EndTime {end_text[:40]!r} unreadable")
            out.append(Period(start, end))
    return out


class _Affects:
    """Routes, stops, operators, journeys, places and modes from an `Affects` block."""

    def __init__(self, reference: Any) -> None:
        self.ref: GtfsStatic | None = reference if isinstance(reference, GtfsStatic) else None
        # (type, id, direction, towards) -> name: a line in two directions is two entries.
        self.items: dict[tuple[str, str, str | None, str | None], str | None] = {}
        self.modes: list[str] = []
        self.points: dict[tuple[float, float], None] = {}  # an ordered set

    def add(
        self, kind: str, ident: str, name: str | None, way: tuple[str | None, str | None] = (None, None)
    ) -> None:
        # The first mention wins, but a later one may supply a missing name.
        key = (kind, ident, *way)
        if ident and (key not in self.items or not self.items[key]):
            self.items[key] = name or None

    def walk(self, affects: Any) -> None:
        ref = self.ref
        for node in affects.iter():
            tag = localname(node.tag)
            if tag == "OperatorRef":
                self.add("agency", text_of(node), ref.agency_name(text_of(node)) if ref else None)
            elif tag == "LineRef":
                line = text_of(node)
                name = child_text(node.getparent(), "PublishedLineName")
                for way in fields.directions(node.getparent()) or [(None, None)]:
                    self.add("route", line, name or (ref.route_name(line) if ref else None), way)
                self.modes += ref.modes_for_route(line) if ref else ()
            elif tag == "StopPointRef":
                stop = text_of(node)
                name = child_text(node.getparent(), "StopPointName")
                # A stop of a line's StopPoints is affected in that line's direction(s).
                for way in fields.directions(fields.line_of_stop(node)) or [(None, None)]:
                    self.add("stop", stop, name or (ref.stop_name(stop) if ref else None), way)
            elif tag == "StopPlaceRef":
                place = text_of(node)
                name = child_text(node.getparent(), "StopPlaceName")
                self.add("stop", place, name or (ref.stop_name(place) if ref else None))
            elif tag in ("VehicleJourneyRef", "DatedVehicleJourneyRef"):
                for way in fields.directions(node.getparent()) or [(None, None)]:
                    self.add("trip", text_of(node), None, way)
            elif tag == "AffectedSection":
                for quay in fields.section_quays(node):
                    self.add("stop", quay, ref.stop_name(quay) if ref else None)
            elif tag == "PlaceRef":
                self.add("area", text_of(node), child_text(node.getparent(), "PlaceName") or None)
            elif tag in ("VehicleMode", "AffectedMode", "TransportMode"):
                mode = mode_of(text_of(node))
                self.modes += [mode] if mode else []
            elif tag == "Location":
                self._point(node)

    def _point(self, node: Any) -> None:
        try:
            lon = float(child_text(node, "Longitude"))
            lat = float(child_text(node, "Latitude"))
        except ValueError:
            return
        # Comparisons with NaN are false, so NaN is refused here too; infinities are out of range.
        if -180 <= lon <= 180 and -90 <= lat <= 90 and len(self.points) < MAX_RECORDS:
            self.points[(lon, lat)] = None

    def geometry(self) -> dict[str, Any] | None:
        points = [[lon, lat] for lon, lat in self.points]
        if not points:
            return None
        if len(points) == 1:
            return {"type": "Point", "coordinates": points[0]}
        return {"type": "MultiPoint", "coordinates": points}


def situation_to_disruption(elem: Any, ctx: ParseContext, notes: list[str] | None = None) -> Disruption:
    """One `PtSituationElement` as a disruption (what it could not read goes to `notes`)."""
    lang = lang_tag(str(ctx.options.get("lang") or DEFAULT_LANG)) or DEFAULT_LANG
    tz = source_tz(ctx)
    mine: list[str] = []
    number = child_text(elem, "SituationNumber")
    if not number:
        raise ParseError("PtSituationElement without a SituationNumber")
    participant = child_text(elem, "ParticipantRef")
    upstream_id = f"{participant}:{number}" if participant else number
    periods = _periods(elem, tz, mine)
    days = fields.repetition_days(elem, mine)
    schedules = (Schedule(days, None, None, tz),) if days and len(days) < 7 else ()
    affects = _Affects(ctx.reference)
    for block in children(elem, "Affects") + fields.publishing_affects(elem):
        affects.walk(block)
    consequences = [c for block in children(elem, "Consequences") for c in children(block, "Consequence")]
    for consequence in consequences:
        for block in children(consequence, "Affects"):
            affects.walk(block)
    cause, cause_cats = cause_of(elem)
    conditions = [child_text(c, "Condition") for c in consequences]
    severities = [severity_of(child_text(c, "Severity")) for c in consequences]
    severity = severity_of(child_text(elem, "Severity"))
    if severity == "UNKNOWN_SEVERITY" and severities:
        severity = max(severities, key=SEVERITY_RANK.__getitem__)
    links = [u for u in (safe_url(text_of(u)) for u in descendants(elem, "Uri")) if u][:MAX_RECORDS]

    def texts_of(node: Any, names: Iterable[str]) -> dict[str, str]:
        return _texts(node, names, lang)

    header = _texts(elem, ("Summary",), lang) or merge_texts(fields.summaries(elem, texts_of))
    description = merge_texts(
        [
            _texts(elem, ("ReasonName", "Description", "Detail", "Advice"), lang),
            *fields.publishing_texts(elem, texts_of),
        ]
    )
    if not header:
        header = {k: v.split("\n")[0][:140] for k, v in description.items()} or {lang: upstream_id}
    categories = cause_cats + [f"siri:condition={c}" for c in dict.fromkeys(conditions) if c]
    categories += [f"siri:info_link={u}" for u in links[1:]]
    for name in ("ReportType", "ScopeType", "Planned"):
        value = child_text(elem, name)
        categories += [f"siri:{name}={value}"] if value else []
    updated = _time(child_text(elem, "VersionedAtTime"), tz, mine)
    updated = updated or _time(child_text(elem, "CreationTime"), tz, mine)
    if notes is not None:
        notes.extend(f"situation {upstream_id[:60]}: {n}" for n in mine)
    closed = child_text(elem, "Progress").lower() == "closed"
    version = child_text(elem, "Version") or None
    return ctx.disruption(
        "siri-sx",
        upstream_id,
        version=version,
        updated_at=updated or ctx.fetched_at,
        ended=closed,
        modes=tuple(dict.fromkeys(affects.modes)) or tuple(ctx.options.get("modes") or ("unknown",)),
        header=header,
        description=description,
        cause=cause,
        effect=effect_of(conditions),
        severity=severity,
        categories=tuple(dict.fromkeys(categories)),
        periods=tuple(periods),
        schedules=schedules,
        url=links[0] if links else None,
        geometry=affects.geometry(),
        affected=tuple(Affected(k, i, n, w, towards=t) for (k, i, w, t), n in affects.items.items()),
    )


@register("siri-sx", lang=DEFAULT_LANG)
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """SIRI `ServiceDelivery`/`SituationExchangeDelivery` bytes -> Batch of situations."""
    source_tz(ctx)  # a misconfigured zone fails the payload once, not every situation
    items: list[Disruption] = []
    notes: list[str] = []
    skips = Skips()
    root_seen = False
    deliveries = roads = 0
    incremental: bool | None = None
    for event, elem in iterparse(data, ctx, events=("start", "end")):
        if event == "start":  # only the root's start is read: no work on any other element's
            if not root_seen:
                root_seen = True
                if (tag := localname(elem.tag)) not in _ROOTS:
                    raise ParseError(f"not a SIRI document (root element {tag!r})")
            continue
        tag = localname(elem.tag)
        if tag == "PtSituationElement":
            number = child_text(elem, "SituationNumber")[:60]
            item = skips.guard(f"situation {number!r}", situation_to_disruption, elem, ctx, notes)
            if item is not None:
                items.append(item)
            release(elem)
        elif tag == "RoadSituationElement":
            roads += 1
            release(elem)
        elif tag == "SituationExchangeDelivery":
            deliveries += 1
            if child_text(elem, "Status").lower() == "false":
                error = (
                    clean(text_of(children(elem, "ErrorCondition")[0]))
                    if children(elem, "ErrorCondition")
                    else "no reason given"
                )
                raise ParseError(f"SIRI delivery reports an error: {error}")
        elif tag == "IncrementalUpdates":
            incremental = text_of(elem).lower() == "true"
    if not deliveries:
        notes.append("no SituationExchangeDelivery in this SIRI document")
    if roads:
        notes.append(f"{roads} RoadSituationElement skipped (road situations come from DATEX II)")
    if not items and deliveries and not skips.count:
        notes.append("delivery holds no PtSituationElement")
    notes.extend(skips.notes)
    return ctx.batch(
        items, complete=not incremental, notes=notes, skipped=skips.count, skip_reason=skips.first
    )
