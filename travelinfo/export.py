"""`travelinfo export DIR`: write the rendered feeds as static files, atomically.

nginx or a CDN can then serve them at static-file speed. No HTTP server is started: the app
is set up (store, change hub, render cache) without a listening socket, and each file is the
`Rendered` result the HTTP handler serves (the same renderer, the same cache, the same bytes),
written to a temporary file and renamed into place, so a reader never sees half a file.
`--watch` re-exports once per change batch of the change log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict
from yarl import URL

from travelinfo.api import params as api_params
from travelinfo.api.params import FILTERS
from travelinfo.api.routes import rendered_geojson
from travelinfo.feeds.routes import rendered_feed
from travelinfo.filters import table
from travelinfo.gtfsrt import routes as gtfsrt_routes
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime import commands
from travelinfo.runtime.server import BadParameter, Rendered
from travelinfo.web.filters import Filters, parse_filters
from travelinfo.web.i18n import negotiate

log = logging.getLogger("travelinfo.export")

# The pages' and feeds' spelling of the filter table's rows (web.filters): `route` is their
# `line`, `status` their `when`; the rest of the table they do not take.
FEED_NAMES = {"mode": "mode", "route": "line", "road": "road", "area": "area", "search": "search"}
FEED_NAMES |= {"severity": "severity", "inferred": "inferred", "status": "when", "lang": "lang"}
FEED_WHEN = {"active": "now", "planned": "planned", "planned,active": "", "active,planned": ""}


@dataclass(frozen=True, slots=True)
class Selection:
    """What `--filter` asks for (nothing: everything), read once for each kind of output."""

    pairs: tuple[tuple[str, str], ...]  # as given, aliases resolved (the outputs' URLs)
    api: api_params.Request  # the filter table's reading: GeoJSON and GTFS-RT
    feed: Filters = Filters()  # the feeds' reading (the same meaning, the pages' names)
    feed_pairs: tuple[tuple[str, str], ...] = ()  # the feeds' URL (their self link)


def _feed_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in pairs:
        if name not in FEED_NAMES or (name == "status" and value not in FEED_WHEN):
            raise commands.CliError(
                f"--filter {name}={value[:60]}: the Atom/RSS feeds cannot filter by that; "
                "leave them out with --only (e.g. --only alerts.pb --only disruptions.geojson)"
            )
        if name == "status":
            value = FEED_WHEN[value]
        elif name == "severity":
            value = "" if value == "UNKNOWN_SEVERITY" else value.lower()
        if value:
            out.append((FEED_NAMES[name], value))
    return out


def select(filters: Iterable[str], settings: Any, feeds: bool = True) -> Selection:
    """The `--filter NAME=VALUE` options read by the filter table (`line` is `route`, as on the
    pages); a bad one is a CliError naming it, as the API's 400 would. `feeds`: also read them
    for the Atom/RSS feeds (refusing what those cannot filter by)."""
    pairs = []
    for given in filters:
        name, sep, value = given.partition("=")
        if not sep or not name:
            raise commands.CliError(f"--filter {given[:60]!r}: write NAME=VALUE, e.g. --filter route=14")
        pairs.append((table.ALIASES.get(name, name), value))
    raw: dict[str, list[str]] = {}
    for name, value in pairs:
        raw.setdefault(name, []).append(value)
    try:
        req = api_params.parse(raw, allowed=FILTERS, home=settings.region_bbox)
        feed_pairs = _feed_pairs(pairs) if feeds else []
        feed = parse_filters(MultiDict(feed_pairs))
        lang = dict(feed_pairs).get("lang")
        if lang is not None and negotiate(lang, "", settings.web.default_lang) is None:
            raise BadParameter("lang", "the Atom/RSS feeds take sv or en; leave them out with --only")
    except BadParameter as exc:
        raise commands.CliError(f"--filter {exc}") from None
    return Selection(tuple(pairs), req, feed, tuple(feed_pairs))


Renderer = Callable[[web.Application, Selection], Awaitable[Rendered]]


def with_query(path: str, pairs: Iterable[tuple[str, str]]) -> str:
    """`path?query` in the form aiohttp's client sends (`mode=metro,tram`, not `%2C`)."""
    query = urlencode(list(pairs))
    return str(URL(f"{path}?{query}")) if query else path


def _lang(app: web.Application, sel: Selection) -> str:
    """The feeds' language: `--filter lang=`, else what a request without one gets."""
    default = app[appmod.SETTINGS].web.default_lang
    return negotiate(dict(sel.feed_pairs).get("lang"), "", default) or default


def _feed(fmt: str) -> Renderer:
    # The self link names where the file is served: the live feed's path with the same filters.
    def render(app: web.Application, sel: Selection) -> Awaitable[Rendered]:
        path = with_query(f"/feeds/disruptions.{fmt}", sel.feed_pairs)
        return rendered_feed(app, fmt, sel.feed, _lang(app, sel), path)

    return render


def _geojson(app: web.Application, sel: Selection) -> Awaitable[Rendered]:
    return rendered_geojson(app, sel.api)


def _gtfsrt(kind: str) -> Renderer:
    def render(app: web.Application, sel: Selection) -> Awaitable[Rendered]:
        variant = gtfsrt_routes.Variant(gtfsrt_routes.feed_query(sel.api.query), sel.api.lang)
        return gtfsrt_routes.rendered(app, kind, variant)

    return render


# file name -> (the URL path serving the same bytes, its renderer)
EXPORTS: dict[str, tuple[str, Renderer]] = {
    "disruptions.atom": ("/feeds/disruptions.atom", _feed("atom")),
    "disruptions.rss": ("/feeds/disruptions.rss", _feed("rss")),
    "alerts.pb": ("/gtfs-rt/alerts.pb", _gtfsrt("pb")),
    "alerts.json": ("/gtfs-rt/alerts.json", _gtfsrt("json")),
    "disruptions.geojson": ("/api/v1/disruptions.geojson", _geojson),
}
FEEDS = ("disruptions.atom", "disruptions.rss")


def url_of(name: str, sel: Selection) -> str:
    """The path and query serving the bytes of export `name` for `sel` (send it as it is: the
    feeds' self link repeats it)."""
    return with_query(EXPORTS[name][0], sel.feed_pairs if name in FEEDS else sel.pairs)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def export_once(app: web.Application, folder: Path, sel: Selection, names: Iterable[str]) -> list[str]:
    """Write the exports `names` from the app's rendered results; returns the names written."""
    written = []
    for name in names:
        rendered = await EXPORTS[name][1](app, sel)
        await asyncio.to_thread(write_atomic, folder / name, rendered.body)
        written.append(name)
    return written


async def export(
    settings: Any,
    folder: Path,
    watch: bool,
    sel: Selection | None = None,
    only: Iterable[str] = (),
) -> None:
    """Set the app up without a listening socket and export once (or after every change).

    `sel`: the filters (default none); `only`: these files (default every one of EXPORTS)."""
    from travelinfo.app import create_app

    names = [n for n in EXPORTS if n in set(only)] if only else list(EXPORTS)
    sel = sel or select((), settings)
    app = create_app(settings, roles=frozenset({"web"}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # startup only: store, hub, caches; no site, no port
    try:
        hub = app[appmod.HUB]
        await hub.started()
        sub = hub.subscribe()
        while True:
            written = await export_once(app, folder, sel, names)
            log.info("exported %s to %s", ", ".join(written), folder)
            if not watch:
                return
            await sub.wake.wait()  # one export per change batch, however many events it had
            sub.wake.clear()
            while not sub.queue.empty():
                sub.queue.get_nowait()
    finally:
        await runner.cleanup()


def cmd_export(args: argparse.Namespace) -> int:
    settings = commands.settings_of(args)
    only = args.only or []
    sel = select(args.filter or [], settings, feeds=not only or bool(set(only) & set(FEEDS)))
    try:
        asyncio.run(export(settings, Path(args.dir), args.watch, sel, only))
    except OSError as exc:
        raise commands.CliError(f"export to {args.dir} failed: {exc}") from None
    except KeyboardInterrupt:
        return 0
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser(
        "export",
        help="write the rendered feeds to a folder, atomically (for nginx or a CDN)",
        description="Write " + ", ".join(EXPORTS) + " to DIR: the bytes their URLs serve.",
    )
    s.add_argument("dir", help="target folder")
    s.add_argument("--watch", action="store_true", help="keep running and re-export after every change")
    s.add_argument(
        "--filter",
        action="append",
        metavar="NAME=VALUE",
        help="a filter of /api/v1/disruptions, e.g. route=14, mode=metro, road=E4 (line= as on the "
        "pages); repeat for more. The files are then what their URLs serve with it",
    )
    s.add_argument(
        "--only",
        action="append",
        choices=list(EXPORTS),
        metavar="FILE",
        help="write only this file (repeat for more): " + ", ".join(EXPORTS),
    )
    s.set_defaults(func=cmd_export)
