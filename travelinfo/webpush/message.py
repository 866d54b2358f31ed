"""What one subscriber is told about one change, and the notification it becomes.

Per subscriber the engine keeps two sets: `held` (what matches, the one event semantics of
`travelinfo.filters.events`) and `told` (what this person was notified of, with the severity
and status they were told). A notification goes out for a new item, one that got worse or
better or came into effect, and "back to normal" only for something they were told about.
Outside the person's windows nothing is sent, except public warnings.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from travelinfo.filters import events
from travelinfo.model import SEVERITY_RANK, Disruption
from travelinfo.web import text as web_text
from travelinfo.webpush.subscription import Compiled, in_windows

NEW, WORSE, BETTER, STARTED, CLEARED, AHEAD = "new", "worse", "better", "started", "cleared", "ahead"
# (Urgency, TTL seconds) by severity (RFC 8030 5.2, 5.3): a severe one may wake a phone.
URGENCY = {"SEVERE": ("high", 3600), "WARNING": ("normal", 3 * 3600)}
DEFAULT_URGENCY = ("low", 6 * 3600)
MAX_BODY = 3000  # plaintext bytes; push services accept 4096 encrypted

WORDS = {
    "sv": {
        NEW: "Ny störning",
        WORSE: "Värre",
        BETTER: "Bättre",
        STARTED: "Gäller nu",
        CLEARED: "Trafiken går som vanligt igen",
        AHEAD: "Planerat i morgon",
        "warning": "Viktigt meddelande till allmänheten",
        "unsubscribe": "Sluta bevaka",
        "open": "Visa",
    },
    "en": {
        NEW: "New disruption",
        WORSE: "Worse",
        BETTER: "Better",
        STARTED: "In effect now",
        CLEARED: "Traffic is back to normal",
        AHEAD: "Planned for tomorrow",
        "warning": "Important public warning",
        "unsubscribe": "Stop watching",
        "open": "Open",
    },
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification to send: why, about what, when the change happened."""

    kind: str
    disruption: Disruption
    at: datetime


def decide(
    sub: Compiled, change_type: str, d: Disruption, at: datetime, held: set[str], told: dict[str, list[str]]
) -> Notice | None:
    """What `sub` is told about this change (None: nothing); updates `held` and `told`."""
    out = events.track(change_type, d, sub.matches, held)
    if out is None:
        return None
    d = out.disruption
    if out.type == events.ENDED:
        return Notice(CLEARED, d, at) if told.pop(d.id, None) is not None else None
    if not d.public_warning and not in_windows(sub.windows, at):
        return None  # quiet outside the windows: a later change in them is news to this person
    before = told.get(d.id)
    told[d.id] = [d.severity, d.status]
    if before is None:
        return Notice(NEW, d, at)
    severity, status = before[0], before[1] if len(before) > 1 else ""
    if SEVERITY_RANK.get(d.severity, 0) > SEVERITY_RANK.get(severity, 0):
        return Notice(WORSE, d, at)
    if SEVERITY_RANK.get(d.severity, 0) < SEVERITY_RANK.get(severity, 0):
        return Notice(BETTER, d, at)
    if status == "planned" and d.status == "active":
        return Notice(STARTED, d, at)
    return None  # the same to this person: never twice for it


def topic(disruption_id: str) -> str:
    """RFC 8030 `Topic` (<= 32 base64url characters): one per disruption, so updates replace."""
    return base64.urlsafe_b64encode(hashlib.sha256(disruption_id.encode()).digest()).decode()[:32]


def urgency(notice: Notice) -> tuple[str, int]:
    """(Urgency, TTL) for the notice: by severity; an all-clear is never urgent."""
    if notice.kind in (CLEARED, AHEAD):
        return DEFAULT_URGENCY
    return URGENCY.get(notice.disruption.severity, DEFAULT_URGENCY)


def payload(notice: Notice, lang: str, base_url: str, unsubscribe: dict[str, str]) -> dict[str, Any]:
    """The JSON the service worker shows: plain text (it sets it as text, never as markup)."""
    words = WORDS.get(lang, WORDS["sv"])
    d = notice.disruption
    head_lang, head = web_text.header(d, lang)
    described = web_text.description(d, lang)
    label = words["warning"] if d.public_warning and notice.kind != CLEARED else words[notice.kind]
    body = words[CLEARED] if notice.kind == CLEARED else (described[1] if described else "")
    return {
        "title": f"{label}: {head}",
        "body": body,
        "lang": lang,
        "text_lang": head_lang,
        "kind": notice.kind,
        "id": d.id,
        "severity": d.severity,
        "public_warning": d.public_warning,
        "url": f"{base_url}/d/{d.id}",
        "tag": topic(d.id),
        "at": notice.at.isoformat(),
        "unsubscribe": unsubscribe,
        "actions": {"open": words["open"], "unsubscribe": words["unsubscribe"]},
    }


def encode(data: dict[str, Any], limit: int = MAX_BODY) -> bytes:
    """The payload's bytes, the body text cut so the whole stays within `limit`."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    while len(raw) > limit and data.get("body"):
        over = len(raw) - limit
        body = str(data["body"])
        data = {
            **data,
            "body": body[: max(0, len(body) - over - 1)].rstrip() + "…" if over < len(body) else "",
        }
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return raw


def trimmed(raw: bytes) -> bytes:
    """A smaller payload after a 413: the body text dropped (title and link stay)."""
    data = json.loads(raw)
    data["body"] = ""
    data.pop("actions", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
