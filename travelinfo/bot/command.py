"""`travelinfo bot`: run the bot, or print what its next pass would post (`--dry-run`)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from travelinfo.bot.channels import CHANNELS, channel_key, mastodon_limit
from travelinfo.bot.rules import Rules
from travelinfo.bot.runner import Bot, _now
from travelinfo.bot.social import Recorder
from travelinfo.bot.text import BLUESKY
from travelinfo.config import Settings
from travelinfo.model import format_time, parse_time
from travelinfo.runtime import commands
from travelinfo.store.base import Store


def print_posts(
    posts: list[dict[str, str | None]], out: TextIO, held: list[tuple[str, datetime]] | None = None
) -> None:
    """Print recorded posts in order, each with its language, visibility and reply target.

    `held`: all-clears held back (bot.all_clear_hold) and when they come due.
    """
    number = {p["id"]: i for i, p in enumerate(posts, 1)}
    for i, p in enumerate(posts, 1):
        target = p["in_reply_to"]
        reply = ""
        if target:
            reply = f", reply to post {number[target]}" if target in number else f", reply to status {target}"
        out.write(f"--- post {i} ({p['language']}, {p['visibility']}{reply})\n{p['text']}\n\n")
    for ident, due in held or []:
        out.write(f"held back: the all-clear of {ident}, due {format_time(due)} unless it comes back\n")
    out.write(f"{len(posts)} post(s) would be made; nothing was posted.\n")


async def dry_run(
    settings: Settings,
    store: Store,
    at: datetime | None = None,
    *,
    from_start: bool = False,
    channel: str | None = None,
    held: list[tuple[str, datetime]] | None = None,
) -> list[dict[str, str | None]]:
    """The posts the bot's next pass would make from its cursor, posting and storing nothing.

    `from_start`: first the whole current picture (what a bot new to the store would post if
    it did post history), then the change log since the cursor. `held` gets the all-clears
    still held back after that pass.
    """
    channel = channel or settings.bot.channels[0]
    recorder = Recorder()
    limit = BLUESKY if channel == "bluesky" else mastodon_limit(settings)
    bot = Bot(
        settings, store, recorder, dry=True, clock=(lambda: at) if at else _now,
        channel=channel_key(settings, channel), limit=limit,
    )  # fmt: skip
    await bot.load()
    if from_start:
        await bot.preview_current()
    await bot.step()
    if held is not None:
        held.extend((i, datetime.fromtimestamp(t, UTC)) for i, t in sorted(bot.state.ending.items()))
    return recorder.posts


def cmd_bot(args: argparse.Namespace) -> int:
    settings = commands.settings_of(args)
    try:
        Rules.from_settings(settings.bot, settings.region_bbox)
        at = parse_time(args.at) if args.at else None
        for channel in settings.bot.channels:
            if channel not in CHANNELS:
                raise ValueError(f"bot.channels: unknown channel {channel!r} (mastodon, bluesky)")
        if not settings.bot.channels:
            raise ValueError("bot.channels: name at least one channel (mastodon, bluesky)")
        if args.channel and args.channel not in settings.bot.channels:
            raise ValueError(f"--channel {args.channel!r} is not in bot.channels")
    except ValueError as exc:
        raise commands.CliError(str(exc)) from None
    if args.dry_run:
        held: list[tuple[str, datetime]] = []
        posts = commands.with_store(
            args,
            lambda store: dry_run(
                settings, store, at, from_start=args.from_start, channel=args.channel, held=held
            ),
        )
        print_posts(posts, sys.stdout, held)
        if not settings.web.base_url:  # the service would link the same way: say so
            sys.stderr.write(f"links use {settings.public_url} (web.base_url is not set)\n")
        return 0
    if "mastodon" in settings.bot.channels and (not settings.bot.base_url or not settings.bot.token):
        raise commands.CliError("bot.base_url and bot.token must be set (or use --dry-run)")
    if "bluesky" in settings.bot.channels and not (
        settings.bot.bluesky_handle and settings.bot.bluesky_password
    ):
        raise commands.CliError("bot.bluesky_handle and bot.bluesky_password must be set (or use --dry-run)")
    return commands.serve_roles(args, settings, frozenset({"bot"}), http=False)


def add_commands(subparsers: Any) -> None:
    """`travelinfo bot [--dry-run [--from-start] [--channel NAME]] [--at TIME]`."""
    s = subparsers.add_parser("bot", help="post disruptions to Mastodon/Bluesky (--dry-run prints the posts)")
    s.add_argument("--dry-run", action="store_true", help="print what the next pass would post; post nothing")
    s.add_argument(
        "--from-start", action="store_true", help="with --dry-run: preview posting the whole current picture"
    )
    s.add_argument("--channel", help="with --dry-run: the channel to preview (default: the first one)")
    s.add_argument("--at", help="with --dry-run: apply the rules at this RFC 3339 time instead of now")
    s.set_defaults(func=cmd_bot)
