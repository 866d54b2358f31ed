"""Operators' own notices: `/api/v1/notices` (API key with scope notices:write) and `travelinfo audit`.

A notice becomes a Disruption (`source_type` manual, `source` the key's organisation)
applied to the store like any other source, so every publisher shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from travelinfo.api.keys import ApiKey, authenticate
from travelinfo.model import Batch, format_time, make_id, parse_time
from travelinfo.notices import bootstrap, drafts, records
from travelinfo.notices.audit import add_commands as add_commands  # `travelinfo audit`
from travelinfo.notices.audit import record_audit
from travelinfo.notices.schema import (
    EDITABLE,
    ID_FIELDS,
    SERVICE_FIELDS,
    NoticeInvalid,
    diff,
    local_id,
    merge_patch,
    to_disruption,
    validate,
)
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.jsonbody import read_json
from travelinfo.runtime.server import json_error, json_response
from travelinfo.store.base import Query, SourceHealth, Store, put_health

KIND = records.NOTICE_KIND
AUDIT_KIND = records.AUDIT_KIND
SCOPE = "notices:write"
LOCK_TTL = 10.0
LOCK_WAIT = 3.0


# -- request plumbing ---------------------------------------------------------------------------


async def _caller(request: web.Request) -> ApiKey:
    """The authenticated key (401), allowed to write notices for an organisation (403)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise json_error(401, "missing API key: send Authorization: Bearer <token>")
    key = await authenticate(request.app[appmod.STORE], token)
    if key is None:
        raise json_error(401, "invalid or revoked API key")
    if SCOPE not in key.scopes:
        raise json_error(403, f"this key lacks the scope {SCOPE}")
    if not key.org:
        raise json_error(403, "this key is not bound to an organisation (travelinfo keys create --org)")
    # A collected source's snapshots would end the notices and overwrite the health record.
    if key.org in {s.name for s in request.app[appmod.SETTINGS].sources}:
        raise json_error(403, f"organisation {key.org!r} is also a configured source name; use another org")
    return key


async def _body(request: web.Request) -> Any:
    """The JSON body: 415 when not JSON, 413 when over `api.max_body`, 400 when malformed."""
    ctype = request.content_type
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise json_error(415, f"send JSON (Content-Type: application/json), not {ctype}")
    return await read_json(request)


def _invalid(exc: NoticeInvalid) -> web.HTTPException:
    return json_error(400, "invalid notice", fields=exc.fields)


@contextlib.asynccontextmanager
async def locked(store: Store, ident: str) -> AsyncIterator[None]:
    """Serialise changes to one notice across processes (a PATCH reads, merges, writes)."""
    holder = secrets.token_hex(8)
    name = f"notice:{ident}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_WAIT
    while not await store.try_lock(name, holder, LOCK_TTL):
        if loop.time() > deadline:
            raise json_error(409, "this notice is being changed by another request; retry")
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        await store.release_lock(name, holder)


async def _own_record(request: web.Request, key: ApiKey) -> dict[str, Any]:
    """The notice named in the path: 404 when unknown, 403 when another organisation's."""
    assert key.org is not None
    store = request.app[appmod.STORE]
    ident = request.match_info["id"]
    rec = await store.get_record(KIND, ident)
    if rec is None and ":" not in ident:
        rec = await store.get_record(KIND, make_id(key.org, ident))
    if rec is None:
        raise json_error(404, f"no notice {ident!r}")
    if rec["org"] != key.org:
        raise json_error(403, f"notice {ident!r} belongs to another organisation")
    return rec


# -- publishing ---------------------------------------------------------------------------------


async def _publish(store: Store, rec: dict[str, Any], now: datetime) -> str:
    """Apply the notice's disruption as a delta of its organisation's source; its status."""
    d = to_disruption(
        rec["org"],
        rec["notice_id"],
        rec["fields"],
        revision=rec["revision"],
        now=now,
        created=parse_time(rec["created_at"]),
    )
    await store.put_record(KIND, rec["id"], rec)
    await store.apply(Batch(source=rec["org"], fetched_at=now, items=(d,), complete=False))
    await _touch_health(store, rec["org"], now)
    return d.status


async def _touch_health(store: Store, org: str, now: datetime) -> None:
    """The organisation shows as a source on /status: ok, never stale, counting open notices."""
    items, _ = await store.query(Query(sources=(org,)))
    # No last_attempt: /readyz of a web-only process reads it as "a collection was done".
    health = SourceHealth(org, "ok", last_success=now, item_count=len(items), type="manual")
    await put_health(store, health)


def _view(rec: dict[str, Any], status: str | None) -> dict[str, Any]:
    return {
        "id": rec["id"],
        "upstream_id": rec["notice_id"],
        "org": rec["org"],
        "status": "ended" if rec.get("ended_at") else status or "ended",
        "revision": rec["revision"],
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "ended_at": rec.get("ended_at"),
        **rec["fields"],
    }


async def status_of(store: Store, ident: str) -> str | None:
    d = await store.get(ident)
    return d.status if d else None


def check_new(fields: dict[str, Any], now: datetime) -> None:
    """A new notice must not be over before it is published (NoticeInvalid)."""
    ends = [parse_time(p["end"]) for p in fields["periods"] if p["end"]]
    if fields["periods"] and len(ends) == len(fields["periods"]) and max(ends) <= now:
        raise NoticeInvalid({"periods": "every period has already ended"})


async def create_record(
    store: Store, key: ApiKey, notice_id: str, fields: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], str]:
    """Publish a new notice of the key's organisation (409 when the id is taken); (record, status)."""
    assert key.org is not None
    ident = make_id(key.org, notice_id)
    async with locked(store, ident):
        if await store.get_record(KIND, ident) is not None or await store.get(ident) is not None:
            raise json_error(409, f"notice {notice_id!r} already exists (PATCH it, or choose another id)")
        stamp = format_time(now)
        rec: dict[str, Any] = {
            "id": ident,
            "org": key.org,
            "notice_id": notice_id,
            "revision": 1,
            "created_at": stamp,
            "updated_at": stamp,
            "ended_at": None,
            "created_by": key.id,
            "fields": fields,
        }
        status = await _publish(store, rec, now)
        await record_audit(store, key, "create", rec, diff(None, fields), now)
    return rec, status


async def update_locked(
    store: Store, key: ApiKey, rec: dict[str, Any], fields: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """Re-publish `rec` with new `fields` (caller holds the notice's lock); (record, status)."""
    changes = diff(rec["fields"], fields)
    if not changes:
        return rec, await status_of(store, rec["id"])
    now = datetime.now(UTC)
    rec = {**rec, "fields": fields, "revision": rec["revision"] + 1, "updated_at": format_time(now)}
    status = await _publish(store, rec, now)
    await record_audit(store, key, "update", rec, changes, now)
    return rec, status


def ended_periods(periods: list[dict[str, Any]], created: str, now: datetime) -> list[dict[str, Any]]:
    """The periods of a notice ended at `now`: later ones dropped, the rest closed by `now`.

    An ended notice must not keep its old (future) end: feeds, GTFS-RT and the page would
    still show it valid. One with no period left gets one from its creation to `now`.
    """
    out = []
    for p in periods:
        start = parse_time(p["start"])
        if start >= now:
            continue
        end = parse_time(p["end"]) if p.get("end") else None
        out.append({"start": p["start"], "end": format_time(end if end is not None and end <= now else now)})
    if not out:
        start = min(parse_time(created), now - timedelta(seconds=1))
        out.append({"start": format_time(start), "end": format_time(now)})
    return out


async def end_locked(store: Store, key: ApiKey, rec: dict[str, Any], now: datetime) -> dict[str, Any]:
    """End `rec` now (caller holds the notice's lock): periods closed at now, status ended."""
    before = await status_of(store, rec["id"])
    fields = {**rec["fields"], "periods": ended_periods(rec["fields"]["periods"], rec["created_at"], now)}
    changes = diff(rec["fields"], fields)
    rec = {**rec, "fields": fields, "ended_at": format_time(now), "updated_at": format_time(now)}
    rec["revision"] += 1
    d = to_disruption(
        rec["org"],
        rec["notice_id"],
        fields,
        revision=rec["revision"],
        now=now,
        created=parse_time(rec["created_at"]),
    )
    await store.put_record(KIND, rec["id"], rec)
    await store.apply(
        Batch(source=rec["org"], fetched_at=now, items=(d.replace(status="ended"),), complete=False)
    )
    await _touch_health(store, rec["org"], now)
    changes["status"] = {"from": before, "to": "ended"}
    await record_audit(store, key, "end", rec, changes, now)
    return rec


async def _held(
    store: Store, key: ApiKey, notice_id: str, fields: dict[str, Any], *, exists: bool
) -> web.Response:
    """202: with `notices.approval`, the change waits for a key with notices:approve (in /operator)."""
    draft = await drafts.save_draft(store, key, notice_id, fields, datetime.now(UTC), exists=exists)
    await drafts.submit_draft(store, draft)
    body = {"id": draft["id"], "status": "pending_approval", "draft": fields}
    return json_response(body, 202, headers={"Location": f"/operator/n/{notice_id}/preview"})


# -- handlers -----------------------------------------------------------------------------------


async def list_notices(request: web.Request) -> web.Response:
    """The caller's organisation's notices, newest change first (ended ones included)."""
    key = await _caller(request)
    store = request.app[appmod.STORE]
    assert key.org is not None
    recs = [n.to_json() for n in await records.org_notices(store, key.org)]
    items, _ = await store.query(Query(sources=(key.org,), status=()))
    status = {d.id: d.status for d in items}
    recs.sort(key=lambda r: (parse_time(r["updated_at"]), r["id"]), reverse=True)
    return json_response({"notices": [_view(r, status.get(r["id"])) for r in recs]})


async def get_notice(request: web.Request) -> web.Response:
    key = await _caller(request)
    rec = await _own_record(request, key)
    return json_response(_view(rec, await status_of(request.app[appmod.STORE], rec["id"])))


async def create_notice(request: web.Request) -> web.Response:
    key = await _caller(request)
    assert key.org is not None
    body = await _body(request)
    now = datetime.now(UTC)
    try:
        fields = validate(body)
        notice_id = local_id(body, key.org) or secrets.token_hex(6)
        check_new(fields, now)
    except NoticeInvalid as exc:
        raise _invalid(exc) from None
    if drafts.needs_approval(request.app[appmod.SETTINGS].notices.approval, key):
        return await _held(request.app[appmod.STORE], key, notice_id, fields, exists=False)
    rec, status = await create_record(request.app[appmod.STORE], key, notice_id, fields, now)
    ident = rec["id"]
    location = f"/api/v1/notices/{ident}"
    return json_response(_view(rec, status), 201, headers={"Location": location})


async def update_notice(request: web.Request) -> web.Response:
    """JSON Merge Patch (RFC 7396) of the notice's fields, validated whole, then re-published."""
    key = await _caller(request)
    body = await _body(request)
    store = request.app[appmod.STORE]
    rec = await _own_record(request, key)
    if not isinstance(body, dict):
        raise _invalid(NoticeInvalid({"": "must be a JSON object (a merge patch)"}))
    assert key.org is not None
    try:
        given = local_id(body, key.org)
    except NoticeInvalid as exc:
        raise _invalid(exc) from None
    if given is not None and given != rec["notice_id"]:
        raise _invalid(NoticeInvalid({"id": "cannot be changed"}))
    unknown = {
        k: "set by the service, not editable" if k in SERVICE_FIELDS else "unknown field"
        for k in body
        if k not in EDITABLE and k not in ID_FIELDS
    }
    if unknown:  # also with null, which the merge would silently drop
        raise _invalid(NoticeInvalid(unknown))
    patch = {k: v for k, v in body.items() if k not in ID_FIELDS}
    async with locked(store, rec["id"]):
        rec = await _own_record(request, key)  # re-read under the lock
        if rec.get("ended_at"):
            raise json_error(409, f"notice {rec['notice_id']!r} has ended; create a new one")
        try:
            fields = validate(merge_patch(rec["fields"], patch))
        except NoticeInvalid as exc:
            raise _invalid(exc) from None
        if drafts.needs_approval(request.app[appmod.SETTINGS].notices.approval, key):
            return await _held(store, key, rec["notice_id"], fields, exists=True)
        rec, status = await update_locked(store, key, rec, fields)
    return json_response(_view(rec, status))


async def end_notice(request: web.Request) -> web.Response:
    """End the notice (its disruption becomes `ended`); ending an ended notice changes nothing."""
    key = await _caller(request)
    store = request.app[appmod.STORE]
    rec = await _own_record(request, key)
    async with locked(store, rec["id"]):
        rec = await _own_record(request, key)
        if rec.get("ended_at"):
            return json_response(_view(rec, "ended"))
        rec = await end_locked(store, key, rec, datetime.now(UTC))
    return json_response(_view(rec, "ended"))


def setup(app: web.Application) -> None:
    """Routes (and the bootstrap keys) where this process serves the web."""
    if "web" not in app[appmod.ROLES]:
        return
    app.cleanup_ctx.append(bootstrap.cleanup_ctx(appmod.STORE, list(app[appmod.SETTINGS].api.bootstrap_keys)))
    app.router.add_get("/api/v1/notices", list_notices)
    app.router.add_post("/api/v1/notices", create_notice)
    app.router.add_get("/api/v1/notices/{id}", get_notice)
    app.router.add_patch("/api/v1/notices/{id}", update_notice)
    app.router.add_delete("/api/v1/notices/{id}", end_notice)
