"""Issue 12's hostile items, one by one: each is skipped or repaired with a note, never fatal.

Also: only http(s) links survive, language keys are BCP 47, stored text has no control or
bidi override characters, and a DOCTYPE is refused however the document hides it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from google.transit import gtfs_realtime_pb2

from travelinfo.geojson_check import check_geometry
from travelinfo.ingest.parsers import cap, datex2, gtfsrt, navtex, siri, vet
from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.model import Batch

AT = datetime(2026, 8, 22, 12, 0, tzinfo=UTC)


def ctx(**options: Any) -> ParseContext:
    return ParseContext("h", AT, url="https://example.org/feed", options=options)


def strict(batch: Batch) -> list[dict[str, Any]]:
    """Every item as strict JSON, every geometry checked."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    out = [json.loads(d.dumps(), parse_constant=refuse) for d in batch.items]
    for item in out:
        check_geometry(item["geometry"], vet.MAX_POSITIONS)
    return out


# -- CAP ------------------------------------------------------------------------------------

CAP_HEAD = (
    "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>{ident}</identifier>"
    "<sender>s</sender><sent>2026-08-22T10:00:00+00:00</sent><status>Actual</status>"
    "<msgType>Alert</msgType><scope>Public</scope>"
)


def cap_alert(area: str, ident: str = "A1", extra: str = "") -> str:
    return (
        CAP_HEAD.format(ident=ident) + f"<info><category>Met</category><event>Storm</event>"
        f"<headline>Storm warning</headline>{extra}<area><areaDesc>Stockholm</areaDesc>{area}</area>"
        "</info></alert>"
    )


@pytest.mark.parametrize("radius", ["NaN", "nan", "inf", "-inf", "1e400", "9" * 400, "-1", "25000"])
def test_cap_circle_with_a_bad_radius_drops_the_shape_keeps_the_alert(radius: str) -> None:
    good = "<polygon>59.0,18.0 59.5,18.0 59.5,18.5 59.0,18.0</polygon>"
    batch = cap.parse(cap_alert(f"<circle>59.3,18.0 {radius}</circle>{good}").encode(), ctx())
    (item,) = strict(batch)
    assert item["geometry"]["type"] == "Polygon" and len(item["geometry"]["coordinates"][0]) == 4
    assert any("circle" in n and "skipped" in n for n in batch.notes)


def test_cap_nan_polygon_point_and_huge_polygon() -> None:
    nan = "<polygon>NaN,18.0 59.5,18.0 59.5,18.5 NaN,18.0</polygon>"
    huge = " ".join(f"59.{i:05d},18.0" for i in range(vet.MAX_POSITIONS + 10))
    batch = cap.parse(cap_alert(f"{nan}<polygon>{huge}</polygon>").encode(), ctx())
    (item,) = strict(batch)
    assert item["geometry"] is None and len(batch.notes) >= 2


def test_cap_feed_skips_the_unreadable_entry_and_keeps_the_rest() -> None:
    good = cap_alert("<circle>59.3,18.0 2</circle>", ident="OK")
    bad = cap_alert("", ident="BAD").replace("2026-08-22T10:00:00+00:00", "yesterday")
    feed = (
        "<feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<entry><id>1</id>{bad}</entry><entry><id>2</id>{good}</entry></feed>"
    )
    batch = cap.parse(feed.encode(), ctx())
    assert [d.upstream_id for d in batch.items] == ["OK"]
    assert batch.skipped == 1 and batch.skip_reason and "date-time" in batch.skip_reason
    strict(batch)


def test_cap_web_link_language_and_text() -> None:
    extra = "<web>javascript:alert(1)</web><description>Storm\u202e rev\x85ersed\x9b</description>"
    data = cap_alert("", extra=extra).replace("<category>", "<language>en-gb</language><category>")
    batch = cap.parse(data.encode(), ctx())
    (d,) = batch.items
    assert d.url is None and any("not an http(s) URL" in n for n in batch.notes)
    assert d.description["en-GB"] == "Storm reversed"  # U+202E, NEL and CSI (C1) stripped
    bad_lang = cap_alert("").replace("<category>", "<language>@@ not a tag</language><category>")
    (d,) = cap.parse(bad_lang.encode(), ctx()).items
    assert set(d.header) == {"en-US"}  # the CAP default, region subtag kept (issue 19)


# -- NAVTEX ---------------------------------------------------------------------------------


def navtex_page(body: str, heading: str = "BALTIC SEA NAV WARN 001/26") -> bytes:
    return (
        '<html><body><div id="display-area-1"><h5>Baltic</h5>'
        f'<p>021245 UTC APR<b>{heading}</b><span style="white-space: pre-line">{body}</span></p>'
        '<p>031245 UTC APR<b>BALTIC SEA NAV WARN 002/26</b><span style="white-space: pre-line">'
        "GULF OF FINLAND. BUOY 59-30.0N 024-00.0E UNLIT.</span></p></div></body></html>"
    ).encode()


def test_navtex_400_digit_radius_gives_points_not_an_exception() -> None:
    body = "FIRING EXERCISES WITHIN A RADIUS OF " + "9" * 400 + " NM AROUND 59-18.5N 018-05.2E."
    batch = navtex.parse(navtex_page(body), ctx())
    items = strict(batch)
    assert len(items) == 2
    geom = next(i["geometry"] for i in items if i["upstream_id"].endswith("001/26"))
    assert geom is not None and geom["type"] == "Point"


def test_navtex_heading_without_number_is_skipped_not_fatal() -> None:
    batch = navtex.parse(navtex_page("TEXT", heading="SOMETHING ELSE"), ctx())
    assert len(batch.items) == 1 and batch.skipped == 1
    assert batch.skip_reason and "no issuer and number" in batch.skip_reason


def test_navtex_bidi_and_control_characters_are_stripped() -> None:
    batch = navtex.parse(navtex_page("WRECK\u202e AT 59-18.5N 018-05.2E\x07."), ctx())
    d = next(d for d in batch.items if d.upstream_id.endswith("001/26"))
    assert "\u202e" not in d.description["en"] and "\x07" not in d.description["en"]
    assert "WRECK AT" in d.description["en"]


# -- DATEX II -------------------------------------------------------------------------------

D2 = (
    '<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="2">'
    '<payloadPublication xsi:type="SituationPublication" lang="sv">{body}'
    "</payloadPublication></d2LogicalModel>"
)


def situation(sid: str, location: str, extra: str = "", lang: str = "sv") -> str:
    return (
        f'<situation id="{sid}" version="1"><situationRecord xsi:type="Accident" id="{sid}_1" version="1">'
        f'<generalPublicComment><comment><values><value lang="{lang}">Olycka {sid}</value></values></comment>'
        f'</generalPublicComment>{extra}<groupOfLocations xsi:type="Linear">{location}</groupOfLocations>'
        "</situationRecord></situation>"
    )


@pytest.mark.parametrize(
    "gml",
    [
        '<gmlLineString srsName="EPSG:3006"><posList>1e300 6580000 674000 6581000</posList></gmlLineString>',
        '<gmlLineString srsName="EPSG:3006"><posList>NaN 6580000 674000 6581000</posList></gmlLineString>',
        '<gmlLineString srsName="EPSG:4326" srsDimension="abc">'
        "<posList>59 18 59.1 18.1</posList></gmlLineString>",
        '<gmlLineString srsName="EPSG:4326"><posList>59 inf 59.1 18.1</posList></gmlLineString>',
        '<gmlLineString srsName="EPSG:4326"><posList>'
        + "9" * 400
        + " 18 59.1 18.1</posList></gmlLineString>",
        "<pointCoordinates><latitude>NaN</latitude><longitude>18</longitude></pointCoordinates>",
        "<pointCoordinates><latitude>1e300</latitude><longitude>18</longitude></pointCoordinates>",
    ],
)
def test_datex2_bad_coordinates_drop_the_geometry_keep_the_situation(gml: str) -> None:
    good = situation(
        "GOOD", "<pointCoordinates><latitude>59.3</latitude><longitude>18.0</longitude></pointCoordinates>"
    )
    data = D2.format(body=situation("BAD", gml) + good).encode()
    batch = datex2.parse(data, ctx())
    items = {i["upstream_id"]: i for i in strict(batch)}
    assert set(items) == {"BAD", "GOOD"}
    assert items["BAD"]["geometry"] is None and items["GOOD"]["geometry"]["type"] == "Point"


def test_datex2_situation_without_id_is_counted_and_links_checked() -> None:
    link = "<urlLink><urlLinkAddress>javascript:alert(1)</urlLinkAddress></urlLink>"
    body = situation("", "") + situation("S2", "", extra=link, lang="@@")
    batch = datex2.parse(D2.format(body=body).encode(), ctx())
    (d,) = batch.items
    assert batch.skipped == 1 and batch.skip_reason and "without an id" in batch.skip_reason
    assert d.url is None and any("not an http(s) URL" in n for n in batch.notes)
    assert set(d.header) == {"sv"}  # the invalid lang attribute falls back to the publication's


# -- GTFS-RT --------------------------------------------------------------------------------


def feed(*entities: tuple[str, str, str, str]) -> bytes:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    for ident, text, lang, url in entities:
        ent = msg.entity.add()
        ent.id = ident
        tr = ent.alert.header_text.translation.add()
        tr.text, tr.language = text, lang
        ent.alert.url.translation.add().text = url
        img = ent.alert.image.localized_image.add()
        img.url, img.media_type = url, "image/png"
    return msg.SerializeToString()


def test_gtfsrt_entity_with_empty_id_is_skipped_not_fatal() -> None:
    batch = gtfsrt.parse(
        feed(("", "Stopp", "sv", "https://sl.se"), ("E2", "Stopp", "sv", "https://sl.se")), ctx()
    )
    assert [d.upstream_id for d in batch.items] == ["E2"]
    assert batch.skipped == 1 and batch.skip_reason and "without an id" in batch.skip_reason


def test_gtfsrt_links_languages_and_markup() -> None:
    batch = gtfsrt.parse(
        feed(
            ("A", "<b>Stopp</b>\u202e", "en-gb", "javascript:alert(1)"),
            ("B", "x" + "<a" * 50_000, "not a tag!", "data:text/html,x"),
            ("C", "Stopp", "sv", "https://sl.se/info"),
        ),
        ctx(),
    )
    items = {d.upstream_id: d for d in batch.items}
    assert items["A"].header == {"en-GB": "Stopp"} and items["A"].url is None
    assert not any("javascript" in c or "data:" in c for d in batch.items for c in d.categories)
    assert set(items["B"].header) == {"sv"}  # an invalid tag is filed under the default
    assert items["C"].url == "https://sl.se/info"
    assert any(c.startswith("gtfsrt:image:sv=https://sl.se/info") for c in items["C"].categories)


# -- SIRI -----------------------------------------------------------------------------------


def siri_doc(*situations: str) -> bytes:
    return (
        '<Siri xmlns="http://www.siri.org.uk/siri" version="2.0"><ServiceDelivery><SituationExchangeDelivery>'
        f"<Situations>{''.join(situations)}</Situations></SituationExchangeDelivery></ServiceDelivery></Siri>"
    ).encode()


def pt(number: str, body: str = "") -> str:
    return (
        f"<PtSituationElement><CreationTime>2026-08-22T10:00:00+00:00</CreationTime>"
        f"<SituationNumber>{number}</SituationNumber>{body}</PtSituationElement>"
    )


def test_siri_situation_without_number_is_skipped_links_and_languages_checked() -> None:
    body = (
        '<Summary xml:lang="en-GB">Delays\u202e</Summary><Summary xml:lang="@@">Förseningar</Summary>'
        "<InfoLinks><InfoLink><Uri>javascript:alert(1)</Uri></InfoLink>"
        "<InfoLink><Uri>https://sl.se/x</Uri></InfoLink></InfoLinks>"
        "<Affects><Places><AffectedPlace><Location><Longitude>NaN</Longitude><Latitude>59</Latitude>"
        "</Location><Location><Longitude>18</Longitude><Latitude>59</Latitude></Location>"
        "</AffectedPlace></Places></Affects>"
    )
    batch = siri.parse(siri_doc(pt(""), pt("N2", body)), ctx())
    (d,) = batch.items
    assert batch.skipped == 1 and batch.skip_reason and "SituationNumber" in batch.skip_reason
    assert d.header == {"en-GB": "Delays", "sv": "Förseningar"}
    assert d.url == "https://sl.se/x" and not any("javascript" in c for c in d.categories)
    assert strict(batch)[0]["geometry"] == {"type": "Point", "coordinates": [18.0, 59.0]}


# -- DTD detection after decoding ------------------------------------------------------------

ROOTS = {
    "datex2": (datex2.parse, '<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0">&e;</d2LogicalModel>'),
    "siri": (siri.parse, '<Siri xmlns="http://www.siri.org.uk/siri">&e;</Siri>'),
    "cap": (cap.parse, "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>&e;</alert>"),
}
DOCTYPE = "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"


@pytest.mark.parametrize("fmt", sorted(ROOTS))
@pytest.mark.parametrize(
    "prolog",
    ["{d}", "<!-- <a href='x'> -->{d}", "<?pi <a?>{d}", "<?xml version='1.0'?>\n<!-- <b -->\n{d}"],
    ids=["plain", "comment-with-tag", "pi-with-tag", "decl-and-comment"],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be"])
def test_doctype_refused_whatever_hides_it(fmt: str, prolog: str, encoding: str) -> None:
    parse, root = ROOTS[fmt]
    text = prolog.format(d=DOCTYPE) + root
    if encoding != "utf-8":
        decl = f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
        text = decl + text.replace("<?xml version='1.0'?>", "")
    data = text.encode(encoding) if encoding != "utf-16" else text.encode("utf-16")
    with pytest.raises(ParseError, match="document type declarations"):
        parse(data, ctx())


def test_gtfsrt_invalid_utf8_in_string_fields_is_replaced_not_bytes() -> None:
    # proto2 hands back invalid UTF-8 in string fields as bytes (found by the property tests).
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    ent = msg.entity.add()
    ent.id = "abc"
    ent.alert.header_text.translation.add().text = "xyz"
    ent.alert.informed_entity.add().route_id = "rrr"
    data = msg.SerializeToString().replace(b"abc", b"a\xe5c").replace(b"xyz", b"x\xe5z")
    data = data.replace(b"rrr", b"r\xe5r")
    (d,) = gtfsrt.parse(data, ctx()).items
    assert d.upstream_id == "a\ufffdc" and "x\ufffdz" in d.header.values()
    assert all(isinstance(a.id, str) for a in d.affected)
    json.loads(d.dumps())
