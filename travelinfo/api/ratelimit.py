"""Token-bucket rate limits for /api/ paths: per API key, else per client address.

Buckets live in memory, per process: behind a load balancer with N web processes a client
gets up to N times the configured rate. Streams (SSE, WebSocket) take one token at connect;
how many may stay open at once is capped per address by `travelinfo.runtime.limits` (a bucket alone
let one address hold hundreds of streams opened slowly enough).

Every limited response says where its caller stands, in the fields of the IETF draft
(draft-ietf-httpapi-ratelimit-headers-09): `RateLimit-Policy: "key";q=60;w=3` (the bucket holds
60 requests and refills completely in 3 s) and `RateLimit: "key";r=59;t=1` (59 left, full again
in 1 s). The policy is `key` for a request with a valid API key, else `address`.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from travelinfo.api.keys import ApiKey, authenticate
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import add_api_guard, json_response

MAX_BUCKETS = 50_000
AUTH_TTL = 30.0  # seconds a token's lookup is remembered (revocation takes effect within it)


@dataclass(slots=True)
class Bucket:
    """`capacity` tokens refilled at `rate` per second."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; returns 0 on success, else seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf

    def fields(self, policy: str) -> dict[str, str]:
        """`RateLimit-Policy` and `RateLimit` (IETF draft) for this bucket as it stands now."""
        window = max(1, math.ceil(self.capacity / self.rate))
        full_in = max(0, math.ceil((self.capacity - self.tokens) / self.rate))
        return {
            "RateLimit-Policy": f'"{policy}";q={int(self.capacity)};w={window}',
            "RateLimit": f'"{policy}";r={max(0, math.floor(self.tokens))};t={full_in}',
        }


class Limiter:
    """Buckets by name, bounded in number (full, idle buckets are dropped first)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}

    def check(self, name: str, rate: float, burst: int) -> float:
        """0 when allowed, else the wait in seconds."""
        if rate <= 0:
            return 0.0  # a rate of 0 turns the limit off
        now = self.clock()
        bucket = self.buckets.get(name)
        if bucket is None:
            if len(self.buckets) >= MAX_BUCKETS:
                self._prune(now)
            cap = float(max(1, burst))
            bucket = self.buckets[name] = Bucket(rate, cap, cap, now)
        return bucket.take(now)

    def bucket(self, name: str) -> Bucket | None:
        """The bucket `name` as the last check left it (None when its limit is off)."""
        return self.buckets.get(name)

    def _prune(self, now: float) -> None:
        for name, b in list(self.buckets.items()):
            if b.tokens + (now - b.stamp) * b.rate >= b.capacity:
                del self.buckets[name]
        if len(self.buckets) >= MAX_BUCKETS:  # everyone is busy: forget the oldest half
            for name in sorted(self.buckets, key=lambda n: self.buckets[n].stamp)[: MAX_BUCKETS // 2]:
                del self.buckets[name]


class KeyCache:
    """Remembers token -> key lookups briefly so a rate check costs no store read."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, ApiKey | None]] = {}

    async def lookup(self, app: web.Application, token: str) -> ApiKey | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        hit = self.entries.get(digest)
        if hit is not None and now - hit[0] < AUTH_TTL:
            return hit[1]
        key = await authenticate(app[appmod.STORE], token)
        if len(self.entries) > 10_000:
            self.entries.clear()
        self.entries[digest] = (now, key)
        return key


LIMITER: web.AppKey[Limiter] = web.AppKey("rate_limiter", Limiter)
# Request-scoped: the RateLimit fields of the bucket the request was charged to.
FIELDS: web.RequestKey[dict[str, str]] = web.RequestKey("ratelimit_fields", dict)
KEYS: web.AppKey[KeyCache] = web.AppKey("rate_key_cache", KeyCache)


def bearer(request: web.Request) -> str | None:
    """The bearer token of the request, if any."""
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def ratelimit_guard(request: web.Request) -> web.StreamResponse | None:
    """429 with Retry-After when the caller's bucket is empty (runs before /api/ handlers)."""
    if request.method == "OPTIONS":
        return None
    app = request.app
    api = app[appmod.SETTINGS].api
    token = bearer(request)
    key = await app[KEYS].lookup(app, token) if token else None
    # A valid key gets its own allowance (an organisation behind one NAT address);
    # unknown tokens count against the address, so random tokens cannot dodge the limit.
    if key is not None:
        name, policy, who, rate = "key:" + key.id, "key", "API key", api.rate_per_key
    else:
        name, policy, who, rate = (
            "ip:" + (request.remote or "?"),
            "address",
            "client address",
            api.rate_per_ip,
        )
    wait = app[LIMITER].check(name, rate, api.burst)
    bucket = app[LIMITER].bucket(name) if rate > 0 else None
    fields = bucket.fields(policy) if bucket is not None else {}
    if fields:
        request[FIELDS] = fields
    if wait > 0:
        retry = max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
        return json_response(
            {"error": f"rate limit exceeded for this {who}; retry in {retry} s"},
            429,
            {"Retry-After": str(retry), **fields},
        )
    return None


async def add_fields(request: web.Request, response: web.StreamResponse) -> None:
    """Put the caller's RateLimit fields on every response its bucket was charged for."""
    fields = request.get(FIELDS)
    if fields:
        for name, value in fields.items():
            response.headers[name] = value


def install(app: web.Application) -> None:
    """Add the limiter to `app` (call from a publisher's setup, before the app is frozen)."""
    app[LIMITER] = Limiter()
    app[KEYS] = KeyCache()
    add_api_guard(app, ratelimit_guard)
    app.on_response_prepare.append(add_fields)
