"""The seam for subcommands that features add (`add_commands(subparsers)`), like extensions.

A feature's command gets what it needs from here: the one-line error type, the settings, a
store for the command's duration, and `serve_roles`, which runs the service with the roles the
command names through the server that `travelinfo.cli` hands over in `args.serve`. So no
feature imports the CLI or the app factory.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from travelinfo.config import ConfigError, Settings, load_settings
from travelinfo.store import make_store
from travelinfo.store.base import Store


class CliError(Exception):
    """A one-line user error: printed as `travelinfo: error: ...`, exit status 2."""


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings the command line names (`--host`/`--port` win over them), or a one-line error."""
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        more = len(exc.problems) - 1
        tail = f" (and {more} more; run `travelinfo check-config`)" if more else ""
        raise CliError(f"configuration: {exc.problems[0]}{tail}") from None
    if getattr(args, "host", None):
        settings.web.host = args.host
    if getattr(args, "port", None):
        settings.web.port = args.port
    return settings


def with_store(args: argparse.Namespace, func: Callable[[Store], Awaitable[Any]]) -> Any:
    """Run `func(store)` with the configured store opened for the call."""

    async def go() -> Any:
        store = make_store(settings_of(args))
        await store.open()
        try:
            return await func(store)
        finally:
            await store.close()

    return asyncio.run(go())


def run_async(main: Any) -> Any:
    """Run a coroutine on uvloop when installed (the faster event loop), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.run(main)
    return uvloop.run(main)


def serve_roles(args: argparse.Namespace, settings: Settings, roles: frozenset[str], *, http: bool) -> int:
    """Run the service with `roles` until stopped (its exit status), through the CLI's server."""
    code: int = run_async(args.serve(settings, roles, http=http))
    return code
