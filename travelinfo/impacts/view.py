"""What outputs read: each item's inferred impacts and incident, computed from the stored items.

The store keeps what the sources said; this view derives, per process, the impacts (memoised
per item version and reference build) and the incidents (once per change of the stored set).
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from travelinfo.filters import lines
from travelinfo.impacts import index as index_mod
from travelinfo.impacts.fusion import Incident, fuse
from travelinfo.impacts.index import Projection, ReferenceIndex
from travelinfo.impacts.infer import Impact, infer
from travelinfo.model import STATUSES, Affected, Disruption
from travelinfo.settings import ImpactSettings

log = logging.getLogger("travelinfo.impacts")
MEMO_LIMIT = 50_000  # items whose impacts are remembered (cleared whole past it)
STOCKHOLM = Projection(18.07, 59.33)


class Reader(Protocol):
    """The part of the Store this view reads."""

    async def query(self, q: Any) -> tuple[list[Disruption], str | None]: ...


@dataclass
class Annotator:
    """Per-process memo of inferred impacts and the last fusion."""

    settings: ImpactSettings = field(default_factory=ImpactSettings)
    _memo: dict[str, tuple[tuple[str, int], tuple[Impact, ...]]] = field(default_factory=dict)
    _fusion: tuple[str, dict[str, Incident]] = ("", {})

    def impacts(self, d: Disruption) -> tuple[Impact, ...]:
        """The lines `d` may affect, per the installed reference geometry."""
        idx = index_mod.current()
        if idx is None or not self.settings.enabled:
            return ()
        key = (d.content_checksum(), idx.generation)
        hit = self._memo.get(d.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        found = infer(d, idx, self.settings)
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[d.id] = (key, found)
        return found

    def incidents(self, items: Iterable[Disruption]) -> dict[str, Incident]:
        """Each fused item's incident, by item id (recomputed only when the set changed)."""
        items = sorted(items, key=lambda d: d.id)
        idx = index_mod.current()
        digest = hashlib.blake2b(digest_size=16)
        digest.update(str(idx.generation if idx else 0).encode())
        for d in items:
            digest.update(f"{d.id}\0{d.status}\0{d.content_checksum()}\n".encode())
        key = digest.hexdigest()
        if self._fusion[0] != key:
            projection = idx.projection if idx else STOCKHOLM
            routes = lambda d: (i.route_id for i in self.impacts(d))  # noqa: E731
            self._fusion = (key, fuse(items, self.settings, projection, routes))
        return self._fusion[1]


ANNOTATOR = Annotator()


def configure(settings: ImpactSettings) -> None:
    """Use these settings in this process (the app factory calls it)."""
    ANNOTATOR.settings = settings
    ANNOTATOR._memo.clear()
    ANNOTATOR._fusion = ("", {})


def _inferred_routes(d: Disruption) -> Iterable[tuple[Affected, str | None]]:
    return ((Affected("route", i.route_id, i.name), i.mode) for i in ANNOTATOR.impacts(d))


_LISTENERS: list[weakref.WeakMethod[Callable[[], None]]] = []


def on_install(callback: Callable[[], None]) -> None:
    """Call `callback` (a bound method, held weakly) when new reference geometry is installed:
    renderings cached before it lack the impacts it infers (the app invalidates its cache)."""
    _LISTENERS.append(weakref.WeakMethod(callback))


def install(idx: ReferenceIndex | None) -> None:
    """Install the reference geometry and the `inferred` route filter that reads it."""
    index_mod.install(idx)
    lines.install_inferred(_inferred_routes if idx is not None else None)
    for ref in list(_LISTENERS):
        callback = ref()
        if callback is None:
            _LISTENERS.remove(ref)
        else:
            callback()
    if idx is not None:
        log.info("impact reference geometry: %d patterns", len(idx))


# Per reader (an app's change hub, held weakly): the last fusion and the log position it covers.
_SEEN: weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, Incident]]] = weakref.WeakKeyDictionary()


async def incidents(store: Reader, owner: Any = None, stamp: Any = None) -> dict[str, Incident]:
    """The incidents of every stored item (ended ones too: a member's end ends only itself).

    With `owner` (the caller's change hub) and `stamp` (its change-log position), the store is
    read again only when the position moved: every filter variant of one change shares a read.
    """
    from travelinfo.store.query import Query

    idx = index_mod.current()
    key = (stamp, idx.generation if idx else 0)
    seen = _SEEN.get(owner) if owner is not None else None
    if seen is not None and seen[0] == key:
        return seen[1]
    items, _ = await store.query(Query(status=STATUSES, region=None))
    found = ANNOTATOR.incidents(items)
    if owner is not None:
        _SEEN[owner] = (key, found)
    return found


def impacts_json(d: Disruption) -> list[dict[str, Any]]:
    """The `impacts` field of one item (what push events and webhooks add to the item)."""
    return [i.to_json() for i in ANNOTATOR.impacts(d)]


def with_impacts(data: dict[str, Any], d: Disruption) -> dict[str, Any]:
    """An item's JSON with its inferred `impacts` (push streams and webhooks)."""
    data["impacts"] = impacts_json(d)
    return data


def extra(d: Disruption, fused: Mapping[str, Incident]) -> dict[str, Any]:
    """The derived fields of one item's JSON: `impacts` (inferred) and `incident`."""
    incident = fused.get(d.id)
    return {
        "impacts": impacts_json(d),
        "incident": incident.to_json(d.id) if incident else None,
    }


def decorate(data: dict[str, Any], d: Disruption, fused: Mapping[str, Incident]) -> dict[str, Any]:
    """`data` (the item's JSON) with its derived fields added (its own fields untouched)."""
    data.update(extra(d, fused))
    return data


def incident_json(incident: Incident, members: Iterable[Disruption]) -> dict[str, Any]:
    """GET /api/v1/incidents/{id}: the incident and its members as each source gave them."""
    data = incident.to_json()
    data["items"] = [decorate(m.to_json(), m, {m.id: incident}) for m in members]
    return data
