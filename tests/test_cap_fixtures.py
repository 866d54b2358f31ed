"""CAP parser on our own alerts: status filter, Cancel, languages, geometry, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.ingest.parsers.cap import parse
from travelinfo.model import Batch

AT = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def _parse(data: bytes, at: datetime = AT, **options: object) -> Batch:
    return parse(data, ParseContext(source="cap", fetched_at=at, options=options))


def _file(fixtures: Path, name: str) -> bytes:
    return (fixtures / "cap" / name).read_bytes()


def test_exercise_is_not_published(fixtures: Path) -> None:
    batch = _parse(_file(fixtures, "exercise.xml"))
    assert batch.items == () and batch.ended == ()
    assert batch.notes == ("SE-SOS-VMA-OVNING-2026-12-07: status Exercise is not published",)


def test_feed_publishes_only_actual_alerts(fixtures: Path) -> None:
    batch = _parse(_file(fixtures, "feed-mixed-status.xml"))
    assert batch.complete is True
    assert [d.upstream_id for d in batch.items] == ["SE-SV-2026-1125-0044"]
    assert any("status Test is not published" in n for n in batch.notes)
    assert any("status Draft is not published" in n for n in batch.notes)
    (d,) = batch.items
    assert d.geometry is not None and d.geometry["type"] == "Point"  # circle of radius 0
    assert list(d.geometry["coordinates"]) == [18.1037, 59.2947]
    assert d.cause == "TECHNICAL_PROBLEM" and d.header == {"sv-SE": d.header["sv-SE"]}
    assert d.periods[0].end == datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert _parse(_file(fixtures, "feed-mixed-status.xml"), complete=False).complete is False


def test_cancel_without_info_ends_what_it_references(fixtures: Path) -> None:
    batch = _parse(_file(fixtures, "cancel-without-info.xml"))
    assert batch.items == ()
    assert batch.ended == ("cap:SE-SV-2026-1125-0044", "cap:SE-SV-2026-1125-0051")
    assert batch.complete is False


def test_languages_collide_only_when_needed(fixtures: Path) -> None:
    batch = _parse(_file(fixtures, "languages.xml"))
    (d,) = batch.items
    # Every tag is kept as written: sv stays "sv", en-US and en-GB never collapse.
    assert set(d.header) == {"sv", "en-US", "en-GB"}
    assert d.description == {"sv": "Kraftig underkylning väntas.\n\nKör försiktigt."}
    assert d.severity == "SEVERE"  # Extreme
    assert "cap:severity=Extreme" in d.categories and "cap:severity=Severe" in d.categories
    assert "shipping" in d.modes  # category Transport
    # Only the block that states times makes the period (the translations state none).
    assert [(p.start, p.end) for p in d.periods] == [
        (datetime(2026, 11, 25, 7, 0, tzinfo=UTC), datetime(2026, 11, 25, 17, 0, tzinfo=UTC))
    ]
    # The open ring is closed; the unreadable polygon is skipped with a note.
    assert d.geometry is not None and d.geometry["type"] == "Polygon"
    ring = [list(p) for p in d.geometry["coordinates"][0]]
    assert ring == [[18.0, 59.33], [18.02, 59.33], [18.02, 59.31], [18.0, 59.31], [18.0, 59.33]]
    assert any("polygon skipped" in n for n in batch.notes)


def test_modes_option(fixtures: Path) -> None:
    (d,) = _parse(_file(fixtures, "languages.xml"), modes=["road"]).items
    assert d.modes == ("road",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty payload"),
        (
            b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</ident",
            "malformed or truncated",
        ),
        (b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY e 'x'>]><alert/>", "document type"),
        (b"<rss version='2.0'><channel/></rss>", "not a CAP alert"),
        (
            b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><status>Actual</status></alert>",
            "without <identifier>",
        ),
        (
            b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</identifier>"
            b"<sent>yesterday</sent><status>Actual</status><msgType>Alert</msgType></alert>",
            "not a date-time",
        ),
    ],
)
def test_bad_payloads(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        _parse(data)


def test_size_limit(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="exceeds the maximum"):
        parse(_file(fixtures, "languages.xml"), ParseContext("cap", AT, max_bytes=100))
