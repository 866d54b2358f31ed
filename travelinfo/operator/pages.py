"""Plumbing of the operator pages: the session of a request, CSRF-checked forms, rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from travelinfo.model import make_id
from travelinfo.notices.routes import KIND as NOTICE
from travelinfo.notices.schema import LOCAL_ID
from travelinfo.operator import sessions
from travelinfo.operator.sessions import Session
from travelinfo.runtime import appkeys as appmod
from travelinfo.web import routes as web_routes

HEADERS = {"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language"}
LISTS = ("modes", "affected")  # form fields that repeat


def lang_of(request: web.Request) -> str:
    return web_routes.page_lang(request)


def href(path: str, lang: str, **query: str) -> str:
    """A link inside the UI that keeps the reader's language."""
    return f"{path}?{urlencode({**query, 'lang': lang})}"


async def current(request: web.Request) -> Session | None:
    """The request's live session (None when signed out or expired)."""
    idle = request.app[appmod.SETTINGS].notices.session_idle
    token = request.cookies.get(sessions.COOKIE)
    return await sessions.load(request.app[appmod.STORE], token, datetime.now(UTC), idle)


async def require(request: web.Request) -> Session:
    """The session, else (GET) back to sign-in or (POST) 403: a write needs a signed-in operator."""
    session = await current(request)
    if session is not None:
        return session
    if request.method == "POST":
        raise web.HTTPForbidden(reason="not signed in (or the session has expired)")
    expired = "1" if request.cookies.get(sessions.COOKIE) else ""
    raise web.HTTPSeeOther(href("/operator", lang_of(request), **({"expired": "1"} if expired else {})))


async def form(request: web.Request, session: Session) -> dict[str, Any]:
    """The POSTed form after its CSRF token is checked (403 when missing or wrong)."""
    data: MultiDictProxy[Any] = await request.post()
    if not sessions.token_ok(session.csrf, data.get("csrf")):
        raise web.HTTPForbidden(reason="missing or wrong CSRF token: reload the page and try again")
    out: dict[str, Any] = {k: str(v) for k, v in data.items() if isinstance(v, str)}
    for name in LISTS:
        out[name] = [str(v) for v in data.getall(name, []) if isinstance(v, str)]
    return out


def notice_ident(request: web.Request, session: Session) -> tuple[str, str]:
    """(notice id, store id) of the path's notice, in the session's organisation (404 if malformed)."""
    nid = request.match_info["nid"]
    if not LOCAL_ID.fullmatch(nid):
        raise web.HTTPNotFound()
    assert session.key.org is not None
    return nid, make_id(session.key.org, nid)


async def own_notice(request: web.Request) -> tuple[Session, dict[str, Any]]:
    """The session and the path's notice of its organisation (404 for any other)."""
    session = await require(request)
    _, ident = notice_ident(request, session)
    rec = await request.app[appmod.STORE].get_record(NOTICE, ident)
    if rec is None or rec.get("org") != session.key.org:
        raise web.HTTPNotFound()
    return session, rec


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """A page of the UI (the commuters' template environment, CSP and all, never cached)."""
    lang = context.get("lang") or lang_of(request)
    ctx = web_routes.page_context(request, lang, request.path)
    router = request.app.router
    ctx.update(
        op_css=str(router["static"].url_for(filename="operator.css")),
        op_js=str(router["static"].url_for(filename="operator.js")),
        href=href,
        session=None,
    )
    ctx.update(context)
    body = request.app[web_routes.ENV].get_template(template).render(**ctx)
    headers = {**web_routes.page_headers(request.app), **HEADERS}
    return web.Response(status=status, text=body, content_type="text/html", headers=headers)


def redirect(location: str) -> web.Response:
    """303 See Other to `location` (after a POST, so reloading never repeats it)."""
    return web.Response(status=303, headers={**HEADERS, "Location": location})
