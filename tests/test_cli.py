"""The command line: help, parse exit codes, check-config, keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from travelinfo.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_real_commands_only() -> None:
    help_text = build_parser().format_help()
    for command in ("run", "web", "worker", "check-config", "parse", "keys"):
        assert command in help_text
    # every listed command has its own --help
    choices = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in choices.items():
        assert sub.format_help(), name


def test_parse_prints_ndjson(tmp_path: Path) -> None:
    feed = sorted((ROOT / "feeds" / "trafikverket").glob("*.xml"))[0]
    result = run("parse", "datex2", str(feed), "--source", "trafikverket")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and all(d["id"].startswith("trafikverket:") for d in lines)
    assert all(d["source_type"] == "datex2" and d["modes"] == ["road"] for d in lines)


def test_parse_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.xml"
    feed = sorted((ROOT / "feeds" / "trafikverket").glob("*.xml"))[0].read_bytes()
    bad.write_bytes(feed[: len(feed) // 2])
    result = run("parse", "datex2", str(bad))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"travelinfo: error: {bad}: "), result.stderr
    missing = run("parse", "datex2", str(tmp_path / "nope.xml"))
    assert missing.returncode == 2 and "No such file" in missing.stderr
    unknown = run("parse", "klingon", str(bad))
    assert unknown.returncode == 2 and "unknown format" in unknown.stderr
    xxe = tmp_path / "xxe.xml"
    xxe.write_text(
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0">&x;</d2LogicalModel>'
    )
    result = run("parse", "datex2", str(xxe))
    assert result.returncode == 2 and "root:" not in result.stderr + result.stdout


def test_parse_valid_but_irrelevant_exits_0_with_a_note(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from travelinfo.gtfsrt.render import render_feed

    empty = tmp_path / "empty.pb"
    empty.write_bytes(render_feed([], datetime.now(UTC)))
    result = run("parse", "gtfsrt", str(empty))
    assert result.returncode == 0 and result.stdout == "" and "note" in result.stderr


def test_check_config(tmp_path: Path) -> None:
    ok = run("check-config")
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[web]\nport = "x"\n[[sources]]\nname = "a"\ntype = "nope"\nurl = "feeds/x"\n')
    result = run("check-config", str(bad))
    assert result.returncode == 2
    assert "web.port" in result.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[sources]]\nname = "a"\ntype = "nope"\nurl = "feeds/x"\n')
    result = run("check-config", str(unknown))
    assert result.returncode == 2 and "sources[0].type: unknown type 'nope'" in result.stderr
    listed = run("check-config", "--list")
    assert "store.grace" in listed.stdout and "sources[].url" in listed.stdout


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    env = {"TRAVELINFO_STORE": f"sqlite:///{tmp_path / 'k.db'}"}
    created = run(
        "keys",
        "create",
        "--name",
        "ports",
        "--org",
        "ports-of-stockholm",
        "--scope",
        "notices:write",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("ti_") and "shown once" in created.stderr
    listed = run("keys", "list", env=env)
    assert "ports-of-stockholm" in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    assert token not in (tmp_path / "k.db").read_bytes().decode("latin-1"), "only a hash is stored"
    key_id = token.split("_", 2)[1]
    assert run("keys", "revoke", key_id, env=env).returncode == 0
    assert "revoked" in run("keys", "list", env=env).stdout
    bad = run("keys", "create", "--name", "x", "--scope", "everything", env=env)
    assert bad.returncode == 2 and "unknown scope" in bad.stderr
    unknown = run("keys", "revoke", "nope", env=env)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "travelinfo: error: no key with id nope"


def test_check_config_reports_bad_bootstrap_keys(tmp_path: Path) -> None:
    bad = tmp_path / "keys.toml"
    bad.write_text('[api]\nbootstrap_keys = [{ name = "", scopes = ["everything"] }]\n')
    result = run("check-config", str(bad))
    assert result.returncode == 2 and "api.bootstrap_keys[0].name" in result.stderr, result.stderr
