"""Which disruptions the bot posts, and which changes earn a reply."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.storeutil import item
from travelinfo.bot.rules import Rules, cancelled_ids, decide, material_checksum, post_key, priority
from travelinfo.bot.state import Thread
from travelinfo.config import BotSettings
from travelinfo.model import Affected, Period

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def rules(**kw: object) -> Rules:
    s = BotSettings()
    for key, value in kw.items():
        setattr(s, key, value)
    return Rules.from_settings(s)


def test_default_rules_warning_and_above_active_or_within_24h() -> None:
    r = rules()
    assert r.wants(item("a", NOW, severity="WARNING"), NOW)
    assert r.wants(item("a", NOW, severity="SEVERE"), NOW)
    assert not r.wants(item("a", NOW, severity="INFO"), NOW)
    soon = item("p", NOW, periods=(Period(NOW + timedelta(hours=23)),))
    later = item("p", NOW, periods=(Period(NOW + timedelta(hours=25)),))
    assert soon.status == "planned" and r.wants(soon, NOW)
    assert not r.wants(later, NOW)
    assert decide("created", later, None, r, NOW) == "defer"
    assert r.due_at(later) == NOW + timedelta(hours=1)
    assert not r.wants(item("e", NOW, ended=True), NOW)


def test_rules_narrow_by_mode_source_route_and_area() -> None:
    metro = item("m", NOW, modes=("metro",), affected=(Affected("route", "9011001001400000", "14"),))
    road = item(
        "r",
        NOW,
        source="trafikverket",
        affected=(Affected("road", "E4"),),
        geometry={"type": "Point", "coordinates": [17.85, 59.25]},
    )
    assert rules(modes=["metro"]).wants(metro, NOW) and not rules(modes=["metro"]).wants(road, NOW)
    assert rules(sources=["trafikverket"]).wants(road, NOW)
    assert not rules(sources=["trafikverket"]).wants(metro, NOW)
    assert rules(routes=["E 4"]).wants(road, NOW) and rules(routes=["14"]).wants(metro, NOW)
    assert not rules(routes=["E18"]).wants(road, NOW)
    stockholm = [17.5, 59.1, 18.6, 59.6]
    assert rules(area=stockholm).wants(road, NOW)
    assert not rules(area=[11.0, 57.0, 12.5, 58.0]).wants(road, NOW)
    assert not rules(area=stockholm).wants(metro, NOW)  # no geometry: not known to be inside
    with pytest.raises(ValueError, match="min_severity"):
        rules(min_severity="HIGH")


def test_material_changes_only() -> None:
    d = item("a", NOW, description="Köer.")
    base = material_checksum(d)
    later = NOW + timedelta(minutes=5)
    trivial = d.replace(
        last_seen=later, updated_at=later, version="7", categories=("datex2:Accident",), provenance=None
    )
    assert material_checksum(trivial) == base
    for change in (
        {"severity": "SEVERE"},
        {"effect": "NO_SERVICE"},
        {"periods": (Period(NOW, NOW + timedelta(hours=1)),)},
        {"header": {"sv": "Olycka på E4 vid Hallunda"}},
        {"description": {"sv": "Långa köer."}},
    ):
        assert material_checksum(d.replace(**change)) != base, change
    r = rules()
    thread = Thread.from_json({"last": "1", "checksum": base, "ended": False})  # as stored, partly
    assert decide("updated", trivial, thread, r, NOW) == "skip"
    assert decide("updated", d.replace(severity="SEVERE"), thread, r, NOW) == "update"
    assert decide("ended", d.replace(status="ended"), thread, r, NOW) == "end"
    assert decide("ended", d.replace(status="ended"), None, r, NOW) == "skip"
    assert decide("updated", d, replace(thread, ended=True), r, NOW) == "skip"
    assert decide("updated", d, Thread.from_json({"last": None, "digested": True}), r, NOW) == "skip"
    # A severity drop still replies in an existing thread (followers learn it eased).
    assert decide("updated", d.replace(severity="INFO"), thread, r, NOW) == "update"


def test_post_keys_are_deterministic_and_distinct() -> None:
    k = post_key("a", "update", "c1", "100", "sv")
    assert k == post_key("a", "update", "c1", "100", "sv") and len(k) == 64
    assert (
        len({k, post_key("a", "update", "c1", "101", "sv"), post_key("a", "update", "c1", "100", "en")}) == 3
    )


def test_home_region_applies_unless_bot_area_is_set() -> None:
    home = (17.2, 58.7, 19.5, 60.3)
    r = Rules.from_settings(BotSettings(), home)
    kiel = item("k", NOW, geometry={"type": "Point", "coordinates": [11.15, 54.59]})
    sandhamn = item("s", NOW, geometry={"type": "Point", "coordinates": [18.91, 59.28]})
    nowhere = item("n", NOW)  # no geometry: kept, as on the pages
    assert not r.wants(kiel, NOW) and r.wants(sandhamn, NOW) and r.wants(nowhere, NOW)
    s = BotSettings()
    s.area = [10.0, 54.0, 12.0, 55.0]
    own = Rules.from_settings(s, home)  # bot.area wins over web.region
    assert own.wants(kiel, NOW) and not own.wants(sandhamn, NOW) and not own.wants(nowhere, NOW)


def test_flap_within_the_window_is_an_update_in_the_old_thread() -> None:
    r = rules()
    d = item("a", NOW)
    ten_ago = (NOW - timedelta(minutes=10)).timestamp()
    ended = Thread("a", last="9", ended=True, ended_at=ten_ago, checksum="x")
    assert decide("created", d, ended, r, NOW, flap_window=1800) == "update"
    assert decide("created", d, ended, r, NOW, flap_window=300) == "skip"  # window over: stays closed
    assert decide("created", d, replace(ended, cancelled=True), r, NOW, flap_window=1800) == "skip"
    assert decide("ended", d.replace(status="ended"), ended, r, NOW, flap_window=1800) == "skip"


def test_priority_and_navtex_cancellations() -> None:
    assert priority(item("s", NOW, severity="SEVERE"))
    assert priority(item("n", NOW).replace(source_type="manual"))
    assert priority(item("v", NOW).replace(source_type="cap"))
    assert not priority(item("w", NOW))
    cancel = item("BALTIC SEA NAV WARN 064/26", NOW, source="sjofartsverket").replace(
        source_type="navtex",
        description={
            "en": "SANDHAMN.\r\nREGATTA COMPLETED.\r\nCANCEL BALTIC SEA NAV WARN 62/26 AND THIS MSG."
        },
    )
    ids = cancelled_ids(cancel)
    assert len(ids) == 1 and "sjofartsverket:BALTIC SEA NAV WARN 062/26" in ids[0]
    itself = cancel.replace(description={"en": "CANCEL BALTIC SEA NAV WARN 064/26."})
    assert cancelled_ids(itself) == []  # a warning naming itself cancels nothing else
    assert cancelled_ids(item("x", NOW).replace(description={"sv": "CANCEL BALTIC SEA NAV WARN 1/26"})) == []
