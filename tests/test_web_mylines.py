"""My lines on `/` over plain HTTP: the `mylines` cookie orders the list; a hostile cookie is ignored."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from apputil import Running
from multidict import CIMultiDict
from storeutil import open_store
from test_web_pages import fill, serve

from travelinfo.store.base import Query

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path) as store:
        await fill(store, datetime.now(UTC))
        async with serve(store) as running:
            yield running


async def front(site: Running, cookie: str | None, **headers: str) -> tuple[int, str, CIMultiDict[str]]:
    jar = {"Cookie": f"mylines={cookie}"} if cookie is not None else {}
    async with aiohttp.ClientSession() as s, s.get(site.url + "/?lang=sv", headers={**jar, **headers}) as r:
        return r.status, await r.text(), CIMultiDict(r.headers)


async def e4_ids(site: Running) -> list[str]:
    """The oracle: active items with an affected road E4 (planned ones stay under "planned")."""
    items, _ = await site.store.query(Query(status=("active",)))
    return sorted(d.id for d in items if any(a.type == "road" and a.id == "E4" for a in d.affected))


def mine_ids(page: str) -> list[str]:
    found = re.search(r'<section class="group mine".*?</section>', page, re.S)
    return re.findall(r'data-id="([^"]+)"', found.group()) if found else []


async def test_the_cookie_puts_starred_lines_first_and_pages_vary_on_it(site: Running) -> None:
    status, plain, headers = await front(site, None)
    assert status == 200 and mine_ids(plain) == [] and "Cookie" in headers["Vary"]
    status, starred, starred_headers = await front(site, "road%3AE4")
    assert status == 200 and sorted(mine_ids(starred)) == await e4_ids(site) != []
    assert starred_headers["ETag"] != headers["ETag"]
    # The same items, once each: the starred ones moved out of their mode group.
    all_ids = re.findall(r'<li class="item [^"]*" data-id="([^"]+)"', plain)
    moved = re.findall(r'<li class="item [^"]*" data-id="([^"]+)"', starred)
    assert sorted(all_ids) == sorted(moved) and len(moved) == len(set(moved))
    status, _, _ = await front(site, "road%3AE4", **{"If-None-Match": starred_headers["ETag"]})
    assert status == 304
    status, road_and_line, _ = await front(site, "road%3AE4%2Cline%3A17")
    assert sorted(mine_ids(road_and_line)) == await e4_ids(site)  # no reference: 17 is no board line


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        "%%%",
        "x" * 5000,
        "road:E4,road:E4",
        "line%3A%3Cscript%3E",
        "road%3AE4%00",
        '"quoted"',
        "%E2%28%A1",
    ],
)
async def test_a_hostile_cookie_is_ignored_never_an_error(site: Running, cookie: str) -> None:
    status, page, _ = await front(site, cookie)
    assert status == 200
    assert "<script>" not in page[page.index("<main") :]
    ids = mine_ids(page)
    assert ids == [] or (cookie.startswith("road:E4") and sorted(ids) == await e4_ids(site))
