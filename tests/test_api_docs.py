"""`/api/v1` answers an index; the docs page and the push endpoints refuse what the document
refuses (a 400 naming the parameter or header), and a resume point this store never had is a
`reset`, not a broken stream."""

from __future__ import annotations

import html
import json
from pathlib import Path

import aiohttp
from apputil import running_app
from storeutil import open_store

from travelinfo.api.openapi import document
from travelinfo.config import Settings
from travelinfo.web.i18n import CATALOGUE


async def test_index_links_resolve_and_docs_page_names_every_operation(tmp_path: Path) -> None:
    async with (
        open_store("sqlite", tmp_path) as store,
        running_app(store, Settings()) as r,
        aiohttp.ClientSession() as c,
    ):
        async with c.get(r.url + "/api/v1") as resp:
            assert resp.status == 200
            index = await resp.json()
        assert index["links"]["docs"] == "/api/v1/docs"
        for rel, path in index["links"].items():
            if rel in ("stream", "websocket", "webhooks", "notices"):
                continue  # a stream, an upgrade, keyed
            async with c.get(r.url + path) as resp:
                assert resp.status == 200, (rel, path)
        async with c.get(r.url + "/api/v1?x=1") as resp:
            assert resp.status == 400 and (await resp.json())["parameter"] == "x"
        async with c.get(r.url + "/api/v1/docs?lang=fi") as resp:
            assert resp.status == 400 and (await resp.json())["parameter"] == "lang"
        async with c.get(r.url + "/api/v1/docs?lang=sv") as resp:
            page = await resp.text()
            assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
        doc = document()
        ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
        assert len(ids) == len(set(ids)) >= 21
        for op_id in ids:
            assert f'id="{op_id}"' in page, op_id
        assert "<script" not in page  # works without JavaScript, nothing for the CSP to block


async def test_docs_page_chrome_comes_from_the_one_catalogue_in_each_language(tmp_path: Path) -> None:
    labels = {key: texts for key, texts in CATALOGUE.items() if key.startswith("api_")}
    assert len(labels) >= 15
    async with (
        open_store("sqlite", tmp_path) as store,
        running_app(store, Settings()) as r,
        aiohttp.ClientSession() as c,
    ):
        for lang, other in (("sv", "en"), ("en", "sv")):
            async with c.get(f"{r.url}/api/v1/docs?lang={lang}") as resp:
                page = html.unescape(await resp.text())
            assert f"<h1>{CATALOGUE['nav_api'][lang]}</h1>" in page
            missing = [key for key, texts in labels.items() if texts[lang] not in page]
            assert missing == [], (lang, missing)
            # Not the other language's chrome (words both languages share aside).
            leaked = [k for k, t in labels.items() if t[other] != t[lang] and f">{t[other]}<" in page]
            assert leaked == [], (lang, leaked)


async def test_push_refuses_what_the_document_refuses(tmp_path: Path) -> None:
    async with (
        open_store("sqlite", tmp_path) as store,
        running_app(store, Settings()) as r,
        aiohttp.ClientSession() as c,
    ):
        async with c.get(r.url + "/api/v1/ws") as resp:
            assert resp.status == 400
            assert "Upgrade" in (await resp.json())["error"]
        bad_key = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAB==",  # 16 bytes, but not canonical base64
        }
        async with c.get(r.url + "/api/v1/ws", headers=bad_key) as resp:
            assert resp.status == 400
            assert "Sec-WebSocket-Key" in (await resp.json())["error"]
        for query, parameter in (("snapshot=2", "snapshot"), ("since=", "since")):
            async with c.get(r.url + "/api/v1/stream?" + query, headers={"Last-Event-ID": "5"}) as resp:
                assert resp.status == 400
                assert (await resp.json())["parameter"] == parameter
        # A Redis stream id given to the SQLite store: the whole set as `reset`.
        async with c.get(r.url + "/api/v1/stream", headers={"Last-Event-ID": "1700000000000-0"}) as resp:
            assert resp.status == 200
            lines = []
            while len(lines) < 6:
                line = (await resp.content.readline()).decode().strip()
                if line:
                    lines.append(line)
                if line.startswith("data:"):
                    break
        assert "event: reset" in lines
        assert json.loads(lines[-1][5:])["type"] == "reset"
