"""SIRI-SX 2.1 out: disruptions -> a `Siri/ServiceDelivery/SituationExchangeDelivery` (pure).

Follows the Nordic (Entur) SIRI profile where it is stricter than SIRI: every element has
`ParticipantRef`, `SituationNumber`, `Version`, `Source/SourceType`, `Progress`, at least one
`ValidityPeriod` with a `StartTime`, `ReportType` and a `Summary` with `xml:lang`.
`ParticipantRef` is our source name and `SituationNumber` the upstream id, so the pair is the
public id (`<source>:<upstream id>`) again when read back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from lxml import etree

from travelinfo.model import Affected, Disruption, format_time
from travelinfo.standards.text import clean, lang_tag
from travelinfo.vocab import PT_MODES

NS = "http://www.siri.org.uk/siri"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DEFAULT_NS: Any = {None: NS}  # lxml-stubs do not allow the None (default) prefix
CONTENT_TYPE = "application/xml; charset=utf-8"
PRODUCER = "travelinfo"

# Model cause -> (SIRI reason element, value); the values are TPEG/SIRI reason codes our parser
# maps back to the same cause.
REASONS: dict[str, tuple[str, str]] = {
    "UNKNOWN_CAUSE": ("UndefinedReason", ""),
    "OTHER_CAUSE": ("MiscellaneousReason", "undefinedProblem"),
    "TECHNICAL_PROBLEM": ("EquipmentReason", "technicalProblem"),
    "STRIKE": ("PersonnelReason", "industrialAction"),
    "DEMONSTRATION": ("MiscellaneousReason", "demonstration"),
    "ACCIDENT": ("MiscellaneousReason", "accident"),
    "HOLIDAY": ("MiscellaneousReason", "holiday"),
    "WEATHER": ("EnvironmentReason", "adverseWeather"),
    "MAINTENANCE": ("MiscellaneousReason", "maintenanceWork"),
    "CONSTRUCTION": ("MiscellaneousReason", "constructionWork"),
    "POLICE_ACTIVITY": ("MiscellaneousReason", "policeActivity"),
    "MEDICAL_EMERGENCY": ("MiscellaneousReason", "illVehicleOccupants"),
}
SEVERITIES = {"UNKNOWN_SEVERITY": "unknown", "INFO": "slight", "WARNING": "normal", "SEVERE": "severe"}
# Model effect -> SIRI ServiceCondition; UNKNOWN_EFFECT writes no Consequence at all.
CONDITIONS = {
    "NO_SERVICE": "noService",
    "REDUCED_SERVICE": "disrupted",
    "SIGNIFICANT_DELAYS": "delayed",
    "DETOUR": "diverted",
    "ADDITIONAL_SERVICE": "additionalService",
    "MODIFIED_SERVICE": "altered",
    "OTHER_EFFECT": "undefinedServiceInformation",
    "STOP_MOVED": "stopMoved",
    "NO_EFFECT": "normalService",
    "ACCESSIBILITY_ISSUE": "undefinedServiceInformation",
}
VEHICLE_MODES = {"bus": "bus", "metro": "metro", "tram": "tram", "rail": "rail", "ferry": "ferry"}
# SIRI identifiers are NMTOKENs: letters, digits and . - _ : only.
_NOT_NMTOKEN = re.compile(r"[^\w.\-:]", re.UNICODE)


def nmtoken(text: str) -> str:
    """`text` as an NMTOKEN (other characters become `_`; never empty)."""
    return _NOT_NMTOKEN.sub("_", text) or "_"


def is_public_transport(d: Disruption) -> bool:
    """Whether `d` belongs in SIRI-SX: it concerns a public-transport or ferry mode."""
    return any(m in PT_MODES for m in d.modes)


def version_number(d: Disruption) -> int:
    """SIRI wants a positive integer version: the upstream one when numeric, else `updated_at`."""
    if d.version and d.version.isdigit() and int(d.version) > 0:
        return int(d.version)
    return max(1, int(d.updated_at.timestamp()))


def _sub(parent: Any, name: str, text: str | None = None, **attrib: str) -> Any:
    elem = etree.SubElement(parent, f"{{{NS}}}{name}", attrib)
    if text is not None:
        elem.text = clean(text)
    return elem


def _texts(parent: Any, name: str, texts: Mapping[str, str]) -> None:
    for lang, text in texts.items():
        _sub(parent, name, text, **{XML_LANG: lang_tag(lang)})


def _points(geometry: Mapping[str, Any] | None) -> list[tuple[float, float]]:
    """The points of a Point/MultiPoint geometry (SIRI `Location`s carry only points)."""
    if not geometry:
        return []
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return [(float(lon), float(lat))]
    if geometry.get("type") == "MultiPoint":
        return [(float(c[0]), float(c[1])) for c in geometry["coordinates"]]
    return []


def _line(net: Any, a: Affected) -> None:
    """One `AffectedLine`; its direction as `Direction` (DirectionRef: our direction word, as
    `inbound`/`outbound` in SIRI's own usage; DirectionName: where it runs)."""
    line = _sub(net, "AffectedLine")
    _sub(line, "LineRef", nmtoken(a.id))
    if a.name:
        _sub(line, "PublishedLineName", a.name)
    if a.direction or a.towards:
        way = _sub(line, "Direction")
        _sub(way, "DirectionRef", nmtoken(a.direction or "unknown"))
        if a.towards:
            _sub(way, "DirectionName", a.towards)


def _affects(parent: Any, d: Disruption) -> None:
    affects = _sub(parent, "Affects")
    by_type: dict[str, list[tuple[str, str | None]]] = {}
    seen: set[tuple[str, str]] = set()
    for a in d.affected:  # one entry per id: a stop affected in two directions is one StopPoint
        if (a.type, a.id) not in seen:
            seen.add((a.type, a.id))
            by_type.setdefault(a.type, []).append((a.id, a.name))
    if by_type.get("agency"):
        ops = _sub(affects, "Operators")
        for ident, name in by_type["agency"]:
            op = _sub(ops, "AffectedOperator")
            _sub(op, "OperatorRef", nmtoken(ident))
            if name:
                _sub(op, "OperatorName", name)
    modes = [VEHICLE_MODES[m] for m in d.modes if m in VEHICLE_MODES]
    lines = [a for a in d.affected if a.type == "route"]
    if modes or lines:
        networks = _sub(affects, "Networks")
        # One network per mode; the lines go with the first (the model does not say which
        # mode each line runs).
        for i, mode in enumerate(modes or [""]):
            net = _sub(networks, "AffectedNetwork")
            if mode:
                _sub(net, "VehicleMode", mode)
            if i == 0:
                for a in lines:
                    _line(net, a)
            if not lines or i > 0:
                _sub(net, "AllLines")
    if by_type.get("stop"):
        stops = _sub(affects, "StopPoints")
        for ident, name in by_type["stop"]:
            stop = _sub(stops, "AffectedStopPoint")
            _sub(stop, "StopPointRef", nmtoken(ident))
            if name:
                _sub(stop, "StopPointName", name)
    points = _points(d.geometry)
    if by_type.get("area") or points:
        places = _sub(affects, "Places")
        for ident, name in by_type.get("area", []):
            place = _sub(places, "AffectedPlace")
            _sub(place, "PlaceRef", nmtoken(ident))
            if name:
                _sub(place, "PlaceName", name)
        for lon, lat in points:
            place = _sub(places, "AffectedPlace")
            loc = _sub(place, "Location")
            _sub(loc, "Longitude", repr(lon))
            _sub(loc, "Latitude", repr(lat))
    if by_type.get("trip"):
        journeys = _sub(affects, "VehicleJourneys")
        for ident, _name in by_type["trip"]:
            journey = _sub(journeys, "AffectedVehicleJourney")
            _sub(journey, "VehicleJourneyRef", nmtoken(ident))
            _sub(journey, "Route")


def situation(parent: Any, d: Disruption) -> None:
    """Append one `PtSituationElement` for `d` to `parent` (a `Situations` element)."""
    el = _sub(parent, "PtSituationElement")
    _sub(el, "CreationTime", format_time(d.first_seen))
    _sub(el, "ParticipantRef", nmtoken(d.source))
    _sub(el, "SituationNumber", nmtoken(d.upstream_id))
    _sub(el, "Version", str(version_number(d)))
    source = _sub(el, "Source")
    _sub(source, "SourceType", "feed")
    _sub(el, "VersionedAtTime", format_time(d.updated_at))
    _sub(el, "Progress", "closed" if d.status == "ended" else "open")
    # The Nordic profile requires a ValidityPeriod: an item without periods is valid from
    # when we first saw it.
    for period in d.periods or ():
        vp = _sub(el, "ValidityPeriod")
        _sub(vp, "StartTime", format_time(period.start))
        if period.end is not None:
            _sub(vp, "EndTime", format_time(period.end))
    if not d.periods:
        vp = _sub(el, "ValidityPeriod")
        _sub(vp, "StartTime", format_time(d.first_seen))
    reason, value = REASONS[d.cause]
    _sub(el, reason, value if value else None)
    _sub(el, "Severity", SEVERITIES[d.severity])
    _sub(el, "ReportType", "incident")
    _sub(el, "Planned", "true" if d.status == "planned" else "false")
    _texts(el, "Summary", d.header)
    _texts(el, "Description", d.description)
    if d.url:
        links = _sub(el, "InfoLinks")
        _sub(_sub(links, "InfoLink"), "Uri", d.url)
    _affects(el, d)
    condition = CONDITIONS.get(d.effect)
    if condition:
        consequence = _sub(_sub(el, "Consequences"), "Consequence")
        _sub(consequence, "Condition", condition)
        _sub(consequence, "Severity", SEVERITIES[d.severity])


def render(items: Iterable[Disruption], at: datetime, *, incremental: bool = False) -> bytes:
    """The SIRI-SX document for the public-transport items among `items`, stamped `at`."""
    root = etree.Element(f"{{{NS}}}Siri", {"version": "2.1"}, nsmap=_DEFAULT_NS)
    delivery = _sub(root, "ServiceDelivery")
    _sub(delivery, "ResponseTimestamp", format_time(at))
    _sub(delivery, "ProducerRef", PRODUCER)
    sx = _sub(delivery, "SituationExchangeDelivery", version="2.1")
    _sub(sx, "ResponseTimestamp", format_time(at))
    _sub(sx, "Status", "true")
    situations = _sub(sx, "Situations")
    for d in items:
        if is_public_transport(d):
            situation(situations, d)
    # A delta must not be read as a full snapshot (that would end what it leaves out). SIRI
    # has `IncrementalUpdates` only in subscription requests, so the delivery says it in its
    # `Extensions`, where readers that follow Anshar's convention (ours does) find it.
    if incremental:
        _sub(_sub(sx, "Extensions"), "IncrementalUpdates", "true")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
