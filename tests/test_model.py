"""The disruption model: immutability, exact JSON round trip, UTC only, content checksum."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from storeutil import item

from travelinfo.model import Disruption, ModelError, Period, Provenance, compute_status


def test_round_trip_is_exact(now: datetime) -> None:
    d = item(
        "1",
        now,
        geometry={"type": "LineString", "coordinates": [[18.0, 59.3], [18.1, 59.4]]},
        description="Kö",
    )
    assert Disruption.from_json(d.to_json()) == d
    assert Disruption.loads(d.dumps()).dumps() == d.dumps()
    assert list(d.to_json()) == [
        "id",
        "source",
        "source_type",
        "upstream_id",
        "version",
        "updated_at",
        "first_seen",
        "last_seen",
        "status",
        "modes",
        "cause",
        "effect",
        "severity",
        "categories",
        "periods",
        "header",
        "description",
        "location_text",
        "url",
        "geometry",
        "affected",
        "related",
        "provenance",
        "schedules",
        "certainty",
        "restrictions",
        "delay_minutes",
    ]


def test_immutable_and_validated(now: datetime) -> None:
    d = item("1", now)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.severity = "SEVERE"  # type: ignore[misc]
    with pytest.raises(TypeError):
        d.header["sv"] = "x"  # type: ignore[index]
    with pytest.raises(ModelError):
        d.replace(severity="HUGE")
    with pytest.raises(ModelError):
        d.replace(modes=())
    with pytest.raises(ModelError):
        d.replace(header={})


def test_only_aware_utc_datetimes(now: datetime) -> None:
    with pytest.raises(ModelError):
        Period(datetime(2026, 1, 1))
    cet = timezone(timedelta(hours=1))
    p = Period(datetime(2026, 1, 1, 13, 0, tzinfo=cet))
    assert p.start.tzinfo is UTC and p.start.hour == 12
    assert item("1", now).to_json()["updated_at"].endswith("Z")


def test_checksum_ignores_seen_times_and_provenance(now: datetime) -> None:
    d = item("1", now)
    later = now + timedelta(hours=1)
    same = d.replace(first_seen=later, last_seen=later, provenance=Provenance(later, "https://x.invalid"))
    assert same.checksum() == d.checksum()
    assert d.replace(severity="SEVERE").checksum() != d.checksum()
    assert d.replace(updated_at=later).checksum() != d.checksum()
    assert d.replace(updated_at=later, version="9").content_checksum() == d.content_checksum()


def test_status_from_periods(now: datetime) -> None:
    h = timedelta(hours=1)
    assert compute_status([Period(now - h, now + h)], now) == "active"
    assert compute_status([Period(now + h)], now) == "planned"
    assert compute_status([Period(now - 2 * h, now - h)], now) == "ended"
    assert compute_status([Period(now - 2 * h, now - h), Period(now + h)], now) == "planned"
    assert compute_status([], now) == "active"
    assert compute_status([Period(now - h)], now, ended=True) == "ended"
