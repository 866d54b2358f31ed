"""My lines without JavaScript: the board's star is a small form posting to `/mylines`.

The handler adds or removes one board line in the `mylines` cookie (the one star.js writes)
and sends the reader back to the page with a 303. It is a POST, not a link, because a GET
that changes state is followed by prefetchers, crawlers and link previews, and may be cached.
Against cross-site posts it checks the browser's own `Sec-Fetch-Site` (else `Origin`): the
pages are rendered once per variant and shared, so they cannot carry a per-reader token, and
the cookie authorises nothing, so a refused foreign post is all the protection it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from aiohttp import web

from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import BadParameter
from travelinfo.web import board as boards
from travelinfo.web.i18n import t

MAX_FORM = 2048  # key + back + do: anything longer is not our form
YEAR = 365 * 24 * 3600
SAFE = "!~*'()"  # what JavaScript's encodeURIComponent leaves alone, so both write one spelling


@dataclass(frozen=True, slots=True)
class Placed:
    """A board row with its place on the whole board (star.js puts unstarred rows back there)."""

    row: boards.Row
    order: int
    group_order: int


@dataclass(frozen=True, slots=True)
class Group:
    """A board group (metro colour or mode) with its rows that are not starred."""

    first: boards.Line  # names the group
    order: int
    rows: list[Placed]


def layout(rows: Sequence[boards.Row], mine: Sequence[str], full: bool) -> tuple[list[Placed], list[Group]]:
    """(the starred rows in board order, every shown group with its other rows).

    The front page's board shows the metro, the roads and whatever is disrupted (`full`: every
    line); a starred line is always shown. A group all of whose rows are starred stays, empty,
    so that its heading is there when a row is unstarred (the template hides it).
    """
    starred: list[Placed] = []
    groups: dict[str, Group] = {}
    for n, r in enumerate(rows):
        group = groups.get(r.line.group)
        if group is None:
            group = groups.setdefault(r.line.group, Group(r.line, n, []))
        on = r.line.key in mine
        if not (full or on or r.worst or r.line.mode in ("metro", "road")):
            continue
        placed = Placed(r, n, group.order)
        (starred if on else group.rows).append(placed)
    shown = {p.group_order for p in starred} | {g.order for g in groups.values() if g.rows}
    return starred, [g for g in groups.values() if g.order in shown]


def spoken(line: boards.Line, lang: str) -> str:
    """How the star's label names a line: `linje 14`, `E4`, `väg 73`, `Essingeleden`."""
    if line.mode == "road":
        return t("road_n", lang, n=line.short) if line.short.isdigit() else line.short
    return t("line_n", lang, n=line.short) if line.short else line.long


def back_to(raw: str) -> str:
    """Where to send the reader: a path of this site, never another host (else `/`)."""
    parts = urlsplit(raw)
    local = raw.startswith("/") and not raw.startswith("//") and not parts.scheme and not parts.netloc
    if not local or "\\" in raw or any(ord(c) < 32 for c in raw) or len(raw) > 500:
        return "/"
    return raw


def cross_site(request: web.Request) -> bool:
    """Whether the browser says the form was posted from another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:  # no browser of the last years omits both on a cross-site post
        return False
    ours = {f"{request.scheme}://{request.host}"}
    public = urlsplit(request.app[appmod.SETTINGS].public_url or "")
    if public.scheme and public.netloc:
        ours.add(f"{public.scheme}://{public.netloc}")
    return origin not in ours


async def _form(request: web.Request) -> dict[str, str]:
    raw = await request.content.read(MAX_FORM + 1)
    if len(raw) > MAX_FORM:
        raise BadParameter("body", f"at most {MAX_FORM} bytes")
    if request.content_type != "application/x-www-form-urlencoded":
        raise BadParameter("body", "must be a form (application/x-www-form-urlencoded)")
    try:
        fields = parse_qs(raw.decode("utf-8"), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise BadParameter("body", "must be a UTF-8 form of at most 8 fields") from None
    for name, values in fields.items():
        if len(values) > 1:
            raise BadParameter(name, "give it once")
    return {k: v[0] for k, v in fields.items()}


async def toggle(request: web.Request) -> web.StreamResponse:
    """`POST /mylines` (`key=line:14`, `do=add|remove`, `back=/board?lang=sv`): 303 back."""
    if cross_site(request):
        raise web.HTTPForbidden(reason="my lines change only from this site's own pages")
    form = await _form(request)
    from travelinfo.web.routes import LINES  # routes' setup adds this handler; render imports us

    lines = request.app[LINES] + boards.road_lines()
    key, action = form.get("key", ""), form.get("do", "")
    if key not in {x.key for x in lines}:
        raise BadParameter("key", "must name a line or road of the board (line:14, road:E4)")
    if action not in ("add", "remove"):
        raise BadParameter("do", "one of add, remove")
    mine = set(boards.mine_keys(request.cookies.get(boards.COOKIE, ""), lines))
    mine = mine | {key} if action == "add" else mine - {key}
    value = quote(",".join(x.key for x in lines if x.key in mine), safe=SAFE)
    if len(value) > boards.MAX_COOKIE:
        raise BadParameter("key", "my lines are full: remove one first")
    resp = web.HTTPSeeOther(back_to(form.get("back", "/")))
    secure = "; Secure" if request.secure else ""
    # Written by hand: http.cookies would quote an empty value as `""`. Kept (empty) when the
    # last line goes, so that star.js knows the cookie is newer than its localStorage copy.
    resp.headers["Set-Cookie"] = f"{boards.COOKIE}={value}; Path=/; Max-Age={YEAR}; SameSite=Lax{secure}"
    resp.headers["Cache-Control"] = "no-store"
    raise resp
