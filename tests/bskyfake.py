"""A local fake Bluesky PDS (aiohttp): createSession, createRecord (rkey unique), getRecord.

It checks what a real PDS checks that the bot relies on: the bearer token, the post lexicon's
300-grapheme text, reply refs that name existing records, facets within the text's UTF-8 bytes,
and one record per rkey (a second create answers 400 RecordAlreadyExists... as a PDS with
`validate` does for an existing key). Run alone: `python -m tests.bskyfake --port 2583`.
"""

from __future__ import annotations

import argparse
import hashlib
from typing import Any

import regex
from aiohttp import web

HANDLE = "bot.test"
PASSWORD = "app-pass-test"  # the fake's seeded account, not a real credential
DID = "did:plc:travelinfobot"
JWT = "fake-access-jwt"

RECORDS: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("records", dict)
ORDER: web.AppKey[list[str]] = web.AppKey("order", list)
FAULTS: web.AppKey[list[int]] = web.AppKey("faults", list)


def _error(status: int, error: str, message: str = "") -> web.Response:
    return web.json_response({"error": error, "message": message or error}, status=status)


async def create_session(request: web.Request) -> web.Response:
    body = await request.json()
    if body.get("identifier") not in (HANDLE, DID) or body.get("password") != PASSWORD:
        return _error(401, "AuthenticationRequired", "Invalid identifier or password")
    return web.json_response({"accessJwt": JWT, "refreshJwt": "r", "did": DID, "handle": HANDLE})


def _check_post(record: dict[str, Any], records: dict[str, dict[str, Any]]) -> str | None:
    text = record.get("text")
    if not isinstance(text, str) or len(regex.findall(r"\X", text)) > 300 or len(text.encode()) > 3000:
        return "Record/text must not be longer than 300 graphemes"
    size = len(text.encode())
    for facet in record.get("facets") or []:
        i = facet["index"]
        if not 0 <= i["byteStart"] < i["byteEnd"] <= size:
            return "facet index out of range"
    reply = record.get("reply")
    if reply:
        for ref in (reply["root"], reply["parent"]):
            found = records.get(ref["uri"])
            if found is None or found["cid"] != ref["cid"]:
                return f"reply ref {ref['uri']} does not exist"
    return None


async def create_record(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != f"Bearer {JWT}":
        return _error(401, "AuthenticationRequired")
    faults = request.app[FAULTS]
    if faults:
        return _error(faults.pop(0), "InternalServerError")
    body = await request.json()
    if body.get("repo") != DID or body.get("collection") != "app.bsky.feed.post":
        return _error(400, "InvalidRequest", "unknown repo or collection")
    rkey = str(body.get("rkey") or "")
    if not regex.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", rkey):
        return _error(400, "InvalidRequest", "rkey must be a TID")
    uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
    records = request.app[RECORDS]
    if uri in records:
        return _error(400, "RecordAlreadyExists", f"Record already exists: {uri}")
    problem = _check_post(body["record"], records)
    if problem:
        return _error(400, "InvalidRecord", problem)
    cid = "bafy" + hashlib.sha256(repr(body["record"]).encode()).hexdigest()[:40]
    records[uri] = {"uri": uri, "cid": cid, "value": body["record"]}
    request.app[ORDER].append(uri)
    return web.json_response({"uri": uri, "cid": cid})


async def get_record(request: web.Request) -> web.Response:
    q = request.query
    uri = f"at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}"
    found = request.app[RECORDS].get(uri)
    return web.json_response(found) if found else _error(400, "RecordNotFound")


async def list_posts(request: web.Request) -> web.Response:
    """Test helper (not XRPC): every post in the order it was created."""
    records = request.app[RECORDS]
    return web.json_response([records[u] for u in request.app[ORDER]])


def make_app() -> web.Application:
    """The fake PDS application."""
    app = web.Application()
    app[RECORDS] = {}
    app[ORDER] = []
    app[FAULTS] = []
    app.router.add_post("/xrpc/com.atproto.server.createSession", create_session)
    app.router.add_post("/xrpc/com.atproto.repo.createRecord", create_record)
    app.router.add_get("/xrpc/com.atproto.repo.getRecord", get_record)
    app.router.add_get("/_fake/posts", list_posts)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a local fake Bluesky PDS for trying the bot")
    parser.add_argument("--port", type=int, default=2583)
    args = parser.parse_args()
    web.run_app(make_app(), host="127.0.0.1", port=args.port)
