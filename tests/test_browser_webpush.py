"""Web Push in Debian chromium: the service worker registers, the watch form works by keyboard,
and a push delivered to the worker through the DevTools protocol shows the notification.

The browser's own push service (Google's, for Chromium) is the outside network: an init script
makes `pushManager.subscribe` return a subscription to the test's loopback push service, with
a key pair the test made. Everything else is real: the page, `/sw.js`, the API, the engine,
encryption and VAPID at the push service, and the decrypted payload handed to the worker with
`ServiceWorker.deliverPushMessage`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from checkutil import FITS, axe, launch, needs_axe, needs_chromium
from pushservice import push_service
from storeutil import batch, item
from waiting import wait_until
from webpushutil import running, settings_for

from travelinfo.webpush.records import SUB

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]

FAKE_PUSH_SERVICE = """
(() => {
  const fake = %s;
  PushManager.prototype.subscribe = async function () {
    return { endpoint: fake.endpoint, toJSON: () => fake, unsubscribe: async () => true };
  };
  PushManager.prototype.getSubscription = async function () { return null; };
})();
"""


def _ours(message: Any) -> bool:
    """Console errors of the page's own scripts (not the browser's own /favicon.ico request)."""
    return "favicon" not in str(message.location.get("url", ""))


async def _tab_to(page: Any, selector: str, limit: int = 40) -> None:
    """Press Tab until `selector` has the focus (as a keyboard user moves through the form)."""
    for _ in range(limit):
        if await page.evaluate(f"document.activeElement === document.querySelector({json.dumps(selector)})"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the keyboard focus")


async def test_watch_by_keyboard_then_a_push_shows_the_notification(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    settings, _ = settings_for("sqlite", tmp_path)
    async with push_service() as ps, running(settings) as app, async_playwright() as pw:
        browser = await launch(pw)
        try:
            context = await browser.new_context()
            await context.grant_permissions(["notifications"], origin=app.url)
            fake = ps.add("browser").subscription(ps.base)
            await context.add_init_script(FAKE_PUSH_SERVICE % json.dumps(fake))
            page = await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and _ours(m) else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            cdp = await context.new_cdp_session(page)
            registrations: list[dict[str, Any]] = []
            cdp.on(
                "ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"])
            )
            await cdp.send("ServiceWorker.enable")

            await page.goto(f"{app.url}/watch?lang=en")
            script = await page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
            assert script == f"{app.url}/sw.js"  # registered and active
            await _tab_to(page, "#watch-route")
            await page.keyboard.type("Vaxholmsbåten")
            await _tab_to(page, "input[name=mode][value=ferry]")
            await page.keyboard.press("Space")
            await _tab_to(page, "#watch-severity")
            await page.keyboard.press("Home")  # Information: the lowest offered
            await _tab_to(page, "#watch-submit")
            await page.keyboard.press("Enter")
            status = page.locator("#watch-status")
            await status.filter(has_text="Done!").wait_for(timeout=15000)
            stored = await app.store.list_records(SUB)
            assert len(stored) == 1 and stored[0]["endpoint"] == fake["endpoint"]
            assert stored[0]["filters"] == {"route": "Vaxholmsbåten", "mode": ["ferry"], "severity": "INFO"}
            assert stored[0]["lang"] == "en" and stored[0]["windows"][0]["from"] == "06:30"
            assert await page.locator("#watch-stop-button").is_visible()

            # A change in the store reaches the push service; its decrypted payload goes to the worker.
            stored[0]["windows"] = []  # now, whatever the time of day this test runs
            now = datetime.now(UTC)
            stored[0]["filters"] = {"mode": ["ferry"]}  # the demo item names no line
            await app.store.put_record(SUB, stored[0]["id"], stored[0])
            d = item("vax-1", now, modes=("ferry",)).replace(
                header={"sv": "Inställd tur", "en": "Cancelled sailing Vaxholmsbåten"}
            )
            await app.store.apply(batch([d], now, complete=False))
            await wait_until(lambda: ps.of("browser"), 30, "the push at the push service")
            payload = ps.of("browser")[0].payload
            await wait_until(lambda: registrations, 10, "the service worker registration")
            scope = f"{app.url}/"
            reg = next(r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"])
            message = {
                "origin": app.url,
                "registrationId": reg["registrationId"],
                "data": json.dumps(payload),
            }

            async def notifications() -> list[dict[str, Any]]:
                return await page.evaluate(  # type: ignore[no-any-return]
                    """async () => (await (await navigator.serviceWorker.ready).getNotifications())
                        .map(n => ({title: n.title, body: n.body, tag: n.tag, lang: n.lang, data: n.data}))"""
                )

            shown: list[dict[str, Any]] = []
            for _ in range(3):
                # An idle worker is stopped by the browser (30 s); start it, then hand it the push.
                await cdp.send("ServiceWorker.startWorker", {"scopeURL": scope})
                await cdp.send("ServiceWorker.deliverPushMessage", message)
                try:
                    shown = await wait_until(notifications, 10, "the notification", interval=0.25)
                    break
                except AssertionError:
                    continue  # the same tag: a second delivery replaces, never adds
            assert len(shown) == 1, shown
            assert shown[0]["title"] == "New disruption: Cancelled sailing Vaxholmsbåten"
            assert shown[0]["data"]["url"] == f"/d/{d.id}" and shown[0]["tag"] == payload["tag"]
            assert shown[0]["lang"] == "en"
            assert shown[0]["data"]["unsubscribe"]["secret"] == payload["unsubscribe"]["secret"]

            # "Stop watching" on the page deletes the subscription with its secret.
            await _tab_to(page, "#watch-stop-button")
            await page.keyboard.press("Enter")
            await status.filter(has_text="no longer").wait_for(timeout=15000)
            assert await app.store.list_records(SUB) == []
            assert errors == []
        finally:
            await browser.close()


@needs_axe
async def test_axe_finds_nothing_on_watch(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    settings, _ = settings_for("sqlite", tmp_path)
    async with running(settings, frozenset({"web"})) as app, async_playwright() as pw:
        browser = await launch(pw)
        try:
            for scheme in ("light", "dark"):
                # bypass_csp only so axe itself can be injected; the page under test is unchanged.
                context = await browser.new_context(bypass_csp=True, color_scheme=scheme)
                page = await context.new_page()
                for lang, width in (("sv", 320), ("en", 1280)):
                    await page.set_viewport_size({"width": width, "height": 800})
                    await page.goto(f"{app.url}/watch?lang={lang}")
                    violations = await axe(page)
                    assert violations == [], (scheme, lang, [v["id"] for v in violations])
                    assert await page.evaluate(FITS), (scheme, lang, width)
                await context.close()
        finally:
            await browser.close()
