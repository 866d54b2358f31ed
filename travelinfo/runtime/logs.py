"""Logging of every command: text (default) or JSON lines on stderr, an optional access log.

`--log-level` / `TRAVELINFO_LOG_LEVEL`, `--log-format` / `TRAVELINFO_LOG_FORMAT` (`text` or
`json`) and `--access-log` / `TRAVELINFO_ACCESS_LOG` choose them. A JSON line carries `time`
(UTC, RFC 3339), `level`, `logger`, `message`, and for an access line `method`, `path`,
`route`, `status`, `bytes`, `duration_ms`, `remote`. Configured secrets are scrubbed from both.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from pythonjsonlogger.json import JsonFormatter

from travelinfo.runtime import secrets

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
ACCESS_LOGGER = "travelinfo.access"
_TRUE = ("1", "true", "yes", "on")


class LogOptionError(ValueError):
    """A log option with a value we do not know (the CLI turns it into one line and exit 2)."""


class _UtcText(logging.Formatter):
    """Text lines with an RFC 3339 UTC time, like the JSON lines."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for `text` or `json`."""
    if fmt == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )
    return _UtcText(TEXT_FORMAT)


def resolve(
    level: str | None, fmt: str | None, access: bool | None, env: dict[str, str] | None = None
) -> tuple[str, str, bool]:
    """The options given on the command line, else from the environment, else the defaults."""
    import os

    env = dict(os.environ) if env is None else env
    chosen_level = (level or env.get("TRAVELINFO_LOG_LEVEL") or "INFO").upper()
    if chosen_level not in LEVELS:
        raise LogOptionError(
            f"log level {chosen_level.lower()!r}: expected one of {', '.join(LEVELS).lower()}"
        )
    chosen_fmt = (fmt or env.get("TRAVELINFO_LOG_FORMAT") or "text").lower()
    if chosen_fmt not in FORMATS:
        raise LogOptionError(f"log format {chosen_fmt!r}: expected text or json")
    if access is None:
        access = env.get("TRAVELINFO_ACCESS_LOG", "").strip().lower() in _TRUE
    return chosen_level, chosen_fmt, access


def setup_logging(level: str = "INFO", fmt: str = "text", access: bool = False) -> None:
    """One stderr handler on the root logger, secrets scrubbed, the access log on or off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "travelinfo", False):
            root.removeHandler(old)
    handler.travelinfo = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO if access else logging.WARNING)
    secrets.install_log_filter([handler])  # configured secrets never reach the log


class AccessLogger(AbstractAccessLogger):
    """One line per answered request: `GET /path 200 1234 B 3.1 ms <remote>` (and fields in JSON)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = secrets.scrub(request.path_qs)
        route = "unmatched"
        match = getattr(request, "match_info", None)
        resource = match.route.resource if match is not None else None
        if resource is not None:
            route = resource.canonical
        fields: dict[str, Any] = {
            "method": request.method,
            "path": path,
            "route": route,
            "status": response.status,
            "bytes": response.body_length,
            "duration_ms": round(time * 1000, 1),
            "remote": request.remote or "-",
        }
        self.logger.info(
            "%s %s %d %d B %.1f ms %s",
            request.method,
            path,
            response.status,
            response.body_length,
            time * 1000,
            fields["remote"],
            extra=fields,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def access_logger() -> logging.Logger:
    """The logger access lines go to (INFO when the access log is on)."""
    return logging.getLogger(ACCESS_LOGGER)
