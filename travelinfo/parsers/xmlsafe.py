"""Hardened XML reading shared by the XML parsers: no DTDs, no entities, no network, size caps."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from travelinfo.parsers.base import ParseContext, ParseError, check_size

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[A-Za-z_]")


def reject_dtd(data: bytes) -> None:
    """Refuse any document type declaration: none of our formats use one, attacks do (XXE, bombs)."""
    head = data[: 1 << 20]
    root = _ROOT_START.search(head)
    prolog = head[: root.start()] if root else head
    if _DOCTYPE.search(prolog):
        raise ParseError("document type declarations (DTD/entities) are not allowed")


def _parser_kwargs() -> dict[str, Any]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_blank_text": False,
    }


def iterparse(
    data: bytes, ctx: ParseContext, events: tuple[str, ...] = ("end",), tag: Any = None
) -> Iterator[tuple[str, Any]]:
    """Stream (event, element) pairs from `data`, turning every XML failure into ParseError.

    The caller clears elements it is done with (`elem.clear()`), keeping memory flat.
    """
    check_size(data, ctx)
    reject_dtd(data)
    if not data.strip():
        raise ParseError("empty payload")
    try:
        yield from etree.iterparse(io.BytesIO(data), events=events, tag=tag, **_parser_kwargs())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed or truncated XML: {exc}") from None


def fromstring(data: bytes, ctx: ParseContext) -> Any:
    """Parse a whole (small) document with the same protections."""
    check_size(data, ctx)
    reject_dtd(data)
    if not data.strip():
        raise ParseError("empty payload")
    parser = etree.XMLParser(**_parser_kwargs())
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed or truncated XML: {exc}") from None


def localname(tag: Any) -> str:
    """`{ns}name` -> `name` (comments and PIs give '')."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def text_of(elem: Any) -> str:
    """Stripped text content of an element ('' when none)."""
    if elem is None:
        return ""
    return "".join(elem.itertext()).strip()
