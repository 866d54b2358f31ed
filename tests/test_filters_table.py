"""The filter table and the event semantics as units: one reader per filter, one classification."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storeutil import item

from travelinfo.api import params as api_params
from travelinfo.bot.rules import Rules
from travelinfo.filters import events, lines, table
from travelinfo.model import Affected
from travelinfo.runtime.server import BadParameter
from travelinfo.webhooks.delivery import query_of
from travelinfo.webhooks.routes import parse_filters

NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)
HOME = (17.2, 58.7, 19.4, 60.3)
CITY = {"type": "Point", "coordinates": [18.07, 59.33]}


def test_classify_is_the_documented_table() -> None:
    d = item("a", NOW, modes=("metro",))
    assert events.classify("created", d, matches=True, held=False) == "created"
    assert events.classify("updated", d, matches=True, held=False) == "created"  # first match
    assert events.classify("updated", d, matches=True, held=True) == "updated"
    assert events.classify("updated", d, matches=False, held=True) == "ended"  # stopped matching
    assert events.classify("updated", d, matches=False, held=False) is None
    ended = d.replace(status="ended")
    assert events.classify("ended", ended, matches=True, held=False) is None  # never held
    assert events.classify("ended", ended, matches=False, held=True) == "ended"


def test_track_ends_once_and_embeds_status_ended() -> None:
    held: set[str] = set()
    metro = item("a", NOW, modes=("metro",))
    only_metro = api_params.parse({"mode": "metro"}).query.matches
    first = events.track("created", metro, only_metro, held)
    assert first is not None and first.type == "created" and held == {metro.id}
    bus = metro.replace(modes=("bus",))
    out = events.track("updated", bus, only_metro, held)
    assert out is not None and out.type == "ended" and out.disruption.status == "ended"
    assert bus.status == "active"  # the stored item is untouched
    assert events.track("updated", bus, only_metro, held) is None  # once
    assert events.track("ended", bus.replace(status="ended"), only_metro, held) is None


def test_webhook_filters_read_like_the_api() -> None:
    raw = {
        "mode": ["metro", "ferry"],
        "bbox": [18.2, 59.4, 17.9, 59.2],
        "route": "Röda Linjen",
        "road": "e 4",
    }
    stored = parse_filters(raw)
    assert stored["bbox"] == [17.9, 59.2, 18.2, 59.4]  # reversed corners sorted, not refused
    api = api_params.parse({"mode": "metro,ferry", "bbox": "18.2,59.4,17.9,59.2", "route": "Röda Linjen",
                            "road": "e 4"}, home=HOME).query  # fmt: skip
    assert query_of(stored, HOME) == api.narrow()
    tiny = parse_filters({"bbox": [0.00001, 0.00001, 0.00002, 0.00002]})
    assert query_of(tiny).bbox == (0.00001, 0.00001, 0.00002, 0.00002)  # never written as 1e-05


@pytest.mark.parametrize(
    ("filters", "parameter"),
    [
        ({"route": "x" * 150}, "filters.route"),
        ({"region": "mars"}, "filters.region"),
        ({"q": 5}, "filters.q"),
    ],
)
def test_webhook_filters_refuse_what_delivery_could_not_read(
    filters: dict[str, object], parameter: str
) -> None:
    with pytest.raises(BadParameter) as exc:
        parse_filters(filters)
    assert exc.value.parameter == parameter


def test_region_rules_for_events_as_for_lists() -> None:
    far = item("far", NOW, modes=("ferry",), geometry={"type": "Point", "coordinates": [23.2, 65.1]})
    q = query_of({"mode": ["ferry"]}, HOME)
    assert not q.matches(far) and query_of({"mode": ["ferry"], "region": "all"}, HOME).matches(far)
    assert not Rules(min_severity="INFO", region=HOME).selects(far)
    assert events.track("created", far, q.matches, set()) is None


@pytest.mark.parametrize(
    "wanted",
    [
        "14",
        " 14 ",
        "röda linjen",
        "Röda linjen 14",
        "red line 14",
        "linje 14",
        "Tunnelbana 14",
        unicodedata.normalize("NFD", "Röda linjen"),
        "RÖDA LINJEN",
        "red-line",
    ],
)
def test_route_names_without_reference_data(wanted: str) -> None:
    # The entry's own name suffices for numbers and colloquial names (no GTFS installed needed).
    d = item("m", NOW, modes=("metro",), affected=[Affected("route", "r-x", "14 Fruängen–Mörby centrum")])
    assert lines.affects_route(d, wanted)


@pytest.mark.parametrize(
    "wanted",
    ["", "   ", "1", "4", "linjen", "14x", "röda", "gröna linjen", "gröna linjen 14", "röda linjen 13", "%"],
)
def test_route_names_do_not_widen(wanted: str) -> None:
    d = item("m", NOW, modes=("metro",), affected=[Affected("route", "r-x", "14 Fruängen–Mörby centrum")])
    assert not lines.affects_route(d, wanted)


def test_colloquial_names_respect_the_mode() -> None:
    bus14 = item("b", NOW, modes=("bus",), affected=[Affected("route", "b-14", "14 Centrum–Hamnen")])
    assert lines.affects_route(bus14, "14") and not lines.affects_route(bus14, "röda linjen")


@pytest.mark.parametrize(
    ("entry", "wanted", "hit"),
    [
        (Affected("road", "E4/E20", None), "E4", True),
        (Affected("road", "E4", "E4/E20"), "e 20", True),
        (Affected("road", "E45", None), "E4", False),
        (Affected("road", "274", "Väg 274"), "väg274", True),
        (Affected("road", "E4", None), "E4/E18", True),
        (Affected("road", "E18", None), "E1", False),
        (Affected("road", "E4", None), "/", False),
    ],
)
def test_road_numbers(entry: Affected, wanted: str, hit: bool) -> None:
    assert lines.affects_road(item("r", NOW, affected=[entry]), wanted) is hit


_NAMES = re.compile(table.NAMES_PATTERN[1:-1])
# Lists near every limit: names of up to 105 characters (limit 100), up to 33 of them (limit
# 30), blank ones, other blanks than spaces, a control character, and anything at all.
_CHARS = st.sampled_from(["1", "4", "x", "ö", " ", "\u00a0", "😀"])
_PART = st.one_of(st.text(_CHARS, max_size=8), st.text(_CHARS, min_size=95, max_size=105))
_LISTS = st.lists(_PART, min_size=1, max_size=33).map(",".join)
_MANY = st.lists(st.text(_CHARS, min_size=1, max_size=3), min_size=29, max_size=33).map(",".join)
_BLANK = st.text(st.sampled_from([" ", "\u00a0"]), max_size=3)
_BLANKS = st.lists(_BLANK, min_size=1, max_size=3).map(",".join)
_VALUES = st.one_of(_LISTS, _MANY, _BLANKS, _LISTS.map(lambda v: v + "\t"), st.text(max_size=60))


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_the_documented_names_pattern_is_exactly_what_the_reader_takes(value: str) -> None:
    """The OpenAPI pattern of `route`/`road` says what the reader accepts, no more, no less
    (schemathesis sends what the pattern allows, and what it forbids, and expects the same)."""
    read = table.BY_NAME["route"].read
    assert read is not None
    try:
        kept = read(value, None)["route"]
    except BadParameter:
        assert not _NAMES.fullmatch(value), value
    else:
        assert _NAMES.fullmatch(value), value
        parts = kept.split(",")
        assert all(p and p == p.strip(" ") for p in parts) and len(set(parts)) == len(parts)
