"""Bluesky (AT Protocol) as a SocialNetwork: plain XRPC over the process's one aiohttp session.

A post is `com.atproto.repo.createRecord` of an `app.bsky.feed.post` with link and hashtag
facets (UTF-8 byte ranges) and, in a thread, reply refs to the root and the parent. The record
key is derived from the bot's idempotency key, so a retry, a restart or a second bot process
creating the same post hits the record that exists instead of making a second one.
A status id is `<uri> <cid> <root uri> <root cid>`: a reply needs both refs.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp

from travelinfo.bot.social import PostRejected, PostUnavailable
from travelinfo.bot.text import URL_RE, short_url

POST = "app.bsky.feed.post"
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
TAG_RE = re.compile(r"(?<![\w#])#([^\W\d_][\w]*|\w*[^\W\d_]\w*)")


def rkey_of(idempotency_key: str) -> str:
    """A TID-shaped record key (13 base32-sortable characters, top bit 0) from the key."""
    n = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big") >> 1
    return "".join(TID_CHARS[(n >> (5 * i)) & 31] for i in range(12, -1, -1))


def rich_text(full: str) -> tuple[str, list[dict[str, Any]]]:
    """(text with links shortened for display, link and hashtag facets with UTF-8 byte offsets)."""
    parts: list[str] = []
    links: list[tuple[int, int, str]] = []
    pos = 0
    for m in URL_RE.finditer(full):
        parts.append(full[pos : m.start()])
        start = sum(len(p) for p in parts)
        shown = short_url(m.group(0))
        parts.append(shown)
        links.append((start, start + len(shown), m.group(0)))
        pos = m.end()
    parts.append(full[pos:])
    text = "".join(parts)

    def span(start: int, end: int) -> dict[str, int]:
        return {"byteStart": len(text[:start].encode()), "byteEnd": len(text[:end].encode())}

    out: list[dict[str, Any]] = []
    for start, end, uri in links:
        feature = {"$type": "app.bsky.richtext.facet#link", "uri": uri}
        out.append({"index": span(start, end), "features": [feature]})
    for m in TAG_RE.finditer(text):
        if any(
            f["index"]["byteStart"] <= len(text[: m.start()].encode()) < f["index"]["byteEnd"] for f in out
        ):
            continue  # a `#fragment` inside a link
        feature = {"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}
        out.append({"index": span(m.start(), m.end()), "features": [feature]})
    return text, out


class Bluesky:
    """A PDS reached over XRPC: a session from the handle and app password, then records."""

    def __init__(
        self, base_url: str, handle: str, password: str, session: aiohttp.ClientSession, timeout: float = 30.0
    ) -> None:
        self.base = base_url.rstrip("/") + "/xrpc/"
        self.handle = handle
        self._password = password
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._jwt: str | None = None
        self._did: str | None = None

    def __repr__(self) -> str:  # never print the password or the token
        return f"Bluesky({self.base!r}, {self.handle!r})"

    async def _call(self, method: str, nsid: str, body: dict[str, Any] | None = None,
                    params: dict[str, str] | None = None, auth: bool = True) -> tuple[int, Any]:  # fmt: skip
        headers = {"Authorization": f"Bearer {self._jwt}"} if auth and self._jwt else {}
        try:
            async with self.session.request(
                method, self.base + nsid, json=body, params=params, headers=headers, timeout=self.timeout
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
                return resp.status, data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PostUnavailable(f"{self.base}{nsid}: {type(exc).__name__}") from None

    async def _login(self) -> str:
        status, data = await self._call(
            "POST", "com.atproto.server.createSession",
            {"identifier": self.handle, "password": self._password}, auth=False,
        )  # fmt: skip
        if status >= 500 or status == 429:
            raise PostUnavailable(f"{self.base}: createSession HTTP {status}")
        if status != 200 or not isinstance(data, dict) or "accessJwt" not in data:
            raise PostRejected(
                f"{self.base}: createSession HTTP {status}"
            )  # no detail: it may echo the password
        self._jwt, self._did = str(data["accessJwt"]), str(data.get("did") or self.handle)
        return self._did

    async def post(
        self,
        text: str,
        *,
        in_reply_to: str | None = None,
        language: str | None = None,
        visibility: str = "public",
        idempotency_key: str,
    ) -> str:
        """Create the post record (once) and return `<uri> <cid> <root uri> <root cid>`."""
        did = self._did or await self._login()
        shown, facets = rich_text(text)
        record: dict[str, Any] = {
            "$type": POST,
            "text": shown,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "facets": facets,
        }
        if language:
            record["langs"] = [language]
        if in_reply_to:
            uri, cid, root_uri, root_cid = in_reply_to.split(" ")
            record["reply"] = {"root": {"uri": root_uri, "cid": root_cid}, "parent": {"uri": uri, "cid": cid}}
        rkey = rkey_of(idempotency_key)
        body = {"repo": did, "collection": POST, "rkey": rkey, "record": record}
        status, data = await self._call("POST", "com.atproto.repo.createRecord", body)
        if status in (400, 401) and isinstance(data, dict) and data.get("error") == "ExpiredToken":
            await self._login()
            status, data = await self._call("POST", "com.atproto.repo.createRecord", body)
        if status == 200 and isinstance(data, dict) and "uri" in data and "cid" in data:
            uri, cid = str(data["uri"]), str(data["cid"])
        elif status == 409 or (
            isinstance(data, dict) and data.get("error") in ("RecordAlreadyExists", "InvalidSwap")
        ):
            # Posted before (a retry, a restart, the other bot process): answer with that record.
            got, rec = await self._call(
                "GET", "com.atproto.repo.getRecord", params={"repo": did, "collection": POST, "rkey": rkey}
            )
            if got != 200 or not isinstance(rec, dict):
                raise PostUnavailable(f"{self.base}: getRecord HTTP {got}")
            uri, cid = str(rec["uri"]), str(rec["cid"])
        elif status >= 500 or status == 429:
            raise PostUnavailable(f"{self.base}: createRecord HTTP {status}")
        else:
            error = data.get("error") if isinstance(data, dict) else None
            raise PostRejected(f"{self.base}: createRecord HTTP {status} {error or ''}".strip())
        if in_reply_to:
            _, _, root_uri, root_cid = in_reply_to.split(" ")
            return f"{uri} {cid} {root_uri} {root_cid}"
        return f"{uri} {cid} {uri} {cid}"
