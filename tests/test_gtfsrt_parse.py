"""GTFS-RT ServiceAlerts parser against the real corpus, compared with an independent decode."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.transit import gtfs_realtime_pb2

from travelinfo.ingest.parsers.base import ParseContext, ParseError, get_parser
from travelinfo.ingest.parsers.gtfsrt import OPEN_START

ALERTS = {
    "ca-halifax-Alerts.pb": 46,
    "ca-miway-Alerts.pb": 69,
    "pt-carris-metropolitana-alerts.pb": 82,
}
NO_ALERTS = (
    "ca-halifax-TripUpdates.pb",
    "ca-halifax-VehiclePositions.pb",
    "ca-miway-TripUpdates.pb",
    "se-sl-TripUpdatesSweden.pb",
    "se-sl-VehiclePositionsSweden.pb",
    "us-usf-bullrunner-VehiclePositions.pb",
)
FETCHED = datetime(2025, 11, 7, tzinfo=UTC)
parse = get_parser("gtfsrt")


def ctx(**options: Any) -> ParseContext:
    return ParseContext("feed", FETCHED, url="https://example.org/alerts.pb", options=options)


def decoded(path: Path) -> Any:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString(path.read_bytes())
    return msg


def norm(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def by_lang(ts: Any) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for tr in ts.translation:
        if norm(tr.text) and norm(tr.text) not in out.setdefault(tr.language or "sv", []):
            out[tr.language or "sv"].append(norm(tr.text))
    return {k: "\n\n".join(v) for k, v in out.items() if v}


def when(seconds: int) -> datetime | None:
    # Carris writes "forever" as 2**64 - 1: beyond datetime, so read as open.
    return datetime.fromtimestamp(seconds, UTC) if 0 < seconds < 253402300800 else None


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_counts_and_every_field(corpus: Path, name: str) -> None:
    path = corpus / "gtfs-rt" / name
    msg = decoded(path)
    batch = parse(path.read_bytes(), ctx())
    assert len(batch.items) == ALERTS[name] == sum(e.HasField("alert") for e in msg.entity)
    assert batch.complete is True and batch.ended == () and batch.notes == ()
    items = {d.upstream_id: d for d in batch.items}
    for entity in msg.entity:
        alert, d = entity.alert, items[entity.id]
        assert d.id == f"feed:{entity.id}" and d.source_type == "gtfsrt"
        assert d.updated_at == when(msg.header.timestamp)
        assert dict(d.header) == by_lang(alert.header_text)
        assert dict(d.description) == by_lang(alert.description_text)
        urls = [norm(t.text) for t in alert.url.translation if norm(t.text)]
        assert d.url == (urls[0] if urls else None)
        expected_periods = [(when(p.start) or OPEN_START, when(p.end)) for p in alert.active_period]
        assert [(p.start, p.end) for p in d.periods] == expected_periods
        assert d.cause == gtfs_realtime_pb2.Alert.Cause.Name(alert.cause)
        assert d.effect == gtfs_realtime_pb2.Alert.Effect.Name(alert.effect)
        assert d.severity == gtfs_realtime_pb2.Alert.SeverityLevel.Name(alert.severity_level)
        expected_affected = set()
        for sel in alert.informed_entity:
            for field, kind in (("agency_id", "agency"), ("route_id", "route"), ("stop_id", "stop")):
                if sel.HasField(field):
                    expected_affected.add((kind, getattr(sel, field)))
            if sel.HasField("route_type"):
                expected_affected.add(("route_type", str(sel.route_type)))
            if sel.HasField("trip") and sel.trip.trip_id:
                expected_affected.add(("trip", sel.trip.trip_id))
        assert {(a.type, a.id) for a in d.affected} == expected_affected
        cats = set(d.categories)
        for field in ("tts_header_text", "tts_description_text", "cause_detail", "effect_detail"):
            for lang, text in by_lang(getattr(alert, field)).items():
                assert f"gtfsrt:{field}:{lang}={text}" in cats
        for img in alert.image.localized_image:
            assert f"gtfsrt:image:{img.language}={img.url} {img.media_type}" in cats
        multi = [s for s in alert.informed_entity if len(s.ListFields()) > 1]
        assert sum(c.startswith("gtfsrt:selector=") for c in cats) == len({str(s) for s in multi})


def test_corpus_quirks(corpus: Path) -> None:
    halifax = parse((corpus / "gtfs-rt" / "ca-halifax-Alerts.pb").read_bytes(), ctx())
    # Halifax writes "open-ended" as the year 3000: kept as given.
    assert any(p.end and p.end.year == 3000 for d in halifax.items for p in d.periods)
    carris = parse((corpus / "gtfs-rt" / "pt-carris-metropolitana-alerts.pb").read_bytes(), ctx())
    assert any(c.startswith("gtfsrt:image:pt=https://") for d in carris.items for c in d.categories)
    assert all(d.url and d.url.startswith("https://") for d in carris.items)
    assert any(p.end is None for d in carris.items for p in d.periods)  # end 2**64 - 1
    assert {d.status for d in carris.items} <= {"ended", "planned", "active"}


@pytest.mark.parametrize("name", NO_ALERTS)
def test_feeds_without_alerts_give_nothing_and_a_note(corpus: Path, name: str) -> None:
    batch = parse((corpus / "gtfs-rt" / name).read_bytes(), ctx())
    assert batch.items == () and batch.ended == ()
    assert any("without an alert" in n for n in batch.notes)
    assert any("no service alerts" in n for n in batch.notes)


def test_garbage_and_truncated_bytes_are_refused(corpus: Path) -> None:
    data = (corpus / "gtfs-rt" / "ca-miway-Alerts.pb").read_bytes()
    for bad in (b"", b"hello world", b"\x00" * 64, b"<html>503</html>", data[:7], data[: len(data) // 2]):
        with pytest.raises(ParseError):
            parse(bad, ctx())
    # Valid protobuf, but no header: protobuf alone would accept it.
    with pytest.raises(ParseError, match="header"):
        parse(b"\x08\x01", ctx())
    with pytest.raises(ParseError, match="exceeds"):
        parse(data, ParseContext("feed", FETCHED, max_bytes=100))


def _feed(incrementality: int, *entities: Any) -> bytes:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = incrementality
    msg.entity.extend(entities)
    return bytes(msg.SerializeToString())


def test_differential_deletes_and_open_periods() -> None:
    gone = gtfs_realtime_pb2.FeedEntity(id="old", is_deleted=True)
    live = gtfs_realtime_pb2.FeedEntity(id="new")
    live.alert.header_text.translation.add(text="<p>Hållplats <b>Slussen</b> flyttad</p>")
    live.alert.active_period.add(end=2000000000)
    live.alert.informed_entity.add(route_type=4)
    live.alert.informed_entity.add(trip=gtfs_realtime_pb2.TripDescriptor(trip_id="t1", start_date="20251125"))
    live.alert.cause = gtfs_realtime_pb2.Alert.SPECIAL_EVENT
    live.alert.communication_period.add(start=1764000000)
    data = _feed(gtfs_realtime_pb2.FeedHeader.DIFFERENTIAL, gone, live)
    batch = parse(data, ctx())
    assert batch.complete is False and batch.ended == ("feed:old",)
    (d,) = batch.items
    assert d.header == {"sv": "Hållplats Slussen flyttad"}  # no language: our default, no markup
    assert d.periods[0].start == OPEN_START and d.periods[0].end == when(2000000000)
    assert d.updated_at == FETCHED  # no header timestamp
    assert d.modes == ("ferry",) and d.cause == "OTHER_CAUSE"
    assert ("trip", "t1", None) in [(a.type, a.id, a.name) for a in d.affected]
    assert "gtfsrt:cause=SPECIAL_EVENT" in d.categories
    assert "gtfsrt:selector=trip.trip_id=t1&trip.start_date=20251125" in d.categories
    assert "gtfsrt:communication_period=2025-11-24T16:00:00Z/.." in d.categories
    assert parse(data, ctx(complete=True, lang="en")).items[0].header == {"en": "Hållplats Slussen flyttad"}


def test_lone_open_period_and_defaults() -> None:
    live = gtfs_realtime_pb2.FeedEntity(id="x")
    live.alert.description_text.translation.add(text="Första raden\nandra", language="sv")
    live.alert.active_period.add()
    batch = parse(_feed(gtfs_realtime_pb2.FeedHeader.FULL_DATASET, live), ctx(modes=["metro"]))
    (d,) = batch.items
    assert d.periods == () and d.status == "active" and d.modes == ("metro",)
    assert d.header == {"sv": "Första raden"}  # no header_text: first line of the description
