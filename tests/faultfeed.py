"""A CAP feed whose content changes every poll (replay folder), for the fault process tests."""

from __future__ import annotations

from pathlib import Path

ENTRY = """<entry>
<id>urn:uuid:{ident}</id>
<title>{headline}</title>
<updated>2026-11-25T16:05:00+01:00</updated>
<content type="application/cap+xml">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{ident}</identifier>
<sender>faults@example.test</sender>
<sent>2026-11-25T16:{minute:02d}:00+01:00</sent>
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
    steady = ENTRY.format(ident="FAULT-STEADY", headline="Avstängd väg", minute=0, kind="Alert")
    moving = ENTRY.format(ident="FAULT-MOVING", headline=f"Läget steg {step}", minute=step % 60, kind="Alert")
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
