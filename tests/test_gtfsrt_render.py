"""The GTFS-RT renderer: accepted by gtfs-rt-validator, and lossless when parsed back."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.gtfsrt.render import render_feed, render_json
from travelinfo.ingest.gtfs_static import GtfsStatic, build_zip, load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Disruption

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "var" / "gtfsrt-validator-venv"
VALIDATOR = VENV / "bin" / "gtfs-rt-validator"
DEMO_GTFS = ROOT / "feeds" / "sl-gtfs"
DEMO_ALERTS = sorted((ROOT / "feeds" / "sl-alerts").glob("*.pb"))
parse = get_parser("gtfsrt")


@pytest.fixture(scope="session")
def validator() -> Path:
    """gtfs-rt-validator in its own venv (it pins its own decoder), installed on first use."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # Parallel workers (pytest -n) share the venv: one installs it while the others wait.
    with (VENV.parent / "gtfsrt-validator-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not VALIDATOR.exists():
            try:
                subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
                subprocess.run(
                    [str(VENV / "bin" / "pip"), "install", "-q", "gtfs-rt-validator"],
                    check=True,
                    timeout=600,
                    capture_output=True,
                )
            except (subprocess.SubprocessError, OSError) as exc:
                pytest.skip(f"could not install gtfs-rt-validator into {VENV}: {exc}")
    return VALIDATOR


@pytest.fixture(scope="module")
def reference() -> GtfsStatic:
    return load_gtfs(DEMO_GTFS)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def demo_items(reference: GtfsStatic, at: datetime) -> list[Disruption]:
    """Every alert of the demo sequence (latest version of each id)."""
    items: dict[str, Disruption] = {}
    for path in DEMO_ALERTS:
        ctx = ParseContext("sl-alerts", at, reference=reference)
        items.update({d.id: d for d in parse(path.read_bytes(), ctx).items})
    return list(items.values())


def validate(validator: Path, tmp: Path, feed: bytes) -> dict[str, list[str]]:
    """Run the validator; return {severity: [codes]} after checking it decoded everything."""
    (tmp / "static.zip").write_bytes(build_zip(DEMO_GTFS))
    (tmp / "alerts.pb").write_bytes(feed)
    run = subprocess.run(
        [str(validator), "-gtfs", "static.zip", "-sa", "alerts.pb", "--out", "rep", "--fail-on-error"],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # It exits 0 on undecodable bytes: system_errors.json is where that shows.
    system = json.loads((tmp / "rep" / "system_errors.json").read_text())
    assert system["notices"] == [], system
    report = json.loads((tmp / "rep" / "report.json").read_text())
    assert report["summary"]["messagesValidated"] == 1
    found: dict[str, list[str]] = {}
    for notice in report["notices"]:
        found.setdefault(notice["severity"], []).append(notice["code"])
    assert run.returncode == 0, (run.stdout, run.stderr, report["notices"])
    return found


def test_demo_feed_passes_gtfs_rt_validator(validator: Path, reference: GtfsStatic, tmp_path: Path) -> None:
    at = now()
    items = demo_items(reference, at)
    feed = render_feed(items, at)
    found = validate(validator, tmp_path, feed)
    assert "ERROR" not in found, found
    # S025 (active_period deprecated by the pinned spec) is informational only.
    assert len(parse(feed, ParseContext("out", at)).items) == 4


def test_empty_feed_passes_gtfs_rt_validator(validator: Path, tmp_path: Path) -> None:
    assert "ERROR" not in validate(validator, tmp_path, render_feed([], now()))


def test_round_trip_keeps_everything(reference: GtfsStatic) -> None:
    at = now()
    items = demo_items(reference, at)
    feed = render_feed(items, at)
    back = {d.upstream_id: d for d in parse(feed, ParseContext("out", at, reference=reference)).items}
    assert set(back) == {d.id for d in items}
    for d in items:
        e = back[d.id]
        assert e.updated_at == at
        assert (e.header, e.description, e.url) == (d.header, d.description, d.url)
        assert (e.periods, e.cause, e.effect, e.severity) == (d.periods, d.cause, d.effect, d.severity)
        assert sorted(e.affected, key=repr) == sorted(d.affected, key=repr)
        assert set(e.categories) == set(d.categories)
        assert e.modes == d.modes


def test_corpus_round_trip(corpus: Path) -> None:
    """Real feeds survive parse -> render -> parse (far ends are written open: see renderer)."""
    at = datetime(2023, 7, 23, tzinfo=UTC)
    for name in ("ca-halifax-Alerts.pb", "ca-miway-Alerts.pb", "pt-carris-metropolitana-alerts.pb"):
        items = parse((corpus / "gtfs-rt" / name).read_bytes(), ParseContext("c", at)).items
        live = [d for d in items if d.status != "ended"]
        back = {d.upstream_id: d for d in parse(render_feed(items, at), ParseContext("c", at)).items}
        assert set(back) == {d.id for d in live}
        for d in live:
            e = back[d.id]
            assert (e.header, e.description, e.url, e.cause, e.effect) == (
                d.header,
                d.description,
                d.url,
                d.cause,
                d.effect,
            )
            assert set(e.categories) == set(d.categories) and set(e.affected) == set(d.affected)
            assert [p.start for p in e.periods] == [p.start for p in d.periods]
            for p, q in zip(d.periods, e.periods, strict=True):
                assert q.end == (p.end if p.end and p.end.year < 2033 else None)


def test_filtering_and_json(reference: GtfsStatic) -> None:
    at = now()
    items = demo_items(reference, at)
    road = items[0].replace(id="road:1", modes=("road",))
    gone = items[1].replace(id="x:gone", status="ended")
    feed = json.loads(render_json([*items, road, gone], at))
    assert feed["header"] == {
        "gtfs_realtime_version": "2.0",
        "incrementality": "FULL_DATASET",
        "timestamp": str(int(at.timestamp())),
    }
    ids = [e["id"] for e in feed["entity"]]
    assert ids == sorted(d.id for d in items)
    metro = next(e["alert"] for e in feed["entity"] if e["id"].endswith("12401"))
    langs = {t["language"]: t["text"] for t in metro["header_text"]["translation"]}
    assert langs["sv"].startswith("Röda linjen 14") and langs["en"].startswith("Red line 14")
    assert metro["cause"] == "TECHNICAL_PROBLEM"
    assert {"route_id": "9011001001400000", "stop_id": "9022001009192001"} in metro["informed_entity"]
    assert render_feed([], at) == render_feed([gone, road], at)
