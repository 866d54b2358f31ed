"""Trafikverket Open API v2 answers (Situation, FerryAnnouncement, TrainMessage; JSON or XML).

Choices:
- One disruption per `Situation` (its `Deviation`s merged, as DATEX II situations are), per
  `FerryAnnouncement` (`ferry-announcement/<Id>`) and per `TrainMessage`
  (`train-message/<EventId>`). A Situation without `Id` (INCLUDE-filtered answers) takes the
  TRISS id its deviations share (`SE_STA_TRISSID_1_6923722` -> `SE_STA_TRISSID_6923722`).
- `Deleted` objects end their item (`Batch.ended`); other object types are skipped with a note.
- Every code is kept as a category (`trafikverket:MessageCode=Vägarbete`, IconId, ...).
- An answer is a delta (what changed since `changeid`) unless `options.complete` says otherwise;
  the collector sets it for the first answer of a query (`changeid=0`).
- `ERROR` answers raise `TrafikverketError` (a ParseError) telling a refused key or quota.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from travelinfo.ingest.parsers import trafikverket_train as tt
from travelinfo.ingest.parsers import trafikverket_tree as tv
from travelinfo.ingest.parsers.base import Keywords, ParseContext, first_match, keywords, register
from travelinfo.model import SEVERITY_RANK, Affected, Batch, Disruption, Period, make_id
from travelinfo.plaintext import clean_text, road_numbers, title_of

SOURCE_TYPE = "trafikverket"
_TRISS = re.compile(r"^(?P<prefix>.+)_\d+_(?P<number>\d+)$")
# SeverityCode: 1 no impact, 2 small, 3 (unused), 4 large, 5 very large impact.
SEVERITY = {"1": "INFO", "2": "INFO", "3": "WARNING", "4": "WARNING", "5": "SEVERE"}
# (pattern on IconId/MessageType/MessageCode, cause); first match wins.
_CAUSES = keywords(
    {
        "ACCIDENT": r"accident|olycka",
        "CONSTRUCTION": r"roadwork|vägarbete|arbete|construction",
        "MAINTENANCE": r"maintenance|underhåll|beläggning|röjning",
        "WEATHER": r"weather|väder|storm|blåst|väglag|halka|snö|\bis\b|\bice\b|\bwind|\bvind"
        r"|översvämning|flood",
        "POLICE_ACTIVITY": r"polis|police",
        "OTHER_CAUSE": r"evenemang|event|demonstration",
        "TECHNICAL_PROBLEM": r"vägskada|roadDamage|tekniskt|technical|signal|bro(?:öppning)?\b",
    }
)
_EFFECTS = keywords(
    {
        # Lanes first: "ett körfält avstängt" closes a lane, not the road.
        "REDUCED_SERVICE": r"lane|körfält|enkelriktad|begränsad|restrict|reducer|en färja",
        "NO_SERVICE": r"closed|avstängd|inställd|NotOperating|ej i trafik",
        "SIGNIFICANT_DELAYS": r"queu|kö\b|köbildning|försen|delay",
        "DETOUR": r"omledning|detour|diversion",
    }
)
_FERRY = re.compile(r"ferry|färj", re.I)


def _match(table: Keywords, texts: Iterable[str], default: str) -> str:
    return first_match(table, " ".join(t for t in texts if t), default)


def _period(start: datetime | None, end: datetime | None, fallback: datetime) -> Period:
    start = start or fallback
    return Period(start, end if end is not None and end > start else None)


def _header(titles: list[str], roads: list[str]) -> str:
    """`E4/E20: Vägarbete, Körfältsavstängningar`: the road once, then each deviation's title."""
    text = ", ".join(dict.fromkeys(titles))
    road = ", ".join(dict.fromkeys(roads))
    return f"{road}: {text}" if road and text and not text.startswith(road) else text


def situation_id(situation: dict[str, Any]) -> str | None:
    """The Situation's `Id`, else the TRISS id its deviations share, else the first deviation id."""
    own = tv.text(situation, "Id")
    if own:
        return own
    ids = [tv.text(d, "Id") for d in tv.as_list(situation.get("Deviation")) if isinstance(d, dict)]
    ids = [i for i in ids if i]
    parts = {(m["prefix"], m["number"]) for m in (_TRISS.match(i) for i in ids) if m}
    if ids and len(parts) == 1 and all(_TRISS.match(i) for i in ids):
        prefix, number = parts.pop()
        return f"{prefix}_{number}"
    return ids[0] if ids else None


def _deviation_categories(dev: dict[str, Any]) -> list[str]:
    cats = []
    for name in (
        "MessageType",
        "MessageTypeValue",
        "MessageCode",
        "MessageCodeValue",
        "IconId",
        "SeverityCode",
        "TrafficRestrictionType",
        "AffectedDirectionValue",
    ):
        for value in tv.as_list(dev.get(name)):
            if isinstance(value, str | int) and str(value).strip():
                cats.append(f"trafikverket:{name}={str(value).strip()}")
    if tv.flag(dev, "SafetyRelatedMessage"):
        cats.append("trafikverket:SafetyRelatedMessage")
    return cats


def _situation(sit: dict[str, Any], ctx: ParseContext, notes: list[str]) -> tuple[Disruption | None, str]:
    upstream = situation_id(sit)
    devs = [d for d in tv.as_list(sit.get("Deviation")) if isinstance(d, dict)]
    if upstream is None:
        upstream = tv.content_id({"Deviation": repr(devs)})
        notes.append(f"Situation without Id: id {upstream} derived from its content")
    if tv.flag(sit, "Deleted"):
        return None, upstream
    if not devs:
        notes.append(f"{upstream}: Situation without Deviation skipped")
        return None, upstream
    codes = [tv.text(d, k) for d in devs for k in ("IconId", "MessageType", "MessageCode")]
    header: list[str] = []
    roads: list[str] = []
    description: list[str] = []
    location: list[str] = []
    periods: list[Period] = []
    affected: dict[str, Affected] = {}
    categories: list[str] = []
    severity = "UNKNOWN_SEVERITY"
    for dev in devs:
        title = tv.text(dev, "Header") or tv.text(dev, "MessageCode") or tv.text(dev, "MessageType")
        message = clean_text(tv.text(dev, "Message"))
        if not title and message:
            title = title_of(message) or ""
        road = tv.text(dev, "RoadNumber")
        if road:
            roads.append(road)
        if title:
            header.append(title)
        if message and message not in description:
            description.append(message)
        place = ", ".join(
            p
            for p in (
                tv.text(dev, "LocationDescriptor") or tv.text(dev, "PositionalDescription"),
                tv.text(dev, "AffectedDirection"),
            )
            if p
        )
        if place and place not in location:
            location.append(place)
        start, end = tv.time_of(tv.text(dev, "StartTime")), tv.time_of(tv.text(dev, "EndTime"))
        if tv.flag(dev, "ValidUntilFurtherNotice"):
            end = None
        if start or end:
            period = _period(start, end, ctx.fetched_at)
            if period not in periods:
                periods.append(period)
        for number in road_numbers(road) if road else []:
            rid = number.removeprefix("Väg ").removeprefix("väg ").strip()
            affected.setdefault(f"road:{rid}", Affected("road", rid, road))
        for county in tv.as_list(dev.get("CountyNo")):
            if str(county).strip():
                affected.setdefault(f"area:{county}", Affected("area", f"county:{county}", None))
        categories += _deviation_categories(dev)
        sev = SEVERITY.get(tv.text(dev, "SeverityCode"), "UNKNOWN_SEVERITY")
        severity = max(severity, sev, key=SEVERITY_RANK.__getitem__)
    ferry = bool(_FERRY.search(" ".join(codes)))
    stamp = next(
        (
            tv.time_of(tv.text(sit, k))
            for k in ("VersionTime", "ModifiedTime", "PublicationTime")
            if tv.text(sit, k)
        ),
        None,
    )
    item = ctx.disruption(
        SOURCE_TYPE,
        upstream,
        version=tv.text(sit, "VersionTime") or tv.text(sit, "ModifiedTime") or None,
        updated_at=stamp,
        periods=periods,
        modes=("ferry",) if ferry else ("road",),
        cause=_match(_CAUSES, codes, "") or _match(_CAUSES, description, "OTHER_CAUSE"),
        effect=_match(_EFFECTS, [*codes, *description], "OTHER_EFFECT"),
        severity=severity,
        categories=tuple(dict.fromkeys(["trafikverket:objecttype=Situation", *categories])),
        header={"sv": _header(header, roads) or upstream},
        description={"sv": "\n\n".join(description)} if description else {},
        location_text={"sv": "; ".join(location)} if location else {},
        url=next((tv.text(d, "WebLink") for d in devs if tv.text(d, "WebLink")), None),
        geometry=tv.geometry_of(devs, upstream, notes),
        affected=tuple(affected.values()),
    )
    return item, upstream


def _ferry(ann: dict[str, Any], ctx: ParseContext, notes: list[str]) -> tuple[Disruption | None, str]:
    ident = tv.text(ann, "Id") or tv.content_id(ann)
    upstream = f"ferry-announcement/{ident}"
    if tv.flag(ann, "Deleted"):
        return None, upstream
    route = tv.mapping(ann.get("Route"))
    route_name = tv.text(route, "Name") or tv.text(route, "Shortname")
    harbours = [h for h in (ann.get("FromHarbor"), ann.get("ToHarbor")) if isinstance(h, dict)]
    info = [clean_text(str(i)) for i in tv.as_list(ann.get("Info")) if str(i).strip()]
    trip = " – ".join(tv.text(h, "Name") for h in harbours if tv.text(h, "Name"))
    header = route_name or trip or (title_of(info[0]) if info else None) or upstream
    affected = []
    if route_name:
        # A road ferry route is a public road (Vaxholmsleden is road 274's crossing), no GTFS route.
        affected.append(Affected("road", route_name, tv.text(route, "Description") or route_name))
    for h in harbours:
        name = tv.text(h, "Name")
        affected.append(Affected("port", f"harbor:{tv.text(h, 'Id') or name}", name or None))
    departure = tv.time_of(tv.text(ann, "DepartureTime"))
    modified = tv.time_of(tv.text(ann, "ModifiedTime"))
    cats = ["trafikverket:objecttype=FerryAnnouncement"]
    if tv.text(ann, "DeviationId"):
        cats.append(f"trafikverket:DeviationId={tv.text(ann, 'DeviationId')}")
    rtype = tv.mapping(route.get("Type"))
    if tv.text(rtype, "Name"):
        cats.append(f"trafikverket:FerryRouteType={tv.text(rtype, 'Name')}")
    item = ctx.disruption(
        SOURCE_TYPE,
        upstream,
        version=tv.text(ann, "ModifiedTime") or None,
        updated_at=modified,
        periods=[Period(departure or modified or ctx.fetched_at)],
        modes=("ferry",),
        cause=_match(_CAUSES, info, "OTHER_CAUSE"),
        effect=_match(_EFFECTS, info, "OTHER_EFFECT"),
        severity="WARNING",
        categories=tuple(cats),
        header={"sv": header},
        description={"sv": "\n\n".join(dict.fromkeys(info))} if info else {},
        location_text={"sv": trip} if trip else {},
        affected=tuple(dict.fromkeys(affected)),
    )
    return item, upstream


@register("trafikverket")
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """Parse a Trafikverket Open API answer (a delta unless `options.complete`)."""
    notes: list[str] = []
    items: dict[str, Disruption] = {}
    ended: list[str] = []
    for result in tv.read_answer(data, ctx):
        for kind, objects in result.objects.items():
            handler = {
                "Situation": _situation,
                "FerryAnnouncement": _ferry,
                "TrainMessage": tt.train_message,
            }.get(kind)
            if handler is None:
                notes.append(f"{len(objects)} {kind} object(s) skipped: not a disruption type")
                continue
            for obj in objects:
                item, upstream = handler(obj, ctx, notes)
                if item is None:
                    ended.append(make_id(ctx.source, upstream))
                else:
                    items[item.id] = item
    ended = [i for i in dict.fromkeys(ended) if i not in items]
    return ctx.batch(items.values(), complete=False, ended=ended, notes=notes)


def answer_info(data: bytes, ctx: ParseContext) -> tuple[str | None, str | None]:
    """(LASTCHANGEID, SSEURL) of an answer: the highest change id of its results."""
    change: str | None = None
    sse: str | None = None
    for result in tv.read_answer(data, ctx):
        if result.last_change_id and (change is None or _int(result.last_change_id) > _int(change)):
            change = result.last_change_id
        sse = sse or result.sse_url
    return change, sse


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1
