"""The SSRF guard: which addresses are refused, allowlists, IPv6 wrappers, and the delivery-time re-check.

Nothing here connects to a non-loopback address: literals are checked without DNS and `localhost`
resolves from /etc/hosts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from webhookutil import events, make_key, receiver, register, running, settings_for

from travelinfo.webhooks import ssrf

BLOCKED = {
    "127.0.0.1": "loopback",
    "127.5.6.7": "loopback",
    "::1": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "169.254.169.254": "cloud metadata",
    "fd00:ec2::254": "cloud metadata",
    "100.100.100.200": "cloud metadata",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "240.0.0.1": "reserved",
    "100.64.0.1": "not a public address",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "cloud metadata",
    "::10.0.0.1": "private",  # IPv4-compatible
    "2002:a00:1::": "private",  # 6to4 of 10.0.0.1
    "64:ff9b::a9fe:a9fe": "cloud metadata",  # NAT64 of 169.254.169.254
}


@pytest.mark.parametrize(("address", "why"), sorted(BLOCKED.items()))
def test_internal_addresses_are_refused(address: str, why: str) -> None:
    reason = ssrf.blocked_reason(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "194.68.78.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert ssrf.blocked_reason(ipaddress.ip_address(address)) is None


def test_allowlist_addresses_and_networks() -> None:
    allow = ssrf.parse_allow(["127.0.0.1", "10.1.0.0/16", "169.254.0.0/16"])
    ip = ipaddress.ip_address
    assert ssrf.blocked_reason(ip("127.0.0.1"), allow) is None
    assert ssrf.blocked_reason(ip("::ffff:127.0.0.1"), allow) is None  # the same host, mapped
    assert ssrf.blocked_reason(ip("127.0.0.2"), allow) is not None
    assert ssrf.blocked_reason(ip("::1"), allow) is not None
    assert ssrf.blocked_reason(ip("10.1.200.3"), allow) is None
    assert ssrf.blocked_reason(ip("10.2.0.1"), allow) is not None
    # A broad network does not open the metadata endpoint; only its exact address would.
    assert "metadata" in str(ssrf.blocked_reason(ip("169.254.169.254"), allow))
    exact = ssrf.parse_allow(["169.254.169.254"])
    assert ssrf.blocked_reason(ip("169.254.169.254"), exact) is None
    with pytest.raises(ValueError, match="allow_hosts"):
        ssrf.parse_allow(["intranet.example"])


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "absolute"),
        ("/relative/path", "absolute"),
        ("file:///etc/passwd", "http"),
        ("gopher://127.0.0.1/", "http"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://example.com/#frag", "fragment"),
        ("http://example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_url_syntax(url: str, words: str) -> None:
    with pytest.raises(ssrf.Refused, match=words):
        ssrf.check_url(url)


async def test_check_target_resolves_and_checks_every_address() -> None:
    with pytest.raises(ssrf.Refused, match="host 'localhost' resolves to"):
        await ssrf.check_target("http://localhost:8080/hook")
    allow = ssrf.parse_allow(["127.0.0.1", "::1"])
    target = await ssrf.check_target("http://localhost:8080/hook?x=1", allow)
    assert target.address in ("127.0.0.1", "::1")
    assert target.host_header() == "localhost:8080"
    assert str(target.request_url()).startswith(("http://127.0.0.1:8080/hook?x=1", "http://[::1]:8080/hook"))
    https = await ssrf.check_target("https://[::1]/x", ssrf.parse_allow(["::1"]))
    assert https.host_header() == "[::1]" and https.port == 443


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """`rebind.test` resolves to 127.0.0.1 once, then to 10.0.0.1 (which is never contacted)."""
    answers = {"n": 0}
    real = asyncio.BaseEventLoop.getaddrinfo

    async def fake(self: asyncio.BaseEventLoop, host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if host != "rebind.test":
            return await real(self, host, port, *args, **kw)
        answers["n"] += 1
        address = "127.0.0.1" if answers["n"] == 1 else "10.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", fake)


@pytest.mark.usefixtures("rebinding_dns")
async def test_delivery_rechecks_the_target(tmp_path: Path) -> None:
    """DNS rebinding: the name passed at registration, then points inside; the guard runs again
    right before each delivery, so no request is sent and the event is dead-lettered."""
    settings, _ = settings_for("sqlite", tmp_path, max_age=0.5)
    async with (
        receiver() as rx,
        running(settings, frozenset({"web", "deliver"})) as app,
        aiohttp.ClientSession() as http,
    ):
        token = await make_key(app.store, ["webhooks"])
        sub = await register(http, app.url, token, f"http://rebind.test:{rx.port}/hook")
        await events(app.store, 1, "rebind")

        async def state() -> dict[str, Any]:
            return await app.store.get_record("webhook_state", sub["id"]) or {}

        for _ in range(100):
            if (await state()).get("dead_letters"):
                break
            await asyncio.sleep(0.05)
        last = await state()
        assert last["dead_letters"] == 1 and last["state"] == "failing"
        assert "refused: host 'rebind.test' resolves to 10.0.0.1, a private address" in last["last_error"]
        assert rx.hits == []
