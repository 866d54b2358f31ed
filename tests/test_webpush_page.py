"""The /watch page over real HTTP: valid HTML (Nu checker), hostile prefill escaped, CSP, bad input 400."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from checkutil import needs_vnu, nu_check
from storeutil import batch, item
from webpushutil import running, settings_for

WEB = frozenset({"web"})


async def test_watch_page_escapes_prefill_and_sends_a_csp(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        hostile = '"><script>window.pwned=1</script>'
        async with http.get(f"{app.url}/watch", params={"lang": "en", "road": hostile, "mode": "ferry"}) as r:
            html = await r.text()
            assert r.status == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert "<script>window.pwned" not in html and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
        assert 'value="ferry" checked' in html and "<h1>Watch</h1>" in html
        async with http.get(f"{app.url}/watch") as r:
            assert "<h1>Bevaka</h1>" in await r.text()
        for params in ({"lang": "de"}, {"mode": "plane"}, {"route": "x" * 201}):
            async with http.get(f"{app.url}/watch", params=params) as r:
                assert r.status == 400, params


async def test_each_disruption_links_to_watch_its_modes(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        now = datetime.now(UTC)
        d = item("boat", now, modes=("ferry",))
        await app.store.apply(batch([d], now, complete=False))
        async with http.get(f"{app.url}/d/{d.id}?lang=sv") as r:
            html = await r.text()
        assert '<a href="/watch?lang=sv&amp;mode=ferry">Bevaka</a>' in html


@needs_vnu
async def test_nu_html_checker_reports_no_errors_on_watch(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    pages = {}
    async with running(settings, WEB) as app, aiohttp.ClientSession() as http:
        for name, query in (("sv", ""), ("en", "?lang=en&route=43&mode=bus,ferry")):
            async with http.get(f"{app.url}/watch{query}") as r:
                pages[f"watch-{name}"] = await r.text()
    await nu_check(pages, tmp_path)
