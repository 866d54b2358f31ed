"""Upstream and user text made safe for a terminal: control and bidi characters escaped.

A notice name or an upstream description may carry ANSI escape sequences, C1 controls or bidi
overrides; printed raw they recolour, rewrite or reorder the operator's terminal.
"""

from __future__ import annotations

import re

# C0 (tab and newline included: output is one line per record), DEL, C1, bidi controls.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Inside JSON text C0 controls are already escaped by json.dumps; these are not.
UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control and bidi character shown as a `\\xNN`/`\\uNNNN` escape."""
    return UNSAFE.sub(_escape, text)


def json_line(text: str) -> str:
    """A JSON document (from json.dumps) with the characters JSON leaves raw as \\u escapes."""
    return UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
