"""DATEX II SituationPublication parser (v2.x `d2LogicalModel`, v3.x payloads), streaming.

One disruption per `situation`. Elements are matched by local name, so any namespace prefix,
a SOAP envelope or a v3 `messageContainer` around the payload all work; national extension
elements are simply not looked at.

Choices worth knowing:
- `complete` (full snapshot) unless the producer says otherwise: a v3/v2 `feedType` other than
  full/snapshot, a v2 `updateMethod` other than snapshot, or `ctx.options["complete"]`.
  Payloads without a SituationPublication (measured data, VMS, exchange-only messages such as
  a delivery break) give zero items, a note, and `complete=False`, so they never end anything.
- A record with `validityStatus` suspended is announced but not in force: when every live
  record of a situation is suspended, the situation is `planned`, never `active`.
- A situation is `ended` when all its records carry v2 `management/lifeCycleManagement`
  `cancel`/`end` true or an operatorActionStatus of rejected/terminated; periods whose end has
  passed end it through `compute_status`.
- Texts without a `lang` take `ctx.options["lang"]`, else the publication's `lang`, else "en".
"""

from __future__ import annotations

from typing import Any

from travelinfo.ingest.parsers import datex2_types as types
from travelinfo.ingest.parsers.base import ParseContext, ParseError, register, source_tz
from travelinfo.ingest.parsers.datex2_build import Pub
from travelinfo.ingest.parsers.datex2_geo import xsi_type
from travelinfo.ingest.parsers.datex2_situation import situation
from travelinfo.ingest.parsers.vet import Skips
from travelinfo.ingest.parsers.xmlsafe import iterparse, localname
from travelinfo.model import Batch, Disruption, make_id

_SITUATION = "situation"
_PUBLICATIONS = ("payloadPublication", "payload")
_ROOTS = ("d2LogicalModel", "messageContainer", "Envelope")
_FLAGS = ("feedType", "updateMethod", "codedExchangeProtocol", "deliveryBreak", "returnStatusReason")
# Only these elements produce events; everything else is built by libxml2 and cleared with
# its situation, so the per-element Python work stays proportional to the situations.
_TAGS = [f"{{*}}{name}" for name in (_SITUATION, *_PUBLICATIONS, *_ROOTS, *_FLAGS)]
_FULL = frozenset({"full", "snapshot", "fullfeed", "snapshotpull", "snapshotpush"})


class _State:
    """What the stream has told us so far about the publication."""

    __slots__ = ("delta", "flags", "pub_types", "roots", "situations")

    def __init__(self) -> None:
        self.pub_types: list[str] = []
        self.roots: list[str] = []
        self.delta: bool | None = None
        self.situations = 0
        self.flags: list[str] = []


def _flag(name: str, elem: Any, state: _State) -> None:
    text = "".join(elem.itertext()).strip()
    value = text or (elem.get("_extendedValue") or "").strip()
    if name == "feedType" and value:
        state.delta = value.lower().replace(" ", "") not in _FULL
    elif name == "updateMethod" and value and state.delta is None:
        state.delta = value != "snapshot"
    elif name == "codedExchangeProtocol" and value.lower() in _FULL and state.delta is None:
        state.delta = False
    elif name in ("deliveryBreak", "returnStatusReason") and value and value.lower() != "false":
        state.flags.append(f"exchange says: {value[:80]}")


def _drain(data: bytes, ctx: ParseContext) -> None:
    """Read the rest of a non-situation payload with flat memory, so truncation still fails."""
    for _event, elem in iterparse(data, ctx):
        elem.clear()


def _clear(elem: Any) -> None:
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


@register("datex2")
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """Parse a DATEX II publication into a Batch (ParseError on malformed or hostile input)."""
    state = _State()
    pub = Pub(ctx=ctx, lang=str(ctx.options.get("lang") or "en"), tz=source_tz(ctx))
    items: list[Disruption] = []
    skips = Skips()
    drain = False
    for event, elem in iterparse(data, ctx, events=("start", "end"), tag=_TAGS):
        name = localname(elem.tag)
        if event == "start":
            if name in _PUBLICATIONS:
                state.pub_types.append(xsi_type(elem) or name)
                if not ctx.options.get("lang") and elem.get("lang"):
                    pub.lang = types.norm_lang(elem.get("lang"), pub.lang)
                if not state.pub_types[-1].endswith("SituationPublication"):
                    drain = True
                    break
            elif name in _ROOTS:
                state.roots.append(name)
            continue
        if name == _SITUATION:
            state.situations += 1
            sid = (elem.get("id") or "")[:60]
            full_id = (elem.get("id") or "").strip()
            keep = make_id(ctx.source, full_id) if full_id else None
            item = skips.guard(f"situation {sid!r}", situation, elem, pub, keep=keep)
            if item is not None:
                items.append(item)
            _clear(elem)
        elif name in _FLAGS:
            _flag(name, elem, state)
    if drain:
        _drain(data, ctx)
    return _batch(items, state, pub, ctx, skips)


def _batch(items: list[Disruption], state: _State, pub: Pub, ctx: ParseContext, skips: Skips) -> Batch:
    notes = list(dict.fromkeys([*pub.notes, *skips.notes]))
    situational = [t for t in state.pub_types if t.endswith("SituationPublication")]
    if not state.pub_types and not state.roots:
        raise ParseError("not a DATEX II document: no d2LogicalModel, messageContainer or payload")
    if not situational:
        kinds = ", ".join(state.pub_types) or "no payload publication (exchange-only message)"
        notes.insert(0, f"{kinds}: holds no situations")
        notes.extend(state.flags)
        return Batch(ctx.source, ctx.fetched_at, (), complete=False, notes=tuple(notes))
    if not state.situations:
        notes.insert(0, "SituationPublication without situations")
    complete = not state.delta
    if "complete" in ctx.options and ctx.options["complete"] is not None:
        complete = bool(ctx.options["complete"])
    return Batch(
        ctx.source,
        ctx.fetched_at,
        tuple(items),
        complete=complete,
        notes=tuple(notes),
        skipped=skips.count,
        skip_reason=skips.first,
    )
