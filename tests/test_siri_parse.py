"""SIRI-SX parser: the Entur and CEN corpus, a small Stockholm fixture, hostile input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, ParseError, get_parser
from travelinfo.model import thaw

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2017, 7, 11, 10, tzinfo=UTC)
SIRI = "{http://www.siri.org.uk/siri}"
parse = get_parser("siri-sx")


def ctx(**options: Any) -> ParseContext:
    return ParseContext("entur", AT, options={"lang": "no", **options})


def independent_count(path: Path) -> int:
    return len(etree.parse(str(path)).getroot().findall(f".//{SIRI}PtSituationElement"))


def test_every_corpus_file_parses_with_exact_counts(corpus: Path) -> None:
    files = sorted((corpus / "siri").glob("*.xml"))
    assert len(files) == 9
    for path in files:
        batch = parse(path.read_bytes(), ctx())
        assert len(batch.items) == independent_count(path), path.name
        assert len({d.id for d in batch.items}) == len(batch.items)
        assert all(d.header and d.source_type == "siri-sx" for d in batch.items)


def test_entur_dump(corpus: Path) -> None:
    path = corpus / "siri" / "no-entur-sx-datafeed-2017-07-11-original.xml"
    batch = parse(path.read_bytes(), ctx())
    assert len(batch.items) == 99 and batch.complete is True
    tree = etree.parse(str(path)).getroot()
    for elem, d in zip(tree.iterfind(f".//{SIRI}PtSituationElement"), batch.items, strict=True):
        number = elem.findtext(f"{SIRI}SituationNumber")
        assert d.upstream_id == f"{elem.findtext(f'{SIRI}ParticipantRef')}:{number}"
        assert len(d.periods) == len(elem.findall(f"{SIRI}ValidityPeriod"))
        lines = {e.text.strip() for e in elem.iterfind(f".//{SIRI}LineRef")}
        assert lines == {a.id for a in d.affected if a.type == "route"}
        assert set(d.header) == {"no"}  # Entur writes no xml:lang: the configured language
        if elem.findtext(f"{SIRI}Progress") == "closed":
            assert d.status == "ended"
    assert sum(d.status == "ended" for d in batch.items) >= 1
    summary = batch.items[0].header["no"]
    assert summary == "Blinkfestivalen fører til endringer på enkelte ruter. Les mer på kolumbus.no"


def test_translations_kept(corpus: Path) -> None:
    path = corpus / "siri" / "no-entur-example-siri-sx-with-translations.xml"
    (d,) = parse(path.read_bytes(), ctx()).items
    assert d.header == {
        "no": "Buss for tog mellom Asker og Spikkestad",
        "en": "Bus for train between Asker and Spikkestad",
    }
    assert set(d.description) == {"no", "en"}
    assert d.description["en"].endswith("See webpages for further information")
    assert "Benytt lokaltog" in d.description["no"]  # Advice has no xml:lang: configured one
    assert d.url == "http://www.entur.org/1" and "siri:info_link=http://www.entur.org/2" in d.categories
    assert len(d.periods) == 2 and d.periods[1].end is None
    assert "siri:PublicEventReason=airShow" in d.categories


def test_cen_examples(corpus: Path) -> None:
    batch = parse((corpus / "siri" / "cen-example-exx_situationExchange_response.xml").read_bytes(), ctx())
    (d,) = batch.items
    assert d.upstream_id == "RAILCO01:000354" and d.version == "0" and d.severity == "SEVERE"
    assert any("RoadSituationElement" in n for n in batch.notes)
    road = parse((corpus / "siri" / "cen-example-exx_situationExchange_road.xml").read_bytes(), ctx())
    assert road.items == () and road.notes
    vdv = parse((corpus / "siri" / "cen-example-vdv736-SX_1022_main_message.xml").read_bytes(), ctx())
    assert {"de", "en"} <= set(vdv.items[0].header) | set(vdv.items[0].description)


def test_stockholm_fixture(fixtures: Path) -> None:
    reference = load_gtfs(ROOT / "feeds" / "sl-gtfs")
    at = datetime(2025, 11, 25, 8, tzinfo=UTC)
    data = (fixtures / "siri" / "sl-sx-small.xml").read_bytes()
    batch = parse(data, ParseContext("sl-sx", at, reference=reference))
    metro, ferry = batch.items
    assert metro.upstream_id == "SL:SL:14010517000012401" and metro.version == "3"
    assert metro.updated_at == datetime(2025, 11, 25, 6, 55, tzinfo=UTC)
    assert metro.header["sv"].startswith("Röda linjen 14") and metro.header["en"].startswith("Red line")
    assert metro.description["sv"] == "Signalfel vid Gamla stan. Ta gröna linjen.\n\nRäkna med längre restid."
    assert (metro.cause, metro.effect, metro.severity) == ("TECHNICAL_PROBLEM", "NO_SERVICE", "SEVERE")
    assert metro.modes == ("metro",) and metro.status == "active"
    assert ("route", "9011001001400000", "14 Fruängen–Mörby centrum") in [
        (a.type, a.id, a.name) for a in metro.affected
    ]
    assert ("stop", "Gamla stan") in [(a.type, a.name) for a in metro.affected]
    assert thaw(metro.geometry) == {"type": "Point", "coordinates": [18.06755, 59.32313]}
    assert ferry.upstream_id == "WAX-2025-0411" and ferry.status == "ended"
    assert (ferry.cause, ferry.severity) == ("WEATHER", "INFO")
    assert ferry.affected[0].name == "Vaxholm"
    assert parse(data, ParseContext("sl-sx", at, options={"complete": False})).complete is False


def test_incremental_and_errors() -> None:
    head = b'<Siri xmlns="http://www.siri.org.uk/siri"><ServiceDelivery>'
    delta = head + (
        b"<SituationExchangeDelivery><IncrementalUpdates>true</IncrementalUpdates><Situations/>"
        b"</SituationExchangeDelivery></ServiceDelivery></Siri>"
    )
    batch = parse(delta, ctx())
    assert batch.complete is False and batch.items == () and batch.notes
    failed = head + (
        b"<SituationExchangeDelivery><Status>false</Status><ErrorCondition><OtherError>"
        b"<ErrorText>subscription expired</ErrorText></OtherError></ErrorCondition>"
        b"</SituationExchangeDelivery></ServiceDelivery></Siri>"
    )
    with pytest.raises(ParseError, match="subscription expired"):
        parse(failed, ctx())
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Siri>&a;</Siri>'
    for bad in (b"", b"<Siri><ServiceDelivery>", b"<html><body>503</body></html>", bomb, b"\x00\xff"):
        with pytest.raises(ParseError):
            parse(bad, ctx())
