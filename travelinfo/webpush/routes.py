"""Web Push API (`/api/v1/push/...`), `/sw.js`, the engine's wiring, `travelinfo webpush-rotate-keys`.

No account: the browser's push subscription is the identity, and the secret shown at
subscribe (also inside each notification, encrypted to that browser only) deletes it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from travelinfo.model import format_time
from travelinfo.runtime import appkeys as app_module
from travelinfo.runtime import commands
from travelinfo.runtime.appkeys import HUB, ROLES, SETTINGS, STORE
from travelinfo.runtime.jsonbody import read_json
from travelinfo.runtime.server import BadParameter, json_error, json_response
from travelinfo.store.records import decode, get_typed
from travelinfo.webhooks import ssrf
from travelinfo.webpush import page, vapid
from travelinfo.webpush.engine import PushEngine
from travelinfo.webpush.records import STATE, SUB, PushState, PushSubscription, forget
from travelinfo.webpush.send import check_endpoint
from travelinfo.webpush.subscription import compile_record, parse_body

ENGINE = web.AppKey("webpush_engine", PushEngine)
KEYS = web.AppKey("webpush_keys", dict)  # {"keys": vapid.Keys} once loaded
BASE = "/api/v1/push"
SW = Path(__file__).resolve().parent.parent / "static" / "sw.js"
SW_CSP = "default-src 'none'; connect-src 'self'; img-src 'self'"


async def keys_of(app: web.Application) -> vapid.Keys:
    """The VAPID keys, made on first use (first start) and then cached for the process."""
    box = app[KEYS]
    if "keys" not in box:
        box["keys"] = await vapid.ensure(app[STORE])
    keys: vapid.Keys = box["keys"]
    return keys


def sub_id_of(endpoint: str) -> str:
    """One subscription per endpoint: subscribing again replaces its filters and windows."""
    return hashlib.sha256(endpoint.encode()).hexdigest()[:20]


def view(sub: PushSubscription, state: PushState | None) -> dict[str, Any]:
    """What is stored about a subscription, as its owner may read it (keys shortened)."""
    state = state or PushState()
    return {
        "id": sub.id,
        "endpoint": sub.endpoint,
        "filters": dict(sub.filters),
        "windows": list(sub.windows),
        "lang": sub.lang,
        "planned": sub.planned,
        "ahead": sub.ahead,
        "created": sub.created,
        "sent": state.sent,
        "dropped": state.dead_letters,
        "last_error": state.last_error,
        "state": state.state,
    }


async def create(request: web.Request) -> web.Response:
    """POST /api/v1/push/subscriptions: subscribe (or replace the same endpoint's settings)."""
    data = await read_json(request, "the body must be a JSON object")
    if not isinstance(data, dict):
        raise json_error(400, "the body must be a JSON object")
    body = parse_body(data)
    settings, store = request.app[SETTINGS], request.app[STORE]
    allow = ssrf.parse_allow(settings.webpush.allow_hosts)
    try:
        async with asyncio.timeout(5):
            await check_endpoint(body["endpoint"], allow)
    except ssrf.Refused as exc:
        raise BadParameter("subscription.endpoint", str(exc)) from None
    except TimeoutError:
        raise BadParameter("subscription.endpoint", "looking up its host timed out") from None
    keys = await keys_of(request.app)
    sid = sub_id_of(body["endpoint"])
    old = await get_typed(store, SUB, sid, PushSubscription.from_json)  # unreadable: made anew
    most = settings.webpush.max_subscriptions  # counted by reading at most that many
    if old is None and len(await store.list_records(SUB, limit=most)) >= most:
        raise json_error(409, "the service has as many push subscriptions as it keeps; try again later")
    created = old.created if old else format_time(datetime.now(UTC))
    record = PushSubscription.from_json({"id": sid, **body, "vapid": keys.public, "created": created})
    # What it holds at the start is read before the position (as webhooks do), so an item
    # created in between is news at its next change, never an update without a start.
    held, _ = await store.query(compile_record(record, settings.region_bbox).query)
    start_held = tuple(sorted(d.id for d in held))
    record = replace(record, start_held=start_held, start_seq=await store.last_seq())
    await store.put_record(SUB, sid, record.to_json())
    engine = request.app.get(ENGINE)
    if engine is not None:
        engine.poke()
    out = {**view(record, None), "secret": keys.delete_secret(sid), "vapid_public_key": keys.public}
    return json_response(out, 200 if old else 201, {"Location": f"{BASE}/subscriptions/{sid}"})


async def _owned(request: web.Request) -> tuple[str, PushSubscription | None]:
    """The id and the subscription asked for with its secret; None: stored, but unreadable."""
    sid = request.match_info["id"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise json_error(401, "the subscription's secret is required: Authorization: Bearer <secret>")
    raw = await request.app[STORE].get_record(SUB, sid)
    keys = await keys_of(request.app)
    if raw is None or not keys.check_secret(sid, token.strip()):
        raise json_error(404, f"no push subscription {sid} with this secret")
    return sid, decode(SUB, sid, raw, PushSubscription.from_json)


async def get_one(request: web.Request) -> web.Response:
    """GET /api/v1/push/subscriptions/{id}: everything stored about it (with its secret)."""
    sid, sub = await _owned(request)
    if sub is None:
        raise json_error(409, f"push subscription {sid} is stored unreadable: delete it and subscribe again")
    state = await get_typed(request.app[STORE], STATE, sid, PushState.from_json)
    return json_response(view(sub, state))


async def delete_one(request: web.Request) -> web.Response:
    """DELETE /api/v1/push/subscriptions/{id}: unsubscribe (also an unreadable one); all kept for it goes."""
    sid, _ = await _owned(request)
    await forget(request.app[STORE], sid)
    engine = request.app.get(ENGINE)
    if engine is not None:
        engine.discard(sid, gone=True)
    return web.Response(status=204)


async def public_key(request: web.Request) -> web.Response:
    """GET /api/v1/push/vapid-public-key: the `applicationServerKey` for `pushManager.subscribe`."""
    keys = await keys_of(request.app)
    return json_response({"public_key": keys.public, "created": keys.created})


async def service_worker(request: web.Request) -> web.Response:
    """GET /sw.js: the service worker, same origin, under a CSP that allows only this origin."""
    headers = {
        "Content-Security-Policy": SW_CSP,
        "Cache-Control": "no-cache",
        "Service-Worker-Allowed": "/",
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(
        body=SW.read_bytes(), content_type="text/javascript", charset="utf-8", headers=headers
    )


def setup(app: web.Application) -> None:
    """Routes on "web"; the engine on "deliver" (when `webpush.enabled`)."""
    roles, settings = app[ROLES], app[SETTINGS]
    app[KEYS] = {}
    if "web" in roles:
        app.router.add_post(f"{BASE}/subscriptions", create)
        app.router.add_get(f"{BASE}/subscriptions/{{id}}", get_one)
        app.router.add_delete(f"{BASE}/subscriptions/{{id}}", delete_one)
        app.router.add_get(f"{BASE}/vapid-public-key", public_key)
        app.router.add_get("/sw.js", service_worker)
        app.router.add_get("/watch", page.watch)
    if "deliver" in roles and settings.webpush.enabled:
        engine = PushEngine(settings, app[STORE])
        app[ENGINE] = engine
        app[HUB].on_changes(engine.notify)
        app_module.add_background(app, "webpush", lambda a: engine.run(a[app_module.SESSION]))


def cmd_rotate(args: argparse.Namespace) -> int:
    async def go(store: Any) -> vapid.Keys:
        return await vapid.rotate(store)

    keys: vapid.Keys = commands.with_store(args, go)
    print(json.dumps({"public_key": keys.public, "created": keys.created}))
    return 0


def add_commands(subparsers: Any) -> None:
    """`travelinfo webpush-rotate-keys`: a new VAPID key pair (browsers then subscribe again)."""
    s = subparsers.add_parser(
        "webpush-rotate-keys", help="make a new VAPID key pair for Web Push (prints the public key only)"
    )
    s.set_defaults(func=cmd_rotate)
