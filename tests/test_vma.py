"""The `vma` parser: SR's CAP-JSON VMA answers and Krisinformation.se v3 lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.ingest.parsers.vma import parse
from travelinfo.model import thaw

ROOT = Path(__file__).resolve().parent.parent
DEMO = sorted((ROOT / "feeds" / "vma").glob("*.json"))
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "vma"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def ctx() -> ParseContext:
    return ParseContext("vma", NOW)


def test_corpus_cap_json_against_an_independent_walk(corpus: Path) -> None:
    for name in ("nicxe-fixture-vma_single_alert.json", "nicxe-fixture-vma_update_cancel.json"):
        path = corpus / "krisinformation" / name
        alerts = json.loads(path.read_text("utf-8"))["alerts"]
        batch = parse(path.read_bytes(), ctx())
        assert batch.complete and len(batch.items) == len(alerts)
        for alert, d in zip(alerts, batch.items, strict=True):
            # Update/Cancel take the id of what they reference (bare identifiers here).
            assert d.upstream_id == (alert["references"] or alert["identifier"])
            assert d.status == ("ended" if alert["msgType"] == "Cancel" else "active")
            langs = {i["language"] for i in alert["info"]}  # region subtags kept (issue 19)
            assert set(d.header) == langs
            for info in alert["info"]:
                assert d.header[info["language"]] == info["headline"]
            assert d.severity == "SEVERE"
    (single,) = parse(
        (corpus / "krisinformation" / "nicxe-fixture-vma_single_alert.json").read_bytes(), ctx()
    ).items
    assert single.description["sv-SE"].startswith("Detta är ett testmeddelande.\nMed flera rader.")  # \r\n
    assert [(a.id, a.name) for a in single.affected] == [("NUTS3:SE110", "Stockholms län")]


def test_corpus_krisinformation_news(corpus: Path) -> None:
    path = corpus / "krisinformation" / "nicxe-fixture-krisinformation_news.json"
    news = json.loads(path.read_text("utf-8"))
    items = {d.upstream_id: d for d in parse(path.read_bytes(), ctx()).items}
    assert set(items) == {n["Identifier"] for n in news}
    newer = items["news-newer"]
    assert newer.header == {"sv": "Nyare & viktig nyhet"}  # entity decoded
    assert "<" not in newer.description["sv"] and "Råd\nFölj" in newer.description["sv"]
    assert items["news-older"].location_text == {"sv": "Stockholms län"}


def test_the_demo_alert_update_cancel() -> None:
    alert, update, cancel = (parse(p.read_bytes(), ctx()) for p in DEMO)
    (a,) = alert.items
    assert a.id == "vma:SRVMA20261125T100500" and a.status == "active" and a.severity == "SEVERE"
    assert set(a.header) == {"sv-SE", "en-US"} and "Västberga" in a.header["sv-SE"]
    assert a.text(a.header, "en") == ("en-US", a.header["en-US"])  # readers match the primary subtag
    assert thaw(a.geometry)["type"] == "Polygon"  # type: ignore[index]
    assert "cap:code=VMA" in a.categories and "ferry" in a.modes and "metro" in a.modes
    (u,) = update.items
    assert u.id == a.id and "Årsta" in u.description["sv-SE"] and u.updated_at > a.updated_at
    assert cancel.items == () and cancel.ended[0] == a.id


def test_fixtures_status_polygons_and_tests_left_out() -> None:
    batch = parse((FIXTURES / "sr-alerts-mixed.json").read_bytes(), ctx())
    (d,) = batch.items
    assert d.upstream_id == "SRVMA20261126T0700" and d.cause == "OTHER_CAUSE"
    assert thaw(d.geometry)["type"] == "Polygon"  # type: ignore[index]
    assert "cap:eventCode=SE-VMA:Gasutsläpp" in d.categories and "cap:responseType=Shelter" in d.categories
    assert d.periods[0].end == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert batch.ended == ("vma:SRVMA20261120T1000",)
    assert any("status Test is not published" in n for n in batch.notes)
    assert any("polygon skipped" in n for n in batch.notes)
    news = parse((FIXTURES / "krisinformation-news.json").read_bytes(), ctx())
    assert [x.upstream_id for x in news.items] == ["kris-2026-11-26-0001"]
    assert any("test message" in n for n in news.notes)


def test_a_single_alert_object_is_a_delta() -> None:
    alert = json.loads(DEMO[0].read_text("utf-8"))["alerts"][0]
    batch = parse(json.dumps(alert).encode(), ctx())
    assert not batch.complete and len(batch.items) == 1


def test_hostile_input() -> None:
    for data in (
        b"",
        b"{",
        b"3",
        b'{"foo": 1}',
        b"[" * 50000,
        json.dumps({"alerts": [{"info": []}]}).encode(),
    ):
        with pytest.raises(ParseError):
            parse(data, ctx())
    bad_time = {"alerts": [{"identifier": "x", "status": "Actual", "msgType": "Alert", "sent": "igår"}]}
    with pytest.raises(ParseError, match="sent"):
        parse(json.dumps(bad_time).encode(), ctx())
    deep = {"alerts": [{"identifier": "x", "info": json.loads("[" * 40 + "]" * 40)}]}
    with pytest.raises(ParseError, match="nested"):
        parse(json.dumps(deep).encode(), ctx())
    alert = json.loads(DEMO[0].read_text("utf-8"))["alerts"][0]
    many = {"alerts": [dict(alert, identifier=f"A{i}") for i in range(2000)]}
    assert len(parse(json.dumps(many).encode(), ctx()).items) == 2000
    odd = {
        "alerts": [
            1,
            {
                "identifier": "y",
                "status": "Actual",
                "msgType": "Alert",
                "sent": "2026-11-25T10:00:00Z",
                "info": [None, {"language": 5, "area": "x", "category": 7}],
            },
        ]
    }
    (d,) = parse(json.dumps(odd).encode(), ctx()).items
    assert d.upstream_id == "y"
