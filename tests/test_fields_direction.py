"""Issue 19: SIRI-SX direction (AffectedLine/Direction, DirectionRef, Destinations) parsed,
stored, re-published in our SIRI-SX and shown on the pages and feeds."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from lxml import etree
from standardsutil import AT, SIRI_XSD, assert_valid
from storeutil import open_store

from travelinfo.config import Settings
from travelinfo.ingest.gtfs_static import load_gtfs
from travelinfo.ingest.parsers.base import ParseContext, get_parser
from travelinfo.model import Batch, Disruption
from travelinfo.standards import siri as siri_out
from travelinfo.web import text as texts

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "feeds" / "sl-siri" / "001-pendeltag-sparfel.xml"
VDV = "cen-example-vdv736-SX_1022_main_message.xml"
FAULT = "SL:14010517000012502"


def demo_batch() -> Batch:
    ctx = ParseContext("sl-siri", AT, options={"lang": "sv"}, reference=load_gtfs(ROOT / "feeds" / "sl-gtfs"))
    return get_parser("siri-sx")(DEMO.read_bytes(), ctx)


def fault() -> Disruption:
    (d,) = [x for x in demo_batch().items if x.upstream_id == FAULT]
    return d


def local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def test_demo_lines_keep_their_direction_and_destination() -> None:
    routes = [(a.id, a.name, a.direction, a.towards) for a in fault().affected if a.type == "route"]
    assert routes == [
        ("9011001004100000", "41 Uppsala C–Södertälje centrum", "outbound", "Södertälje centrum"),
        ("9011001004300000", "43 Bålsta–Södertälje centrum", "outbound", "Södertälje centrum"),
    ]


def test_vdv736_every_direction_of_every_line_is_kept(corpus: Path) -> None:
    path = corpus / "siri" / VDV
    (d,) = get_parser("siri-sx")(path.read_bytes(), ParseContext("cen", AT)).items
    # Independent oracle: every (LineRef, DirectionName) pair under an AffectedLine in the raw XML.
    expected = set()
    for line in etree.parse(str(path)).getroot().iter("{*}AffectedLine"):
        ref = next(c.text.strip() for c in line if local(c.tag) == "LineRef")
        for way in (c for c in line if local(c.tag) == "Direction"):
            name = next(c.text.strip() for c in way if local(c.tag) == "DirectionName")
            expected.add((ref, name))
    got = {(a.id, a.towards) for a in d.affected if a.type == "route" and a.towards}
    assert got == expected and len(expected) == 18
    # Line 6 runs both ways: two entries; an operator's own DirectionRef (ch:vbl:VBL006:A) is
    # no direction of our vocabulary, so `unknown`, with the name it gives.
    six = {(a.direction, a.towards) for a in d.affected if a.id == "ch:vbl:VBL006" and a.towards}
    assert six == {("unknown", "Büttenenhalde"), ("unknown", "Matthof"), ("unknown", "Büttenhalde")}
    # The stops of a line's StopPoints are affected in that line's direction(s) ("in stop points").
    haldensteig = {
        (a.direction, a.towards) for a in d.affected if a.type == "stop" and a.id == "ch:vbl:617::02"
    }
    assert ("unknown", "Matthof") in haldensteig and ("unknown", "Büttenenhalde") not in haldensteig


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("outbound", "outbound"),
        ("Inbound", "inbound"),
        ("counter-clockwise", "anticlockwise"),
        ("0", "unknown"),
    ],
)
def test_direction_refs_map_to_the_vocabulary(ref: str, expected: str) -> None:
    xml = DEMO.read_bytes().replace(b"<DirectionRef>outbound<", f"<DirectionRef>{ref}<".encode())
    batch = get_parser("siri-sx")(xml, ParseContext("sl-siri", AT, options={"lang": "sv"}))
    (d,) = [x for x in batch.items if x.upstream_id == FAULT]
    assert {a.direction for a in d.affected if a.type == "route"} == {expected}


def test_siri_out_republishes_the_direction_valid_and_read_back() -> None:
    d = fault()
    body = siri_out.render([d], AT)
    doc = assert_valid(SIRI_XSD, body, "direction")
    ways = [
        (
            [c.text for c in w if local(c.tag) == "DirectionRef"],
            [c.text for c in w if local(c.tag) == "DirectionName"],
        )
        for w in doc.iter("{*}Direction")
    ]
    assert ways == [(["outbound"], ["Södertälje centrum"])] * 2
    (back,) = get_parser("siri-sx")(body, ParseContext("sl-siri", AT)).items
    assert [(a.id, a.direction, a.towards) for a in back.affected if a.type == "route"] == [
        ("9011001004100000", "outbound", "Södertälje centrum"),
        ("9011001004300000", "outbound", "Södertälje centrum"),
    ]


def test_page_texts_say_which_way() -> None:
    d = fault()
    assert texts.affected_names(d, "sv")[:2] == [
        "41 Uppsala C–Södertälje centrum (mot Södertälje centrum)",
        "43 Bålsta–Södertälje centrum (mot Södertälje centrum)",
    ]
    assert texts.affected_names(d, "en")[0] == "41 Uppsala C–Södertälje centrum (towards Södertälje centrum)"
    road = d.replace(affected=(d.affected[0].__class__("road", "E4", "E4", "northbound"),))
    assert texts.affected_names(road, "sv") == ["E4 (norrgående)"]
    assert texts.affected_names(road, "en") == ["E4 (northbound)"]
    # positive/negative are the road's own reference direction: nothing a reader can use.
    road = d.replace(affected=(d.affected[0].__class__("road", "E4", "E4", "positive"),))
    assert texts.affected_names(road, "sv") == ["E4"]


async def test_detail_page_and_feed_show_the_direction(tmp_path: Path) -> None:
    d = fault()
    async with open_store("sqlite", tmp_path) as store, running_app(store, Settings()) as running:
        await store.apply(Batch("sl-siri", AT, (d,), complete=False))
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{running.url}/d/{d.id}?lang=sv") as r:
                page = await r.text()
                assert r.status == 200
            async with s.get(f"{running.url}/feeds/disruptions.atom?lang=en") as r:
                feed = await r.text()
    assert "<li>41 Uppsala C–Södertälje centrum (mot Södertälje centrum)</li>" in page
    assert "41 Uppsala C–Södertälje centrum (towards Södertälje centrum)" in feed


async def test_a_hostile_direction_name_is_cleaned_escaped_and_stays_valid(tmp_path: Path) -> None:
    hostile = "&lt;script&gt;alert(1)&lt;/script&gt;\u202e &amp; Märsta"
    xml = DEMO.read_bytes().replace(
        "Södertälje centrum</DirectionName>".encode(), f"{hostile}</DirectionName>".encode()
    )
    ctx = ParseContext("sl-siri", AT, reference=load_gtfs(ROOT / "feeds" / "sl-gtfs"))
    (d,) = [x for x in get_parser("siri-sx")(xml, ctx).items if x.upstream_id == FAULT]
    assert {a.towards for a in d.affected if a.type == "route"} == {"<script>alert(1)</script> & Märsta"}
    assert_valid(SIRI_XSD, siri_out.render([d], AT), "hostile direction")
    async with open_store("sqlite", tmp_path) as store, running_app(store, Settings()) as running:
        await store.apply(Batch("sl-siri", AT, (d,), complete=False))
        async with aiohttp.ClientSession() as s, s.get(f"{running.url}/d/{d.id}?lang=sv") as r:
            page = await r.text()
    assert "<script>alert(1)" not in page
    assert "(mot &lt;script&gt;alert(1)&lt;/script&gt; &amp; Märsta)" in page


def test_siri_out_writes_a_stop_in_several_directions_once(corpus: Path) -> None:
    (d,) = get_parser("siri-sx")((corpus / "siri" / VDV).read_bytes(), ParseContext("cen", AT)).items
    doc = assert_valid(SIRI_XSD, siri_out.render([d], AT), VDV)
    refs = [
        e.text for e in doc.iter("{*}StopPointRef") if local(e.getparent().getparent().tag) == "StopPoints"
    ]
    assert len(refs) == len(set(refs)) == 80
    lines = [e for e in doc.iter("{*}AffectedLine")]
    assert len(lines) == 24  # one per line and direction
