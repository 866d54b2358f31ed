"""Incident fusion: one real-world event across sources, and nothing else fused with it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from impactsutil import NOW, ROADS, item, load_index, point_geom, write_gtfs

from travelinfo.impacts.fusion import fuse
from travelinfo.impacts.index import ReferenceIndex
from travelinfo.impacts.infer import infer
from travelinfo.model import Affected, Disruption
from travelinfo.settings import ImpactSettings

S = ImpactSettings()
E4_JARVA = ROADS["e4"][3]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> ReferenceIndex:
    return load_index(write_gtfs(Path(tmp_path_factory.mktemp("gtfs"))))


def _accident() -> Disruption:
    return item("acc", point_geom(*E4_JARVA), header="Olycka. Trafikolycka på E4 norrgående vid Järva krog.",
                roads=("E4",), effect="REDUCED_SERVICE")  # fmt: skip


def _sl_alert(text: str, routes: tuple[str, ...] = ("R515",), start_minutes: int = 10) -> Disruption:
    return item(
        "sl-515", None, source="sl", source_type="gtfsrt", modes=("bus",), effect="DETOUR",
        header=text, affected=tuple(Affected("route", r, None) for r in routes),
        start=NOW + timedelta(minutes=start_minutes),
    )  # fmt: skip


def _unrelated() -> Disruption:
    # An accident on E4 at the same time, 5 km further north (Häggvik), from another source.
    return item("far", point_geom(17.9330, 59.4090), source="trafikverket-api", source_type="trafikverket",
                header="Olycka på E4 vid Häggvik", roads=("E4",), effect="REDUCED_SERVICE")  # fmt: skip


def _routes(index: ReferenceIndex):  # type: ignore[no-untyped-def]
    return lambda d: [i.route_id for i in infer(d, index, S)]


def test_the_accident_and_the_sl_alert_are_one_incident_the_far_accident_alone(index: ReferenceIndex) -> None:
    acc, sl, far = (
        _accident(),
        _sl_alert("Buss 515 och 518 leds om på grund av en olycka på E4 vid Järva krog."),
        _unrelated(),
    )
    fused = fuse([acc, sl, far], S, index.projection, _routes(index))
    assert set(fused) == {acc.id, sl.id}
    incident = fused[acc.id]
    assert incident is fused[sl.id] and incident.members == (acc.id, sl.id)
    assert incident.links == ((sl.id, acc.id, "text"),)
    assert incident.status == "active"
    # `related` links both ways; each member keeps its own source and text.
    assert incident.to_json(acc.id)["related"] == [sl.id] and incident.to_json(sl.id)["related"] == [acc.id]
    assert acc.related == () and sl.related == ()


def test_without_the_place_the_line_the_road_event_affects_decides(index: ReferenceIndex) -> None:
    # "an accident on E4" names no place: the SL alert's line 515 is inferred from the Järva krog
    # accident only (Häggvik is north of where 515 runs in the test network).
    acc, far = _accident(), _unrelated()
    sl = _sl_alert("Buss 515 är försenad på grund av en olycka på E4.")
    fused = fuse([acc, sl, far], S, index.projection, _routes(index))
    assert set(fused) == {acc.id, sl.id}


def test_ending_one_member_ends_only_itself(index: ReferenceIndex) -> None:
    acc = _accident()
    sl = _sl_alert("Buss 515 leds om på grund av en olycka på E4 vid Järva krog.")
    ended = sl.replace(status="ended", last_seen=NOW + timedelta(minutes=40))
    fused = fuse([acc, ended, _unrelated()], S, index.projection, _routes(index))
    incident = fused[acc.id]
    assert incident.members == (acc.id, sl.id) and incident.status == "active"
    assert acc.status == "active" and fused[sl.id].id == incident.id  # the id is stable
    both_ended = fuse(
        [acc.replace(status="ended", last_seen=NOW + timedelta(hours=1)), ended], S, index.projection
    )
    assert both_ended[acc.id].status == "ended" and both_ended[acc.id].id == incident.id


def test_the_same_place_from_two_sources_fuses_without_any_text(index: ReferenceIndex) -> None:
    acc = _accident()
    twin = item(
        "twin",
        point_geom(E4_JARVA[0] + 0.002, E4_JARVA[1]),
        source="trafikverket-api",
        source_type="trafikverket",
        header="Trafikolycka",
        roads=("E4",),
    )  # fmt: skip  (about 110 m away)
    far = _unrelated()
    fused = fuse([acc, twin, far], S, index.projection)
    assert set(fused) == {acc.id, twin.id}
    assert fused[acc.id].links == ((twin.id, acc.id, "place"),)  # a place link names its ids in order


def test_no_fusion_across_time_cause_or_within_one_source(index: ReferenceIndex) -> None:
    acc = _accident()
    later = item("later", point_geom(*E4_JARVA), source="trafikverket-api", source_type="trafikverket",
                 roads=("E4",), start=NOW + timedelta(hours=5), end=NOW + timedelta(hours=6))  # fmt: skip
    works = item("works", point_geom(*E4_JARVA), source="trafikverket-api", source_type="trafikverket",
                 roads=("E4",), cause="CONSTRUCTION", header="Vägarbete")  # fmt: skip
    same_source = item("dup", point_geom(*E4_JARVA), roads=("E4",))
    acc_until = acc.replace(periods=(acc.periods[0].__class__(NOW, NOW + timedelta(hours=1)),))
    for other in (later, works):
        assert fuse([acc_until, other], S, index.projection) == {}, other.id
    assert fuse([acc, same_source], S, index.projection) == {}
    # An SL text about a road work (not an accident) on E4 is not about the accident either.
    sl = _sl_alert("Buss 515 leds om på grund av vägarbete på E4 vid Järva krog.")
    assert fuse([acc, sl], S, index.projection, _routes(index)) == {}


def test_a_source_given_reference_fuses_and_a_dangling_one_is_ignored(index: ReferenceIndex) -> None:
    a = item("a", None, source="vma", source_type="cap", modes=("unknown",), cause="OTHER_CAUSE")
    b = item("b", None, source="krisinformation", source_type="cap", modes=("unknown",), cause="OTHER_CAUSE")
    a = a.replace(related=(b.id, "vma:gone"))
    fused = fuse([a, b], S, index.projection)
    # Same first sighting: the members are in id order; the link is the one the source gave.
    assert fused[a.id].members == (b.id, a.id) and fused[b.id].links == ((a.id, b.id, "related"),)


def test_disabled_fuses_nothing(index: ReferenceIndex) -> None:
    acc, sl = _accident(), _sl_alert("Buss 515 leds om på grund av en olycka på E4 vid Järva krog.")
    assert fuse([acc, sl], ImpactSettings(enabled=False), index.projection, _routes(index)) == {}


def test_fusion_does_not_depend_on_the_order_items_come_in(index: ReferenceIndex) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    acc, far = _accident(), _unrelated()
    sl = _sl_alert("Buss 515 leds om på grund av en olycka på E4 vid Järva krog.")
    twin = item("twin", point_geom(E4_JARVA[0] + 0.002, E4_JARVA[1]), source="trafikverket-api",
                source_type="trafikverket", header="Trafikolycka", roads=("E4",))  # fmt: skip
    items = [acc, sl, far, twin]
    expected = fuse(items, S, index.projection, _routes(index))
    assert {i.id for i in expected.values()} and set(expected) == {acc.id, sl.id, twin.id}

    @settings(max_examples=30, deadline=None)
    @given(st.permutations(items))
    def same(order: list[Disruption]) -> None:
        assert fuse(order, S, index.projection, _routes(index)) == expected

    same()
