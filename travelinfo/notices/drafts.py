"""Drafts of operators' notices: a preview waiting to be published, or a change awaiting approval.

One draft per notice id (records of kind "notice_draft", keyed like the notice). With
`notices.approval = true` a draft made by a key without `notices:approve` is `pending` until
another key of the same organisation with that scope approves it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from travelinfo.api.keys import ApiKey
from travelinfo.model import format_time
from travelinfo.notices.records import DRAFT_KIND, org_drafts
from travelinfo.store.base import Store

APPROVE = "notices:approve"


def needs_approval(approval: bool, key: ApiKey) -> bool:
    """Whether what `key` publishes must first be approved (four-eyes on, and it cannot approve)."""
    return approval and APPROVE not in key.scopes


def may_approve(key: ApiKey, draft: dict[str, Any]) -> bool:
    """A key approves a pending draft of its own organisation that another key made."""
    return (
        APPROVE in key.scopes
        and key.org == draft["org"]
        and key.id != draft["author_id"]
        and bool(draft.get("pending"))
    )


async def save_draft(
    store: Store, key: ApiKey, notice_id: str, fields: dict[str, Any], now: datetime, *, exists: bool
) -> dict[str, Any]:
    """Keep `fields` as the draft of notice `notice_id` (not pending: a preview, not yet submitted)."""
    assert key.org is not None
    ident = f"{key.org}:{notice_id}"
    draft: dict[str, Any] = {
        "id": ident,
        "org": key.org,
        "notice_id": notice_id,
        "fields": fields,
        "exists": exists,
        "author_id": key.id,
        "author_name": key.name,
        "updated_at": format_time(now),
        "pending": False,
    }
    await store.put_record(DRAFT_KIND, ident, draft)
    return draft


async def submit_draft(store: Store, draft: dict[str, Any]) -> dict[str, Any]:
    """Mark the draft as waiting for approval."""
    draft = {**draft, "pending": True}
    await store.put_record(DRAFT_KIND, draft["id"], draft)
    return draft


async def get_draft(store: Store, ident: str) -> dict[str, Any] | None:
    return await store.get_record(DRAFT_KIND, ident)


async def list_drafts(store: Store, org: str) -> list[dict[str, Any]]:
    """The organisation's drafts, newest first."""
    drafts = [d.to_json() for d in await org_drafts(store, org)]
    return sorted(drafts, key=lambda d: str(d["updated_at"]), reverse=True)


async def drop_draft(store: Store, ident: str) -> None:
    await store.delete_record(DRAFT_KIND, ident)
