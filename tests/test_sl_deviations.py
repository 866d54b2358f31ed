"""The `sl-deviations` parser: the demo, documented fields, the reference GTFS, hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.ingest.parsers.sl_deviations import parse

ROOT = Path(__file__).resolve().parent.parent
DEMO = sorted((ROOT / "feeds" / "sl-deviations").glob("*.json"))
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sl-deviations" / "messages-documented-fields.json"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GTFS = load_gtfs(ROOT / "feeds" / "sl-gtfs")


def ctx(reference: Any = GTFS) -> ParseContext:
    return ParseContext("sl", NOW, reference=reference)


def test_every_message_against_an_independent_walk() -> None:
    for path in [*DEMO, FIXTURE]:
        messages = json.loads(path.read_text("utf-8"))
        batch = parse(path.read_bytes(), ctx())
        assert batch.complete
        by_id = {d.upstream_id: d for d in batch.items}
        assert set(by_id) == {str(m["deviation_case_id"]) for m in messages}
        for m in messages:
            d = by_id[str(m["deviation_case_id"])]
            assert d.version == str(m["version"])
            langs = {v["language"] for v in m["message_variants"]}
            assert set(d.header) == langs
            for v in m["message_variants"]:
                assert d.header[v["language"]] == v["header"]
            assert d.periods[0].start == datetime.fromisoformat(m["publish"]["from"])
            upto = m["publish"].get("upto")
            assert d.periods[0].end == (datetime.fromisoformat(upto) if upto else None)
            n_lines = len(m["scope"].get("lines", []))
            assert len([a for a in d.affected if a.id.startswith(("9011001", "sl-line:"))]) == n_lines


def test_demo_lines_stops_and_modes_resolve_against_the_demo_gtfs() -> None:
    first, second, third = (parse(p.read_bytes(), ctx()) for p in DEMO)
    green = next(d for d in first.items if d.upstream_id == "90231456")
    assert green.modes == ("metro",) and green.severity == "SEVERE" and green.cause == "TECHNICAL_PROBLEM"
    routes = {a.id: a.name for a in green.affected if a.type == "route"}
    assert routes == {
        "9011001001700000": "17 Åkeshov–Skarpnäck",
        "9011001001800000": "18 Alvik–Farsta strand",
        "9011001001900000": "19 Hässelby strand–Hagsätra",
    }
    stops = {a.id: a.name for a in green.affected if a.type == "stop"}
    assert set(stops) <= set(GTFS.stops) and set(stops.values()) == {"Slussen", "Gamla stan", "T-Centralen"}
    assert green.header["en"] == "Delays on the green line" and "signalfel" in green.description["sv"]
    assert green.location_text["sv"] == "Tunnelbanans gröna linje 17, 18, 19"
    bus = next(d for d in first.items if d.upstream_id == "90217788")
    assert bus.modes == ("bus",) and bus.effect == "STOP_MOVED"
    assert {a.id for a in bus.affected if a.type == "stop"} == {"9022001010230001", "9022001010230002"}
    green2 = next(d for d in second.items if d.upstream_id == "90231456")
    assert green2.version == "2" and green2.severity == "WARNING"
    assert [d.upstream_id for d in third.items] == ["90217788"]  # the green line case is gone: it ends


def test_without_reference_data_ids_stay_sl_areas() -> None:
    batch = parse(DEMO[0].read_bytes(), ctx(reference=None))
    green = next(d for d in batch.items if d.upstream_id == "90231456")
    assert {a.type for a in green.affected} == {"area"}  # never a route_id GTFS-RT cannot resolve
    assert {"sl-line:17", "sl-stop-area:9193"} <= {a.id for a in green.affected}
    assert green.modes == ("metro",)  # from transport_mode


def test_documented_fields() -> None:
    items = {d.upstream_id: d for d in parse(FIXTURE.read_bytes(), ctx()).items}
    tram = items["90228001"]
    assert tram.modes == ("tram",) and tram.cause == "MAINTENANCE" and tram.effect == "MODIFIED_SERVICE"
    assert tram.description["sv"] == "På grund av spårarbete ersätts Spårväg City med buss."  # HTML stripped
    assert "sl:category=PLANNED/TRACKWORK" in tram.categories and "sl:importance_level=5" in tram.categories
    assert {"9022001010004001", "9022001010009001"} <= {a.id for a in tram.affected}
    lift = items["90231999"]
    assert lift.status == "planned" and lift.effect == "ACCESSIBILITY_ISSUE" and lift.modes == ("metro",)
    boat = items["90200555"]
    assert boat.modes == ("ferry",) and boat.periods[0].end is None
    assert ("route", "9011001008000000") in {(a.type, a.id) for a in boat.affected}
    train = items["90231777"]
    assert train.modes == ("rail",) and train.effect == "NO_SERVICE"
    # 40 is not in the demo GTFS (an area entry); 43 is (a route since issue 19 added it).
    assert {a.id for a in train.affected} == {"sl-line:40", "9011001004300000"}


def test_corpus_legacy_sl_apis_are_refused_precisely(corpus: Path) -> None:
    for path in sorted((corpus / "sl-api").glob("*.json")):
        with pytest.raises(ParseError, match="not an SL Deviations answer"):
            parse(path.read_bytes(), ctx())


def test_hostile_input() -> None:
    for data in (b"", b"{", b'"x"', b"{}", b"null", b"[" * 50000):
        with pytest.raises(ParseError):
            parse(data, ctx())
    deep = json.dumps([{"deviation_case_id": 1, "x": json.loads("[" * 40 + "]" * 40)}]).encode()
    with pytest.raises(ParseError, match="nested"):
        parse(deep, ctx())
    one = json.loads(DEMO[0].read_text("utf-8"))[1]
    many = [dict(one, deviation_case_id=i) for i in range(3000)]
    assert len(parse(json.dumps(many).encode(), ctx()).items) == 3000
    odd = [
        1,
        None,
        {"deviation_case_id": 5, "message_variants": "x", "scope": [], "publish": {"from": "yesterday"}},
        {
            "deviation_case_id": 6,
            "message_variants": [{"header": "Buss 4 försenad"}],
            "publish": {"from": None},
        },
        {"message_variants": []},
    ]
    batch = parse(json.dumps(odd).encode(), ctx())
    assert [d.upstream_id for d in batch.items] == ["6"]
    assert batch.items[0].modes == ("bus",) and batch.items[0].header == {"sv": "Buss 4 försenad"}
    assert any("message 5 skipped" in n for n in batch.notes)
    assert any("without deviation_case_id" in n for n in batch.notes)
    with pytest.raises(ParseError, match="exceeds the maximum"):
        parse(json.dumps(many).encode(), ParseContext("sl", NOW, max_bytes=10_000))
