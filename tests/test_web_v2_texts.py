"""Readable texts on every demo payload and the real-world corpus: what a reader sees, item by item."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from apputil import running_app
from storeutil import open_store

from travelinfo.config import Settings, SourceConfig
from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Batch, Disruption
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


# --- The same on the pages themselves: what `/d/{id}`, `/` and `/board` show a reader ---------

PAGES_PER_FOLDER = 12  # items' own pages per folder (both languages across them)
GTFS_ID = re.compile(r"\b9\d{15}\b|\b1401\d{10,}\b")  # SL's route/stop/agency ids


def visible(page: str) -> str:
    """The text a reader sees in the page's main part (tags and attributes removed)."""
    main = page[page.index("<main") : page.index("</main>")]
    return html.unescape(re.sub(r"<script.*?</script>|<[^>]+>", " ", main, flags=re.S))


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def check_page(page: str, where: str) -> tuple[bool, bool]:
    """Assert the page reads well; (a description was checked, an affected list was checked)."""
    shown = visible(page)
    assert "feeds/" not in shown, where
    found = GTFS_ID.search(shown)
    assert not found, (where, shown[max(0, found.start() - 80) : found.end() + 20])
    head = re.search(r"<h1>(.*?)</h1>", page, re.S)
    para = re.search(r'<div class="text"[^>]*>\s*<p>(.*?)</p>', page, re.S)
    if head and para:
        h, first = text_of(head.group(1)).casefold(), text_of(para.group(1)).casefold()
        rest = first[len(h) :].lstrip()
        assert not (first.startswith(h) and (not rest or rest[0] in ".:;!?–-")), (where, h, first[:80])
    names = re.search(r'<dt>(?:Påverkar|Affects)</dt>\s*<dd><ul class="plain">(.*?)</ul>', page, re.S)
    listed = [text_of(x) for x in re.findall(r"<li>(.*?)</li>", names.group(1))] if names else []
    assert len(listed) == len({n.casefold() for n in listed}), (where, listed)
    return bool(head and para), bool(listed)


def page_settings(folders: dict[Path, str]) -> Settings:
    s = Settings()
    s.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
    s.sources = [SourceConfig(folder.name, parser, str(folder)) for folder, parser in folders.items()]
    return s


@pytest.mark.parametrize("where", ["demo", "corpus"])
async def test_no_page_repeats_a_header_or_shows_an_internal_path_or_id(where: str, tmp_path: Path) -> None:
    folders = (
        {ROOT / "feeds" / f: p for f, p in DEMO.items()}
        if where == "demo"
        else {CORPUS / f: p for f, p in CORPUS_DIRS.items() if (CORPUS / f).is_dir()}
    )
    if not folders:
        pytest.skip("the corpus is not present")
    async with open_store("sqlite", tmp_path) as store:
        ids: list[str] = []
        for folder, parser in folders.items():
            found = list(parsed(folder, parser, limit=PAGES_PER_FOLDER))
            latest = {d.id: d for d in found}  # one file's version of each item is enough here
            latest = dict(list(latest.items())[: PAGES_PER_FOLDER * 3])  # the list pages stay short
            await store.apply(Batch(folder.name, datetime.now(UTC), tuple(latest.values()), complete=False))
            ids += list(latest)[:PAGES_PER_FOLDER]
        assert len(ids) > 20
        checked: list[tuple[bool, bool]] = []
        async with running_app(store, page_settings(folders)) as site, aiohttp.ClientSession() as http:
            for path in ["/?lang=sv", "/?lang=en", "/board?lang=sv", "/status?lang=en"] + [
                f"/d/{quote(i, safe=':@/')}?lang={('sv', 'en')[n % 2]}" for n, i in enumerate(ids)
            ]:
                async with http.get(site.url + path, headers={"Accept": "text/html"}) as r:
                    assert r.status == 200, path
                    checked.append(check_page(await r.text(), path))
    assert sum(d for d, _ in checked) > 10 and sum(a for _, a in checked) > 10  # not vacuous
