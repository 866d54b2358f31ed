"""`travelinfo` command line: run, web, worker, check-config, parse, keys (and feature commands)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from travelinfo.config import ConfigError, Settings, documented_settings, load_settings
from travelinfo.runtime import clihelp
from travelinfo.runtime.commands import CliError, run_async, with_store
from travelinfo.runtime.commands import settings_of as _settings
from travelinfo.runtime.logs import AccessLogger, LogOptionError, access_logger, resolve, setup_logging
from travelinfo.runtime.textsafe import json_line, printable

log = logging.getLogger("travelinfo")

# Feature modules that add subcommands (`add_commands(subparsers)`), like an extension would.
COMMAND_MODULES = (
    "travelinfo.webhooks.routes",
    "travelinfo.webpush.routes",
    "travelinfo.bot.runner",
    "travelinfo.notices.routes",
    "travelinfo.export",
)


# -- serving ------------------------------------------------------------------------------------

# How long a shutdown may take before the process exits anyway: closing 10,000 streams took
# 1-6 s on two cores (bench/push.py). Under a supervisor's usual grace (Kubernetes 30 s).
SHUTDOWN_WAIT = 25.0


async def serve(settings: Settings, roles: frozenset[str], *, http: bool = True) -> int:
    """Run the app for `roles` until SIGTERM/SIGINT (exit status 0) or until a background task
    dies (logged; 1, so a supervisor restarts the process). A shutdown takes about a second with
    hundreds of streams, a few with 10,000; past SHUTDOWN_WAIT it is cut short (logged; 1)."""
    from travelinfo.app import FAILED, create_app
    from travelinfo.runtime.limits import make_runner, start_site

    app = create_app(settings, roles=roles)
    # Connection caps, header read and idle timeouts live in the runner (travelinfo.runtime.limits).
    access = access_logger()
    runner = make_runner(
        app,
        shutdown_timeout=0.5,
        handle_signals=False,
        access_log_class=AccessLogger,
        access_log=access if access.isEnabledFor(logging.INFO) else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runner.setup()
    if http:
        await start_site(runner, settings.web.host, settings.web.port, shutdown_timeout=0.5)
        log.info(
            "serving %s on http://%s:%d (store %s, roles %s)",
            "travelinfo",
            settings.web.host,
            settings.web.port,
            _safe_store(settings),
            ",".join(sorted(roles)),
        )
    else:
        log.info("running %s (store %s)", ",".join(sorted(roles)), _safe_store(settings))
    failed = app[FAILED]
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(failed.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for w in waits:
        w.cancel()
    log.info("shutting down" if not failed.is_set() else "shutting down after a background task died")
    try:
        await asyncio.wait_for(runner.cleanup(), SHUTDOWN_WAIT)
    except TimeoutError:
        log.error("shutdown still cleaning up after %g s: exiting without waiting further", SHUTDOWN_WAIT)
        return 1
    return 1 if failed.is_set() else 0


def _safe_store(settings: Settings) -> str:
    from travelinfo.config import redact_url

    url = settings.store.url
    return url if url.startswith("sqlite") else redact_url(url)


def roles_for_run(settings: Settings) -> frozenset[str]:
    roles = {"web", "worker", "deliver"}
    if settings.bot.enabled:
        roles.add("bot")
    return frozenset(roles)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    code: int = run_async(serve(settings, roles_for_run(settings)))
    return code


def cmd_web(args: argparse.Namespace) -> int:
    code: int = run_async(serve(_settings(args), frozenset({"web"})))
    return code


def cmd_worker(args: argparse.Namespace) -> int:
    code: int = run_async(serve(_settings(args), frozenset({"worker"}), http=False))
    return code


# -- check-config -------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    if args.list:
        for key, default, help_text in documented_settings():
            shown = "" if default is None else f" (default: {clihelp.shown_default(default)})"
            print(f"{key}{shown}\n    {help_text}")
        return 0
    path = args.file or args.config
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(printable(f"travelinfo: error: {problem}"), file=sys.stderr)
        return 2
    from travelinfo.ingest.parsers.base import PARSERS, load_builtins

    load_builtins()
    from travelinfo.notices.bootstrap import check_entries

    unknown = check_entries(settings.api.bootstrap_keys)
    unknown += [
        f"sources[{i}].type: unknown type {s.type!r} (known: {', '.join(sorted(PARSERS))})"
        for i, s in enumerate(settings.sources)
        if s.type not in PARSERS
    ]
    if unknown:
        for problem in unknown:
            print(f"travelinfo: error: {problem}", file=sys.stderr)
        return 2
    print(
        f"OK: {settings.path or 'defaults'}: {len(settings.sources)} source(s), store {_safe_store(settings)}"
    )
    return 0


# -- parse --------------------------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace) -> int:
    from travelinfo.ingest.parsers.base import DEFAULT_MAX_BYTES, ParseContext, ParseError, get_parser
    from travelinfo.model import format_time

    try:
        parser = get_parser(args.format)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    path = Path(args.file)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else path.read_bytes()
    except OSError as exc:
        raise CliError(f"{args.file}: {exc.strerror or exc}") from None
    reference = None
    if args.gtfs:
        from travelinfo.ingest.gtfs_static import load_gtfs

        reference = load_gtfs(args.gtfs)
    options: dict[str, str] = {}
    if args.lang:
        from travelinfo.ingest.parsers.vet import lang_tag

        if not lang_tag(args.lang):
            raise CliError(f"--lang {args.lang[:40]!r} is not a BCP 47 language tag (e.g. sv, en-GB)")
        options["lang"] = args.lang
    if args.tz:
        from travelinfo.vocab import ModelError, zone

        try:
            zone(args.tz)
        except ModelError as exc:
            raise CliError(f"--tz: {exc} (an IANA name such as Europe/Oslo)") from None
        options["tz"] = args.tz
    locations = None
    if args.alertc_table:
        from travelinfo.ingest.parsers.alertc import AlertCTable, TableError

        try:
            locations = AlertCTable.parse(Path(args.alertc_table).read_bytes())
        except (OSError, TableError) as exc:
            raise CliError(
                f"--alertc-table {args.alertc_table}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
    ctx = ParseContext(
        source=args.source or args.format,
        fetched_at=datetime.now(UTC),
        url=path.resolve().as_uri() if args.file != "-" else None,
        max_bytes=args.max_bytes or DEFAULT_MAX_BYTES,
        reference=reference,
        options=options,
        locations=locations,
    )
    try:
        batch = parser(data, ctx)
    except ParseError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    out = sys.stdout
    for d in batch.items:
        out.write(json_line(d.dumps()) + "\n")  # upstream text: no raw C1 or bidi controls
    for note in batch.notes:
        print(printable(f"travelinfo: note: {args.file}: {note}"), file=sys.stderr)
    if not batch.items and not batch.notes:
        print(f"travelinfo: note: {args.file}: no disruptions in this payload", file=sys.stderr)
    if batch.ended:
        print(f"travelinfo: note: {args.file}: ends {', '.join(batch.ended)}", file=sys.stderr)
    if args.verbose:
        kind = "full snapshot" if batch.complete else "delta"
        print(
            f"travelinfo: note: {len(batch.items)} disruption(s), {kind}, "
            f"fetched_at {format_time(batch.fetched_at)}",
            file=sys.stderr,
        )
    return 0


# -- keys ---------------------------------------------------------------------------------------


def cmd_keys(args: argparse.Namespace) -> int:
    from travelinfo.api import keys

    if args.keys_command == "create":
        scopes = [s for item in args.scope for s in item.split(",") if s]
        try:
            key, token = with_store(args, lambda st: keys.create_key(st, args.name, scopes, args.org))
        except ValueError as exc:
            raise CliError(str(exc)) from None
        print(
            f"created key {key.id} ({key.name}, org {key.org or '-'}, scopes {','.join(key.scopes)})",
            file=sys.stderr,
        )
        print("the token is shown once; store it now:", file=sys.stderr)
        print(token)
    elif args.keys_command == "list":
        for key in with_store(args, lambda st: keys.list_keys(st, args.org)):
            state = "revoked" if key.revoked else "active"
            fields = (key.id, key.name, key.org or "-", ",".join(key.scopes), key.created, state)
            print("\t".join(printable(str(f)) for f in fields))
    else:
        if not with_store(args, lambda st: keys.revoke_key(st, args.id)):
            raise CliError(f"no key with id {args.id}")
        print(f"revoked {args.id}")
    return 0


# -- sources -------------------------------------------------------------------------------------


def cmd_sources(args: argparse.Namespace) -> int:
    """`sources accept NAME`: the operator confirms a held (suspect) snapshot."""
    from travelinfo.ingest.guard import ACCEPT_KIND, accept_record

    settings = _settings(args)
    if args.name not in {s.name for s in settings.sources}:
        raise CliError(f"no source named {args.name!r} in {settings.path or 'the settings'}")

    async def accept(store: Any) -> dict[str, Any] | None:
        health: dict[str, Any] | None = await store.get_record("health", args.name)
        if not health or health.get("state") != "suspect":
            return health
        by = os.environ.get("USER") or "an operator"
        await store.put_record(ACCEPT_KIND, args.name, accept_record(datetime.now(UTC), by, health))
        return health

    health = with_store(args, accept)
    if not health or health.get("state") != "suspect":
        state = health.get("state") if health else "never polled"
        raise CliError(f"source {args.name} holds no snapshot (state {state}); nothing to accept")
    print(
        f"accepted: source {args.name} applies its next full snapshot (held: {health.get('suspect_reason')})"
    )
    return 0


# -- wiring -------------------------------------------------------------------------------------


def build_parser(*, features: bool = True) -> argparse.ArgumentParser:
    """The whole command line; `features=False`: only this module's own commands."""
    p = clihelp.Parser(
        prog="travelinfo",
        description="Real-time public travel information for the Stockholm region: collects DATEX II, "
        "GTFS-RT, SIRI-SX, NAVTEX and CAP, publishes a website, feeds, GTFS-RT and a push API.",
        epilog="Settings: config/travelinfo.toml, overridable by TRAVELINFO_* variables, PORT and REDIS_URL. "
        "`travelinfo check-config --list` shows every setting.",
    )
    clihelp.add_global_options(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("run", help="everything in one process: collectors, web, push, webhooks (and bot)")
    clihelp.add_serve_options(s)
    s.set_defaults(func=cmd_run)
    s = sub.add_parser("web", help="serve the website, feeds, GTFS-RT and API (no collecting)")
    clihelp.add_serve_options(s)
    s.set_defaults(func=cmd_web)
    s = sub.add_parser("worker", help="poll the sources into the store (one leader per store)")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("check-config", help="validate the settings; print every problem, or OK")
    s.add_argument("file", nargs="?", help="TOML file to check (default: the one in use)")
    s.add_argument("--list", action="store_true", help="list every setting with its default and help")
    s.set_defaults(func=cmd_check_config)

    s = sub.add_parser("parse", help="parse an upstream payload and print disruptions as NDJSON")
    s.add_argument("format", help="datex2, gtfsrt, siri-sx, navtex or cap")
    s.add_argument("file", help="payload file ('-' for standard input)")
    s.add_argument("--source", help="source name used in ids (default: the format)")
    s.add_argument("--max-bytes", type=int, help="refuse larger payloads")
    s.add_argument("--gtfs", help="GTFS static zip or folder for route/stop names and modes")
    s.add_argument("--lang", help="language of untagged upstream text (BCP 47; default per format)")
    s.add_argument("--tz", help="time zone of upstream times without offset (IANA; default Europe/Stockholm)")
    s.add_argument("--alertc-table", help="ALERT-C location table (CSV) the DATEX II AlertC codes refer to")
    s.add_argument("-v", "--verbose", action="store_true", help="print a summary line on stderr")
    s.set_defaults(func=cmd_parse)

    s = sub.add_parser("keys", help="manage scoped API keys (token shown once, stored hashed)")
    ks = s.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    k = ks.add_parser("create", help="create a key and print its token once")
    k.add_argument("--name", required=True, help="who the key is for")
    k.add_argument("--org", help="organisation the key acts for (operators' notices)")
    k.add_argument(
        "--scope",
        action="append",
        required=True,
        help="scope: read, webhooks, notices:write, notices:approve, admin (repeat or comma-separate)",
    )
    k = ks.add_parser("list", help="list keys (never tokens)")
    k.add_argument("--org", help="only this organisation's keys")
    k = ks.add_parser("revoke", help="revoke a key by id")
    k.add_argument("id")
    s.set_defaults(func=cmd_keys)

    s = sub.add_parser("sources", help="operate on sources (accept a held snapshot)")
    ss = s.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    k = ss.add_parser("accept", help="apply a source's held (suspect) full snapshot on its next poll")
    k.add_argument("name", help="source name")
    s.set_defaults(func=cmd_sources)

    for module in COMMAND_MODULES if features else ():
        importlib.import_module(module).add_commands(sub)
    clihelp.finish(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # This module's own commands need none of the feature modules, whose imports (web push,
    # webhooks, the bot, export) take about a second, more on a loaded machine: those are
    # loaded for their own commands, for --help and when options come before the command.
    parser = build_parser(features=False)
    if not words or words[0] not in {path for path, _ in clihelp.subcommands(parser)}:
        parser = build_parser()
    args = parser.parse_args(words)
    args.serve = serve  # feature commands run the service through runtime.commands.serve_roles
    try:
        setup_logging(*resolve(args.log_level, args.log_format, getattr(args, "access_log", None)))
    except LogOptionError as exc:
        print(f"travelinfo: error: {exc}", file=sys.stderr)
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return clihelp.quiet_broken_pipe()
    except CliError as exc:
        print(printable(f"travelinfo: error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
