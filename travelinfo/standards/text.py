"""Text helpers shared by the SIRI, DATEX II and CAP renderers."""

from __future__ import annotations

import re

from travelinfo.feeds.routes import clean

__all__ = ["clean", "lang_tag"]

_LANG = re.compile(r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")
_NOT_LANG = re.compile(r"[^a-zA-Z0-9-]+")


def lang_tag(key: str) -> str:
    """A text's language key as an `xs:language` all three schemas accept (`sv_SE` -> `sv-SE`;
    `und`, "undetermined", when nothing usable is left)."""
    if _LANG.match(key):
        return key
    tag = "-".join(p[:8] for p in _NOT_LANG.sub("-", key.replace("_", "-")).split("-") if p)
    return tag if _LANG.match(tag) else "und"
