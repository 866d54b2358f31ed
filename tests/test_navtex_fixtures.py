"""NAVTEX parser on our own pages: CANCEL handling, notations, year roll-over, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.ingest.parsers.navtex import parse
from travelinfo.ingest.parsers.navtex_text import geometry, parse_dtg, positions
from travelinfo.model import Batch

AT = datetime(2026, 8, 21, 14, 0, tzinfo=UTC)


def _parse(path: Path, at: datetime = AT, **options: object) -> Batch:
    ctx = ParseContext(source="sjofartsverket", fetched_at=at, options=options)
    return parse(path.read_bytes(), ctx)


def test_cancel_this_msg_ends_the_period(fixtures: Path) -> None:
    d = {x.upstream_id: x for x in _parse(fixtures / "navtex" / "cancels.html").items}
    lit = d["LITHUANIAN NAV WARN 058/26"]
    assert lit.periods[0].start == datetime(2026, 8, 20, 10, 33, tzinfo=UTC)
    assert lit.periods[0].end == datetime(2026, 8, 28, 16, 0, tzinfo=UTC)
    assert lit.status == "active"
    after = {
        x.upstream_id: x
        for x in _parse(fixtures / "navtex" / "cancels.html", datetime(2026, 8, 29, tzinfo=UTC)).items
    }
    assert after["LITHUANIAN NAV WARN 058/26"].status == "ended"


def test_cancel_named_warning(fixtures: Path) -> None:
    batch = _parse(fixtures / "navtex" / "cancels.html")
    d = {x.upstream_id: x for x in batch.items}
    # "CANCEL BALTIC SEA NAV WARN 44/26" names 044/26, which is still on the page: ended.
    assert d["BALTIC SEA NAV WARN 044/26"].status == "ended"
    assert d["BALTIC SEA NAV WARN 045/26"].status == "active"
    # "CANCEL GERMAN NAV WARN 300/26" is not on the page: its id goes to Batch.ended.
    assert batch.ended == ("sjofartsverket:GERMAN NAV WARN 300/26",)
    assert "area:stockholm" in d["BALTIC SEA NAV WARN 044/26"].categories  # Landsort


def test_year_roll_over_and_compact_notation(fixtures: Path) -> None:
    d = {x.upstream_id: x for x in _parse(fixtures / "navtex" / "cancels.html").items}
    fin = d["FINNISH NAV WARN 412/25"]  # issued 301200 UTC DEC /25, cancelled 051200 UTC JAN
    assert fin.periods[0].start == datetime(2025, 12, 30, 12, 0, tzinfo=UTC)
    assert fin.periods[0].end == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert fin.status == "ended"
    assert fin.geometry is not None and fin.geometry["type"] == "LineString"
    (lon1, lat1), (lon2, lat2) = fin.geometry["coordinates"]
    assert (lon1, lat1) == (pytest.approx(24.416667), pytest.approx(65.636667))
    assert (lon2, lat2) == (pytest.approx(24.525), pytest.approx(65.683333))


def test_notations() -> None:
    for text in (
        "59-18.5N 018-05.2E",
        "59-18,5N 018-05,2E",
        "5918.5N 01805.2E",
        "59-18-30N 018-05-12E",
        "PSN:59-18.5N 018-05.2E.",
    ):
        assert positions(text) == [(pytest.approx(18.086667), pytest.approx(59.308333))], text
    assert positions("54-08N 011-42E") == [(11.7, pytest.approx(54.133333))]
    assert positions("LAT N60 ON VHF CH 82. 021245 UTC APR. 59-75.0N 018-05.0E") == []
    assert geometry("NO POSITIONS HERE") is None
    assert geometry("IN POSITION 59-18.5N 018-05.2E")["type"] == "Point"  # type: ignore[index]
    line = geometry("CABLE WORK ALONG LINE JOINING 59-18.5N 018-05.2E 59-19.0N 018-06.0E")
    assert line is not None and line["type"] == "LineString"


def test_dtg_without_year_uses_the_fetch_time() -> None:
    jan = datetime(2027, 1, 3, tzinfo=UTC)
    assert parse_dtg("302300 UTC DEC", None, jan) == datetime(2026, 12, 30, 23, 0, tzinfo=UTC)
    assert parse_dtg("021245 UTC JAN", None, jan) == datetime(2027, 1, 2, 12, 45, tzinfo=UTC)
    assert parse_dtg("281600 UTC AUG 26", 2020, jan) == datetime(2026, 8, 28, 16, 0, tzinfo=UTC)
    assert parse_dtg("321245 UTC JAN", None, jan) is None


def test_page_without_warnings_is_an_empty_snapshot(fixtures: Path) -> None:
    batch = _parse(fixtures / "navtex" / "empty.html")
    assert batch.items == () and batch.complete is True
    assert "the page lists no warnings in force" in batch.notes
    assert _parse(fixtures / "navtex" / "empty.html", complete=False).complete is False


def test_other_html_page_is_a_parse_error(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="not Sjöfartsverket's NAVTEX warnings page"):
        _parse(fixtures / "navtex" / "other-page.html")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"<html><body><p>Service unavailable</p></body></html>",
        b"\x00\xff" * 10,
        b'{"warnings": []}',
    ],
)
def test_garbage_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse(data, ParseContext(source="s", fetched_at=AT))


def test_size_is_checked_first(fixtures: Path) -> None:
    data = (fixtures / "navtex" / "cancels.html").read_bytes()
    with pytest.raises(ParseError, match="exceeds the maximum"):
        parse(data, ParseContext(source="s", fetched_at=AT, max_bytes=1000))


def test_truncated_page_fails_or_keeps_what_is_whole(fixtures: Path) -> None:
    data = (fixtures / "navtex" / "cancels.html").read_bytes()
    cut = data[: data.index(b'id="display-area-0"') - 20]
    with pytest.raises(ParseError):
        parse(cut, ParseContext(source="s", fetched_at=AT))


def test_entities_are_not_expanded(fixtures: Path) -> None:
    data = (fixtures / "navtex" / "cancels.html").read_bytes()
    evil = b'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/hostname">]>' + data.replace(
        b"BACK ON STATION", b"&x; BACK ON STATION", 1
    )
    batch = parse(evil, ParseContext(source="s", fetched_at=AT))
    landsort = {d.upstream_id: d for d in batch.items}["BALTIC SEA NAV WARN 045/26"]
    assert "&x; BACK ON STATION" in landsort.description["en"]
