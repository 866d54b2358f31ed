"""The notices' store records, typed, each listed by its organisation's key prefix.

Kinds: `notice` and `notice_draft` (key `<org>:<notice id>`, the notice's public id; notice
ids never hold `:`), `notice_audit` (key `<org>/<entry>`, the entry sorting by time). Audit
entries the previous release kept in kind `audit` (key `<entry>` only) move to `notice_audit`
when the log is next read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from travelinfo.model import parse_time
from travelinfo.store.base import Store
from travelinfo.store.records import Record, decode, list_typed, spec

NOTICE_KIND = "notice"
DRAFT_KIND = "notice_draft"
AUDIT_KIND = "notice_audit"
LEGACY_AUDIT_KIND = "audit"

Action = Literal["create", "update", "end", "approve"]


def _time(text: str) -> None:
    """An RFC 3339 time, kept as written (listings sort and filter by it)."""
    parse_time(text)


TIME = spec(check=_time)


@dataclass(frozen=True, slots=True)
class Notice(Record):
    """A notice as its organisation wrote it: the fields and their revision."""

    RECORD = NOTICE_KIND
    id: str
    org: str
    notice_id: str
    revision: int
    created_at: str = field(metadata=TIME)
    updated_at: str = field(metadata=TIME)
    fields: Mapping[str, Any]
    ended_at: str | None = None
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class Draft(Record):
    """A notice's draft: a preview, or (pending) a change waiting for approval."""

    RECORD = DRAFT_KIND
    id: str
    org: str
    notice_id: str
    fields: Mapping[str, Any]
    author_id: str
    updated_at: str
    exists: bool = False
    author_name: str = ""
    pending: bool = False


@dataclass(frozen=True, slots=True)
class AuditEntry(Record):
    """Who changed which notice, when, and the field-level diff."""

    RECORD = "audit"
    entry: str
    at: str = field(metadata=TIME)
    key_id: str
    key_name: str = field(metadata=spec(missing=""))
    org: str | None
    action: Action
    notice: str
    revision: int
    changes: Mapping[str, Any] = field(metadata=spec(missing=dict))

    def key(self) -> str:
        return f"{self.org or ''}/{self.entry}"


def org_prefix(org: str) -> str:
    return f"{org}:"


async def org_notices(store: Store, org: str) -> list[Notice]:
    """The organisation's notices (a prefix listing; another organisation's never appear)."""
    return [
        n for n in await list_typed(store, NOTICE_KIND, Notice.from_json, org_prefix(org)) if n.org == org
    ]


async def org_drafts(store: Store, org: str) -> list[Draft]:
    return [d for d in await list_typed(store, DRAFT_KIND, Draft.from_json, org_prefix(org)) if d.org == org]


async def put_audit(store: Store, entry: AuditEntry) -> None:
    await store.put_record(AUDIT_KIND, entry.key(), entry.to_json())


async def _move_legacy_audit(store: Store) -> None:
    """Entries of the previous release (kind `audit`) into `notice_audit`, a batch at a time."""
    while batch := await store.record_items(LEGACY_AUDIT_KIND, limit=500):
        for key, raw in batch:
            entry = decode(LEGACY_AUDIT_KIND, key, raw, AuditEntry.from_json)
            if entry is not None:
                await store.put_record(AUDIT_KIND, entry.key(), raw)
            else:  # kept where it was for a person to look at, under a key that is not read again
                await store.put_record(LEGACY_AUDIT_KIND + "_unreadable", key, raw)
            await store.delete_record(LEGACY_AUDIT_KIND, key)


async def audit_entries(store: Store, org: str | None = None) -> list[AuditEntry]:
    """Audit entries in time order: one organisation's by prefix, or everyone's."""
    await _move_legacy_audit(store)
    prefix = "" if org is None else f"{org}/"
    entries = await list_typed(store, AUDIT_KIND, AuditEntry.from_json, prefix)
    entries = [e for e in entries if org is None or e.org == org]
    return entries if org is not None else sorted(entries, key=lambda e: e.entry)
