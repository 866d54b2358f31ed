"""Token buckets and the /api/ rate-limit middleware (per API key, else per client address)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from apputil import running_app
from storeutil import open_store

from travelinfo.api.keys import create_key
from travelinfo.api.ratelimit import Limiter
from travelinfo.config import Settings


def test_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    lim = Limiter(clock=lambda: now[0])
    assert [lim.check("a", 2, 3) for _ in range(3)] == [0, 0, 0]
    assert lim.check("a", 2, 3) == 0.5  # one token takes half a second at 2/s
    assert lim.check("b", 2, 3) == 0  # buckets are independent
    now[0] += 0.5
    assert lim.check("a", 2, 3) == 0
    now[0] += 100
    assert [lim.check("a", 2, 3) for _ in range(4)][-1] > 0  # never more than the burst
    assert lim.check("c", 0, 1) == 0  # rate 0: unlimited


async def test_429_with_retry_after_per_address_and_per_key(tmp_path: Path) -> None:
    s = Settings()
    s.api.rate_per_ip = 0.5
    s.api.rate_per_key = 0.5
    s.api.burst = 3
    async with open_store("sqlite", tmp_path) as store, running_app(store, s) as r:
        _, token = await create_key(store, "app", ["read"])
        async with aiohttp.ClientSession() as c:
            codes = []
            for _ in range(4):
                async with c.get(r.url + "/api/v1/disruptions") as resp:
                    codes.append(resp.status)
                    if resp.status == 429:
                        assert resp.headers["Retry-After"] == "2"
                        assert "rate limit" in (await resp.json())["error"]
                        assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert codes == [200, 200, 200, 429]
            # Pages outside /api/ are not limited; a valid key has its own bucket.
            async with c.get(r.url + "/healthz") as resp:
                assert resp.status == 200
            auth = {"Authorization": f"Bearer {token}"}
            keyed = [(await c.get(r.url + "/api/v1/sources", headers=auth)).status for _ in range(4)]
            assert keyed == [200, 200, 200, 429]
            # An unknown token counts against the address, which is still empty.
            bogus = {"Authorization": "Bearer ti_nope_nope"}
            async with c.get(r.url + "/api/v1/sources", headers=bogus) as resp:
                assert resp.status == 429


async def test_a_stream_counts_once_at_connect(tmp_path: Path) -> None:
    s = Settings()
    s.api.rate_per_ip = 0.1
    s.api.burst = 2
    s.push.heartbeat = 0.05
    async with (
        open_store("sqlite", tmp_path) as store,
        running_app(store, s) as r,
        aiohttp.ClientSession() as c,
        c.get(r.url + "/api/v1/stream") as resp,
    ):
        assert resp.status == 200
        for _ in range(6):  # retry hint, blank, then heartbeats keep flowing
            assert await resp.content.readline()
        async with c.get(r.url + "/api/v1/disruptions") as again:
            assert again.status == 200
        async with c.get(r.url + "/api/v1/disruptions") as again:
            assert again.status == 429


async def test_ratelimit_fields_say_where_the_caller_stands(tmp_path: Path) -> None:
    s = Settings()
    s.api.rate_per_ip = 2
    s.api.rate_per_key = 10
    s.api.burst = 4
    async with open_store("sqlite", tmp_path) as store, running_app(store, s) as r:
        _, token = await create_key(store, "app", ["read"])
        async with aiohttp.ClientSession() as c:
            seen = []
            for _ in range(5):
                async with c.get(r.url + "/api/v1/disruptions") as resp:
                    seen.append((resp.status, resp.headers.get("RateLimit")))
                    # The IETF draft's fields: 4 requests, refilled completely in 2 s at 2/s.
                    assert resp.headers["RateLimit-Policy"] == '"address";q=4;w=2'
                    assert "RateLimit" in resp.headers["Access-Control-Expose-Headers"]
            remaining = [int(v.split(";r=")[1].split(";")[0]) for _, v in seen if v]
            assert [code for code, _ in seen] == [200, 200, 200, 200, 429]
            assert remaining == [3, 2, 1, 0, 0]
            assert seen[-1][1] is not None and seen[-1][1].endswith(";t=2")
            # A 304 and an error are charged too, and say so; a key has its own policy.
            auth = {"Authorization": f"Bearer {token}"}
            async with c.get(r.url + "/api/v1/disruptions?nope=1", headers=auth) as resp:
                assert resp.status == 400
                assert resp.headers["RateLimit-Policy"] == '"key";q=4;w=1'
                assert resp.headers["RateLimit"] == '"key";r=3;t=1'
            async with c.get(r.url + "/api/v1/sources", headers=auth) as resp:
                etag = resp.headers.get("ETag")
            if etag:
                async with c.get(r.url + "/api/v1/sources", headers={**auth, "If-None-Match": etag}) as resp:
                    assert resp.status == 304 and resp.headers["RateLimit"].startswith('"key";r=')
            async with c.get(r.url + "/status") as resp:  # pages are not limited
                assert "RateLimit" not in resp.headers


async def test_no_ratelimit_fields_while_the_limit_is_off(tmp_path: Path) -> None:
    s = Settings()
    s.api.rate_per_ip = 0
    async with (
        open_store("sqlite", tmp_path) as store,
        running_app(store, s) as r,
        aiohttp.ClientSession() as c,
        c.get(r.url + "/api/v1/disruptions") as resp,
    ):
        assert resp.status == 200
        assert "RateLimit" not in resp.headers and "RateLimit-Policy" not in resp.headers
