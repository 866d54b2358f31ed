"""One event semantics for every push channel (SSE, WebSocket, webhooks, the bot).

For one subscriber (a filter and the ids it holds): `created` when an item first matches,
`updated` when a matching item changes, `ended` when it ends or stops matching - only if it
matched before for that subscriber - and the embedded disruption always says the status the
event says. The channels only differ in where they keep the held ids.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSet
from dataclasses import dataclass

from travelinfo.model import Disruption

CREATED, UPDATED, ENDED = "created", "updated", "ended"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one subscriber gets for one change: the event type and the disruption to embed."""

    type: str
    disruption: Disruption


def classify(change_type: str, d: Disruption, matches: bool, held: bool) -> str | None:
    """The event type for a subscriber that `held` the item, given whether it `matches` now."""
    if change_type == ENDED or d.status == "ended":
        return ENDED if held else None
    if matches:
        return UPDATED if held else CREATED
    return ENDED if held else None


def as_ended(d: Disruption) -> Disruption:
    """`d` as an `ended` event embeds it: status `ended` (it may still be active upstream)."""
    return d if d.status == "ended" else d.replace(status="ended")


def track(
    change_type: str, d: Disruption, matches: Callable[[Disruption], bool], held: MutableSet[str]
) -> Outcome | None:
    """Classify one change for one subscriber and update the ids it holds."""
    kind = classify(change_type, d, d.status != "ended" and matches(d), d.id in held)
    if kind is None:
        return None
    if kind == ENDED:
        held.discard(d.id)
        return Outcome(ENDED, as_ended(d))
    held.add(d.id)
    return Outcome(kind, d)
