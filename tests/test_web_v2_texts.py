"""Readable texts on every demo payload and the real-world corpus: what a reader sees, item by item."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Disruption
from travelinfo.web import text as texts

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
DEMO = {
    "trafikverket": "datex2",
    "sl-alerts": "gtfsrt",
    "navtex": "navtex",
    "cap": "cap",
    "sl-siri": "siri-sx",
    "trafikverket-api": "trafikverket",
    "sl-deviations": "sl-deviations",
    "vma": "vma",
}
CORPUS_DIRS = {
    "datex2-v3": "datex2",
    "cap": "cap",
    "maritime": "navtex",
    "siri": "siri-sx",
    "gtfs-rt": "gtfsrt",
}
RAW_ID = re.compile(r"\b\d{9,}\b")


def parsed(folder: Path, parser: str, limit: int = 40) -> Iterator[Disruption]:
    reference = load_gtfs(ROOT / "feeds" / "sl-gtfs")
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))[:limit]:
        try:
            batch = get_parser(parser)(
                path.read_bytes(), ParseContext(folder.name, datetime.now(UTC), reference=reference)
            )
        except Exception:  # the corpus holds files of other formats too
            continue
        yield from batch.items


def check(d: Disruption) -> None:
    for lang in ("sv", "en"):
        head = texts.header(d, lang)[1]
        desc = texts.description(d, lang)
        if desc:
            rest = desc[1][len(head) :].lstrip(" \t")
            repeated = desc[1].casefold().startswith(head.casefold()) and (not rest or rest[0] in ".:;!?–-\n")
            assert not repeated, (d.id, head, desc[1][:80])
        assert not texts.shouting(head), (d.id, head)
    names = texts.affected_names(d)
    assert len(names) == len({n.casefold() for n in names}), (d.id, names)
    assert not any(RAW_ID.search(n) for n in names), (d.id, names)
    shown = " ".join(names) + " " + texts.source_title(d.source, d.source_type, "sv")
    assert "feeds/" not in shown


@pytest.mark.parametrize("folder", sorted(DEMO))
def test_demo_items_read_well(folder: str) -> None:
    items = list(parsed(ROOT / "feeds" / folder, DEMO[folder]))
    assert items, folder
    for d in items:
        check(d)


@pytest.mark.parametrize("folder", sorted(CORPUS_DIRS))
def test_corpus_items_read_well(folder: str) -> None:
    if not (CORPUS / folder).is_dir():
        pytest.skip(f"corpus folder {folder} not present")
    items = list(parsed(CORPUS / folder, CORPUS_DIRS[folder]))
    assert items, folder
    for d in items:
        check(d)
