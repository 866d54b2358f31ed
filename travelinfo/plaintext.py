"""Plain text out of upstream markup (DATEX II comments, SL and Trafikverket texts).

Markup stripped, short titles, road numbers; shared by parsers and the standards outputs.
"""

from __future__ import annotations

import html
import re

# Linear patterns only (issue 12): a tag never holds `<`, so `<<<<...` is scanned once.
_BREAK = re.compile(r"<(?:br|/p|/div|/li)\b[^<>]{0,200}>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]{0,500}>")
MAX_TEXT = 20_000  # characters of one comment looked at
_BLANKS = re.compile(r"\n{3,}")
# "Event Reason : Congestion" (UK NTIS): a field list, not a sentence to title with.
_FIELD_LINE = re.compile(r"^[A-Za-z][\w ()/-]{0,40}\s:\s")
_HEADER_MAX = 160
_TITLE_MAX = 80
_TITLE_MIN = 40
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ROAD = re.compile(r"^[A-Za-z]{0,3} ?\d+(?:\.\d+)?[A-Za-z]?$")


def clean_text(text: str) -> str:
    """Plain text: markup stripped, entities decoded, lines trimmed, runs of blank lines cut."""
    text = text[:MAX_TEXT]
    if "<" in text or "&" in text:
        text = html.unescape(_TAG.sub("", _BREAK.sub("\n", text)))
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def title_of(text: str) -> str | None:
    """A header from a comment: its first paragraph (NPRA separates with `|`), kept short."""
    first = text.replace("|", "\n\n").split("\n\n", 1)[0].strip()
    if not first or _FIELD_LINE.match(first):
        return None
    return _title(" ".join(first.split()))


def _title(paragraph: str) -> str:
    """A short title: the whole first paragraph when short, else its first sentences."""
    if len(paragraph) <= _TITLE_MAX:
        return paragraph
    out = ""
    for sentence in _SENTENCE.split(paragraph):
        out = f"{out} {sentence}".strip()
        if len(out) >= _TITLE_MIN:
            break
    return _shorten(out)


def _shorten(line: str) -> str:
    """At most _HEADER_MAX characters, cut after a sentence when one fits, else at a word."""
    if len(line) <= _HEADER_MAX:
        return line
    head = line[:_HEADER_MAX]
    sentence = head.rfind(". ")
    if sentence > _HEADER_MAX // 3:
        return head[: sentence + 1]
    return head.rsplit(" ", 1)[0] + "…"


def road_numbers(text: str) -> list[str]:
    """`E4/E20` (a shared stretch, as Trafikverket writes it) is two roads; anything else is one."""
    text = text.strip()
    parts = [p.strip() for p in text.split("/")]
    if len(parts) > 1 and all(len(p) <= 20 and _ROAD.match(p) for p in parts):
        return parts
    return [text]
