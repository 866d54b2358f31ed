"""A parser's Disruption built in one step, checked once (issue 22: DATEX II at 1.5x bare lxml).

`ParseContext.disruption` runs the generic constructor (`Disruption.__init__` and
`__post_init__`), then `vet_batch` walks every item again. For a parser that builds tens of
thousands of items, `disruption` here fills the same fields directly with the same
normalisation `__post_init__` applies, runs the model's own `_validate`, then `vet.is_clean`:
only an item the vet would leave exactly as it is gets marked vetted (the vet then passes it
through). Anything else (a ModelError, a text to clean or cut, a bad link or geometry, an
unclean id) goes the generic way, so its errors, repairs and notes are the generic path's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.vet import float_point, is_clean
from travelinfo.model import Affected, Disruption, ModelError, Period, Provenance, Schedule, Texts, make_id
from travelinfo.vocab import freeze, frozen_texts, utc

_EMPTY: Texts = MappingProxyType({})


class _Open:
    """Disruption's slot layout without its frozen `__setattr__`: filled here, then retyped."""

    __slots__ = Disruption.__slots__


def _frozen_point(g: Any) -> Any:
    """`freeze(g)` for a plain Point of two floats (most DATEX places), else None."""
    c = float_point(g, dict, list)
    if c is None:
        return None
    return MappingProxyType({k: tuple(v) if k == "coordinates" else v for k, v in g.items()})


def provenance(ctx: ParseContext) -> Provenance:
    """The one Provenance every item of this fetch shares (it is immutable)."""
    return Provenance(ctx.fetched_at, ctx.url)


def disruption(
    ctx: ParseContext,
    prov: Provenance,
    source_type: str,
    upstream_id: str,
    *,
    periods: Iterable[Period],
    status: str,
    updated_at: datetime | None,
    modes: Iterable[str],
    header: Mapping[str, str],
    version: str | None = None,
    cause: str = "UNKNOWN_CAUSE",
    effect: str = "UNKNOWN_EFFECT",
    severity: str = "UNKNOWN_SEVERITY",
    categories: Iterable[str] = (),
    description: Mapping[str, str] = _EMPTY,
    location_text: Mapping[str, str] = _EMPTY,
    url: str | None = None,
    geometry: Mapping[str, Any] | None = None,
    affected: Iterable[Affected] = (),
    related: Iterable[str] = (),
    schedules: Iterable[Schedule] = (),
    certainty: str = "unknown",
    restrictions: Iterable[Mapping[str, Any]] = (),
    delay_minutes: int | None = None,
) -> Disruption:
    """What `ctx.disruption(source_type, upstream_id, ...)` returns and `vet_batch` then keeps,
    built without the second pass when the vet has nothing to do (the defaults are the model's:
    tests/test_trusted.py checks that)."""
    periods = tuple(periods)
    fields: dict[str, Any] = {
        "modes": tuple(modes),
        "header": header,
        "version": version,
        "cause": cause,
        "effect": effect,
        "severity": severity,
        "categories": tuple(categories),
        "description": description,
        "location_text": location_text,
        "url": url,
        "geometry": geometry,
        "affected": tuple(affected),
        "related": tuple(related),
        "schedules": tuple(schedules),
        "certainty": certainty,
        "restrictions": tuple(restrictions),
        "delay_minutes": delay_minutes,
    }
    # Filled as an _Open (plain slot stores: a frozen dataclass's object.__setattr__ costs about
    # ten times more), then retyped; every field normalised as __post_init__ would.
    d: Any = object.__new__(_Open)
    fetched = utc(ctx.fetched_at)
    d.id = make_id(ctx.source, upstream_id)
    d.source = ctx.source
    d.source_type = source_type
    d.upstream_id = upstream_id
    d.updated_at = utc(updated_at or ctx.fetched_at)
    d.first_seen = fetched
    d.last_seen = fetched
    d.status = status
    d.modes = fields["modes"]
    d.header = frozen_texts(header)
    d.version = version
    d.cause = cause
    d.effect = effect
    d.severity = severity
    d.categories = fields["categories"]
    d.periods = periods
    d.description = frozen_texts(description)
    d.location_text = frozen_texts(location_text)
    d.url = url
    d.geometry = None if geometry is None else _frozen_point(geometry) or freeze(geometry)
    d.affected = fields["affected"]
    d.related = fields["related"]
    d.provenance = prov
    d.schedules = fields["schedules"]
    d.certainty = certainty
    d.restrictions = tuple(freeze(r) for r in fields["restrictions"])
    d.delay_minutes = delay_minutes
    d._text = None
    d._vetted = False
    d.__class__ = Disruption
    item: Disruption = d
    try:
        item._validate()
        clean = is_clean(item)
    except ModelError:
        clean = False
    if not clean:
        return ctx.disruption(
            source_type, upstream_id, periods=periods, status=status, updated_at=updated_at, **fields
        )
    object.__setattr__(item, "_vetted", True)
    return item
