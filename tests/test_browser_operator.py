"""The operator UI in Debian chromium: keyboard only from sign-in to "end now", CSRF, isolation, axe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from apputil import Running
from checkutil import axe, chromium, needs_axe, needs_chromium
from operatorutil import ORG, OTHER, local, operator_app, operator_settings
from waiting import wait_until

from travelinfo.api.keys import create_key
from travelinfo.notices.audit import read_audit
from travelinfo.store.base import Store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    needs_chromium,
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Store, Running, dict[str, str]]]:
    async with operator_app("sqlite", tmp_path_factory.mktemp("operator")) as (store, run):
        tokens = {
            "ports": (await create_key(store, "ports", ["notices:write"], ORG))[1],
            "wax": (await create_key(store, "wax", ["notices:write"], OTHER))[1],
        }
        yield store, run, tokens


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def tab_to(page: Any, ident: str, limit: int = 120) -> None:
    """Press Tab until the element with id `ident` has the focus (keyboard only, like a person)."""
    for _ in range(limit):
        if await page.evaluate("document.activeElement && document.activeElement.id") == ident:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{ident}")


async def type_into(page: Any, ident: str, text: str) -> None:
    await tab_to(page, ident)
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Backspace")
    if text:
        await page.keyboard.type(text)


async def sign_in(page: Any, url: str, token: str) -> None:
    await page.goto(url + "/operator?lang=sv")
    await type_into(page, "token", token)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def press_enter_on(page: Any, ident: str) -> None:
    await tab_to(page, ident)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def test_keyboard_only_create_preview_publish_edit_end(site: Any, browser: Any) -> None:
    store, run, tokens = site
    context = await browser.new_context(locale="sv-SE")
    page = await context.new_page()
    try:
        await sign_in(page, run.url, tokens["ports"])
        assert await page.locator("h1").inner_text() == "Organisationens meddelanden"
        await press_enter_on(page, "new-link")
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        await type_into(page, "notice_id", "kaj3")
        await type_into(page, "header_sv", "Frihamnen kaj 3 stängd")
        await type_into(page, "header_en", "Frihamnen quay 3 closed")
        await type_into(page, "description_sv", "Anlöp flyttas till Värtahamnen.")
        await tab_to(page, "mode-ferry")
        await page.keyboard.press("Space")
        await tab_to(page, "cause")
        await page.keyboard.type("Underhåll")
        await tab_to(page, "severity")
        await page.keyboard.type("Allvarlig")
        await type_into(page, "start_0", local(now - timedelta(minutes=30)))
        await type_into(page, "end_0", local(now + timedelta(days=1)))
        await tab_to(page, "geometry_kind")
        await page.keyboard.type("Punkt")
        await type_into(page, "coords", "59.3419, 18.1167")
        await press_enter_on(page, "preview")

        # The preview is the public page's template: its article, badges and facts.
        article = page.locator("article.detail")
        assert "Frihamnen kaj 3 stängd" in await article.locator("h1").inner_text()
        assert "Allvarlig" in await article.inner_text() and "Underhåll" in await article.inner_text()
        assert await store.get(f"{ORG}:kaj3") is None
        await press_enter_on(page, "publish")
        assert await page.locator("#state").inner_text() == "Pågår"
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.periods[0].start == now - timedelta(minutes=30)
        assert d.periods[0].end == now + timedelta(days=1) and d.severity == "SEVERE"

        async def on_front_page(text: str) -> bool:
            await page.goto(run.url + "/?lang=sv")
            return text in await page.locator("main").inner_text()

        await wait_until(lambda: on_front_page("Frihamnen kaj 3 stängd"), what="the notice on /")

        await page.goto(run.url + "/operator/n/kaj3?lang=sv")
        await press_enter_on(page, "edit-link")
        assert await page.locator("#end_0").input_value() == local(now + timedelta(days=1))
        await type_into(page, "header_sv", "Frihamnen kaj 3 stängd hela veckan")
        await press_enter_on(page, "preview")
        await press_enter_on(page, "publish")
        await wait_until(lambda: on_front_page("kaj 3 stängd hela veckan"), what="the edit on /")

        await page.goto(run.url + "/operator/n/kaj3?lang=sv")
        await press_enter_on(page, "end-now")
        assert await page.locator("#state").inner_text() == "Avslutad"
        assert await page.locator("#end-now").count() == 0
        await page.goto(run.url + f"/d/{ORG}:kaj3?lang=sv")

        async def public_ended() -> bool:
            await page.reload()
            return await page.locator("article.detail.ended").count() == 1

        await wait_until(public_ended, what="the public page to show the notice ended")
        assert "Avslutad" in await page.locator("article .meta").inner_text()
        actions = [e["action"] for e in await read_audit(store, org=ORG) if e["notice"] == f"{ORG}:kaj3"]
        assert actions == ["create", "update", "end"]
    finally:
        await context.close()


async def test_forged_posts_are_refused(site: Any, browser: Any) -> None:
    store, run, tokens = site
    context = await browser.new_context()
    page = await context.new_page()
    # An attacker's page on another site posts a form at the operator UI.
    evil = web.Application()

    async def attack(_: web.Request) -> web.Response:
        target = f"{run.url}/operator/save"
        html = (
            f'<!DOCTYPE html><html lang="en"><title>x</title><form method="post" action="{target}">'
            '<input name="header_sv" value="Forged"><input name="modes" value="road">'
            '<button id="go">go</button></form></html>'
        )
        return web.Response(text=html, content_type="text/html")

    evil.router.add_get("/", attack)
    runner = web.AppRunner(evil)
    await runner.setup()
    tcp = web.TCPSite(runner, "localhost", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    try:
        await sign_in(page, run.url, tokens["ports"])
        await page.goto(f"http://localhost:{port}/")
        async with page.expect_navigation():
            await page.click("#go")
        assert (
            "403" in await page.title()
            or "CSRF" in await page.content()
            or "signed in" in await page.content()
        )
        # The same-site case: the session cookie is sent, the token is missing.
        resp = await page.request.post(
            run.url + "/operator/save", form={"header_sv": "Forged", "modes": "road"}
        )
        assert resp.status == 403 and "CSRF" in await resp.text()
        drafts = await store.list_records("notice_draft")
        assert not [d for d in drafts if "Forged" in str(d)]
    finally:
        await context.close()
        await runner.cleanup()


async def test_another_organisations_notice_is_404(site: Any, browser: Any) -> None:
    _, run, tokens = site
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, run.url, tokens["ports"])
        await page.goto(run.url + "/operator/new?lang=en")
        await type_into(page, "notice_id", "own1")
        await type_into(page, "header_sv", "Egen")
        await tab_to(page, "mode-bus")
        await page.keyboard.press("Space")
        await press_enter_on(page, "preview")
        await press_enter_on(page, "publish")
        other = await browser.new_context()
        p2 = await other.new_page()
        await sign_in(p2, run.url, tokens["wax"])
        for path in ("/operator/n/own1", "/operator/n/own1/edit", "/operator/n/own1/preview"):
            resp = await p2.goto(run.url + path)
            assert resp.status == 404, path
        await p2.goto(run.url + "/operator")
        assert "Egen" not in await p2.locator("main").inner_text()
        await other.close()
    finally:
        await context.close()


async def test_approval_flow(browser: Any, tmp_path: Path) -> None:
    async with operator_app("sqlite", tmp_path, operator_settings(approval=True)) as (store, run):
        _, writer = await create_key(store, "writer", ["notices:write"], ORG)
        _, chief = await create_key(store, "chief", ["notices:approve"], ORG)
        w_ctx, c_ctx = await browser.new_context(), await browser.new_context()
        try:
            w = await w_ctx.new_page()
            await sign_in(w, run.url, writer)
            await w.goto(run.url + "/operator/new?lang=sv")
            await type_into(w, "notice_id", "kaj9")
            await type_into(w, "header_sv", "Kaj 9 stängd")
            await tab_to(w, "mode-ferry")
            await w.keyboard.press("Space")
            await press_enter_on(w, "preview")
            assert await w.locator("#publish").inner_text() == "Skicka för godkännande"
            await press_enter_on(w, "publish")
            assert "Väntar på godkännande" in await w.locator("main").inner_text()
            assert await store.get(f"{ORG}:kaj9") is None

            c = await c_ctx.new_page()
            await sign_in(c, run.url, chief)
            await c.goto(run.url + "/operator/n/kaj9/preview?lang=sv")
            await press_enter_on(c, "approve")
            assert await c.locator("#state").inner_text() == "Pågår"
            d = await store.get(f"{ORG}:kaj9")
            assert d is not None and d.status == "active"
        finally:
            await w_ctx.close()
            await c_ctx.close()


@pytest.mark.slow  # 24 axe runs and sign-ins: about 30 s per colour scheme on a loaded machine
@needs_axe
@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_on_the_operator_pages(site: Any, browser: Any, scheme: str) -> None:
    _, run, tokens = site
    context = await browser.new_context(bypass_csp=True, color_scheme=scheme)
    page = await context.new_page()
    failures = []

    async def check(what: str) -> None:
        failures.extend((scheme, what, v["id"], v["help"], len(v["nodes"])) for v in await axe(page))

    try:
        for lang in ("sv", "en"):
            await page.goto(f"{run.url}/operator?lang={lang}")
            await check(f"sign-in {lang}")
            await sign_in(page, run.url, tokens["ports"])
            await page.goto(f"{run.url}/operator?lang={lang}")
            await check(f"list {lang}")
            await page.goto(f"{run.url}/operator/new?lang={lang}")
            await check(f"form {lang}")
            await type_into(page, "start_0", "2027-03-28 02:30")
            await type_into(page, "q", "Liljeholmen")
            await tab_to(page, "q")
            async with page.expect_navigation():
                await page.keyboard.press("Enter")  # Enter in the search field searches
            await check(f"form with hits {lang}")
            assert "Liljeholmen" in await page.locator("main").inner_text()
            await press_enter_on(page, "preview")
            await check(f"form with errors {lang}")
            await type_into(page, "start_0", "")
            await type_into(page, "notice_id", f"axe-{lang}-{scheme}")
            await type_into(page, "header_sv", "Tillgänglighet")
            await tab_to(page, "mode-bus")
            await page.keyboard.press("Space")
            await press_enter_on(page, "preview")
            await check(f"preview {lang}")
            await press_enter_on(page, "publish")
            await check(f"notice {lang}")
            await page.goto(f"{run.url}/operator?lang={lang}")
            async with page.expect_navigation():
                await page.click("form.signout button")
    finally:
        await context.close()
    assert failures == [], failures


async def test_drawing_on_the_map_fills_the_coordinates(site: Any, browser: Any) -> None:
    """With JavaScript, clicks on the form's map become the typed coordinates the server reads."""
    _, run, tokens = site
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, run.url, tokens["ports"])
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(run.url + "/operator/new?lang=en")
        await page.locator("#opmap:not([hidden])").scroll_into_view_if_needed()
        box = await page.locator("#opmap").bounding_box()
        assert box is not None
        await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert await page.locator("#geometry_kind").input_value() == "point"
        (lat, lon) = (float(x) for x in (await page.locator("#coords").input_value()).split(","))
        assert abs(lat - 59.33) < 0.05 and abs(lon - 18.07) < 0.1  # the map opens on Stockholm
        await page.select_option("#geometry_kind", "area")
        for dx, dy in ((-60, -40), (60, -40), (0, 50)):
            await page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy)
        lines = (await page.locator("#coords").input_value()).splitlines()
        assert len(lines) == 4
        assert await page.locator("#opmap path.leaflet-interactive").count() >= 1  # the area drawn
        assert errors == []
    finally:
        await context.close()
