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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import MultiDict

from travelinfo.api import params as api_params
from travelinfo.api.routes import rendered_geojson
from travelinfo.feeds.routes import rendered_feed
from travelinfo.gtfsrt import routes as gtfsrt_routes
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime import commands
from travelinfo.runtime.server import Rendered
from travelinfo.web.filters import parse_filters
from travelinfo.web.i18n import negotiate

log = logging.getLogger("travelinfo.export")

Renderer = Callable[[web.Application], Awaitable[Rendered]]


def _lang(app: web.Application) -> str:
    """The language a request without `lang` and Accept-Language gets."""
    default = app[appmod.SETTINGS].web.default_lang
    return negotiate(None, "", default) or default


def _feed(fmt: str) -> Renderer:
    # The self link names where the file is served: the same path as the live feed.
    return lambda app: rendered_feed(
        app, fmt, parse_filters(MultiDict()), _lang(app), f"/feeds/disruptions.{fmt}"
    )


def _geojson(app: web.Application) -> Awaitable[Rendered]:
    settings = app[appmod.SETTINGS]
    req = api_params.parse(
        {}, allowed=api_params.FILTERS, page_size=settings.api.page_size, home=settings.region_bbox
    )
    return rendered_geojson(app, req)


# file name -> (the URL path serving the same bytes, its renderer)
EXPORTS: dict[str, tuple[str, Renderer]] = {
    "disruptions.atom": ("/feeds/disruptions.atom", _feed("atom")),
    "disruptions.rss": ("/feeds/disruptions.rss", _feed("rss")),
    "alerts.pb": ("/gtfs-rt/alerts.pb", lambda app: gtfsrt_routes.rendered(app, "pb")),
    "alerts.json": ("/gtfs-rt/alerts.json", lambda app: gtfsrt_routes.rendered(app, "json")),
    "disruptions.geojson": ("/api/v1/disruptions.geojson", _geojson),
}


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


async def export_once(app: web.Application, folder: Path) -> list[str]:
    """Write every export from the app's rendered results; returns the file names written."""
    written = []
    for name, (_path, render) in EXPORTS.items():
        rendered = await render(app)
        await asyncio.to_thread(write_atomic, folder / name, rendered.body)
        written.append(name)
    return written


async def export(settings: Any, folder: Path, watch: bool) -> None:
    """Set the app up without a listening socket and export once (or after every change)."""
    from travelinfo.app import create_app

    app = create_app(settings, roles=frozenset({"web"}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # startup only: store, hub, caches; no site, no port
    try:
        hub = app[appmod.HUB]
        await hub.started()
        sub = hub.subscribe()
        while True:
            names = await export_once(app, folder)
            log.info("exported %s to %s", ", ".join(names), folder)
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
    try:
        asyncio.run(export(settings, Path(args.dir), args.watch))
    except OSError as exc:
        raise commands.CliError(f"export to {args.dir} failed: {exc}") from None
    except KeyboardInterrupt:
        return 0
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser("export", help="write the rendered feeds to a folder, atomically (for nginx or a CDN)")
    s.add_argument("dir", help="target folder")
    s.add_argument("--watch", action="store_true", help="keep running and re-export after every change")
    s.set_defaults(func=cmd_export)
