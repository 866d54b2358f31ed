"""`/operator`: sign in and out, the organisation's notices, one notice with its audit trail, end now.

Works without JavaScript. Every POST carries a CSRF token; the session cookie is HttpOnly and
SameSite=Strict (Secure on https). Another organisation's notice is a 404, never a 403.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from aiohttp import web

from travelinfo.api.keys import authenticate
from travelinfo.model import parse_time
from travelinfo.notices import drafts
from travelinfo.notices import routes as notices
from travelinfo.notices.audit import read_audit
from travelinfo.notices.records import org_notices
from travelinfo.operator import editor, pages, sessions
from travelinfo.operator.forms import format_local
from travelinfo.operator.places import load_places
from travelinfo.operator.texts import choices, ot
from travelinfo.runtime import appkeys as appmod
from travelinfo.store.base import Query
from travelinfo.web import routes as web_routes
from travelinfo.web.render import iso

WRITE_SCOPES = (notices.SCOPE, drafts.APPROVE)


def _secure(request: web.Request) -> bool:
    return sessions.secure(request, request.app[appmod.SETTINGS].public_url)


async def home(request: web.Request) -> web.StreamResponse:
    """The sign-in form, or (signed in) the organisation's notices and drafts."""
    session = await pages.current(request)
    lang = pages.lang_of(request)
    if session is None:
        return _signin(request, lang, expired=request.query.get("expired") == "1")
    store = request.app[appmod.STORE]
    org = session.key.org
    assert org is not None
    recs = [n.to_json() for n in await org_notices(store, org)]
    items, _ = await store.query(Query(sources=(org,), status=()))
    status = {d.id: d.status for d in items}
    recs.sort(key=lambda r: (parse_time(r["updated_at"]), r["id"]), reverse=True)
    rows = [
        {"rec": r, "status": "ended" if r.get("ended_at") else status.get(r["id"], "ended")} for r in recs
    ]
    ctx = {"lang": lang, "session": session, "rows": rows, "drafts": await drafts.list_drafts(store, org)}
    return pages.render(request, "operator/list.html", {**ctx, "message": request.query.get("m", "")})


def _signin(request: web.Request, lang: str, *, expired: bool = False, bad: bool = False) -> web.Response:
    token = request.cookies.get(sessions.LOGIN_COOKIE) or secrets.token_urlsafe(24)
    ctx = {"lang": lang, "login_csrf": token, "expired": expired, "bad": bad}
    resp = pages.render(request, "operator/signin.html", ctx, 401 if bad else 200)
    sessions.set_cookie(resp, sessions.LOGIN_COOKIE, token, secure=_secure(request))
    return resp


async def signin(request: web.Request) -> web.StreamResponse:
    """Check the key (scope, organisation), then open a session; a forged sign-in is a 403."""
    data = await request.post()
    lang = pages.lang_of(request)
    expected = request.cookies.get(sessions.LOGIN_COOKIE, "")
    if not expected or not sessions.token_ok(expected, data.get("csrf")):
        raise web.HTTPForbidden(reason="missing or wrong CSRF token: reload the sign-in page")
    token = data.get("token")
    store = request.app[appmod.STORE]
    key = await authenticate(store, token) if isinstance(token, str) and len(token) < 200 else None
    if key is None or not key.org or not any(s in key.scopes for s in WRITE_SCOPES):
        return _signin(request, lang, bad=True)
    resp = pages.redirect(pages.href("/operator", lang))
    now = datetime.now(UTC)
    await sessions.prune(store, now, request.app[appmod.SETTINGS].notices.session_idle)
    cookie = await sessions.start(store, key, now)
    secure = _secure(request)
    sessions.set_cookie(resp, sessions.COOKIE, cookie, secure=secure)
    sessions.clear_cookie(resp, sessions.LOGIN_COOKIE, secure=secure)
    return resp


async def signout(request: web.Request) -> web.StreamResponse:
    session = await pages.require(request)
    await pages.form(request, session)
    await sessions.stop(request.app[appmod.STORE], session)
    resp = pages.redirect(pages.href("/operator", pages.lang_of(request)))
    sessions.clear_cookie(resp, sessions.COOKIE, secure=_secure(request))
    return resp


async def notice_page(request: web.Request) -> web.StreamResponse:
    """One notice: what it says, its state, the public page, edit, end now, its audit trail."""
    session, rec = await pages.own_notice(request)
    store = request.app[appmod.STORE]
    d = await store.get(rec["id"])
    status = "ended" if rec.get("ended_at") else (d.status if d else "ended")
    entries = [e for e in await read_audit(store, org=session.key.org) if e.get("notice") == rec["id"]]
    ctx = {
        "lang": pages.lang_of(request),
        "session": session,
        "rec": rec,
        "status": status,
        "entries": list(reversed(entries)),
        "draft": await drafts.get_draft(store, rec["id"]),
        "message": request.query.get("m", ""),
    }
    return pages.render(request, "operator/notice.html", ctx)


async def end_now(request: web.Request) -> web.StreamResponse:
    """End the notice now (no approval needed to stop telling people about a disruption)."""
    session, rec = await pages.own_notice(request)
    await pages.form(request, session)
    store = request.app[appmod.STORE]
    async with notices.locked(store, rec["id"]):
        rec = await store.get_record(notices.KIND, rec["id"]) or rec
        if not rec.get("ended_at"):
            await notices.end_locked(store, session.key, rec, datetime.now(UTC))
    await drafts.drop_draft(store, rec["id"])
    lang = pages.lang_of(request)
    return pages.redirect(pages.href(f"/operator/n/{rec['notice_id']}", lang, m="ended_now"))


def setup(app: web.Application) -> None:
    """The operator UI where this process serves the web (after the commuters' pages)."""
    if "web" not in app[appmod.ROLES]:
        return
    env = app[web_routes.ENV]
    env.globals.update(ot=ot, choices=choices, local=format_local, stamp=lambda s: iso(parse_time(s)))
    settings = app[appmod.SETTINGS]
    app[editor.PLACES] = load_places(settings.reference.gtfs_static, settings.root())
    app.router.add_get("/operator", home)
    app.router.add_post("/operator/signin", signin)
    app.router.add_post("/operator/signout", signout)
    app.router.add_get("/operator/new", editor.new_form)
    app.router.add_post("/operator/save", editor.save)
    app.router.add_get("/operator/n/{nid}", notice_page)
    app.router.add_get("/operator/n/{nid}/edit", editor.edit_form)
    app.router.add_get("/operator/n/{nid}/preview", editor.preview)
    app.router.add_post("/operator/n/{nid}/publish", editor.publish)
    app.router.add_post("/operator/n/{nid}/approve", editor.approve)
    app.router.add_post("/operator/n/{nid}/end", end_now)
