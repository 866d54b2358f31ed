"""DATEX II v3.5 out: road disruptions -> a `d2:payload` SituationPublication (pure).

Schema set: the full DATEX II v3.5 (Fintraffic's copy, entry point DATEXII_3_D2Payload.xsd).
One `situation` per item (id = the public id); per validity period a record whose
`xsi:type` says the cause (Accident, MaintenanceWorks, PoorEnvironmentConditions, ...) and, when
the effect is known, a management record that says the effect (RoadOrCarriagewayOrLaneManagement
roadClosed/laneClosures, AbnormalTraffic, ReroutingManagement, ...). DATEX has no title field:
`generalPublicComment` is the description, preceded by the header as its own paragraph unless
the description already starts with it (readers, ours included, take the first paragraph as
the title). Locations are WGS 84: points as `pointByCoordinates`, lines as GML line strings
(EPSG:4326, latitude first), polygons as a GML multi-polygon, several parts as a location group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from lxml import etree

from travelinfo.model import Disruption, Period, format_time
from travelinfo.plaintext import title_of
from travelinfo.standards.text import clean, lang_tag

D2 = "http://datex2.eu/schema/3/d2Payload"
COM = "http://datex2.eu/schema/3/common"
LOC = "http://datex2.eu/schema/3/locationReferencing"
SIT = "http://datex2.eu/schema/3/situation"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"d2": D2, "com": COM, "loc": LOC, "sit": SIT, "xsi": XSI}
CONTENT_TYPE = "application/xml; charset=utf-8"
XSI_TYPE = f"{{{XSI}}}type"

# cause -> (record type, (subtype element, value), ...); UNKNOWN_CAUSE writes no cause record.
CAUSE_RECORDS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "ACCIDENT": ("Accident", (("accidentType", "accident"),)),
    "MAINTENANCE": ("MaintenanceWorks", (("roadMaintenanceType", "maintenanceWork"),)),
    "CONSTRUCTION": ("ConstructionWorks", (("constructionWorkType", "constructionWork"),)),
    "WEATHER": ("PoorEnvironmentConditions", (("poorEnvironmentType", "badWeather"),)),
    "POLICE_ACTIVITY": ("AuthorityOperation", (("authorityOperationType", "policeInvestigation"),)),
    "MEDICAL_EMERGENCY": ("VehicleObstruction", (("vehicleObstructionType", "medicalEmergency"),)),
    "DEMONSTRATION": ("DisturbanceActivity", (("disturbanceActivityType", "demonstration"),)),
    "STRIKE": ("DisturbanceActivity", (("disturbanceActivityType", "strike"),)),
    "TECHNICAL_PROBLEM": (
        "EquipmentOrSystemFault",
        (("equipmentOrSystemFaultType", "notWorking"), ("faultyEquipmentOrSystemType", "other")),
    ),
    "HOLIDAY": ("PublicEvent", (("publicEventType", "other"),)),
    "OTHER_CAUSE": ("GeneralObstruction", (("obstructionType", "other"),)),
}
# DATEX causeType per cause (the record type says most; this says the rest, e.g. holidays).
CAUSE_TYPES = {"HOLIDAY": "holidayTraffic", "TECHNICAL_PROBLEM": "technicalProblems", "ACCIDENT": "accident"}
_ROCLM = "RoadOrCarriagewayOrLaneManagement"
_GNM = ("GeneralNetworkManagement", (("generalNetworkManagementType", "other"),))
EFFECT_RECORDS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "NO_SERVICE": (_ROCLM, (("roadOrCarriagewayOrLaneManagementType", "roadClosed"),)),
    "REDUCED_SERVICE": (_ROCLM, (("roadOrCarriagewayOrLaneManagementType", "laneClosures"),)),
    "NO_EFFECT": (_ROCLM, (("roadOrCarriagewayOrLaneManagementType", "roadCleared"),)),
    "SIGNIFICANT_DELAYS": ("AbnormalTraffic", (("abnormalTrafficType", "queuingTraffic"),)),
    "DETOUR": ("ReroutingManagement", (("reroutingManagementType", "followDiversionSigns"),)),
    "MODIFIED_SERVICE": ("SpeedManagement", (("speedManagementType", "speedRestrictionInOperation"),)),
    # DATEX has no record for these: a general network-management record says "other".
    "OTHER_EFFECT": _GNM,
    "STOP_MOVED": _GNM,
    "ACCESSIBILITY_ISSUE": _GNM,
    "ADDITIONAL_SERVICE": _GNM,
}
_MANAGEMENT = frozenset({_ROCLM, "ReroutingManagement", "SpeedManagement", "GeneralNetworkManagement"})
MAX_TEXT = 1024  # com:String's maxLength
SEVERITIES = {"SEVERE": "high", "WARNING": "medium", "INFO": "low", "UNKNOWN_SEVERITY": "unknown"}


def is_road(d: Disruption) -> bool:
    """Whether `d` belongs in the DATEX II publication."""
    return "road" in d.modes


def comment_texts(d: Disruption) -> dict[str, str]:
    """The `generalPublicComment` per language: header paragraph first unless already there."""
    out: dict[str, str] = {}
    for lang in dict.fromkeys([*d.header, *d.description]):
        header, desc = d.header.get(lang, ""), d.description.get(lang, "")
        if desc and (not header or title_of(desc) == header):
            out[lang] = desc
        else:
            out[lang] = f"{header}\n\n{desc}" if desc else header
    return out


def chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut between paragraphs where possible
    (a reader joining the pieces with blank lines gets the text back)."""
    out: list[str] = []
    for para in text.split("\n\n"):
        while len(para) > limit:
            cut = para.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            out.append(para[:cut])
            para = para[cut:].lstrip()
        if out and len(out[-1]) + 2 + len(para) <= limit:
            out[-1] = f"{out[-1]}\n\n{para}"
        elif para:
            out.append(para)
    return out


def _sub(parent: Any, ns: str, name: str, text: str | None = None, **attrib: str) -> Any:
    elem = etree.SubElement(parent, f"{{{ns}}}{name}", attrib)
    if text is not None:
        elem.text = clean(text)
    return elem


def _multilingual(parent: Any, ns: str, name: str, texts: Mapping[str, str]) -> None:
    values = _sub(_sub(parent, ns, name), COM, "values")
    for lang, text in texts.items():
        text = clean(text)
        if len(text) > MAX_TEXT:  # only place names get here (comments come in chunks)
            cut = text.rfind(" ", 0, MAX_TEXT - 1)
            text = text[: cut if cut > 0 else MAX_TEXT - 1] + "…"
        _sub(values, COM, "value", text, lang=lang_tag(lang))


def _poslist(coords: Iterable[Any]) -> str:
    return " ".join(f"{float(c[1])!r} {float(c[0])!r}" for c in coords)


def _parts(geometry: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """(Point|LineString|Polygon, coordinates) of every part of a GeoJSON geometry."""
    if not geometry:
        return []
    kind = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    if kind in ("Point", "LineString", "Polygon"):
        return [(str(kind), coords)]
    if kind in ("MultiPoint", "MultiLineString", "MultiPolygon"):
        return [(str(kind)[5:], c) for c in coords]
    if kind == "GeometryCollection":
        return [p for g in geometry.get("geometries", ()) for p in _parts(g)]
    return []


def _description(parent: Any, d: Disruption) -> None:
    roads = [a for a in d.affected if a.type == "road"]
    if not d.location_text and not roads:
        return
    spd = _sub(parent, LOC, "supplementaryPositionalDescription")
    if d.location_text:
        _multilingual(spd, LOC, "locationDescription", d.location_text)
    for road in roads:
        info = _sub(spd, LOC, "roadInformation")
        if road.name:
            _sub(info, LOC, "roadName", road.name)
        _sub(info, LOC, "roadNumber", road.id)


def _place(parent: Any, tag: tuple[str, str], kind: str, coords: Any, d: Disruption, first: bool) -> None:
    xsi = {"Point": "PointLocation", "LineString": "LinearLocation", "Polygon": "AreaLocation"}[kind]
    loc = _sub(parent, *tag, **{XSI_TYPE: f"loc:{xsi}"})
    if kind != "Polygon" and first:
        _description(loc, d)
    if kind == "Point":
        pc = _sub(_sub(loc, LOC, "pointByCoordinates"), LOC, "pointCoordinates")
        _sub(pc, LOC, "latitude", repr(float(coords[1])))
        _sub(pc, LOC, "longitude", repr(float(coords[0])))
    elif kind == "LineString":
        line = _sub(loc, LOC, "gmlLineString", srsName="EPSG:4326", srsDimension="2")
        _sub(line, LOC, "posList", _poslist(coords))
    else:
        multi = _sub(loc, LOC, "gmlMultiPolygon")
        if first and d.location_text:
            _multilingual(multi, LOC, "gmlAreaName", d.location_text)
        poly = _sub(multi, LOC, "gmlPolygon")
        ring = _sub(poly, LOC, "exterior", srsName="EPSG:4326", srsDimension="2")
        _sub(ring, LOC, "posList", _poslist(coords[0]))


def _location(parent: Any, d: Disruption) -> None:
    parts = _parts(d.geometry)
    tag = (SIT, "locationReference")
    if not parts:
        # No coordinates: a network location that only names the place and roads.
        loc = _sub(parent, *tag, **{XSI_TYPE: "loc:PointLocation"})
        _description(loc, d)
    elif len(parts) == 1:
        _place(parent, tag, parts[0][0], parts[0][1], d, True)
    else:
        group = _sub(parent, *tag, **{XSI_TYPE: "loc:LocationGroupByList"})
        for i, (kind, coords) in enumerate(parts):
            _place(group, (LOC, "locationContainedInGroup"), kind, coords, d, i == 0)


def _record(
    situation: Any, d: Disruption, rid: str, spec: tuple[str, tuple[tuple[str, str], ...]], period: Period
) -> None:
    rtype, subtypes = spec
    rec = _sub(situation, SIT, "situationRecord", id=rid, version="1", **{XSI_TYPE: f"sit:{rtype}"})
    _sub(rec, SIT, "situationRecordCreationTime", format_time(d.first_seen))
    _sub(rec, SIT, "situationRecordVersionTime", format_time(d.updated_at))
    _sub(rec, SIT, "probabilityOfOccurrence", "certain")
    _sub(rec, SIT, "severity", SEVERITIES[d.severity])
    validity = _sub(rec, SIT, "validity")
    _sub(validity, COM, "validityStatus", "definedByValidityTimeSpec")
    spec_elem = _sub(validity, COM, "validityTimeSpecification")
    _sub(spec_elem, COM, "overallStartTime", format_time(period.start))
    if period.end is not None:
        _sub(spec_elem, COM, "overallEndTime", format_time(period.end))
    if rtype not in _MANAGEMENT and d.cause in CAUSE_TYPES:
        _sub(_sub(rec, SIT, "cause"), SIT, "causeType", CAUSE_TYPES[d.cause])
    pieces = {lang: chunks(clean(text)) for lang, text in comment_texts(d).items()}
    for i in range(max((len(p) for p in pieces.values()), default=0)):
        part = {lang: p[i] for lang, p in pieces.items() if i < len(p)}
        _multilingual(_sub(rec, SIT, "generalPublicComment"), SIT, "comment", part)
    if d.url:
        _sub(_sub(rec, SIT, "urlLink"), COM, "urlLinkAddress", d.url)
    _location(rec, d)
    if rtype in _MANAGEMENT:
        _sub(rec, SIT, "complianceOption", "mandatory")
    for name, value in subtypes:
        _sub(rec, SIT, name, value)


def situation(parent: Any, d: Disruption) -> None:
    """Append the `situation` of `d`: cause and effect records for each validity period."""
    sit = _sub(parent, SIT, "situation", id=d.id)
    _sub(sit, SIT, "overallSeverity", SEVERITIES[d.severity])
    _sub(sit, SIT, "situationVersionTime", format_time(d.updated_at))
    _sub(_sub(sit, SIT, "headerInformation"), COM, "informationStatus", "real")
    specs = [s for s in (CAUSE_RECORDS.get(d.cause), EFFECT_RECORDS.get(d.effect)) if s is not None]
    # A situation needs a record: with neither cause nor effect known, a general "other" one.
    for i, period in enumerate(d.periods or (Period(d.first_seen),)):
        for kind, spec in zip("ce", specs or [_GNM], strict=False):
            _record(sit, d, f"{d.id}_{i}{kind}", spec, period)


def render(
    items: Iterable[Disruption], at: datetime, country: str = "SE", creator: str = "travelinfo"
) -> bytes:
    """The SituationPublication of the road items among `items`, stamped `at`."""
    root = etree.Element(
        f"{{{D2}}}payload",
        {XSI_TYPE: "sit:SituationPublication", "lang": "sv", "modelBaseVersion": "3"},
        nsmap=NSMAP,
    )
    _sub(root, COM, "publicationTime", format_time(at))
    creator_elem = _sub(root, COM, "publicationCreator")
    _sub(creator_elem, COM, "country", country)
    _sub(creator_elem, COM, "nationalIdentifier", creator)
    for d in items:
        if is_road(d):
            situation(root, d)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
