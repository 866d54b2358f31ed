"""GTFS-Realtime ServiceAlerts -> disruptions (one per FeedEntity with an `alert`).

Choices (documented here because publishers and the renderer rely on them):
- Texts without a `language` are filed under `ctx.options["lang"]`, else `sv` (our region).
- `active_period` gives `periods`; when there is none, `impact_period` does. A missing or 0
  `start` means "since forever" and becomes the Unix epoch (`OPEN_START`): stable from fetch
  to fetch, unlike the header timestamp. A lone fully open period becomes `periods=()`.
  A missing or 0 `end` is None; far ends (e.g. year 3000) are kept.
- Fields the model has no slot for are kept as namespaced categories (language after a colon):
  `gtfsrt:tts_header_text:en=...`, `gtfsrt:tts_description_text:en=...`,
  `gtfsrt:cause_detail:en=...`, `gtfsrt:effect_detail:en=...`, `gtfsrt:image:pt=<url> <type>`,
  `gtfsrt:image_alternative_text:en=...`, `gtfsrt:url:<lang>=...` (translations of `url`
  other than the one in `Disruption.url`), `gtfsrt:communication_period=<start>/<end>` and
  `gtfsrt:impact_period=...` (RFC 3339, `..` when open), `gtfsrt:cause=SPECIAL_EVENT` (the
  model has no such cause: it becomes OTHER_CAUSE).
- Every informed entity is flattened into `affected` (agency, route, route_type, stop, trip;
  a trip is `{type: trip, id: trip_id, name: None}`). A selector naming more than one thing
  (route AND stop, a trip with start_date/direction_id, ...) is also kept whole as
  `gtfsrt:selector=<url-encoded fields>` so it can be written back exactly.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

from travelinfo.ingest.gtfs_static import GtfsStatic, mode_for_route_type
from travelinfo.ingest.parsers.base import ParseContext, ParseError, check_size, register
from travelinfo.ingest.parsers.vet import MAX_RECORDS, Skips, lang_tag, safe_url
from travelinfo.model import (
    CAUSES,
    Affected,
    Batch,
    Disruption,
    Period,
    format_time,
    make_id,
    merge_texts,
)
from travelinfo.vocab import OPEN_START as OPEN_START
from travelinfo.vocab import SELECTOR_FIELDS as SELECTOR_FIELDS
from travelinfo.vocab import TRIP_FIELDS as TRIP_FIELDS

DEFAULT_LANG = "sv"
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z: beyond it datetime cannot follow
# Linear patterns only (issue 12): a tag is at most MAX_TAG characters and never holds `<`,
# so a run of `<a<a<a...` without `>` is scanned once, not once per `<`.
MAX_TAG = 1_000
MAX_TEXT = 20_000  # characters of one translation looked at (the vet cuts stored text too)
_TAG = re.compile(rf"<[A-Za-z/!][^<>]{{0,{MAX_TAG}}}>")
_BREAK = re.compile(r"<br[ \t\n/]{0,20}>|</p>", re.IGNORECASE)
_ALERT = gtfs_realtime_pb2.Alert


def plain(text: str) -> str:
    """Plain text: markup removed only when the text looks like HTML, entities decoded."""
    text = text[:MAX_TEXT]
    if "<" in text and _TAG.search(text):
        text = html.unescape(_TAG.sub("", _BREAK.sub("\n", text)))
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def epoch(seconds: int) -> datetime | None:
    """A POSIX time as aware UTC, None for 0/absent or beyond year 9999."""
    if seconds <= 0 or seconds > _MAX_TIMESTAMP:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def translations(ts: Any, lang: str) -> list[tuple[str, str]]:
    """(language, plain text) pairs of a TranslatedString, empty texts dropped."""
    out = []
    for tr in ts.translation[:MAX_RECORDS]:
        text = plain(tr.text)
        if text:
            # An invalid language tag is filed under the feed's default language.
            out.append((lang_tag(tr.language) or lang, text))
    return out


def _texts(ts: Any, lang: str) -> dict[str, str]:
    return merge_texts({code: text} for code, text in translations(ts, lang))


def _periods(ranges: Iterable[Any]) -> list[Period]:
    out = []
    for rng in list(ranges)[:MAX_RECORDS]:
        start = epoch(rng.start) if rng.HasField("start") else None
        end = epoch(rng.end) if rng.HasField("end") else None
        if end is not None and end <= (start or OPEN_START):
            continue  # an empty range: nothing is active in it
        out.append(Period(start or OPEN_START, end))
    return out


def _interval(period: Period) -> str:
    start = ".." if period.start == OPEN_START else format_time(period.start)
    return f"{start}/{format_time(period.end) if period.end else '..'}"


def selector_key(sel: Any) -> str:
    """The selector's set fields, URL-encoded in a fixed order (`trip.` prefix for the trip)."""
    pairs = [(f, str(getattr(sel, f))) for f in SELECTOR_FIELDS if sel.HasField(f)]
    if sel.HasField("trip"):
        pairs += [(f"trip.{f}", str(getattr(sel.trip, f))) for f in TRIP_FIELDS if sel.trip.HasField(f)]
    return urlencode(pairs)


class _Resolver:
    """Names and modes of informed entities, from the reference data when there is some."""

    def __init__(self, reference: Any) -> None:
        self.ref: GtfsStatic | None = reference if isinstance(reference, GtfsStatic) else None

    def affected(self, sel: Any) -> tuple[list[Affected], list[str]]:
        items: list[Affected] = []
        modes: list[str] = []
        ref = self.ref
        if sel.HasField("agency_id"):
            items.append(Affected("agency", sel.agency_id, ref.agency_name(sel.agency_id) if ref else None))
            # An agency's modes say little when the selector also names a route or a mode.
            narrower = any(sel.HasField(f) for f in ("route_id", "route_type", "trip"))
            modes += ref.modes_for_agency(sel.agency_id) if ref and not narrower else ()
        route_ids = [sel.route_id] if sel.HasField("route_id") else []
        if sel.HasField("trip"):
            trip = sel.trip
            if trip.HasField("route_id") and trip.route_id not in route_ids:
                route_ids.append(trip.route_id)
            if trip.trip_id:
                items.append(Affected("trip", trip.trip_id, None))
                on_route = ref.route_of_trip(trip.trip_id) if ref else None
                if on_route and not route_ids:
                    modes += ref.modes_for_route(on_route) if ref else ()
        for route_id in route_ids:
            items.append(Affected("route", route_id, ref.route_name(route_id) if ref else None))
            modes += ref.modes_for_route(route_id) if ref else ()
        if sel.HasField("route_type"):
            mode = mode_for_route_type(sel.route_type)
            items.append(Affected("route_type", str(sel.route_type), mode))
            modes += [mode] if mode else []
        if sel.HasField("stop_id"):
            items.append(Affected("stop", sel.stop_id, ref.stop_name(sel.stop_id) if ref else None))
        return items, modes


def _categories(alert: Any, lang: str, url_index: int) -> list[str]:
    cats: list[str] = []
    for name in ("tts_header_text", "tts_description_text", "cause_detail", "effect_detail"):
        if alert.HasField(name):
            cats += [
                f"gtfsrt:{name}:{code}={text}" for code, text in translations(getattr(alert, name), lang)
            ]
    for index, (code, text) in enumerate(translations(alert.url, lang)):
        if index != url_index and safe_url(text):
            cats.append(f"gtfsrt:url:{code}={text}")
    for img in alert.image.localized_image[:MAX_RECORDS]:
        url = safe_url(img.url)
        if url and " " not in img.media_type:
            code = lang_tag(img.language) or lang
            cats.append(f"gtfsrt:image:{code}={url} {img.media_type}".rstrip())
    if alert.HasField("image_alternative_text"):
        cats += [
            f"gtfsrt:image_alternative_text:{code}={text}"
            for code, text in translations(alert.image_alternative_text, lang)
        ]
    for name in ("communication_period", "impact_period"):
        cats += [f"gtfsrt:{name}={_interval(p)}" for p in _periods(getattr(alert, name, ()))]
    if _ALERT.Cause.Name(alert.cause) not in CAUSES:
        cats.append(f"gtfsrt:cause={_ALERT.Cause.Name(alert.cause)}")
    return cats


def _url(alert: Any, lang: str, wanted: str | None) -> tuple[str | None, int]:
    """(url, its index): the translation in `wanted` language, else the first."""
    pairs = enumerate(translations(alert.url, lang))
    found = [(i, code, text) for i, (code, text) in pairs if safe_url(text)]
    for index, code, text in found:
        if wanted and code == wanted:
            return text, index
    return (found[0][2], found[0][0]) if found else (None, -1)


def _header(alert: Any, lang: str, description: dict[str, str]) -> dict[str, str]:
    header = _texts(alert.header_text, lang) or _texts(alert.tts_header_text, lang)
    if header:
        return header
    # The model needs a title: the first line of the description, else the effect's name.
    if description:
        return {code: text.splitlines()[0][:140] for code, text in description.items()}
    return {lang: _ALERT.Effect.Name(alert.effect).replace("_", " ").capitalize()}


def alert_to_disruption(entity: Any, ctx: ParseContext, updated_at: datetime) -> Disruption:
    """One FeedEntity with an alert, as a disruption."""
    alert = entity.alert
    lang = str(ctx.options.get("lang") or DEFAULT_LANG)
    resolver = _Resolver(ctx.reference)
    if not entity.id.strip():
        raise ValueError("entity without an id")
    affected: dict[Affected, None] = {}  # an ordered set: list membership was quadratic
    modes: list[str] = []
    cats: list[str] = []
    for sel in alert.informed_entity[:MAX_RECORDS]:
        items, found = resolver.affected(sel)
        affected.update(dict.fromkeys(items))
        modes += found
        if len(sel.ListFields()) > 1 or sel.HasField("trip"):
            cats.append(f"gtfsrt:selector={selector_key(sel)}")
    wanted = ctx.options.get("lang")
    url, url_index = _url(alert, lang, str(wanted) if wanted else None)
    cats = _categories(alert, lang, url_index) + cats
    periods = _periods(alert.active_period) or _periods(getattr(alert, "impact_period", ()))
    if len(periods) == 1 and periods[0] == Period(OPEN_START, None):
        periods = []
    description = _texts(alert.description_text, lang)
    cause = _ALERT.Cause.Name(alert.cause)
    # Without reference data nor route types, say so: `unknown`, never a guess (issue 19).
    default_modes = tuple(ctx.options.get("modes") or ("unknown",))
    return ctx.disruption(
        "gtfsrt",
        entity.id,
        updated_at=updated_at,
        modes=tuple(dict.fromkeys(modes)) or default_modes,
        header=_header(alert, lang, description),
        description=description,
        cause=cause if cause in CAUSES else "OTHER_CAUSE",
        effect=_ALERT.Effect.Name(alert.effect),
        severity=_ALERT.SeverityLevel.Name(alert.severity_level),
        categories=tuple(dict.fromkeys(cats)),
        periods=tuple(periods),
        url=url,
        affected=tuple(affected),
    )


def decode(data: bytes, ctx: ParseContext) -> Any:
    """Decode a FeedMessage, refusing garbage that protobuf would half-accept."""
    check_size(data, ctx)
    if not data:
        raise ParseError("empty payload")
    msg = gtfs_realtime_pb2.FeedMessage()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ParseError(f"not a GTFS-RT FeedMessage (malformed or truncated protobuf): {exc}") from None
    if not msg.HasField("header") or not msg.header.gtfs_realtime_version:
        raise ParseError("not a GTFS-RT FeedMessage: no header with gtfs_realtime_version")
    _decode_strings(msg)
    return msg


def _decode_strings(msg: Any) -> None:
    """Replace invalid UTF-8 in string fields: proto2 hands such values back as `bytes`."""
    for field, value in msg.ListFields():
        if field.type == field.TYPE_MESSAGE:
            for sub in value if _repeated(field) else (value,):
                _decode_strings(sub)
        elif field.type == field.TYPE_STRING:
            if _repeated(field):
                if any(isinstance(v, bytes) for v in value):
                    fixed = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
                    del value[:]
                    value.extend(fixed)
            elif isinstance(value, bytes):
                setattr(msg, field.name, value.decode("utf-8", "replace"))


def _repeated(field: Any) -> bool:
    return bool(field.is_repeated)


@register("gtfsrt", lang=DEFAULT_LANG)
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """GTFS-RT FeedMessage bytes -> Batch of alerts (FULL_DATASET is a full snapshot)."""
    msg = decode(data, ctx)
    header = msg.header
    updated_at = epoch(header.timestamp) if header.HasField("timestamp") else None
    items: list[Disruption] = []
    ended: list[str] = []
    others = 0
    skips = Skips()
    when = updated_at or ctx.fetched_at
    for entity in msg.entity:
        if entity.is_deleted:
            if entity.id.strip():
                ended.append(make_id(ctx.source, entity.id))
            else:
                skips.add("a deleted entity without an id")
        elif entity.HasField("alert"):
            keep = make_id(ctx.source, entity.id) if entity.id.strip() else None
            item = skips.guard(f"entity {entity.id!r}", alert_to_disruption, entity, ctx, when, keep=keep)
            if item is not None:
                items.append(item)
        else:
            others += 1
    notes = list(skips.notes)
    if others:
        notes.append(f"{others} entities without an alert (trip updates, vehicle positions) skipped")
    mismatch = None
    if not items and not ended and not skips.count:
        notes.append("feed holds no service alerts")
        if others:
            mismatch = f"not a service alerts feed: {others} trip update/vehicle position entities, no alerts"
    return ctx.batch(
        items,
        complete=header.incrementality == gtfs_realtime_pb2.FeedHeader.FULL_DATASET,
        ended=ended,
        notes=notes,
        skipped=skips.count,
        skip_reason=skips.first,
        kind_mismatch=mismatch,
    )
