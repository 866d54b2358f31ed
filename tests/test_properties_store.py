"""Property tests for the store's diff (`plan_apply`) and the disruption JSON round trip.

`plan_apply` is checked against a small model of what a backend writes (the metas it would read
back next time), and the same properties are checked end to end on a real SQLite store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from storeutil import item, open_store

from travelinfo.model import (
    AFFECTED_TYPES,
    CAUSES,
    EFFECTS,
    MODES,
    SEVERITIES,
    SOURCE_TYPES,
    Affected,
    Batch,
    Disruption,
    Period,
    Provenance,
    compute_status,
    format_time,
)
from travelinfo.store.diff import Meta, Plan, plan_apply

AT = datetime(2026, 8, 22, 12, 0, tzinfo=UTC)
IDS = ("a", "b", "c", "d", "e", "f")
KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies -------------------------------------------------------------------------------

minutes = st.integers(min_value=-600, max_value=600).map(lambda m: AT + timedelta(minutes=m))


@st.composite
def disruptions_for_diff(draw: st.DrawFn) -> Disruption:
    """Items of one source "demo" over a small id pool, so batches collide with what is stored."""
    uid = draw(st.sampled_from(IDS))
    start = draw(minutes)
    shape = draw(st.sampled_from(["none", "open", "closed", "over", "ended"]))
    periods: tuple[Period, ...] | None
    if shape == "none":
        periods = ()
    elif shape == "open":
        periods = (Period(start),)
    elif shape == "closed":
        periods = (Period(start, start + timedelta(hours=draw(st.integers(1, 20)))),)
    elif shape == "over":  # entirely in the past: ends by time
        periods = (Period(AT - timedelta(hours=5), AT - timedelta(hours=1)),)
    else:
        periods = None
    d = item(
        uid,
        AT,
        header=draw(st.sampled_from(["Olycka på E4", "Vägarbete", "Buss 4 omleds"])),
        severity=draw(st.sampled_from(["INFO", "WARNING", "SEVERE"])),
        periods=periods,
        updated_at=draw(minutes),
        version=draw(st.none() | st.integers(1, 4).map(str)),
        ended=shape == "ended",
    )
    return d


@st.composite
def batches(draw: st.DrawFn, unique: bool = False) -> Batch:
    found = draw(st.lists(disruptions_for_diff(), max_size=8))
    if unique:
        found = list({d.id: d for d in found}.values())
    ended = draw(st.lists(st.sampled_from(IDS).map(lambda u: f"demo:{u}"), max_size=2, unique=True))
    kept = draw(st.lists(st.sampled_from(IDS).map(lambda u: f"demo:{u}"), max_size=2, unique=True))
    return Batch(
        source="demo",
        fetched_at=AT + timedelta(minutes=draw(st.integers(0, 120))),
        items=tuple(found),
        complete=draw(st.booleans()),
        ended=tuple(ended),
        kept=tuple(kept),
    )


# -- a model of a backend: what it stores after carrying a plan out ---------------------------


def meta_of(d: Disruption, checksum: str) -> Meta:
    return Meta(
        id=d.id,
        checksum=checksum,
        status=d.status,
        updated_at=format_time(d.updated_at),
        version=d.version,
        first_seen=format_time(d.first_seen),
        source=d.source,
    )


def carry_out(stored: dict[str, Meta], items: dict[str, Disruption], plan: Plan) -> list[tuple[str, str]]:
    """Apply `plan` to the model; returns every event (type, id) it makes, as a backend would."""
    events = [(kind, d.id) for kind, d in plan.events]
    for d, checksum in plan.writes:
        stored[d.id], items[d.id] = meta_of(d, checksum), d
    for ident in plan.to_end:
        old = items.get(ident)
        if old is None or old.status == "ended":
            continue  # unknown or already ended: nothing to do (backends skip these too)
        ended = old.replace(status="ended")
        stored[ident], items[ident] = meta_of(ended, ended.content_checksum()), ended
        events.append(("ended", ident))
    return events


def active(stored: dict[str, Meta]) -> list[str]:
    return [i for i, m in stored.items() if m.status != "ended" and m.source == "demo"]


def replay(history: list[Batch]) -> tuple[dict[str, Meta], dict[str, Disruption]]:
    stored: dict[str, Meta] = {}
    items: dict[str, Disruption] = {}
    for b in history:
        carry_out(stored, items, plan_apply(b, stored, active(stored)))
    return stored, items


# -- plan_apply properties --------------------------------------------------------------------


@PROPS
@given(st.lists(batches(), max_size=4), batches())
def test_applying_the_same_batch_twice_makes_no_events(history: list[Batch], b: Batch) -> None:
    stored, items = replay(history)
    carry_out(stored, items, plan_apply(b, stored, active(stored)))
    again = plan_apply(b, stored, active(stored))
    assert carry_out(stored, items, again) == []
    assert again.writes == [], "nothing new to write either"


@PROPS
@given(st.lists(batches(), max_size=4), batches())
def test_a_complete_snapshot_ends_exactly_what_is_missing_minus_kept(history: list[Batch], b: Batch) -> None:
    snapshot = dataclasses.replace(b, complete=True, ended=())
    stored, items = replay(history)
    was_active = set(active(stored))
    events = carry_out(stored, items, plan_apply(snapshot, stored, active(stored)))
    seen = {d.id for d in snapshot.items}
    ended_by_absence = {i for kind, i in events if kind == "ended" and i not in seen}
    assert ended_by_absence == was_active - seen - set(snapshot.kept)
    for ident in set(snapshot.kept) & was_active - seen:
        assert items[ident].status != "ended", f"{ident}: a kept (skipped) record stays"
    # Afterwards the source's active items are among those the snapshot named or kept.
    assert set(active(stored)) <= seen | set(snapshot.kept)


@PROPS
@given(st.lists(batches(), max_size=4), batches(unique=True), st.randoms(use_true_random=False))
def test_the_order_of_items_does_not_matter(history: list[Batch], b: Batch, rnd: object) -> None:
    shuffled = list(b.items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    other = dataclasses.replace(b, items=tuple(shuffled))
    stored, _ = replay(history)
    one, two = plan_apply(b, stored, active(stored)), plan_apply(other, stored, active(stored))
    assert sorted((k, d.id, d.dumps()) for k, d in one.events) == sorted(
        (k, d.id, d.dumps()) for k, d in two.events
    )
    assert sorted((d.dumps(), c) for d, c in one.writes) == sorted((d.dumps(), c) for d, c in two.writes)
    assert one.to_end == two.to_end and sorted(one.touched) == sorted(two.touched)


# -- the same, end to end on a real store -----------------------------------------------------


async def _twice_on_a_store(
    kind: str, history: list[Batch], b: Batch
) -> tuple[list[tuple[str, str]], set[str], set[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        async with open_store(kind, Path(tmp)) as store:
            for h in history:
                await store.apply(h)
            await store.apply(b)
            second = await store.apply(b)
            snapshot = dataclasses.replace(b, complete=True, ended=())
            before = set()
            for uid in IDS:
                d = await store.get(f"demo:{uid}")
                if d is not None and d.status != "ended":
                    before.add(d.id)
            seen = {d.id for d in snapshot.items}
            ended = {c.id for c in await store.apply(snapshot) if c.type == "ended"} - seen
            return [(c.type, c.id) for c in second], ended, before - seen - set(snapshot.kept)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(batches(), max_size=3), b=batches())
def test_on_a_real_store_twice_is_silent_and_a_snapshot_ends_the_missing(
    kind: str, history: list[Batch], b: Batch
) -> None:
    second, ended, missing = asyncio.run(_twice_on_a_store(kind, history, b))
    assert second == []
    assert ended == missing


# -- the disruption JSON round trip -----------------------------------------------------------

times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.sampled_from([UTC])
)
langs = st.from_regex(r"[a-z]{2}(-[A-Z]{2})?", fullmatch=True)
texts = st.dictionaries(langs, st.text(min_size=1, max_size=40), max_size=3)
coord = st.tuples(
    st.floats(min_value=10, max_value=25, allow_nan=False),
    st.floats(min_value=55, max_value=70, allow_nan=False),
).map(list)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    start = draw(times)
    end = draw(st.none() | st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)))
    return Period(start, start + end if end else None)


@st.composite
def any_disruption(draw: st.DrawFn) -> Disruption:
    source = draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True))
    uid = draw(st.text(min_size=1, max_size=30).filter(str.strip))
    ps = tuple(draw(st.lists(periods(), max_size=3)))
    at = draw(times)
    first = draw(times)
    return Disruption(
        id=f"{source}:{uid}",
        source=source,
        source_type=draw(st.sampled_from(sorted(SOURCE_TYPES))),
        upstream_id=uid,
        version=draw(st.none() | st.text(max_size=8)),
        updated_at=draw(times),
        first_seen=first,
        last_seen=max(first, at),
        status=compute_status(ps, at) if ps else draw(st.sampled_from(["active", "planned", "ended"])),
        modes=tuple(draw(st.lists(st.sampled_from(sorted(MODES)), min_size=1, max_size=3, unique=True))),
        cause=draw(st.sampled_from(sorted(CAUSES))),
        effect=draw(st.sampled_from(sorted(EFFECTS))),
        severity=draw(st.sampled_from(sorted(SEVERITIES))),
        periods=ps,
        header=draw(texts.filter(lambda t: any(v.strip() for v in t.values()))),
        description=draw(texts),
        location_text=draw(texts),
        url=draw(st.none() | st.just("https://example.invalid/x?a=1&b=å")),
        geometry=draw(st.none() | coord.map(lambda c: {"type": "Point", "coordinates": c})),
        affected=tuple(
            draw(
                st.lists(
                    st.builds(
                        Affected,
                        st.sampled_from(sorted(AFFECTED_TYPES)),
                        st.text(min_size=1, max_size=10),
                        st.none() | st.text(max_size=10),
                    ),
                    max_size=3,
                )
            )
        ),
        related=tuple(draw(st.lists(st.text(min_size=1, max_size=10), max_size=2))),
        provenance=draw(
            st.none() | st.builds(Provenance, times, st.none() | st.just("https://example.invalid/f"))
        ),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(any_disruption())
def test_disruption_json_round_trip_is_exact(d: Disruption) -> None:
    text = d.dumps()
    back = Disruption.loads(text)
    assert back == d
    assert back.dumps() == text, "the text is stable too (checksums and ETags depend on it)"
    assert Disruption.from_json(d.to_json()) == d
    # Decoded twice, the checksum agrees (against `d` itself see the xfail below).
    assert Disruption.loads(text).content_checksum() == back.content_checksum()


def test_content_checksum_depends_on_values_not_object_identity() -> None:
    text = "Olycka på E4 vid Hallunda"
    twin = "".join(["Olycka på E4 ", "vid Hallunda"])  # equal, but another object
    shared = item("x", AT).replace(header={"sv": text}, description={"sv": text})
    separate = item("x", AT).replace(header={"sv": text}, description={"sv": twin})
    assert shared == separate and shared.dumps() == separate.dumps()
    assert shared.content_checksum() == separate.content_checksum()
