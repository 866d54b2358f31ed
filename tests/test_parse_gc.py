"""A parse runs with the cyclic garbage collector paused, and always gives it back (issue 22).

The pause is process-wide, so what matters is that it ends: after a parse that succeeds, one
that raises ParseError, one with a parser bug, and only when the last of several parses running
at once in threads has ended; and that a collector switched off by someone else stays off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import PARSERS, ParseContext, ParseError, gc_paused, get_parser, register
from travelinfo.model import Batch

CTX = ParseContext("gc", datetime(2026, 12, 4, 12, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.fixture
def gated() -> Iterator[tuple[threading.Event, threading.Event, list[bool]]]:
    """A registered parser that reports whether the collector ran during it and waits on a gate."""
    entered, gate = threading.Event(), threading.Event()
    seen: list[bool] = []

    @register("testgcgate")
    def parse_gated(data: bytes, ctx: ParseContext) -> Batch:
        seen.append(gc.isenabled())
        if data == b"wait":
            entered.set()
            assert gate.wait(10), "the test never opened the gate"
        if data == b"bad":
            raise ParseError("not a gate payload")
        if data == b"bug":
            raise LookupError("a parser bug")
        return Batch(ctx.source, ctx.fetched_at, (), complete=True)

    yield entered, gate, seen
    PARSERS.pop("testgcgate", None)


def test_the_collector_is_paused_during_a_parse_and_on_after_it(gated) -> None:
    _entered, _gate, seen = gated
    parse = get_parser("testgcgate")
    parse(b"ok", CTX)
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.parametrize(("payload", "error"), [(b"bad", ParseError), (b"bug", LookupError)])
def test_a_failing_parse_gives_the_collector_back(gated, payload: bytes, error: type[Exception]) -> None:
    parse = get_parser("testgcgate")
    with pytest.raises(error):
        parse(payload, CTX)
    assert gc.isenabled()


def test_a_real_datex_parse_leaves_the_collector_on(corpus: Path) -> None:
    path = corpus / "datex2-v2" / "nl-ndw-brugopeningen-2023-11-20.xml"
    batch = get_parser("datex2")(path.read_bytes(), CTX)
    assert len(batch.items) == 992
    assert gc.isenabled()
    with pytest.raises(ParseError):
        get_parser("datex2")(path.read_bytes()[:5000], CTX)  # truncated
    assert gc.isenabled()


def test_concurrent_parses_keep_it_paused_until_the_last_ends(gated) -> None:
    entered, gate, seen = gated
    parse = get_parser("testgcgate")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            parse(b"wait", CTX)
        except BaseException as exc:  # reported by the asserts below
            errors.append(exc)

    waiting = threading.Thread(target=run)
    waiting.start()
    assert entered.wait(10)
    parse(b"ok", CTX)  # a second parse starts and ends while the first still runs
    assert not gc.isenabled(), "the first parse is still running: the collector must stay paused"
    gate.set()
    waiting.join(10)
    assert not errors
    assert seen == [False, False]
    assert gc.isenabled()


def test_a_collector_switched_off_elsewhere_stays_off(gated) -> None:
    gc.disable()
    get_parser("testgcgate")(b"ok", CTX)
    assert not gc.isenabled()
    with gc_paused(), gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
