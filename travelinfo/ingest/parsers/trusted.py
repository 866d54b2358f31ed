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

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType
from typing import Any

from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.vet import is_clean
from travelinfo.model import Disruption, ModelError, Period, Provenance, make_id
from travelinfo.vocab import freeze, frozen_texts, utc

_SET = ("id", "source", "source_type", "upstream_id", "updated_at", "first_seen", "last_seen", "status")
_SET += ("periods", "provenance")  # what `disruption` fills in itself, like ctx.disruption
# (name, default, factory) of every other field, in field order (`_text` and `_vetted` too).
_REST = tuple(
    (f.name, f.default, f.default_factory) for f in dataclasses.fields(Disruption) if f.name not in _SET
)
_MISSING = dataclasses.MISSING
_INIT = frozenset(f.name for f in dataclasses.fields(Disruption) if f.init)
_TUPLES = ("modes", "categories", "affected", "related", "schedules")
_TEXTS = ("header", "description", "location_text")


def _frozen_point(g: Any) -> Any:
    """`freeze(g)` for a plain Point of two floats (most DATEX places), else None."""
    if type(g) is not dict or len(g) != 2 or g.get("type") != "Point":
        return None
    c = g.get("coordinates")
    if type(c) is not list or len(c) != 2 or type(c[0]) is not float or type(c[1]) is not float:
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
    **fields: Any,
) -> Disruption:
    """What `ctx.disruption(source_type, upstream_id, periods=..., status=..., updated_at=..., **fields)`
    returns, then `vet_batch` keeps; built without the second pass when the vet has nothing to do."""
    periods = tuple(periods)
    if not fields.keys() <= _INIT or "modes" not in fields or "header" not in fields:
        # not a field, or a required one missing: the constructor's own TypeError
        return ctx.disruption(
            source_type, upstream_id, periods=periods, status=status, updated_at=updated_at, **fields
        )
    d = object.__new__(Disruption)
    set_ = object.__setattr__
    fetched = utc(ctx.fetched_at)
    set_(d, "id", make_id(ctx.source, upstream_id))
    set_(d, "source", ctx.source)
    set_(d, "source_type", source_type)
    set_(d, "upstream_id", upstream_id)
    set_(d, "updated_at", utc(updated_at or ctx.fetched_at))
    set_(d, "first_seen", fetched)
    set_(d, "last_seen", fetched)
    set_(d, "status", status)
    set_(d, "periods", periods)
    set_(d, "provenance", prov)
    get = fields.get
    for name, default, factory in _REST:
        value = get(name, _MISSING)
        if value is _MISSING:
            value = default if factory is _MISSING else factory()
        set_(d, name, value)
    # What __post_init__ does to the values it is given, in the same order.
    for name in _TUPLES:
        set_(d, name, tuple(getattr(d, name)))
    for name in _TEXTS:
        set_(d, name, frozen_texts(getattr(d, name)))
    if d.geometry is not None:
        set_(d, "geometry", _frozen_point(d.geometry) or freeze(d.geometry))
    set_(d, "restrictions", tuple(freeze(r) for r in d.restrictions))
    try:
        d._validate()
    except ModelError:
        d = None  # type: ignore[assignment]
    if d is None or not is_clean(d):
        kwargs = dict(fields, periods=periods, status=status, updated_at=updated_at)
        return ctx.disruption(source_type, upstream_id, **kwargs)
    set_(d, "_vetted", True)
    return d
