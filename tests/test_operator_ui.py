"""The operator UI over HTTP (no JavaScript), on both real stores: sessions, CSRF, the form, publishing."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from checkutil import needs_vnu, nu_check
from operatorutil import ORG, OTHER, csrf_of, form, local, operator_app, operator_settings, person

from travelinfo.api.keys import create_key, revoke_key
from travelinfo.model import format_time, parse_time, thaw
from travelinfo.notices.audit import read_audit
from travelinfo.notices.drafts import DRAFT_KIND
from travelinfo.operator import sessions

KIND_PARAMS = pytest.mark.parametrize("kind", ["sqlite", "redis"])


@KIND_PARAMS
async def test_create_preview_publish_edit_end(kind: str, tmp_path: Path) -> None:
    async with operator_app(kind, tmp_path) as (store, run), person(run.url) as op:
        _, token = await create_key(store, "ports", ["notices:write"], ORG)
        assert await op.sign_in(token) == 303
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        status, _, location = await op.save(form(now))
        assert status == 303 and location.startswith("/operator/n/kaj3/preview")
        assert await store.get(f"{ORG}:kaj3") is None  # a preview publishes nothing
        status, page, _ = await op.get(location)
        # The public page's own template: the detail article with its facts, under the preview bar.
        assert status == 200 and 'class="detail sev-warning"' in page and "preview-bar" in page
        assert "Frihamnen kaj 3 stängd" in page and "Underhåll" in page
        status, _, location = await op.post("/operator/n/kaj3/publish", {})
        assert status == 303 and location.startswith("/operator/n/kaj3")
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.status == "active" and d.source_type == "manual"
        # Stockholm local times typed in the form are stored as the UTC instants they name.
        assert d.periods[0].start == now - timedelta(hours=1)
        assert d.periods[0].end == now + timedelta(days=2)
        assert thaw(d.geometry) == {"type": "Point", "coordinates": [18.1167, 59.3419]}

        status, page, _ = await op.get("/operator/n/kaj3/edit")
        assert status == 200 and local(now + timedelta(days=2)) in page
        fields = form(now, header_sv="Frihamnen kaj 3 stängd hela veckan", severity="SEVERE")
        del fields["notice_id"]
        status, _, location = await op.save({**fields, "nid": "kaj3"})
        assert status == 303
        status, _, _ = await op.post("/operator/n/kaj3/publish", {})
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.severity == "SEVERE" and d.version == "2"

        status, _, location = await op.post("/operator/n/kaj3/end", {})
        assert status == 303
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.status == "ended"
        ended = d.periods[0].end
        assert ended is not None and ended <= datetime.now(UTC) and ended > now - timedelta(minutes=1)
        status, page, _ = await op.get(location)
        assert 'id="state">Avslutad' in page and "Avsluta nu" not in page
        status, public, _ = await op.get(f"/d/{ORG}:kaj3?lang=en")
        assert status == 200 and 'class="detail ended"' in public and "Ended" in public
        entries = [e["action"] for e in await read_audit(store, org=ORG)]
        assert entries == ["create", "update", "end"]
        assert all(e in page for e in ("skapad", "ändrad", "avslutad"))  # the audit trail on the page


async def test_cookies_are_httponly_samesite_strict_and_secure_on_https(tmp_path: Path) -> None:
    s = operator_settings()
    async with operator_app("sqlite", tmp_path, s) as (store, run), person(run.url) as op:
        _, token = await create_key(store, "ports", ["notices:write"], ORG)
        _, page, resp = await op.get("/operator")
        login = resp.cookies[sessions.LOGIN_COOKIE]
        assert login["httponly"] and login["samesite"] == "Strict" and not login["secure"]
        async with op.http.post(
            run.url + "/operator/signin", data={"token": token, "csrf": csrf_of(page)}, allow_redirects=False
        ) as r:
            cookie = r.cookies[sessions.COOKIE]
            assert r.status == 303 and r.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert "script-src 'self';" in resp.headers["Content-Security-Policy"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/operator"
        assert not cookie["secure"]
        # Only a hash of the cookie's token is stored.
        recs = await store.list_records(sessions.KIND)
        assert len(recs) == 1 and cookie.value not in json.dumps(recs)
        s.web.base_url = "https://trafik.example.se"
        async with person(run.url) as fresh:
            _, page, resp = await fresh.get("/operator")
            assert resp.cookies[sessions.LOGIN_COOKIE]["secure"]


async def test_sign_in_refuses_bad_keys_and_forged_sign_in(tmp_path: Path) -> None:
    async with operator_app("sqlite", tmp_path) as (store, run), person(run.url) as op:
        _, reader = await create_key(store, "reader", ["read"], ORG)
        _, orgless = await create_key(store, "orgless", ["notices:write"])
        key, revoked = await create_key(store, "gone", ["notices:write"], ORG)
        await revoke_key(store, key.id)
        for token in ("", "ti_nope_nope", reader, orgless, revoked, "x" * 5000):
            assert await op.sign_in(token) == 401, token[:20]
        status, page, _ = await op.get("/operator")
        assert 'name="token"' in page
        # A sign-in without the sign-in page's token (login CSRF) is refused outright.
        status, _, _ = await op.post("/operator/signin", {"token": reader}, csrf=None)
        assert status == 403
        assert await store.list_records(sessions.KIND) == []


@KIND_PARAMS
async def test_forged_posts_are_refused_and_change_nothing(kind: str, tmp_path: Path) -> None:
    async with (
        operator_app(kind, tmp_path) as (store, run),
        person(run.url) as op,
        person(run.url) as stranger,
    ):
        _, token = await create_key(store, "ports", ["notices:write"], ORG)
        await op.sign_in(token)
        now = datetime.now(UTC)
        await op.save(form(now))
        await op.post("/operator/n/kaj3/publish", {})
        before = await store.get(f"{ORG}:kaj3")
        for path, fields in (
            ("/operator/n/kaj3/end", {}),
            ("/operator/save", {**form(now, header_sv="Forged"), "nid": "kaj3"}),
            ("/operator/n/kaj3/publish", {}),
            ("/operator/signout", {}),
        ):
            for csrf in (None, "wrong-token"):
                status, body, _ = await op.post(path, fields, csrf=csrf)
                assert status == 403 and "CSRF" in body, (path, csrf)
            status, _, _ = await stranger.post(path, fields, csrf=op.csrf)  # no session cookie
            assert status == 403, path
        assert await store.get(f"{ORG}:kaj3") == before
        assert [e["action"] for e in await read_audit(store)] == ["create"]
        status, page, _ = await op.get("/operator")  # the session survived the forgeries
        assert status == 200 and "/operator/n/kaj3" in page


@KIND_PARAMS
async def test_another_organisations_notice_cannot_be_opened(kind: str, tmp_path: Path) -> None:
    async with operator_app(kind, tmp_path) as (store, run), person(run.url) as ports, person(run.url) as wax:
        _, t1 = await create_key(store, "ports", ["notices:write"], ORG)
        _, t2 = await create_key(store, "wax", ["notices:write", "notices:approve"], OTHER)
        await ports.sign_in(t1)
        await wax.sign_in(t2)
        now = datetime.now(UTC)
        await ports.save(form(now))  # a draft ...
        await ports.post("/operator/n/kaj3/publish", {})  # ... published
        await ports.save({**form(now, notice_id="draft2")})
        for path in (
            "/operator/n/kaj3",
            "/operator/n/kaj3/edit",
            "/operator/n/kaj3/preview",
            "/operator/n/draft2/preview",
        ):
            status, _, _ = await wax.get(path)
            assert status == 404, path
        for path in ("/operator/n/kaj3/end", "/operator/n/kaj3/publish", "/operator/n/draft2/publish"):
            status, _, _ = await wax.post(path, {})
            assert status == 404, path
        status, page, _ = await wax.get("/operator")
        assert "kaj3" not in page and "Frihamnen" not in page
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.status == "active"
        assert await store.get(f"{ORG}:draft2") is None


async def test_form_errors_keep_what_was_typed(tmp_path: Path) -> None:
    async with operator_app("sqlite", tmp_path) as (store, run), person(run.url) as op:
        _, token = await create_key(store, "ports", ["notices:write"], ORG)
        await op.sign_in(token)
        now = datetime.now(UTC)
        bad = form(
            now,
            header_sv="",
            header_en="",
            modes=[],
            start_0="2027-03-28 02:30",  # skipped when Stockholm puts its clocks forward
            end_0="tomorrow",
            coords="59.3, 18.0\n91, 18",
            description_sv="<script>alert(1)</script>",
            url="javascript:alert(1)",
        )
        status, page, _ = await op.save(bad)
        assert status == 400
        assert "does not exist in Stockholm" in page and "YYYY-MM-DD HH:MM" in page
        assert "latitude -90..90" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
        assert 'value="2027-03-28 02:30"' in page and 'value="tomorrow"' in page  # nothing lost
        status, page, _ = await op.save(form(now, header_sv="", header_en="", modes=[], url="javascript:x"))
        assert status == 400
        for message in (
            "needs a text in at least one language",
            "must name at least one mode",
            "http(s) URL",
        ):
            assert message in page
        status, page, _ = await op.save(
            form(now, start_0=local(now - timedelta(days=2)), end_0=local(now - timedelta(days=1)))
        )
        assert status == 400 and "every period has already ended" in page
        assert await store.list_records(DRAFT_KIND) == []


async def test_places_picked_from_the_reference_data(tmp_path: Path) -> None:
    async with operator_app("sqlite", tmp_path) as (store, run), person(run.url) as op:
        _, token = await create_key(store, "sl", ["notices:write"], ORG)
        await op.sign_in(token)
        now = datetime.now(UTC)
        fields = form(now, geometry_kind="none", coords="", modes=["metro"], action="search", q="liljeholm")
        status, page, _ = await op.save(fields)
        assert status == 200 and "Liljeholmen" in page
        stop = re.search(r'name="affected" value="([^"]+Liljeholmen[^"]+)"', page)
        assert stop
        status, page, _ = await op.save({**fields, "q": "14", "action": "search"})
        line = re.search(r'name="affected" value="([^"]+)"> Linje: 14', page)
        assert line, page[page.find("hits") :][:500]
        status, page, _ = await op.save({**fields, "q": "E4", "action": "search"})
        road = re.search(r'name="affected" value="([^"]+)"> Väg: E4<', page)
        assert road
        picked = [json.loads(m.group(1).replace("&#34;", '"')) for m in (stop, line, road)]
        status, _, _ = await op.save(
            {**fields, "action": "preview", "q": "", "affected": [json.dumps(p) for p in picked]}
        )
        assert status == 303
        await op.post("/operator/n/kaj3/publish", {})
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None
        assert sorted((a.type, a.name) for a in d.affected) == [
            ("road", "E4"),
            ("route", "14"),
            ("stop", "Liljeholmen"),
        ]
        # No shape drawn: the picked stop's position places the notice on the map.
        assert thaw(d.geometry) == {"type": "Point", "coordinates": [18.02291, 59.31071]}


async def test_typed_line_and_area(tmp_path: Path) -> None:
    async with operator_app("sqlite", tmp_path) as (store, run), person(run.url) as op:
        _, token = await create_key(store, "ports", ["notices:write"], ORG)
        await op.sign_in(token)
        now = datetime.now(UTC)
        area = "59.34, 18.09\n59.34, 18.13\n59.36, 18.13"
        await op.save(form(now, geometry_kind="area", coords=area))
        await op.post("/operator/n/kaj3/publish", {})
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.geometry is not None
        ring = [[18.09, 59.34], [18.13, 59.34], [18.13, 59.36], [18.09, 59.34]]
        assert thaw(d.geometry) == {"type": "Polygon", "coordinates": [ring]}
        status, page, _ = await op.save(form(now, notice_id="l", geometry_kind="line", coords="59.3, 18.0"))
        assert status == 400 and "at least 2 points" in page


@KIND_PARAMS
async def test_idle_sessions_expire_and_sign_out_ends_them(kind: str, tmp_path: Path) -> None:
    async with operator_app(kind, tmp_path) as (store, run), person(run.url) as op:
        key, token = await create_key(store, "ports", ["notices:write"], ORG)
        await op.sign_in(token)
        (rec,) = await store.list_records(sessions.KIND)
        cookie = next(c.value for c in op.http.cookie_jar if c.key == sessions.COOKIE)
        ident = hashlib.sha256(cookie.encode()).hexdigest()
        assert await store.get_record(sessions.KIND, ident) == rec
        # Unused for longer than notices.session_idle (30 min): the next request finds it gone.
        old = format_time(datetime.now(UTC) - timedelta(minutes=31))
        await store.put_record(sessions.KIND, ident, {**rec, "seen": old})
        status, page, _ = await op.get("/operator/new")
        assert status == 303
        status, page, _ = await op.get("/operator?expired=1")
        assert "Sessionen har gått ut" in page
        assert await store.list_records(sessions.KIND) == []
        status, _, _ = await op.post("/operator/n/kaj3/end", {})
        assert status == 403

        # A session left behind (a browser that never came back) is pruned at the next sign-in.
        await store.put_record(sessions.KIND, "left", {**rec, "id": "left", "seen": old})
        await op.sign_in(token)
        assert await store.get_record(sessions.KIND, "left") is None
        assert len(await store.list_records(sessions.KIND)) == 1
        status, _, _ = await op.post("/operator/signout", {})
        assert status == 303 and await store.list_records(sessions.KIND) == []
        status, _, _ = await op.get("/operator/new")
        assert status == 303
        # A revoked key ends its sessions at once.
        await op.sign_in(token)
        await revoke_key(store, key.id)
        status, _, _ = await op.get("/operator/new")
        assert status == 303
        assert parse_time(rec["created"]) <= datetime.now(UTC)


@KIND_PARAMS
async def test_four_eyes_approval(kind: str, tmp_path: Path) -> None:
    s = operator_settings(approval=True)
    async with (
        operator_app(kind, tmp_path, s) as (store, run),
        person(run.url) as writer,
        person(run.url) as approver,
        person(run.url) as outsider,
    ):
        _, w = await create_key(store, "writer", ["notices:write"], ORG)
        _, a = await create_key(store, "chief", ["notices:approve"], ORG)
        _, o = await create_key(store, "other-chief", ["notices:write", "notices:approve"], OTHER)
        for p, t in ((writer, w), (approver, a), (outsider, o)):
            assert await p.sign_in(t) == 303
        now = datetime.now(UTC)
        await writer.save(form(now))
        status, page, _ = await writer.get("/operator/n/kaj3/preview")
        assert "Skicka för godkännande" in page and "Godkänn" not in page
        status, _, location = await writer.post("/operator/n/kaj3/publish", {})
        assert status == 303 and "m=submitted" in location
        assert await store.get(f"{ORG}:kaj3") is None  # a draft until approved
        status, page, _ = await writer.get(location)
        assert "Väntar på godkännande" in page
        # The writer cannot approve; another organisation cannot even see the draft.
        status, _, _ = await writer.post("/operator/n/kaj3/approve", {})
        assert status == 403
        status, _, _ = await outsider.post("/operator/n/kaj3/approve", {})
        assert status == 404
        assert await store.get(f"{ORG}:kaj3") is None

        status, page, _ = await approver.get("/operator")
        assert "Väntar på godkännande" in page and "av writer" in page
        status, page, _ = await approver.get("/operator/n/kaj3/preview")
        assert status == 200 and "Godkänn och publicera" in page
        status, _, location = await approver.post("/operator/n/kaj3/approve", {})
        assert status == 303
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.status == "active"
        entries = await read_audit(store, org=ORG)
        assert [(e["action"], e["key_name"]) for e in entries] == [("create", "chief"), ("approve", "chief")]
        assert "writer" in entries[1]["changes"]["drafted_by"]["to"]
        assert await store.list_records(DRAFT_KIND) == []

        # A change by the writer waits too; the published notice is untouched meanwhile.
        fields = {**form(now, severity="SEVERE"), "nid": "kaj3"}
        await writer.save(fields)
        await writer.post("/operator/n/kaj3/publish", {})
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.severity == "WARNING"
        await approver.post("/operator/n/kaj3/approve", {})
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.severity == "SEVERE"
        # Ending needs no approval: it stops people being told about something that is over.
        status, _, _ = await writer.post("/operator/n/kaj3/end", {})
        d = await store.get(f"{ORG}:kaj3")
        assert status == 303 and d is not None and d.status == "ended"


async def test_api_changes_wait_for_approval_too(tmp_path: Path) -> None:
    """Four-eyes cannot be skipped by writing through the API instead of the UI."""
    s = operator_settings(approval=True)
    async with operator_app("sqlite", tmp_path, s) as (store, run), person(run.url) as approver:
        _, w = await create_key(store, "writer", ["notices:write"], ORG)
        _, a = await create_key(store, "chief", ["notices:approve"], ORG)
        body = {
            "upstream_id": "kaj3",
            "header": {"sv": "Kaj 3 stängd"},
            "modes": ["ferry"],
            "periods": [{"start": format_time(datetime.now(UTC) - timedelta(hours=1)), "end": None}],
        }
        auth = {"Authorization": f"Bearer {w}"}
        async with approver.http.post(run.url + "/api/v1/notices", json=body, headers=auth) as r:
            assert r.status == 202 and (await r.json())["status"] == "pending_approval"
            assert r.headers["Location"] == "/operator/n/kaj3/preview"
        assert await store.get(f"{ORG}:kaj3") is None
        await approver.sign_in(a)
        status, _, _ = await approver.post("/operator/n/kaj3/approve", {})
        assert status == 303
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.header == {"sv": "Kaj 3 stängd"}
        async with approver.http.patch(
            run.url + f"/api/v1/notices/{ORG}:kaj3", json={"severity": "SEVERE"}, headers=auth
        ) as r:
            assert r.status == 202
        d = await store.get(f"{ORG}:kaj3")
        assert d is not None and d.severity == "UNKNOWN_SEVERITY"


@needs_vnu
async def test_nu_html_checker_reports_no_errors_on_the_operator_pages(tmp_path: Path) -> None:
    async with operator_app("sqlite", tmp_path) as (store, run), person(run.url) as op:
        _, token = await create_key(store, "ports", ["notices:write"], ORG)
        pages = {"signin": (await op.get("/operator?lang=en"))[1]}
        await op.sign_in(token)
        now = datetime.now(UTC)
        pages["form"] = (await op.get("/operator/new"))[1]
        pages["hits"] = (await op.save(form(now, action="search", q="Liljeholmen")))[1]
        pages["errors"] = (await op.save(form(now, header_sv="", header_en="", start_0="x")))[1]
        await op.save(form(now))
        pages["preview"] = (await op.get("/operator/n/kaj3/preview"))[1]
        await op.post("/operator/n/kaj3/publish", {})
        pages["notice"] = (await op.get("/operator/n/kaj3?lang=en"))[1]
        pages["list"] = (await op.get("/operator"))[1]
        pages["edit"] = (await op.get("/operator/n/kaj3/edit"))[1]
    await nu_check(pages, tmp_path)


async def test_hostile_input_is_escaped_or_refused(tmp_path: Path) -> None:
    """A confused or hostile operator: markup, bidi tricks, tampered hidden fields, junk picks."""
    async with operator_app("sqlite", tmp_path) as (store, run), person(run.url) as op:
        _, token = await create_key(store, "ports", ["notices:write"], ORG)
        await op.sign_in(token)
        now = datetime.now(UTC)
        xss = '<img src=x onerror="alert(1)">'
        await op.save(form(now, header_sv=xss, location_text_sv=xss))
        pages = [(await op.get("/operator/n/kaj3/preview"))[1]]
        await op.post("/operator/n/kaj3/publish", {})
        pages += [(await op.get(p))[1] for p in ("/operator", "/operator/n/kaj3", "/operator/n/kaj3/edit")]
        for page in pages:
            assert "<img src=x" not in page and "&lt;img src=x" in page
        # Tampered or junk fields: each refused by name, nothing stored.
        bad_pick = json.dumps({"type": "stop", "id": "9022\u202e001", "name": "x"})
        cases = {
            "affected": {"affected": [bad_pick]},
            "affected ": {"affected": ["{not json"]},
            "header_sv": {"header_sv": "x" * 201},
            "geometry_kind": {"geometry_kind": "circle"},
            "severity": {"severity": "APOCALYPTIC"},
            "modes": {"modes": ["plane"]},
        }
        for name, over in cases.items():
            status, page, _ = await op.save(form(now, notice_id="junk", **over))
            assert status == 400 and f'id="{name.strip()}-error"' in page, name
        status, _, _ = await op.save({**form(now), "nid": "../../etc"})
        assert status == 400
        status, _, _ = await op.get("/operator/new?lang=xx")
        assert status == 400
        assert await store.get(f"{ORG}:junk") is None
        assert [d["notice_id"] for d in await store.list_records(DRAFT_KIND)] == []
        status, page, _ = await op.save(form(now))  # the id is taken: said so, next to the field
        assert status == 400 and 'id="notice_id-error"' in page
