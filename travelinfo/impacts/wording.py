"""The pages' sentence for inferred impacts: "May affect: bus 515, 518 northbound (inferred from...)"."""

from __future__ import annotations

from collections.abc import Iterable

from travelinfo.impacts.infer import Impact, kind_of
from travelinfo.model import Disruption

MODE_WORDS = {
    "sv": {"bus": "buss", "tram": "spårvagn", "ferry": "båt", "metro": "tunnelbana", "rail": "tåg"},
    "en": {"bus": "bus", "tram": "tram", "ferry": "boat", "metro": "metro", "rail": "train"},
}
DIRECTION_WORDS = {
    "sv": {"northbound": "norrgående", "southbound": "södergående", "eastbound": "östgående",
           "westbound": "västgående"},
    "en": {"northbound": "northbound", "southbound": "southbound", "eastbound": "eastbound",
           "westbound": "westbound"},
}  # fmt: skip
LEAD = {"sv": "Kan påverka", "en": "May affect"}
INFERRED = {"sv": "härlett från {what}", "en": "inferred from {what}"}


def _what(d: Disruption, lang: str) -> str:
    sv = lang == "sv"
    kind = kind_of(d)
    if kind == "warning":
        return "varningsområdet" if sv else "the warning area"
    if kind == "shipping":
        return "sjöfartsvarningen" if sv else "the shipping warning"
    if d.cause == "ACCIDENT":
        noun = "olyckan" if sv else "the accident"
    elif d.cause in ("CONSTRUCTION", "MAINTENANCE"):
        noun = "vägarbetet" if sv else "the road works"
    elif d.effect == "NO_SERVICE":
        noun = "avstängningen" if sv else "the closure"
    else:
        noun = "störningen" if sv else "the disruption"
    roads = list(dict.fromkeys(a.id for a in d.affected if a.type == "road"))[:3]
    return f"{noun} {'på' if sv else 'on'} {'/'.join(roads)}" if roads else noun


def may_affect(impacts: Iterable[Impact], d: Disruption, lang: str) -> str | None:
    """One sentence naming the inferred lines by mode and direction; None when there are none."""
    lang = "sv" if lang == "sv" else "en"
    groups: dict[tuple[str, str], list[str]] = {}
    for imp in impacts:
        mode = MODE_WORDS[lang].get(imp.mode or "", imp.mode or "")
        direction = DIRECTION_WORDS[lang].get(imp.direction or "", "")
        names = groups.setdefault((mode, direction), [])
        if imp.name not in names:
            names.append(imp.name)
    if not groups:
        return None
    parts = [
        " ".join(x for x in (mode, ", ".join(names), direction) if x)
        for (mode, direction), names in groups.items()
    ]
    return f"{LEAD[lang]}: {'; '.join(parts)} ({INFERRED[lang].format(what=_what(d, lang))})"
