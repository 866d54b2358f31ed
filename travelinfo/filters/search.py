"""The search box: what a person types, matched as a line, road, stop, place or mode name.

One word list and the same line/road/stop meanings as the `route`, `road` and `stop` filters
(travelinfo.filters.lines), so "14" finds metro line 14 whether an item names it or carries only
its GTFS route id, "E 4" finds E4 inside "E4/E20", "tram 7" is line 7 among trams only, and
"sjöfart" is every shipping item.
"""

from __future__ import annotations

from collections.abc import Iterable

from travelinfo.filters.lines import affects_road, affects_route, norm
from travelinfo.model import Disruption

# Words that name a mode, in Swedish and English (singular, plural, definite forms).
MODE_WORDS: dict[str, str] = {
    norm(word): mode
    for mode, words in (
        ("road", ("väg", "vägar", "vägen", "road", "roads", "vägtrafik", "trafik")),
        ("metro", ("tunnelbana", "tunnelbanan", "t-bana", "tbana", "metro", "subway", "underground")),
        ("tram", ("spårvagn", "spårvagnar", "spårväg", "tvärbana", "tram", "trams", "light rail")),
        ("bus", ("buss", "bussar", "bussen", "bus", "buses")),
        ("rail", ("tåg", "tågen", "pendeltåg", "pendeltågen", "rail", "train", "trains", "commuter rail")),
        ("ferry", ("båt", "båtar", "färja", "färjor", "pendelbåt", "ferry", "ferries", "boat", "boats")),
        ("shipping", ("sjöfart", "sjöfarten", "sjötrafik", "shipping", "navtex", "navigational warning")),
    )
    for word in words
}
MIN_PLACE = 3  # shorter free text is no place name ("7" is a line, never "every text with a 7")


def split(text: str) -> tuple[frozenset[str], str]:
    """(modes named, the rest): `tram 7` -> ({tram}, "7"); `Gröna linjen 17` -> ((), itself)."""
    whole = MODE_WORDS.get(norm(text))
    if whole:
        return frozenset({whole}), ""
    words = text.split()
    modes = frozenset(MODE_WORDS[norm(w)] for w in words if norm(w) in MODE_WORDS)
    rest = " ".join(w for w in words if norm(w) not in MODE_WORDS) if len(words) > 1 else text
    return (modes, rest.strip()) if rest.strip() else (modes, "")


def _texts(d: Disruption) -> Iterable[str]:
    yield from d.header.values()
    yield from d.location_text.values()
    for a in d.affected:
        if a.type in ("stop", "area", "road", "route") and a.name:
            yield a.name
        if a.type in ("area", "stop"):
            yield a.id


def names_place(d: Disruption, wanted: str) -> bool:
    """Whether a stop, area or place named `wanted` (case-, space- and dash-blind) is in `d`."""
    want = norm(wanted)
    return len(want) >= MIN_PLACE and any(want in norm(t) for t in _texts(d))


def matches(d: Disruption, text: str) -> bool:
    """Whether `d` answers the search `text`: a line, road, stop or place name, and/or a mode."""
    modes, rest = split(text.strip())
    if modes and not modes & set(d.modes):
        return False
    if not rest:
        return bool(modes)
    if affects_route(d, rest) or affects_road(d, rest):
        return True
    return not rest.isdigit() and names_place(d, rest)
