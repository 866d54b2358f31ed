"""Store backends behind one Protocol (travelinfo.store.base.Store)."""

from __future__ import annotations

from pathlib import Path

from travelinfo.config import Settings
from travelinfo.store.base import Store


def open_store_from_url(
    url: str,
    *,
    grace: float = 6 * 3600,
    archive_retention: float = 30 * 86400,
    log_retention: float = 24 * 3600,
    root: Path | None = None,
    prefix: str = "ti",
    history_retention: float = 30 * 86400,
    archive_dir: Path | None = None,
) -> Store:
    """Make (not yet opened) the backend a store URL names."""
    if url.startswith("sqlite:"):
        from travelinfo.store.sqlite import SqliteStore

        return SqliteStore(
            url,
            grace=grace,
            archive_retention=archive_retention,
            log_retention=log_retention,
            root=root,
            history_retention=history_retention,
            archive_dir=archive_dir,
        )
    if url.startswith(("redis://", "rediss://", "unix://")):
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        from travelinfo.store.redis import RedisStore

        # `?prefix=NAME` namespaces the keys (several deployments or test runs on one Redis).
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        prefix = query.pop("prefix", prefix)
        url = urlunsplit(parts._replace(query=urlencode(query)))

        return RedisStore(
            url,
            grace=grace,
            archive_retention=archive_retention,
            log_retention=log_retention,
            prefix=prefix,
            history_retention=history_retention,
            archive_dir=archive_dir,
        )
    raise ValueError(f"unsupported store URL {url!r}")


def make_store(settings: Settings) -> Store:
    """The store the settings name."""
    s = settings.store
    h = settings.history
    archive = Path(h.archive_dir) if h.archive_dir else None
    if archive is not None and not archive.is_absolute():
        archive = settings.root() / archive
    return open_store_from_url(
        s.url,
        grace=s.grace,
        archive_retention=s.archive_retention,
        log_retention=s.log_retention,
        root=settings.root(),
        history_retention=h.retention,
        archive_dir=archive,
    )
