"""Issue 19, SIRI-SX and GTFS-RT in: offset-less times, unreadable times noted, VDV736
PublishingActions, ReasonName, line sections, modes never guessed; `parse --lang/--tz/--gtfs`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Disruption, Period

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2018, 5, 1, 9, tzinfo=UTC)
siri = get_parser("siri-sx")
gtfsrt = get_parser("gtfsrt")


def ctx(**options: Any) -> ParseContext:
    return ParseContext("entur", AT, options=options)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def items(out: str) -> list[Disruption]:
    return [Disruption.loads(line) for line in out.splitlines() if line.strip()]


def test_entur_times_without_offset_are_oslo_wall_clock(corpus: Path) -> None:
    body = (corpus / "siri/no-entur-example-siri-sx-for-stop-by-specific-lines.xml").read_bytes()
    (d,) = [d for d in siri(body, ctx()).items if d.upstream_id == "RUT:RUT:SituationNumber:50528"]
    # 12:30-15:30 local (CEST, +02:00) on 1 May 2018: never dropped, never open-ended.
    assert d.periods == (
        Period(datetime(2018, 5, 1, 10, 30, tzinfo=UTC), datetime(2018, 5, 1, 13, 30, tzinfo=UTC)),
    )
    assert d.status == "planned"  # at 09:00Z it has not started yet
    (utc_read,) = [x for x in siri(body, ctx(tz="UTC")).items if x.upstream_id == d.upstream_id]
    assert utc_read.periods[0].start == datetime(2018, 5, 1, 12, 30, tzinfo=UTC)


def test_unreadable_end_time_is_a_note_not_silence(corpus: Path) -> None:
    batch = siri((corpus / "siri/no-entur-example-siri-2_1-sx-line-section.xml").read_bytes(), ctx())
    (d,) = batch.items
    assert d.periods == (Period(datetime(2022, 10, 6, 6, tzinfo=UTC)),)
    assert any("22022-10-07T08:00:00+02:00" in n and "open-ended" in n for n in batch.notes), batch.notes


def test_line_section_quays_are_kept(corpus: Path) -> None:
    (d,) = siri((corpus / "siri/no-entur-example-siri-2_1-sx-line-section.xml").read_bytes(), ctx()).items
    assert [(a.type, a.id) for a in d.affected] == [
        ("route", "ENT:Line:1234"),
        ("stop", "NSR:Quay:123"),
        ("stop", "NSR:Quay:234"),
    ]


def test_vdv736_publishing_actions_texts_and_affects(corpus: Path) -> None:
    body = (corpus / "siri/cen-example-vdv736-SX_1022_main_message.xml").read_bytes()
    (d,) = siri(body, ctx()).items
    routes = [a for a in d.affected if a.type == "route"]
    stops = [a for a in d.affected if a.type == "stop"]
    # 13 lines and 80 stops (was 3 and 36 before PublishingActions were read); a line or stop
    # affected in several directions is one entry per direction (issue 19).
    assert (len({a.id for a in routes}), len({a.id for a in stops})) == (13, 80)
    assert (len(routes), len(stops)) == (24, 131)
    assert set(d.description) == {"de", "en"}
    en = d.description["en"]
    assert en.startswith("Fire brigade action at Haldenstrasse")  # ReasonName
    assert "Approx. 7 min delay" in en
    assert "For further information, please visit www.vbl.ch/stoerung/haldenstrasse" in en  # Remark
    assert "Feuerwehreinsatz in der Haldenstrasse" in d.description["de"]
    assert d.modes == ("unknown",)  # no VehicleMode, no reference data: never a guess


def test_parse_gtfsrt_without_gtfs_never_labels_everything_bus() -> None:
    run = cli("parse", "gtfsrt", "feeds/sl-alerts/001-morning.pb")
    assert run.returncode == 0, run.stderr
    assert {d.modes for d in items(run.stdout)} == {("unknown",)}
    run = cli("parse", "gtfsrt", "--gtfs", "feeds/sl-gtfs", "feeds/sl-alerts/001-morning.pb")
    assert run.returncode == 0, run.stderr
    assert {d.upstream_id: d.modes for d in items(run.stdout)} == {
        "14010517000012401": ("metro",),
        "14010517000012388": ("tram",),
        "14010517000011902": ("bus",),
        "14010517000012415": ("ferry",),
    }


def test_parse_lang_and_tz_options(corpus: Path) -> None:
    path = str(corpus / "siri/no-entur-example-siri-sx-for-stop-by-specific-lines.xml")
    run = cli("parse", "siri-sx", "--lang", "nb", "--tz", "UTC", path)
    assert run.returncode == 0, run.stderr
    (d,) = [d for d in items(run.stdout) if d.upstream_id == "RUT:RUT:SituationNumber:50528"]
    assert set(d.header) == {"nb"}
    assert d.periods[0].start == datetime(2018, 5, 1, 12, 30, tzinfo=UTC)
    for bad in (("--lang", "not a tag!"), ("--tz", "Mars/Olympus")):
        run = cli("parse", "siri-sx", *bad, path)
        assert run.returncode == 2 and run.stdout == ""
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith("travelinfo: error: ") and bad[0] in line


def test_readme_documents_gtfs_lang_and_tz() -> None:
    readme = (ROOT / "README.md").read_text()
    for option in ("--gtfs", "--lang", "--tz"):
        assert "travelinfo parse" in readme and option in readme, option


def test_api_json_of_new_fields_is_strict_json(corpus: Path) -> None:
    body = (corpus / "siri/cen-example-vdv736-SX_1022_main_message.xml").read_bytes()
    (d,) = siri(body, ctx()).items
    data = json.loads(d.dumps())
    assert data["certainty"] == "unknown" and data["schedules"] == [] and data["delay_minutes"] is None
    assert all("direction" in a for a in data["affected"])


def test_siri_day_types_become_a_schedule(corpus: Path) -> None:
    (d,) = siri((corpus / "siri/no-entur-example-siri-sx.xml").read_bytes(), ctx()).items
    assert [s.to_json() for s in d.schedules] == [
        {
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": None,
            "end": None,
            "tz": "Europe/Stockholm",
            "exceptions": [],
        }
    ]
    saturday = datetime(2017, 7, 8, 12, tzinfo=UTC)
    monday = datetime(2017, 7, 10, 12, tzinfo=UTC)
    assert not d.active_at(saturday) and d.active_at(monday)


async def test_pages_and_feeds_show_items_of_unknown_mode(tmp_path: Path) -> None:
    """An `unknown`-mode item (GTFS-RT without reference data) is grouped and labelled, not a 500."""
    from travelinfo.web.filters import group_by_mode
    from travelinfo.web.i18n import t

    body = (ROOT / "feeds/sl-alerts/001-morning.pb").read_bytes()
    found = gtfsrt(body, ParseContext("sl", AT)).items
    assert found and all(d.modes == ("unknown",) for d in found)
    groups = group_by_mode(found, ())
    assert [(m, len(g)) for m, g in groups] == [("unknown", len(found))]
    assert (t("mode_unknown", "sv"), t("mode_unknown", "en")) == ("Kollektivtrafik", "Public transport")
