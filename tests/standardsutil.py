"""Shared by the standards-out tests: every corpus and demo file parsed, the schemas, jing."""

from __future__ import annotations

import functools
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from travelinfo.ingest.parsers.base import ParseContext, ParseError, get_parser
from travelinfo.model import Disruption

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SIRI_XSD = CORPUS / "siri" / "xsd-siri-cen-master" / "xsd" / "siri.xsd"
# The DATEX II v3.5 set (Fintraffic's copy of the full webtool schema); payload root.
DATEX_XSD = CORPUS / "datex2-schemas" / "v3.5-fintraffic" / "DATEXII_3_D2Payload.xsd"
CAP_XSD = CORPUS / "cap" / "CAP-v1.2.xsd"
ATOM_RNC = ROOT.parent / "shared" / "tools" / "atom.rnc"
# Corpus folder (or demo folder) -> our parser's format name.
CORPUS_FORMATS = {
    "siri": ("siri-sx", "*.xml"),
    "gtfs-rt": ("gtfsrt", "*.pb"),
    "datex2-v2": ("datex2", "*.xml"),
    "datex2-v3": ("datex2", "*.xml"),
    "cap": ("cap", "*.xml"),
    "maritime": ("navtex", "*.html"),
}
DEMO_FORMATS = {
    "sl-siri": "siri-sx",
    "sl-alerts": "gtfsrt",
    "trafikverket": "datex2",
    "cap": "cap",
    "navtex": "navtex",
}


def _parse(fmt: str, path: Path, source: str) -> list[Disruption] | None:
    try:
        batch = get_parser(fmt)(path.read_bytes(), ParseContext(source, AT, "file:corpus"))
    except ParseError:
        return None  # the corpus keeps negative cases (truncated JSON, exchange-only DATEX...)
    return list(batch.items)


@functools.cache
def corpus_files() -> tuple[tuple[str, tuple[Disruption, ...]], ...]:
    """(relative name, items) for every corpus file one of our parsers reads."""
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS}")
    out = []
    for folder, (fmt, pattern) in CORPUS_FORMATS.items():
        for path in sorted((CORPUS / folder).glob(pattern)):
            items = _parse(fmt, path, folder.replace("-", ""))
            if items is not None:
                out.append((f"{folder}/{path.name}", tuple(items)))
    return tuple(out)


@functools.cache
def demo_files() -> tuple[tuple[str, tuple[Disruption, ...]], ...]:
    """(relative name, items) for every demo feed file in feeds/."""
    out = []
    for folder, fmt in DEMO_FORMATS.items():
        for path in sorted((ROOT / "feeds" / folder).iterdir()):
            items = _parse(fmt, path, folder)
            assert items is not None, f"demo file {path} does not parse"
            out.append((f"feeds/{folder}/{path.name}", tuple(items)))
    return tuple(out)


def all_files() -> list[tuple[str, tuple[Disruption, ...]]]:
    return [*demo_files(), *corpus_files()]


@functools.cache
def schema(path: Path) -> etree.XMLSchema:
    """A compiled XSD (compiled once per test session: the SIRI and DATEX sets are large)."""
    if not path.exists():
        pytest.skip(f"schema not found at {path}")
    return etree.XMLSchema(etree.parse(str(path)))


def assert_valid(xsd: Path, body: bytes, what: str) -> etree._Element:
    """Parse `body` and validate it against `xsd`, failing with the schema's first errors."""
    doc = etree.fromstring(body)
    s = schema(xsd)
    assert s.validate(doc), (what, [str(e) for e in s.error_log][:3])
    return doc


def jing(files: list[Path]) -> None:
    """Validate Atom documents against RFC 4287's RELAX NG grammar."""
    if shutil.which("jing") is None:
        pytest.skip("needs jing (apt-get install -y jing)")
    if not ATOM_RNC.exists():
        pytest.skip(f"Atom grammar not found at {ATOM_RNC}")
    proc = subprocess.run(
        ["jing", "-c", str(ATOM_RNC), *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
