"""The Disruption of one DATEX II situation from what its records gave (`Merged`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from travelinfo.ingest.parsers import datex2_types as types
from travelinfo.ingest.parsers import trusted
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.datex2_geo import Geometry, combine
from travelinfo.model import (
    SEVERITY_RANK,
    Affected,
    Disruption,
    Period,
    Provenance,
    Schedule,
    compute_status,
    merge_texts,
)
from travelinfo.plaintext import title_of
from travelinfo.vocab import CERTAINTIES, DEFAULT_TZ


@dataclass(slots=True)
class Pub:
    """Publication-level facts a situation needs."""

    ctx: ParseContext
    lang: str
    notes: list[str] = field(default_factory=list)
    times: dict[str, datetime | None] = field(default_factory=dict)
    tz: str = DEFAULT_TZ
    prov: Provenance | None = None  # shared by every item (trusted.provenance), set on first use


class Merged:
    """Everything gathered from a situation's records (a plain class: one per situation, built fast)."""

    __slots__ = (
        "categories",
        "causes",
        "certainties",
        "comments",
        "delays",
        "effects",
        "ended",
        "geometries",
        "locations",
        "modes",
        "names",
        "periods",
        "places",
        "records",
        "restrictions",
        "roads",
        "schedules",
        "severities",
        "suspended",
        "times",
        "types",
        "unscheduled",
        "url",
        "validities",
        "values",
        "versions",
    )

    def __init__(self) -> None:
        self.types: list[str] = []
        self.categories: list[str] = []
        self.causes: set[str] = set()
        self.effects: set[str] = set()
        self.severities: list[str] = []
        self.times: list[datetime] = []
        self.versions: list[str] = []
        self.periods: list[Period] = []
        self.comments: list[dict[str, str]] = []
        self.places: list[dict[str, str]] = []
        self.names: list[dict[str, str]] = []
        self.roads: dict[str, str | None] = {}
        self.geometries: list[Geometry] = []
        self.values: list[str] = []
        self.url: str | None = None
        self.schedules: list[Schedule] = []
        self.validities: int = 0
        self.unscheduled: int = 0
        self.certainties: list[str] = []
        self.restrictions: list[dict[str, Any]] = []
        self.delays: list[int] = []
        self.modes: list[str] = []
        self.locations: dict[tuple[str, str], str | None] = {}
        self.records: int = 0
        self.ended: int = 0
        self.suspended: int = 0


_START = attrgetter("start")


def _header(comments: dict[str, str], m: Merged, pub: Pub, road: str | None) -> dict[str, str]:
    header: dict[str, str] = {}
    for lang, text in comments.items():
        if title := title_of(text):
            header[lang] = title
    if header:
        return header
    label = types.DEFAULT_LABEL
    for value in m.values:
        if value in types.VALUE_LABELS:
            label = types.VALUE_LABELS[value]
            break
    else:
        label = next((types.LABELS[t] for t in m.types if t in types.LABELS), label)
    langs = {"en"} | ({"sv"} if pub.lang == "sv" else set())
    return {lang: f"{label[lang]}, {road}" if road else label[lang] for lang in langs}


def _severity(overall: str | None, m: Merged) -> str:
    if overall and overall in types.SEVERITY:
        return types.SEVERITY[overall]
    mapped = [types.SEVERITY[s] for s in m.severities if s in types.SEVERITY]
    return max(mapped, key=SEVERITY_RANK.__getitem__, default="UNKNOWN_SEVERITY")


def _pick(order: tuple[str, ...], found: set[str], default: str) -> str:
    return next((item for item in order if item in found), default)


def build(elem: Any, sid: str, overall: str | None, m: Merged, pub: Pub) -> Disruption:
    ctx = pub.ctx
    periods = tuple(sorted(m.periods, key=_START) if len(m.periods) > 1 else m.periods)
    ended = m.records > 0 and m.ended == m.records
    status = compute_status(periods, ctx.fetched_at, ended=ended)
    if status == "active" and m.suspended and m.suspended + m.ended == m.records:
        status = "planned"  # suspended: announced but not in force now
    comments = merge_texts(m.comments) if m.comments else {}
    places = (merge_texts(m.places) if m.places else {}) or (merge_texts(m.names) if m.names else {})
    road = next(iter(m.roads), None)
    if not places and m.roads:
        place = ", ".join(f"{k} {v}" if v else k for k, v in m.roads.items())
        places = {pub.lang: place}
    version = (elem.get("version") or "").strip() or (m.versions[-1] if m.versions else None)
    # Schedules hold for the whole item only when every record's validity is recurring.
    schedules = tuple(m.schedules) if m.schedules and not m.unscheduled else ()
    if m.schedules and m.unscheduled:
        pub.notes.append(f"situation {sid[:60]}: records with and without recurrence: recurrence not kept")
    if schedules and status != "ended" and not (m.suspended and m.suspended + m.ended == m.records):
        status = compute_status(periods, ctx.fetched_at, schedules=schedules)
    certainty = (
        next((c for c in CERTAINTIES if c in m.certainties), "unknown") if m.certainties else "unknown"
    )
    affected = [Affected("road", k, v, m.locations.get(("road", k))) for k, v in m.roads.items()]
    if m.locations:
        affected += [Affected(t, i, None, d) for (t, i), d in m.locations.items() if t != "road"]
    if pub.prov is None:
        pub.prov = trusted.provenance(ctx)
    return trusted.disruption(
        ctx,
        pub.prov,
        "datex2",
        sid,
        version=version or None,
        updated_at=max(m.times) if m.times else ctx.fetched_at,
        status=status,
        modes=tuple(dict.fromkeys(m.modes)) or ("road",),
        schedules=schedules,
        certainty=certainty,
        restrictions=tuple(m.restrictions),
        delay_minutes=max(m.delays) if m.delays else None,
        cause=_pick(types.CAUSE_ORDER, m.causes, "UNKNOWN_CAUSE"),
        effect=_pick(types.EFFECT_ORDER, m.effects, "UNKNOWN_EFFECT"),
        severity=_severity(overall, m),
        categories=tuple(m.categories),
        periods=periods,
        header=_header(comments, m, pub, road),
        description=comments,
        location_text=places,
        url=m.url,
        geometry=combine(m.geometries),
        affected=tuple(affected),
    )
