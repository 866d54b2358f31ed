"""The `trafikverket` parser on every corpus answer, the demo, hand-made fixtures and hostile input."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.ingest.parsers.trafikverket import answer_info, parse
from travelinfo.ingest.parsers.trafikverket_tree import TrafikverketError
from travelinfo.model import thaw

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "trafikverket-api"
DEMO = sorted((ROOT / "feeds" / "trafikverket-api").iterdir())
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FLOAT = re.compile(r"-?\d+\.\d+|-?\d+")


def ctx(**options: Any) -> ParseContext:
    return ParseContext("tv", NOW, options=options)


def walk_json(path: Path) -> dict[str, list[dict[str, Any]]]:
    """An independent walk: object type -> objects, straight from json.loads."""
    out: dict[str, list[dict[str, Any]]] = {}
    for result in json.loads(path.read_text("utf-8"))["RESPONSE"]["RESULT"]:
        for key, value in result.items():
            if key not in ("INFO", "ERROR"):
                out.setdefault(key, []).extend(value)
    return out


def wkt_numbers(text: str) -> list[float]:
    return [float(n) for n in FLOAT.findall(text)]


def flat_coords(geometry: Any) -> list[float]:
    if geometry is None:
        return []
    geometry = thaw(geometry)
    if geometry["type"] == "GeometryCollection":
        return [x for g in geometry["geometries"] for x in flat_coords(g)]
    text = json.dumps(geometry["coordinates"])
    return [float(n) for n in FLOAT.findall(text)]


# -- the corpus -------------------------------------------------------------------------------


def test_every_corpus_answer_is_handled(corpus: Path) -> None:
    files = sorted((corpus / "trafikverket-api").glob("*.*"))
    assert len(files) == 7
    for path in files:
        data = path.read_bytes()
        if "invalid" in path.name and path.suffix == ".json":
            with pytest.raises(ParseError, match="malformed or truncated JSON"):
                parse(data, ctx())
        elif "error" in path.name:
            with pytest.raises(TrafikverketError) as err:
                parse(data, ctx())
            assert err.value.auth and "Invalid authentication" in str(err.value)
        else:
            batch = parse(data, ctx())
            assert batch.complete is False  # deltas unless told otherwise


def test_situation_2022_against_an_independent_walk(corpus: Path) -> None:
    path = corpus / "trafikverket-api" / "diwise-situation-roadaccident-response-2022.json"
    (sit,) = walk_json(path)["Situation"]
    (dev,) = sit["Deviation"]
    batch = parse(path.read_bytes(), ctx())
    (d,) = batch.items
    # No Situation Id in this INCLUDE-filtered answer: the TRISS id its deviation names.
    assert d.upstream_id == dev["Id"].replace("_1_", "_") == "SE_STA_TRISSID_9879392"
    assert d.description["sv"] == dev["Message"]
    assert thaw(d.geometry) == {"type": "Point", "coordinates": wkt_numbers(dev["Geometry"]["WGS84"])}
    assert d.periods[0].start == datetime.fromisoformat(dev["StartTime"])
    assert d.periods[0].end == datetime.fromisoformat(dev["EndTime"])
    assert d.cause == "ACCIDENT" and "trafikverket:IconId=roadAccident" in d.categories
    assert d.modes == ("road",) and d.source_type == "trafikverket"
    assert answer_info(path.read_bytes(), ctx()) == ("7089127599774892692", None)


def test_deleted_situation_2024_ends_its_item(corpus: Path) -> None:
    path = corpus / "trafikverket-api" / "diwise-situation-roadaccident-response.json"
    (sit,) = walk_json(path)["Situation"]
    assert sit["Deleted"] is True and len(sit["Deviation"]) == 2
    batch = parse(path.read_bytes(), ctx())
    assert batch.items == () and batch.ended == ("tv:SE_STA_TRISSID_6923722",)
    assert answer_info(path.read_bytes(), ctx())[0] == "7426311386101186961"
    # The same answer with Deleted false: one item, both deviations merged.
    live = path.read_text("utf-8").replace('"Deleted":true', '"Deleted":false').encode()
    (d,) = parse(live, ctx()).items
    assert d.effect == "NO_SERVICE"  # roadClosed
    assert {"trafikverket:IconId=roadAccident", "trafikverket:IconId=roadClosed"} <= set(d.categories)
    assert thaw(d.geometry) == {"type": "Point", "coordinates": [18.4573116, 63.2837563]}


def test_ferry_answer_with_trailing_garbage_and_its_clean_prefix(corpus: Path) -> None:
    data = (corpus / "trafikverket-api" / "diwise-situation-ferry-response-2022-invalid.json").read_bytes()
    text = data.decode("utf-8")
    doc, end = json.JSONDecoder().raw_decode(text)
    assert text[end:] == '"}'  # the two stray bytes SOURCES.md describes
    prefix = text[:end].encode()
    dev = doc["RESPONSE"]["RESULT"][0]["Situation"][0]["Deviation"][0]
    batch = parse(prefix, ctx())
    (d,) = batch.items
    assert d.modes == ("ferry",) and d.effect == "NO_SERVICE"  # ferryServiceNotOperating
    assert d.header == {"sv": dev["Header"]} and d.description["sv"] == dev["Message"]
    assert "trafikverket:MessageCode=Färja" in d.categories
    assert any("derived from its content" in n for n in batch.notes)
    assert parse(prefix, ctx()).items[0].id == d.id  # the derived id is stable


def test_trainmessage_2017_naive_times_are_swedish_local(corpus: Path) -> None:
    path = corpus / "trafikverket-api" / "eduardoportilho-trainmessage-flen-2017.json"
    (msg,) = walk_json(path)["TrainMessage"]
    (d,) = parse(path.read_bytes(), ctx()).items
    assert d.modes == ("rail",) and d.cause == "TECHNICAL_PROBLEM"
    assert d.periods[0].start == datetime(2017, 2, 2, 10, 23, tzinfo=UTC)  # 11:23 CET
    assert d.description["sv"] == msg["ExternalDescription"].strip()
    assert "trafikverket:ReasonCodeText=spårfel" in d.categories


def test_other_object_types_are_skipped_with_a_count(corpus: Path) -> None:
    weather = corpus / "trafikverket-api" / "diwise-weathermeasurepoint-response.json"
    n = len(walk_json(weather)["WeatherMeasurepoint"])
    batch = parse(weather.read_bytes(), ctx())
    assert batch.items == () and batch.notes == (
        f"{n} WeatherMeasurepoint object(s) skipped: not a disruption type",
    )
    camera = parse(
        (corpus / "trafikverket-api" / "pytrafikverket-camera-response-single.xml").read_bytes(), ctx()
    )
    assert camera.items == () and "1 Camera" in camera.notes[0]


# -- fixtures and the demo ---------------------------------------------------------------------


def test_xml_situation_against_elementtree() -> None:
    path = FIXTURES / "situation-two-deviations.xml"
    root = ET.parse(path).getroot()
    live = [s for s in root.iter("Situation") if s.findtext("Deleted") == "false"]
    deleted = [s.findtext("Id") for s in root.iter("Situation") if s.findtext("Deleted") == "true"]
    batch = parse(path.read_bytes(), ctx())
    assert [d.upstream_id for d in batch.items] == [s.findtext("Id") for s in live]
    assert batch.ended == tuple(f"tv:{i}" for i in deleted)
    (d,) = batch.items
    devs = live[0].findall("Deviation")
    wkts = [w.text or "" for dev in devs for w in dev.iter("WGS84")]
    assert sorted(flat_coords(d.geometry)) == sorted(x for w in dict.fromkeys(wkts) for x in wkt_numbers(w))
    assert d.description["sv"] == "\n\n".join(dev.findtext("Message") or "" for dev in devs)
    assert d.severity == "SEVERE"  # SeverityCode 5 on the second deviation
    assert d.periods[-1].end is None  # ValidUntilFurtherNotice
    assert {a.id for a in d.affected} == {"E4", "county:1", "county:3"}
    assert d.url == "https://www.trafikverket.se/e4-rosersberg"
    assert "Söderut" in d.location_text["sv"]
    assert answer_info(path.read_bytes(), ctx()) == (
        "7438100000000000001",
        "https://api.trafikinfo.trafikverket.se/v2/Notifications/stream?id=abc",
    )


def test_ferry_announcements_and_deleted_ones() -> None:
    batch = parse((FIXTURES / "ferry-announcements.json").read_bytes(), ctx())
    (d,) = batch.items
    assert d.upstream_id == "ferry-announcement/5120" and d.modes == ("ferry",)
    assert d.effect == "NO_SERVICE" and d.cause == "WEATHER"  # "inställd på grund av hårt väder"
    assert {(a.type, a.id) for a in d.affected} == {
        ("road", "Ljusteröleden"),
        ("port", "harbor:21"),
        ("port", "harbor:22"),
    }
    assert batch.ended == ("tv:ferry-announcement/5099",)


def test_trainmessage_schema_17() -> None:
    batch = parse((FIXTURES / "trainmessage-1.7.json").read_bytes(), ctx())
    (d,) = batch.items
    assert d.header == {"sv": "Kontaktledningsfel Rosersberg"} and d.effect == "NO_SERVICE"
    assert d.periods[0].end == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert {a.id for a in d.affected} >= {"station:Upv", "station:Rs", "station:Mr"}
    assert "trafikverket:ReasonCode=IBK" in d.categories
    assert batch.ended == ("tv:train-message/1500998000",)


@pytest.mark.parametrize(
    ("name", "auth", "quota"),
    [
        ("error-invalid-key.json", True, False),
        ("error-quota.json", False, True),
        ("error-bad-query.xml", False, False),
    ],
)
def test_error_answers_are_precise(name: str, auth: bool, quota: bool) -> None:
    with pytest.raises(TrafikverketError) as err:
        parse((FIXTURES / name).read_bytes(), ctx())
    assert (err.value.auth, err.value.quota) == (auth, quota)
    assert "\n" not in str(err.value) and str(err.value).startswith("Trafikverket ")


def test_the_demo_tells_its_story() -> None:
    assert [p.name[:4] for p in DEMO] == ["001-", "002-", "003-"]
    first, second, third = (parse(p.read_bytes(), ctx()) for p in DEMO)
    by_id = {d.upstream_id: d for d in first.items}
    ferry = by_id["ferry-announcement/4711"]
    assert ferry.header == {"sv": "Vaxholmsleden"} and ferry.modes == ("ferry",)
    assert "en färja" in ferry.description["sv"]
    assert by_id["SE_STA_TRISSID_8811204"].modes == ("ferry",)
    assert by_id["train-message/9812345"].modes == ("rail",)
    road = by_id["SE_STA_TRISSID_8809977"]
    assert road.geometry is not None and road.geometry["type"] == "GeometryCollection"
    assert {"E4", "E20"} <= {a.id for a in road.affected}
    assert all(d.status == "active" for d in first.items)
    assert second.ended == ("tv:train-message/9812345",)
    assert [d.upstream_id for d in second.items] == ["SE_STA_TRISSID_8812530"]  # the XML answer
    assert third.ended == ("tv:SE_STA_TRISSID_8812530",)
    assert third.items[0].severity == "WARNING" and "Två körfält" in third.items[0].description["sv"]


def test_json_and_xml_answers_give_the_same_items() -> None:
    xml = (FIXTURES / "situation-two-deviations.xml").read_bytes()
    tree = ET.fromstring(xml)

    def to_json(elem: ET.Element) -> Any:
        kids = list(elem)
        if not kids:
            return elem.text or ""
        out: dict[str, Any] = {}
        for k in kids:
            out.setdefault(k.tag, []).append(to_json(k))
        return {
            k: v if k in ("Situation", "Deviation", "CountyNo", "RESULT") else v[0] for k, v in out.items()
        }

    data = json.dumps({"RESPONSE": to_json(tree)}).encode()
    assert [d.to_json() for d in parse(data, ctx()).items] == [d.to_json() for d in parse(xml, ctx()).items]


# -- hostile input -----------------------------------------------------------------------------


def _situation(geometry: str, n: int = 1) -> bytes:
    devs = [
        {"Id": f"X_{i}_1", "Message": "Vägarbete", "Geometry": {"Point": {"WGS84": geometry}}}
        for i in range(n)
    ]
    return json.dumps({"RESPONSE": {"RESULT": [{"Situation": [{"Id": "S1", "Deviation": devs}]}]}}).encode()


@pytest.mark.parametrize(
    "bad",
    [
        "POINT (18.0)",
        "POINT (181 59)",
        "POINT (18 91)",
        "LINESTRING (18 59)",
        "POLYGON ((1 2, 3 4, 5 6, 1 2))",
        "POINT (nan 59)",
        "MULTILINESTRING ((18 59, 18.1 59.1), junk)",
        "POINT 18 59",
        "",
        "LINESTRING (18 59, 18,1 59)",
    ],
)
def test_bad_wkt_keeps_the_item_without_geometry_and_a_note(bad: str) -> None:
    batch = parse(_situation(bad), ctx())
    (d,) = batch.items
    assert d.geometry is None
    assert bad == "" or any("geometry dropped" in n for n in batch.notes)


def test_multilinestring() -> None:
    (d,) = parse(_situation("MULTILINESTRING ((18 59, 18.1 59.1), (18.2 59.2, 18.3 59.3))"), ctx()).items
    assert thaw(d.geometry) == {
        "type": "MultiLineString",
        "coordinates": [[[18, 59], [18.1, 59.1]], [[18.2, 59.2], [18.3, 59.3]]],
    }


def test_huge_arrays_and_size_cap() -> None:
    data = _situation("POINT (18 59)", n=5000)
    (d,) = parse(data, ctx()).items  # 5,000 deviations of one situation merge into one item
    assert thaw(d.geometry) == {"type": "Point", "coordinates": [18, 59]}
    many = json.dumps(
        {
            "RESPONSE": {
                "RESULT": [
                    {"Situation": [{"Id": f"S{i}", "Deviation": [{"Message": "x"}]} for i in range(5000)]}
                ]
            }
        }
    )
    assert len(parse(many.encode(), ctx()).items) == 5000
    with pytest.raises(ParseError, match="exceeds the maximum"):
        parse(data, ParseContext("tv", NOW, max_bytes=1000))


def test_deep_nesting_is_refused() -> None:
    deep = '{"RESPONSE":{"RESULT":[' + '{"a":' * 100 + "1" + "}" * 100 + "]}}"
    with pytest.raises(ParseError, match="nested"):
        parse(deep.encode(), ctx())
    deeper = "[" * 100000 + "]" * 100000
    with pytest.raises(ParseError):
        parse(deeper.encode(), ctx())
    xml = "<RESPONSE><RESULT>" + "<a>" * 60 + "x" + "</a>" * 60 + "</RESULT></RESPONSE>"
    with pytest.raises(ParseError, match="nested"):
        parse(xml.encode(), ctx())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"null",
        b"[]",
        b'{"RESPONSE": 3}',
        b"<html><body>502</body></html>",
        b'{"RESPONSE":{"RESULT":[',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><RESPONSE>&e;</RESPONSE>',
    ],
)
def test_garbage_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse(data, ctx())


def test_wrong_shapes_inside_are_tolerated() -> None:
    odd = {
        "RESPONSE": {
            "RESULT": [
                {"Situation": [1, "x", {"Id": "S", "Deviation": [None, {"Message": ["a"]}]}], "INFO": "junk"},
                "junk",
            ]
        }
    }
    batch = parse(json.dumps(odd).encode(), ctx())
    assert [d.upstream_id for d in batch.items] == ["S"]
