"""Hardened JSON reading shared by the JSON parsers: size cap, UTF-8, a nesting cap, one message.

Every failure is a `ParseError` worded the same for every JSON source: `empty payload`,
`malformed or truncated JSON: <why>` (bad UTF-8 included), `JSON nested deeper than N levels`
(also for nesting deep enough to exhaust the recursion limit), or the size cap's message.
NaN and Infinity are read as Python floats, as before: the vet refuses them where they matter.
"""

from __future__ import annotations

import json
from typing import Any

from travelinfo.ingest.parsers.base import ParseContext, ParseError, check_size
from travelinfo.vocab import nesting

MAX_DEPTH = 32  # containers inside the outermost one; no upstream we read comes near it


def load_json(data: bytes, ctx: ParseContext, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `data` (UTF-8, a BOM allowed), or ParseError with the reason."""
    check_size(data, ctx)
    if not data.strip():
        raise ParseError("empty payload")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"malformed or truncated JSON: not UTF-8 (byte {exc.start})") from None
    try:
        tree = json.loads(text)
    except RecursionError:
        raise ParseError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise ParseError(f"malformed or truncated JSON: {exc}") from None
    check_depth(tree, max_depth)
    return tree


def check_depth(tree: Any, max_depth: int = MAX_DEPTH) -> None:
    """ParseError when containers nest more than `max_depth` deep below the outermost one."""
    if nesting(tree, max_depth + 1) > max_depth + 1:
        raise ParseError(f"JSON nested deeper than {max_depth} levels")
