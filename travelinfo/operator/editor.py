"""The notice form, its preview (the public page's own template) and publishing or approving it.

Form values become a notice body checked by `notices.schema.validate`, the same rules as the
API; a valid form is kept as a draft, previewed, then published (or, with `notices.approval`,
submitted until another key of the organisation with `notices:approve` approves it).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from travelinfo.api.keys import ApiKey
from travelinfo.model import make_id, parse_time
from travelinfo.notices import drafts
from travelinfo.notices import routes as notices
from travelinfo.notices.audit import record_audit
from travelinfo.notices.schema import LOCAL_ID, NoticeInvalid, local_id, to_disruption, validate
from travelinfo.operator import pages
from travelinfo.operator.forms import FormInvalid, field_of, period_rows, to_body, to_form
from travelinfo.operator.places import Places
from travelinfo.operator.sessions import Session
from travelinfo.runtime import appkeys as appmod
from travelinfo.store.base import Store
from travelinfo.web import routes as web_routes
from travelinfo.web.filters import Filters

PLACES = web.AppKey("operator_places", Places)
DEFAULT_FORM: dict[str, Any] = {
    "modes": [],
    "cause": "UNKNOWN_CAUSE",
    "effect": "UNKNOWN_EFFECT",
    "severity": "WARNING",
    "affected": [],
    "geometry_kind": "none",
}


def _picked(values: list[str]) -> list[dict[str, str]]:
    out = []
    for value in values:
        try:
            a = json.loads(value)
        except ValueError:
            continue
        if isinstance(a, dict):
            out.append(
                {"value": value, "type": str(a.get("type", "")), "label": str(a.get("name") or a.get("id"))}
            )
    return out


def _form_page(
    request: web.Request,
    session: Session,
    form: dict[str, Any],
    *,
    nid: str | None,
    errors: dict[str, str] | None = None,
    query: str = "",
    status: int = 200,
) -> web.Response:
    hits = request.app[PLACES].search(query) if query else []
    picked = _picked(form.get("affected", []))
    chosen = {p["value"] for p in picked}
    ctx = {
        "session": session,
        "form": form,
        "nid": nid,
        "errors": errors or {},
        "query": query,
        "hits": [h for h in hits if h.value not in chosen],
        "picked": picked,
        "rows": period_rows(form),
    }
    return pages.render(request, "operator/form.html", ctx, status)


async def new_form(request: web.Request) -> web.StreamResponse:
    session = await pages.require(request)
    return _form_page(request, session, dict(DEFAULT_FORM), nid=None)


async def _current(store: Store, ident: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    return await store.get_record(notices.KIND, ident), await drafts.get_draft(store, ident)


async def edit_form(request: web.Request) -> web.StreamResponse:
    """The form filled from the notice's draft if it has one, else from the published notice."""
    session = await pages.require(request)
    nid, ident = pages.notice_ident(request, session)
    rec, draft = await _current(request.app[appmod.STORE], ident)
    if rec is None and draft is None:
        raise web.HTTPNotFound()
    if rec is not None and rec.get("ended_at"):
        return pages.redirect(pages.href(f"/operator/n/{nid}", pages.lang_of(request), m="ended_cannot_edit"))
    fields = (draft or rec or {})["fields"]
    return _form_page(request, session, {**DEFAULT_FORM, **to_form(fields)}, nid=nid)


async def _new_id(store: Store, org: str, chosen: str) -> str:
    """The id of a new notice: the one typed (checked like the API's) or a random one."""
    try:
        nid = local_id({"id": chosen or None}, org) or secrets.token_hex(6)
    except NoticeInvalid as exc:
        raise FormInvalid({"notice_id": exc.fields["id"]}) from None
    if await store.get_record(notices.KIND, make_id(org, nid)) or await store.get(make_id(org, nid)):
        raise FormInvalid({"notice_id": "a notice with this id exists already; choose another"})
    return nid


async def save(request: web.Request) -> web.StreamResponse:
    """Search places (re-show the form), or validate the form, keep it as a draft and preview it."""
    session = await pages.require(request)
    data = await pages.form(request, session)
    key = session.key
    assert key.org is not None
    store = request.app[appmod.STORE]
    fixed = data.get("nid") or None
    query = data.get("q", "").strip()[:100]
    if data.get("action") == "search" and query:
        return _form_page(request, session, data, nid=fixed, query=query)
    if fixed and not LOCAL_ID.fullmatch(fixed):
        raise web.HTTPBadRequest(reason="not a notice id")
    rec = await store.get_record(notices.KIND, make_id(key.org, fixed)) if fixed else None
    if rec is not None and rec.get("ended_at"):
        return pages.redirect(
            pages.href(f"/operator/n/{fixed}", pages.lang_of(request), m="ended_cannot_edit")
        )
    nid = fixed or ""
    body, errors = to_body(data, (rec or {}).get("fields", {}).get("geometry"))
    fields: dict[str, Any] = {}
    try:
        fields = validate(body)
        if rec is None:
            notices.check_new(fields, datetime.now(UTC))
    except NoticeInvalid as exc:
        for path, message in exc.fields.items():
            errors.setdefault(field_of(path), message)  # the form's own reading is more precise
    try:
        if not fixed:
            nid = await _new_id(store, key.org, data.get("notice_id", "").strip())
    except FormInvalid as exc:
        errors.update(exc.fields)
    if errors:
        return _form_page(request, session, data, nid=fixed, errors=errors, status=400)
    await drafts.save_draft(store, key, nid, fields, datetime.now(UTC), exists=rec is not None)
    return pages.redirect(pages.href(f"/operator/n/{nid}/preview", pages.lang_of(request)))


async def preview(request: web.Request) -> web.StreamResponse:
    """The draft on the public page's template, with publish / submit / approve above it."""
    session = await pages.require(request)
    nid, ident = pages.notice_ident(request, session)
    rec, draft = await _current(request.app[appmod.STORE], ident)
    if draft is None:
        raise web.HTTPNotFound()
    assert session.key.org is not None
    now = datetime.now(UTC)
    created = parse_time(rec["created_at"]) if rec else now
    revision = rec["revision"] + 1 if rec else 1
    d = to_disruption(session.key.org, nid, draft["fields"], revision=revision, now=now, created=created)
    approval = request.app[appmod.SETTINGS].notices.approval
    ctx = {
        "session": session,
        "d": d,
        "filters": Filters(),
        "draft": draft,
        "nid": nid,
        "exists": rec is not None,
        "needs_approval": drafts.needs_approval(approval, session.key),
        "may_approve": drafts.may_approve(session.key, draft),
        # what the public page derives (inferred impacts, the incident) is previewed too
        **await web_routes.derived(request.app, d, pages.lang_of(request)),
    }
    return pages.render(request, "operator/preview.html", ctx)


async def _publish(store: Store, key: ApiKey, draft: dict[str, Any]) -> dict[str, Any]:
    """Create or update the notice from the draft (409 when it ended meanwhile), drop the draft."""
    ident, now = draft["id"], datetime.now(UTC)
    rec = await store.get_record(notices.KIND, ident)
    if rec is None:
        try:
            notices.check_new(draft["fields"], now)
        except NoticeInvalid:
            raise web.HTTPConflict(reason="every period of this draft has ended meanwhile; edit it") from None
        rec, _ = await notices.create_record(store, key, draft["notice_id"], draft["fields"], now)
    else:
        async with notices.locked(store, ident):
            rec = await store.get_record(notices.KIND, ident) or rec
            if rec.get("ended_at"):
                raise web.HTTPConflict(reason="this notice has ended meanwhile; create a new one")
            rec, _ = await notices.update_locked(store, key, rec, draft["fields"])
    await drafts.drop_draft(store, ident)
    return rec


async def _draft_of(request: web.Request) -> tuple[Session, dict[str, Any]]:
    session = await pages.require(request)
    await pages.form(request, session)
    _, ident = pages.notice_ident(request, session)
    draft = await drafts.get_draft(request.app[appmod.STORE], ident)
    if draft is None:
        raise web.HTTPNotFound()
    return session, draft


async def publish(request: web.Request) -> web.StreamResponse:
    """Publish the draft, or submit it for approval when four-eyes applies to this key."""
    session, draft = await _draft_of(request)
    store = request.app[appmod.STORE]
    lang = pages.lang_of(request)
    if drafts.needs_approval(request.app[appmod.SETTINGS].notices.approval, session.key):
        await drafts.submit_draft(
            store, {**draft, "author_id": session.key.id, "author_name": session.key.name}
        )
        return pages.redirect(pages.href("/operator", lang, m="submitted"))
    rec = await _publish(store, session.key, draft)
    return pages.redirect(pages.href(f"/operator/n/{rec['notice_id']}", lang, m="published"))


async def approve(request: web.Request) -> web.StreamResponse:
    """Another key of the organisation with `notices:approve` publishes a pending draft."""
    session, draft = await _draft_of(request)
    if not drafts.may_approve(session.key, draft):
        raise web.HTTPForbidden(
            reason="only another key of this organisation with notices:approve may approve"
        )
    store = request.app[appmod.STORE]
    rec = await _publish(store, session.key, draft)
    author = f"{draft['author_name']} (key {draft['author_id']})"
    await record_audit(
        store, session.key, "approve", rec, {"drafted_by": {"from": None, "to": author}}, datetime.now(UTC)
    )
    return pages.redirect(
        pages.href(f"/operator/n/{rec['notice_id']}", pages.lang_of(request), m="published")
    )
