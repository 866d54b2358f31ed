"""Web Push end to end: a matching change in the store reaches a loopback push service, checked there.

The push service verifies the VAPID JWT (audience, expiry, ES256 signature against the key it
carries, which must be the service's published key) and decrypts the aes128gcm body with the
subscriber's private key and auth secret, both made by the test as a browser would.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from pushservice import push_service
from storeutil import batch, item, redis_cleanup
from waiting import wait_until
from webpushutil import local, running, settings_for, subscribe

KINDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
MORNING = "2026-12-01 07:15"  # a Tuesday, inside 06:30-09:00
NOON = "2026-12-01 12:00"  # the same day, outside every window


def ferry(upstream: str, at: str, **kw: object):  # type: ignore[no-untyped-def]
    d = item(upstream, local(at), modes=("ferry",), **kw)  # type: ignore[arg-type]
    return d.replace(header={"sv": f"Inställd tur {upstream}", "en": f"Cancelled sailing {upstream}"})


async def apply(store, at: str, *items) -> list:  # type: ignore[no-untyped-def]
    return await store.apply(batch(list(items), local(at), complete=False))


@pytest.mark.parametrize("kind", KINDS)
async def test_matching_change_is_pushed_encrypted_signed_and_only_in_the_window(
    kind: str, tmp_path: Path
) -> None:
    settings, prefix = settings_for(kind, tmp_path)
    try:
        async with push_service() as ps, running(settings) as app, aiohttp.ClientSession() as http:
            alice = ps.add("alice")
            async with http.get(f"{app.url}/api/v1/push/vapid-public-key") as r:
                assert r.status == 200
                public = (await r.json())["public_key"]
            windows = [{"days": WEEKDAYS, "from": "06:30", "to": "09:00"}]
            sub = await subscribe(
                http,
                app.url,
                alice.subscription(ps.base),
                filters={"mode": "ferry"},
                windows=windows,
                lang="en",
            )
            assert sub["secret"] and sub["vapid_public_key"] == public
            assert sub["windows"] == windows and sub["lang"] == "en"

            created = await apply(app.store, MORNING, ferry("vaxholm-1", MORNING))
            await wait_until(lambda: len(ps.of("alice")) == 1, 20, "the first push")
            first = ps.of("alice")[0]
            did = created[0].disruption.id
            assert first.vapid_key == public  # signed with the key the browser subscribed with
            assert first.claims["aud"] == ps.base
            assert first.payload["title"] == "New disruption: Cancelled sailing vaxholm-1"
            assert first.payload["url"] == f"{settings.public_url}/d/{did}"
            assert first.payload["lang"] == "en" and first.payload["kind"] == "new"
            assert first.payload["unsubscribe"]["secret"] == sub["secret"]
            assert first.headers["Urgency"] == "normal" and 1 <= len(first.topic) <= 32

            # Nothing for these: a road item (not followed) and a ferry item outside the window.
            await apply(app.store, MORNING, item("e18", local(MORNING), modes=("road",)))
            await apply(app.store, NOON, ferry("vaxholm-2", NOON))
            # The same item worse: an update with the same Topic (it replaces the first on the device).
            await apply(app.store, MORNING, ferry("vaxholm-1", MORNING, severity="SEVERE"))
            await wait_until(lambda: len(ps.of("alice")) == 2, 20, "the update")
            second = ps.of("alice")[1]
            assert second.payload["kind"] == "worse" and second.payload["id"] == did
            assert second.topic == first.topic and second.headers["Urgency"] == "high"
            assert second.payload["title"].startswith("Worse: ")

            # All clear only for what she was told about: vaxholm-1, not vaxholm-2 (quiet at noon).
            ended = [ferry("vaxholm-1", MORNING, ended=True), ferry("vaxholm-2", MORNING, ended=True)]
            await apply(app.store, MORNING, *ended)
            await apply(app.store, MORNING, ferry("vaxholm-3", MORNING))  # a marker after them
            await wait_until(lambda: len(ps.of("alice")) == 4, 20, "the all-clear and the marker")
            cleared, marker = ps.of("alice")[2:]
            assert cleared.payload["kind"] == "cleared" and cleared.payload["id"] == did
            assert cleared.payload["body"] == "Traffic is back to normal" and cleared.topic == first.topic
            assert marker.payload["title"] == "New disruption: Cancelled sailing vaxholm-3"
            assert ps.errors == [] and ps.requests == ["alice"] * 4
    finally:
        if prefix:
            await redis_cleanup(prefix)


async def test_swedish_subscriber_gets_swedish_text(tmp_path: Path) -> None:
    settings, _ = settings_for("sqlite", tmp_path)
    async with push_service() as ps, running(settings) as app, aiohttp.ClientSession() as http:
        await subscribe(http, app.url, ps.add("bo").subscription(ps.base), filters={"mode": "ferry"})
        await apply(app.store, NOON, ferry("ljusterö", NOON))
        await wait_until(lambda: ps.of("bo"), 20, "the push")
        payload = ps.of("bo")[0].payload
        assert payload["title"] == "Ny störning: Inställd tur ljusterö" and payload["lang"] == "sv"
        assert payload["actions"]["unsubscribe"] == "Sluta bevaka"
