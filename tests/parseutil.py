"""Test-only parsers registered like extensions: one that never finishes, one that crashes.

They live in an importable module (not a test file) so the parse pool's worker processes can
unpickle them by reference, as they do the built-in parsers.
"""

from __future__ import annotations

import os
import re

from travelinfo.ingest.parsers.base import ParseContext, ParseError, check_size, register
from travelinfo.model import Batch

# Nested quantifiers: on a run of "a" with no "b" the engine backtracks exponentially, inside
# C and holding the GIL, so no thread-based timeout could ever interrupt it.
_CATASTROPHIC = re.compile(rb"(?:a+a+)+b")


@register("testslow")
def parse_slow(data: bytes, ctx: ParseContext) -> Batch:
    """A worst-case regex over the payload: a run of 40+ "a" takes longer than the universe."""
    check_size(data, ctx)
    if _CATASTROPHIC.match(data):
        raise ParseError("unexpected b")
    return Batch(ctx.source, ctx.fetched_at, (), complete=True, notes=(f"{len(data)} bytes",))


@register("testcrash")
def parse_crash(data: bytes, ctx: ParseContext) -> Batch:
    """Dies as a parser hit by the OOM killer or a segfault in a C extension would."""
    os._exit(3)


@register("testprobe")
def parse_probe(data: bytes, ctx: ParseContext) -> Batch:
    """Reports where it ran and which reference object it saw (for the pool's own tests)."""
    if data == b"bug":
        raise LookupError("a parser bug")
    if data == b"bad":
        raise ParseError("not a probe payload")
    if data == b"refused":
        from travelinfo.ingest.parsers.trafikverket_tree import TrafikverketError

        raise TrafikverketError("ERROR", "Invalid authentication key")
    notes = (f"pid={os.getpid()}", f"ref={id(ctx.reference)}", f"refval={ctx.reference!r}"[:80])
    return Batch(ctx.source, ctx.fetched_at, (), complete=True, notes=notes)
