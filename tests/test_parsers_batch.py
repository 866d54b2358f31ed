"""Every parser builds its Batch through `ParseContext.batch`: `options.complete` overrides alike.

An operator who sets `complete = false` on a source (a partial feed) or `true` (a delta feed
known to be whole) gets that, whatever the payload says, and nothing else of the batch moves.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import ParseContext, get_parser

FEEDS = Path(__file__).resolve().parent.parent / "feeds"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# (parser, a demo payload, whether that payload says it is a full snapshot)
CASES = [
    ("cap", "cap/001-vma-alert.xml", False),
    ("navtex", "navtex/001-navtex-in-force.html", True),
    ("gtfsrt", "sl-alerts/001-morning.pb", True),
    ("siri-sx", "sl-siri/001-pendeltag-sparfel.xml", True),
    ("sl-deviations", "sl-deviations/001-2026-11-25T0745.json", True),
    ("trafikverket", "trafikverket-api/003-2026-11-25T0930-delta.json", False),
    ("vma", "vma/001-2026-11-25T1005-alert.json", True),
]


@pytest.mark.parametrize(("name", "path", "snapshot"), CASES)
def test_options_complete_overrides_what_the_payload_says(name: str, path: str, snapshot: bool) -> None:
    parse, data = get_parser(name), (FEEDS / path).read_bytes()
    as_is = parse(data, ParseContext("demo", NOW))
    assert as_is.complete is snapshot and as_is.items and (as_is.source, as_is.fetched_at) == ("demo", NOW)
    for option in (True, False, 1, 0):
        got = parse(data, ParseContext("demo", NOW, options={"complete": option}))
        assert got.complete is bool(option)
        assert got == replace(as_is, complete=bool(option))  # nothing else of the batch moves
    unset = parse(data, ParseContext("demo", NOW, options={"complete": None}))
    assert unset == as_is
