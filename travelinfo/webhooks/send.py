"""One signed webhook POST (a change event or a test ping), SSRF-checked right before it is sent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from travelinfo.config import Settings
from travelinfo.impacts.view import with_impacts
from travelinfo.model import format_time
from travelinfo.runtime import metrics
from travelinfo.runtime.server import retry_after_seconds
from travelinfo.store.base import Change
from travelinfo.webhooks import ssrf

RETRY_STATUSES = frozenset({408, 425, 429})


def event_body(change: Change) -> bytes:
    """The JSON body of a change event (the shape the SSE stream sends, inferred `impacts` too)."""
    data = change.to_json()
    with_impacts(data["disruption"], change.disruption)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt."""

    ok: bool
    retry: bool = False
    error: str = ""
    retry_after: float | None = None
    status: int | None = None  # the receiver's HTTP status, when it answered


async def post(
    session: aiohttp.ClientSession,
    sub: Mapping[str, Any],
    body: bytes,
    event: tuple[str, str],
    settings: Settings,
    allow: tuple[ssrf.IPNetwork, ...],
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """POST `body` as event (id, type) to the subscription's URL, signed, within `webhooks.timeout`.

    `clock` (wall time, the delivery engine's) stamps the signature and reads a `Retry-After` date."""
    event_id, event_type = event
    timeout = settings.webhooks.timeout
    try:
        async with asyncio.timeout(timeout):
            target = await ssrf.check_target(sub["url"], allow)
            stamp = str(int(clock()))
            headers = {
                "Content-Type": "application/json",
                "X-Travelinfo-Event-Id": event_id,
                "X-Travelinfo-Event": event_type,
                "X-Travelinfo-Timestamp": stamp,
                "X-Travelinfo-Signature": sign(sub["secret"], stamp, body),
                "X-Travelinfo-Webhook-Id": sub["id"],
            }
            async with target.post(session, body, headers, timeout) as resp:
                if 200 <= resp.status < 300:
                    return Outcome(True, status=resp.status)
                retry = resp.status in RETRY_STATUSES or resp.status >= 500
                now = datetime.fromtimestamp(clock(), UTC)
                after = retry_after_seconds(resp.headers.get("Retry-After"), now)
                return Outcome(False, retry, f"HTTP {resp.status}", after, resp.status)
    except ssrf.Refused as exc:
        return Outcome(False, True, f"refused: {exc}")
    except TimeoutError:
        return Outcome(False, True, f"timed out after {timeout:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(False, True, f"{type(exc).__name__}: {exc}"[:300])


async def send(
    session: aiohttp.ClientSession,
    sub: Mapping[str, Any],
    change: Change,
    settings: Settings,
    allow: tuple[ssrf.IPNetwork, ...],
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """One signed POST of `change` to the subscription's URL (counted in /metrics by result)."""
    out = await post(session, sub, event_body(change), (change.seq, change.type), settings, allow, clock)
    metrics.WEBHOOK_DELIVERIES.labels("ok" if out.ok else "retry" if out.retry else "failed").inc()
    return out


def ping_body(sub_id: str) -> tuple[str, bytes]:
    """A test event's id and body: `{"seq": "ping-…", "type": "ping", "webhook": id, "at": now}`."""
    event_id = f"ping-{secrets.token_hex(6)}"
    data = {"seq": event_id, "type": "ping", "webhook": sub_id, "at": format_time(datetime.now(UTC))}
    return event_id, json.dumps(data, separators=(",", ":")).encode()


async def ping(
    session: aiohttp.ClientSession,
    sub: Mapping[str, Any],
    settings: Settings,
    allow: tuple[ssrf.IPNetwork, ...],
) -> tuple[str, Outcome]:
    """Send a signed `ping` event now; returns its id and the receiver's answer."""
    event_id, body = ping_body(sub["id"])
    return event_id, await post(session, sub, body, (event_id, "ping"), settings, allow)
