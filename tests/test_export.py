"""`travelinfo export DIR`: the rendered feeds written atomically as static files."""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.unix_events
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apputil import start_app
from google.transit import gtfs_realtime_pb2
from storeutil import batch, item
from waiting import wait_until
from yarl import URL

from travelinfo.config import Settings
from travelinfo.export import EXPORTS, Selection, export, select, url_of
from travelinfo.model import Affected
from travelinfo.runtime.commands import CliError
from travelinfo.store import make_store

ROOT = Path(__file__).resolve().parent.parent


def test_export_writes_feeds_atomically(tmp_path: Path) -> None:
    env = {**os.environ, "TRAVELINFO_STORE": f"sqlite:///{tmp_path / 'e.db'}"}
    env.pop("REDIS_URL", None)
    # Fill the store from the demo data (one poll of each source), then export.
    feed = sorted((ROOT / "feeds" / "sl-alerts").glob("*.pb"))[0]
    code = (
        "import asyncio, sys\n"
        "from datetime import UTC, datetime\n"
        "from travelinfo.config import load_settings\n"
        "from travelinfo.store import make_store\n"
        "from travelinfo.ingest.parsers.base import ParseContext, get_parser\n"
        "async def main():\n"
        "    s = make_store(load_settings())\n"
        "    await s.open()\n"
        f"    data = open({str(feed)!r}, 'rb').read()\n"
        "    b = get_parser('gtfsrt')(data, ParseContext('sl', datetime.now(UTC)))\n"
        "    await s.apply(b)\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    out = tmp_path / "public"
    result = subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", "export", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    pb = out / "alerts.pb"
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString(pb.read_bytes())
    assert len(msg.entity) >= 1
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary files left behind"


# -- in process: the same bytes as the HTTP endpoints, and no listening socket ---------------------


def _no_listening(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every attempt to listen on a socket fail loudly (and record it)."""
    tried: list[str] = []

    async def refuse(*args: Any, **kw: Any) -> Any:
        tried.append(repr(args[1:3]))
        raise AssertionError("export must not start a server")

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_server", refuse)
    monkeypatch.setattr(asyncio.unix_events._UnixSelectorEventLoop, "create_unix_server", refuse)
    return tried


async def _fill(settings: Settings) -> None:
    now = datetime.now(UTC)
    store = make_store(settings)
    await store.open()
    try:
        road = item("e4-1", now, header="Olycka på E4 vid Hallunda")
        metro = item("t14", now, source="sl", header="Röda linjen 14: inga tåg", modes=("metro",))
        await store.apply(batch([road], now, complete=False))
        await store.apply(batch([metro], now, source="sl", complete=False))
    finally:
        await store.close()


@pytest.fixture
async def filled(tmp_path: Path) -> Settings:
    """Settings on a SQLite store under tmp_path holding one road item and one metro item."""
    settings = Settings()
    settings.store.url = f"sqlite:///{tmp_path / 'e.db'}"
    settings.web.base_url = "https://trafik.example"  # links in feeds: not the test server's port
    await _fill(settings)
    return settings


async def _http_bytes(settings: Settings, sel: Selection | None = None) -> dict[str, bytes]:
    """Each export's bytes as the web process serves them (at its URL for `sel`, if given)."""
    running = await start_app(settings, frozenset({"web"}))
    try:
        async with aiohttp.ClientSession(auto_decompress=True) as http:
            out = {}
            for name, (path, _render) in EXPORTS.items():
                url = URL(running.url + (path if sel is None else url_of(name, sel)), encoded=True)
                async with http.get(url) as resp:
                    assert resp.status == 200, (name, resp.status, await resp.text())
                    out[name] = await resp.read()
            return out
    finally:
        await running.stop()


async def test_export_writes_the_bytes_the_endpoints_serve_without_a_port(
    filled: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "public"
    with monkeypatch.context() as m:
        tried = _no_listening(m)
        await export(filled, out, watch=False)
    assert tried == [], "export listened on a socket"
    served = await _http_bytes(filled)
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTS)
    for name, body in served.items():
        assert (out / name).read_bytes() == body, f"{name} differs from {EXPORTS[name][0]}"
    assert b"Hallunda" in served["disruptions.atom"] and b"Hallunda" in served["disruptions.geojson"]
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString((out / "alerts.pb").read_bytes())
    assert len(msg.entity) == 1, "the metro item, not the road item"


async def test_export_watch_rewrites_after_each_change_batch(
    filled: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "public"
    tried = _no_listening(monkeypatch)
    task = asyncio.create_task(export(filled, out, watch=True))
    try:
        atom = out / "disruptions.atom"
        # The files are written in EXPORTS order: the last one there means the round is done.
        last = out / list(EXPORTS)[-1]
        await wait_until(last.exists, what="the first export round")
        assert b"Norrtull" not in atom.read_bytes()
        store = make_store(filled)
        await store.open()
        try:
            now = datetime.now(UTC)
            await store.apply(batch([item("e4-2", now, header="Kö vid Norrtull")], now, complete=False))
        finally:
            await store.close()
        await wait_until(lambda: b"Norrtull" in last.read_bytes(), what="the re-export after the change")
        assert b"Norrtull" in atom.read_bytes() and b"Norrtull" in (out / "disruptions.rss").read_bytes()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    monkeypatch.undo()
    served = await _http_bytes(filled)
    for name, body in served.items():
        assert (out / name).read_bytes() == body, name
    assert tried == []


async def test_export_with_filters_writes_what_the_filtered_urls_serve(
    filled: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    store = make_store(filled)
    await store.open()
    try:
        line14 = [Affected("route", "14", "Fruängen–Mörby centrum")]
        metro = item(
            "m14", now, source="sl", header="Röda linjen 14: stopp", modes=("metro",), affected=line14
        )
        tram = item("t7", now, source="sl", header="Spårväg City 7: buss", modes=("tram",),
                    affected=[Affected("route", "7", None)])  # fmt: skip
        await store.apply(batch([metro, tram], now, source="sl", complete=False))
    finally:
        await store.close()
    # `line` is the pages' alias of `route`; the feeds get the same filters in their spelling.
    sel = select(["line=14", "mode=metro,tram", "severity=WARNING", "status=active"], filled)
    assert dict(sel.pairs) == {"route": "14", "mode": "metro,tram", "severity": "WARNING", "status": "active"}
    query = "route=14&mode=metro,tram&severity=WARNING&status=active"
    assert url_of("alerts.pb", sel) == "/gtfs-rt/alerts.pb?" + query
    assert url_of("disruptions.atom", sel) == (
        "/feeds/disruptions.atom?line=14&mode=metro,tram&severity=warning&when=now"
    )
    out = tmp_path / "public"
    with monkeypatch.context() as m:
        tried = _no_listening(m)
        await export(filled, out, watch=False, sel=sel)
    assert tried == []
    served = await _http_bytes(filled, sel)
    for name, body in served.items():
        assert (out / name).read_bytes() == body, f"{name} differs from {url_of(name, sel)}"
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString((out / "alerts.pb").read_bytes())
    assert [e.id for e in msg.entity] == ["sl:m14"], "line 14 only: not the tram, not the road"
    atom, geojson = (out / "disruptions.atom").read_text(), (out / "disruptions.geojson").read_text()
    assert "Röda linjen 14: stopp" in atom and "Hallunda" not in atom and "Spårväg" not in atom
    assert "Röda linjen 14: stopp" in geojson and "Spårväg" not in geojson


async def test_export_only_some_files_with_a_filter_the_feeds_cannot_take(
    filled: Settings, tmp_path: Path
) -> None:
    with pytest.raises(CliError, match=r"^--filter bbox=.*Atom/RSS feeds cannot filter by that; .*--only"):
        select(["bbox=17.9,59.2,18.2,59.4"], filled)
    sel = select(["bbox=17.9,59.2,18.2,59.4"], filled, feeds=False)
    out = tmp_path / "public"
    await export(filled, out, watch=False, sel=sel, only=["alerts.json", "disruptions.geojson"])
    assert sorted(p.name for p in out.iterdir()) == ["alerts.json", "disruptions.geojson"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "route14"], "--filter 'route14': write NAME=VALUE, e.g. --filter route=14"),
        (["--filter", "rout=14"], "--filter rout: unknown parameter (known: "),
        (["--filter", "mode=plane"], "--filter mode: must be a comma list of road|bus|"),
        (["--filter", "route=14", "--filter", "route=7"], "--filter route: given more than once"),
        (["--filter", "lang=de"], "--filter lang: the Atom/RSS feeds take sv or en"),
        (["--filter", "source=sl"], "--filter source=sl: the Atom/RSS feeds cannot filter by that"),
    ],
)
def test_bad_export_filters_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    env = {**os.environ, "TRAVELINFO_STORE": f"sqlite:///{tmp_path / 'e.db'}"}
    env.pop("REDIS_URL", None)
    out = tmp_path / "public"
    result = subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", "export", str(out), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("travelinfo: error: " + message), result.stderr
    assert not out.exists(), "nothing written"


def test_export_help_names_the_filters_and_files() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", "export", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--filter NAME=VALUE" in text and "route=14" in text
    assert "--only FILE" in text and all(name in text for name in EXPORTS)
