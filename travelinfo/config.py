"""Settings: one TOML file, every value overridable by environment, secrets only by env reference.

Each setting is a dataclass field with a default and a help line (`metadata["help"]`); README.md
documents every one (a test checks). The environment override of `section.key` is
`TRAVELINFO_SECTION_KEY`; `PORT`, `REDIS_URL` and `TRAVELINFO_STORE` are honoured too.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "config/travelinfo.toml"
SECRET_WORDS = re.compile(r"(authorization|api[-_]?key|token|secret|password|subscription-key)$", re.I)


class ConfigError(Exception):
    """Configuration problems, each with its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def setting(default: Any, help: str, kind: str | None = None) -> Any:
    """A documented setting (help text shown by `check-config --list` and in README)."""
    meta = {"help": help, "kind": kind}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like `90`, `15m`, `6h`, `30d`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use seconds or 15m, 6h, 30d)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


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
        24 * 3600, "How long the change log keeps events for resuming clients.", "duration"
    )
    expire_interval: float = setting(30, "How often ended/archived/started items are swept.", "duration")


@dataclass
class WebSettings:
    host: str = setting("127.0.0.1", "Address the web server binds to.")
    port: int = setting(8080, "Port of the web server (env `PORT`).")
    base_url: str = setting("", "Public base URL used in feeds, posts and links (default http://HOST:PORT).")
    default_lang: str = setting("sv", "Language of pages when the reader asks for none (sv or en).")
    region: list[float] = setting(
        [17.2, 58.6, 19.9, 60.4],
        "Home region bbox [minLon, minLat, maxLon, maxLat]: pages, feeds and GTFS-RT leave out items "
        "wholly outside it (the API's `region=all` shows everything; empty: no limit).",
    )


@dataclass
class SchedulerSettings:
    interval: float = setting(60, "Default poll interval of a source.", "duration")
    timeout: float = setting(20, "Default per-request timeout.", "duration")
    stale_after: float = setting(
        0, "Default age after which a source counts as stale (0: 3 x interval).", "duration"
    )
    max_bytes: int = setting(64 * 1024 * 1024, "Default maximum payload size in bytes.")
    backoff_max: float = setting(900, "Longest wait between retries of a failing source.", "duration")
    jitter: float = setting(0.1, "Random share of the interval added to the first poll.")
    lock_ttl: float = setting(
        30, "Expiry of the Redis leader lock of a worker (taken over after this).", "duration"
    )


@dataclass
class ReferenceSettings:
    gtfs_static: str = setting("", "GTFS static zip (path or URL) giving route/stop/agency names and modes.")
    refresh: float = setting(86400, "How often the GTFS static data is reloaded.", "duration")


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
class PushSettings:
    heartbeat: float = setting(15, "Seconds between SSE heartbeat comments.", "duration")
    retry_ms: int = setting(3000, "SSE `retry:` hint to clients, in milliseconds.")


@dataclass
class WebhookSettings:
    allow_hosts: list[str] = setting(
        [],
        "Addresses/networks (e.g. 127.0.0.1, 10.0.0.0/8) webhooks may target despite the SSRF guard.",
    )
    max_age: float = setting(86400, "How long a delivery is retried before dead-lettering.", "duration")
    timeout: float = setting(10, "Per-delivery request timeout.", "duration")
    backoff_base: float = setting(2, "First retry delay of a failed delivery.", "duration")
    backoff_max: float = setting(600, "Longest delay between delivery retries.", "duration")


@dataclass
class BotSettings:
    enabled: bool = setting(False, "Run the social media bot inside `travelinfo run`.")
    base_url: str = setting("", "Mastodon server base URL (e.g. https://mastodon.example).")
    token: str = setting("", 'Mastodon access token: an env reference `{env = "NAME"}`.')
    language: str = setting("sv", "Language of posts.")
    second_language: str = setting("en", "Second language, posted as a reply (empty: none).")
    visibility: str = setting("public", "Visibility of posts (public, unlisted, private).")
    min_severity: str = setting("WARNING", "Post disruptions at or above this severity.")
    within: float = setting(86400, "Post planned disruptions starting within this time.", "duration")
    modes: list[str] = setting([], "Only these modes (empty: all).")
    sources: list[str] = setting([], "Only these sources (empty: all).")
    routes: list[str] = setting([], "Only these lines/roads (empty: all).")
    area: list[float] = setting([], "Only inside this bbox [minLon, minLat, maxLon, maxLat] (empty: all).")
    budget: int = setting(6, "Posts allowed per budget window; beyond it one digest post.")
    budget_window: float = setting(600, "Budget window.", "duration")


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
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True

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
}
SOURCE_HELP = {
    "name": "Unique source name; prefixes every disruption id.",
    "type": "Format/collector: datex2, gtfsrt, siri-sx, navtex, cap.",
    "url": "http(s) URL, `file:` URL, or a folder under feeds/ replayed one file per poll.",
    "interval": "Poll interval (default scheduler.interval).",
    "timeout": "Request timeout (default scheduler.timeout).",
    "stale_after": "Age after which the source is stale (default 3 x interval).",
    "max_bytes": "Largest accepted payload (default scheduler.max_bytes).",
    "headers": 'Request headers; secrets as `{env = "NAME"}`.',
    "params": 'Query parameters added to the URL; secrets as `{env = "NAME"}` (never logged).',
    "options": "Format options, e.g. `{ complete = false }` to treat payloads as deltas.",
    "enabled": "Set false to keep a source configured but not polled.",
}


@dataclass
class Settings:
    """Every setting of travelinfo, typed and defaulted."""

    store: StoreSettings = field(default_factory=StoreSettings)
    web: WebSettings = field(default_factory=WebSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    reference: ReferenceSettings = field(default_factory=ReferenceSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    push: PushSettings = field(default_factory=PushSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
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


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    factory: Any = f.default_factory
    return factory()


def documented_settings() -> Iterator[tuple[str, Any, str]]:
    """(key path, default, help) of every setting, for docs and `check-config --list`."""
    for section in dataclasses.fields(Settings):
        if section.name in ("sources", "path"):
            continue
        for f in dataclasses.fields(_default_of(section)):
            default = _default_of(f)
            yield f"{section.name}.{f.name}", default, f.metadata["help"]
    for key in SOURCE_HELP:
        yield f"sources[].{key}", None, SOURCE_HELP[key]


def _resolve_secret(value: Any, path: str, env: Mapping[str, str], problems: list[str]) -> Any:
    if isinstance(value, dict) and set(value) == {"env"}:
        name = str(value["env"])
        if name not in env:
            problems.append(f"{path}: environment variable {name} is not set")
            return ""
        return env[name]
    return value


def _coerce(value: Any, f: dataclasses.Field[Any], path: str, problems: list[str]) -> Any:
    kind = f.metadata.get("kind")
    default = _default_of(f)
    try:
        if kind == "duration":
            return parse_duration(value)
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(f"not a boolean: {value!r}")
            if not isinstance(value, bool):
                raise ValueError(f"not a boolean: {value!r}")
            return value
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, bool):
                raise ValueError(f"not an integer: {value!r}")
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, list):
            if isinstance(value, str):
                import json

                value = (
                    json.loads(value)
                    if value.strip().startswith("[")
                    else [v.strip() for v in value.split(",") if v.strip()]
                )
            if not isinstance(value, list):
                raise ValueError(f"not a list: {value!r}")
            return value
        if isinstance(default, str):
            if not isinstance(value, str):
                raise ValueError(f"not a string: {value!r}")
            return value
    except (TypeError, ValueError) as exc:
        problems.append(f"{path}: {exc}")
        return default
    return value


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, _default, _help in documented_settings():
        if key.startswith("sources"):
            continue
        section, name = key.split(".")
        var = f"TRAVELINFO_{section}_{name}".upper()
        if var in env:
            out.setdefault(section, {})[name] = env[var]
    if "PORT" in env:
        out.setdefault("web", {})["port"] = env["PORT"]
    store_url = env.get("TRAVELINFO_STORE") or env.get("TRAVELINFO_STORE_URL") or env.get("REDIS_URL")
    if store_url:
        out.setdefault("store", {})["url"] = store_url
    return out


def _load_source(
    raw: Any, i: int, s: Settings, env: Mapping[str, str], problems: list[str]
) -> SourceConfig | None:
    path = f"sources[{i}]"
    if not isinstance(raw, dict):
        problems.append(f"{path}: must be a table")
        return None
    for key in raw:
        if key not in SOURCE_KEYS:
            problems.append(f"{path}.{key}: unknown key")
    for key in ("name", "type", "url"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            problems.append(f"{path}.{key}: required string")
    if any(
        p.startswith(f"{path}.name") or p.startswith(f"{path}.type") or p.startswith(f"{path}.url")
        for p in problems
    ):
        return None
    src = SourceConfig(name=raw["name"], type=raw["type"], url=raw["url"])
    sched = s.scheduler
    defaults = TYPE_DEFAULTS.get(src.type, {})
    try:
        src.interval = parse_duration(raw.get("interval", defaults.get("interval", sched.interval)))
        src.timeout = parse_duration(raw.get("timeout", sched.timeout))
        default_stale = defaults.get("stale_after") or sched.stale_after or 3 * src.interval
        src.stale_after = parse_duration(raw.get("stale_after", default_stale))
    except ValueError as exc:
        problems.append(f"{path}: {exc}")
    if src.interval <= 0:
        problems.append(f"{path}.interval: must be positive")
    src.max_bytes = int(raw.get("max_bytes", sched.max_bytes))
    src.enabled = bool(raw.get("enabled", True))
    src.options = dict(raw.get("options", {}))
    for table in ("headers", "params"):
        values = raw.get(table, {})
        if not isinstance(values, dict):
            problems.append(f"{path}.{table}: must be a table")
            continue
        resolved = {}
        for k, v in values.items():
            if isinstance(v, str) and SECRET_WORDS.search(k):
                problems.append(f'{path}.{table}.{k}: secrets must be an env reference {{env = "NAME"}}')
            resolved[k] = str(_resolve_secret(v, f"{path}.{table}.{k}", env, problems))
        setattr(src, table, resolved)
    return src


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Load TOML (default config/travelinfo.toml if present), apply env overrides, validate.

    Raises ConfigError listing every problem with its key path.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    raw: dict[str, Any] = {}
    cfg_path = (
        path or env.get("TRAVELINFO_CONFIG") or (DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None)
    )
    if cfg_path:
        try:
            raw = tomllib.loads(Path(cfg_path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"{cfg_path}: no such file"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{cfg_path}: invalid TOML: {exc}"]) from None
    s = Settings(path=str(cfg_path) if cfg_path else None)
    overrides = _env_overrides(env)
    known_sections = {f.name for f in dataclasses.fields(Settings)} - {"path"}
    for key in raw:
        if key not in known_sections:
            problems.append(f"{key}: unknown section")
    for section in dataclasses.fields(Settings):
        if section.name in ("sources", "path"):
            continue
        obj = getattr(s, section.name)
        values = dict(raw.get(section.name, {}))
        if not isinstance(values, dict):
            problems.append(f"{section.name}: must be a table")
            continue
        fields = {f.name: f for f in dataclasses.fields(obj)}
        for key in values:
            if key not in fields:
                problems.append(f"{section.name}.{key}: unknown setting")
        values.update(overrides.get(section.name, {}))
        for key, value in values.items():
            if key in fields:
                value = _resolve_secret(value, f"{section.name}.{key}", env, problems)
                setattr(obj, key, _coerce(value, fields[key], f"{section.name}.{key}", problems))
    if (
        s.bot.token
        and s.bot.enabled
        and "token" in raw.get("bot", {})
        and isinstance(raw["bot"]["token"], str)
    ):
        problems.append('bot.token: secrets must be an env reference {env = "NAME"}')
    if not (
        s.store.url.startswith("sqlite://") or s.store.url.startswith(("redis://", "rediss://", "unix://"))
    ):
        problems.append(f"store.url: unsupported store {s.store.url!r} (sqlite:///PATH or redis://...)")
    if s.web.region and len(s.web.region) != 4:
        problems.append("web.region: must be [minLon, minLat, maxLon, maxLat] or []")
    if s.web.default_lang not in ("sv", "en"):
        problems.append("web.default_lang: must be sv or en")
    sources = raw.get("sources", [])
    if not isinstance(sources, list):
        problems.append("sources: must be an array of tables ([[sources]])")
        sources = []
    names: set[str] = set()
    for i, item in enumerate(sources):
        src = _load_source(item, i, s, env, problems)
        if src is None:
            continue
        if src.name in names:
            problems.append(f"sources[{i}].name: duplicate source name {src.name!r}")
        names.add(src.name)
        s.sources.append(src)
    if problems:
        raise ConfigError(problems)
    return s


def redact_url(url: str) -> str:
    """A URL without credentials or secret-looking query parameters (for logs and provenance)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not SECRET_WORDS.search(k) and k.lower() not in ("key", "apikey")
    ]
    return urlunsplit(
        (parts.scheme, netloc if parts.netloc else parts.netloc, parts.path, urlencode(query), "")
    )
