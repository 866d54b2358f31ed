"""Hostile request bodies, WebSocket messages, texts and files: precise errors, never a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import running_app
from lxml import etree, html
from storeutil import batch, item, open_store
from test_notices_api import ORG, notice, test_settings

from travelinfo.api.keys import create_key
from travelinfo.cli import main
from travelinfo.config import Settings
from travelinfo.notices.audit import record_audit
from travelinfo.runtime.jsonbody import MAX_DEPTH, BadJson, decode_json
from travelinfo.store import open_store_from_url

DEEP = [
    b"[" * 100_000,
    b"[" * 5_000 + b"]" * 5_000,  # well-formed, too deep for later recursion
    b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
]
BROKEN = [b"\xff\xfe{}", b'{"url": "\xc3"}', b'{"a": NaN}', b"[Infinity]", b"", b"{", b'"\\ud800"x']


def test_decode_json_refuses_every_hostile_shape_with_badjson() -> None:
    for raw in DEEP + BROKEN:
        with pytest.raises(BadJson):
            decode_json(raw)
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert decode_json(nested) is not None  # exactly at the cap is fine
    assert decode_json('{"ok": [1, {"two": 2}]}') == {"ok": [1, {"two": 2}]}


def assert_json_error(status: int, body: bytes, want: int = 400) -> str:
    assert status == want, body[:200]
    data = json.loads(body)
    assert set(data) >= {"error"} and isinstance(data["error"], str)
    assert "Traceback" not in data["error"] and "RecursionError" not in data["error"]
    return str(data["error"])


async def test_webhook_and_notice_bodies_give_400_json_and_the_service_keeps_running(tmp_path: Path) -> None:
    store = open_store_from_url(f"sqlite:///{tmp_path / 's.db'}")
    async with running_app(store, test_settings()) as r, aiohttp.ClientSession() as http:
        _, hooks = await create_key(store, "hooks", ["webhooks"])
        _, notes = await create_key(store, "ops", ["notices:write"], ORG)
        for raw in DEEP + BROKEN:
            for path, token in (("/api/v1/webhooks", hooks), ("/api/v1/notices", notes)):
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                async with http.post(r.url + path, data=raw, headers=headers) as resp:
                    error = assert_json_error(resp.status, await resp.read())
                    assert "JSON" in error, error
        async with http.get(r.url + "/healthz") as resp:
            assert resp.status == 200
        # A good body still works after all that.
        headers = {"Authorization": f"Bearer {notes}"}
        async with http.post(r.url + "/api/v1/notices", json=notice(), headers=headers) as resp:
            assert resp.status == 201


@pytest.mark.parametrize(
    ("field", "value", "path", "code"),
    [
        ("affected", [{"type": "port", "id": "SESTO\x1b[2J", "name": "x"}], "affected[0].id", "U+001B"),
        ("affected", [{"type": "port", "id": "A", "name": "Fri\u202ehamnen"}], "affected[0].name", "U+202E"),
        ("affected", [{"type": "port", "id": "A", "name": "Fri\nhamnen"}], "affected[0].name", "U+000A"),
        ("affected", [{"type": "port", "id": "A\x85", "name": "x"}], "affected[0].id", "U+0085"),
        ("header", {"sv": "Kaj \u2066stängd\u2069"}, "header.sv", "U+2066"),
        ("description", {"en": "quay \u202aclosed"}, "description.en", "U+202A"),
        ("location_text", {"sv": "kaj\x9b31m"}, "location_text.sv", "U+009B"),
    ],
)
async def test_notice_fields_refuse_control_and_bidi_characters(
    tmp_path: Path, field: str, value: object, path: str, code: str
) -> None:
    store = open_store_from_url(f"sqlite:///{tmp_path / 's.db'}")
    async with running_app(store, test_settings()) as r, aiohttp.ClientSession() as http:
        _, token = await create_key(store, "ops", ["notices:write"], ORG)
        body = notice(**{field: value})
        async with http.post(
            r.url + "/api/v1/notices", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            data = await resp.json()
        assert resp.status == 400, data
        assert list(data["fields"]) == [path]
        assert code in data["fields"][path] and "position" in data["fields"][path]
        assert await store.list_records("notice") == []


async def test_websocket_message_of_5000_brackets_closes_1007_with_json(tmp_path: Path) -> None:
    async with (
        open_store("sqlite", tmp_path) as store,
        running_app(store) as r,
        aiohttp.ClientSession() as http,
    ):
        ws_url = r.url.replace("http", "ws") + "/api/v1/ws"
        for message in ("[" * 5000, "[" * 5000 + "]" * 5000, '{"subscribe": {}, "since": NaN}'):
            async with http.ws_connect(ws_url) as ws:
                await ws.send_str(message)
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.CLOSE
                assert msg.data == aiohttp.WSCloseCode.INVALID_TEXT
                reason = json.loads(msg.extra)
                assert reason["error"].startswith("messages must be JSON")
        async with http.ws_connect(ws_url) as ws:  # over push.MAX_WS_MESSAGE (16 KiB)
            await ws.send_str(json.dumps({"subscribe": {"route": "x" * 20_000}}))
            msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        async with http.ws_connect(ws_url) as ws:  # the handler is fine for the next client
            await ws.send_json({"subscribe": {}, "snapshot": True})
            first = await ws.receive_json(timeout=5)
            assert first["type"] == "snapshot"


async def test_rss_description_is_escaped_plain_text(tmp_path: Path) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    desc = 'Se <b>karta</b> <img src=x onerror="alert(1)"> & <a href="javascript:x">här</a>\nRad två'
    async with open_store("sqlite", tmp_path) as store:
        await store.apply(batch([item("hostile-1", at, description=desc)], at))
        settings = Settings()
        settings.web.region = []
        async with (
            running_app(store, settings) as r,
            aiohttp.ClientSession() as http,
            http.get(r.url + "/feeds/disruptions.rss?lang=sv") as resp,
        ):
            assert resp.status == 200
            body = await resp.read()
    descriptions = [d.text or "" for d in etree.fromstring(body).xpath("//item/description")]
    assert len(descriptions) == 1
    # What an RSS reader does: XML-decode, then read the description as HTML.
    fragment = html.fragment_fromstring(descriptions[0], create_parent="div")
    assert {el.tag for el in fragment.iter()} <= {"div", "br"}  # no upstream element survives
    assert fragment.text_content().startswith(desc.split("\n")[0])
    assert "Rad två" in fragment.text_content()


async def test_audit_and_cli_output_escape_control_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("TRAVELINFO_STORE", url)
    store = open_store_from_url(url)
    await store.open()
    try:
        key, _ = await create_key(store, "ops\x1b]0;pwned\x07", ["notices:write"], ORG)
        rec = {"id": f"{ORG}:kaj3", "revision": 1}
        changes = {"header.sv": {"from": None, "to": "Kaj\u202e3\x9b2J"}}  # written before validation
        await record_audit(store, key, "create", rec, changes, datetime.now(UTC))
    finally:
        await store.close()
    for argv in (["audit"], ["audit", "--json"], ["keys", "list"]):
        code = await asyncio.to_thread(main, argv)
        out, _ = capsys.readouterr()
        assert code == 0 and out
        for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
            assert raw not in out, (argv, out)
        assert "\\x1b" in out or "\\u001b" in out
    code = await asyncio.to_thread(main, ["parse", "cap", str(tmp_path / "missing\x1b[2J.xml")])
    _, err = capsys.readouterr()
    assert code == 2 and "\x1b" not in err and "missing\\x1b[2J.xml" in err


async def test_sqlite_files_are_created_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        async with open_store("sqlite", tmp_path) as store:
            await store.put_record("webhook", "w1", {"secret": "s" * 32})
            files = [tmp_path / n for n in ("store.db", "store.db-wal", "store.db-shm")]
            assert all(f.exists() for f in files)
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        assert modes == dict.fromkeys(modes, 0o600), modes
        # A file left world-readable by an older version is tightened on open.
        (tmp_path / "store.db").chmod(0o644)
        async with open_store("sqlite", tmp_path):
            assert stat.S_IMODE((tmp_path / "store.db").stat().st_mode) == 0o600
    finally:
        os.umask(old)
