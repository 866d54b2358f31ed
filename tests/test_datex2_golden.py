"""Golden digests of the DATEX II parser's whole output (issue 22): a speed-up changes nothing.

Every DATEX II payload of the corpus (`../shared/corpus/datex2-v2`, `datex2-v3`), of the demo
(`feeds/trafikverket`) and of `tests/fixtures/datex2` is parsed with a fixed context, and the
normalised JSON of every item (`Disruption.to_json`, keys sorted) and of the batch around it
(completeness, notes, skips, kept and ended ids, or the ParseError's line) is hashed and
compared with `tests/fixtures/datex2-golden.json`, recorded from the parser before it was
optimised. A second variant gives the Finnish ALERT-C location table and other `lang`/`tz`
options, so the table lookup and the option paths are covered too.

Re-record only for an intended change of output (say why in the commit):
`.venv/bin/python tests/test_datex2_golden.py --record`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from travelinfo.ingest.parsers.alertc import AlertCTable
from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.ingest.parsers.datex2 import parse

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = FIXTURES / "datex2-golden.json"
TABLE = FIXTURES / "alertc" / "fi-17-sample.csv"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# (folder, root, glob): corpus folders are read in place, never copied into the repository.
FOLDERS = (
    ("corpus", CORPUS, "datex2-v2/*.xml"),
    ("corpus", CORPUS, "datex2-v3/*.xml"),
    ("repo", ROOT, "feeds/trafikverket/*.xml"),
    ("repo", ROOT, "tests/fixtures/datex2/*.xml"),
)
VARIANTS = ("plain", "table")


def files() -> Iterator[tuple[str, Path]]:
    """(case name, path) of every DATEX II payload, corpus ones only when the corpus is there."""
    for kind, root, pattern in FOLDERS:
        if kind == "corpus" and not root.is_dir():
            continue
        for path in sorted(root.glob(pattern)):
            yield f"{kind}:{path.relative_to(root)}", path


def context(variant: str) -> ParseContext:
    if variant == "plain":
        return ParseContext("golden", NOW, "https://example.org/datex")
    return ParseContext(
        "golden",
        NOW,
        "https://example.org/datex",
        options={"lang": "sv", "tz": "Europe/Helsinki"},
        locations=AlertCTable.parse(TABLE.read_bytes()),
    )


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def outcome(path: Path, variant: str) -> dict[str, Any]:
    """The digests of one parse: the batch's own fields and each item's full JSON, in order."""
    try:
        batch = parse(path.read_bytes(), context(variant))
    except ParseError as exc:
        return {"error": str(exc)}
    frame = {
        "source": batch.source,
        "fetched_at": batch.fetched_at.isoformat(),
        "complete": batch.complete,
        "ended": list(batch.ended),
        "notes": list(batch.notes),
        "skipped": batch.skipped,
        "skip_reason": batch.skip_reason,
        "kind_mismatch": batch.kind_mismatch,
        "kept": list(batch.kept),
        "count": len(batch.items),
    }
    return {"batch": digest(frame), "items": [digest(d.to_json()) for d in batch.items]}


def record() -> int:
    """Write the golden file from the parser as it is now."""
    golden = {f"{name}|{v}": outcome(path, v) for name, path in files() for v in VARIANTS}
    if not any(name.startswith("corpus:") for name in golden):
        print(f"refusing to record without the corpus at {CORPUS}", file=sys.stderr)
        return 2
    GOLDEN.write_text(json.dumps(golden, indent=0, sort_keys=True) + "\n")
    print(f"recorded {len(golden)} cases, {sum(len(c.get('items', ())) for c in golden.values())} items")
    return 0


CASES = [(name, path, v) for name, path in files() for v in VARIANTS]


def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text())
    return data


def test_golden_file_covers_every_payload(corpus: Path) -> None:
    golden = expected()
    names = {f"{name}|{v}" for name, _path, v in CASES}
    assert names == set(golden), "payloads and golden cases differ: re-record on purpose only"
    # The corpus is what makes this test mean something: thousands of real items.
    assert sum(len(c.get("items", ())) for c in golden.values()) > 4000
    assert sum(1 for c in golden.values() if "error" not in c and not c["items"]) >= 8  # non-situations


@pytest.mark.parametrize(("name", "path", "variant"), CASES, ids=[f"{n}|{v}" for n, _p, v in CASES])
def test_output_is_unchanged(name: str, path: Path, variant: str) -> None:
    want = expected()[f"{name}|{variant}"]
    got = outcome(path, variant)
    if "error" in want or "error" in got:
        assert got == want
        return
    assert len(got["items"]) == len(want["items"])
    first = next(
        (i for i, (a, b) in enumerate(zip(got["items"], want["items"], strict=True)) if a != b), None
    )
    assert first is None, f"item {first} of {name} ({variant}) changed"
    assert got["batch"] == want["batch"], f"the batch fields (notes, skips, completeness) of {name} changed"


if __name__ == "__main__":
    sys.exit(record() if sys.argv[1:] == ["--record"] else 2)
