"""Property tests for the small HTTP-facing codecs: cursors, merge patch, durations, Retry-After."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from travelinfo.api import params
from travelinfo.api.params import BadParameter
from travelinfo.notices.schema import merge_patch
from travelinfo.runtime.server import MAX_RETRY_AFTER, retry_after_seconds
from travelinfo.settings import parse_duration
from travelinfo.store import query

PROPS = settings(max_examples=100, deadline=None)
NOW = datetime(2026, 8, 22, 12, 0, tzinfo=UTC)

ids = st.text(max_size=60)  # hypothesis leaves out lone surrogates: ids are valid UTF-8
keys = st.tuples(
    st.integers(min_value=-3, max_value=0),
    st.floats(min_value=-4e9, max_value=4e9, allow_nan=False, allow_infinity=False),
    ids,
)


@PROPS
@given(keys)
def test_public_cursor_round_trips(key: tuple[int, float, str]) -> None:
    cursor = params.encode_cursor(key)
    assert cursor is not None and cursor.isascii() and "&" not in cursor and " " not in cursor
    rank, ts, ident = params.decode_cursor(cursor)
    assert (rank, ident) == (key[0], key[2]) and ts == key[1] + 0.0


@PROPS
@given(st.text(max_size=80))
def test_a_forged_public_cursor_is_a_bad_parameter_never_a_crash(value: str) -> None:
    try:
        rank, ts, ident = params.decode_cursor(value)
    except BadParameter as exc:
        assert exc.args and "cursor" in str(exc.args[0]) + str(exc)
    else:
        assert -3 <= rank <= 0 and not math.isnan(ts) and isinstance(ident, str)


@PROPS
@given(keys)
def test_store_cursor_round_trips(key: tuple[int, float, str]) -> None:
    assert query.decode_cursor(query.encode_cursor(key)) == key


@PROPS
@given(st.text(max_size=80) | st.binary(max_size=60).map(lambda b: b.hex()))
def test_a_forged_store_cursor_raises_only_value_error(value: str) -> None:
    try:
        rank, ts, ident = query.decode_cursor(value)
    except ValueError:
        return
    assert isinstance(rank, int) and isinstance(ts, float) and isinstance(ident, str)


# -- JSON Merge Patch (RFC 7396) ----------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
docs = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=3), docs, max_size=4)


def no_nulls(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: no_nulls(v) for k, v in doc.items() if v is not None}
    return doc


@PROPS
@given(objects, objects)
def test_merge_patch_follows_rfc_7396(target: dict[str, Any], patch: dict[str, Any]) -> None:
    before = repr(target)
    out = merge_patch(target, patch)
    assert repr(target) == before, "the target is not modified in place"
    for name, value in patch.items():
        if value is None:
            assert name not in out
        elif isinstance(value, dict):
            assert out[name] == merge_patch(target.get(name), value)
        else:
            assert out[name] == value
    for name in set(target) - set(patch):
        assert out[name] == target[name]
    assert merge_patch(out, patch) == out, "applying a patch twice changes nothing more"


@PROPS
@given(objects, docs)
def test_merge_patch_a_non_object_replaces_and_the_diff_patch_reproduces(
    target: dict[str, Any], doc: Any
) -> None:
    if not isinstance(doc, dict):
        assert merge_patch(target, doc) == doc
    # A patch built from a null-free document reproduces it exactly from an empty target.
    clean = no_nulls(doc) if isinstance(doc, dict) else {"v": no_nulls(doc)} if doc is not None else {}
    assert merge_patch({}, clean) == clean


# -- durations ----------------------------------------------------------------------------------

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@PROPS
@given(st.integers(0, 10**6), st.sampled_from(sorted(UNITS)), st.sampled_from(["", " "]))
def test_durations_scale_by_unit(n: int, unit: str, pad: str) -> None:
    assert parse_duration(f"{pad}{n}{pad}{unit}{pad}") == n * UNITS[unit]
    assert parse_duration(n) == n and parse_duration(float(n)) == n


@PROPS
@given(
    st.text(max_size=12).filter(lambda t: not __import__("re").fullmatch(r"\s*\d+(\.\d+)?\s*[smhd]?\s*", t))
)
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("value", [-1, -0.5, True, False, None, [], "1w", "-5m", "1e3", "nan"])
def test_hostile_durations_are_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


# -- Retry-After (RFC 9110: delta-seconds or an HTTP date) --------------------------------------


@PROPS
@given(st.integers(0, 10**9))
def test_retry_after_delta_seconds(n: int) -> None:
    assert retry_after_seconds(str(n), NOW) == min(n, MAX_RETRY_AFTER)
    assert retry_after_seconds(f" {n} ", NOW) == min(n, MAX_RETRY_AFTER)


@PROPS
@given(st.integers(-(10**6), 10**7))
def test_retry_after_http_date_is_the_time_until_it_never_negative(delta: int) -> None:
    when = NOW + timedelta(seconds=delta)
    assert retry_after_seconds(format_datetime(when, usegmt=True), NOW) == min(max(0, delta), MAX_RETRY_AFTER)


@PROPS
@given(st.text(max_size=40) | st.text(alphabet=st.characters(categories=["Nd", "No"]), max_size=500))
def test_retry_after_garbage_is_none_or_a_bounded_wait(value: str) -> None:
    got = retry_after_seconds(value, NOW)
    assert got is None or 0 <= got <= MAX_RETRY_AFTER
