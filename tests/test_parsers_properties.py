"""Property tests for every parser: any bytes, any mutation of a real file -> a Batch or a ParseError.

And every Batch is publishable: each geometry passes the RFC 7946 check, each Disruption's
JSON parses with a strict parser (no NaN/Infinity), texts hold no control or bidi override
characters, links are http(s) and language keys are BCP 47.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.transit import gtfs_realtime_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from travelinfo.geojson_check import check_geometry
from travelinfo.ingest.parsers import vet
from travelinfo.ingest.parsers.base import ParseContext, ParseError, get_parser
from travelinfo.model import Batch, has_unsafe_chars

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AT = datetime(2026, 8, 22, 12, 0, tzinfo=UTC)
FORMATS = ("datex2", "gtfsrt", "siri-sx", "navtex", "cap")
# Corpus folders per format; files over MAX_FILE are left out to keep examples CI-sized.
FOLDERS = {
    "datex2": ("datex2-v2", "datex2-v3"),
    "gtfsrt": ("gtfs-rt",),
    "siri-sx": ("siri",),
    "navtex": ("maritime",),
    "cap": ("cap",),
}
SUFFIX = {"datex2": ".xml", "gtfsrt": ".pb", "siri-sx": ".xml", "navtex": ".html", "cap": ".xml"}
MAX_FILE = 400_000
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
# Snippets a hostile upstream would put anywhere: numbers that overflow, links that run
# code, characters that reverse text, declarations that load files.
HOSTILE = [
    b"NaN",
    b"nan",
    b"inf",
    b"-Infinity",
    b"1e309",
    b"9" * 400,
    b"1e300",
    b"javascript:alert(1)",
    b"data:text/html,<b>x</b>",
    "\u202e\u2066".encode(),
    b"\x1b[31m",
    b"&#x202E;",
    b"&#1;",
    b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
    b'xml:lang="@@ bad"',
    b'srsDimension="abc"',
    b'srsName="EPSG:25833"',
    b"<circle>59.3,18.0 NaN</circle>",
    b"<polygon>91,0 0,0 1,1 91,0</polygon>",
    b"RADIUS OF " + b"9" * 400 + b" NM",
    b"59-18.5N 018-05.2E",
    b"<a<a<a<a<a<a",
    b"\n\n\n\n\n\n",
]


def ctx() -> ParseContext:
    return ParseContext("prop", AT, url="https://example.org/feed")


def corpus_files(fmt: str) -> list[Path]:
    files = [
        f
        for folder in FOLDERS[fmt]
        for f in sorted((CORPUS / folder).glob(f"*{SUFFIX[fmt]}"))
        if f.stat().st_size <= MAX_FILE and (fmt != "gtfsrt" or "Alerts" in f.name or "alerts" in f.name)
    ]
    files += [f for f in sorted((FIXTURES / ("cap" if fmt == "cap" else fmt)).glob("*")) if f.is_file()]
    return files


def _refuse(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def check_batch(batch: Batch) -> None:
    """Everything a Batch carries is publishable as strict JSON and within the rules."""
    assert isinstance(batch, Batch)
    assert (batch.skipped == 0) == (batch.skip_reason is None), (batch.skipped, batch.skip_reason)
    for d in batch.items:
        data = json.loads(d.dumps(), parse_constant=_refuse)
        check_geometry(data["geometry"], vet.MAX_POSITIONS)
        assert d.url is None or vet.safe_url(d.url) == d.url
        for name in ("header", "description", "location_text"):
            for lang, text in data[name].items():
                assert vet.lang_tag(lang) == lang, lang
                assert not has_unsafe_chars(text), text[:80]
        assert not has_unsafe_chars(d.upstream_id)
        for a in d.affected:
            assert not has_unsafe_chars(a.id) and not has_unsafe_chars(a.name or "")


def parse_any(fmt: str, data: bytes) -> None:
    try:
        batch = get_parser(fmt)(data, ctx())
    except ParseError as exc:
        assert str(exc).strip()  # one clear reason, never empty
        return
    check_batch(batch)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.binary(max_size=2_000))
def test_arbitrary_bytes(fmt: str, data: bytes) -> None:
    parse_any(fmt, data)


@pytest.mark.parametrize("fmt", ("datex2", "siri-sx", "cap", "navtex"))
@SETTINGS
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_after_a_valid_prolog(fmt: str, data: bytes) -> None:
    heads = {
        "datex2": b'<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0"><payloadPublication>',
        "siri-sx": b'<Siri xmlns="http://www.siri.org.uk/siri"><ServiceDelivery>',
        "cap": b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>",
        "navtex": b'<html><body><div id="display-area-1"><h5>A</h5><p><b>',
    }
    parse_any(fmt, heads[fmt] + data)


mutation = st.tuples(
    st.sampled_from(["flip", "delete", "insert", "truncate", "repeat"]),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=1, max_value=400),
    st.sampled_from(HOSTILE),
)


def mutate(data: bytes, steps: list[tuple[str, float, int, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, where, size, snippet in steps:
        at = int(where * len(buf))
        if kind == "flip" and buf:
            buf[min(at, len(buf) - 1)] ^= 1 + size % 255
        elif kind == "delete":
            del buf[at : at + size]
        elif kind == "insert":
            buf[at:at] = snippet
        elif kind == "truncate":
            del buf[at:]
        elif kind == "repeat":
            buf[at:at] = bytes(buf[at : at + size]) * 20
    return bytes(buf)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(pick=st.integers(min_value=0), steps=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_corpus_files(fmt: str, pick: int, steps: list[tuple[str, float, int, bytes]]) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS}")
    files = corpus_files(fmt)
    assert files, fmt
    parse_any(fmt, mutate(files[pick % len(files)].read_bytes(), steps))


def test_unmutated_corpus_files_pass_the_same_checks() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS}")
    parsed = 0
    for fmt in FORMATS:
        for f in corpus_files(fmt):
            try:
                batch = get_parser(fmt)(f.read_bytes(), ctx())
            except ParseError:
                continue
            check_batch(batch)
            parsed += len(batch.items)
    assert parsed > 100


# GTFS-RT bytes rarely survive mutation as protobuf: build feeds from hostile field values.
texts = st.one_of(
    st.text(max_size=40), st.sampled_from([h.decode("utf-8", "replace") for h in HOSTILE]), st.just("")
)


@SETTINGS
@given(
    entities=st.lists(
        st.tuples(
            texts, texts, texts, texts, st.integers(min_value=-(2**40), max_value=2**63 - 1), st.booleans()
        ),
        max_size=6,
    )
)
def test_gtfsrt_feeds_with_hostile_fields(entities: list[tuple[str, str, str, str, int, bool]]) -> None:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    for ident, text, lang, url, when, deleted in entities:
        ent = msg.entity.add()
        ent.id = ident
        ent.is_deleted = deleted
        alert = ent.alert
        tr = alert.header_text.translation.add()
        tr.text, tr.language = text, lang
        alert.url.translation.add().text = url
        alert.description_text.translation.add().text = text
        period = alert.active_period.add()
        period.start = max(0, when)
        alert.informed_entity.add().stop_id = ident
        image = alert.image.localized_image.add()
        image.url, image.media_type, image.language = url, "image/png", lang
    parse_any("gtfsrt", msg.SerializeToString())
