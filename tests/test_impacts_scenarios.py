"""Labelled Stockholm scenarios: which lines each road or fairway event should and should not hit.

Each scenario lists the (line, direction_id) pairs it must hit and, to say what it tests, some it
must not. Precision counts every predicted pair (labelled or not), recall every expected one;
both are printed and must be at least 0.9; each scenario's misses are printed by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from impactsutil import ROADS, box, item, line_geom, load_index, offset, point_geom, write_gtfs

from travelinfo.impacts.index import ReferenceIndex
from travelinfo.impacts.infer import infer
from travelinfo.settings import ImpactSettings

Pair = tuple[str, int]
ESS = ROADS["essingeleden"]
E4 = ROADS["e4"]
VD = ROADS["varmdoleden"]

# (name, item keyword arguments, must hit, must not hit)
ROAD_SCENARIOS: list[tuple[str, dict[str, Any], set[Pair], set[Pair]]] = [
    ("Essingeleden closed northbound: not the southbound carriageway, the bridge or the street 60 m away",
     dict(geometry=line_geom(ESS[1:3]), direction="northbound", roads=("E4", "E20")),
     {("E1", 0)}, {("E1", 1), ("1", 0), ("49", 0)}),
    ("Essingeleden lane closure both ways",
     dict(geometry=line_geom(ESS[1:4]), direction="both", effect="REDUCED_SERVICE", roads=("E4",)),
     {("E1", 0), ("E1", 1)}, {("1", 0), ("49", 0)}),
    ("short 200 m stretch with the bridge crossing in its middle",
     dict(geometry=line_geom([(18.00395, 59.3291), (18.00415, 59.3309)]), roads=("E4",)),
     {("E1", 0), ("E1", 1)}, {("1", 0)}),
    # A point has no heading of its own: bus 509 crossing E4 here heads north-east, within the
    # stated direction; it is left out because the other lines here share E4's axis.
    ("point accident on E4 at Järva krog, northbound (from the text): not southbound, service road, crossing",
     dict(geometry=point_geom(*E4[3]), header="Trafikolycka på E4 norrgående vid Järva krog", roads=("E4",)),
     {("515", 0), ("518", 0)}, {("515", 1), ("506", 0), ("509", 0)}),
    ("point accident on Essingeleden under the bridge bus 1 crosses",
     dict(geometry=point_geom(18.00405, 59.3300), roads=("E4",)),
     {("E1", 0), ("E1", 1)}, {("1", 0), ("49", 0)}),
    ("point accident on E4 at Frösunda, no direction: both carriageways, not the service road 70 m away",
     dict(geometry=point_geom(*E4[2]), roads=("E4",)),
     {("515", 0), ("515", 1), ("518", 0)}, {("506", 0)}),
    ("Skurubron closed on Värmdöleden (a road bridge over water: along, not across)",
     dict(geometry=line_geom([(18.2050, 59.3102), (18.2130, 59.3110), (18.2200, 59.3126)]), roads=("E18",)),
     {("474", 0), ("474", 1)}, {("414", 0)}),
    ("Värmdöleden road works eastbound",
     dict(geometry=line_geom(VD[0:4]), direction="eastbound", effect="REDUCED_SERVICE", cause="CONSTRUCTION",
          roads=("E18",)),
     {("474", 0)}, {("474", 1), ("414", 0)}),
    ("Värmdöleden closure in the road's own positive direction",
     dict(geometry=line_geom(VD[2:5]), direction="positive", roads=("222",)),
     {("474", 0)}, {("474", 1)}),
    ("E18 Norrtäljevägen closed southbound",
     dict(geometry=line_geom(ROADS["e18"]), direction="southbound", roads=("E18",)),
     {("676", 1)}, {("676", 0)}),
    ("E4/E20 Södertäljevägen heavy delays",
     dict(geometry=line_geom(ROADS["e20"][1:3]), effect="SIGNIFICANT_DELAYS", cause="UNKNOWN_CAUSE"),
     {("748", 0), ("748", 1)}, set()),
    ("Valhallavägen closed: not the Sveavägen bus crossing at the junction",
     dict(geometry=line_geom(ROADS["valhallavagen"]), cause="CONSTRUCTION"),
     {("4", 0), ("4", 1)}, {("52", 0), ("52", 1)}),
    ("Sveavägen closed over the Valhallavägen junction: not bus 4 crossing, not the metro beneath",
     dict(geometry=line_geom(ROADS["sveavagen"][1:]), cause="CONSTRUCTION"),
     {("52", 0), ("52", 1)}, {("4", 0), ("4", 1), ("17", 0), ("17", 1)}),
    ("shoulder works that do not hinder traffic infer nothing",
     dict(geometry=line_geom(ESS), effect="OTHER_EFFECT", cause="MAINTENANCE"),
     set(), {("E1", 0), ("E1", 1)}),
    ("point accident on Essingeleden southbound at Lilla Essingen",
     dict(geometry=point_geom(*ESS[1]), direction="southbound", roads=("E4",)),
     {("E1", 1)}, {("E1", 0), ("49", 0)}),
]  # fmt: skip
SHIP = dict(source="sjofartsverket", source_type="navtex", modes=("shipping",), cause="OTHER_CAUSE")
FAIRWAY_SCENARIOS: list[tuple[str, dict[str, Any], set[Pair], set[Pair]]] = [
    ("Sandhamnsleden closed for a regatta (the demo's NAVTEX area)",
     dict(geometry=box(18.883333, 59.27, 18.946667, 59.29), **SHIP),
     {("Sandhamn", 0), ("Sandhamn", 1)}, {("Vaxholm", 0), ("Vaxholm", 1)}),
    ("fairway closed at Oxdjupet on the way to Vaxholm",
     dict(geometry=box(18.26, 59.355, 18.29, 59.375), **SHIP),
     {("Vaxholm", 0), ("Vaxholm", 1), ("Sandhamn", 0), ("Sandhamn", 1)}, set()),
    ("a closed fairway line across Saltsjön off Blockhusudden",
     dict(geometry=line_geom([(18.15, 59.320), (18.15, 59.336)]), **SHIP),
     {("Vaxholm", 0), ("Vaxholm", 1), ("Sandhamn", 0), ("Sandhamn", 1)}, {("474", 0)}),
    ("an unlit buoy beside the fairway stops no ferry",
     dict(geometry=point_geom(18.1900, 59.3352), **{**SHIP, "effect": "OTHER_EFFECT"}),
     set(), {("Vaxholm", 0), ("Sandhamn", 0)}),
    ("a closed sea area over land stops no bus",
     dict(geometry=box(18.040, 59.345, 18.070, 59.350), **SHIP),
     set(), {("4", 0), ("4", 1)}),
]  # fmt: skip


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> ReferenceIndex:
    return load_index(write_gtfs(Path(tmp_path_factory.mktemp("gtfs"))))


def _predicted(index: ReferenceIndex, kwargs: dict[str, Any], n: int) -> set[Pair]:
    d = item(f"s{n}", **kwargs)
    return {(i.name, i.direction_id or 0) for i in infer(d, index, ImpactSettings())}


def _score(index: ReferenceIndex, scenarios: list[Any], what: str) -> tuple[float, float]:
    tp = fp = fn = 0
    for n, (name, kwargs, hit, miss) in enumerate(scenarios):
        got = _predicted(index, kwargs, n)
        assert not got & miss, f"{name}: hit what it must not: {sorted(got & miss)}"
        tp, fp, fn = tp + len(got & hit), fp + len(got - hit), fn + len(hit - got)
        if got != hit:
            print(f"  {what} {name!r}: extra {sorted(got - hit)}, missed {sorted(hit - got)}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"{what}: {len(scenarios)} scenarios, tp={tp} fp={fp} fn={fn}, "
        f"precision={precision:.3f} recall={recall:.3f}"
    )
    return precision, recall


def test_road_scenarios_precision_and_recall(index: ReferenceIndex) -> None:
    assert len(ROAD_SCENARIOS) >= 12
    precision, recall = _score(index, ROAD_SCENARIOS, "road")
    assert precision >= 0.9 and recall >= 0.9


def test_fairway_scenarios_precision_and_recall(index: ReferenceIndex) -> None:
    assert len(FAIRWAY_SCENARIOS) >= 3
    precision, recall = _score(index, FAIRWAY_SCENARIOS, "fairway")
    assert precision >= 0.9 and recall >= 0.9


def test_all_scenarios_together(index: ReferenceIndex) -> None:
    precision, recall = _score(index, ROAD_SCENARIOS + FAIRWAY_SCENARIOS, "all")
    assert precision >= 0.9 and recall >= 0.9


def test_an_impact_names_its_stops_overlap_direction_and_reason(index: ReferenceIndex) -> None:
    d = item("e", geometry=line_geom(ESS[1:3]), direction="northbound", roads=("E4",))
    (imp,) = infer(d, index, ImpactSettings())
    data = imp.to_json()
    assert data["inferred"] is True and data["reason"] == "runs_along"
    assert (data["name"], data["direction_id"], data["direction"]) == ("E1", 0, "northbound")
    # The stretch is Lilla Essingen - Fredhäll (about 950 m); the line runs all of it.
    assert 850 <= data["overlap_m"] <= 1000, data
    assert {s["id"] for s in data["stops"]} == {"SE1-0-1", "SE1-0-2"}
    assert 0.9 <= data["confidence"] <= 1.0
    assert d.affected == (d.affected[0],)  # the item itself is untouched


def test_a_warning_area_affects_the_lines_with_stops_inside(index: ReferenceIndex) -> None:
    # A VMA circle-ish box around the Valhallavägen/Sveavägen junction: buses 4, 52, metro 17.
    d = item("vma", geometry=box(18.0470, 59.3470, 18.0580, 59.3510), source="vma", source_type="cap",
             modes=("unknown",), cause="OTHER_CAUSE", effect="OTHER_EFFECT")  # fmt: skip
    got = {(i.name, i.reason) for i in infer(d, index, ImpactSettings())}
    assert {n for n, _ in got} >= {"4", "52", "17"} and {r for _, r in got} == {"stops_in_area"}
    assert "E1" not in {n for n, _ in got}


def test_no_reference_no_geometry_or_disabled_infers_nothing(index: ReferenceIndex) -> None:
    d = item("e", geometry=line_geom(ESS[1:3]))
    assert infer(d, None, ImpactSettings()) == ()
    assert infer(item("n", geometry=None), index, ImpactSettings()) == ()
    assert infer(d, index, ImpactSettings(enabled=False)) == ()


def test_the_settings_move_the_corridor(index: ReferenceIndex) -> None:
    # With a 70 m corridor the street 60 m away is hit: the default (30 m) is what keeps it out.
    d = item("e", geometry=line_geom(ESS[1:3]), direction="northbound", roads=("E4",))
    wide = {i.name for i in infer(d, index, ImpactSettings(buffer_m=70.0))}
    assert "49" in wide and "49" not in {i.name for i in infer(d, index, ImpactSettings())}


def test_offsets_are_what_the_labels_assume() -> None:
    # The fixture's geometry itself: the parallel street is 60 m from the road, the lane 8 m.
    from travelinfo.impacts.index import Projection

    proj = Projection(18.0, 59.33)
    road = proj.geometry(line_geom(ESS))
    street = proj.geometry(line_geom(offset(ESS, 60.0)))
    assert 58 <= road.distance(proj.geometry(point_geom(*offset(ESS, 60.0)[2]))) <= 62
    assert street.hausdorff_distance(road) < 80


def test_direction_words_in_the_text() -> None:
    from travelinfo.impacts.infer import event_direction

    assert event_direction(item("a", None, header="Olycka på E4 norrgående vid Järva krog")) == "northbound"
    assert event_direction(item("b", None, header="E18 avstängd norrgående och södergående")) is None
    assert event_direction(item("c", None, header="E4 norrgående: avstängt i båda riktningarna")) is None
    stated = item("d", None, header="Olycka norrgående", direction="southbound", roads=("E4",))
    assert event_direction(stated) == "southbound"  # the source's own field wins over its text


def test_a_point_with_one_line_along_and_one_across_keeps_both() -> None:
    # The known limit of point events: without a majority axis, a crossing cannot be told apart.
    import numpy as np

    from travelinfo.impacts.infer import _road_axis

    along, across = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    assert _road_axis([along, across], 30.0) is None
    axis = _road_axis([along, -along, across], 30.0)
    assert axis is not None and abs(float(axis @ along)) == 1.0
    assert _road_axis([along, -along], 30.0) is None  # all agree: nothing to leave out
