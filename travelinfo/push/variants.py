"""Per-client filter state shared between clients: one filter object and one held-id set per variant.

With 10,000 streams per process, most clients use one of a few filters and, following the
live log, hold the very same ids. Each client keeps references to one interned `Query` and
one interned frozenset of held ids; a change moves every client of a (held set, filter) pair
to the same next set, worked out once (`Variants.step`), not once per client.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from travelinfo.filters import events
from travelinfo.store.base import Change, Query

# Transitions kept: one per (held set, filter) per change still being sent. Each pins its two
# sets (with 200 ids about 8 KB each, mostly shared with the next step), so this stays small;
# a client whose step was evicted works it out again, which is correct, only slower.
STEP_CACHE = 1024
INTERNED = 1000  # filters kept shared; past this the table starts again
HELD_SETS = 256  # held-id sets offered for sharing (they pin memory too); past this: again

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Step:
    """One transition of a live client's held ids; it pins the objects its key names by id."""

    held: frozenset[str]
    change: Change
    query: Query
    after: frozenset[str]
    out: events.Outcome | None


def _interned(table: dict[K, V], key: K, make: Callable[[K], V], limit: int = INTERNED) -> V:
    hit = table.get(key)
    if hit is None:
        if len(table) >= limit:
            table.clear()  # clients keep what they hold; new ones share new instances
        hit = table[key] = make(key)
    return hit


def _loose(query: Query) -> Query:
    return dataclasses.replace(query, status=(), severity=None, text=None, active_at=None)


class Variants:
    """The process's interned filters and held-id sets, and the transitions between them."""

    def __init__(self) -> None:
        self.queries: dict[Query, Query] = {}
        self.loose: dict[Query, Query] = {}
        self.held: dict[frozenset[str], frozenset[str]] = {}
        self.steps: OrderedDict[tuple[int, int, int], Step] = OrderedDict()

    def query(self, query: Query) -> Query:
        """The one instance of this filter every client with it holds."""
        return _interned(self.queries, query, lambda q: q)

    def loose_of(self, query: Query) -> Query:
        """What an item must be to have possibly been held (its mode, region, line...),
        whatever its status or severity then: a replay cannot know what the client held."""
        return _interned(self.loose, query, _loose)

    def share(self, ids: frozenset[str]) -> frozenset[str]:
        """The one instance of this set of held ids (clients that caught up share it again)."""
        return _interned(self.held, ids, lambda x: x, HELD_SETS)

    def step(self, held: frozenset[str], change: Change, query: Query) -> Step:
        """What a live client holding `held` with filter `query` gets for `change`, and what
        it holds after: worked out once per (held set, change, filter), not once per client."""
        key = (id(held), id(change), id(query))
        hit = self.steps.get(key)
        if hit is not None and hit.held is held and hit.change is change and hit.query is query:
            return hit  # identity checked too: an id is unique only while its object lives
        after = set(held)
        if change.type == events.CREATED:
            # New to the store: no client held it, even when the set read at connect time
            # already saw it (a change landing between subscribing and that read).
            after.discard(change.disruption.id)
        out = events.track(change.type, change.disruption, query.matches, after)
        hit = Step(held, change, query, held if after == held else self.share(frozenset(after)), out)
        self.steps[key] = hit
        if len(self.steps) > STEP_CACHE:
            self.steps.popitem(last=False)
        return hit
