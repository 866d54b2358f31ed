"""The bot's channels (`bot.channels`): which network each one posts to, with its post size."""

from __future__ import annotations

from typing import Any

from travelinfo.bot.bluesky import Bluesky
from travelinfo.bot.social import Mastodon, SocialNetwork
from travelinfo.bot.text import BLUESKY, MASTODON, MASTODON_FULL_LINKS, Limit
from travelinfo.config import Settings

CHANNELS = ("mastodon", "bluesky")


def make_network(settings: Settings, session: Any, channel: str = "mastodon") -> tuple[SocialNetwork, Limit]:
    """The configured network of `channel` and its post size; ValueError when not configured."""
    cfg = settings.bot
    if channel == "mastodon":
        if not cfg.base_url or not cfg.token:
            raise ValueError("bot.base_url and bot.token must be set to post to Mastodon")
        return Mastodon(cfg.base_url, cfg.token, session), mastodon_limit(settings)
    if channel == "bluesky":
        if not cfg.bluesky_url or not cfg.bluesky_handle or not cfg.bluesky_password:
            raise ValueError("bot.bluesky_url, bot.bluesky_handle and bot.bluesky_password must be set")
        return Bluesky(cfg.bluesky_url, cfg.bluesky_handle, cfg.bluesky_password, session), BLUESKY
    raise ValueError(f"bot.channels: unknown channel {channel!r} (mastodon, bluesky)")


def channel_key(settings: Settings, channel: str) -> str:
    """The records namespace of `channel`: none for the first one listed (its old keys)."""
    return "" if channel == settings.bot.channels[0] else channel


def mastodon_limit(settings: Settings) -> Limit:
    """500 characters, links as 23 (Mastodon) or in full (`bot.links_count_in_full`)."""
    return MASTODON_FULL_LINKS if settings.bot.links_count_in_full else MASTODON
