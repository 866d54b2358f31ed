"""One Web Push request (RFC 8030 5): aes128gcm body (RFC 8291), VAPID (RFC 8292), SSRF-checked.

The endpoint is checked like a webhook target right before each request and the request
connects to the checked address (SNI and Host keep the name). Push services must be https;
plain http only to an address `webpush.allow_hosts` names (a test push service on loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

import aiohttp
from pywebpush import WebPusher

from travelinfo.runtime.server import retry_after_seconds
from travelinfo.settings import WebPushSettings
from travelinfo.webhooks import ssrf
from travelinfo.webpush.records import PushSubscription
from travelinfo.webpush.vapid import Keys

RETRY_STATUSES = frozenset({408, 425, 429})
GONE_STATUSES = frozenset({404, 410})  # the subscription expired or was withdrawn (RFC 8030 7.3)


@dataclass(frozen=True, slots=True)
class Push:
    """What goes to the push service for one notification."""

    body: bytes  # plaintext JSON, encrypted per request
    topic: str
    urgency: str
    ttl: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """The push service's answer: accepted, gone (delete the subscription), too large, or retry."""

    ok: bool
    retry: bool = False
    gone: bool = False
    too_large: bool = False
    error: str = ""
    retry_after: float | None = None
    status: int | None = None


def encrypt(sub: PushSubscription, plaintext: bytes) -> bytes:
    """The aes128gcm body for the subscriber's keys (a fresh ephemeral key and salt each time)."""
    info = {"endpoint": sub.endpoint, "keys": sub.keys.to_json()}
    return bytes(WebPusher(info).encode(plaintext, "aes128gcm")["body"])


async def check_endpoint(endpoint: str, allow: tuple[ssrf.IPNetwork, ...]) -> ssrf.Target:
    """The SSRF guard of webhooks, plus https unless the address is allowlisted; raises Refused."""
    target = await ssrf.check_target(endpoint, allow)
    if target.url.scheme != "https":
        address = ipaddress.ip_address(target.address)
        if not any(address in n for n in allow):
            raise ssrf.Refused("must be an https:// URL (push services use https)")
    return target


def origin(target: ssrf.Target) -> str:
    """The JWT audience: the endpoint's origin (scheme, host, port unless the default)."""
    url = target.url
    default = 443 if url.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{url.scheme}://{host}" + ("" if target.port == default else f":{target.port}")


async def send(
    session: aiohttp.ClientSession,
    sub: PushSubscription,
    push: Push,
    keys: Keys,
    settings: WebPushSettings,
    allow: tuple[ssrf.IPNetwork, ...],
) -> Outcome:
    """POST one encrypted message to the subscription's endpoint within `webpush.timeout`."""
    timeout = settings.timeout
    try:
        async with asyncio.timeout(timeout):
            target = await check_endpoint(sub.endpoint, allow)
            headers = {
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(push.ttl),
                "Urgency": push.urgency,
                "Topic": push.topic,
                "Authorization": keys.authorization(origin(target), settings.subject),
            }
            body = encrypt(sub, push.body)
            async with target.post(session, body, headers, timeout) as resp:
                status = resp.status
                if 200 <= status < 300:
                    return Outcome(True, status=status)
                error = f"HTTP {status}"
                if status in GONE_STATUSES:
                    return Outcome(False, gone=True, error=error, status=status)
                if status == 413:
                    return Outcome(False, too_large=True, error=error, status=status)
                retry = status in RETRY_STATUSES or status >= 500
                after = retry_after_seconds(resp.headers.get("Retry-After"))
                return Outcome(False, retry, error=error, retry_after=after, status=status)
    except ssrf.Refused as exc:
        return Outcome(False, True, error=f"refused: {exc}")
    except TimeoutError:
        return Outcome(False, True, error=f"timed out after {timeout:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(False, True, error=f"{type(exc).__name__}: {exc}"[:300])
