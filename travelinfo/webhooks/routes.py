"""Webhook subscriptions API (`/api/v1/webhooks`), the delivery engine's wiring, `travelinfo deliver`."""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from travelinfo.api.keys import ApiKey, authenticate
from travelinfo.model import MODES, SEVERITIES, STATUSES, format_time
from travelinfo.runtime import appkeys as app_module
from travelinfo.runtime import commands
from travelinfo.runtime.appkeys import HUB, ROLES, SESSION, SETTINGS, STORE
from travelinfo.runtime.jsonbody import read_json
from travelinfo.runtime.server import BadParameter, json_error, json_response
from travelinfo.webhooks import records, ssrf
from travelinfo.webhooks.delivery import STATE, DeliveryEngine, query_of, start_held
from travelinfo.webhooks.feed import forget
from travelinfo.webhooks.records import DeliveryState, Subscription
from travelinfo.webhooks.send import ping as send_ping

ENGINE = web.AppKey("webhook_engine", DeliveryEngine)
PINGING = web.AppKey("webhook_pinging", set)  # ids of subscriptions with a ping in flight
SCOPE = "webhooks"
FILTERS = ("mode", "status", "source", "severity", "bbox", "route", "stop", "road", "q", "region", "inferred")
FIELDS = ("url", "secret", "filters", "description")
MAX_PER_KEY = 100  # bounds the fan-out one key can cause
MAX_TEXT = 200


# -- validation -----------------------------------------------------------------------------------


def _words(name: str, value: Any, allowed: tuple[str, ...] | None = None) -> list[str]:
    """A filter given as "a,b" (like the list API's query parameters) or ["a", "b"]."""
    param = f"filters.{name}"
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise BadParameter(param, "must be a non-empty string or list of strings")
    out = [v.strip() for v in value]
    bad = [v for v in out if allowed is not None and v not in allowed]
    if bad:
        raise BadParameter(param, f"unknown value {bad[0]!r} (known: {', '.join(allowed or ())})")
    return out


def _bbox(value: Any) -> list[float]:
    param = "filters.bbox"
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or len(parts) != 4:
        raise BadParameter(param, "must be min_lon,min_lat,max_lon,max_lat")
    try:
        box = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise BadParameter(param, "must be four numbers: min_lon,min_lat,max_lon,max_lat") from None
    if not all(math.isfinite(v) for v in box):
        raise BadParameter(param, "must be finite numbers")
    if not (-180 <= box[0] <= 180 and -180 <= box[2] <= 180 and -90 <= box[1] <= 90 and -90 <= box[3] <= 90):
        raise BadParameter(param, "needs longitudes in -180..180 and latitudes in -90..90")
    # Corners in either order, as the list API reads `bbox` (one filter, one meaning).
    lon, lat = sorted((box[0], box[2])), sorted((box[1], box[3]))
    return [lon[0], lat[0], lon[1], lat[1]]


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadParameter(f"filters.{name}", "must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise BadParameter(f"filters.{name}", f"longer than {MAX_TEXT} characters")
    return value.strip()


def parse_filters(raw: Any) -> dict[str, Any]:
    """Validate subscription filters (the list API's names); returns them normalised."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadParameter("filters", f"must be an object with any of: {', '.join(FILTERS)}")
    for name in raw:
        if name not in FILTERS:
            raise BadParameter(f"filters.{name}", f"unknown filter (known: {', '.join(FILTERS)})")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "mode":
            out[name] = _words(name, value, MODES)
        elif name == "status":
            out[name] = _words(name, value, STATUSES)
        elif name == "source":
            out[name] = _words(name, value)
        elif name == "severity":
            out[name] = _words(name, [value] if isinstance(value, str) else value, SEVERITIES)[0]
        elif name == "bbox":
            out[name] = _bbox(value)
        elif name == "inferred":  # JSON true/false, or the query string's "true"/"false"
            out[name] = ("true" if value else "false") if isinstance(value, bool) else _text(name, value)
        elif name == "region":
            out[name] = _words(name, [value] if isinstance(value, str) else value, ("home", "all"))[0]
        else:
            out[name] = _text(name, value)
    try:  # what delivery reads, read by the list API's one parser: refused now, not at delivery
        query_of(out)
    except BadParameter as exc:
        raise BadParameter(f"filters.{exc.parameter}", exc.message) from None
    return out


def _secret(value: Any) -> str:
    if value is None:
        return secrets.token_urlsafe(32)
    if not isinstance(value, str) or not 16 <= len(value) <= 256 or not value.isprintable():
        raise BadParameter("secret", "must be 16 to 256 printable characters (or omitted to get one)")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    ctype = request.content_type
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise json_error(415, f"send JSON (Content-Type: application/json), not {ctype}")
    data = await read_json(request, "the body must be a JSON object")
    if not isinstance(data, dict):
        raise json_error(400, "the body must be a JSON object")
    for name in data:
        if name not in FIELDS:
            raise BadParameter(name, f"unknown field (known: {', '.join(FIELDS)})")
    return data


async def _target(request: web.Request, url: Any) -> str:
    if url is None:
        raise BadParameter("url", "is required")
    allow = ssrf.parse_allow(request.app[SETTINGS].webhooks.allow_hosts)
    try:
        async with asyncio.timeout(5):
            await ssrf.check_target(url, allow)
    except ssrf.Refused as exc:
        raise BadParameter("url", str(exc)) from None
    except TimeoutError:
        raise BadParameter("url", "looking up its host timed out") from None
    return str(url)


# -- handlers ---------------------------------------------------------------------------------------


async def _key(request: web.Request) -> ApiKey:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise json_error(401, "an API key with scope 'webhooks' is required: Authorization: Bearer <token>")
    key = await authenticate(request.app[STORE], token)
    if key is not None and SCOPE in key.scopes:
        return key
    if key is not None:
        raise json_error(403, f"this API key lacks the '{SCOPE}' scope")
    raise json_error(401, "invalid or revoked API key")


def view(sub: dict[str, Any], state: dict[str, Any] | None) -> dict[str, Any]:
    """The public JSON of a subscription (never its secret)."""
    try:
        st = DeliveryState.from_json(state)
    except ValueError:  # a state record an older release or a hand edit left: shown as fresh
        st = DeliveryState()
    return {
        "id": sub["id"],
        "url": sub["url"],
        "filters": sub.get("filters", {}),
        "description": sub.get("description"),
        "created": sub["created"],
        "state": st.state,
        "last_error": st.last_error,
        "dead_letters": st.dead_letters,
        "last_delivered_seq": st.last_delivered_seq,
        "delivered": st.delivered,
        "last_attempt": st.last_attempt,
        "consecutive_failures": st.failures,
        "next_attempt": _next_attempt(st.next_attempt),
    }


def _next_attempt(when: float | None) -> str | None:
    """When a backing-off subscription may call its receiver again (None: not backing off)."""
    if not when or when <= time.time():
        return None
    return format_time(datetime.fromtimestamp(when, UTC))


async def _own(request: web.Request, key: ApiKey) -> list[dict[str, Any]]:
    return [s.to_json() for s in await records.key_subscriptions(request.app[STORE], key.id)]


async def _one(request: web.Request, key: ApiKey) -> dict[str, Any]:
    sub_id = request.match_info["id"]
    sub = await records.get_subscription(request.app[STORE], sub_id)
    if sub is None or sub.key_id != key.id:  # someone else's looks absent, too
        raise json_error(404, f"no webhook {sub_id}")
    return sub.to_json()


async def create(request: web.Request) -> web.Response:
    """POST /api/v1/webhooks: register; the response shows the secret, once."""
    key = await _key(request)
    data = await _body(request)
    url = await _target(request, data.get("url"))
    filters = parse_filters(data.get("filters"))
    secret = _secret(data.get("secret"))
    description = data.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_TEXT):
        raise BadParameter("description", f"must be a string of at most {MAX_TEXT} characters")
    store = request.app[STORE]
    if len(await _own(request, key)) >= MAX_PER_KEY:
        raise json_error(409, f"this key already has {MAX_PER_KEY} webhooks; delete one first")
    sub_id = secrets.token_hex(8)
    # What it holds at the start, read before the position: an item created in between is
    # then `created` at its next change, never `updated` without a `created` first.
    held = await start_held(store, filters, request.app[SETTINGS].region_bbox)
    sub: dict[str, Any] = {
        "id": sub_id,
        "key_id": key.id,
        "url": url,
        "filters": filters,
        "description": description,
        "secret": secret,
        "created": format_time(datetime.now(UTC)),
        "start_seq": await store.last_seq(),  # events after registration only
        "start_held": held,
    }
    await records.add_subscription(store, Subscription.from_json(sub))
    engine = request.app.get(ENGINE)
    if engine is not None:
        engine.poke()
    location = f"/api/v1/webhooks/{sub_id}"
    return json_response({**view(sub, None), "secret": secret}, 201, {"Location": location})


async def list_all(request: web.Request) -> web.Response:
    """GET /api/v1/webhooks: this key's subscriptions with their delivery state."""
    key = await _key(request)
    store = request.app[STORE]
    subs = await _own(request, key)
    return json_response({"webhooks": [view(s, await store.get_record(STATE, s["id"])) for s in subs]})


async def get_one(request: web.Request) -> web.Response:
    key = await _key(request)
    sub = await _one(request, key)
    return json_response(view(sub, await request.app[STORE].get_record(STATE, sub["id"])))


async def dead_letters(request: web.Request) -> web.Response:
    """GET /api/v1/webhooks/{id}/dead-letters: events given up on, with the last error."""
    key = await _key(request)
    sub = await _one(request, key)
    letters = await records.dead_letters(request.app[STORE], sub["id"])
    return json_response({"dead_letters": [d.to_json() for d in letters]})


async def ping(request: web.Request) -> web.Response:
    """POST /api/v1/webhooks/{id}/ping: send a signed `ping` event now; answer with the receiver's reply."""
    key = await _key(request)
    sub = await _one(request, key)
    busy = request.app[PINGING]
    if sub["id"] in busy:  # one at a time: a key cannot turn pings into a flood at the receiver
        error = json_error(429, "a ping to this webhook is already in progress; try again in a second")
        error.headers["Retry-After"] = "1"
        raise error
    settings = request.app[SETTINGS]
    busy.add(sub["id"])
    started = time.monotonic()
    try:
        allow = ssrf.parse_allow(settings.webhooks.allow_hosts)
        event_id, out = await send_ping(request.app[SESSION], sub, settings, allow)
    finally:
        busy.discard(sub["id"])
    return json_response(
        {
            "id": sub["id"],
            "url": sub["url"],
            "event_id": event_id,
            "ok": out.ok,
            "status": out.status,
            "error": out.error or None,
            "elapsed": round(time.monotonic() - started, 3),
        }
    )


async def _delete(request: web.Request, sub: dict[str, Any]) -> None:
    store = request.app[STORE]
    await records.remove_subscription(store, Subscription.from_json(sub))
    await forget(store, sub["id"])


async def delete_one(request: web.Request) -> web.Response:
    key = await _key(request)
    sub = await _one(request, key)
    await _delete(request, sub)
    return web.Response(status=204)


async def delete_matching(request: web.Request) -> web.Response:
    """DELETE /api/v1/webhooks?id=...&url=...: delete this key's matching subscriptions."""
    key = await _key(request)
    ids, url = request.query.getall("id", []), request.query.get("url")
    if not ids and not url:
        raise BadParameter("id", "name the webhooks to delete with ?id= (repeatable) or ?url=")
    gone = [s for s in await _own(request, key) if s["id"] in ids or (url and s["url"] == url)]
    for sub in gone:
        await _delete(request, sub)
    return json_response({"deleted": [s["id"] for s in gone]})


# -- wiring ---------------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    """Routes on "web"; the delivery engine on "deliver"."""
    roles = app[ROLES]
    if "web" in roles:
        app.router.add_post("/api/v1/webhooks", create)
        app.router.add_get("/api/v1/webhooks", list_all)
        app.router.add_delete("/api/v1/webhooks", delete_matching)
        app.router.add_get("/api/v1/webhooks/{id}", get_one)
        app.router.add_delete("/api/v1/webhooks/{id}", delete_one)
        app.router.add_get("/api/v1/webhooks/{id}/dead-letters", dead_letters)
        app.router.add_post("/api/v1/webhooks/{id}/ping", ping)
        app[PINGING] = set()
    if "deliver" in roles:
        engine = DeliveryEngine(app[SETTINGS], app[STORE])
        app[ENGINE] = engine
        app[HUB].on_changes(engine.notify)
        app_module.add_background(app, "webhooks", lambda a: engine.run(a[SESSION]))


def cmd_deliver(args: argparse.Namespace) -> int:
    return commands.serve_roles(args, commands.settings_of(args), frozenset({"deliver"}), http=False)


def add_commands(subparsers: Any) -> None:
    """`travelinfo deliver`: only the webhook delivery engine (run several on a Redis store)."""
    s = subparsers.add_parser(
        "deliver", help="deliver webhooks only (several processes share the work on a Redis store)"
    )
    s.set_defaults(func=cmd_deliver)
