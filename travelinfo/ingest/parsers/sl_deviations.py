"""SL Deviations API (`deviations.integration.sl.se/v1/messages`) -> one disruption per case.

- The id is `deviation_case_id` (stable across versions); `version` is the message version.
- The answer lists every message in force for the query: a full snapshot.
- Texts: one `message_variants` entry per language (`header`, `details`, `scope_alias`, `weblink`).
- Lines and stop areas are mapped to the reference GTFS where SL's ids allow: an SL line of
  transport authority 1 with designation `17` is GTFS route `9011001001700000`; stop area or
  stop point `9192` is every GTFS stop `9022001009192...` (and the parent `9021001009192000`).
  Unmatched ones keep SL's id and name as an `area` (`sl-line:17`, `sl-stop-area:9192`), so
  that GTFS-RT never carries a route or stop id the reference feed does not have.
"""

from __future__ import annotations

from typing import Any

from travelinfo.ingest.gtfs_static import GtfsStatic
from travelinfo.ingest.parsers.base import ParseContext, ParseError, first_match, keywords, register
from travelinfo.ingest.parsers.jsonsafe import load_json
from travelinfo.model import Affected, Batch, Disruption, Period
from travelinfo.plaintext import clean_text, title_of

MODES = {"BUS": "bus", "METRO": "metro", "TRAM": "tram", "TRAIN": "rail", "SHIP": "ferry", "FERRY": "ferry"}
STOP_TYPE_MODES = {"BUSTERM": "bus", "METROSTN": "metro", "TRAMSTN": "tram", "RAILWSTN": "rail",
                   "SHIPBER": "ferry", "FERRYBER": "ferry"}  # fmt: skip
_EFFECTS = keywords(
    {
        "NO_SERVICE": r"inställ|ingen trafik|trafikerar inte|stängd|avstängd|cancel",
        "ACCESSIBILITY_ISSUE": r"hiss|rulltrappa|lift|elevator|escalator",
        "STOP_MOVED": r"flyttad|tillfällig hållplats|moved",
        "DETOUR": r"omled|omväg|detour|diversion",
        "SIGNIFICANT_DELAYS": r"försen|delay|längre restid",
        "REDUCED_SERVICE": r"glesare|färre avgångar|reducer|kortare tåg",
        "MODIFIED_SERVICE": r"ersättningsbuss|ersätts|ändrad|ändrade",
    }
)
_CAUSES = keywords(
    {
        "MAINTENANCE": r"banarbete|spårarbete|underhåll|renover",
        "CONSTRUCTION": r"vägarbete|ombyggnad|byggarbete|construction",
        "ACCIDENT": r"olycka|accident",
        "TECHNICAL_PROBLEM": r"fel på|signalfel|tekniskt|växelfel|fordonsfel|hissfel",
        "POLICE_ACTIVITY": r"polis|police",
        "MEDICAL_EMERGENCY": r"sjukdom|ambulans",
        "WEATHER": r"snö|halka|storm|väder|is på",
        "OTHER_CAUSE": r"evenemang|demonstration|marathon|maraton",
    }
)


def _s(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _time(value: Any, what: str) -> Any:
    from travelinfo.ingest.parsers.cap_info import time_of

    try:
        return time_of(_s(value), what)
    except ParseError:
        raise ParseError(
            f"SL deviation {what} is not a date-time with an offset: {_s(value)[:40]!r}"
        ) from None


class _Gtfs:
    """SL ids -> reference GTFS ids, names and modes (when a reference is loaded)."""

    def __init__(self, reference: Any) -> None:
        self.ref = reference if isinstance(reference, GtfsStatic) else None
        self.stop_areas: dict[str, list[str]] = {}
        if self.ref:
            for stop_id in self.ref.stops:
                if len(stop_id) == 16 and stop_id[:4] in ("9021", "9022") and stop_id.isdigit():
                    self.stop_areas.setdefault(str(int(stop_id[7:13])), []).append(stop_id)

    def line(self, line: dict[str, Any]) -> tuple[Affected, tuple[str, ...]]:
        designation, authority = (
            _s(line.get("designation")) or _s(line.get("id")),
            _s(line.get("transport_authority")),
        )
        mode = MODES.get(_s(line.get("transport_mode")).upper())
        name = " ".join(p for p in (designation, _s(line.get("name"))) if p) or None
        if self.ref and designation.isdigit() and authority in ("", "1"):
            route_id = f"9011001{int(designation):04d}00000"
            if route_id in self.ref.routes:
                modes = self.ref.modes_for_route(route_id) or ((mode,) if mode else ())
                return Affected("route", route_id, self.ref.route_name(route_id) or name), modes
        # Not a reference GTFS id: an `area`, so GTFS-RT never carries a route_id no feed has.
        return Affected("area", f"sl-line:{_s(line.get('id')) or designation}", name), (mode,) if mode else ()

    def stops(self, area: dict[str, Any], kind: str) -> list[Affected]:
        ident, name = _s(area.get("id")), _s(area.get("name")) or None
        found = self.stop_areas.get(str(int(ident))) if ident.isdigit() else None
        if self.ref and found:
            return [Affected("stop", s, self.ref.stop_name(s) or name) for s in sorted(found)]
        return [Affected("area", f"sl-{kind}:{ident}", name)] if ident else []


def _message(msg: dict[str, Any], ctx: ParseContext, gtfs: _Gtfs, notes: list[str]) -> Disruption | None:
    case = _s(msg.get("deviation_case_id"))
    if not case:
        notes.append("a message without deviation_case_id skipped")
        return None
    variants = _list(msg.get("message_variants"))
    header: dict[str, str] = {}
    details: dict[str, str] = {}
    scope: dict[str, str] = {}
    url = None
    for v in variants:
        lang = (_s(v.get("language")) or "sv").split("-")[0].lower()
        text = clean_text(_s(v.get("details")))
        head = clean_text(_s(v.get("header"))) or title_of(text) or ""
        if head:
            header.setdefault(lang, head)
        if text:
            details.setdefault(lang, text)
        if _s(v.get("scope_alias")):
            scope.setdefault(lang, clean_text(_s(v.get("scope_alias"))))
        url = url or _s(v.get("weblink")) or None
    if not header:
        header = {"sv": f"Störning {case}"}
        notes.append(f"{case}: no header in any language")
    sc = _mapping(msg.get("scope"))
    affected: list[Affected] = []
    modes: list[str] = []
    for line in _list(sc.get("lines")):
        aff, line_modes = gtfs.line(line)
        affected.append(aff)
        modes += line_modes
    for area in _list(sc.get("stop_areas")):
        affected += gtfs.stops(area, "stop-area")
        modes += [m for m in (STOP_TYPE_MODES.get(_s(area.get("type")).upper()),) if m]
        for point in _list(area.get("stop_points")):
            affected += gtfs.stops(point, "stop-point")
    for point in _list(sc.get("stop_points")):
        affected += gtfs.stops(point, "stop-point")
    pub = _mapping(msg.get("publish"))
    start = _time(pub.get("from"), "publish.from") or _time(msg.get("created"), "created") or ctx.fetched_at
    end = _time(pub.get("upto"), "publish.upto")
    prio = _mapping(msg.get("priority"))
    importance = int(prio["importance_level"]) if isinstance(prio.get("importance_level"), int) else 0
    cats = [
        f"sl:{k}={_s(prio.get(k))}"
        for k in ("importance_level", "influence_level", "urgency_level")
        if _s(prio.get(k))
    ]
    cats += [f"sl:category={_s(c.get('group'))}/{_s(c.get('type'))}" for c in _list(msg.get("categories"))]
    words = " ".join([*header.values(), *details.values(), *cats])
    return ctx.disruption(
        "sl-deviations",
        case,
        version=_s(msg.get("version")) or None,
        updated_at=_time(msg.get("modified"), "modified") or _time(msg.get("created"), "created"),
        periods=[Period(start, end if end is not None and end > start else None)],
        modes=tuple(dict.fromkeys(modes)) or ("bus",),
        cause=first_match(_CAUSES, words, "UNKNOWN_CAUSE"),
        effect=first_match(_EFFECTS, words, "OTHER_EFFECT"),
        severity="SEVERE"
        if importance >= 7
        else "WARNING"
        if importance >= 4
        else "INFO"
        if importance
        else "UNKNOWN_SEVERITY",
        categories=tuple(dict.fromkeys(cats)),
        header=header,
        description=details,
        location_text=scope,
        url=url,
        affected=tuple(dict.fromkeys(affected)),
    )


def _num(version: str | None) -> int:
    return int(version) if version and version.isdigit() else 0


@register("sl-deviations")
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """Parse an SL Deviations API answer (a JSON list of messages; a full snapshot)."""
    tree = load_json(data, ctx)
    if isinstance(tree, dict) and isinstance(tree.get("messages"), list):
        tree = tree["messages"]
    if not isinstance(tree, list):
        raise ParseError("not an SL Deviations answer: expected a JSON list of messages")
    notes: list[str] = []
    gtfs = _Gtfs(ctx.reference)
    items: dict[str, Disruption] = {}
    for msg in tree:
        if not isinstance(msg, dict):
            notes.append("a non-object entry skipped")
            continue
        try:
            item = _message(msg, ctx, gtfs, notes)
        except ParseError as exc:
            # One bad message must not hide the others: skip it, say why.
            notes.append(f"message {_s(msg.get('deviation_case_id')) or '?'} skipped: {exc}")
            continue
        # Two versions of one case in one answer: the higher version wins.
        if item and (item.id not in items or _num(item.version) >= _num(items[item.id].version)):
            items[item.id] = item
    return ctx.batch(items.values(), complete=True, notes=notes)


__all__ = ["parse"]
