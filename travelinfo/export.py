"""`travelinfo export DIR`: write the rendered feeds as static files, atomically.

nginx or a CDN can then serve them at static-file speed. The files are fetched from the app
itself (the same renderers, the same bytes), each written to a temporary file and renamed
into place, so a reader never sees half a file. `--watch` re-exports after every change.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from travelinfo.runtime import commands

log = logging.getLogger("travelinfo.export")

EXPORTS = {
    "/feeds/disruptions.atom": "disruptions.atom",
    "/feeds/disruptions.rss": "disruptions.rss",
    "/gtfs-rt/alerts.pb": "alerts.pb",
    "/gtfs-rt/alerts.json": "alerts.json",
    "/api/v1/disruptions.geojson": "disruptions.geojson",
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


async def export_once(base: str, folder: Path, session: aiohttp.ClientSession) -> list[str]:
    """Fetch every exported path from the running app at `base` and write it; returns names."""
    written = []
    for path, name in EXPORTS.items():
        async with session.get(base + path) as resp:
            if resp.status == 404:
                continue
            resp.raise_for_status()
            write_atomic(folder / name, await resp.read())
            written.append(name)
    return written


async def export(settings: Any, folder: Path, watch: bool) -> None:
    from travelinfo.app import HUB, create_app

    app = create_app(settings, roles=frozenset({"web"}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            hub = app[HUB]
            await hub.started()
            sub = hub.subscribe()
            while True:
                names = await export_once(base, folder, session)
                log.info("exported %s to %s", ", ".join(names), folder)
                if not watch:
                    return
                await sub.wake.wait()
                sub.wake.clear()
                while not sub.queue.empty():
                    sub.queue.get_nowait()
    finally:
        await runner.cleanup()


def cmd_export(args: argparse.Namespace) -> int:
    settings = commands.settings_of(args)
    try:
        asyncio.run(export(settings, Path(args.dir), args.watch))
    except (OSError, aiohttp.ClientError) as exc:
        raise commands.CliError(f"export to {args.dir} failed: {exc}") from None
    except KeyboardInterrupt:
        return 0
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser("export", help="write the rendered feeds to a folder, atomically (for nginx or a CDN)")
    s.add_argument("dir", help="target folder")
    s.add_argument("--watch", action="store_true", help="keep running and re-export after every change")
    s.set_defaults(func=cmd_export)
