"""Every JSON parser reads bytes through one `load_json`: the same checks, the same error words.

A hostile or broken upstream gets one precise line whichever JSON source it pretends to be;
a BOM and the deepest nesting allowed still parse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from travelinfo.ingest.parsers.base import ParseContext, ParseError, get_parser
from travelinfo.ingest.parsers.jsonsafe import MAX_DEPTH, load_json

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PARSERS = ("trafikverket", "vma", "sl-deviations")


def ctx(max_bytes: int = 1 << 20) -> ParseContext:
    return ParseContext("src", NOW, max_bytes=max_bytes)


def nested(levels: int) -> bytes:
    """`levels` lists, one inside the other."""
    return b"[" * levels + b"]" * levels


QUOTES = "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
HOSTILE = [
    (b"", "empty payload"),
    (b" \r\n\t ", "empty payload"),
    (b'[{"a": "\xff"}]', "malformed or truncated JSON: not UTF-8 (byte 8)"),
    (b"\xfe\xff\x00[\x00]", "malformed or truncated JSON: not UTF-8 (byte 0)"),  # UTF-16 is not JSON here
    (b'[{"a": 1', "malformed or truncated JSON: Expecting ',' delimiter: line 1 column 9 (char 8)"),
    (b"{'a': 1}", "malformed or truncated JSON: " + QUOTES),
    (nested(MAX_DEPTH + 2), f"JSON nested deeper than {MAX_DEPTH} levels"),
    (nested(100_000), f"JSON nested deeper than {MAX_DEPTH} levels"),  # past the recursion limit
]


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize(("data", "message"), HOSTILE)
def test_every_json_parser_refuses_alike(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as err:
        get_parser(name)(data, ctx())
    assert str(err.value) == message


@pytest.mark.parametrize("name", PARSERS)
def test_the_size_cap_comes_first(name: str) -> None:
    data = b"[" + b"1," * 600 + b"1]"
    with pytest.raises(ParseError) as err:
        get_parser(name)(data, ctx(max_bytes=1000))
    assert str(err.value) == f"payload of {len(data)} bytes exceeds the maximum of 1000"


def test_load_json_reads_a_bom_and_the_deepest_nesting_allowed() -> None:
    assert load_json('\ufeff[1, {"å": "ö"}]'.encode(), ctx()) == [1, {"å": "ö"}]
    deepest = json.loads(nested(MAX_DEPTH + 1))
    assert load_json(nested(MAX_DEPTH + 1), ctx()) == deepest
    # Depth counts containers, wherever they sit: a deep branch beside a shallow one.
    wide = b'{"a": [1, 2], "b": ' + nested(MAX_DEPTH + 1) + b"}"
    with pytest.raises(ParseError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_json(wide, ctx())


def test_a_bom_is_not_an_error_for_any_json_parser() -> None:
    # Each parser then says what it expected: the bytes were read.
    said = {}
    for name in PARSERS:
        with pytest.raises(ParseError) as err:
            get_parser(name)('\ufeff"text"'.encode(), ctx())
        said[name] = str(err.value)
    assert said == {
        "trafikverket": "not a Trafikverket answer: no RESPONSE object",
        "vma": 'not a VMA answer: expected {"alerts": [...]}, one CAP alert or a Krisinformation list',
        "sl-deviations": "not an SL Deviations answer: expected a JSON list of messages",
    }
