"""Readable texts for readers: headers not repeated, names deduplicated, no internal ids or paths."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from babel.core import Locale

from travelinfo.model import Affected, Disruption
from travelinfo.web import i18n, propercase

# What readers call each source; slugs like "sjofartsverket" are configuration, not names.
SOURCE_TITLES: dict[str, tuple[str, str]] = {
    "trafikverket": ("Trafikverket", "Swedish Transport Administration"),
    "trafikverket-api": ("Trafikverket", "Swedish Transport Administration"),
    "sl": ("SL", "SL"),
    "sl-siri": ("SL", "SL"),
    "sl-deviations": ("SL", "SL"),
    "sjofartsverket": ("Sjöfartsverket", "Swedish Maritime Administration"),
    "krisinformation": ("Krisinformation.se", "Krisinformation.se"),
    "vma": ("Viktigt meddelande till allmänheten (VMA)", "Important public announcement (VMA)"),
}
TYPE_TITLES: dict[str, tuple[str, str]] = {
    "datex2": ("Trafikverket", "Swedish Transport Administration"),
    "trafikverket": ("Trafikverket", "Swedish Transport Administration"),
    "gtfsrt": ("SL", "SL"),
    "siri-sx": ("SL", "SL"),
    "sl-deviations": ("SL", "SL"),
    "navtex": ("Sjöfartsverket", "Swedish Maritime Administration"),
    "cap": ("Krisinformation.se", "Krisinformation.se"),
    "manual": ("Operatörens meddelande", "Operator notice"),
}
# A GTFS/NeTEx style id: long digit runs, or "SE:..." style references; never shown to readers.
_RAW_ID = re.compile(r"^(?:\d{6,}|[A-Z]{2,}[:_][\w:.-]+)$")
_PAREN = re.compile(r"^(?P<base>.+?)\s*\((?P<inner>[^()]+)\)$")
_SENTENCE = re.compile(r"(^|[.!?]\s+)([a-zåäöéü])")


def source_title(source: str, source_type: str, lang: str) -> str:
    """The display name of a source in the reader's language (its slug only as a last resort)."""
    sv, en = SOURCE_TITLES.get(source) or TYPE_TITLES.get(source_type) or (source, source)
    return sv if lang == "sv" else en


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def shouting(text: str) -> bool:
    """Whether a text is written in capitals (NAVTEX), so it reads better in sentence case."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def sentence_case(text: str) -> str:
    """CAPITAL TEXT as sentences ("GALE WARNING OFF SANDHAMN. WIND 25 M/S" -> "Gale warning off
    Sandhamn. Wind 25 m/s"): proper nouns, acronyms and positions keep their capitals (propercase)."""
    if not shouting(text):
        return text
    return propercase.restore(_SENTENCE.sub(lambda m: m.group(1) + m.group(2).upper(), text.lower()))


def header(d: Disruption, lang: str) -> tuple[str, str]:
    """(language, header) for display: NAVTEX capitals in sentence case (the API keeps the original)."""
    picked = i18n.pick(d.header, lang) or (lang, d.id)
    return picked[0], sentence_case(picked[1])


def description(d: Disruption, lang: str) -> tuple[str, str] | None:
    """(language, description) without the header repeated as its first sentence."""
    picked = i18n.pick(d.description, lang)
    if picked is None:
        return None
    text = sentence_case(picked[1]).strip()
    for head in {h for h in (*d.header.values(), header(d, lang)[1]) if h.strip()}:
        rest = _strip_lead(text, head)
        if rest is not None:
            text = rest
            break
    return (picked[0], text) if text else None


def _strip_lead(text: str, head: str) -> str | None:
    """`text` minus a leading `head` (compared case- and punctuation-blind), else None."""
    want = _fold(head)
    if not want:
        return None
    # Walk the text until its folded prefix equals the folded header.
    for cut in range(len(head) - 2, min(len(text), len(head) + 12) + 1):
        if cut <= 0:
            continue
        if _fold(text[:cut]) != want or (cut < len(text) and text[cut].isalnum()):
            continue
        rest = text[cut:].lstrip(" \t")
        # Only a repeated sentence or title is dropped: "Vaxholmsleden trafikeras ..." keeps
        # its subject, "Olycka. Trafikolycka ..." loses the "Olycka." echo of its header.
        if not rest or rest[0] in ".:;!?–—-\n":
            return rest.lstrip(" \t.:;!?–—-\n")
    return None


def direction_text(a: Affected, lang: str) -> str:
    """Which way, for readers: "mot Södertälje centrum" / "towards ...", else "norrgående"...;
    '' when the upstream says nothing a reader can use (positive/negative are the road's own)."""
    if a.towards:
        return i18n.t("towards", lang, place=a.towards)
    key = f"dir_{a.direction}"
    return i18n.t(key, lang) if key in i18n.CATALOGUE else ""


def affected_names(d: Disruption, lang: str | None = None) -> list[str]:
    """Names of what is affected: no raw ids, each name once, "X (E4)" + "X (E20)" as "X (E4, E20)";
    with `lang`, each name's direction too ("41 (mot Södertälje centrum)")."""
    merged: dict[str, list[str]] = {}
    order: list[str] = []
    for a in d.affected:
        name = (a.name or "").strip()
        if not name:
            if a.type in ("trip", "route_type") or _RAW_ID.match(a.id):
                continue
            name = a.id
        if _RAW_ID.match(name):
            continue
        found = _PAREN.match(name)
        base, inner = (found.group("base"), found.group("inner")) if found else (name, "")
        key = base.casefold()
        if key not in merged:
            merged[key] = []
            order.append(base)
        way = direction_text(a, lang) if lang else ""
        for part in (inner, way):
            if part and part.casefold() not in (x.casefold() for x in merged[key]):
                merged[key].append(part)
    return [
        f"{base} ({', '.join(merged[base.casefold()])})" if merged[base.casefold()] else base
        for base in order
    ]


def ended_at(d: Disruption) -> datetime:
    """When an ended item ended: its last period's end if that is past, else when it was updated."""
    ends = [p.end for p in d.periods if p.end is not None and p.end <= datetime.now(UTC)]
    return max(ends) if ends else d.updated_at


def plural(n: int, lang: str) -> str:
    """Babel's CLDR plural category of `n` in `lang` ("one", "other", ...)."""
    return str(Locale.parse(i18n.LOCALES[lang]).plural_form(n))


def tn(key: str, n: int, lang: str) -> str:
    """The UI string `key` for the count `n`, in the plural form `lang` needs."""
    form = plural(n, lang)
    name = f"{key}_{form}" if f"{key}_{form}" in i18n.CATALOGUE else f"{key}_other"
    return i18n.t(name, lang, n=n)
