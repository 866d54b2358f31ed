"""The service's VAPID key pair (RFC 8292): made on first start, kept in the store, rotated by command.

The private key lives only in the store record; nothing here logs or returns it. The JWT of
an audience (a push service origin) is signed once and reused until it is an hour from expiry:
signing per message would cost as much as the encryption.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from travelinfo.model import format_time
from travelinfo.store.base import Store

KIND = "webpush_vapid"
KEY = "current"
TOKEN_LIFE = 12 * 3600  # RFC 8292 allows at most 24 h
REUSE_UNTIL = 3600  # re-sign when the cached token has less than this left


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError when it is not base64url."""
    if not isinstance(text, str) or not text or len(text) > 200:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ValueError("not base64url") from None


def _new_record() -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "private": b64url(raw),
        "public": b64url(public),
        "secret": b64url(secrets.token_bytes(32)),  # derives each subscription's delete secret
        "created": format_time(datetime.now(UTC)),
    }


@dataclass
class Keys:
    """The loaded key pair; `public` is the browser's `applicationServerKey`."""

    public: str
    created: str
    _vapid: Vapid02 = field(repr=False)
    _secret: bytes = field(repr=False)
    _tokens: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:  # never the private key, even in a traceback's locals
        return f"Keys(public={self.public!r}, created={self.created!r})"

    def authorization(self, audience: str, subject: str, now: float | None = None) -> str:
        """The `Authorization: vapid t=<JWT>,k=<public key>` header value for `audience`."""
        now = time.time() if now is None else now
        cached = self._tokens.get(audience)
        if cached and cached[0] - now > REUSE_UNTIL:
            return cached[1]
        exp = int(now) + TOKEN_LIFE
        header = str(self._vapid.sign({"aud": audience, "sub": subject, "exp": exp})["Authorization"])
        self._tokens[audience] = (exp, header)
        return header

    def delete_secret(self, sub_id: str) -> str:
        """The subscription's own secret (shown once at subscribe, sent in its notifications)."""
        return b64url(hmac.new(self._secret, sub_id.encode(), hashlib.sha256).digest())

    def check_secret(self, sub_id: str, given: str) -> bool:
        return hmac.compare_digest(self.delete_secret(sub_id), given)


def _load(record: dict[str, str]) -> Keys:
    vapid = Vapid02.from_raw(record["private"].encode())
    return Keys(record["public"], record["created"], vapid, unb64url(record["secret"]))


async def ensure(store: Store) -> Keys:
    """The stored key pair, made (once, whoever races) when absent."""
    record = await store.get_record(KIND, KEY)
    if record is None:
        await store.add_record_if_absent(KIND, KEY, _new_record())
        record = await store.get_record(KIND, KEY)
    if record is None:  # pragma: no cover - the store just wrote it
        raise RuntimeError("the VAPID key record could not be read back")
    return _load(record)


async def rotate(store: Store) -> Keys:
    """Replace the key pair (the delete-secret key is kept, so unsubscribe links keep working)."""
    old = await store.get_record(KIND, KEY)
    record = _new_record()
    if old and old.get("secret"):
        record["secret"] = old["secret"]
    await store.put_record(KIND, KEY, record)
    return _load(record)
