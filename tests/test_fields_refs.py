"""Issue 19: informed entities the reference GTFS does not know, for every parser: mapped where
the reference allows, else kept in the API and left out of GTFS-RT with a note; and the notes
of the last payload counted per source on /api/v1/sources."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from apputil import start_app
from google.transit import gtfs_realtime_pb2
from upstream import Upstream, serve_upstream

from travelinfo.config import Settings, SourceConfig
from travelinfo.gtfsrt.render import build_message
from travelinfo.ingest.collectors.http import HttpCollector
from travelinfo.ingest.gtfs_static import GtfsStatic, load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.ingest.scheduler import SourceRunner
from travelinfo.model import Batch

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "feeds" / "sl-siri" / "001-pendeltag-sparfel.xml"
AT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
FAULT = "SL:14010517000012502"
UNKNOWN = "9022001099999001"


def reference() -> GtfsStatic:
    return load_gtfs(ROOT / "feeds" / "sl-gtfs")


def hostile_refs() -> bytes:
    """The demo's track fault naming Flemingsberg NeTEx-style and Huddinge by an unknown id."""
    data = DEMO.read_bytes()
    data = data.replace(b"<StopPointRef>9022001006031001<", b"<StopPointRef>SE:050:Quay:9022001006031001<")
    return data.replace(b"<StopPointRef>9022001007041001<", f"<StopPointRef>{UNKNOWN}<".encode())


def siri(data: bytes, ref: object) -> Batch:
    return get_parser("siri-sx")(data, ParseContext("sl-siri", AT, options={"lang": "sv"}, reference=ref))


def informed(batch: Batch, upstream_id: str) -> list[tuple[str, str]]:
    (entity,) = [e for e in build_message(batch.items, AT).entity if e.id.endswith(upstream_id)]
    return [(f.name, str(v)) for sel in entity.alert.informed_entity for f, v in sel.ListFields()]


def test_siri_refs_mapped_kept_or_left_out_with_a_note() -> None:
    batch = siri(hostile_refs(), reference())
    (d,) = [x for x in batch.items if x.upstream_id == FAULT]
    assert [(a.type, a.id, a.gtfs_id) for a in d.affected] == [
        ("route", "9011001004100000", "9011001004100000"),
        ("route", "9011001004300000", "9011001004300000"),
        ("stop", "SE:050:Quay:9022001006031001", "9022001006031001"),  # mapped by its last part
        ("stop", UNKNOWN, ""),  # kept in the API, unknown to the reference
    ]
    assert f"{FAULT}: not in the reference GTFS, left out of GTFS-RT: stop {UNKNOWN}" in batch.notes
    assert informed(batch, FAULT) == [
        ("route_id", "9011001004100000"),
        ("route_id", "9011001004300000"),
        ("stop_id", "9022001006031001"),
    ]
    back = d.from_json(d.to_json())
    assert back == d and back.affected[3].gtfs_id == ""


def test_without_reference_data_nothing_is_checked_or_dropped() -> None:
    batch = siri(hostile_refs(), None)
    (d,) = [x for x in batch.items if x.upstream_id == FAULT]
    assert {a.gtfs_id for a in d.affected} == {None}
    assert not any("reference GTFS" in n for n in batch.notes)
    assert ("stop_id", UNKNOWN) in informed(batch, FAULT)


def test_gtfsrt_selectors_with_an_unknown_id_are_left_out_whole() -> None:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = int(AT.timestamp())
    alert = msg.entity.add(id="a1").alert
    alert.header_text.translation.add(text="Hiss ur funktion", language="sv")
    both = alert.informed_entity.add(route_id="9011001001400000", stop_id=UNKNOWN)  # the pair is unknown
    assert both.stop_id == UNKNOWN
    alert.informed_entity.add(route_id="9011001001300000", stop_id="9022001009001001")  # T-Centralen
    alert.informed_entity.add(stop_id="SL:Quay:9022001009193001")  # Slussen, SIRI-style id
    batch = get_parser("gtfsrt")(msg.SerializeToString(), ParseContext("sl", AT, reference=reference()))
    assert informed(batch, "a1") == [
        ("route_id", "9011001001300000"),
        ("stop_id", "9022001009001001"),
        ("stop_id", "9022001009193001"),
    ]
    (d,) = batch.items
    assert ("stop", UNKNOWN, "") in [(a.type, a.id, a.gtfs_id) for a in d.affected]
    assert "a1: not in the reference GTFS, left out of GTFS-RT: stop 9022001099999001" in batch.notes


def many_unknown(n: int) -> bytes:
    """A SIRI document of `n` situations, each naming one stop the reference does not know."""
    one = (
        "<PtSituationElement><CreationTime>2026-11-25T07:00:00Z</CreationTime>"
        "<ParticipantRef>SL</ParticipantRef><SituationNumber>S{i}</SituationNumber>"
        "<ValidityPeriod><StartTime>2026-11-25T06:00:00Z</StartTime></ValidityPeriod>"
        "<Summary>Hållplats flyttad {i}</Summary><Affects><StopPoints><AffectedStopPoint>"
        "<StopPointRef>9022001088{i:06d}</StopPointRef></AffectedStopPoint></StopPoints></Affects>"
        "</PtSituationElement>"
    )
    body = "".join(one.format(i=i) for i in range(n))
    return (
        '<Siri xmlns="http://www.siri.org.uk/siri" version="2.0"><ServiceDelivery>'
        "<SituationExchangeDelivery><Situations>" + body + "</Situations></SituationExchangeDelivery>"
        "</ServiceDelivery></Siri>"
    ).encode()


async def test_notes_are_counted_per_source_on_the_sources_api(tmp_path: Path) -> None:
    ref = reference()
    up = Upstream(body=many_unknown(60), content_type="application/xml")
    async with serve_upstream(up):
        settings = Settings()
        settings.store.url = f"sqlite:///{tmp_path / 's.db'}"
        settings.sources = [SourceConfig("sl-siri", "siri-sx", up.url, options={"lang": "sv"})]
        running = await start_app(settings, frozenset({"web"}))
        try:
            async with aiohttp.ClientSession() as http:
                collector = HttpCollector(settings.sources[0], http, "siri-sx", lambda: ref)
                assert (await SourceRunner(collector, running.store).poll()).items == 60
                async with http.get(running.url + "/api/v1/sources") as r:
                    (src,) = (await r.json())["sources"]
        finally:
            await running.stop()
    # 60 notes: the batch keeps 49 and one "... and 11 more notes"; every one is counted.
    assert src["note_count"] == 60 and len(src["notes"]) == 10
    assert src["notes"][0] == "SL:S0: not in the reference GTFS, left out of GTFS-RT: stop 9022001088000000"


def test_an_alert_with_nothing_known_left_falls_back_to_its_mode_or_is_left_out() -> None:
    one = many_unknown(1)
    (d,) = siri(one, reference()).items
    assert d.modes == ("unknown",) and [a.gtfs_id for a in d.affected] == [""]
    assert build_message([d], AT).entity == []  # GTFS-RT needs an informed entity: none is left
    bus = siri(
        one.replace(
            b"<Affects>",
            b"<Affects><Networks><AffectedNetwork><VehicleMode>bus</VehicleMode>"
            b"</AffectedNetwork></Networks>",
        ),
        reference(),
    ).items[0]
    (entity,) = build_message([bus], AT).entity
    assert [(f.name, v) for s in entity.alert.informed_entity for f, v in s.ListFields()] == [
        ("route_type", 3)
    ]
