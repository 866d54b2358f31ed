"""Proper nouns back in lowered capital text (NAVTEX): places, acronyms, months and positions.

Sentence case lowers "SANDHAMN" to "sandhamn"; `restore` gives it back its capital from a
gazetteer: the Baltic and Stockholm-archipelago places of Sjöfartsverket's NAVTEX warnings
(sea areas, coasts, ports, fairways, lights) and the stop names of the reference GTFS
(`install_stops`). Acronyms (UTC, VHF, AIS...) are upper case again, a month after a day or a
time is "Apr", and a position's hemisphere letter is a capital ("59-17.2N 018-55.1E"). Words in
a web or mail address are never touched.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

# Places named in Sjöfartsverket's NAVTEX pages (../shared/corpus/maritime) and the Stockholm
# archipelago's fairways and harbours; spelled as the warnings spell them (ASCII forms too).
PLACES = (
    "Baltic", "Baltic Sea", "Northern Baltic", "Central Baltic", "Southern Baltic", "Western Baltic",
    "Eastern Baltic", "Southeastern Baltic", "South-eastern Baltic", "Southwestern Baltic",
    "Gulf of Finland", "Eastern Gulf of Finland", "Gulf of Riga", "Gulf of Bothnia", "Bothnia",
    "Bay of Bothnia", "Sea of Bothnia", "Bothnian Sea", "Bothnian Bay", "Sea of Åland", "Sea of Aaland",
    "Åland", "Aaland", "Archipelago Sea", "Kattegat", "Skagerrak", "Öresund", "Oresund",
    "Fehmarnbelt", "Fehmarn", "Kiel", "Kiel Bay", "Mecklenburg", "Bight of Mecklenburg", "Mecklenburg Bay",
    "Darsser Ort", "Kadetrenden", "Oderbank", "Wustrow", "Ruegen", "Rügen", "Rostock", "Sassnitz",
    "Flensburger Foerde", "Flensburger Förde", "Kalkgrund", "Liim Fiord", "Limfjord", "Løgstør",
    "Løgstør Rende", "Bornholm", "Gdansk", "Gdynia", "Klaipeda", "Riga", "Ventspils", "Liepaja",
    "Tallinn", "Saaremaa", "Hiiumaa", "Sõrve", "Väinameri", "Helsinki", "Kotka", "Hanko", "Porkkala",
    "Turku", "Mariehamn", "Raahe", "Tornio", "Kemi", "Oulu", "Vaasa", "Gogland", "Moldova",
    "Kaliningrad", "Petersburg", "St. Petersburg", "Saint Petersburg", "Russian Federation",
    "Gotland", "Visby", "Öland", "Oland", "Kalmar", "Karlskrona", "Gävle", "Sundsvall", "Luleå",
    "Stockholm", "Stockholm Archipelago", "Sandhamn", "Sandhamnsleden", "Furusund", "Furusundsleden",
    "Vaxholm", "Vaxholmsleden", "Kanholmsfjärden", "Kanholmsfjarden", "Trälhavet", "Oxdjupet",
    "Saltsjön", "Lilla Värtan", "Stora Värtan", "Värtahamnen", "Landsort", "Landsortsdjupet",
    "Nynäshamn", "Dalarö", "Utö", "Möja", "Ljusterö", "Grinda", "Värmdö", "Lidingö", "Kapellskär",
    "Norrtälje", "Arholma", "Söderarm", "Understen", "Grisslehamn", "Öregrund", "Marhallan",
    "Sweden", "Denmark", "Germany", "Poland", "Lithuania", "Latvia", "Estonia", "Finland", "Russia",
    "Swedish", "Danish", "German", "Polish", "Lithuanian", "Latvian", "Estonian", "Finnish", "Russian",
)  # fmt: skip
ACRONYMS = (
    "UTC", "VHF", "UHF", "AIS", "GNSS", "GPS", "DGPS", "GLONASS", "TSS", "VTS", "IMO", "IHO", "SMHI",
    "ODAS", "MRCC", "JRCC", "NAVTEX", "DSC", "MMSI", "RACON",
)  # fmt: skip
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Words that are stop names somewhere but ordinary words in a warning: never capitalised.
COMMON = frozenset((
    "area", "port", "bay", "light", "north", "south", "east", "west", "island", "channel", "fairway",
    "harbour", "centrum", "city", "station", "strand", "center",
    "skolan", "kyrkan", "torget", "hamnen", "stationen", "bron", "vägen", "gatan", "parken", "byn",
    "skola", "kyrka", "torg", "hamn", "bro", "väg", "gata", "park", "norra", "södra", "östra",
    "västra", "stora", "lilla", "nya", "gamla", "sjukhus", "sjukhuset", "strand", "udde", "ön",
))  # fmt: skip
MAX_WORDS = 4  # the longest name, in words ("Eastern Gulf of Finland")

_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
_MONTH = re.compile(rf"(?<=\d )({'|'.join(MONTHS)})\b|(?<=\butc )({'|'.join(MONTHS)})\b", re.I)
_HEMISPHERE = re.compile(r"(?<=\d)([nsew])\b|\b([nsew])(?=\d{2})")


def _key(words: Iterable[str]) -> str:
    return " ".join(w.casefold() for w in words)


def _table(names: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        words = _WORD.findall(name)
        if words and len(words) <= MAX_WORDS and _key(words) not in COMMON and len("".join(words)) >= 3:
            out.setdefault(_key(words), " ".join(words))
    return out


_BUILTIN = {**_table(PLACES), **{a.casefold(): a for a in ACRONYMS}}
_NAMES = dict(_BUILTIN)


def install_stops(names: Iterable[str]) -> None:
    """Add the reference GTFS's stop names ("Slussen (Södermalmstorg)" gives "Slussen" too)."""
    global _NAMES
    parts = []
    for name in names:
        parts.append(name)
        parts += [p.strip() for p in re.split(r"[()/–,]", name) if p.strip()]
    _NAMES = {**_table(parts), **_BUILTIN}


def _in_address(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else " "
    after = text[end : end + 2]
    return before in "./@:" or (len(after) == 2 and after[0] in "./@" and after[1].isalnum())


def restore(text: str) -> str:
    """`text` (already lowered and sentence-cased) with proper nouns, acronyms and positions restored."""
    tokens = list(_WORD.finditer(text))
    out, last, i = [], 0, 0
    while i < len(tokens):
        for n in range(min(MAX_WORDS, len(tokens) - i), 0, -1):
            span = tokens[i : i + n]
            if any(text[a.end() : b.start()] != " " for a, b in itertools.pairwise(span)):
                continue
            canon = _NAMES.get(_key(t.group() for t in span))
            start, end = span[0].start(), span[-1].end()
            if canon is None or _in_address(text, start, end):
                continue
            # The same words as the canonical form (one space apart): take its capitals, keeping
            # a sentence's first letter up ("The sound" is not "the Sound").
            fixed = canon[:1].upper() + canon[1:] if text[start].isupper() else canon
            out += [text[last:start], fixed]
            last, i = end, i + n
            break
        else:
            i += 1
    out.append(text[last:])
    result = "".join(out)
    result = _MONTH.sub(lambda m: m.group().capitalize(), result)
    return _HEMISPHERE.sub(lambda m: m.group().upper(), result)
