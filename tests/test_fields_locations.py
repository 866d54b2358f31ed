"""Issue 19: location references. ALERT-C codes placed from a configured location table (the
table says which table/version the codes refer to; others are noted); UK NTIS and Norwegian
NPRA road numbers in the `road` entries, as Swedish ones are."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from storeutil import open_store
from upstream import Upstream, serve_upstream

from travelinfo.config import SourceConfig
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.parsers.alertc import AlertCTable, TableError
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.model import Batch
from travelinfo.store.base import list_health

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "fixtures" / "alertc" / "fi-17-sample.csv"
AT = datetime(2020, 1, 1, tzinfo=UTC)


def datex(path: Path, table: AlertCTable | None = None) -> Batch:
    return get_parser("datex2")(path.read_bytes(), ParseContext("corpus", AT, locations=table))


def roads(batch: Batch) -> list[tuple[str, str | None, str | None]]:
    return [(a.id, a.name, a.direction) for d in batch.items for a in d.affected if a.type == "road"]


def test_the_table_file_says_which_table_and_version() -> None:
    table = AlertCTable.parse(TABLE.read_bytes())
    assert (table.country, table.table, table.version) == ("6", "17", "1.11.44")
    assert table.points["36973"] == (28.886, 61.869, "Savonlinna Pihlajaniemi ferry (test position)")


@pytest.mark.parametrize(
    "body",
    [
        b"code,lat,lon\n1,60,20\n",  # no table column
        b"table,code,lat,lon\n17,1,95,20\n",  # latitude out of range
        b"table,code,lat,lon\n17,1,nan,20\n",
        b"table,code,lat,lon\n17,1,60,20\n18,2,60,20\n",  # two tables in one file
        b"table,code,lat,lon\n",  # no rows
        b"\xff\xfe",
    ],
)
def test_a_bad_table_file_is_refused(body: bytes) -> None:
    with pytest.raises(TableError):
        AlertCTable.parse(body)


def test_alertc_only_locations_are_placed_from_the_table(corpus: Path) -> None:
    table = AlertCTable.parse(TABLE.read_bytes())
    path = corpus / "datex2-v3" / "fi-fintraffic-situation-v3.5-GUID50456943.xml"
    (bare,) = datex(path).items
    assert bare.geometry is None  # no table: the code is kept, no geometry guessed
    assert [(a.type, a.id, a.direction) for a in bare.affected] == [
        ("location", "alertc:6:17:36973", "positive")
    ]
    (placed,) = datex(path, table).items
    assert placed.geometry == {"type": "Point", "coordinates": (28.886, 61.869)}
    assert placed.affected == bare.affected and placed.modes == ("ferry",)
    # Two codes (primary and secondary); the payload names an older version of table 17: noted.
    batch = datex(corpus / "datex2-v2" / "fi-fintraffic-datex2-2017-08-10-15-59-34.xml", table)
    (d,) = batch.items
    assert d.geometry == {"type": "MultiPoint", "coordinates": ((23.644, 61.462), (23.69, 61.47))}
    assert batch.notes == (
        "payload names 17 version 1.11.33; looked up in location table 17 version 1.11.44",
    )


def test_a_location_not_in_the_table_is_noted(corpus: Path) -> None:
    table = AlertCTable.parse(TABLE.read_bytes())
    batch = datex(corpus / "datex2-v3" / "fi-fintraffic-situation-v3.5-GUID50459771.xml", table)
    (d,) = batch.items
    assert d.geometry is None
    assert batch.notes == ("alertc:6:17:5176: not in the configured location table 17 version 1.11.44",)
    other = AlertCTable("18", "2.0", "6", {"5176": (20.0, 60.0, "")})
    batch = datex(corpus / "datex2-v3" / "fi-fintraffic-situation-v3.5-GUID50459771.xml", other)
    assert batch.notes == (
        "alertc:6:17:5176: not of the configured location table 18 version 2.0 (country 6)",
    )


async def test_a_source_reads_its_table_and_a_missing_one_fails_it_clearly(
    corpus: Path, tmp_path: Path
) -> None:
    body = (corpus / "datex2-v3" / "fi-fintraffic-situation-v3.5-GUID50456943.xml").read_bytes()
    async with (
        serve_upstream(Upstream(body=body, content_type="application/xml")) as up,
        open_store("sqlite", tmp_path) as store,
        aiohttp.ClientSession() as http,
    ):
        src = SourceConfig("fi", "datex2", up.url, options={"alertc_table": str(TABLE)})
        assert (await SourceRunner(HttpCollector(src, http, "datex2", lambda: None), store).poll()).ok
        item = await store.get("fi:GUID50456943")
        assert item is not None and item.geometry == {"type": "Point", "coordinates": (28.886, 61.869)}
        missing = SourceConfig("fi2", "datex2", up.url, options={"alertc_table": str(tmp_path / "nope.csv")})
        result = await SourceRunner(HttpCollector(missing, http, "datex2", lambda: None), store).poll()
        assert not result.ok
        health = {h.source: h for h in await list_health(store)}
        assert (
            health["fi2"].last_error
            == f"options.alertc_table: cannot read {tmp_path / 'nope.csv'}: No such file or directory"
        )


def test_cli_parse_takes_the_table_and_refuses_a_bad_one(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "datex2-v3" / "fi-fintraffic-situation-v3.5-GUID50456943.xml"
    run = subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", "parse", "datex2", "--alertc-table", str(TABLE), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 0 and '"geometry":{"type":"Point","coordinates":[28.886,61.869]}' in run.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("code,lat\n1,2\n")
    run = subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", "parse", "datex2", "--alertc-table", str(bad), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().endswith("needs the columns table, code, lat and lon")
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "expected", "place"),
    [
        (
            "uk-ntis-event-data-3794692773234866.xml",
            [("A628", None, "westbound"), ("A57", None, "westbound")],
            "A628 westbound between the junctions with the A6024 and the A57\n\n"
            "A57 westbound between the junctions with the A628 and the M67",
        ),
        (
            "uk-ntis-event-data-3794841881472645.xml",
            [("M23", None, "northbound")],
            "M23 northbound exit slip at junction J9",
        ),
    ],
)
def test_ntis_road_numbers_and_directions(corpus: Path, name: str, expected: list, place: str) -> None:
    batch = datex(corpus / "datex2-v2" / name)
    assert roads(batch) == expected
    (d,) = batch.items
    assert d.location_text == {"en": place}
    assert d.header["en"].endswith(", " + expected[0][0])  # "Traffic queues, A628"


@pytest.mark.parametrize(
    ("folder", "name", "expected"),
    [
        ("datex2-v2", "no-npra-getsituations-v2-with-duplicates.xml", [("E6", None, None)]),
        ("datex2-v2", "no-npra-situation-v2-sample.xml", [("E16", None, None)]),  # locationExtension
        ("datex2-v3", "no-npra-getsituations-v3.xml", [("E16", "Tyinvegen", "both")]),  # roadInformation
    ],
)
def test_npra_road_numbers(corpus: Path, folder: str, name: str, expected: list) -> None:
    assert roads(datex(corpus / folder / name)) == expected
