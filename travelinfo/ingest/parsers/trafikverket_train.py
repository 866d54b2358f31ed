"""Trafikverket `TrainMessage` objects (rail disruptions, pendeltåg included) -> disruptions."""

from __future__ import annotations

from typing import Any

from travelinfo.ingest.parsers import trafikverket_tree as tv
from travelinfo.ingest.parsers.base import ParseContext, first_match, keywords
from travelinfo.model import Affected, Disruption, Period
from travelinfo.plaintext import clean_text, title_of

_CAUSES = keywords(
    {
        "ACCIDENT": r"olycka|påkörning|accident|urspårning",
        "MAINTENANCE": r"banarbete|spårarbete|underhåll|maintenance",
        "TECHNICAL_PROBLEM": r"spårfel|växelfel|signalfel|kontaktledning|tekn|fordonsfel|elfel|fel på",
        "WEATHER": r"snö|storm|oväder|halka|blixt|väder|weather|solkurvor|värme",
        "POLICE_ACTIVITY": r"polis|obehöriga|police",
        "MEDICAL_EMERGENCY": r"sjukdom|sjukdomsfall|ambulans",
        "STRIKE": r"strejk",
    }
)
_EFFECTS = keywords(
    {
        "NO_SERVICE": r"inställ|ingen tågtrafik|stopp i tågtrafiken|avstängd",
        "SIGNIFICANT_DELAYS": r"försen|delay",
        "MODIFIED_SERVICE": r"ersättningsbuss|buss ersätter",
        "REDUCED_SERVICE": r"enkelspår|ett av|färre tåg|glesare",
    }
)


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
        cause=first_match(_CAUSES, why, "OTHER_CAUSE"),
        effect=first_match(_EFFECTS, why, "OTHER_EFFECT"),
        severity="WARNING",
        categories=tuple(dict.fromkeys(cats)),
        header={"sv": header},
        description={"sv": description} if description else {},
        geometry=tv.geometry_of([msg], upstream, notes),
        affected=tuple(affected.values()),
    )
    return item, upstream
