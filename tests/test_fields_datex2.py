"""Issue 19, DATEX II: recurring validity, direction, AlertC codes, certainty, restrictions,
ferry transit, delays and offset-less times, on the named corpus items and the whole output."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.transit import gtfs_realtime_pb2
from storeutil import open_store

from travelinfo.gtfsrt.render import render_feed
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Batch, Disruption, Period, Schedule
from travelinfo.store.base import Query
from travelinfo.store.diff import next_transition

parse = get_parser("datex2")
AT = datetime(2021, 11, 21, 2, tzinfo=UTC)  # Sunday 03:00 in Oslo/Stockholm


def ctx(at: datetime = AT, **options: Any) -> ParseContext:
    return ParseContext("corpus", at, options=options)


def item(corpus: Path, name: str, upstream_id: str, at: datetime = AT, **options: Any) -> Disruption:
    batch = parse((corpus / name).read_bytes(), ctx(at, **options))
    found = [d for d in batch.items if d.upstream_id == upstream_id]
    assert len(found) == 1, upstream_id
    return found[0]


NPRA = "datex2-v2/no-npra-getsituations-v2-with-duplicates.xml"
NPRA_ID = "NPRA_HBT_17-11-2021.85"


def test_npra_weekday_schedule_is_kept_exactly(corpus: Path) -> None:
    d = item(corpus, NPRA, NPRA_ID)
    assert d.periods == (
        Period(datetime(2021, 11, 17, 6, tzinfo=UTC), datetime(2022, 6, 30, 17, tzinfo=UTC)),
    )
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    assert d.schedules == (Schedule(weekdays, "07:00", "19:00", "Europe/Stockholm"),)
    assert d.to_json()["schedules"] == [
        {
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "07:00",
            "end": "19:00",
            "tz": "Europe/Stockholm",
            "exceptions": [],
        }
    ]
    # Sunday 03:00 is inside the overall period but not "ongoing": planned, not active.
    assert d.status == "planned" and not d.active_at(AT)
    monday_10 = datetime(2021, 11, 22, 9, tzinfo=UTC)
    monday_20 = datetime(2021, 11, 22, 19, 30, tzinfo=UTC)
    assert d.active_at(monday_10) and not d.active_at(monday_20)
    # Summer time: 07:00 local is 05:00Z in June.
    assert d.active_at(datetime(2022, 6, 1, 5, 30, tzinfo=UTC))
    assert not d.active_at(datetime(2022, 6, 1, 4, 30, tzinfo=UTC))
    assert Disruption.loads(d.dumps()) == d


def test_npra_schedule_in_gtfs_rt_is_expanded_for_14_days(corpus: Path) -> None:
    d = item(corpus, NPRA, NPRA_ID).replace(modes=("bus",))  # GTFS-RT carries public transport only
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString(render_feed([d], AT))
    (entity,) = msg.entity
    spans = [(p.start, p.end) for p in entity.alert.active_period]
    # Mon 22 Nov - Fri 3 Dec 2021: ten weekdays, 06:00Z-18:00Z each (CET).
    days = [(11, 22), (11, 23), (11, 24), (11, 25), (11, 26), (11, 29), (11, 30), (12, 1), (12, 2), (12, 3)]

    def ts(month: int, day: int, hour: int) -> int:
        return int(datetime(2021, month, day, hour, tzinfo=UTC).timestamp())

    expect = [(ts(m, day, 6), ts(m, day, 18)) for m, day in days]
    assert spans == expect


async def test_store_status_and_active_now_follow_the_schedule(corpus: Path, tmp_path: Path) -> None:
    d = item(corpus, NPRA, NPRA_ID)
    async with open_store("sqlite", tmp_path) as store:
        await store.apply(Batch("corpus", AT, (d,), complete=False))
        items, _ = await store.query(Query(active_at=AT))
        assert items == []
        items, _ = await store.query(Query(active_at=datetime(2021, 11, 22, 9, tzinfo=UTC)))
        assert [i.id for i in items] == [d.id]
        # The store wakes up when Monday's occurrence starts, and the item becomes active.
        wake = next_transition(d, AT)
        assert wake == datetime(2021, 11, 22, 6, tzinfo=UTC).timestamp()
        changes = await store.expire(datetime(2021, 11, 22, 6, 0, 1, tzinfo=UTC))
        assert [(c.type, c.disruption.status) for c in changes if c.disruption] == [("updated", "active")]


def test_fintraffic_alertc_codes_and_direction(corpus: Path) -> None:
    d = item(corpus, "datex2-v2/fi-fintraffic-infoxml-2016-11-17.xml", "GUID50006918")
    codes = [(a.type, a.id, a.direction) for a in d.affected]
    assert ("location", "alertc:6:17:37709", "positive") in codes
    assert ("location", "alertc:6:17:1795", "positive") in codes
    assert d.geometry is None  # no location table configured: no geometry guessed


def test_fintraffic_ferry_transit_is_mode_ferry(corpus: Path) -> None:
    d = item(corpus, "datex2-v3/fi-fintraffic-situation-v3.5-GUID50456943.xml", "GUID50456943")
    assert d.modes == ("ferry",)
    found = [(a.type, a.id, a.direction) for a in d.affected]
    assert found == [("location", "alertc:6:17:36973", "positive")]


def test_fintraffic_weight_restriction(corpus: Path) -> None:
    d = item(corpus, "datex2-v2/fi-fintraffic-weight-restrictions-wr1.xml", "GUID50354262")
    assert [dict(r) for r in d.restrictions] == [
        {"type": "grossWeight", "comparison": "greaterThan", "value": 12.0, "unit": "t"}
    ]
    assert d.to_json()["restrictions"] == [
        {"type": "grossWeight", "comparison": "greaterThan", "value": 12.0, "unit": "t"}
    ]


def test_ndw_bridge_openings_are_a_risk_not_a_certainty(corpus: Path) -> None:
    batch = parse((corpus / "datex2-v2/nl-ndw-brugopeningen-2022-08-15.xml").read_bytes(), ctx())
    counts: dict[str, int] = {}
    for d in batch.items:
        counts[d.certainty] = counts.get(d.certainty, 0) + 1
    assert counts.get("possible", 0) > 500 and "unknown" not in counts
    with_codes = [d for d in batch.items if any(a.type == "location" for a in d.affected)]
    assert with_codes and all(
        a.direction == "both" for d in with_codes for a in d.affected if a.type == "location"
    )


def test_uk_ntis_delay_minutes(corpus: Path) -> None:
    delays = set()
    for name in sorted((corpus / "datex2-v2").glob("uk-ntis-event-data-*.xml")):
        delays |= {d.delay_minutes for d in parse(name.read_bytes(), ctx()).items}
    assert {4, 8} <= delays  # delayTimeValue 240.0 and 480.0 seconds


def test_offsetless_time_is_read_in_the_source_time_zone() -> None:
    body = (Path(__file__).parent / "fixtures" / "datex2" / "fields-offsetless.xml").read_bytes()
    (d,) = parse(body, ctx()).items
    assert d.periods == (Period(datetime(2024, 7, 1, 6, tzinfo=UTC), datetime(2024, 7, 1, 16, tzinfo=UTC)),)
    (d,) = parse(body, ctx(tz="Europe/London")).items
    assert d.periods[0].start == datetime(2024, 7, 1, 7, tzinfo=UTC)
    # An unreadable time is a counted note, never silence.
    bad = body.replace(b"2024-07-01T18:00:00", b"22024-07-01T18:00")
    batch = parse(bad, ctx())
    assert any("unreadable time" in n for n in batch.notes)


def test_unknown_source_time_zone_is_one_clear_parse_error() -> None:
    from travelinfo.ingest.parsers.base import ParseError

    body = (Path(__file__).parent / "fixtures" / "datex2" / "fields-offsetless.xml").read_bytes()
    for fmt in ("datex2", "siri-sx"):
        try:
            get_parser(fmt)(body, ctx(tz="Mars/Olympus"))
        except ParseError as exc:
            assert str(exc) == "options.tz: unknown time zone 'Mars/Olympus'"
        else:
            raise AssertionError(f"{fmt}: no error for an unknown time zone")
