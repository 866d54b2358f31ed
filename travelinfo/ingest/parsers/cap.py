"""CAP 1.0-1.2 alerts and Atom feeds of CAP entries -> one disruption per alert.

Choices (see also MODEL.md):
- The id is stable across versions: an Update or Cancel takes the id of the FIRST
  identifier of its `references` chain (the earliest `sent`), so `upstream_id` is that
  original identifier; the message's own identifier is kept as `cap:identifier=...`.
  Other identifiers named in `references` go to `Batch.ended` (older versions stored
  under their own id, when a chain was seen incompletely, end instead of lingering).
- A Cancel with `info` is published as the ended item (its all-clear text kept); one
  without `info` only lists the ids it ends.
- Only `status` Actual is published; Exercise, Test, System and Draft are left out with
  a note, as are Ack and Error messages.
- Texts are keyed by the full language tag, region subtags kept (`en-CA`, `sv-SE`, and
  `en-US` next to `en-GB`); readers match on the primary subtag (`en` finds `en-GB`,
  `vocab.pick_lang`); no `language` means CAP's `en-US`.
- Each language's `web` link is kept: `url` is the first, every one is a category
  `cap:web:<lang>=<url>` when there are several; `certainty` Observed -> certain,
  Likely -> likely, Possible/Unlikely -> possible, Unknown -> unknown.
- Modes: `options["modes"]` when configured, else every land mode, plus shipping for
  Transport or marine alerts.
- A single alert names only itself (complete=False); a feed is a full snapshot.
- In a feed, an entry that cannot be read (no identifier, a malformed time, ...) is
  skipped and counted (`Batch.skipped`); a stand-alone alert that cannot be read is the
  whole payload, so it fails with ParseError. A bad shape (NaN or infinite radius,
  out-of-range point) is left out with a note, keeping the rest of the alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from travelinfo.ingest.parsers import cap_info as ci
from travelinfo.ingest.parsers.base import ParseContext, ParseError, register
from travelinfo.ingest.parsers.vet import MAX_RECORDS, Skips, lang_tag, safe_url
from travelinfo.ingest.parsers.xmlsafe import fromstring, localname, text_of
from travelinfo.model import (
    SEVERITY_RANK,
    Affected,
    Batch,
    Disruption,
    Period,
    make_id,
    merge_texts,
)

XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PUBLISHED_STATUS = "Actual"


def _is_cap(elem: Any) -> bool:
    tag = elem.tag if isinstance(elem.tag, str) else ""
    return localname(tag) == "alert" and "cap" in tag.partition("}")[0].lower()


def _references(text: str) -> list[tuple[str, datetime | None]]:
    """`sender,identifier,sent` triples -> (identifier, sent), in the order written."""
    out: list[tuple[str, datetime | None]] = []
    for triple in text.split()[:MAX_RECORDS]:
        parts = triple.split(",")
        if len(parts) >= 2 and parts[1]:
            sent = ci.time_of(parts[2], "references") if len(parts) >= 3 else None
            out.append((parts[1], sent))
    return out


def _root(refs: list[tuple[str, datetime | None]], own: str) -> str:
    if not refs:
        return own
    dated = [(sent, i, ident) for i, (ident, sent) in enumerate(refs) if sent is not None]
    return min(dated)[2] if dated else refs[0][0]


def _texts(infos: list[ci.Info], keys: dict[str, str], pick: Any) -> dict[str, str]:
    return merge_texts({keys[i.lang]: t} for i in infos for t in pick(i) if t)


def _periods(infos: list[ci.Info], sent: datetime) -> tuple[Period, ...]:
    # Translations often omit the times: only blocks that state some take part, and an
    # alert stating none is valid from `sent` on (CAP: `effective` defaults to `sent`).
    timed = [i for i in infos if i.effective or i.onset or i.expires]
    periods: list[Period] = []
    for info in timed or [ci.Info(lang="")]:
        start = info.onset or info.effective or sent
        end = info.expires
        if end is not None and end <= start:
            # Expiry before onset: the alert still counts from when it took effect.
            start = min(info.effective or sent, sent)
            end = end if end > start else None
        period = Period(start, end)
        if period not in periods:
            periods.append(period)
    return tuple(periods)


def _geometry(infos: list[ci.Info]) -> dict[str, Any] | None:
    shapes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for info in infos:
        for shape in info.shapes:
            key = repr(shape)  # blocks in several languages repeat the same areas
            if key not in seen:
                seen.add(key)
                shapes.append(shape)
    if not shapes:
        return None
    if len(shapes) == 1:
        return shapes[0]
    if all(s["type"] == "Polygon" for s in shapes):
        return {"type": "MultiPolygon", "coordinates": [s["coordinates"] for s in shapes]}
    return {"type": "GeometryCollection", "geometries": shapes}


def _categories(head: dict[str, str], infos: list[ci.Info], signed: bool) -> list[str]:
    cats: list[str] = []
    for name in ("msgType", "scope"):
        if head.get(name):
            cats.append(f"cap:{name}={head[name]}")
    cats += [f"cap:code={code}" for code in head.get("code", "").split()]
    for info in infos:
        cats += [f"cap:category={c}" for c in info.categories]
        cats += [
            f"cap:{n}={v}"
            for n, v in (
                ("severity", info.severity),
                ("urgency", info.urgency),
                ("certainty", info.certainty),
                ("event", info.event),
            )
            if v
        ]
        cats += [f"cap:responseType={r}" for r in info.responses]
        cats += [f"cap:eventCode={n}:{v}" for n, v in info.event_codes]
    if signed:
        cats.append("cap:signed")
    return list(dict.fromkeys(cats))


def _build(
    ctx: ParseContext,
    upstream_id: str,
    head: dict[str, str],
    sent: datetime,
    infos: list[ci.Info],
    ended: bool,
    signed: bool = False,
    url: str | None = None,
) -> Disruption:
    keys = ci.language_keys(i.lang for i in infos)
    severity = max(
        (ci.SEVERITY.get(i.severity, "UNKNOWN_SEVERITY") for i in infos),
        key=SEVERITY_RANK.__getitem__,
        default="UNKNOWN_SEVERITY",
    )
    cause = next((ci.CAUSE[c] for i in infos for c in i.categories if c in ci.CAUSE), "UNKNOWN_CAUSE")
    header = _texts(infos, keys, lambda i: [i.headline or i.event])
    if not header:
        header = {keys.get(infos[0].lang, "en") if infos else "en": upstream_id}
    categories = _categories(head, infos, signed)
    if head.get("identifier") and head["identifier"] != upstream_id:
        categories.append(f"cap:identifier={head['identifier']}")
    affected: dict[str, Affected] = {}
    for info in infos:
        for name, value, desc in info.geocodes:
            affected.setdefault(f"{name}:{value}", Affected("area", f"{name}:{value}", desc or None))
    periods = _periods(infos, sent)
    # Each language's own web link (issue 19): `url` is the first, the others stay readable.
    webs = [(keys[i.lang], i.web) for i in infos if safe_url(i.web)]
    first = webs[0][1] if webs else None
    if len({w for _, w in webs}) > 1:
        categories += [f"cap:web:{lang}={web}" for lang, web in dict.fromkeys(webs)]
    certainty = next((ci.CERTAINTY[i.certainty] for i in infos if i.certainty in ci.CERTAINTY), "unknown")
    return ctx.disruption(
        "cap",
        upstream_id,
        version=head.get("sent") or None,
        updated_at=sent,
        ended=ended,
        modes=ci.modes_for(infos, ctx.options),
        cause=cause,
        effect="OTHER_EFFECT",
        severity=severity,
        categories=tuple(categories),
        periods=periods,
        header=header,
        description=_texts(infos, keys, lambda i: [i.description, i.instruction]),
        location_text={
            k: "; ".join(v.split("\n\n")) for k, v in _texts(infos, keys, lambda i: i.area_descs).items()
        },
        url=first or url,
        certainty=certainty,
        geometry=_geometry(infos),
        affected=tuple(affected.values()),
    )


def _head(alert: Any) -> tuple[dict[str, str], list[Any], bool]:
    head: dict[str, str] = {}
    infos: list[Any] = []
    signed = False
    codes: list[str] = []
    for child in alert:
        name = localname(child.tag)
        if name == "info":
            infos.append(child)
        elif name == "Signature" and child.tag.startswith("{" + XMLDSIG):
            signed = True
        elif name == "code" and text_of(child):
            codes.append(text_of(child))
        elif name and name not in head:
            head[name] = text_of(child)
    head["code"] = " ".join(codes)  # several <code>s: kept space-separated, split again later
    return head, infos, signed


def _alert(alert: Any, ctx: ParseContext, notes: list[str]) -> tuple[list[Disruption], list[str]]:
    """One CAP alert -> (items, ended ids)."""
    head, info_elems, signed = _head(alert)
    identifier = head.get("identifier", "")
    if not identifier:
        raise ParseError("CAP alert without <identifier>")
    status, msg_type = head.get("status", ""), head.get("msgType", "")
    if status != PUBLISHED_STATUS:
        notes.append(f"{identifier}: status {status or 'missing'} is not published")
        return [], []
    if msg_type not in ("Alert", "Update", "Cancel"):
        notes.append(f"{identifier}: msgType {msg_type or 'missing'} is not published")
        return [], []
    sent = ci.time_of(head.get("sent", ""), "sent")
    if sent is None:
        raise ParseError(f"CAP alert {identifier[:60]} without <sent>")
    refs = _references(head.get("references", "")) if msg_type != "Alert" else []
    root = _root(refs, identifier)
    ended = [make_id(ctx.source, ident) for ident, _ in refs if ident != root]
    default_lang = str(ctx.options.get("lang") or ci.DEFAULT_LANGUAGE)
    infos = [ci.read_info(e, notes, default_lang) for e in info_elems[:MAX_RECORDS]]
    if msg_type == "Cancel" and not infos:
        return [], [make_id(ctx.source, root), *ended]
    item = _build(ctx, root, head, sent, infos, ended=msg_type == "Cancel", signed=signed)
    return [item], ended


def _entry(
    entry: Any, ctx: ParseContext, notes: list[str], feed_lang: str | None
) -> tuple[list[Disruption], list[str]]:
    """One Atom entry: a full embedded CAP alert, or the NWS index's `cap:` elements."""
    embedded = next((e for e in entry.iter() if _is_cap(e)), None)
    if embedded is not None:
        return _alert(embedded, ctx, notes)
    fields = {localname(c.tag): c for c in entry if localname(c.tag)}
    ident = text_of(fields.get("identifier")) or text_of(fields.get("id"))
    if not ident:
        raise ParseError("Atom entry without <id>")
    status = text_of(fields.get("status")) or PUBLISHED_STATUS
    msg_type = text_of(fields.get("msgType")) or "Alert"
    if status != PUBLISHED_STATUS or msg_type not in ("Alert", "Update", "Cancel"):
        notes.append(f"{ident}: status {status}/msgType {msg_type} is not published")
        return [], []
    stamp = next(
        (text_of(fields.get(n)) for n in ("sent", "updated", "published") if text_of(fields.get(n))), ""
    )
    sent = ci.time_of(stamp, "updated") or ctx.fetched_at
    default_lang = str(ctx.options.get("lang") or lang_tag(entry.get(XML_LANG)) or feed_lang or "en")
    info = ci.read_info(entry, notes, default_lang)
    links = [link for link in entry if localname(link.tag) == "link"]
    href = next(
        (
            safe_url(link.get("href"))
            for link in links
            if link.get("rel", "alternate") == "alternate" and safe_url(link.get("href"))
        ),
        None,
    )
    head = {"msgType": msg_type, "sent": stamp, "identifier": ident}
    item = _build(ctx, ident, head, sent, [info], ended=msg_type == "Cancel", url=href)
    return [item], []


def _collect(
    results: Iterable[tuple[list[Disruption], list[str]]],
) -> tuple[list[Disruption], list[str]]:
    items: dict[str, Disruption] = {}
    ended: list[str] = []
    for found, gone in results:
        for d in found:
            # Two versions of one incident in a feed: the later `sent` wins.
            if d.id not in items or d.updated_at >= items[d.id].updated_at:
                items[d.id] = d
        ended.extend(gone)
    return list(items.values()), [i for i in dict.fromkeys(ended) if i not in items]


@register("cap")
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """Parse a CAP alert (complete=False) or an Atom feed of CAP entries (complete=True)."""
    root = fromstring(data, ctx)
    notes: list[str] = []
    skips = Skips()
    if _is_cap(root):
        items, ended = _collect([_alert(root, ctx, notes)])
        complete = False
    elif localname(root.tag) == "feed":
        entries = [e for e in root if localname(e.tag) == "entry"]
        feed_lang = lang_tag(root.get(XML_LANG))
        read = (skips.guard(_entry_name(e), _entry, e, ctx, notes, feed_lang) for e in entries)
        items, ended = _collect(r for r in read if r is not None)
        complete = True
        if not entries:
            notes.append("the feed has no entries")
    else:
        raise ParseError(f"not a CAP alert or an Atom feed of CAP entries: <{localname(root.tag)}>")
    return ctx.batch(
        items,
        complete=complete,
        ended=ended,
        notes=[*notes, *skips.notes],
        skipped=skips.count,
        skip_reason=skips.first,
    )


def _entry_name(entry: Any) -> str:
    ident = next((text_of(c) for c in entry if localname(c.tag) in ("id", "identifier")), "")
    return f"entry {ident[:60]!r}"
