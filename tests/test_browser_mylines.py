"""My lines in a real browser: the star's form without JavaScript, its toggle with it, axe on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from apputil import Running
from checkutil import AXE, chromium, needs_chromium
from storeutil import open_store
from test_web_mylines import red14
from test_web_pages import fill, serve, settings

from travelinfo.model import Batch
from travelinfo.store.base import Query

ROOT = Path(__file__).resolve().parent.parent
MINE = "line%3A14%2Croad%3AE4"  # what the form (and star.js) write for line 14 and E4

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    needs_chromium,
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    async with open_store("sqlite", tmp_path_factory.mktemp("mylines")) as store:
        now = datetime.now(UTC)
        await fill(store, now)
        await store.apply(Batch(source="sl-extra", fetched_at=now, items=(red14(now),), complete=True))
        s = settings()
        s.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
        async with serve(store, s) as running:
            yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def oracle(site: Running, *queries: Query) -> list[str]:
    """The ids any of `queries` selects, straight from the store (public warnings lead apart)."""
    ids: set[str] = set()
    for q in queries:
        ids |= {d.id for d in (await site.store.query(q))[0] if not d.public_warning}
    return sorted(ids)


async def ids(p: Any, selector: str) -> list[str]:
    found: list[str] = await p.locator(selector).evaluate_all("els => els.map(e => e.dataset.id)")
    return found


async def board_keys(p: Any) -> list[str]:
    keys: list[str] = await p.locator("table.board tbody tr.row").evaluate_all(
        "els => els.map(e => e.dataset.key)"
    )
    return keys


async def headings(p: Any) -> list[str]:
    """The board's visible group headings, in order."""
    shown: list[str] = await p.locator("table.board tbody tr.grp").evaluate_all(
        "els => els.filter(e => !e.hidden).map(e => e.textContent.trim())"
    )
    return shown


async def submit(p: Any, name: str) -> None:
    """Press the star called `name` (its form posts and the page comes back)."""
    async with p.expect_navigation():
        await p.get_by_role("button", name=name, exact=True).click()


async def test_without_javascript_the_star_adds_and_removes_a_line(site: Running, browser: Any) -> None:
    context = await browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 800})
    p = await context.new_page()
    try:
        await p.goto(f"{site.url}/board?lang=sv")
        assert await p.locator("tr.grp.mine").is_hidden()
        before = await board_keys(p)
        await submit(p, "Lägg till linje 14 i mina linjer")
        assert p.url == f"{site.url}/board?lang=sv"  # back where the reader was
        assert await p.locator("table.board tbody tr.row").first.get_attribute("data-key") == "line:14"
        assert await p.locator("table.board tbody tr.grp").first.is_visible()
        assert (await p.locator("tr.grp.mine th").inner_text()).startswith("Mina linjer")
        starred = p.get_by_role("button", name="Ta bort linje 14 från mina linjer", exact=True)
        assert await starred.count() == 1 and await starred.get_attribute("aria-pressed") is None
        assert await p.locator('tr[data-key="line:14"]').count() == 1  # moved, not copied
        # The front page: line 14 first on its board and its fault first in the list.
        await p.goto(f"{site.url}/?lang=sv")
        assert await p.locator("table.board tbody tr.row").first.get_attribute("data-key") == "line:14"
        assert await p.locator("#list section.group").first.get_attribute("class") == "group mine"
        assert await ids(p, "#list section.group.mine li.item") == ["sl-extra:red-14"]
        await submit(p, "Lägg till E4 i mina linjer")  # from the front page's own board
        assert p.url == f"{site.url}/?lang=sv"
        assert (await board_keys(p))[:2] == ["line:14", "road:E4"]
        e4 = await oracle(site, Query(road="E4", status=("active",)))
        assert sorted(await ids(p, "#list section.group.mine li.item")) == sorted(["sl-extra:red-14", *e4])
        cookies = {c["name"]: c["value"] for c in await context.cookies()}
        assert cookies["mylines"] == MINE
        # "Only my lines": a plain link, the same list with no cookie and no script.
        async with p.expect_navigation():
            await p.locator("#list p.only-mine a").click()
        assert p.url == f"{site.url}/?line=14&road=E4&lang=sv"
        wanted = await oracle(site, Query(route="14"), Query(road="E4"))
        assert sorted(await ids(p, "#list li.item")) == wanted
        fresh = await browser.new_context(java_script_enabled=False)
        q = await fresh.new_page()
        await q.goto(f"{site.url}/?line=14&road=E4&lang=sv")
        assert sorted(await ids(q, "#list li.item")) == wanted
        await fresh.close()
        # Removed again, one by one: the board is back to its own order, the cookie empty.
        await p.goto(f"{site.url}/board?lang=sv")
        await submit(p, "Ta bort linje 14 från mina linjer")
        assert await p.locator("table.board tbody tr.row").first.get_attribute("data-key") == "road:E4"
        await submit(p, "Ta bort E4 från mina linjer")
        assert await p.locator("tr.grp.mine").is_hidden() and await board_keys(p) == before
        assert {c["name"]: c["value"] for c in await context.cookies()}["mylines"] == ""
    finally:
        await context.close()


async def test_with_javascript_the_star_toggles_in_place_with_aria_pressed(
    site: Running, browser: Any
) -> None:
    context = await browser.new_context()
    p = await context.new_page()
    try:
        await p.goto(f"{site.url}/board?lang=en")
        before, groups = await board_keys(p), await headings(p)
        star = p.locator('tr[data-key="line:14"] button.star')
        assert await star.get_attribute("aria-label") == "Add line 14 to my lines"
        assert await star.get_attribute("aria-pressed") == "false"
        await p.evaluate("window.stayed = true")
        await star.click()
        assert await p.evaluate("window.stayed === true")  # no round trip: the script took the form
        assert await star.get_attribute("aria-pressed") == "true"
        assert await star.get_attribute("aria-label") == "Add line 14 to my lines"  # a toggle keeps its name
        assert await p.evaluate("document.activeElement.closest('tr').dataset.key") == "line:14"
        assert await p.locator("table.board tbody tr.row").first.get_attribute("data-key") == "line:14"
        assert await p.locator("tr.grp.mine a.only-mine").get_attribute("href") == "/?line=14&lang=en"
        assert "mylines=line%3A14" in await p.evaluate("document.cookie")
        # Its group heading stays; unstarred, the row goes back under it.
        await star.click()
        assert await star.get_attribute("aria-pressed") == "false"
        assert await board_keys(p) == before and await headings(p) == groups
        await p.goto(f"{site.url}/board?lang=sv")
        swedish = p.locator('tr[data-key="line:14"] button.star')
        assert await swedish.get_attribute("aria-label") == "Lägg till linje 14 i mina linjer"
    finally:
        await context.close()


async def test_the_cookie_the_form_wrote_wins_over_a_stale_local_copy(site: Running, browser: Any) -> None:
    """A star set by the form (script off) and one kept in localStorage (script on) disagree."""
    context = await browser.new_context()
    p = await context.new_page()
    try:
        await p.goto(f"{site.url}/board?lang=en")
        await p.click('tr[data-key="road:E18"] button.star')  # localStorage and cookie: E18
        await context.add_cookies([{"name": "mylines", "value": "line%3A14", "url": site.url}])  # the form
        await p.goto(f"{site.url}/board?lang=en")
        assert await p.locator("table.board tbody tr.row").first.get_attribute("data-key") == "line:14"
        e18 = p.locator('tr[data-key="road:E18"] button.star')
        assert await e18.get_attribute("aria-pressed") == "false"
        assert await p.evaluate("localStorage.getItem('travelinfo.mylines')") == '["line:14"]'
        # A cookie the browser dropped is written again from the local copy.
        await context.clear_cookies()
        await p.goto(f"{site.url}/board?lang=en")
        assert await p.locator('tr[data-key="line:14"] button.star').get_attribute("aria-pressed") == "true"
        assert "mylines=line%3A14" in await p.evaluate("document.cookie")
    finally:
        await context.close()


@pytest.mark.skipif(not AXE.exists(), reason="needs tests/node_modules/axe-core (npm install in tests/)")
async def test_axe_finds_nothing_on_the_new_controls(site: Running, browser: Any) -> None:
    """With lines starred (both labels, the group, its link), with and without star.js, at 320 px."""
    failures, wide = [], []
    for script in (True, False):
        context = await browser.new_context(bypass_csp=True, viewport={"width": 320, "height": 640})
        await context.add_cookies([{"name": "mylines", "value": MINE, "url": site.url}])
        if not script:  # the page as served: axe itself needs JavaScript, star.js is held back
            await context.route("**/static/star.js*", lambda route: route.abort())
        p = await context.new_page()
        try:
            for lang in ("sv", "en"):
                for path in ("/", "/board"):
                    await p.goto(f"{site.url}{path}?lang={lang}")
                    pressed = await p.locator("button.star[aria-pressed]").count()
                    assert (pressed > 0) == script, (path, lang, script)
                    await p.add_script_tag(path=str(AXE))
                    result = await p.evaluate("axe.run(document).then(r => r.violations)")
                    failures += [(script, lang, path, v["id"], v["help"], len(v["nodes"])) for v in result]
                    sizes = await p.evaluate(
                        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
                    )
                    if sizes[0] > sizes[1]:
                        wide.append((script, lang, path, sizes))
        finally:
            await context.close()
    assert failures == []
    assert wide == []
