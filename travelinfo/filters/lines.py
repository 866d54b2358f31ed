"""Line and road names as people say them: route ids, short and long names, colloquial names.

One process-wide index of the GTFS reference routes (installed by whoever loads the reference
data) lets `route=14` match an item whose affected entry carries only the GTFS route id. Without
the index, names on the entries themselves still match (`14 Fruängen–Mörby centrum` is line 14).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from travelinfo.model import Affected, Disruption

# Names the reference data lacks (SL's GTFS has no "röda linjen"): (mode, short names or route
# ids, names). Keyed by mode so that "röda linjen" is metro 13/14, never a bus 14 elsewhere.
COLLOQUIAL: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("metro", ("13", "14"), ("röda linjen", "röda linje", "tunnelbanans röda linje", "red line")),
    ("metro", ("17", "18", "19"), ("gröna linjen", "gröna linje", "tunnelbanans gröna linje", "green line")),
    ("metro", ("10", "11"), ("blå linjen", "blå linje", "tunnelbanans blå linje", "blue line")),
    ("tram", ("7",), ("spårväg city", "spårvägen city")),
    ("tram", ("30", "31"), ("tvärbanan",)),
    ("tram", ("21",), ("lidingöbanan",)),
    ("tram", ("12",), ("nockebybanan",)),
    ("rail", ("25", "26"), ("saltsjöbanan",)),
    ("rail", ("27", "28", "29"), ("roslagsbanan",)),
    ("rail", ("40", "41", "42", "43", "44", "48"), ("pendeltåg", "pendeltågen", "commuter train")),
    ("ferry", ("80",), ("sjövägen",)),
    ("ferry", ("9011001020100000",), ("vaxholmsbåten", "waxholmsbåten", "vaxholm boat")),
)
_ROAD_PREFIX = re.compile(r"^(väg|vag|road|rv|riksväg|länsväg|lv)(?=\d)")


def norm(text: str) -> str:
    """Case-, space- and dash-insensitive form of a name (`E 4` = `e4`, `Röda Linjen` = `röda linjen`)."""
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(c for c in text if c.isalnum())


def road_key(text: str) -> str:
    """A road number's key: `E 4`, `e4` -> `e4`; `Väg 274` -> `274`."""
    return _ROAD_PREFIX.sub("", norm(text))


class RouteLike(Protocol):
    """What the index reads of a GTFS routes.txt row (travelinfo.ingest.gtfs_static.Route)."""

    @property
    def short_name(self) -> str: ...
    @property
    def long_name(self) -> str: ...
    @property
    def route_type(self) -> int: ...


@dataclass
class LineIndex:
    """Every name of each reference route, by route id (normalised)."""

    names: dict[str, frozenset[str]] = field(default_factory=dict)

    def keys_of(self, a: Affected, modes: Iterable[str]) -> set[str]:
        """Every normalised name an affected route entry answers to."""
        keys = {norm(a.id)}
        keys |= self.names.get(a.id, frozenset())
        if a.name:
            keys |= _name_keys(a.name)
        short = {k for k in keys if k.isdigit() and len(k) <= 4} | {norm(a.id)}
        for mode, shorts, names in COLLOQUIAL:
            if mode in modes and short & set(shorts):
                keys |= {norm(n) for n in names}
        return keys


def _name_keys(name: str) -> set[str]:
    """`14 Fruängen–Mörby centrum` answers to itself, `14` and `Fruängen–Mörby centrum`."""
    keys = {norm(name)}
    head, _, rest = name.strip().partition(" ")
    if head and (head.isdigit() or (len(head) <= 4 and any(c.isdigit() for c in head))):
        keys.add(norm(head))
        if rest:
            keys.add(norm(rest))
    # "Spårväg City: T-Centralen–Waldemarsudde": the part before the colon is a name too.
    for part in re.split(r"[:(]", name):
        if part.strip():
            keys.add(norm(part))
    return keys - {""}


def build_index(routes: Mapping[str, RouteLike], mode_of: Callable[[int], str | None]) -> LineIndex:
    """The index of a GTFS feed's routes (id -> names); `mode_of` maps a GTFS route_type to a mode."""
    out: dict[str, frozenset[str]] = {}
    for route_id, r in routes.items():
        keys = {norm(route_id)}
        if r.short_name:
            keys.add(norm(r.short_name))
        if r.long_name:
            keys |= _name_keys(r.long_name)
        if r.short_name and r.long_name:
            keys.add(norm(f"{r.short_name} {r.long_name}"))
        mode = mode_of(r.route_type)
        for m, shorts, names in COLLOQUIAL:
            if m == mode and (r.short_name in shorts or route_id in shorts):
                keys |= {norm(n) for n in names}
        out[route_id] = frozenset(keys - {""})
    return LineIndex(out)


_INDEX = LineIndex()


def install(routes: Mapping[str, Any], mode_of: Callable[[int], str | None]) -> None:
    """Make `routes` (GTFS reference routes by id) the process's line index."""
    global _INDEX
    _INDEX = build_index(routes, mode_of)


def index() -> LineIndex:
    """The process's line index (empty until reference data is installed)."""
    return _INDEX


# Words that only say what kind of line a number is: `linje 14`, `buss 53`, `Tram 7`.
GENERIC = frozenset(
    norm(w)
    for w in ("linje", "linjen", "line", "buss", "bus", "tåg", "train", "tunnelbana", "metro", "spårvagn",
              "tram", "båt", "boat", "pendeltåg", "nr", "no")
)  # fmt: skip


def _wanted(wanted: str) -> tuple[str, str | None, str]:
    """`wanted` normalised whole, and split into its one number and the rest (`Gröna linjen 17`)."""
    words = wanted.split()
    numbers = [w for w in words if w.isdigit()]
    if len(words) > 1 and len(numbers) == 1:
        rest = norm(" ".join(w for w in words if w != numbers[0]))
        return norm(wanted), numbers[0], rest
    return norm(wanted), None, ""


def affects_route(d: Disruption, wanted: str) -> bool:
    """Whether `d` affects the route a person calls `wanted` (id, number, long or colloquial name)."""
    return _route_matches(d.affected, d.modes, wanted)


def _route_matches(entries: Iterable[Affected], modes: Iterable[str], wanted: str) -> bool:
    want, number, rest = _wanted(wanted)
    if not want:
        return False
    idx = _INDEX
    for a in entries:
        if a.type != "route":
            continue
        keys = idx.keys_of(a, modes)
        if want in keys or (number in keys and (rest in GENERIC or rest in keys)):
            return True
    return False


# The lines an item is inferred to affect (travelinfo.impacts), as (route entry, mode) pairs:
# installed with the reference geometry; never mixed into the item's own `affected`.
InferredRoutes = Callable[[Disruption], Iterable[tuple[Affected, str | None]]]
_INFERRED: list[InferredRoutes] = []


def install_inferred(provider: InferredRoutes | None) -> None:
    """Install (None: remove) the provider of inferred route entries the `inferred` filter reads."""
    _INFERRED[:] = [provider] if provider else []


def affects_route_inferred(d: Disruption, wanted: str) -> bool:
    """Whether a line inferred to be affected by `d` is the route a person calls `wanted`."""
    return any(
        _route_matches((a,), (mode,) if mode else (), wanted)
        for provider in _INFERRED
        for a, mode in provider(d)
    )


def affects_road(d: Disruption, wanted: str) -> bool:
    """Whether `d` affects road `wanted`: `E4` matches `E4`, `E4/E20`, `E 4`; a road's name too."""
    wants = {road_key(p) for p in wanted.split("/")} - {""}
    if not wants:
        return False
    for a in d.affected:
        if a.type != "road":
            continue
        keys = {road_key(p) for p in a.id.split("/")} | {norm(a.id)}
        if a.name:
            keys |= {road_key(p) for p in a.name.split("/")} | {norm(a.name)}
        if wants & keys:
            return True
    return False


def affects_stop(d: Disruption, wanted: str) -> bool:
    """Whether `d` affects the stop with id or name `wanted`."""
    want = norm(wanted)
    return bool(want) and any(
        a.type == "stop" and (norm(a.id) == want or (a.name is not None and norm(a.name) == want))
        for a in d.affected
    )


def affects_any_route(d: Disruption, wanted: Iterable[str], inferred: bool = False) -> bool:
    """Whether `d` affects any of the routes `wanted` (with `inferred`: also as an inferred line)."""
    return any(affects_route(d, w) or (inferred and affects_route_inferred(d, w)) for w in wanted)


def affects_any_road(d: Disruption, wanted: Iterable[str]) -> bool:
    """Whether `d` affects any of the roads `wanted`."""
    return any(affects_road(d, w) for w in wanted)
