"""My lines over plain HTTP: the `mylines` cookie orders the board and the list; the star's form
writes it (`POST /mylines`); "only my lines" is a plain link; a hostile cookie is ignored."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from apputil import Running
from checkutil import needs_vnu, nu_check
from multidict import CIMultiDict
from storeutil import open_store
from test_web_pages import disruption, fill, serve, settings

from travelinfo.model import Affected, Batch, Disruption
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


HOSTILE = [
    "",
    "%%%",
    "x" * 5000,
    "road:E4,road:E4",
    "line%3A%3Cscript%3E",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "road%3AE4%00",
    '"quoted"',
    "%E2%28%A1",
    "," * 3000,
]


@pytest.mark.parametrize("cookie", HOSTILE)
async def test_a_hostile_cookie_is_ignored_never_an_error(site: Running, cookie: str) -> None:
    status, page, _ = await front(site, cookie)
    assert status == 200
    assert "<script>" not in page[page.index("<main") :]
    ids = mine_ids(page)
    assert ids == [] or (cookie.startswith("road:E4") and sorted(ids) == await e4_ids(site))


# --- The star without JavaScript: `POST /mylines` and the plain "only my lines" link --------


def red14(now: datetime) -> Disruption:
    """A line 14 fault (the board's line 14 in the reference feeds/sl-gtfs)."""
    return disruption(
        "sl-extra",
        "red-14",
        now - timedelta(minutes=3),
        {"sv": "Röda linjen 14: inga tåg Östermalmstorg–Mörby centrum", "en": "Red line 14: no trains"},
        modes=("metro",),
        severity="SEVERE",
        affected=(Affected("route", "9011001001400000", "14 Fruängen–Mörby centrum"),),
        geometry={"type": "Point", "coordinates": [18.0741, 59.3353]},
    )


@pytest.fixture
async def board_site(tmp_path: Path) -> AsyncIterator[Running]:
    """The sample plus a line 14 fault, with the reference lines on the board."""
    async with open_store("sqlite", tmp_path) as store:
        now = datetime.now(UTC)
        await fill(store, now)
        await store.apply(Batch(source="sl-extra", fetched_at=now, items=(red14(now),), complete=True))
        s = settings()
        s.reference.gtfs_static = str(ROOT / "feeds" / "sl-gtfs")
        async with serve(store, s) as running:
            yield running


async def post(
    site: Running, form: dict[str, str] | bytes, cookie: str | None = None, **headers: str
) -> tuple[int, dict[str, object], CIMultiDict[str]]:
    """POST /mylines as a form (no redirect followed); the JSON error or {} and the headers."""
    sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    if cookie is not None:
        sent["Cookie"] = f"mylines={cookie}"
    body = form if isinstance(form, bytes) else urlencode(form).encode()
    async with (
        aiohttp.ClientSession() as s,
        s.post(site.url + "/mylines", data=body, headers=sent, allow_redirects=False) as r,
    ):
        data = await r.json() if r.content_type == "application/json" else {}
        return r.status, data, CIMultiDict(r.headers)


def cookie_of(headers: CIMultiDict[str]) -> dict[str, str]:
    """The Set-Cookie attributes, by lower-cased name; the value under `mylines`."""
    parts = [p.strip() for p in headers["Set-Cookie"].split(";")]
    name, _, value = parts[0].partition("=")
    assert name == "mylines"
    attrs = {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}
    return {"mylines": value, **attrs}


async def test_the_star_form_adds_and_removes_in_board_order_and_redirects_back(board_site: Running) -> None:
    status, _, headers = await post(board_site, {"key": "road:E4", "do": "add", "back": "/board?lang=en"})
    assert status == 303 and headers["Location"] == "/board?lang=en"
    assert headers["Cache-Control"] == "no-store"
    jar = cookie_of(headers)
    assert jar == {"mylines": "road%3AE4", "path": "/", "max-age": "31536000", "samesite": "Lax"}
    # Added to what the cookie held, kept in board order (the metro before the roads), once each.
    _, _, headers = await post(board_site, {"key": "line:14", "do": "add", "back": "/"}, jar["mylines"])
    assert cookie_of(headers)["mylines"] == "line%3A14%2Croad%3AE4"
    _, _, headers = await post(board_site, {"key": "line:14", "do": "add"}, "line%3A14%2Croad%3AE4")
    assert cookie_of(headers)["mylines"] == "line%3A14%2Croad%3AE4" and headers["Location"] == "/"
    _, _, headers = await post(board_site, {"key": "road:E4", "do": "remove"}, "line%3A14%2Croad%3AE4")
    assert cookie_of(headers)["mylines"] == "line%3A14"
    # The last one removed: the cookie stays, empty (newer than star.js's localStorage copy).
    status, _, headers = await post(board_site, {"key": "line:14", "do": "remove"}, "line%3A14")
    assert (
        status == 303 and cookie_of(headers)["mylines"] == "" and cookie_of(headers)["max-age"] == "31536000"
    )
    # What the server then renders from that cookie: line 14 first on the board and in the list.
    status, page, _ = await front(board_site, "line%3A14")
    rows = re.findall(r'<tr class="row [^"]*" data-key="([^"]+)"', page)
    assert status == 200 and rows[0] == "line:14" and rows.count("line:14") == 1
    assert mine_ids(page) == ["sl-extra:red-14"]
    assert 'aria-label="Ta bort linje 14 från mina linjer"' in page
    assert 'aria-label="Lägg till linje 13 i mina linjer"' in page
    assert '<a class="only-mine" href="/?line=14&amp;lang=sv">' in page


@pytest.mark.parametrize(
    ("back", "location"),
    [
        ("/board?lang=sv", "/board?lang=sv"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("board", "/"),
        ("/" + "x" * 600, "/"),
        ("", "/"),
    ],
)
async def test_the_form_sends_the_reader_back_only_within_the_site(
    board_site: Running, back: str, location: str
) -> None:
    status, _, headers = await post(board_site, {"key": "road:E18", "do": "add", "back": back})
    assert status == 303 and headers["Location"] == location


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({}, True),  # no browser: nobody's cookie jar to change behind their back
    ],
)
async def test_a_post_from_another_site_is_refused(
    board_site: Running, headers: dict[str, str], allowed: bool
) -> None:
    status, data, answer = await post(board_site, {"key": "road:E18", "do": "add"}, "road%3AE4", **headers)
    if allowed:
        assert status == 303 and cookie_of(answer)["mylines"] == "road%3AE4%2Croad%3AE18"
    else:
        assert status == 403 and "Set-Cookie" not in answer
        assert data == {"error": "my lines change only from this site's own pages"}


async def test_a_post_from_the_site_itself_passes_by_its_origin(board_site: Running) -> None:
    status, _, _ = await post(board_site, {"key": "road:E18", "do": "add"}, Origin=board_site.url)
    assert status == 303


@pytest.mark.parametrize(
    ("form", "content_type", "error"),
    [
        (
            {"key": "line:999", "do": "add"},
            None,
            "key: must name a line or road of the board (line:14, road:E4)",
        ),
        (
            {"key": "<script>", "do": "add"},
            None,
            "key: must name a line or road of the board (line:14, road:E4)",
        ),
        ({"do": "add"}, None, "key: must name a line or road of the board (line:14, road:E4)"),
        ({"key": "road:E4", "do": "toggle"}, None, "do: one of add, remove"),
        ({"key": "road:E4"}, None, "do: one of add, remove"),
        (b"key=road:E4&key=road:E18&do=add", None, "key: give it once"),
        (b"key=road%3AE4&do=add&" + b"x=1&" * 10, None, "body: must be a UTF-8 form of at most 8 fields"),
        (b"key=road%3AE4&do=add&back=\xff\xfe", None, "body: must be a UTF-8 form of at most 8 fields"),
        (b"key=" + b"x" * 3000, None, "body: at most 2048 bytes"),
        (
            b'{"key": "road:E4", "do": "add"}',
            "application/json",
            "body: must be a form (application/x-www-form-urlencoded)",
        ),
    ],
)
async def test_a_bad_form_is_a_400_naming_the_field_and_changes_nothing(
    board_site: Running, form: dict[str, str] | bytes, content_type: str | None, error: str
) -> None:
    extra = {"Content-Type": content_type} if content_type else {}
    status, data, headers = await post(board_site, form, "road%3AE4", **extra)
    assert status == 400 and data["error"] == error and "Set-Cookie" not in headers
    status, page, _ = await front(board_site, "road%3AE4")  # the reader's lines as they were
    assert status == 200 and sorted(mine_ids(page)) == await e4_ids(board_site)


async def test_a_browser_gets_the_html_error_page_and_a_get_is_no_way_to_star(board_site: Running) -> None:
    status, _, headers = await post(board_site, {"key": "line:999", "do": "add"}, Accept="text/html")
    assert status == 400 and headers["Content-Type"].startswith("text/html")
    async with aiohttp.ClientSession() as s, s.get(board_site.url + "/mylines?key=road:E4&do=add") as r:
        assert r.status == 405 and "Set-Cookie" not in r.headers


@pytest.mark.parametrize("cookie", HOSTILE)
async def test_a_hostile_cookie_is_replaced_by_a_clean_one(board_site: Running, cookie: str) -> None:
    status, _, headers = await post(board_site, {"key": "line:13", "do": "add"}, cookie)
    clean = "line%3A13%2Croad%3AE4" if cookie.startswith("road:E4") else "line%3A13"
    assert status == 303 and cookie_of(headers)["mylines"] == clean


@pytest.mark.parametrize("cookie", HOSTILE)
async def test_a_hostile_cookie_leaves_the_board_page_whole(board_site: Running, cookie: str) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(board_site.url + "/board?lang=en", headers={"Cookie": f"mylines={cookie}"}) as r,
    ):
        page = await r.text()
        assert r.status == 200 and "Cookie" in r.headers["Vary"]
    assert "<script>" not in page[page.index("<main") :] and "%3Cscript" not in page
    rows = re.findall(r'<tr class="row [^"]*" data-key="([^"]+)"', page)
    assert len(rows) == len(set(rows)) > 10  # every line once, none lost or doubled
    starred = re.search(r'<tr class="grp mine"( hidden)?>', page)
    assert starred is not None and (starred.group(1) is None) == cookie.startswith("road:E4")


async def test_only_my_lines_is_a_plain_link_that_needs_no_cookie(board_site: Running) -> None:
    """`/?line=14,17&road=E4`: every item touching any of them, the same with or without a cookie."""
    oracle: set[str] = set()
    for q in (Query(route="14"), Query(route="17"), Query(road="E4")):
        oracle |= {d.id for d in (await board_site.store.query(q))[0]}
    assert len(oracle) >= 4
    for cookie in (None, "road%3AE18"):
        status, page, _ = await front_path(board_site, "/?line=14,17&road=E4&lang=sv", cookie)
        assert status == 200
        listed = re.findall(r'<li class="item [^"]*" data-id="([^"]+)"', page)
        assert sorted(listed) == sorted(oracle)
    # The same names, spaces and repeats, percent-encoded commas: one normalised variant.
    status, page, _ = await front_path(board_site, "/?line=%2017%2C14,,17&road=E4&lang=sv", None)
    assert sorted(re.findall(r'<li class="item [^"]*" data-id="([^"]+)"', page)) == sorted(oracle)
    assert 'value="17,14"' in page  # the form shows the list as it is read
    # Feeds take the same list.
    async with (
        aiohttp.ClientSession() as s,
        s.get(board_site.url + "/feeds/disruptions.atom?line=14,17") as r,
    ):
        feed = await r.text()
    assert r.status == 200 and "red-14" in feed and "Hallunda" not in feed


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("line=" + ",".join(str(n) for n in range(31)), "line: at most 30 names"),
        ("road=E4," + "x" * 101, "road: at most 100 characters per name"),
        ("line=" + "1," * 1600, "line: at most 3030 characters"),
    ],
)
async def test_a_bad_list_of_lines_is_a_400(board_site: Running, query: str, error: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{board_site.url}/?{query}") as r:
        assert r.status == 400 and (await r.json())["error"] == error


async def front_path(site: Running, path: str, cookie: str | None) -> tuple[int, str, CIMultiDict[str]]:
    jar = {"Cookie": f"mylines={cookie}"} if cookie is not None else {}
    async with aiohttp.ClientSession() as s, s.get(site.url + path, headers=jar) as r:
        return r.status, await r.text(), CIMultiDict(r.headers)


@needs_vnu
async def test_nu_html_checker_finds_no_errors_in_the_star_forms(board_site: Running, tmp_path: Path) -> None:
    pages = {}
    for cookie in (None, "line%3A14%2Croad%3AE4"):
        for lang in ("sv", "en"):
            for path in (f"/?lang={lang}", f"/board?lang={lang}", f"/?line=14&road=E4&lang={lang}"):
                status, page, _ = await front_path(board_site, path, cookie)
                assert status == 200 and ('action="/mylines"' in page or "line=14" in path)
                pages[f"page{len(pages)}"] = page
    await nu_check(pages, tmp_path)
