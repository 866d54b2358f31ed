"""Wording of the bot's posts (pure): sentence case, places instead of coordinates, all-clears."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from travelinfo.model import Disruption, bbox_of

# Words kept in capitals when an all-caps text is put in sentence case.
ACRONYMS = frozenset(
    {
        "VHF",
        "VTS",
        "UTC",
        "NAVTEX",
        "SL",
        "VMA",
        "AIS",
        "GPS",
        "GNSS",
        "DGPS",
        "MRCC",
        "JRCC",
        "NM",
        "SMHI",
        "UHF",
    }
)
# Places (and their adjectives) NAVTEX writes in capitals: capitalised in sentence case.
PLACES = frozenset(
    {
        "baltic",
        "bothnia",
        "finland",
        "finnish",
        "riga",
        "åland",
        "aaland",
        "stockholm",
        "sandhamn",
        "sandhamnsleden",
        "furusund",
        "vaxholm",
        "kanholmsfjarden",
        "kanholmsfjärden",
        "sweden",
        "swedish",
        "estonia",
        "estonian",
        "german",
        "germany",
        "gotland",
        "öland",
        "landsort",
        "norrtälje",
        "nynäshamn",
        "södertälje",
        "tallinn",
        "helsinki",
        "mariehamn",
        "kapellskär",
        "marhallan",
        "fehmarnbelt",
    }
)
# NAVTEX positions (`59-17.4N 018-53.0E`, `5924.3N 01820.9E`) and decimal pairs, in runs.
_POS = (
    r"(?:\d{1,2}[-°]\d{1,2}(?:[.,]\d+)?\s?'?\s?[NS]\s*,?\s*\d{1,3}[-°]\d{1,2}(?:[.,]\d+)?\s?'?\s?[EW]"
    r"|\b\d{4}(?:[.,]\d+)?\s?[NS]\s*,?\s*\d{5}(?:[.,]\d+)?\s?[EW]\b)"
)
COORDS_RE = re.compile(rf"(?:{_POS})(?:[\s,]*(?:AND\s+|and\s+|och\s+)?(?:{_POS}))*\.?")


def mostly_caps(text: str) -> bool:
    """Whether `text` is written in capitals (NAVTEX, some road messages)."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 6 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def sentence_case(text: str) -> str:
    """An all-caps text in sentence case (acronyms, codes with digits kept); others as they are."""
    if not mostly_caps(text):
        return text

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        if w in ACRONYMS or any(c.isdigit() for c in w):
            return w
        low = w.lower()
        return low.capitalize() if low in PLACES else low

    # Names and marks in quotes (`CS 'SIRIUS'`, `LIGHTBUOY 'FB 2'`) are kept as written.
    parts = re.split(r"((?<!\w)'[^'\n]{1,40}'(?!\w))", text)
    low = "".join(
        p if i % 2 else re.sub(r"[^\W\d_]+(?:\d+\w*)?|\w*\d\w*", word, p) for i, p in enumerate(parts)
    )
    return re.sub(r"(^|[.!?]\s+)([^\W\d_])", lambda m: m.group(1) + m.group(2).upper(), low)


def map_link(geometry: Mapping[str, Any] | None) -> str | None:
    """An OpenStreetMap link to the middle of the geometry (None without one)."""
    box = bbox_of(geometry)
    if box is None:
        return None
    lon, lat = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return f"https://www.openstreetmap.org/?mlat={lat:.4f}&mlon={lon:.4f}#map=12/{lat:.4f}/{lon:.4f}"


def without_coordinates(text: str, lang: str) -> tuple[str, bool]:
    """`text` with runs of raw coordinates replaced by a pointer to the map; (text, replaced?)."""
    found = False

    def repl(m: re.Match[str]) -> str:
        nonlocal found
        found = True
        return "(se kartan)." if lang == "sv" else "(see the map)."

    out = COORDS_RE.sub(repl, text)
    if found:
        # `IN AREA BOUNDED BY (see the map)` reads better as `in the area on the map`.
        out = re.sub(
            r"\b(?:IN\s+)?(?:AREA|POSITIONS?|POS)\s+(?:BOUNDED\s+BY|IN|AT)?\s*"
            r"\((?:see the map|se kartan)\)\.",
            "in the area shown on the map." if lang != "sv" else "i området på kartan.",
            out,
            flags=re.I,
        )
    out = " ".join(out.split())
    # A replacement that now starts a sentence starts with a capital.
    out = re.sub(r"(^|[.!?] )(in the area|i området)", lambda m: m.group(1) + m.group(2).capitalize(), out)
    return out, found


# -- all-clear --------------------------------------------------------------------------------

# What the disruption was, as a definite noun: "Klart: signalfelet på ... är åtgärdat".
CAUSE_NOUN = {
    "sv": {
        "TECHNICAL_PROBLEM": "det tekniska felet",
        "ACCIDENT": "olyckan",
        "CONSTRUCTION": "arbetet",
        "MAINTENANCE": "arbetet",
        "WEATHER": "vädret",
        "STRIKE": "strejken",
        "DEMONSTRATION": "demonstrationen",
        "MEDICAL_EMERGENCY": "sjukdomsfallet",
        "POLICE_ACTIVITY": "polisinsatsen",
        "HOLIDAY": "helgtrafiken",
    },
    "en": {
        "TECHNICAL_PROBLEM": "the technical fault",
        "ACCIDENT": "the accident",
        "CONSTRUCTION": "the works",
        "MAINTENANCE": "the works",
        "WEATHER": "the weather disruption",
        "STRIKE": "the strike",
        "DEMONSTRATION": "the demonstration",
        "MEDICAL_EMERGENCY": "the medical emergency",
        "POLICE_ACTIVITY": "the police operation",
        "HOLIDAY": "the holiday timetable",
    },
}
RESUMED = {
    "sv": {
        "metro": "tågen går igen",
        "rail": "tågen går igen",
        "tram": "spårvagnarna går igen",
        "bus": "bussarna går igen",
        "ferry": "båtarna går igen",
        "road": "trafiken flyter igen",
        "": "trafiken går som vanligt igen",
    },
    "en": {
        "metro": "trains are running again",
        "rail": "trains are running again",
        "tram": "trams are running again",
        "bus": "buses are running again",
        "ferry": "boats are running again",
        "road": "traffic is flowing again",
        "": "services are running as usual again",
    },
}
CLEAR = {
    "sv": {
        "lead": "Klart: ",
        "fixed": "{what}{where} är över, {resumed}.",
        "generic": "störningen",
        "warning": "varningen{where} är upphävd.",
        "was": "Gällde: {header}",
        "on": " på ",
    },
    "en": {
        "lead": "Cleared: ",
        "fixed": "{what}{where} is over, {resumed}.",
        "generic": "the disruption",
        "warning": "the warning{where} has been lifted.",
        "was": "It was: {header}",
        "on": " on ",
    },
}


def _where(d: Disruption, lang: str) -> str:
    """`röda linjen 14` / `E4`: the line or road the disruption was on ('' when unknown)."""
    names = [a.id if a.type == "road" else a.name or a.id for a in d.affected if a.type in ("route", "road")]
    if not names:
        loc = d.location_text.get(lang) or next(iter(d.location_text.values()), "")
        return sentence_case(loc.strip(" .")) if loc and len(loc) <= 60 else ""
    text = ", ".join(dict.fromkeys(n.strip() for n in names[:2] if n.strip()))
    return text[:1].lower() + text[1:] if lang == "sv" and text[:1].isupper() and " " in text else text


def all_clear(d: Disruption, lang: str, warning: bool, header: str) -> tuple[str, str]:
    """(sentence, the `Gällde:` line): the all-clear in the past tense, from `d`'s own texts."""
    labels = CLEAR.get(lang, CLEAR["en"])
    where = _where(d, lang)
    on = f"{labels['on']}{where}" if where else ""
    if warning:
        body = labels["warning"].format(where=f" ({where})" if where else "")
    else:
        what = CAUSE_NOUN.get(lang, CAUSE_NOUN["en"]).get(d.cause, labels["generic"])
        mode = next((m for m in d.modes if m in RESUMED["en"]), "")
        resumed = RESUMED.get(lang, RESUMED["en"])[mode]
        body = labels["fixed"].format(what=what, where=on, resumed=resumed)
    return labels["lead"] + body, labels["was"].format(header=header)
