"""Settings: TOML + environment, env references for secrets, every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from travelinfo.config import ConfigError, documented_settings, load_settings, parse_duration, redact_url

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [key for key, _d, _h in documented_settings() if f"`{key}`" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


def test_demo_and_production_configs_load() -> None:
    demo = load_settings(ROOT / "config" / "travelinfo.toml", env={})
    assert demo.store.url.startswith("sqlite:") and demo.web.port == 8080
    assert {s.name for s in demo.sources} >= {"trafikverket", "sl", "sjofartsverket", "krisinformation"}
    prod = load_settings(
        ROOT / "config" / "production.example.toml",
        env={
            "TRAFIKVERKET_DATEX_AUTH": "Bearer xyz",
            "TRAFIKLAB_GTFS_RT_KEY": "k123",
            "TRAFIKVERKET_API_KEY": "tv1",
        },
    )
    assert prod.sources[0].headers["Authorization"] == "Bearer xyz"
    assert prod.sources[1].params["key"] == "k123"
    assert "k123" not in repr(prod.sources[1])


def test_environment_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[web]\nport = 9000\n[store]\ngrace = "1h"\n', encoding="utf-8")
    s = load_settings(
        cfg,
        env={
            "PORT": "9100",
            "TRAVELINFO_STORE_GRACE": "2h",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "TRAVELINFO_BOT_MODES": "road,ferry",
        },
    )
    assert s.web.port == 9100 and s.store.grace == 7200
    assert s.store.url == "redis://127.0.0.1:6379/3" and s.bot.modes == ["road", "ferry"]
    s = load_settings(cfg, env={"REDIS_URL": "redis://x", "TRAVELINFO_STORE": "sqlite:///var/x.db"})
    assert s.store.url == "sqlite:///var/x.db", "TRAVELINFO_STORE wins over REDIS_URL"


def test_every_problem_is_reported_with_its_key_path(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        """
[web]
port = "eighty"
colour = "blue"
[store]
grace = "soon"
[[sources]]
name = "a"
type = "datex2"
[[sources]]
name = "b"
type = "gtfsrt"
url = "https://example.invalid/pb"
headers = { Authorization = "Bearer literal-secret" }
params = { key = { env = "MISSING_KEY" } }
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    problems = "\n".join(info.value.problems)
    for expected in (
        "web.port",
        "web.colour: unknown setting",
        "store.grace",
        "sources[0].url: required",
        "sources[1].headers.Authorization: secrets must be an env reference",
        "sources[1].params.key: environment variable MISSING_KEY is not set",
    ):
        assert expected in problems, problems


def test_durations_and_redaction() -> None:
    assert parse_duration("15m") == 900 and parse_duration(30) == 30 and parse_duration("6h") == 21600
    with pytest.raises(ValueError):
        parse_duration("soon")
    assert redact_url("https://u:p@api.example/x?key=SECRET&format=pb") == "https://api.example/x?format=pb"


def test_type_defaults_for_cadence(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text(
        '[[sources]]\nname = "n"\ntype = "navtex"\nurl = "feeds/navtex"\n'
        '[[sources]]\nname = "s"\ntype = "gtfsrt"\nurl = "feeds/sl-alerts"\n',
        encoding="utf-8",
    )
    navtex, sl = load_settings(cfg, env={}).sources
    assert (navtex.interval, navtex.stale_after) == (900, 6 * 3600)
    assert (sl.interval, sl.stale_after) == (60, 180)


LITERAL_SECRETS = """
[bot]
enabled = false
token = "literal-bot-token"
[reference]
gtfs_static = "https://opendata.example/gtfs/sl.zip?key=literal-ref-key"
[[sources]]
name = "a"
type = "gtfsrt"
url = "https://user:pass@api.example/pb?access_key=abc123"
params = { key = "k1", appkey = "k2", access_key = "k3", subscription_key = "k4", format = "json" }
headers = { Cookie = "session=1", "X-Auth" = "t0k3n", Accept = "application/x-protobuf" }
"""


def test_check_config_refuses_every_literal_secret_naming_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from travelinfo.cli import main

    cfg = tmp_path / "literal.toml"
    cfg.write_text(LITERAL_SECRETS, encoding="utf-8")
    assert main(["check-config", str(cfg)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert all(line.startswith("travelinfo: error: ") for line in lines), lines
    text = "\n".join(lines)
    for key in (
        "sources[0].params.key",
        "sources[0].params.appkey",
        "sources[0].params.access_key",
        "sources[0].params.subscription_key",
        "sources[0].headers.Cookie",
        "sources[0].headers.X-Auth",
        "bot.token",
    ):
        line = next((ln for ln in lines if f" {key}: " in ln), None)
        assert line is not None and '{env = "NAME"}' in line, (key, text)
    assert "sources[0].url: credentials in the URL" in text
    assert "sources[0].url: query parameter 'access_key' looks like a secret" in text
    assert "reference.gtfs_static: query parameter 'key' looks like a secret" in text
    for allowed in ("params.format", "headers.Accept"):
        assert allowed not in text, "allowlisted keys may be literal"
    for value in ("literal-bot-token", "literal-ref-key", "t0k3n", "pass@"):
        assert value not in text, "the problems never repeat the secret"


def test_env_references_and_allowlisted_literals_load(tmp_path: Path) -> None:
    cfg = tmp_path / "ok.toml"
    cfg.write_text(
        """
[bot]
token = { env = "BOT_TOKEN" }
[[sources]]
name = "a"
type = "gtfsrt"
url = "https://api.example/pb?format=pb"
params = { appid = { env = "APP_ID" }, lang = "sv", limit = 50 }
headers = { "Ocp-Apim-Subscription-Key" = { env = "SUB" }, "Accept-Language" = "sv" }
""",
        encoding="utf-8",
    )
    s = load_settings(
        cfg,
        env={"BOT_TOKEN": "bot-123456", "APP_ID": "appid-secret-1", "SUB": "sub-secret-2"},
    )
    assert s.sources[0].params == {"appid": "appid-secret-1", "lang": "sv", "limit": "50"}
    assert s.sources[0].parse_timeout == 10 and s.scheduler.parse_timeout == 10
    # A param configured as secret is redacted from URLs as well as the well-known names.
    assert (
        redact_url("https://h/x?appid=appid-secret-1&access_key=1&sig=2&auth=3&signature=4&lang=sv")
        == "https://h/x?lang=sv"
    )
    from travelinfo.runtime.secrets import scrub

    assert scrub("sent appid-secret-1 and sub-secret-2 with bot-123456") == "sent *** and *** with ***"


def test_parse_timeout_per_source_and_its_default(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text(
        '[scheduler]\nparse_timeout = "3s"\nparse_workers = 1\n'
        '[[sources]]\nname = "n"\ntype = "navtex"\nurl = "feeds/navtex"\n'
        '[[sources]]\nname = "s"\ntype = "gtfsrt"\nurl = "feeds/sl-alerts"\nparse_timeout = 0\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"sources\[1\].parse_timeout: must be positive"):
        load_settings(cfg, env={})
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("parse_timeout = 0", "parse_timeout = 30"))
    navtex, sl = load_settings(cfg, env={}).sources
    assert (navtex.parse_timeout, sl.parse_timeout) == (3, 30)
