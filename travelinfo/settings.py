"""Every setting of travelinfo as typed dataclasses: default and help line per field.

`travelinfo.config` loads them from TOML and the environment; README.md documents each one
(a test checks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from travelinfo.runtime.fields import default_of as default_of
from travelinfo.runtime.fields import format_duration as format_duration
from travelinfo.runtime.fields import parse_duration as parse_duration
from travelinfo.runtime.fields import setting as setting


@dataclass
class StoreSettings:
    url: str = setting(
        "sqlite:///var/travelinfo.db",
        "Store URL: `sqlite:///PATH` (embedded default) or `redis://host:6379/0`. "
        "Env `TRAVELINFO_STORE`; `REDIS_URL` is used when that is unset.",
    )
    grace: float = setting(6 * 3600, "How long ended items stay readable before archiving.", "duration")
    archive_retention: float = setting(
        30 * 86400, "How long archived (ended) items are kept before pruning.", "duration"
    )
    log_retention: float = setting(
        "24h", "How long the change log keeps events for resuming clients.", "duration"
    )
    expire_interval: float = setting(30, "How often ended/archived/started items are swept.", "duration")


@dataclass
class HistorySettings:
    retention: float = setting(
        30 * 86400, "How long every published version stays in the store (`as_of`, `/history`).", "duration"
    )
    archive_dir: str = setting(
        "",
        "Folder for the daily archive files of versions (NDJSON gzip + manifest.json); older `as_of` "
        "answers come from them. Empty: no archive, versions are dropped after `history.retention`.",
    )


@dataclass
class WebSettings:
    host: str = setting("127.0.0.1", "Address the web server binds to.")
    port: int = setting(8080, "Port of the web server (env `PORT`).")
    base_url: str = setting("", "Public base URL used in feeds, posts and links (default http://HOST:PORT).")
    default_lang: str = setting("sv", "Language of pages when the reader asks for none (sv or en).")
    map_tiles: str = setting(
        "",
        "Base-map tile URL template with {z}/{x}/{y} (e.g. a tile server you may use under its policy); "
        "empty: maps draw the items alone, without a base map (the demo and tests).",
    )
    map_attribution: str = setting(
        "", "Attribution shown on maps with the base map (e.g. its copyright line)."
    )
    region: list[float] = setting(
        [17.2, 58.6, 19.9, 60.4],
        "Home region bbox [minLon, minLat, maxLon, maxLat]: pages, feeds and GTFS-RT leave out items "
        "wholly outside it (the API's `region=all` shows everything; empty: no limit).",
    )


@dataclass
class SchedulerSettings:
    interval: float = setting("60s", "Default poll interval of a source.", "duration")
    timeout: float = setting(20, "Default per-request timeout.", "duration")
    stale_after: float = setting(
        0, "Default age after which a source counts as stale (0: 3 x interval).", "duration"
    )
    max_bytes: int = setting(64 * 1024 * 1024, "Default maximum payload size in bytes.")
    backoff_max: float = setting(900, "Longest wait between retries of a failing source.", "duration")
    jitter: float = setting(0.1, "Random share of the interval added to the first poll.")
    lock_ttl: float = setting(
        10,
        "Expiry of the leader lock of a worker (renewed every third of it; taken over after it).",
        "duration",
    )
    parse_workers: int = setting(
        2, "Parser processes (payloads are parsed in this separate pool, never on the event loop)."
    )
    parse_timeout: float = setting(
        10,
        "Hard limit on parsing one payload; then the parser process is killed and replaced and "
        "the source fails with `parse timed out after N s`.",
        "duration",
    )


@dataclass
class ReferenceSettings:
    gtfs_static: str = setting("", "GTFS static zip (path or URL) giving route/stop/agency names and modes.")
    refresh: float = setting(86400, "How often the GTFS static data is reloaded.", "duration")
    max_bytes: int = setting(512 * 1024 * 1024, "Largest GTFS static zip (or folder) accepted, in bytes.")
    timeout: float = setting(300, "Time limit to download, and to load, the GTFS static data.", "duration")


# The GTFS static data is polled as a source of the scheduler under this name (health record).
REFERENCE_SOURCE = "gtfs-static"


@dataclass
class ImpactSettings:
    """Impact inference and incident fusion (travelinfo/impacts; README explains each default)."""

    enabled: bool = setting(
        True, "Infer which lines road and shipping events may affect, and fuse incidents."
    )
    buffer_m: float = setting(
        30.0, "Half-width of the corridor around a road event a line must run inside (m)."
    )
    min_overlap_m: float = setting(150.0, "Shortest run along a road event that counts as affected (m).")
    min_overlap_share: float = setting(
        0.5, "Or this share of a road event shorter than `min_overlap_m` (0-1)."
    )
    point_radius_m: float = setting(25.0, "A point road event affects lines passing this close (m).")
    heading_tolerance: float = setting(
        30.0, "Largest angle (degrees) between a line and the road it runs along (else it crosses)."
    )
    compass_tolerance: float = setting(
        75.0, "Largest angle (degrees) between a line and a point event's stated compass direction."
    )
    road_effects: list[str] = setting(
        ["NO_SERVICE", "REDUCED_SERVICE", "SIGNIFICANT_DELAYS", "DETOUR"],
        "Effects of road events that hinder traffic (others infer nothing).",
    )
    road_modes: list[str] = setting(["bus", "tram"], "Modes of lines that run on roads.")
    ferry_buffer_m: float = setting(50.0, "Margin around a shipping warning's area or fairway (m).")
    fuse_distance_m: float = setting(
        300.0, "Largest distance between two items' places to be one incident (m)."
    )
    gtfsrt_inferred: bool = setting(
        False, "Also publish inferred impacts in GTFS-RT, as separate alerts worded as inferred."
    )
    fuse_slack: float = setting(
        1800, "Time slack when comparing two items' validity to be one incident.", "duration"
    )


@dataclass
class ApiSettings:
    rate_per_key: float = setting(20, "Requests per second allowed per API key (token bucket).")
    rate_per_ip: float = setting(10, "Requests per second allowed per client address.")
    burst: int = setting(60, "Token bucket size (burst) for rate limits.")
    page_size: int = setting(100, "Default page size of list endpoints.")
    max_body: int = setting(256 * 1024, "Largest accepted request body in bytes.")
    bootstrap_keys: list[dict[str, Any]] = setting(
        [], "API keys created on first start if absent: [{name, org, scopes}] (token printed once)."
    )


@dataclass
class NoticeSettings:
    approval: bool = setting(
        False, "Four-eyes: a notice made by a key without `notices:approve` waits for such a key's approval."
    )
    session_idle: float = setting(1800, "An operator web UI session ends after this long unused.", "duration")


@dataclass
class PushSettings:
    heartbeat: float = setting(15, "Seconds between SSE heartbeat comments.", "duration")
    retry_ms: int = setting(3000, "SSE `retry:` hint to clients, in milliseconds.")
    max_duration: float = setting(
        0, "An SSE stream is ended after this long (clients reconnect and resume). 0: never.", "duration"
    )


@dataclass
class LimitSettings:
    max_connections: int = setting(
        12000, "Open connections allowed in total (held under the open-file limit); beyond: 503. 0: no limit."
    )
    connections_per_ip: int = setting(
        100, "Open connections allowed per client address; beyond: 429. 0: no limit."
    )
    streams_per_ip: int = setting(
        20, "Concurrent SSE/WebSocket streams per client address; beyond: 429. 0: no limit."
    )
    header_timeout: float = setting(
        10, "A connection that has not sent a request's complete headers within this is closed.", "duration"
    )
    idle_timeout: float = setting("60s", "An idle keep-alive connection is closed after this.", "duration")
    body_timeout: float = setting(30, "A request body not received within this is refused (408).", "duration")
    retry_after: int = setting(5, "`Retry-After` seconds sent with a 429/503 from these limits.")
    backlog: int = setting(1024, "Listen backlog of the web server socket.")
    fast_lane: bool = setting(True, "Answer repeated cached GETs from prepared bytes before aiohttp runs.")


@dataclass
class WebhookSettings:
    allow_hosts: list[str] = setting(
        [],
        "Addresses/networks (e.g. 127.0.0.1, 10.0.0.0/8) webhooks may target despite the SSRF guard.",
    )
    max_age: float = setting("24h", "How long a delivery is retried before dead-lettering.", "duration")
    timeout: float = setting(10, "Per-delivery request timeout.", "duration")
    backoff_base: float = setting(2, "First retry delay of a failed delivery.", "duration")
    backoff_max: float = setting(
        300, "Longest delay between requests to a failing receiver (its backoff cap).", "duration"
    )
    failure_threshold: int = setting(5, "Failed requests in a row after which a webhook is `failing`.")


@dataclass
class WebPushSettings(WebhookSettings):
    """Web Push: the webhook delivery knobs (backoff, breaker, SSRF allowlist) plus its own."""

    enabled: bool = setting(True, "Deliver Web Push notifications (the `deliver` role; `travelinfo run`).")
    subject: str = setting(
        "mailto:ops@travelinfo.invalid", "VAPID `sub` claim: a mailto: or https: contact for push services."
    )
    max_subscriptions: int = setting(100000, "Push subscriptions kept in total; beyond: 409 at subscribe.")
    per_hour: int = setting(20, "Notifications per subscription per hour; more wait (never dropped).")
    concurrency: int = setting(200, "Push requests in flight at once (across subscriptions).")


@dataclass
class BotSettings:
    enabled: bool = setting(False, "Run the social media bot inside `travelinfo run`.")
    base_url: str = setting("", "Mastodon server base URL (e.g. https://mastodon.example).")
    token: str = setting("", 'Mastodon access token: an env reference `{env = "NAME"}`.')
    language: str = setting("sv", "Language of posts.")
    second_language: str = setting("en", "Second language, posted as a reply (empty: none).")
    visibility: str = setting("public", "Visibility of posts (public, unlisted, private).")
    min_severity: str = setting("WARNING", "Post disruptions at or above this severity.")
    within: float = setting("24h", "Post planned disruptions starting within this time.", "duration")
    modes: list[str] = setting([], "Only these modes (empty: all).")
    sources: list[str] = setting([], "Only these sources (empty: all).")
    routes: list[str] = setting([], "Only these lines/roads (empty: all).")
    area: list[float] = setting(
        [], "Only inside this bbox [minLon, minLat, maxLon, maxLat] (empty: web.region)."
    )
    budget: int = setting(
        6, "Posts per budget window; beyond it one digest (never for SEVERE, CAP/VMA, notices)."
    )
    budget_window: float = setting(600, "Budget window.", "duration")
    flap_window: float = setting(
        1800, "An item back within this time of its all-clear is an update in its old thread.", "duration"
    )
    all_clear_hold: float = setting(
        300, "Hold an all-clear back this long; an item back within it continues its thread.", "duration"
    )
    lock_ttl: float = setting(
        60,
        "Expiry of a channel's posting lease (renewed every third; another bot takes over after it).",
        "duration",
    )
    links_count_in_full: bool = setting(
        False, "The Mastodon-API server counts links in full (GoToSocial, mastodon_mock), not as 23."
    )
    channels: list[str] = setting(
        ["mastodon"], "Networks to post to: `mastodon`, `bluesky` (own threads each)."
    )
    bluesky_url: str = setting("https://bsky.social", "Bluesky PDS base URL (XRPC).")
    bluesky_handle: str = setting("", "Bluesky handle or DID of the bot's account.")
    bluesky_password: str = setting("", 'Bluesky app password: an env reference `{env = "NAME"}`.')


@dataclass
class GuardConfig:
    """The snapshot sanity guard of one source (`[sources.guard]` / `guard = {...}`)."""

    enabled: bool = setting(True, "Hold suspicious full snapshots instead of applying them.")
    max_drop_share: float = setting(
        0.5, "Hold a snapshot that would end more than this share of the source's items..."
    )
    min_drop_items: int = setting(
        5, "...when at least this many would end (ending all items is always held)."
    )
    confirm_polls: int = setting(3, "Accept a held result once it has been seen in this many polls in a row.")
    confirm_after: float = setting(
        0, "Also accept a held result repeated for this long (0: polls only).", "duration"
    )


@dataclass
class SourceConfig:
    """One upstream source (`[[sources]]`)."""

    name: str
    type: str
    url: str
    interval: float = 60.0
    timeout: float = 20.0
    stale_after: float = 180.0
    max_bytes: int = 64 * 1024 * 1024
    parse_timeout: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    allow_redirect_hosts: list[str] = field(default_factory=list)
    guard: GuardConfig = field(default_factory=GuardConfig)

    def __repr__(self) -> str:  # never print secrets
        return f"SourceConfig(name={self.name!r}, type={self.type!r}, url={self.url!r})"


SOURCE_KEYS = {f.name for f in dataclasses.fields(SourceConfig)}
# Cadence defaults per source type when a source gives none: Trafiklab's realtime quota is
# shared by all feeds of a key (60 s leaves room); Sjöfartsverket's NAVTEX page changes a few
# times a day and has no API (15 min, stale after 6 h).
TYPE_DEFAULTS: dict[str, dict[str, float]] = {
    "datex2": {"interval": 60},
    "gtfsrt": {"interval": 60},
    "siri-sx": {"interval": 60},
    "navtex": {"interval": 900, "stale_after": 6 * 3600},
    "cap": {"interval": 120},
    # SL Deviations asks for fair use (one request a minute); Trafikverket's API allows more,
    # but its changes come incrementally (or pushed), so a minute is plenty; VMA is CAP-JSON.
    "sl-deviations": {"interval": 60},
    "trafikverket": {"interval": 60},
    "vma": {"interval": 60},
}
SOURCE_HELP = {
    "name": "Unique source name; prefixes every disruption id.",
    "type": "Format/collector: datex2, gtfsrt, siri-sx, navtex, cap, trafikverket, sl-deviations, vma.",
    "url": "http(s) URL, `file:` URL, or a folder under feeds/ replayed one file per poll.",
    "interval": "Poll interval (default scheduler.interval).",
    "timeout": "Request timeout (default scheduler.timeout).",
    "stale_after": "Age after which the source is stale (default 3 x interval).",
    "max_bytes": "Largest accepted payload (default scheduler.max_bytes).",
    "parse_timeout": "Hard limit on parsing one payload (default scheduler.parse_timeout).",
    "headers": 'Request headers; secrets as `{env = "NAME"}`.',
    "params": 'Query parameters added to the URL; secrets as `{env = "NAME"}` (never logged).',
    "options": "Format options, e.g. `{ complete = false }` to treat payloads as deltas.",
    "enabled": "Set false to keep a source configured but not polled.",
    "allow_redirect_hosts": "Other hosts redirects may lead to (never sent headers or params); "
    "default: same scheme and host only, at most 3 redirects.",
    "guard": "Snapshot sanity guard table (keys below): suspicious full snapshots are held.",
}


@dataclass
class Settings:
    """Every setting of travelinfo, typed and defaulted."""

    store: StoreSettings = field(default_factory=StoreSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    web: WebSettings = field(default_factory=WebSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    reference: ReferenceSettings = field(default_factory=ReferenceSettings)
    impacts: ImpactSettings = field(default_factory=ImpactSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    notices: NoticeSettings = field(default_factory=NoticeSettings)
    push: PushSettings = field(default_factory=PushSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    webpush: WebPushSettings = field(default_factory=WebPushSettings)
    bot: BotSettings = field(default_factory=BotSettings)
    sources: list[SourceConfig] = field(default_factory=list)
    path: str | None = None

    @property
    def public_url(self) -> str:
        return (self.web.base_url or f"http://{self.web.host}:{self.web.port}").rstrip("/")

    @property
    def region_bbox(self) -> tuple[float, float, float, float] | None:
        """`web.region` as a bbox tuple (None when unset)."""
        r = self.web.region
        return (float(r[0]), float(r[1]), float(r[2]), float(r[3])) if len(r) == 4 else None

    def root(self) -> Path:
        """Folder relative paths in the config are resolved against (the project root)."""
        if self.path:
            parent = Path(self.path).resolve().parent
            return parent.parent if parent.name == "config" else parent
        return Path.cwd()


def _shown(f: dataclasses.Field[Any]) -> Any:
    """A field's default as documented: a duration as written, anything else as it is."""
    if f.metadata.get("kind") == "duration":
        return f.metadata.get("written") or format_duration(default_of(f))
    return default_of(f)


def documented_settings() -> Iterator[tuple[str, Any, str]]:
    """(key path, default as documented, help) of every setting, for docs and `check-config --list`
    (durations as written: `6h`, not 21600)."""
    for section in dataclasses.fields(Settings):
        if section.name in ("sources", "path"):
            continue
        for f in dataclasses.fields(default_of(section)):
            yield f"{section.name}.{f.name}", _shown(f), f.metadata["help"]
    for key in SOURCE_HELP:
        yield f"sources[].{key}", None, SOURCE_HELP[key]
    for f in dataclasses.fields(GuardConfig):
        yield f"sources[].guard.{f.name}", _shown(f), f.metadata["help"]
