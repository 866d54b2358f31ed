"""One DATEX II `situation` element (v2 or v3, any prefix) to one Disruption, records merged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from travelinfo.ingest.parsers import datex2_fields as fields
from travelinfo.ingest.parsers import datex2_types as types
from travelinfo.ingest.parsers.alertc import AlertCTable, locate
from travelinfo.ingest.parsers.datex2_build import Merged, Pub, build
from travelinfo.ingest.parsers.datex2_geo import WALKED, location_geometries, xsi_type
from travelinfo.ingest.parsers.datex2_types import local as localname
from travelinfo.ingest.parsers.vet import MAX_RECORDS, safe_url
from travelinfo.model import (
    Affected,
    Disruption,
    ModelError,
    parse_time,
)
from travelinfo.plaintext import clean_text, road_numbers
from travelinfo.vocab import parse_local_time

_LOCATIONS = frozenset({"groupOfLocations", "locationReference"})
# v3 names an AreaLocation's polygon in gmlMultiPolygon/gmlAreaName.
_LOCATION_TEXT = frozenset({"locationDescription", "alertCLocationName", "areaName", "gmlAreaName"})
# Every element a location's readers look at: texts, roads, directions, AlertC tables, coordinates.
_WALKED = _LOCATION_TEXT | {"roadName", "roadNumber", "alertCLocationTableNumber"}
_WALKED |= fields.DIRECTION_TAGS | WALKED
# Without one of these a location has no direction, AlertC code, road or text to read.
_AFFECTING = fields.DIRECTION_TAGS | {"alertCLocationTableNumber", "roadNumber"}
_NAMING = _LOCATION_TEXT | {"roadName", "roadNumber"}
_ENDED_ACTIONS = frozenset({"rejected", "terminated"})
# Some producers pad enum values with newlines (Fintraffic); v3 may carry _extendedValue.
_enum = fields.enum
# The record children `_record` reads (each has its branch there); the rest are skipped at once.
_RECORD_READ = frozenset(
    {
        *("situationRecordVersionTime", "situationRecordCreationTime", "severity", "validity"),
        *("generalPublicComment", "comment", *_LOCATIONS, "management", "operatorActionStatus"),
        *("forVehiclesWithCharacteristicsOf", "probabilityOfOccurrence", "transitServiceType"),
        *("impact", "delays", "cause", "urlLink", *types.SUBTYPE_ELEMENTS),
    }
)


def _time(text: str | None, pub: Pub) -> datetime | None:
    if not text:
        return None
    # Large feeds repeat the same timestamps thousands of times; parse each once.
    cached = pub.times.get(text)
    if cached is None:
        if len(pub.times) > 10_000:
            pub.times.clear()
        cached = pub.times[text] = _parse_time(text, pub)
    return cached


def _parse_time(text: str, pub: Pub) -> datetime | None:
    if not text.strip():
        return None
    try:
        return parse_time(text)
    except ModelError:
        try:  # a time without an offset: DATEX requires one; read it in the source's time zone
            return parse_local_time(text, pub.tz)
        except (ModelError, OverflowError):
            pub.notes.append(f"unreadable time {text.strip()[:40]!r} ignored")
            return None


def _values(elem: Any, pub: Pub) -> dict[str, str]:
    """A MultilingualString (`values/value[@lang]`, any depth) as {lang: text}."""
    out: dict[str, list[str]] = {}
    for value in elem.iter("{*}value"):
        if value.text:
            text = clean_text(value.text)
            if text:
                out.setdefault(types.norm_lang(value.get("lang"), pub.lang), []).append(text)
    return {lang: "\n".join(parts) for lang, parts in out.items()}


def _validity(elem: Any, rec_created: datetime | None, m: Merged, pub: Pub) -> bool:
    """Add the validity periods and schedules; True when the record is suspended."""
    read = lambda t: _time(t, pub)  # noqa: E731
    status, periods, schedules = fields.validity(elem, rec_created, read, pub.tz, pub.notes)
    for period in periods:
        if period not in m.periods:
            m.periods.append(period)
    m.validities += 1
    for schedule in schedules:
        if schedule not in m.schedules:
            m.schedules.append(schedule)
    m.unscheduled += not schedules
    return status == "suspended"


def _location(elem: Any, m: Merged, pub: Pub) -> None:
    nodes = fields.walk(elem, _WALKED)  # one pass serves every reader below
    names = {name for name, _node in nodes}  # readers with nothing to read are not called
    found: list[Affected] = []
    if not names.isdisjoint(_AFFECTING):
        roads = [n for name, node in nodes if name == "roadNumber" for n in road_numbers(node.text or "")]
        found = fields.location_affected(elem, nodes, roads)
    for item in found:
        if m.locations.get((item.type, item.id)) in (None, "unknown"):
            m.locations[(item.type, item.id)] = item.direction
    geoms, unreadable = location_geometries(elem, nodes)
    if not geoms and isinstance(table := pub.ctx.locations, AlertCTable):  # AlertC only: from the table
        geoms = locate(elem, [i.id for i in found if i.type == "location"], table, pub.notes)
    m.geometries.extend(geoms)
    if unreadable:
        pub.notes.append(f"{unreadable} GML coordinate list(s) in an unsupported CRS skipped")
    if names.isdisjoint(_NAMING):
        return
    road_name: str | None = None
    for name, node in nodes:
        if name in _LOCATION_TEXT:
            (m.places if name == "locationDescription" else m.names).append(_values(node, pub))
        elif name == "roadName":
            texts = _values(node, pub) if len(node) else {}
            road_name = clean_text(node.text or "") or next(iter(texts.values()), None)
        elif name == "roadNumber" and node.text and node.text.strip():
            for number in road_numbers(node.text):
                if m.roads.get(number) is None:
                    m.roads[number] = road_name
            road_name = None


def _record(rec: Any, m: Merged, pub: Pub) -> None:
    rtype = xsi_type(rec) or "SituationRecord"
    m.records += 1
    m.types.append(rtype)
    _add(m.categories, f"datex2:{rtype}")
    cause, effect = types.RECORD_TYPES.get(rtype, ("OTHER_CAUSE", "OTHER_EFFECT"))
    if rec.get("version"):
        m.versions.append(rec.get("version", ""))
    created: datetime | None = None
    ended = suspended = restricted_vehicles = False
    values: list[str] = []
    for child in rec:
        name = localname(child.tag)
        if name not in _RECORD_READ:
            continue  # source, confidentiality, extensions...: nothing below is read
        if name == "situationRecordVersionTime":
            if (when := _time(child.text, pub)) is not None:
                m.times.append(when)
        elif name == "situationRecordCreationTime":
            created = _time(child.text, pub)
        elif name == "severity":
            m.severities.append(_enum(child))
        elif name == "validity":
            suspended = _validity(child, created, m, pub)
        elif name in ("generalPublicComment", "comment"):
            _comment(child, m, pub)
        elif name in _LOCATIONS:
            _location(child, m, pub)
        elif name == "management":
            ended = ended or _lifecycle_ended(child)
        elif name == "operatorActionStatus":
            ended = ended or _enum(child) in _ENDED_ACTIONS
        elif name == "forVehiclesWithCharacteristicsOf":
            restricted_vehicles = True
            m.restrictions += [r for r in fields.restriction(child) if r not in m.restrictions]
        elif name == "probabilityOfOccurrence":
            m.certainties.append(fields.CERTAINTY.get(fields.enum(child), "unknown"))
        elif name == "transitServiceType":
            m.modes += [types.TRANSIT_MODES[v]] if (v := fields.enum(child)) in types.TRANSIT_MODES else []
        elif name in ("impact", "delays"):
            if (delay := fields.delay_minutes(child)) is not None:
                m.delays.append(delay)
            if _lanes_restricted(child):
                m.effects.add("REDUCED_SERVICE")
        elif name == "cause":
            values.extend(_cause_types(child, m))
        elif name == "urlLink" and m.url is None:
            m.url = _url(child, pub)
        elif name in types.SUBTYPE_ELEMENTS:
            value = _enum(child)
            if value:
                values.append(value)
                _add(m.categories, f"datex2:{name}={value}")
    for value in values:
        cause = types.VALUE_CAUSES.get(value, cause)
        effect = types.VALUE_EFFECTS.get(value, effect)
    if effect == "NO_SERVICE" and restricted_vehicles:
        effect = "REDUCED_SERVICE"  # closed only to some vehicles (e.g. weight limits)
    m.values.extend(values)
    if cause:
        m.causes.add(cause)
    if effect:
        m.effects.add(effect)
    m.ended += ended
    m.suspended += suspended and not ended


def _comment(elem: Any, m: Merged, pub: Pub) -> None:
    kind = ""
    texts: dict[str, str] = {}
    for child in elem:
        name = localname(child.tag)
        if name == "commentType":
            kind = _enum(child)
        elif name == "comment":
            texts = _values(child, pub)
    (m.places if kind == "locationDescriptor" else m.comments).append(texts)
    for road, way, place in fields.labelled_roads(texts):  # NTIS: roads only in labelled lines
        m.roads.setdefault(road, None)
        m.locations.setdefault(("road", road), way)
        m.names.append({pub.lang: place})


def _cause_types(elem: Any, m: Merged) -> list[str]:
    found = []
    for node in elem.iter("{*}causeType"):
        if value := _enum(node):
            found.append(value)
            _add(m.categories, f"datex2:causeType={value}")
    return found


def _lifecycle_ended(elem: Any) -> bool:
    return any(_enum(node).lower() == "true" for node in elem.iter("{*}cancel", "{*}end"))


def _lanes_restricted(elem: Any) -> bool:
    for node in elem:
        if localname(node.tag) == "numberOfLanesRestricted":
            try:
                return int(_enum(node)) > 0
            except ValueError:
                return False
    return False


def _url(elem: Any, pub: Pub) -> str | None:
    for node in elem.iter("{*}urlLinkAddress"):
        if node.text and node.text.strip():
            url = safe_url(str(node.text))
            if url is None:
                pub.notes.append(f"link {node.text.strip()[:40]!r} is not an http(s) URL: dropped")
            return url
    return None


def _add(items: list[str], item: str) -> None:
    # Categories stay few (record types and enum values), so list membership is cheap here;
    # MAX_RECORDS bounds how many a situation can add.
    if item not in items:
        items.append(item)


def situation(elem: Any, pub: Pub) -> Disruption | None:
    """The Disruption for one `situation` element (None, with a note, when it has no id)."""
    sid = (elem.get("id") or "").strip()
    if not sid:
        raise ValueError("a situation without an id")
    m = Merged()
    overall: str | None = None
    seen: set[str] = set()
    for child in elem:
        name = localname(child.tag)
        if name == "situationRecord":
            if m.records >= MAX_RECORDS:
                pub.notes.append(f"situation {sid[:60]}: more than {MAX_RECORDS} records, the rest ignored")
                break
            rid = child.get("id") or ""
            if rid and rid in seen:
                pub.notes.append(f"situation {sid}: duplicate record id {rid}, first kept")
                continue
            seen.add(rid)
            _record(child, m, pub)
        elif name == "overallSeverity":
            overall = _enum(child)
        elif name == "situationVersionTime" and (when := _time(child.text, pub)) is not None:
            m.times.append(when)
    return build(elem, sid, overall, m, pub)
