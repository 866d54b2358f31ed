"""The parser seam: a pure function `bytes -> Batch`, registered by format name."""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from travelinfo.ingest.parsers.resolve import resolve_batch
from travelinfo.ingest.parsers.vet import vet_batch
from travelinfo.model import Batch, Disruption, Period, Provenance, compute_status, make_id

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ParseError(ValueError):
    """The payload is malformed, truncated, hostile or too large: one clear line of reason."""


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser is told: no I/O, no clock but `fetched_at`."""

    source: str
    fetched_at: datetime
    url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    max_bytes: int = DEFAULT_MAX_BYTES
    # Reference data (e.g. GTFS static names) a parser may use to fill names and modes.
    reference: Any = None
    # The ALERT-C location table (`alertc.AlertCTable`) of `options.alertc_table`, read by the collector.
    locations: Any = None

    def disruption(
        self,
        source_type: str,
        upstream_id: str,
        *,
        periods: Iterable[Period] = (),
        ended: bool = False,
        status: str | None = None,
        updated_at: datetime | None = None,
        **fields: Any,
    ) -> Disruption:
        """A disruption as fetched now: id, source, seen times, status and provenance filled in.

        `updated_at` defaults to the fetch time (the store keeps the first one it saw);
        `status` defaults to what the periods say at the fetch time (`ended` forces it).
        """
        periods = tuple(periods)
        return Disruption(
            id=make_id(self.source, upstream_id),
            source=self.source,
            source_type=source_type,
            upstream_id=upstream_id,
            updated_at=updated_at or self.fetched_at,
            first_seen=self.fetched_at,
            last_seen=self.fetched_at,
            status=status
            or compute_status(periods, self.fetched_at, ended=ended, schedules=fields.get("schedules", ())),
            periods=periods,
            provenance=Provenance(self.fetched_at, self.url),
            **fields,
        )

    def batch(
        self,
        items: Iterable[Disruption],
        *,
        complete: bool,
        ended: Iterable[str] = (),
        notes: Iterable[str] = (),
        skipped: int = 0,
        skip_reason: str | None = None,
        kind_mismatch: str | None = None,
    ) -> Batch:
        """This fetch's Batch; the source's `options.complete`, when set, overrides `complete`.

        `complete` is what the payload says (a full snapshot or not).
        """
        option = self.options.get("complete")
        return Batch(
            source=self.source,
            fetched_at=self.fetched_at,
            items=tuple(items),
            complete=complete if option is None else bool(option),
            ended=tuple(ended),
            notes=tuple(notes),
            skipped=skipped,
            skip_reason=skip_reason,
            kind_mismatch=kind_mismatch,
        )


class Parser(Protocol):
    """A pure parser: bytes in, a Batch out, ParseError on bad input."""

    def __call__(self, data: bytes, ctx: ParseContext) -> Batch: ...


PARSERS: dict[str, Parser] = {}
_GC = threading.Lock()
_gc_pauses = 0  # parses running now (threads), under _GC
_gc_resume = False  # whether the first of them found the collector on


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a parse runs (reference counting frees as ever).

    A large parse allocates tens of thousands of containers that all stay alive (its items), so
    every generation scan during it finds nothing to free: about a tenth of a 50 MB DATEX II
    parse (issue 22). Parsers make no reference cycles worth freeing mid-parse; any are collected
    once it ends. Re-entrant and thread-safe: the collector comes back on when the last parse
    running ends, and only if it was on when the first began.
    """
    global _gc_pauses, _gc_resume
    with _GC:
        if _gc_pauses == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _GC:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_resume:
                gc.enable()


def register(name: str, *, lang: str = "en") -> Callable[[Parser], Parser]:
    """Register a parser under a format name (built-ins use this like any extension).

    The registered (and returned) function checks informed entities against the reference
    GTFS (`resolve.resolve_batch`), then passes every batch through `vet.vet_batch`:
    texts cleaned, URLs and language keys checked (`lang`, or `options["lang"]`, stands in
    for an invalid key), geometries checked against RFC 7946 and bounded. All of it runs with
    the cyclic garbage collector paused (`gc_paused`).
    """

    def deco(func: Parser) -> Parser:
        @functools.wraps(func)
        def vetted(data: bytes, ctx: ParseContext) -> Batch:
            with gc_paused():
                return vet_batch(
                    resolve_batch(func(data, ctx), ctx.reference), str(ctx.options.get("lang") or lang)
                )

        PARSERS[name] = vetted
        return vetted

    return deco


def get_parser(name: str) -> Parser:
    """The parser for `name`, loading the built-ins first."""
    load_builtins()
    try:
        return PARSERS[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r} (known: {', '.join(sorted(PARSERS))})") from None


def load_builtins() -> None:
    """Import the built-in parser modules so they register themselves."""
    import importlib

    for module in ("datex2", "gtfsrt", "siri", "navtex", "cap", "trafikverket", "sl_deviations", "vma"):
        try:
            importlib.import_module(f"travelinfo.ingest.parsers.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"travelinfo.ingest.parsers.{module}":
                raise


def source_tz(ctx: ParseContext) -> str:
    """The source's `options.tz` (default Europe/Stockholm); ParseError for an unknown zone."""
    from travelinfo.vocab import DEFAULT_TZ, ModelError, zone

    tz = str(ctx.options.get("tz") or DEFAULT_TZ)
    try:
        zone(tz)
    except ModelError as exc:
        raise ParseError(f"options.tz: {exc}") from None
    return tz


def check_size(data: bytes, ctx: ParseContext) -> None:
    """Refuse payloads over the configured maximum before any parsing."""
    if len(data) > ctx.max_bytes:
        raise ParseError(f"payload of {len(data)} bytes exceeds the maximum of {ctx.max_bytes}")


Keywords = tuple[tuple[re.Pattern[str], str], ...]


def keywords(table: Mapping[str, str]) -> Keywords:
    """A first-match keyword table, `{value: regular expression}` in order (case-insensitive)."""
    return tuple((re.compile(pattern, re.I), value) for value, pattern in table.items())


def first_match(table: Keywords, text: str, default: str) -> str:
    """The value of the first pattern of `table` found in `text`; `default` when none is."""
    return next((value for pattern, value in table if pattern.search(text)), default)
