"""A CAP feed whose content changes every poll (replay folder), for the fault process tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

ENTRY = """<entry>
<id>urn:uuid:{ident}</id>
<title>{headline}</title>
<updated>2026-11-25T16:05:00+01:00</updated>
<content type="application/cap+xml">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{ident}</identifier>
<sender>faults@example.test</sender>
<sent>{sent}</sent>
<status>Actual</status>
<msgType>{kind}</msgType>
<scope>Public</scope>
<info>
<language>sv-SE</language>
<category>Infra</category>
<event>Vattenläcka</event>
<urgency>Immediate</urgency>
<severity>Moderate</severity>
<certainty>Observed</certainty>
<expires>2099-11-26T06:00:00+01:00</expires>
<headline>{headline}</headline>
<description>{headline}</description>
<area><areaDesc>Hammarbyhöjden</areaDesc><circle>59.2947,18.1037 0</circle></area>
</info>
</alert>
</content>
</entry>"""


def feed(step: int) -> str:
    """Two alerts: one steady, one whose text says which step this is (an update per poll)."""
    base = datetime(2026, 11, 25, 16, 0, tzinfo=timezone(timedelta(hours=1)))
    # Each step is sent a minute later: a newer version, so every poll is a real update.
    sent = (base + timedelta(minutes=step)).isoformat()
    steady = ENTRY.format(ident="FAULT-STEADY", headline="Avstängd väg", sent=base.isoformat(), kind="Alert")
    moving = ENTRY.format(ident="FAULT-MOVING", headline=f"Läget steg {step}", sent=sent, kind="Alert")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="sv">\n'
        "<id>urn:uuid:faults</id><title>Faults</title><updated>2026-11-25T16:20:00+01:00</updated>\n"
        f"{steady}\n{moving}\n</feed>\n"
    )


def write_replay(folder: Path, steps: int = 200) -> Path:
    """A replay folder the collector walks one file per poll (then loops)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(steps):
        (folder / f"{i:04d}.xml").write_text(feed(i), encoding="utf-8")
    return folder
