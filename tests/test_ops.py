"""Operations as an operator meets them: help that names options and environment, global
options in any position, check-config messages naming key and type, durations as written, a
quiet closed pipe, JSON and access logs, `/readyz` per source, no versions in `Server`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app, start_app
from procutil import free_port
from upstream import Upstream, payload, serve_upstream
from waiting import wait_until, wait_until_sync

from travelinfo.cli import build_parser
from travelinfo.cli import main as cli_main
from travelinfo.config import Settings, SourceConfig
from travelinfo.runtime.clihelp import subcommands
from travelinfo.store import make_store
from travelinfo.store.base import SourceHealth, put_health

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "travelinfo.cli"]


def main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`travelinfo ARGS` in this process (faster than a subprocess); logging restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        code = cli_main(list(args))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    out = capsys.readouterr()
    return code, out.out, out.err


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_every_command_help_lists_its_options_and_environment() -> None:
    parser = build_parser()
    paths = dict(subcommands(parser))
    assert {"run", "web", "worker", "deliver", "bot", "keys create", "check-config", "parse"} <= set(paths)
    for path, sub in paths.items():
        text = sub.format_help()
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, f"{path}: {flag} missing from --help"
        assert "environment variables it reads:" in text, path
        assert "TRAVELINFO_LOG_LEVEL" in text and "TRAVELINFO_LOG_FORMAT" in text, path
        for flag in ("--config", "--log-level", "--log-format"):
            assert flag in text, f"{path}: global option {flag} missing"
        if path != "parse":  # parse reads no settings
            assert "TRAVELINFO_CONFIG" in text and "REDIS_URL" in text, path
    for serving in ("run", "web"):
        text = paths[serving].format_help()
        assert all(f in text for f in ("--port", "--host", "--access-log", "PORT", "TRAVELINFO_ACCESS_LOG"))
    top = parser.format_help()
    assert "TRAVELINFO_LOG_LEVEL" in top and "--log-format" in top


def test_global_options_before_or_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[web]\nport = "abc"\n')
    want = 'travelinfo: error: web.port: expected an integer, got "abc"'
    for args in (
        ("-c", str(bad), "check-config"),
        ("check-config", "-c", str(bad)),
        ("check-config", str(bad)),
    ):
        code, out, err = main(capsys, *args)
        assert code == 2 and out == "", args
        assert err.splitlines() == [want], (args, err)
    # Before the command it is kept when not repeated after it; after it, it wins.
    good = tmp_path / "good.toml"
    good.write_text("[web]\nport = 8099\n")
    code, out, _err = main(capsys, "-c", str(bad), "check-config", "-c", str(good))
    assert code == 0 and out.startswith(f"OK: {good}")
    monkeypatch.setenv("TRAVELINFO_STORE", f"sqlite:///{tmp_path / 'k.db'}")
    code, _out, err = main(capsys, "keys", "list", "--log-level", "debug", "-c", str(good))
    assert code == 0, err
    with pytest.raises(SystemExit) as exited:
        main(capsys, "--log-level", "loud", "check-config")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith("travelinfo: error: argument --log-level") and "DEBUG" in err
    monkeypatch.setenv("TRAVELINFO_LOG_LEVEL", "chatty")
    code, _out, err = main(capsys, "check-config")
    assert code == 2 and err.startswith("travelinfo: error: log level 'chatty'")


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ("[web]\nport = 8080.5\n", "web.port: expected an integer, got 8080.5"),
        (
            '[store]\ngrace = "six hours"\n',
            'store.grace: expected a duration (seconds, or e.g. 90s, 15m, 6h, 30d), got "six hours"',
        ),
        ("[bot]\nenabled = 1\n", "bot.enabled: expected a boolean (true or false), got 1"),
        ('[api]\nburst = "lots"\n', 'api.burst: expected an integer, got "lots"'),
        ('[scheduler]\njitter = "some"\n', 'scheduler.jitter: expected a number, got "some"'),
        ("[webhooks]\nallow_hosts = 5\n", "webhooks.allow_hosts: expected a list, got 5"),
        (
            '[[sources]]\nname = "a"\ntype = "datex2"\nurl = "feeds/x"\ninterval = "often"\n',
            'sources[0].interval: expected a duration (seconds, or e.g. 90s, 15m, 6h, 30d), got "often"',
        ),
        (
            '[[sources]]\nname = "a"\ntype = "datex2"\nurl = "feeds/x"\nmax_bytes = "big"\n',
            'sources[0].max_bytes: expected a positive integer, got "big"',
        ),
        (
            '[[sources]]\nname = "a"\ntype = "datex2"\nurl = "feeds/x"\nenabled = "no"\n',
            'sources[0].enabled: expected a boolean (true or false), got "no"',
        ),
    ],
)
def test_check_config_names_the_key_and_the_expected_type(
    tmp_path: Path, toml: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    code, out, err = main(capsys, "check-config", str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [f"travelinfo: error: {line}"], err


def test_a_bad_environment_value_says_it_came_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAVELINFO_WEB_PORT", "eighty")
    code, _out, err = main(capsys, "check-config")
    assert code == 2
    assert (
        err.strip() == 'travelinfo: error: web.port (from the environment): expected an integer, got "eighty"'
    )


def test_list_prints_durations_as_written_and_defaults_as_in_readme(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, stdout, _err = main(capsys, "check-config", "--list")
    assert code == 0
    shown = dict(
        (line.split(" (default: ")[0], line.split(" (default: ", 1)[1][:-1])
        for line in stdout.splitlines()
        if " (default: " in line
    )
    assert shown["store.grace"] == "6h" and shown["store.log_retention"] == "24h"
    assert shown["scheduler.backoff_max"] == "15m" and shown["history.retention"] == "30d"
    assert "21600" not in stdout and "86400" not in stdout
    # The README's settings table shows the same default for every setting it gives a literal for.
    readme = (ROOT / "README.md").read_text()
    rows = {}
    for row in readme.splitlines():
        cells = [c.strip() for c in row.split("|")]
        if len(cells) > 3 and cells[1].startswith("`") and cells[1].endswith("`") and "." in cells[1]:
            rows[cells[1].strip("`")] = cells[2]
    differ = []
    for key, value in shown.items():
        cell = rows.get(key)
        literal = cell.strip("`") if cell and cell.startswith("`") and cell.endswith("`") else None
        if literal is not None and literal != value:
            differ.append(f"{key}: README {literal!r}, --list {value!r}")
        if cell == "(empty)" and value != "(empty)":
            differ.append(f"{key}: README (empty), --list {value!r}")
    assert not differ, "README defaults drift from check-config --list:\n" + "\n".join(differ)


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    feed = sorted((ROOT / "feeds" / "trafikverket").glob("*.xml"))[0]
    for command in (
        f"{' '.join(CLI)} check-config --list | head -1",
        f"{' '.join(CLI)} parse datex2 {feed} | head -c 10",
    ):
        result = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout, command
        assert result.stderr == "", (command, result.stderr)


def test_json_logs_and_the_access_log_and_no_versions_in_server(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TRAVELINFO_STORE": f"sqlite:///{tmp_path / 'w.db'}"}
    proc = subprocess.Popen(
        [*CLI, "web", "--port", str(port), "--access-log", "--log-format", "json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_until_sync(up, timeout=30, what="the web process to listen")

        async def requests() -> list[str]:
            async with aiohttp.ClientSession() as s:
                servers = []
                for path in ("/healthz", "/d/no-such-item?token=abc", "/nowhere"):
                    async with s.get(base + path) as resp:
                        servers.append(resp.headers.get("Server", ""))
                return servers

        servers = asyncio.run(requests())
        # A request the HTTP parser refuses is answered before any app hook: check it too.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GARBAGE\r\n\r\n")
            raw = sock.recv(4096).decode("latin-1")
        assert raw.startswith("HTTP/1.0 400"), raw[:80]
        raw_server = [h for h in raw.split("\r\n") if h.lower().startswith("server:")]
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert servers == ["travelinfo"] * 3
    assert raw_server == ["Server: travelinfo"], raw_server
    lines = [line for line in err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"] == "travelinfo" and "serving" in r["message"] for r in records)
    access = [r for r in records if r["logger"] == "travelinfo.access"]
    by_path = {r["path"]: r for r in access}
    assert by_path["/healthz"]["status"] == 200 and by_path["/healthz"]["route"] == "/healthz"
    item = by_path["/d/no-such-item?token=abc"]
    assert item["status"] == 404 and item["route"] == "/d/{id}" and item["method"] == "GET"
    assert by_path["/nowhere"]["route"] == "unmatched"
    assert isinstance(item["duration_ms"], float) and item["remote"] == "127.0.0.1"


async def test_readyz_waits_for_every_enabled_source(tmp_path: Path) -> None:
    """A web process on the workers' store: 503 naming what never polled; failing counts as reported."""
    s = Settings()
    s.store.url = f"sqlite:///{tmp_path / 'r.db'}"
    s.sources = [
        SourceConfig("roads", "testjson", "feeds/x"),
        SourceConfig("boats", "testjson", "feeds/y"),
        SourceConfig("off", "testjson", "feeds/z", enabled=False),
    ]
    store = make_store(s)
    async with running_app(store, s) as run, aiohttp.ClientSession() as client:

        async def ready() -> tuple[int, dict[str, object]]:
            async with client.get(run.url + "/readyz") as resp:
                return resp.status, await resp.json()

        status, data = await ready()
        assert status == 503 and data["pending"] == ["roads", "boats"], data
        now = datetime.now(UTC)
        await put_health(store, SourceHealth("roads", state="ok", last_success=now, last_attempt=now))
        status, data = await ready()
        assert status == 503 and data["pending"] == ["boats"] and "boats" in str(data["reason"])
        await put_health(
            store, SourceHealth("boats", state="failing", last_attempt=now, last_error="HTTP 500")
        )
        assert await ready() == (200, {"ready": True})  # the disabled source is never waited for


async def test_readyz_with_a_worker_turns_ready_when_the_first_poll_fails(tmp_path: Path) -> None:
    async with serve_upstream(Upstream(body=payload(("a", "A")), fault="timeout", delay=3)) as up:
        s = Settings()
        s.store.url = f"sqlite:///{tmp_path / 'w.db'}"
        s.scheduler.jitter = 0
        s.sources = [SourceConfig("slow", "testjson", up.url, interval=60, timeout=1)]
        run = await start_app(s, frozenset({"web", "worker"}))
        try:
            async with aiohttp.ClientSession() as client:

                async def status() -> int:
                    async with client.get(run.url + "/readyz") as resp:
                        return resp.status

                assert await status() == 503  # the upstream hangs past the timeout
                await wait_until(lambda: up.requests, timeout=10, what="the first poll")
                assert await status() == 503
                await wait_until(lambda: status_is(200, status), timeout=20, what="ready after the failure")
                async with client.get(run.url + "/api/v1/sources") as resp:
                    [slow] = [x for x in (await resp.json())["sources"] if x["source"] == "slow"]
                assert slow["state"] == "failing" and slow["last_success"] is None
        finally:
            await run.stop()


async def status_is(want: int, probe: object) -> bool:
    return bool(await probe() == want)  # type: ignore[operator]


def test_the_bootstrap_token_stands_out() -> None:
    """Framed, on a line of its own: not one line among pip's output under `make run`."""
    from travelinfo.api.keys import ApiKey
    from travelinfo.notices.bootstrap import token_banner

    token = "ti_0123456789ab_" + "x" * 43
    key = ApiKey("0123456789ab", "ports", "ports-of-stockholm", ("notices:write",), "2026-12-02T00:00:00Z")
    lines = token_banner(key, token).splitlines()
    assert lines.count("=" * 76) == 2
    [alone] = [line for line in lines if token in line]
    assert alone.strip() == token  # copied with a double click, nothing else on the line
    start, end = lines.index("=" * 76), len(lines) - 1 - lines[::-1].index("=" * 76)
    assert start < lines.index(alone) < end and "shown ONCE" in "\n".join(lines[start:end])
