"""`travelinfo bot --dry-run` over a store filled from the demo feeds/ with the registered parsers."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.botutil import PUBLIC_URL
from travelinfo import cli
from travelinfo.bot.runner import Bot
from travelinfo.bot.social import Recorder
from travelinfo.bot.text import MAX_CHARS, is_valid_hashtag, mastodon_length
from travelinfo.config import load_settings
from travelinfo.ingest.parsers.base import PARSERS, ParseContext, load_builtins
from travelinfo.store import open_store_from_url

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "feeds"
# (source name, format, folder), as in config/travelinfo.toml
SOURCES = [
    ("trafikverket", "datex2", "trafikverket"),
    ("sl", "gtfsrt", "sl-alerts"),
    ("sjofartsverket", "navtex", "navtex"),
    ("krisinformation", "cap", "cap"),
]
AT = datetime(2026, 11, 25, 7, 50, tzinfo=UTC)


def _config(tmp_path: Path, **bot: object) -> Path:
    lines = [
        "[store]",
        f'url = "sqlite:///{tmp_path / "store.db"}"',
        "[web]",
        f'base_url = "{PUBLIC_URL}"',
        "[bot]",
    ] + [f"{k} = {v!r}" for k, v in bot.items()]
    path = tmp_path / "travelinfo.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _files(folder: str, first_only: bool) -> list[Path]:
    files = sorted(p for p in (FEEDS / folder).iterdir() if p.is_file())
    return files[:1] if first_only else files[1:]


async def _load_feeds(store: object, first_only: bool) -> int:
    """Parse the demo payloads (first file of each source, or the rest) into the store."""
    from travelinfo.ingest.gtfs_static import load_gtfs

    load_builtins()
    reference = load_gtfs(str(FEEDS / "sl-gtfs"))
    applied = 0
    for source, fmt, folder in SOURCES:
        if fmt not in PARSERS or not (FEEDS / folder).is_dir():
            continue  # a parser still being written by someone else: use what exists
        for i, path in enumerate(_files(folder, first_only)):
            at = AT + timedelta(minutes=0 if first_only else 15 * (i + 1))
            ctx = ParseContext(
                source=source,
                fetched_at=at,
                url=path.as_uri(),
                reference=reference if fmt == "gtfsrt" else None,
            )
            await store.apply(PARSERS[fmt](path.read_bytes(), ctx))  # type: ignore[attr-defined]
            applied += 1
    return applied


def _posts(out: str) -> list[tuple[str, str]]:
    """(header line, text) of each printed post."""
    parts = re.split(r"^(--- post \d+ \([^)]*\))\n", out, flags=re.M)[1:]
    return [(parts[i], parts[i + 1].rstrip("\n")) for i in range(0, len(parts), 2)]


def _check_post_texts(posts: list[tuple[str, str]]) -> None:
    for _head, text in posts:
        text = text.split("\n\n")[0] if text.endswith("nothing was posted.") else text
        assert mastodon_length(text) <= MAX_CHARS, text
        assert all(is_valid_hashtag(t) for t in re.findall(r"(?<!\S)#\S+", text)), text


def test_dry_run_prints_first_posts_of_the_demo_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, budget=50)
    settings = load_settings(config, env={})

    async def fill() -> int:
        store = open_store_from_url(settings.store.url)
        await store.open()
        try:
            return await _load_feeds(store, first_only=True)
        finally:
            await store.close()

    assert asyncio.run(fill()) >= 2
    at = (AT + timedelta(minutes=5)).isoformat()
    # A bot that never ran starts at the log's end: its next pass posts nothing, and so says the dry run.
    assert cli.main(["-c", str(config), "bot", "--dry-run", "--at", at]) == 0
    assert _posts(capsys.readouterr().out) == []
    assert cli.main(["-c", str(config), "bot", "--dry-run", "--from-start", "--at", at]) == 0
    out = capsys.readouterr().out
    posts = _posts(out)
    assert len(posts) >= 4, out
    assert out.rstrip().endswith(f"{len(posts)} post(s) would be made; nothing was posted.")
    _check_post_texts(posts)
    texts = "\n".join(t for _, t in posts)
    assert f"{PUBLIC_URL}/d/" in texts
    heads = [h for h, _ in posts]
    assert any("(sv, public)" in h for h in heads) and any("reply to post 1" in h for h in heads)
    if "datex2" in PARSERS:
        road = next(t for _, t in posts if "/d/trafikverket:" in t)
        assert "Gäller från" in road and re.search(r"#E\d+", road)
    if "gtfsrt" in PARSERS:
        assert "#Tunnelbanan" in texts and "Röda linjen 14" in texts
    if "cap" in PARSERS:
        assert "#VMA" in texts
    # Nothing was stored: no cursor, no thread, no claim.
    again = asyncio.run(_records(settings.store.url))
    assert again == (None, [])


async def _records(url: str) -> tuple[object, list[object]]:
    store = open_store_from_url(url)
    await store.open()
    try:
        return await store.get_record("bot_state", "cursor"), await store.list_records("bot_post")
    finally:
        await store.close()


def test_dry_run_shows_the_change_log_since_the_cursor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_builtins()
    if not {"gtfsrt", "datex2"} & set(PARSERS):
        pytest.skip("neither the DATEX II nor the GTFS-RT parser is registered yet")
    config = _config(tmp_path, budget=50)
    settings = load_settings(config, env={})

    async def run_bot_then_more_data() -> tuple[object, int]:
        store = open_store_from_url(settings.store.url)
        await store.open()
        try:
            bot = Bot(settings, store, Recorder(), clock=lambda: AT)
            await bot.load()
            await _load_feeds(store, first_only=True)
            assert await bot.step() > 0  # the bot really posted these (to a recorder)
            cursor = await store.get_record("bot_state", "cursor")
            await _load_feeds(store, first_only=False)
            return cursor, len(await store.list_records("bot_post"))
        finally:
            await store.close()

    cursor, records = asyncio.run(run_bot_then_more_data())
    at = (AT + timedelta(hours=2)).isoformat()
    assert cli.main(["-c", str(config), "bot", "--dry-run", "--at", at]) == 0
    out = capsys.readouterr().out
    posts = _posts(out)
    _check_post_texts(posts)
    replies = [(h, t) for h, t in posts if "reply to status" in h]
    assert replies, out  # updates and all-clears thread onto the posts already made
    texts = "\n".join(t for _, t in replies)
    assert "Uppdatering:" in texts or "Klart:" in texts
    if "gtfsrt" in PARSERS:
        assert "Klart: " in texts and "tågen går igen" in texts  # the metro is back (003-metro-back)
    # The dry run stored nothing.
    assert asyncio.run(_records(settings.store.url))[0] == cursor
    assert len(asyncio.run(_records(settings.store.url))[1]) == records
