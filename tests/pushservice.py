"""A push service on loopback (RFC 8030 5): checks VAPID (RFC 8292), decrypts aes128gcm (RFC 8291).

It plays the outside network only: what the service sends is checked with libraries nobody
here wrote (PyJWT for the ES256 JWT, http_ece for the body), with a subscriber key pair and
auth secret the test makes, as a browser would.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from aiohttp import web
from apputil import serve_loopback
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A browser's side of one subscription: its P-256 key pair and auth secret."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def p256dh(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def subscription(self, base: str) -> dict[str, Any]:
        """`PushSubscription.toJSON()` as the browser gives it."""
        return {
            "endpoint": f"{base}/push/{self.name}",
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh(), "auth": b64url(self.auth)},
        }


@dataclass
class Message:
    """One push request the service accepted, checked and decrypted."""

    name: str
    headers: dict[str, str]
    claims: dict[str, Any]
    vapid_key: str
    payload: dict[str, Any]
    at: float

    @property
    def topic(self) -> str:
        return self.headers.get("Topic", "")


Behaviour = Callable[[web.Request, "PushService"], Awaitable[web.StreamResponse | None]]


@dataclass
class PushService:
    """Accepts messages for its subscribers with 201 (RFC 8030 5); per-name behaviours override."""

    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # names, every request, accepted or not
    errors: list[str] = field(default_factory=list)  # checks that failed (the test asserts none)
    port: int = 0
    runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, name: str) -> Subscriber:
        sub = self.subscribers[name] = Subscriber(name)
        return sub

    def of(self, name: str) -> list[Message]:
        return [m for m in self.messages if m.name == name]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = await request.read()
        self.requests.append(name)
        behaviour = self.behaviours.get(name)
        if behaviour is not None:
            answer = await behaviour(request, self)
            if answer is not None:
                return answer
        sub = self.subscribers.get(name)
        if sub is None:
            return web.Response(status=404)
        try:
            message = self._check(name, sub, dict(request.headers), body)
        except Exception as exc:
            self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            return web.Response(status=400, text=str(exc))
        self.messages.append(message)
        return web.Response(status=201, headers={"Location": f"{self.base}/message/{len(self.messages)}"})

    def _check(self, name: str, sub: Subscriber, headers: dict[str, str], body: bytes) -> Message:
        scheme, _, params = headers["Authorization"].partition(" ")
        assert scheme == "vapid", headers["Authorization"][:20]
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        point = unb64url(parts["k"])
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=self.base)
        assert claims["exp"] > time.time(), "expired JWT"
        assert claims["exp"] <= time.time() + 86400, "a JWT may live at most 24 h (RFC 8292 2)"
        assert str(claims["sub"]).startswith(("mailto:", "https:")), claims
        assert headers["Content-Encoding"] == "aes128gcm"
        assert int(headers["TTL"]) > 0
        assert headers["Urgency"] in ("very-low", "low", "normal", "high")
        assert len(body) <= 4096, "RFC 8291 4: at most 4096 octets"
        plain = http_ece.decrypt(body, private_key=sub.key, auth_secret=sub.auth, version="aes128gcm")
        return Message(name, headers, claims, parts["k"], json.loads(plain), time.monotonic())

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{name}", self._handle)
        self.runner, self.port = await serve_loopback(app, self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@asynccontextmanager
async def push_service(port: int = 0) -> AsyncIterator[PushService]:
    service = PushService(port=port)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
