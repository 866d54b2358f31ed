"""Run the W3C Feed Validator (a checkout of w3c/feedvalidator) on saved feeds; print JSON lines.

Usage: python tests/feedvalidate.py CHECKOUT FILE URL [FILE URL ...]

CHECKOUT is the repository (or its src/); URL is where the feed is served (its self link must
match it). Each line printed is {"url": ..., "problems": [...]}: the validator's errors and
warnings at its "AA" level (what the online validator shows), formatted by its text formatter.
It needs the validator's own dependencies (lxml, html5lib, rdflib) in the Python running it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    checkout = Path(argv[0])
    sys.path.insert(0, str(checkout / "src" if (checkout / "src" / "feedvalidator").is_dir() else checkout))
    import feedvalidator  # type: ignore[import-not-found]
    from feedvalidator import compatibility  # type: ignore[import-not-found]
    from feedvalidator.formatter.text_plain import Formatter  # type: ignore[import-not-found]
    from feedvalidator.logging import Error, ValidationFailure, Warning  # type: ignore[import-not-found]

    bad = 0
    for file, url in zip(argv[1::2], argv[2::2], strict=True):
        try:
            events = feedvalidator.validateString(Path(file).read_bytes(), firstOccurrenceOnly=1, base=url)
            events = compatibility.AA(events["loggedEvents"])
        except ValidationFailure as failure:
            events = [failure.event]
        problems = [e for e in events if isinstance(e, Error | Warning)]
        bad += len(problems)
        print(json.dumps({"url": url, "problems": list(Formatter(problems))}, ensure_ascii=False))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
