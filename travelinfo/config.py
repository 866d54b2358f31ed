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
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from travelinfo.runtime import secrets
from travelinfo.settings import (
    SOURCE_KEYS,
    TYPE_DEFAULTS,
    ApiSettings,
    BotSettings,
    GuardConfig,
    PushSettings,
    ReferenceSettings,
    SchedulerSettings,
    Settings,
    SourceConfig,
    StoreSettings,
    WebhookSettings,
    WebSettings,
    default_of,
    documented_settings,
    parse_duration,
    setting,
)

DEFAULT_CONFIG = "config/travelinfo.toml"
SECRET_WORDS = re.compile(r"(authorization|api[-_]?key|token|secret|password|subscription-key)$", re.I)
ENV_HINT = '{env = "NAME"}'

__all__ = [
    "ApiSettings",
    "BotSettings",
    "ConfigError",
    "GuardConfig",
    "PushSettings",
    "ReferenceSettings",
    "SchedulerSettings",
    "Settings",
    "SourceConfig",
    "StoreSettings",
    "WebSettings",
    "WebhookSettings",
    "documented_settings",
    "load_settings",
    "parse_duration",
    "redact_url",
    "setting",
]


class ConfigError(Exception):
    """Configuration problems, each with its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _is_env_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"env"}


def _resolve_secret(value: Any, path: str, env: Mapping[str, str], problems: list[str]) -> Any:
    if _is_env_ref(value):
        name = str(value["env"])
        if name not in env:
            problems.append(f"{path}: environment variable {name} is not set")
            return ""
        secrets.register(env[name])  # whatever an env reference holds is treated as secret
        return env[name]
    return value


def _check_literal_url(url: str, path: str, problems: list[str]) -> None:
    """A URL written in the config must carry no credentials (they belong in the environment)."""
    try:
        parts = urlsplit(url)
        has_userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        return
    if has_userinfo:
        problems.append(f"{path}: credentials in the URL; put them in an env reference {ENV_HINT}")
    for key, _value in parse_qsl(parts.query, keep_blank_values=True):
        if secrets.is_secret_query_key(key):
            problems.append(
                f"{path}: query parameter {key!r} looks like a secret; move it to `params` as {ENV_HINT}"
            )


def _got(value: Any) -> str:
    """The offending value as TOML would write it, cut short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "..."
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)[:40]


def _coerce(value: Any, f: dataclasses.Field[Any], path: str, problems: list[str]) -> Any:
    """`value` as the field's type, or the default with a problem naming the expected type."""
    kind = f.metadata.get("kind")
    default = default_of(f)
    expected, result = _convert(value, kind, default)
    if expected is not None:
        problems.append(f"{path}: expected {expected}, got {_got(value)}")
        return default
    return result


def _convert(value: Any, kind: str | None, default: Any) -> tuple[str | None, Any]:
    """(None, converted) or (the expected type in words, None)."""
    if kind == "duration":
        try:
            return None, parse_duration(value)
        except ValueError:
            return "a duration (seconds, or e.g. 90s, 15m, 6h, 30d)", None
    if isinstance(default, bool):
        text = value.strip().lower() if isinstance(value, str) else None
        if isinstance(value, bool):
            return None, value
        if text in ("1", "true", "yes", "on"):
            return None, True
        if text in ("0", "false", "no", "off", ""):
            return None, False
        return "a boolean (true or false)", None
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return None, value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return None, int(value)
        return "an integer", None
    if isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None, float(value)
        try:
            return (None, float(value)) if isinstance(value, str) else ("a number", None)
        except ValueError:
            return "a number", None
    if isinstance(default, list):
        if isinstance(value, str):
            import json

            try:
                value = (
                    json.loads(value)
                    if value.strip().startswith("[")
                    else [v.strip() for v in value.split(",") if v.strip()]
                )
            except ValueError:
                return "a list (e.g. [1, 2] or a,b)", None
        return (None, value) if isinstance(value, list) else ("a list", None)
    if isinstance(default, str):
        return (None, value) if isinstance(value, str) else ("a string", None)
    return None, value


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

    def duration(key: str, default: float) -> float:
        expected, value = _convert(raw.get(key, default), "duration", default)
        if expected is None:
            return float(value)
        problems.append(f"{path}.{key}: expected {expected}, got {_got(raw.get(key))}")
        return default

    src.interval = duration("interval", defaults.get("interval", sched.interval))
    src.timeout = duration("timeout", sched.timeout)
    src.stale_after = duration(
        "stale_after", defaults.get("stale_after") or sched.stale_after or 3 * src.interval
    )
    src.parse_timeout = duration("parse_timeout", sched.parse_timeout)
    if src.interval <= 0:
        problems.append(f"{path}.interval: must be positive")
    if src.parse_timeout <= 0:
        problems.append(f"{path}.parse_timeout: must be positive")
    _check_literal_url(src.url, f"{path}.url", problems)
    max_bytes, enabled = raw.get("max_bytes", sched.max_bytes), raw.get("enabled", True)
    if isinstance(max_bytes, int) and not isinstance(max_bytes, bool) and max_bytes > 0:
        src.max_bytes = max_bytes
    else:
        problems.append(f"{path}.max_bytes: expected a positive integer, got {_got(max_bytes)}")
    if isinstance(enabled, bool):
        src.enabled = enabled
    else:
        problems.append(f"{path}.enabled: expected a boolean (true or false), got {_got(enabled)}")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        problems.append(f"{path}.options: must be a table")
        options = {}
    # Options may hold a secret too (Trafikverket's key goes in the POSTed body): env references.
    src.options = {k: _resolve_secret(v, f"{path}.options.{k}", env, problems) for k, v in options.items()}
    if isinstance(src.options.get("key"), str) and not isinstance(options.get("key"), dict):
        problems.append(f'{path}.options.key: secrets must be an env reference {{env = "NAME"}}')
    hosts = raw.get("allow_redirect_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        problems.append(f"{path}.allow_redirect_hosts: must be a list of host names")
    else:
        src.allow_redirect_hosts = [h.lower() for h in hosts]
    src.guard = _load_guard(raw.get("guard", {}), f"{path}.guard", problems)
    for table in ("headers", "params"):
        values = raw.get(table, {})
        if not isinstance(values, dict):
            problems.append(f"{path}.{table}: must be a table")
            continue
        resolved = {}
        for k, v in values.items():
            public = secrets.is_public_key(k)
            if not public and not _is_env_ref(v):
                # Every value is a secret unless its key is on the short allowlist.
                problems.append(
                    f"{path}.{table}.{k}: secrets must be an env reference {ENV_HINT} "
                    f"(literal values only for {', '.join(sorted(secrets.PUBLIC_KEYS))})"
                )
            resolved[k] = str(_resolve_secret(v, f"{path}.{table}.{k}", env, problems))
            if not public:
                secrets.register(resolved[k], key=k if table == "params" else None)
        setattr(src, table, resolved)
    return src


def _load_guard(raw: Any, path: str, problems: list[str]) -> GuardConfig:
    guard = GuardConfig()
    if not isinstance(raw, dict):
        problems.append(f"{path}: must be a table")
        return guard
    fields = {f.name: f for f in dataclasses.fields(GuardConfig)}
    for key, value in raw.items():
        if key not in fields:
            problems.append(f"{path}.{key}: unknown setting")
            continue
        setattr(guard, key, _coerce(value, fields[key], f"{path}.{key}", problems))
    if not 0 <= guard.max_drop_share <= 1:
        problems.append(f"{path}.max_drop_share: must be between 0 and 1")
    if guard.confirm_polls < 1:
        problems.append(f"{path}.confirm_polls: must be at least 1")
    return guard


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
        from_env = overrides.get(section.name, {})
        values.update(from_env)
        for key, value in values.items():
            if key in fields:
                where = f"{section.name}.{key}" + (" (from the environment)" if key in from_env else "")
                value = _resolve_secret(value, f"{section.name}.{key}", env, problems)
                setattr(obj, key, _coerce(value, fields[key], where, problems))
    _check_secrets(raw, s, problems)
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


def _check_secrets(raw: Mapping[str, Any], s: Settings, problems: list[str]) -> None:
    """Refuse literal secrets in the file and register every configured one with the scrubber."""
    for key in ("token", "bluesky_password"):
        literal = raw.get("bot", {}).get(key) if isinstance(raw.get("bot"), dict) else None
        if isinstance(literal, str) and literal:  # enabled or not: the file leaks either way
            problems.append(f"bot.{key}: secrets must be an env reference {ENV_HINT}")
    secrets.register(s.bot.token)
    secrets.register(s.bot.bluesky_password)
    # The GTFS static URL usually carries its key in the query: every query value is secret.
    secrets.register_url(s.reference.gtfs_static, whole_query=True)
    secrets.register_url(s.store.url)
    secrets.register_url(s.bot.base_url)
    for section, key in (("reference", "gtfs_static"), ("store", "url"), ("bot", "base_url")):
        table = raw.get(section)
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str):
            _check_literal_url(value, f"{section}.{key}", problems)


def redact_url(url: str) -> str:
    """A URL without credentials or secret-looking/secret-configured query parameters."""
    from urllib.parse import urlencode, urlunsplit

    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not SECRET_WORDS.search(k) and not secrets.is_secret_query_key(k)
    ]
    return secrets.scrub(
        urlunsplit((parts.scheme, netloc if parts.netloc else parts.netloc, parts.path, urlencode(query), ""))
    )
