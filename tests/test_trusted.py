"""parsers/trusted.py: the one-step Disruption build refuses (hands to the generic path) all the vet refuses.

Every case builds the same item twice, once the generic way (`ctx.disruption`) and once through
`trusted.disruption`, and passes both through `vet_batch`: items, notes, skips and errors must be
the same. An item is marked vetted only when the vet had nothing to do with it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from travelinfo.ingest.parsers import trusted
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.datex2 import parse
from travelinfo.ingest.parsers.vet import MAX_AFFECTED, MAX_POSITIONS, MAX_TEXT_CHARS, vet_batch
from travelinfo.model import Affected, Batch, Disruption, ModelError, Period

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CTX = ParseContext("trust", NOW, url="https://example.org/feed")
BASE: dict[str, Any] = {
    "periods": (Period(NOW - timedelta(hours=1), NOW + timedelta(hours=1)),),
    "status": "active",
    "updated_at": NOW,
    "modes": ("road",),
    "header": {"en": "Road closed"},
    "geometry": {"type": "Point", "coordinates": [18.06, 59.33]},
}


def _outcome(build: Any, upstream: str, fields: dict[str, Any]) -> Any:
    try:
        item = build(upstream, fields)
    except Exception as exc:  # the same error both ways is the point
        return ("error", type(exc).__name__, str(exc))
    batch = vet_batch(Batch("trust", NOW, (item,), complete=True))
    return (
        [d.to_json() for d in batch.items],
        [d.checksum() for d in batch.items],
        batch.notes,
        batch.skipped,
        batch.skip_reason,
        batch.kept,
    )


def _generic(upstream: str, fields: dict[str, Any]) -> Disruption:
    return CTX.disruption("datex2", upstream, **fields)


def _trusted(upstream: str, fields: dict[str, Any]) -> Disruption:
    return trusted.disruption(CTX, trusted.provenance(CTX), "datex2", upstream, **fields)


def _check(upstream: str = "S1", **changes: Any) -> Disruption | None:
    fields = {**BASE, **changes}
    assert _outcome(_trusted, upstream, fields) == _outcome(_generic, upstream, fields)
    try:
        return _trusted(upstream, fields)
    except (ModelError, ValueError, TypeError):
        return None


def test_defaults_are_the_models() -> None:
    params = inspect.signature(trusted.disruption).parameters
    for f in dataclasses.fields(Disruption):
        if not f.init or f.name not in params or params[f.name].default is inspect.Parameter.empty:
            continue  # required here (the parser always says: periods, status, updated_at, ...)
        default = params[f.name].default
        if f.default is not dataclasses.MISSING:
            assert default == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert default == f.default_factory(), f.name
    built = {"id", "source", "source_type", "upstream_id", "first_seen", "last_seen", "provenance"}
    assert {f.name for f in dataclasses.fields(Disruption) if f.init} - built == set(params) - {
        "ctx",
        "prov",
        "source_type",
        "upstream_id",
    }


def test_a_clean_item_is_vetted_and_equal_to_the_generic_one() -> None:
    d = _check()
    assert d is not None and d._vetted
    generic = _generic("S1", dict(BASE))
    assert d == generic and d.dumps() == generic.dumps() and d.checksum() == generic.checksum()
    assert vet_batch(Batch("trust", NOW, (d,), complete=True)).items[0] is d
    # Built as trusted._Open and retyped: a real, frozen Disruption, like any other.
    assert type(d) is Disruption and Disruption.from_json(d.to_json()) == d == d.replace()
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.status = "ended"  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {"header": {"en": "x" * (MAX_TEXT_CHARS + 1)}},
        {"header": {"en": "Road\x07 closed"}},
        {"description": {"en": "evil\u202etxt.exe"}},
        {"location_text": {"en": " padded "}},
        {"header": {"EN-gb": "Road closed"}},
        {"header": {"not a tag": "Road closed"}},
        {"url": "javascript:alert(1)"},
        {"url": "https://example.org/a b"},
        {"url": ""},
        {"geometry": {"type": "Point", "coordinates": [math.nan, 59.0]}},
        {"geometry": {"type": "Point", "coordinates": [math.inf, 59.0]}},
        {"geometry": {"type": "Point", "coordinates": [200.0, 59.0]}},
        {"geometry": {"type": "Point", "coordinates": [18.0, -91.0]}},
        {"geometry": {"type": "Point", "coordinates": [True, 59.0]}},
        {"geometry": {"type": "Point", "coordinates": [18.0, 59.0], "bbox": [0, 0, 1, 1]}},
        {"geometry": {"type": "Feature", "coordinates": [18.0, 59.0]}},
        {"geometry": {"type": "LineString", "coordinates": [[18.0, 59.0]] * (MAX_POSITIONS + 10)}},
        {"geometry": {"type": "Polygon", "coordinates": [[[18.0, 59.0], [18.1, 59.0], [18.1, 59.1]]]}},
        {"categories": ("datex2:\x1bAccident",)},
        {"categories": tuple(f"c{i}" for i in range(600))},
        {"affected": (Affected("road", "E4\x00"),)},
        {"affected": tuple(Affected("road", f"R{i}") for i in range(MAX_AFFECTED + 1))},
        {"affected": (Affected("planet", "Mars"),)},
        {"affected": (Affected("road", "E4", None, "sideways"),)},
        {"periods": tuple(Period(NOW + timedelta(days=i)) for i in range(250))},
        {"version": "1\x7f"},
        {"status": "maybe"},
        {"cause": "ALIENS"},
        {"modes": ()},
        {"header": {}},
        {"certainty": "sure"},
        {"delay_minutes": -5},
        {"updated_at": datetime(2026, 11, 25, 12)},  # naive
    ],
)
def test_what_the_vet_refuses_goes_the_generic_way(changes: dict[str, Any]) -> None:
    d = _check(**changes)
    assert d is None or not d._vetted


@pytest.mark.parametrize(
    "changes",
    [
        {"geometry": {"type": "Point", "coordinates": [18, 59]}},  # integers: valid, not the Point shortcut
        {"geometry": {"coordinates": [18.0, 59.0], "type": "Point"}},  # member order kept (checksums)
        {"geometry": {"type": "LineString", "coordinates": [[18.0, 59.0], [18.1, 59.1]]}},
        {"updated_at": datetime(2026, 11, 25, 13, tzinfo=timezone(timedelta(hours=1)))},
        {"header": {"sv": "Väg avstängd", "en": "Road closed"}},  # sorted by language, as the model does
        {"affected": (Affected("road", "E4", None, "northbound"),), "categories": ("datex2:Accident",)},
    ],
)
def test_what_the_vet_keeps_is_vetted_and_the_same(changes: dict[str, Any]) -> None:
    d = _check(**changes)
    assert d is not None and d._vetted


@pytest.mark.parametrize("upstream", ["", "   ", "S\x001", "S1 ", "x" * 513])
def test_unclean_or_oversized_ids_go_the_generic_way(upstream: str) -> None:
    d = _check(upstream)
    assert d is None or not d._vetted


def test_replace_drops_the_mark_so_the_vet_checks_again() -> None:
    d = _check()
    assert d is not None and d._vetted
    worse = d.replace(header={"en": "Road\x07 closed"})
    assert not worse._vetted
    out = vet_batch(Batch("trust", NOW, (worse,), complete=True))
    assert out.items[0].header == {"en": "Road closed"}


_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x2070), max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    header=st.dictionaries(st.sampled_from(["en", "sv", "EN", "x-y", "", "en-gb"]), _TEXT, max_size=3),
    upstream=_TEXT,
    lon=st.floats(allow_nan=True, allow_infinity=True),
    lat=st.floats(min_value=-100, max_value=100),
    category=_TEXT,
)
def test_any_item_comes_out_as_the_generic_path_makes_it(
    header: dict[str, str], upstream: str, lon: float, lat: float, category: str
) -> None:
    geometry = {"type": "Point", "coordinates": [lon, lat]}
    _check(upstream, header=header, geometry=geometry, categories=(category,))


def test_datex2_hostile_content_still_repaired_end_to_end() -> None:
    data = (
        b'<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><payloadPublication '
        b'xsi:type="SituationPublication" lang="en"><situation id="A"><situationRecord '
        b'xsi:type="Accident" id="A1"><generalPublicComment><comment><values><value lang="en">'
        b"Crash&#x202E; on E4</value></values></comment></generalPublicComment>"
        b"<groupOfLocations><locationForDisplay><latitude>99.5</latitude><longitude>18.0</longitude>"
        b"</locationForDisplay></groupOfLocations><urlLink><urlLinkAddress>javascript:x()"
        b'</urlLinkAddress></urlLink></situationRecord></situation><situation id="B">'
        b'<situationRecord xsi:type="Accident" id="B1"><groupOfLocations><locationForDisplay>'
        b"<latitude>59.3</latitude><longitude>18.0</longitude></locationForDisplay>"
        b"</groupOfLocations></situationRecord></situation></payloadPublication></d2LogicalModel>"
    )
    batch = parse(data, ParseContext("hostile", NOW))
    first, second = batch.items
    assert first.header == {"en": "Crash on E4"} and first.url is None and first.geometry is None
    assert not first._vetted and second._vetted
    assert dict(second.geometry or {}) == {"type": "Point", "coordinates": (18.0, 59.3)}
    assert any("not an http(s) URL" in n for n in batch.notes)
