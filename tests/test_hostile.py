"""Worst cases built from the parsers' own code: every regex and every collecting loop stays linear.

The regex attacks are derived by introspection, not listed by hand: every compiled pattern
(and every pattern string in a keyword table) in each parser module is parsed with the
`re` module's own parser, and for each quantifier we build long runs of the characters it
accepts, placed after a prefix that leads up to it and without the literal that would end
it, repeated so a search restarts many times. Each input then runs through the regex
directly and through the parser's own entry point (embedded in every text slot the parser
reads); both must finish within 2 s. A self-check shows the generator does catch the
patterns issue 12 reported (quadratic growth), so a pass here is not vacuous.
"""

from __future__ import annotations

import html
import inspect
import re
import re._constants as C
import re._parser as P
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from xml.sax.saxutils import escape

import pytest
from google.transit import gtfs_realtime_pb2
from speed import slowdown

from travelinfo import plaintext as datex2_text
from travelinfo.ingest.parsers import (
    cap,
    cap_info,
    datex2,
    datex2_geo,
    datex2_situation,
    datex2_types,
    gtfsrt,
    navtex,
    navtex_text,
    siri,
    vet,
    xmlsafe,
)
from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.model import Batch

# CPU time of this thread, not wall time: the budget is about the work an input causes, and
# on a shared CI box (2 cores, 8 jobs) wall time also counts everyone else's work. Scaled by
# how much slower this machine is than the one it was set on (tests/speed.py): a quadratic
# path over inputs at the caps takes minutes, far past it either way.
LIMIT_S = 2.0 * slowdown()
clock = time.thread_time
RUN = 20_000  # characters in one attack run (a 200 KB page froze the service in issue 12)
PER_PATTERN = 14  # attacks kept per pattern, the most varied first
AT = datetime(2026, 8, 22, 12, 0, tzinfo=UTC)
CANDIDATES = "aA1 .,-/<>:;()=_Z9&#'!?xNE\n\t"

MODULES: dict[str, list[ModuleType]] = {
    "navtex": [navtex, navtex_text],
    "gtfsrt": [gtfsrt, vet],
    "datex2": [datex2, datex2_geo, datex2_text, datex2_situation, datex2_types, xmlsafe, vet],
    "cap": [cap, cap_info, xmlsafe, vet],
    "siri-sx": [siri, xmlsafe, vet],
}


def ctx(**options: Any) -> ParseContext:
    return ParseContext("hostile", AT, url="https://example.org/feed", options=options)


# -- patterns, found by introspection ----------------------------------------------------------


def module_patterns(module: ModuleType) -> list[re.Pattern[str]]:
    """Every compiled regex in the module, and every regex string in its keyword tables."""
    found: list[re.Pattern[str]] = []
    for _name, value in vars(module).items():
        if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
            found.append(value)
        elif isinstance(value, tuple):  # keyword tables: (pattern, category, ...) rows
            for row in value:
                if isinstance(row, tuple) and row and isinstance(row[0], str):
                    found.append(re.compile(row[0]))
    return found


def patterns_of(fmt: str) -> list[re.Pattern[str]]:
    seen: dict[tuple[str, int], re.Pattern[str]] = {}
    for module in MODULES[fmt]:
        for p in module_patterns(module):
            seen.setdefault((p.pattern, p.flags), p)
    return list(seen.values())


# -- attack generation from the regex parse tree -----------------------------------------------


def _category(cat: Any, ch: str) -> bool:
    tests = {
        C.CATEGORY_DIGIT: ch.isdigit(),
        C.CATEGORY_NOT_DIGIT: not ch.isdigit(),
        C.CATEGORY_SPACE: ch.isspace(),
        C.CATEGORY_NOT_SPACE: not ch.isspace(),
        C.CATEGORY_WORD: ch.isalnum() or ch == "_",
        C.CATEGORY_NOT_WORD: not (ch.isalnum() or ch == "_"),
    }
    return tests.get(cat, False)


def _in_set(items: Any, ch: str) -> bool:
    negate, hit = False, False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            hit |= ord(ch) == av
        elif op is C.RANGE:
            hit |= av[0] <= ord(ch) <= av[1]
        elif op is C.CATEGORY:
            hit |= _category(av, ch)
    return hit != negate


def chars(op: Any, av: Any, ignorecase: bool) -> list[str]:
    """Characters a single-character node accepts (a few representatives)."""

    def ok(ch: str) -> bool:
        if op is C.LITERAL:
            return ord(ch) == av or (ignorecase and ch.lower() == chr(av).lower())
        if op is C.NOT_LITERAL:
            return ord(ch) != av
        if op is C.ANY:
            return ch != "\n"
        if op is C.IN:
            return _in_set(av, ch) or (ignorecase and _in_set(av, ch.swapcase()))
        if op is C.CATEGORY:
            return _category(av, ch)
        return False

    if op is C.LITERAL:
        return [chr(av)]
    return [c for c in CANDIDATES if ok(c)][:5]


SINGLE = (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN, C.CATEGORY)
REPEATS = tuple(x for x in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)) if x)


def minimal(seq: Any, ic: bool) -> str:
    """A short string matching the node sequence (anchors and lookarounds contribute nothing)."""
    out = []
    for op, av in seq:
        if op in SINGLE:
            cs = chars(op, av, ic)
            out.append(cs[0] if cs else "")
        elif op in REPEATS:
            out.append(minimal(av[2], ic) * av[0])
        elif op is C.SUBPATTERN:
            out.append(minimal(av[3], ic))
        elif op is getattr(C, "ATOMIC_GROUP", None):
            out.append(minimal(av, ic))
        elif op is C.BRANCH:
            out.append(minimal(av[1][0], ic))
    return "".join(out)


def bodies(sub: Any, ic: bool) -> list[str]:
    """One-iteration strings for a repeated node: each accepted character, alternating pairs."""
    if len(sub) == 1 and sub[0][0] in SINGLE:
        cs = chars(*sub[0], ic)
        return cs + [a + b for a in cs for b in cs if a != b][:6]
    return [minimal(sub, ic) or "a"]


def attacks(seq: Any, ic: bool, run: int = RUN) -> Iterator[str]:
    """Inputs that make the quantifiers in `seq` work hardest (see the module docstring)."""
    for i, (op, av) in enumerate(seq):
        head = minimal(seq[:i], ic)
        tail = minimal(seq[i + 1 :], ic)
        if op in REPEATS:
            for body in bodies(av[2], ic):
                long = body * (run // max(1, len(body)))
                yield head + long  # the run, then nothing that ends it
                yield head + long + tail[:-1]  # ... or all but the closing literal
                unit = head + body * 3
                yield unit * (run // max(1, len(unit)))  # many start positions
            for inner in attacks(av[2], ic, run // 4):
                yield head + inner
        elif op is C.SUBPATTERN:
            for inner in attacks(av[3], ic, run):
                yield head + inner
        elif op is C.BRANCH:
            for alt in av[1]:
                for inner in attacks(alt, ic, run):
                    yield head + inner


def attacks_for(pattern: re.Pattern[str], run: int = RUN) -> list[str]:
    tree = P.parse(pattern.pattern, pattern.flags)
    ic = bool(pattern.flags & re.IGNORECASE)
    out: dict[str, None] = {}
    for a in attacks(list(tree), ic, run):
        if a:
            out.setdefault(a, None)
    found = list(out)
    # Keep a spread: every k-th, so each quantifier contributes.
    step = max(1, len(found) // PER_PATTERN)
    return found[::step][:PER_PATTERN] or [minimal(list(tree), ic) * (run // 4 or 1)]


def regex_seconds(pattern: re.Pattern[str], text: str) -> float:
    start = clock()
    pattern.search(text)
    pattern.match(text)
    for _ in pattern.finditer(text):
        pass
    pattern.split(text, maxsplit=10_000)
    return clock() - start


# -- payloads: the attack in every text slot a parser reads ------------------------------------


def navtex_page(t: str) -> bytes:
    e = html.escape(t)
    return (
        '<html><body><div id="display-area-1"><h5>Baltic</h5>'
        f'<p>{e}<b>{e}</b><span style="white-space: pre-line">{e}</span></p>'
        "<p>021245 UTC APR<b>BALTIC SEA NAV WARN 001/26</b>"
        f'<span style="white-space: pre-line">{e}\nCANCEL {e}\n{e}</span></p>'
        "</div></body></html>"
    ).encode()


def gtfsrt_feed(t: str) -> bytes:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    for ident in ("e1", t[:1000]):
        ent = msg.entity.add()
        ent.id = ident
        alert = ent.alert
        for field in ("header_text", "description_text", "url", "tts_header_text", "cause_detail"):
            tr = getattr(alert, field).translation.add()
            tr.text, tr.language = t, "en"
            tr2 = getattr(alert, field).translation.add()
            tr2.text, tr2.language = "x", t[:200]
        img = alert.image.localized_image.add()
        img.url, img.media_type = t, "image/png"
        alert.informed_entity.add().route_id = t[:500]
    return msg.SerializeToString()


def datex2_doc(t: str) -> bytes:
    e = escape(t)
    return (
        '<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="2">'
        '<payloadPublication xsi:type="SituationPublication" lang="sv">'
        '<situation id="S1" version="1"><situationRecord xsi:type="Accident" id="R1" version="1">'
        f'<generalPublicComment><comment><values><value lang="sv">{e}</value></values></comment>'
        "</generalPublicComment>"
        f"<urlLink><urlLinkAddress>{e}</urlLinkAddress></urlLink>"
        '<groupOfLocations xsi:type="Linear"><roadName><values><value>'
        f"{e}</value></values></roadName><roadNumber>{e}</roadNumber>"
        f'<gmlLineString srsName="{escape(t[:300])}"><posList>{e}</posList></gmlLineString>'
        f"<locationDescription><values><value>{e}</value></values></locationDescription>"
        "</groupOfLocations></situationRecord></situation></payloadPublication></d2LogicalModel>"
    ).encode()


def cap_alert(t: str) -> bytes:
    e = escape(t)
    info = (
        f"<info><language>{escape(t[:100])}</language><category>Met</category><event>{e}</event>"
        f"<headline>{e}</headline><description>{e}</description><web>{e}</web>"
        f"<area><areaDesc>{e}</areaDesc><polygon>{e}</polygon><circle>{e}</circle></area></info>"
    )
    return (
        "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>A1</identifier>"
        "<sender>s</sender><sent>2026-08-22T10:00:00+00:00</sent><status>Actual</status>"
        f"<msgType>Update</msgType><scope>Public</scope><references>{e}</references>{info}</alert>"
    ).encode()


def siri_doc(t: str) -> bytes:
    e = escape(t)
    return (
        '<Siri xmlns="http://www.siri.org.uk/siri" version="2.0"><ServiceDelivery>'
        "<SituationExchangeDelivery><Situations><PtSituationElement>"
        "<CreationTime>2026-08-22T10:00:00+00:00</CreationTime>"
        "<ParticipantRef>SL</ParticipantRef><SituationNumber>N1</SituationNumber>"
        f'<Summary xml:lang="en">{e}</Summary><Description>{e}</Description>'
        f"<InfoLinks><InfoLink><Uri>{e}</Uri></InfoLink></InfoLinks>"
        f"<Affects><StopPoints><AffectedStopPoint><StopPointRef>{e}</StopPointRef>"
        "</AffectedStopPoint></StopPoints></Affects>"
        "</PtSituationElement></Situations></SituationExchangeDelivery></ServiceDelivery></Siri>"
    ).encode()


PAYLOADS: dict[str, tuple[Callable[[str], bytes], Callable[[bytes, ParseContext], Batch]]] = {
    "navtex": (navtex_page, navtex.parse),
    "gtfsrt": (gtfsrt_feed, gtfsrt.parse),
    "datex2": (datex2_doc, datex2.parse),
    "cap": (cap_alert, cap.parse),
    "siri-sx": (siri_doc, siri.parse),
}


def parse_seconds(fmt: str, data: bytes) -> float:
    _, parse = PAYLOADS[fmt]
    start = clock()
    try:
        batch = parse(data, ctx())
    except ParseError:
        pass
    else:
        for d in batch.items:
            d.dumps()
    return clock() - start


CASES = [(fmt, p) for fmt in MODULES for p in patterns_of(fmt)]


def test_every_parser_module_has_its_patterns_found() -> None:
    """The introspection is not vacuous: the regex-heavy modules yield their patterns."""
    for modules in MODULES.values():
        for module in modules:
            source = inspect.getsource(module)
            written = source.count("re.compile(") + source.count("re.search(")
            assert len(module_patterns(module)) >= written, module.__name__
    assert len(patterns_of("navtex")) >= 20 and len(patterns_of("datex2")) >= 6
    for _fmt, p in CASES:
        assert attacks_for(p), p.pattern


@pytest.mark.parametrize(("fmt", "pattern"), CASES, ids=[f"{f}:{p.pattern[:40]}" for f, p in CASES])
def test_regex_worst_cases_are_linear(fmt: str, pattern: re.Pattern[str]) -> None:
    """Each generated worst case runs through the regex, then the parser, within 2 s."""
    build, _ = PAYLOADS[fmt]
    for text in attacks_for(pattern):
        took = regex_seconds(pattern, text)
        assert took < LIMIT_S, (pattern.pattern, text[:60], took)
        took = parse_seconds(fmt, build(text))
        assert took < LIMIT_S, (fmt, pattern.pattern, text[:60], took)


# The patterns issue 12 reported, as they were: the generator must find their worst case.
OLD_PATTERNS = [
    re.compile(r"\b([A-Z][A-Z ]*?NAV WARN)\s+(\d{1,4})(\([A-Z]\))?/(\d{2})\b"),
    re.compile(r"<[A-Za-z/!][^>]*>"),
    re.compile(r"(?:^|\n)\s*\d{1,2}\.\s"),
]


@pytest.mark.parametrize("old", OLD_PATTERNS, ids=[p.pattern[:30] for p in OLD_PATTERNS])
def test_generator_catches_the_reported_quadratic_patterns(old: re.Pattern[str]) -> None:
    """Self-check: on the old patterns, some attack grows quadratically with its length."""

    def seconds(text: str) -> float:
        start = clock()
        old.search(text)
        return clock() - start

    small = attacks_for(old, 600)
    big = attacks_for(old, 4_800)
    # 8x the input: a linear pattern takes about 8x the time, a quadratic one about 64x.
    ratios = [seconds(b) / max(seconds(a), 1e-6) for a, b in zip(small, big, strict=False)]
    assert max(ratios) > 24, (old.pattern, ratios)


# -- collecting loops: sized from the caps in the code -----------------------------------------


def timed(fmt: str, data: bytes) -> Batch:
    _, parse = PAYLOADS[fmt]
    start = clock()
    batch = parse(data, ctx())
    for d in batch.items:
        d.dumps()
    took = clock() - start
    assert took < LIMIT_S, (fmt, len(data), took)
    return batch


def test_datex2_40000_points_is_fast() -> None:
    """The issue's 3.7 MB file with 40,000 points took 41 s (list membership)."""
    points = "".join(
        f"<pointCoordinates><latitude>{59 + i / 100_000:.6f}</latitude>"
        f"<longitude>{18 + i / 100_000:.6f}</longitude></pointCoordinates>"
        for i in range(40_000)
    )
    data = datex2_doc("x").replace(b"<locationDescription>", points.encode() + b"<locationDescription>")
    batch = timed("datex2", data)
    (d,) = batch.items
    assert d.geometry is not None


def test_datex2_long_poslist_is_thinned_to_the_cap() -> None:
    n = vet.MAX_POSITIONS + 5_000
    pos = " ".join(f"{59 + i / 1e6:.6f} {18 + i / 1e6:.6f}" for i in range(n))
    data = datex2_doc("x").replace(b"<posList>x</posList>", f"<posList>{pos}</posList>".encode())
    batch = timed("datex2", data.replace(b'srsName="x"', b'srsName="EPSG:4326"'))
    (d,) = batch.items
    assert d.geometry is not None and len(d.geometry["coordinates"]) <= vet.MAX_POSITIONS
    assert any("thinned" in n for n in batch.notes)


def test_datex2_many_records_are_capped() -> None:
    record = (
        '<situationRecord xsi:type="Accident" id="R{i}" version="1"><generalPublicComment><comment>'
        '<values><value lang="sv">Olycka {i}</value></values></comment></generalPublicComment>'
        "</situationRecord>"
    )
    recs = "".join(record.format(i=i) for i in range(vet.MAX_RECORDS + 500))
    data = datex2_doc("x").replace(b"</situation>", recs.encode() + b"</situation>")
    batch = timed("datex2", data)
    assert any("records" in n for n in batch.notes)


def test_cap_polygon_at_the_cap_and_many_circles() -> None:
    ring = " ".join(f"{59 + (i % 1000) / 1e4:.5f},{18 + i / 1e6:.6f}" for i in range(cap_info.MAX_POINTS - 1))
    circles = "".join(f"<circle>59.3,18.{i:04d} 1</circle>" for i in range(vet.MAX_RECORDS + 100))
    data = cap_alert("x").replace(b"<polygon>x</polygon>", f"<polygon>{ring}</polygon>{circles}".encode())
    batch = timed("cap", data)
    assert batch.items


def test_navtex_thousands_of_positions_and_warnings() -> None:
    pos = " ".join(f"59-{i % 60:02d}.{i % 10}N 018-{(i // 60) % 60:02d}.{i % 10}E" for i in range(8_000))
    body = f"AREA BOUNDED BY {pos}"
    paras = "".join(
        f'<p>021245 UTC APR<b>BALTIC SEA NAV WARN {i}/26</b><span style="white-space: pre-line">'
        f"CANCEL BALTIC SEA NAV WARN {i + 1}/26 {pos[:200]}</span></p>"
        for i in range(1_500)
    )
    page = navtex_page(body).replace(b"</div>", paras.encode() + b"</div>")
    batch = timed("navtex", page)
    assert len(batch.items) > 1_000


@pytest.mark.parametrize("count", [20_000, 40_000])  # twice the locations, not four times the time
def test_siri_many_locations_and_situations(count: int) -> None:
    locs = "".join(
        f"<Location><Longitude>18.{i:05d}</Longitude><Latitude>59.{i:05d}</Latitude></Location>"
        for i in range(count)
    )
    data = siri_doc("x").replace(
        b"</Affects>", f"<Places><AffectedPlace>{locs}</AffectedPlace></Places></Affects>".encode()
    )
    batch = timed("siri-sx", data)
    (d,) = batch.items
    assert d.geometry is not None and len(d.geometry["coordinates"]) <= vet.MAX_RECORDS


def test_gtfsrt_many_informed_entities_and_entities() -> None:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    for n in range(3_000):
        ent = msg.entity.add()
        ent.id = f"e{n}"
        ent.alert.header_text.translation.add().text = "Stopp"
        for i in range(20 if n else vet.MAX_RECORDS * 5):
            ent.alert.informed_entity.add().stop_id = f"s{i}"
    batch = timed("gtfsrt", msg.SerializeToString())
    assert len(batch.items) == 3_000 and len(batch.items[0].affected) == vet.MAX_RECORDS
