"""NAVTEX in sentence case with its proper nouns kept: places, acronyms, positions, on the real pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from storeutil import open_store

from travelinfo.config import Settings
from travelinfo.ingest.parsers.base import ParseContext
from travelinfo.ingest.parsers.navtex import parse
from travelinfo.model import Batch, Disruption
from travelinfo.web import i18n, network, propercase
from travelinfo.web import text as texts

ROOT = Path(__file__).resolve().parent.parent
GTFS = ROOT / "feeds" / "sl-gtfs"
PAGES = (
    "se-sjofartsverket-navvarn-navtex-in-force-2026-04-02.html",
    "se-sjofartsverket-navvarn-navtex-in-force-2026-08-22.html",
)
# Names the warnings use, as a reader expects them written (chosen by reading the pages).
NAMES = (
    "Sandhamn", "Sandhamnsleden", "Vaxholm", "Furusund", "Stockholm", "Stockholm Archipelago",
    "Gulf of Finland", "Gulf of Riga", "Northern Baltic", "Western Baltic", "Klaipeda",
    "Denmark", "Bight of Mecklenburg", "Darsser Ort", "Kadetrenden", "German", "Finnish", "Estonian",
)  # fmt: skip
POSITION = re.compile(r"\b\d{2,5}-?\d{2}[.,]\d+\s?[NSEW]\b")


def warnings(corpus: Path | None) -> Iterator[Disruption]:
    files = [p for p in sorted((ROOT / "feeds" / "navtex").iterdir()) if p.suffix == ".html"]
    if corpus is not None:
        files += [corpus / "maritime" / name for name in PAGES]
    for path in files:
        ctx = ParseContext(source="sjofartsverket", fetched_at=datetime.now(UTC), url="https://example.org/")
        yield from parse(path.read_bytes(), ctx).items


def shown(d: Disruption, lang: str) -> list[tuple[str, str]]:
    """(original, shown) for the header and the description as the pages show them."""
    pairs = [((i18n.pick(d.header, lang) or ("", ""))[1], texts.header(d, lang)[1])]
    original = i18n.pick(d.description, lang)
    if original:
        pairs.append((original[1], texts.sentence_case(original[1])))
    return pairs


def test_places_acronyms_and_positions_keep_their_capitals(corpus: Path) -> None:
    seen: set[str] = set()
    pairs = [p for d in warnings(corpus) for lang in ("sv", "en") for p in shown(d, lang)]
    assert len(pairs) > 100
    for original, out in pairs:
        assert out.casefold() == original.casefold(), "only letter case may change"
        if not texts.shouting(original):
            assert out == original
            continue
        for name in NAMES:
            words = r"\s".join(re.escape(w) for w in name.upper().split())
            count = len(re.findall(rf"(?<![\w.]){words}(?![\w])", original))
            if count:
                seen.add(name)
                # Each occurrence written as the name is written (a sentence's first letter aside).
                assert len(re.findall(rf"(?<![\w.]){re.escape(name)}(?!\w)", out)) == count, (name, out)
        assert POSITION.findall(out) == POSITION.findall(original), out  # 59-17.4N, not 59-17.4n
        for acronym in ("UTC", "VHF", "AIS", "GNSS", "TSS", "VTS"):
            assert out.count(acronym) == len(re.findall(rf"\b{acronym}\b", original)), (acronym, out)
        assert not re.search(r"[.!?]\s+[a-zåäöø]", out), f"a sentence starts in lower case: {out}"
        assert not re.search(r"(?<=[a-zåäöø])\. [a-zåäöø]", out)
        if "WWW.SMHI.SE" in original:
            assert "www.smhi.se/iceservice" in out  # an address is never "capitalised"
    assert seen == set(NAMES), f"names never met in the pages: {set(NAMES) - seen}"


def test_reference_stop_names_join_the_gazetteer() -> None:
    propercase.install_stops(network.stop_names(GTFS))
    out = texts.sentence_case(
        "FERRY TRAFFIC FROM STRÖMKAJEN TO VAXHOLM SUSPENDED. AREA NEAR SLUSSEN CLOSED IN AREA 7."
    )
    assert out == "Ferry traffic from Strömkajen to Vaxholm suspended. Area near Slussen closed in area 7."
    # A stop called by an ordinary word stays an ordinary word; "(båt)" adds "Nybroplan".
    propercase.install_stops(["Centrum", "Nybroplan (båt)", "X"])
    assert (
        texts.sentence_case("BOATS FROM NYBROPLAN TO CENTRUM AND X")
        == "Boats from Nybroplan to centrum and x"
    )
    propercase.install_stops([])


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_the_demo_page_shows_sandhamn_capitalised(tmp_path: Path, lang: str) -> None:
    s = Settings()
    s.reference.gtfs_static = str(GTFS)
    items = [d for d in warnings(None) if "SANDHAMN" in "".join(d.header.values())]
    assert items
    async with open_store("sqlite", tmp_path) as store, running_app(store, s) as app:
        await store.apply(
            Batch(source="sjofartsverket", fetched_at=datetime.now(UTC), items=tuple(items), complete=True)
        )
        url = f"{app.url}/d/{items[0].id}"
        async with aiohttp.ClientSession() as session, session.get(url, params={"lang": lang}) as r:
            assert r.status == 200
            page = await r.text()
    body = page[page.index("<main") :]
    assert "Sandhamn" in body and "sandhamn" not in body.replace("Sandhamnsleden", "")
    assert "Stockholm Archipelago" in body
