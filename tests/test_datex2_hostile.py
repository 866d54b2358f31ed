"""Malformed and hostile DATEX II input: clear ParseErrors, nothing read, nothing blown up."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from travelinfo.ingest.parsers.base import ParseContext, ParseError
from travelinfo.ingest.parsers.datex2 import parse

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CTX = ParseContext("hostile", NOW)

HEAD = (
    b'<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="2">'
    b'<payloadPublication xsi:type="SituationPublication" lang="sv">'
)
TAIL = b"</payloadPublication></d2LogicalModel>"


def situation(sid: str, comment: str = "Olycka") -> bytes:
    return (
        f'<situation id="{sid}" version="1"><situationRecord xsi:type="Accident" id="{sid}_1" '
        f'version="1"><generalPublicComment><comment><values><value lang="sv">{comment}</value>'
        f"</values></comment></generalPublicComment></situationRecord></situation>"
    ).encode()


def test_xxe_file_entity_is_refused_unread() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d2LogicalModel [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        + HEAD
        + situation("X", "&xxe;")
        + TAIL
    )
    with pytest.raises(ParseError) as err:
        parse(data, CTX)
    assert "root:" not in str(err.value)
    assert "DTD" in str(err.value) or "entit" in str(err.value)


@pytest.mark.realtime  # rejected within 1 s
def test_billion_laughs_is_rejected_fast() -> None:
    lol = [b'<!ENTITY lol0 "lol">']
    lol += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'.encode() for i in range(1, 10)]
    data = b'<?xml version="1.0"?><!DOCTYPE d2LogicalModel [' + b"".join(lol) + b"]>"
    data += HEAD + situation("B", "&lol9;") + TAIL
    start = time.perf_counter()
    with pytest.raises(ParseError):
        parse(data, CTX)
    assert time.perf_counter() - start < 1.0


def test_oversize_refused_before_parsing() -> None:
    data = HEAD + situation("S") * 200 + TAIL
    small = ParseContext("hostile", NOW, max_bytes=len(data) - 1)
    with pytest.raises(ParseError, match="exceeds the maximum"):
        parse(data, small)
    assert len(parse(data, CTX).items) == 200


def test_truncated_payload_is_a_clear_error() -> None:
    data = HEAD + situation("A") + situation("B") + TAIL
    with pytest.raises(ParseError, match="malformed or truncated"):
        parse(data[: len(data) - 30], CTX)


def test_truncated_non_situation_payload_still_fails(tmp_path: Path) -> None:
    data = HEAD.replace(b"SituationPublication", b"MeasuredDataPublication") + b"<siteMeasurements>" * 3
    with pytest.raises(ParseError):
        parse(data, CTX)


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"not xml at all", b"<html><body>gateway timeout</body></html>", b"<a><b></a>"],
)
def test_garbage_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse(data, CTX)


def test_unknown_elements_and_missing_ids_are_not_fatal() -> None:
    data = (
        HEAD
        + b'<situation version="1"><situationRecord xsi:type="Accident" id="r"/></situation>'
        + b'<situation id="ok"><situationRecord xsi:type="SomethingNew" id="r2">'
        + b"<whatIsThis><deep>1</deep></whatIsThis></situationRecord></situation>"
        + TAIL
    )
    batch = parse(data, CTX)
    (d,) = batch.items
    assert d.upstream_id == "ok" and d.cause == "OTHER_CAUSE" and d.effect == "OTHER_EFFECT"
    assert d.header  # a fallback title when the upstream gives no text
    assert any("without an id" in n for n in batch.notes)
