"""Inferred impacts as separate GTFS-RT alerts (only with `impacts.gtfsrt_inferred`).

The feed otherwise carries operator-given informed entities only. Each road, shipping or
warning item with inferred impacts becomes one extra alert `inferred:<item id>`, worded as
inferred ("May affect: bus 515 northbound (inferred from the accident on E4)"), naming the
inferred routes; the item and its own alert (if any) are untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

from travelinfo.impacts import view, wording
from travelinfo.model import Affected, Disruption
from travelinfo.vocab import PT_MODES

PREFIX = "inferred:"


def alert_of(d: Disruption) -> Disruption | None:
    """The inferred alert for `d` (None when nothing is inferred or `d` is itself transit)."""
    impacts = view.ANNOTATOR.impacts(d)
    if not impacts or d.status == "ended" or PT_MODES.intersection(d.modes):
        return None
    header = {lang: text for lang in ("sv", "en") if (text := wording.may_affect(impacts, d, lang))}
    routes = tuple(dict.fromkeys(Affected("route", i.route_id, i.name) for i in impacts))
    modes = tuple(dict.fromkeys(i.mode for i in impacts if i.mode)) or ("unknown",)
    return d.replace(
        id=PREFIX + d.id, modes=modes, header=header, description=dict(d.header), affected=routes,
        related=(d.id,), categories=(),
    )  # fmt: skip


def alerts(items: Iterable[Disruption]) -> list[Disruption]:
    """The inferred alerts of `items`."""
    return [a for d in items if (a := alert_of(d)) is not None]
