"""Sjöfartsverket's "NAVTEX warnings in force" HTML page -> one disruption per warning.

The page has one `div#display-area-N` per sea area (its name in an `h5`), and in it one
`<p>` per warning: the date-time group as text, `<b>` issuer + number, and the message
in `<span style="white-space: pre-line">`. A warning concerning several sea areas is
listed once under each: we merge those listings and keep every area. The page is the
whole set in force, so a batch is a full snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import lxml.etree
import lxml.html

from travelinfo.geo import STOCKHOLM_AREA, in_area
from travelinfo.ingest.parsers import navtex_text as nt
from travelinfo.ingest.parsers.base import ParseContext, ParseError, check_size, register
from travelinfo.ingest.parsers.vet import MAX_RECORDS, Skips
from travelinfo.model import (
    Affected,
    Batch,
    Disruption,
    Period,
    make_id,
)

LANG = "en"  # the page's warnings are always in English, also on the Swedish page
HEADER_MAX = 140
HEADER_MIN = 50
_NO_WARNINGS = re.compile(r"no current warnings", re.IGNORECASE)
_LATEST = "Latest Update of Navigational Warnings:"
_LATEST_VALUE = re.compile(r"\s{0,4}([\d-]{1,12} [\d:]{1,8})")
_PREAMBLE_DTG = re.compile(r"\d{6}\s{0,4}UTC\b")
_PREAMBLE_TEXT = "NAVIGATIONAL WARNING NO"
MAX_LINE = 2_000  # characters of one body line looked at by the header rules
_REGION = re.compile(
    r"BALTIC|GULF|SEA\b|SOUND|BELTS?\b|KATTEGAT|SKAGERRAK|BOTHNIA|QUARK|COAST|WATERS|"
    r"AREAS?\b|DENMARK|SWEDEN|FINLAND|ESTONIA|LATVIA|LITHUANIA|POLAND|GERMANY|VÄINAMERI|LAKE"
)

# (pattern, category, cause, effect): first cause/effect match wins, every category is kept.
_KEYWORDS: tuple[tuple[str, str, str | None, str | None], ...] = (
    (r"\bCLOSED\b", "navtex:closed", None, "NO_SERVICE"),
    (r"PROHIBITED|RESTRICTED|BERTH", "navtex:restricted", None, None),
    (r"\bSUSPENDED\b", "navtex:suspended", None, None),
    (r"BUOY", "navtex:buoy", None, None),
    (r"LIGHTHOUSE|LIGHT BEACON|\bLIGHTS?\b|\bBEACON", "navtex:light", None, None),
    (r"\bUNLIT\b", "navtex:unlit", "TECHNICAL_PROBLEM", None),
    (
        r"OFF POSITION|OUT OF POSITION|ADRIFT|MISSING|CAPSIZED|REMOVED|WITHDRAWN",
        "navtex:off-position",
        None,
        None,
    ),
    (r"MILITARY|SHIPS EXERCISES|FIRING|GUNNERY|MISSILE", "navtex:military-exercise", None, None),
    (r"DREDGING", "navtex:dredging", "MAINTENANCE", None),
    (r"SURVEY", "navtex:survey", None, None),
    (r"EXPLOSIVE|MINE-LIKE|\bMINES?\b|MUNITION", "navtex:explosives", None, None),
    (r"\bICE\b|ICEBREAK|WINTER", "navtex:ice", "WEATHER", None),
    (r"GNSS|\bGPS\b|\bAIS\b|JAMMING|INTERFERENCE", "navtex:gnss-interference", None, None),
    (r"REGATTA|RACE\b|SAILING COMPETITION|EVENT", "navtex:event", None, None),
    (r"WRECK", "navtex:wreck", None, None),
    (r"CABLE|PIPELINE", "navtex:cable-pipeline", "CONSTRUCTION", None),
    (r"DEPTHS?\b|SHOAL|SHALLOW", "navtex:depth", None, None),
)


@dataclass
class _Listing:
    """One warning merged from its listings under every sea area."""

    ident: nt.WarningId
    dtg: str
    body: str
    areas: dict[str, None] = field(default_factory=dict)  # ordered set


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _document(data: bytes, ctx: ParseContext) -> Any:
    check_size(data, ctx)
    if not data.strip():
        raise ParseError("empty payload")
    # lxml's HTML parser never fetches anything; no_network and no entity loading to be sure.
    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)
    try:
        return lxml.html.document_fromstring(_decode(data), parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ParseError(f"not a readable HTML page: {exc}") from None


def _clean(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _listings(doc: Any, notes: list[str], skips: Skips) -> list[_Listing]:
    sections = doc.xpath('//div[starts-with(@id, "display-area-")][h5]')
    if not sections:
        raise ParseError(
            "not Sjöfartsverket's NAVTEX warnings page: no sea-area sections "
            "(div id=display-area-N with an h5 title)"
        )
    merged: dict[tuple[str, int, str, str], _Listing] = {}
    for section in sections:
        area = " ".join(section.xpath("string(h5)").split())
        for p in section.xpath("./p"):
            bold = " ".join(p.xpath("string(b)")[: nt.MAX_TEXT].split())
            if not bold:
                text = " ".join(p.text_content()[: nt.MAX_TEXT].split())
                if text and not _NO_WARNINGS.search(text):
                    notes.append(f"{area}: skipped a paragraph that is not a warning: {text[:60]}")
                continue
            ident = nt.warning_id(bold)
            if ident is None:
                skips.add(f"{area[:40]}: warning heading {bold[:60]!r} has no issuer and number")
                continue
            listing = merged.get(ident.key)
            if listing is None:
                dtg = " ".join((p.text or "")[:200].split())
                body = _clean("".join(s.text_content() for s in p.xpath("./span"))[: nt.MAX_TEXT])
                listing = merged[ident.key] = _Listing(ident, dtg, body)
            if area and len(listing.areas) < MAX_RECORDS:
                listing.areas[area] = None
    return list(merged.values())


def _header(ident: nt.WarningId, body: str) -> str:
    # Some issuers repeat their own date-time group and number as the first lines.
    lines = [ln[:MAX_LINE] for ln in body.split("\n") if ln]
    lines = [ln for ln in lines if not _preamble(ln) and not _repeats(ident, ln)]
    if not lines:
        return ident.text
    # "WESTERN BALTIC. MECKLENBURG BAY." alone says where, not what: add lines until it
    # says something.
    text = lines[0]
    for line in lines[1:]:
        if len(text) >= HEADER_MIN and not (_REGION.search(text) and len(text) < 60):
            break
        text = f"{text} {line}"
    if len(text) > HEADER_MAX:
        text = text[: HEADER_MAX - 1].rsplit(" ", 1)[0] + "…"
    return text


def _preamble(line: str) -> bool:
    return bool(_PREAMBLE_DTG.match(line)) or _PREAMBLE_TEXT in line


def _repeats(ident: nt.WarningId, line: str) -> bool:
    other = nt.warning_id(line)
    return other is not None and other.key == ident.key and "CANCEL" not in line


def _classify(body: str) -> tuple[list[str], str, str]:
    categories: list[str] = []
    cause, effect = "OTHER_CAUSE", "OTHER_EFFECT"
    cause_set = effect_set = False
    text = " ".join(body[: nt.MAX_TEXT].upper().split())
    for pattern, category, c, e in _KEYWORDS:
        if re.search(pattern, text):
            categories.append(category)
            if c and not cause_set:
                cause, cause_set = c, True
            if e and not effect_set:
                effect, effect_set = e, True
    return categories, cause, effect


def _issuer(ident: nt.WarningId) -> str:
    return ident.key[0]


def _disruption(item: _Listing, ctx: ParseContext, cancelled: set[tuple[str, int, str, str]]) -> Disruption:
    ident = item.ident
    issued = nt.parse_dtg(item.dtg, ident.year, ctx.fetched_at) or nt.parse_dtg(
        item.body, ident.year, ctx.fetched_at
    )
    updated_at = issued or ctx.fetched_at
    end = nt.cancel_time(item.body, updated_at, ctx.fetched_at)
    periods = (Period(issued, end),) if issued is not None else ()
    if issued is not None and end is not None and end <= issued:
        periods = (Period(issued, None),)  # a cancel time before the issue is a typo upstream
    geometry = nt.geometry(item.body)
    categories = [f"navtex:{_issuer(ident)}", *(f"navtex:area={a}" for a in item.areas)]
    kinds, cause, effect = _classify(item.body)
    categories.extend(kinds)
    if nt.cancelled_ids(item.body):
        categories.append("navtex:cancels")
    if geometry is not None and in_area(geometry, STOCKHOLM_AREA):
        categories.append("area:stockholm")
    return ctx.disruption(
        "navtex",
        ident.text,
        updated_at=updated_at,
        ended=ident.key in cancelled,
        modes=("shipping",),
        cause=cause,
        effect=effect,
        severity="WARNING",
        categories=tuple(categories),
        periods=periods,
        header={LANG: _header(ident, item.body)},
        description={LANG: item.body},
        location_text={LANG: ", ".join(item.areas)} if item.areas else {},
        url=ctx.url,
        geometry=geometry,
        affected=tuple(Affected("area", a, a) for a in item.areas),
    )


@register("navtex")
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """Parse the NAVTEX warnings-in-force page into a full snapshot of warnings."""
    doc = _document(data, ctx)
    notes: list[str] = []
    skips = Skips()
    listings = _listings(doc, notes, skips)
    page = " ".join(doc.text_content()[: 4 * nt.MAX_TEXT].split())
    at = page.find(_LATEST)
    latest = _LATEST_VALUE.match(page, at + len(_LATEST)) if at >= 0 else None
    if latest:
        notes.append(f"page last updated {latest.group(1)} (local time)")
    on_page = {item.ident.key for item in listings}
    cancelled: set[tuple[str, int, str, str]] = set()
    ended: list[str] = []
    for item in listings:
        for wid in nt.cancelled_ids(item.body):
            if wid.key == item.ident.key:
                continue
            cancelled.add(wid.key)
            if wid.key not in on_page:
                ended.append(make_id(ctx.source, wid.text))
    built = (skips.guard(item.ident.text, _disruption, item, ctx, cancelled) for item in listings)
    items = tuple(d for d in built if d is not None)
    if not items and not skips.count:
        notes.append("the page lists no warnings in force")
    notes.extend(skips.notes)
    return ctx.batch(
        items,
        complete=True,
        ended=dict.fromkeys(ended),
        notes=notes,
        skipped=skips.count,
        skip_reason=skips.first,
    )
