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
