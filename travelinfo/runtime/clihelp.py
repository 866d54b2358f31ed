"""What every `travelinfo` command shares: global options in any position, help that names the
environment, one-line usage errors, a quiet exit into a closed pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

from travelinfo.runtime.logs import FORMATS, LEVELS

# The variables every command that loads the settings reads (`parse` loads none).
SETTINGS_ENV = (
    ("TRAVELINFO_CONFIG", "settings file when -c is not given (default config/travelinfo.toml)"),
    ("TRAVELINFO_<SECTION>_<KEY>", "any setting, e.g. TRAVELINFO_WEB_BASE_URL (check-config --list)"),
    ("TRAVELINFO_STORE", "store URL (store.url); REDIS_URL when it is unset"),
    ("REDIS_URL", "store URL when TRAVELINFO_STORE is unset"),
    ("NAME of {env = ...}", "each variable a secret reference in the settings file names"),
)
LOG_ENV = (
    ("TRAVELINFO_LOG_LEVEL", f"as --log-level ({', '.join(LEVELS).lower()}; default info)"),
    ("TRAVELINFO_LOG_FORMAT", "as --log-format (text or json; default text)"),
)
SERVE_ENV = (
    ("PORT", "web.port (as --port)"),
    ("TRAVELINFO_WEB_HOST", "web.host (as --host)"),
    ("TRAVELINFO_ACCESS_LOG", "1 to log every request (as --access-log)"),
)
# Extra variables per command, beyond the settings and the log options.
COMMAND_ENV: dict[str, tuple[tuple[str, str], ...]] = {
    "run": SERVE_ENV,
    "web": SERVE_ENV,
    "sources": (("USER", "recorded as who accepted the snapshot"),),
}
NO_SETTINGS = frozenset({"parse"})


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (`travelinfo: error: ...`, exit 2)."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see `{self.prog} --help`)"
        self.exit(2, f"travelinfo: error: {message}{hint}\n")


def add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """`-c/--config`, `--log-level`, `--log-format` on `parser`; on a subcommand they default
    to SUPPRESS, so a value given before the command is kept unless repeated after it."""
    default: Any = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "-c", "--config", default=default, metavar="FILE", help="TOML settings file (env TRAVELINFO_CONFIG)"
    )
    group.add_argument(
        "--log-level",
        default=default,
        type=str.upper,
        choices=LEVELS,
        metavar="LEVEL",
        help=f"{', '.join(LEVELS).lower()} (env TRAVELINFO_LOG_LEVEL; default info)",
    )
    group.add_argument(
        "--log-format",
        default=default,
        type=str.lower,
        choices=FORMATS,
        metavar="FORMAT",
        help="text or json lines on stderr (env TRAVELINFO_LOG_FORMAT; default text)",
    )


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """`--host`, `--port`, `--access-log` of the commands that serve HTTP."""
    parser.add_argument("--host", help="address to bind (web.host; env TRAVELINFO_WEB_HOST)")
    parser.add_argument("--port", type=_port, help="port to listen on (web.port; env PORT)")
    parser.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log one line per request (env TRAVELINFO_ACCESS_LOG=1)",
    )


def _port(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {value[:20]!r}")
    return int(value)


def subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every (path, parser) below `parser`, e.g. ("keys create", ...), at any depth."""
    for action in parser._actions:  # argparse has no public walk of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for path, deeper in subcommands(sub):
                    yield f"{name} {path}", deeper


def environment_epilog(command: str) -> str:
    """The `Environment:` section of a command's --help."""
    top = command.split()[0]
    rows = [*LOG_ENV, *COMMAND_ENV.get(top, ())]
    if top not in NO_SETTINGS:
        rows = [*SETTINGS_ENV, *rows]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name.ljust(width)}  {text}" for name, text in rows]
    return "environment variables it reads:\n" + "\n".join(lines)


def finish(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand the global options and an environment section in its --help."""
    for path, sub in subcommands(parser):
        add_global_options(sub, top=False)
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        extra = environment_epilog(path)
        sub.epilog = f"{sub.epilog}\n\n{extra}" if sub.epilog else extra
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = f"{parser.epilog or ''}\n\n{environment_epilog('travelinfo')}".lstrip()


def shown_default(value: Any) -> str:
    """A default as `check-config --list` and README show it: TOML-like, `(empty)` for ''."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return "(empty)"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 30.0 is written `30`, as README and a TOML file say it
    return str(value)


def quiet_broken_pipe() -> int:
    """After a closed stdout (`travelinfo ... | head`): no traceback at exit, status 141 (SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141
