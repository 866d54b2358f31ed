"""The notices' store records, typed, each listed by its organisation's key prefix.

Kinds: `notice` and `notice_draft` (key `<org>:<notice id>`, the notice's public id; notice
ids never hold `:`), `notice_audit` (key `<org>/<entry>`, the entry sorting by time). Audit
entries the previous release kept in kind `audit` (key `<entry>` only) move to `notice_audit`
when the log is next read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from travelinfo.model import parse_time
from travelinfo.store.base import Store
from travelinfo.store.records import REQUIRED, Reader, RecordInvalid, decode, list_typed

NOTICE_KIND = "notice"
DRAFT_KIND = "notice_draft"
AUDIT_KIND = "notice_audit"
LEGACY_AUDIT_KIND = "audit"

Action = Literal["create", "update", "end", "approve"]


def _time(r: Reader, name: str) -> str:
    """An RFC 3339 time kept as written (listings sort and filter by it)."""
    text: str = r.text(name, REQUIRED)
    try:
        parse_time(text)
    except ValueError as exc:
        raise RecordInvalid(f"{r.what}: field {name!r}: {exc}") from None
    return text


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice as its organisation wrote it: the fields and their revision."""

    id: str
    org: str
    notice_id: str
    revision: int
    created_at: str
    updated_at: str
    fields: Mapping[str, Any]
    ended_at: str | None = None
    created_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org": self.org,
            "notice_id": self.notice_id,
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "ended_at": self.ended_at,
            "created_by": self.created_by,
            "fields": dict(self.fields),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notice:
        r = Reader(data, "notice")
        return cls(
            id=r.text("id", REQUIRED),
            org=r.text("org", REQUIRED),
            notice_id=r.text("notice_id", REQUIRED),
            revision=r.count("revision", REQUIRED),
            created_at=_time(r, "created_at"),
            updated_at=_time(r, "updated_at"),
            fields=r.obj("fields", REQUIRED),
            ended_at=r.text("ended_at"),
            created_by=r.text("created_by"),
        )


@dataclass(frozen=True, slots=True)
class Draft:
    """A notice's draft: a preview, or (pending) a change waiting for approval."""

    id: str
    org: str
    notice_id: str
    fields: Mapping[str, Any]
    author_id: str
    updated_at: str
    exists: bool = False
    author_name: str = ""
    pending: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org": self.org,
            "notice_id": self.notice_id,
            "fields": dict(self.fields),
            "exists": self.exists,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "updated_at": self.updated_at,
            "pending": self.pending,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Draft:
        r = Reader(data, "notice_draft")
        return cls(
            id=r.text("id", REQUIRED),
            org=r.text("org", REQUIRED),
            notice_id=r.text("notice_id", REQUIRED),
            fields=r.obj("fields", REQUIRED),
            author_id=r.text("author_id", REQUIRED),
            updated_at=r.text("updated_at", REQUIRED),
            exists=r.flag("exists", False),
            author_name=r.text("author_name", ""),
            pending=r.flag("pending", False),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who changed which notice, when, and the field-level diff."""

    entry: str
    at: str
    key_id: str
    key_name: str
    org: str | None
    action: Action
    notice: str
    revision: int
    changes: Mapping[str, Any]

    def key(self) -> str:
        return f"{self.org or ''}/{self.entry}"

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "at": self.at,
            "key_id": self.key_id,
            "key_name": self.key_name,
            "org": self.org,
            "action": self.action,
            "notice": self.notice,
            "revision": self.revision,
            "changes": dict(self.changes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEntry:
        r = Reader(data, "audit")
        return cls(
            entry=r.text("entry", REQUIRED),
            at=_time(r, "at"),
            key_id=r.text("key_id", REQUIRED),
            key_name=r.text("key_name", ""),
            org=r.text("org"),
            action=r.choice("action", get_args(Action), REQUIRED),
            notice=r.text("notice", REQUIRED),
            revision=r.count("revision", REQUIRED),
            changes=r.obj("changes", {}),
        )


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
