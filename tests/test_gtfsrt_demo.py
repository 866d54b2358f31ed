"""The demo feeds/sl-alerts sequence: parses, and names resolve from feeds/sl-gtfs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "feeds" / "sl-alerts").glob("*.pb"))
parse = get_parser("gtfsrt")


def batches() -> list:
    reference = load_gtfs(ROOT / "feeds" / "sl-gtfs")
    at = datetime.now(UTC)
    return [parse(p.read_bytes(), ParseContext("sl-alerts", at, reference=reference)) for p in FILES]


def test_sequence_tells_a_story() -> None:
    assert [p.name[:4] for p in FILES] == ["001-", "002-", "003-", "004-"]
    runs = batches()
    assert all(b.complete for b in runs)
    ids = [{d.upstream_id for d in b.items} for b in runs]
    assert len(ids[0]) == 4 and ids[1] == ids[0]
    assert ids[2] == ids[0] - {"14010517000012401"}  # the metro fault is over
    assert ids[3] == ids[2] - {"14010517000012415"}  # the ferry sails again
    first = {d.upstream_id: d for d in runs[0].items}
    second = {d.upstream_id: d for d in runs[1].items}
    assert first["14010517000012401"].severity == "WARNING"
    assert second["14010517000012401"].severity == "SEVERE"
    assert second["14010517000012401"].effect == "NO_SERVICE"


def test_demo_looks_live_and_names_resolve() -> None:
    items = {d.upstream_id: d for d in batches()[0].items}
    assert all(d.status == "active" for d in items.values())
    assert all(set(d.header) == {"sv", "en"} and set(d.description) == {"sv", "en"} for d in items.values())
    metro, tram, bus, ferry = (
        items[i] for i in ("14010517000012401", "14010517000012388", "14010517000011902", "14010517000012415")
    )
    assert (metro.cause, metro.effect, metro.modes) == ("TECHNICAL_PROBLEM", "SIGNIFICANT_DELAYS", ("metro",))
    assert (tram.effect, tram.modes) == ("DETOUR", ("tram",))
    assert (bus.effect, bus.modes, bus.severity) == ("STOP_MOVED", ("bus",), "INFO")
    assert (ferry.effect, ferry.modes, ferry.severity) == ("NO_SERVICE", ("ferry",), "SEVERE")
    names = {(a.type, a.name) for d in items.values() for a in d.affected}
    assert ("route", "14 Fruängen–Mörby centrum") in names
    assert ("route", "7 Spårväg City: T-Centralen–Waldemarsudde") in names
    assert ("stop", "Gamla stan") in names and ("stop", "Strömkajen") in names
    assert ("agency", "Waxholmsbolaget") in names and ("agency", "SL") in names
    assert all(a.name for d in items.values() for a in d.affected if a.type != "trip")


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in FILES}
    script = str(ROOT / "bench" / "make_demo_gtfsrt.py")
    subprocess.run([sys.executable, script, str(tmp_path)], check=True, capture_output=True)
    assert {p.name: p.read_bytes() for p in sorted(tmp_path.glob("*.pb"))} == before
