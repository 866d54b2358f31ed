"""The demo SIRI-SX sequence (feeds/sl-siri): valid SIRI 2.x, and it tells its story."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from travelinfo.ingest.parsers.base import ParseContext, get_parser

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "feeds" / "sl-siri").glob("*.xml"))
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def test_demo_files_validate_against_the_siri_schema(corpus: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(corpus / "siri" / "xsd-siri-cen-master" / "xsd" / "siri.xsd")))
    assert FILES
    for path in FILES:
        assert schema.validate(etree.parse(str(path))), (path.name, schema.error_log)


def test_demo_sequence_tells_its_story() -> None:
    parse = get_parser("siri-sx")
    first, second = (
        {
            d.upstream_id: d
            for d in parse(p.read_bytes(), ParseContext("sl-siri", NOW, options={"lang": "sv"})).items
        }
        for p in FILES
    )
    fault, works = first["SL:14010517000012502"], first["SL:14010517000012288"]
    assert fault.modes == ("rail",) and fault.severity == "SEVERE" and fault.effect == "NO_SERVICE"
    assert fault.status == "active" and set(fault.header) == {"sv", "en"}
    assert works.status == "planned" and works.cause == "MAINTENANCE"
    assert second["SL:14010517000012502"].status == "ended", "the track fault is repaired"
    assert second["SL:14010517000012288"].status == "planned"
