"""`/feeds/disruptions.atom` and `/feeds/disruptions.rss`: the page's filters, rendered with feedgen.

One entry per disruption (id = its permalink), rendered once per change per variant
(format, filters, language) and served from the RenderCache with ETag/304/gzip.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web
from feedgen.feed import FeedGenerator

from travelinfo.api import history
from travelinfo.model import Disruption
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import Recent, Rendered, respond
from travelinfo.web import i18n
from travelinfo.web import text as texts
from travelinfo.web.filters import Filters, parse_filters
from travelinfo.web.routes import page_lang

TYPES = {"atom": "application/atom+xml; charset=utf-8", "rss": "application/rss+xml; charset=utf-8"}
MAX_ENTRIES = 500
# Characters XML 1.0 cannot carry at all; upstream text has been seen with stray control bytes.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean(text: str) -> str:
    """Text safe to put in an XML text node (lxml escapes the rest)."""
    return _NOT_XML.sub("", text)


def rss_description(text: str) -> str:
    """Plain text as RSS `<description>` HTML: escaped, so readers show upstream markup as text.

    RSS readers treat a description as HTML after XML decoding; Atom has `type="text"`, RSS
    has no such flag, so the text is HTML-escaped once more and line breaks become `<br/>`.
    """
    return "<br/>".join(html.escape(line, quote=False) for line in text.split("\n"))


def entry_text(d: Disruption, lang: str) -> str:
    """Plain-text content: description, then periods, location and coordinates."""
    parts = []
    desc = texts.description(d, lang)
    if desc:
        parts.append(desc[1])
    for p in d.periods:
        end = i18n.when(p.end, lang) if p.end else i18n.t("open_end", lang)
        start = f"{i18n.when(p.start, lang)} – " if p.start.year > 1970 else ""
        if not start and p.end:
            start = i18n.t("open_start", lang) + " "
        parts.append(f"{i18n.t('periods', lang)}: {start}{end}")
    loc = i18n.pick(d.location_text, lang)
    if loc:
        parts.append(f"{i18n.t('location', lang)}: {loc[1]}")
    names = texts.affected_names(d, lang)[:30]
    if names:
        parts.append(f"{i18n.t('affected', lang)}: {', '.join(names)}")
    return clean("\n\n".join(parts) or texts.header(d, lang)[1])


def entry_times(items: list[Disruption]) -> dict[str, tuple[datetime, datetime]]:
    """(published, updated) per item id: published never after updated, no two updated equal.

    Upstream times are often older than our first sighting, and several items of one upstream
    publication share a time: feed readers (and the W3C validator) want both ordered and unique.
    """
    out: dict[str, tuple[datetime, datetime]] = {}
    taken: set[int] = set()
    for d in sorted(items, key=lambda d: (d.updated_at, d.id)):
        second = int(d.updated_at.timestamp())
        while second in taken:  # nudge a tie forward by whole seconds (the feeds' resolution)
            second += 1
        taken.add(second)
        updated = datetime.fromtimestamp(second, UTC)
        out[d.id] = (min(d.first_seen, updated), updated)
    return out


def build(
    items: list[Disruption],
    fmt: str,
    filters: Filters,
    lang: str,
    base: str,
    updated: datetime,
    self_path: str | None = None,
) -> bytes:
    """The feed document in `fmt` (`atom` or `rss`); the self link echoes `self_path` when given."""
    fg = FeedGenerator()
    canonical = f"{base}/feeds/disruptions.{fmt}{filters.qs(lang=lang)}"
    self_url = f"{base}{self_path}" if self_path else canonical
    page_url = f"{base}/{filters.qs(lang=lang)}"
    title = i18n.t("feed_title", lang)
    if not filters.empty:
        title += f" ({i18n.t('feed_filtered', lang)}: {', '.join(f'{k}={v}' for k, v in filters.pairs())})"
    fg.id(canonical)
    fg.title(clean(title))
    fg.subtitle(i18n.t("feed_sub", lang))
    fg.author({"name": "travelinfo"})
    fg.language(lang)
    fg.generator("travelinfo")
    # feedgen takes the RSS channel <link> from the last link() call: self first, alternate last.
    fg.link(href=self_url, rel="self", type=TYPES[fmt].split(";")[0])
    fg.link(href=page_url, rel="alternate", type="text/html")
    items = sorted(items[:MAX_ENTRIES], key=lambda d: not d.public_warning)  # warnings lead (stable)
    times = entry_times(items)
    newest = max((u for _, u in times.values()), default=updated)
    fg.updated(newest)
    fg.lastBuildDate(newest)
    # feedgen prepends entries; add oldest first so the document keeps the page's order.
    for d in reversed(items):
        _entry(fg, d, lang, base, fmt, times[d.id])
    if fmt == "atom":
        return bytes(fg.atom_str(pretty=False))
    return bytes(fg.rss_str(pretty=False))


def _entry(
    fg: FeedGenerator, d: Disruption, lang: str, base: str, fmt: str, times: tuple[datetime, datetime]
) -> None:
    permalink = f"{base}/d/{quote(d.id, safe=':@/')}"
    fe = fg.add_entry()
    fe.id(permalink)
    fe.guid(permalink, permalink=True)
    fe.title(clean(texts.header(d, lang)[1]))
    fe.link(href=permalink, rel="alternate", type="text/html")
    fe.published(times[0])
    fe.updated(times[1])
    if fmt == "rss":
        fe.description(rss_description(entry_text(d, lang)))
    else:
        fe.content(entry_text(d, lang), type="text")
    for mode in d.modes:
        fe.category(term=mode, scheme=f"{base}/modes", label=i18n.t(f"mode_{mode}", lang))
    fe.category(term=d.cause, scheme=f"{base}/causes", label=i18n.label(i18n.CAUSES, d.cause, lang))


def handler(fmt: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The GET handler of one feed format."""

    # Raw (path and query, Accept-Language) -> normalised variant and its cache key: feed
    # readers repeat the same URL, so the hot path is two dict lookups instead of parsing and
    # validating again. Bounded: a client can send endless distinct query strings.
    variants: Recent[tuple[str, str], tuple[Filters, str, str, tuple[object, ...]]] = Recent()

    async def serve(request: web.Request) -> web.StreamResponse:
        raw = (request.raw_path, request.headers.get("Accept-Language", ""))
        known = variants.get(raw)
        if known is None:
            filters, lang = parse_filters(request.query), page_lang(request)  # 400 before caching
            # The self link echoes the request's own (yarl-normalised) form, so the key holds it too.
            self_path = str(request.rel_url)
            key = feed_key(fmt, filters, lang, self_path, None)
            known = variants.put(raw, (filters, lang, self_path, key))
        filters, lang, self_path, key = known
        if "as_of" in request.query_string and "as_of" in request.query:
            at = history.read_as_of(request.query)
            rendered = await rendered_feed(request.app, fmt, filters, lang, self_path, at)
            return respond(request, rendered, cache_control="public, max-age=30")
        cache = request.app[appmod.CACHE]
        rendered = cache.peek(key) or await rendered_feed(request.app, fmt, filters, lang, self_path)
        return respond(request, rendered, cache_control="public, max-age=30", lane=math.inf)

    return serve


def feed_key(
    fmt: str, filters: Filters, lang: str, self_path: str | None, at: datetime | None
) -> tuple[object, ...]:
    """The render cache key of one feed variant."""
    return ("feed", fmt, filters.key(), lang, self_path, at)


async def rendered_feed(
    app: web.Application,
    fmt: str,
    filters: Filters,
    lang: str,
    self_path: str | None = None,
    at: datetime | None = None,
) -> Rendered:
    """The feed `fmt` for `filters` and `lang` (as it was `at`), rendered once per change.

    `self_path`: the request's own path and query for the self link (export: the canonical one).
    """
    key = feed_key(fmt, filters, lang, self_path, at)

    async def render() -> Rendered:
        q = filters.query(app[appmod.SETTINGS].region_bbox)
        items, _ = await history.listing(app[appmod.STORE], q, at)
        items = filters.window(items, at or datetime.now(UTC))
        last = at or app[appmod.HUB].last_change_at
        body = build(items, fmt, filters, lang, app[appmod.SETTINGS].public_url, last, self_path)
        return Rendered.make(body, TYPES[fmt], last, {"Vary": "Accept-Encoding, Accept-Language"})

    cache = app[appmod.CACHE]
    return cache.peek(key) or await cache.get(key, render)


def setup(app: web.Application) -> None:
    """Add the feed routes when this process serves the web role."""
    if "web" not in app[appmod.ROLES]:
        return
    app.router.add_get("/feeds/disruptions.atom", handler("atom"))
    app.router.add_get("/feeds/disruptions.rss", handler("rss"))
