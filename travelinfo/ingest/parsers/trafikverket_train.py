"""Trafikverket `TrainMessage` objects (rail disruptions, pendeltåg included) -> disruptions."""

from __future__ import annotations

import re
from typing import Any

from travelinfo.ingest.parsers import trafikverket_tree as tv
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.model import Affected, Disruption, Period
from travelinfo.plaintext import clean_text, title_of

_CAUSES = [
    (re.compile(r"olycka|påkörning|accident|urspårning", re.I), "ACCIDENT"),
    (re.compile(r"banarbete|spårarbete|underhåll|maintenance", re.I), "MAINTENANCE"),
    (
        re.compile(r"spårfel|växelfel|signalfel|kontaktledning|tekn|fordonsfel|elfel|fel på", re.I),
        "TECHNICAL_PROBLEM",
    ),
    (re.compile(r"snö|storm|oväder|halka|blixt|väder|weather|solkurvor|värme", re.I), "WEATHER"),
    (re.compile(r"polis|obehöriga|police", re.I), "POLICE_ACTIVITY"),
    (re.compile(r"sjukdom|sjukdomsfall|ambulans", re.I), "MEDICAL_EMERGENCY"),
    (re.compile(r"strejk", re.I), "STRIKE"),
]
_EFFECTS = [
    (re.compile(r"inställ|ingen tågtrafik|stopp i tågtrafiken|avstängd", re.I), "NO_SERVICE"),
    (re.compile(r"försen|delay", re.I), "SIGNIFICANT_DELAYS"),
    (re.compile(r"ersättningsbuss|buss ersätter", re.I), "MODIFIED_SERVICE"),
    (re.compile(r"enkelspår|ett av|färre tåg|glesare", re.I), "REDUCED_SERVICE"),
]


def _first(table: list[tuple[re.Pattern[str], str]], text: str, default: str) -> str:
    return next((value for pattern, value in table if pattern.search(text)), default)


def train_message(msg: dict[str, Any], ctx: ParseContext, notes: list[str]) -> tuple[Disruption | None, str]:
    """One TrainMessage -> (item or None when Deleted, upstream id)."""
    ident = tv.text(msg, "EventId") or tv.text(msg, "Id") or tv.content_id(msg)
    upstream = f"train-message/{ident}"
    if tv.flag(msg, "Deleted"):
        return None, upstream
    description = clean_text(tv.text(msg, "ExternalDescription"))
    reasons = [r for r in tv.as_list(msg.get("ReasonCode")) if isinstance(r, dict)]
    reason_texts = [tv.text(r, "Description") for r in reasons if tv.text(r, "Description")]
    legacy = tv.text(msg, "ReasonCodeText")  # schema 1.3-1.5
    if legacy:
        reason_texts.append(legacy)
    header = tv.text(msg, "Header") or (title_of(description) if description else None)
    header = header or (reason_texts[0] if reason_texts else upstream)
    cats = ["trafikverket:objecttype=TrainMessage"]
    cats += [f"trafikverket:ReasonCode={tv.text(r, 'Code')}" for r in reasons if tv.text(r, "Code")]
    cats += [f"trafikverket:ReasonCodeText={t}" for t in reason_texts]
    affected: dict[str, Affected] = {}
    for impact in tv.as_list(msg.get("TrafficImpact")):
        if not isinstance(impact, dict):
            continue
        for part in ("AffectedLocation", "FromLocation", "ToLocation"):
            for loc in tv.as_list(impact.get(part)):
                sig = tv.text(loc, "LocationSignature") if isinstance(loc, dict) else str(loc).strip()
                if sig:
                    # Trafikverket station signatures are no GTFS stop ids: areas.
                    affected.setdefault(sig, Affected("area", f"station:{sig}", None))
    for county in tv.as_list(msg.get("CountyNo")):
        if str(county).strip():
            affected.setdefault(f"county:{county}", Affected("area", f"county:{county}", None))
    start = tv.time_of(tv.text(msg, "StartDateTime"))
    end = tv.time_of(tv.text(msg, "EndDateTime")) or tv.time_of(
        tv.text(msg, "PrognosticatedEndDateTimeTrafficImpact")
    )
    start = start or ctx.fetched_at
    why = " ".join([*reason_texts, description])
    updated = tv.time_of(tv.text(msg, "LastUpdateDateTime")) or tv.time_of(tv.text(msg, "ModifiedTime"))
    item = ctx.disruption(
        "trafikverket",
        upstream,
        version=tv.text(msg, "LastUpdateDateTime") or tv.text(msg, "ModifiedTime") or None,
        updated_at=updated,
        periods=[Period(start, end if end is not None and end > start else None)],
        modes=("rail",),
        cause=_first(_CAUSES, why, "OTHER_CAUSE"),
        effect=_first(_EFFECTS, why, "OTHER_EFFECT"),
        severity="WARNING",
        categories=tuple(dict.fromkeys(cats)),
        header={"sv": header},
        description={"sv": description} if description else {},
        geometry=tv.geometry_of([msg], upstream, notes),
        affected=tuple(affected.values()),
    )
    return item, upstream
