"""Compose the social bot's posts (pure: no I/O, the clock is an argument).

A post starts with what and where, then the validity in Stockholm local time, then as much of
the description as fits, then the link and hashtags, which are never cut. Lengths are counted
as Mastodon counts them (`mastodon_length`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from travelinfo.bot.wording import all_clear, map_link, sentence_case, without_coordinates
from travelinfo.model import Disruption, Period

MAX_CHARS = 500
BLUESKY_GRAPHEMES = 300
URL_LENGTH = 23  # Mastodon counts every URL as this many characters
MAX_TAGS = 5
ELLIPSIS = "…"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# Mastodon linkifies URLs with a scheme; trailing punctuation is not part of the URL.
URL_RE = re.compile(r"https?://[^\s<>\"]+?(?=[.,:;!?)\]'\"]*(?:\s|$))", re.IGNORECASE)
# `@user@domain` counts as `@user`; only at a word start, as Mastodon's mention regex has it.
MENTION_RE = re.compile(r"(?<![\w@/])(@\w+)@[\w.-]+\w", re.UNICODE)
# A bare `@name` in upstream text would mention (and notify) someone: defuse it.
AT_WORD_RE = re.compile(r"(?<![\w@/])@(?=\w)")
HASHTAG_RE = re.compile(r"^#\w*[^\W\d_]\w*$")

MODE_TAGS = {
    "metro": "#Tunnelbanan",
    "rail": "#Pendeltåg",
    "tram": "#Spårväg",
    "bus": "#Buss",
    "ferry": "#Båt",
    "shipping": "#Sjöfart",
}

MONTHS = {
    "sv": ("jan", "feb", "mars", "apr", "maj", "juni", "juli", "aug", "sep", "okt", "nov", "dec"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
LABELS = {
    "sv": {
        "update": "Uppdatering: ",
        "valid": "Gäller från {start} till {end}",
        "open": "Gäller från {start} tills vidare",
        "more_periods": " (fler tider på webben)",
        "end_road": "Trafiken flyter igen",
        "end_pt": "Trafiken går som vanligt igen",
        "end_warning": "Varningen är upphävd",
        "digest_new": "{n} fler störningar",
        "digest_new_1": "1 störning till",
        "digest_other": "{n} uppdateringar",
        "digest_other_1": "1 uppdatering",
        "and": " och ",
        "digest_more": "… och {n} till: {url}",
        "digest_head": "Fler störningar:",
    },
    "en": {
        "update": "Update: ",
        "valid": "Valid from {start} until {end}",
        "open": "Valid from {start} until further notice",
        "more_periods": " (more times on the web)",
        "end_road": "Traffic is flowing again",
        "end_pt": "Services are running as usual again",
        "end_warning": "The warning has been lifted",
        "digest_new": "{n} more disruptions",
        "digest_new_1": "1 more disruption",
        "digest_other": "{n} updates",
        "digest_other_1": "1 update",
        "and": " and ",
        "digest_more": "… and {n} more: {url}",
        "digest_head": "More disruptions:",
    },
}


@dataclass(frozen=True, slots=True)
class Draft:
    """A composed post: its text and the language it is written in."""

    text: str
    language: str


def mastodon_length(text: str) -> int:
    """Length as Mastodon counts it: code points, URLs as 23, `@user@domain` as `@user`."""
    text = URL_RE.sub("x" * URL_LENGTH, text)
    text = MENTION_RE.sub(lambda m: m.group(1), text)
    return len(text)


def grapheme_length(text: str) -> int:
    """Length in user-perceived characters (Bluesky's 300-grapheme limit)."""
    import regex  # imported here: only the Bluesky channel counts graphemes

    return len(regex.findall(r"\X", text))


SHORT_URL = 40  # Bluesky shows a link as its first characters; the facet holds the whole URL


def short_url(url: str) -> str:
    """How a link is displayed on Bluesky: no scheme, at most SHORT_URL characters."""
    bare = re.sub(r"^https?://(?:www\.)?", "", url, flags=re.I)
    return bare if len(bare) <= SHORT_URL else bare[: SHORT_URL - 1] + ELLIPSIS


def bluesky_length(text: str) -> int:
    """Graphemes as Bluesky counts them, each link at its displayed (shortened) length."""
    return grapheme_length(URL_RE.sub(lambda m: short_url(m.group(0)), text))


@dataclass(frozen=True, slots=True)
class Limit:
    """A network's post size: the maximum and how it counts."""

    size: int = MAX_CHARS
    measure: Callable[[str], int] = mastodon_length


def server_length(text: str) -> int:
    """The stricter of Mastodon's count and plain characters (servers that count links in full)."""
    return max(mastodon_length(text), len(text))


MASTODON = Limit()
MASTODON_FULL_LINKS = Limit(MAX_CHARS, server_length)  # GoToSocial, mastodon_mock
BLUESKY = Limit(BLUESKY_GRAPHEMES, bluesky_length)


def is_valid_hashtag(tag: str) -> bool:
    """Letters, digits and underscore after `#`, with at least one letter (as Mastodon parses)."""
    return bool(HASHTAG_RE.match(tag))


def link(d: Disruption, public_url: str) -> str:
    """The permalink of `d` on the website."""
    return f"{public_url.rstrip('/')}/d/{quote(d.id, safe=':')}"


def _tag(text: str) -> str | None:
    tag = "#" + re.sub(r"\W", "", text)
    return tag if is_valid_hashtag(tag) and len(tag) <= 30 else None


def _road_tag(road: str) -> str | None:
    road = road.strip().replace(" ", "")
    if road.isdigit():
        return _tag(f"Väg{road}")  # `#73` is no hashtag (all digits): Trafikverket says "väg 73"
    if re.fullmatch(r"(?i)väg\d+", road):
        return _tag("Väg" + road[3:])
    return _tag(road.upper() if re.fullmatch(r"(?i)e\d+", road) else road)


def _line_number(name: str | None, ident: str) -> str | None:
    for candidate in ((name or "").split()[:1] or [""])[0], ident:
        if re.fullmatch(r"\d{1,3}[A-Z]?", candidate):
            return candidate
    return None


def hashtags(d: Disruption, limit: int = MAX_TAGS) -> list[str]:
    """Hashtags for roads (`#E4`, `#Väg73`), lines (`#Linje14`), modes and VMA, valid and unique."""
    tags: list[str | None] = []
    if any(c.casefold() == "cap:code=vma" for c in d.categories):
        tags.append("#VMA")
    for a in d.affected:
        if a.type == "road":
            tags.append(_road_tag(a.id))
        elif a.type == "route":
            number = _line_number(a.name, a.id)
            tags.append(_tag(f"Linje{number}") if number else None)
    if "road" in d.modes and not any(a.type == "road" for a in d.affected) and len(d.modes) == 1:
        tags.append("#Trafik")
    tags.extend(MODE_TAGS.get(m) for m in d.modes)
    out: list[str] = []
    for tag in tags:
        if tag and tag.casefold() not in {t.casefold() for t in out}:
            out.append(tag)
    return out[:limit]


def _labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["en"])


def _when(t: datetime, lang: str, now: datetime, date: bool = True) -> str:
    local = t.astimezone(STOCKHOLM)
    clock = local.strftime("%H:%M")
    if not date:
        return clock
    month = MONTHS.get(lang, MONTHS["en"])[local.month - 1]
    year = f" {local.year}" if local.year != now.astimezone(STOCKHOLM).year else ""
    return f"{local.day} {month}{year} {clock}"


def _period_of_interest(periods: tuple[Period, ...], now: datetime) -> Period | None:
    current = [p for p in periods if p.contains(now)]
    future = sorted((p for p in periods if p.start > now), key=lambda p: p.start)
    if current or future:
        return (current or future)[0]
    return max(periods, key=lambda p: p.start) if periods else None


def validity(d: Disruption, lang: str, now: datetime) -> str:
    """`Gäller från 25 nov 14:30 till 18:00.` in Stockholm local time ('' without periods)."""
    p = _period_of_interest(d.periods, now)
    if p is None:
        return ""
    labels = _labels(lang)
    start = _when(p.start, lang, now)
    if p.end is None:
        text = labels["open"].format(start=start)
    else:
        same_day = p.start.astimezone(STOCKHOLM).date() == p.end.astimezone(STOCKHOLM).date()
        text = labels["valid"].format(start=start, end=_when(p.end, lang, now, date=not same_day))
    return text + (labels["more_periods"] if len(d.periods) > 1 else "") + "."


def _clean(text: str) -> str:
    return AT_WORD_RE.sub("＠", " ".join(sentence_case(text).split()))


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.casefold()) if len(w) > 2}


def primary(tag: str) -> str:
    """The primary language subtag (`sv-SE` -> `sv`)."""
    return tag.split("-")[0].lower()


def same_lang(texts: Mapping[str, str], lang: str) -> str:
    """The text in `lang` (its key `lang` itself or with a region, `sv-SE`), '' when none."""
    return next((v for k, v in texts.items() if k == lang or primary(k) == primary(lang)), "")


def title(d: Disruption, lang: str) -> tuple[str, str]:
    """(language, what and where): the header plus the location when it adds something."""
    found = d.text(d.header, lang)
    used, header = found if found else (lang, d.id)
    used = primary(used)  # `sv-SE` texts are Swedish posts (labels, dates and the post's language)
    header = _clean(header).rstrip(" .")
    loc = same_lang(d.location_text, used)
    if loc:
        loc = _clean(loc).rstrip(" .")
        words = _words(loc)
        if words and len(words & _words(header)) / len(words) < 0.6:
            header = f"{header} – {loc}"
    return used, header


def _description(d: Disruption, lang: str, header: str) -> str:
    text = _clean(same_lang(d.description, lang))
    raw = _clean(same_lang(d.header, lang))
    # Upstreams often repeat the header as the first sentence of the description.
    for lead in (raw, raw.rstrip(" ."), header):
        if lead and text.casefold().startswith(lead.casefold()):
            text = text[len(lead) :].lstrip(" .:–-")
            break
    return text


def _trim(text: str, fits: Callable[[str], bool]) -> str:
    """The longest word-boundary prefix of `text` (plus an ellipsis) that `fits` ('' if none)."""
    if fits(text):
        return text
    words = text.split(" ")
    lo, hi = 0, len(words) - 1
    while lo < hi:  # largest k with fits(words[:k] + …)
        mid = (lo + hi + 1) // 2
        if fits(" ".join(words[:mid]).rstrip(",;:–-") + ELLIPSIS):
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return " ".join(words[:lo]).rstrip(",;:–-") + ELLIPSIS
    lo, hi = 0, len(text)
    while lo < hi:  # one enormous word: cut characters
        mid = (lo + hi + 1) // 2
        if fits(text[:mid] + ELLIPSIS):
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + ELLIPSIS if lo else ""


def fit(
    lead: str,
    body: list[str],
    tail: str,
    order: tuple[int, ...] | None = None,
    limit: int = MAX_CHARS,
    measure: Callable[[str], int] = mastodon_length,
) -> str:
    """Join `lead`, the body lines and `tail` (never cut), trimming body lines to fit `limit`.

    `order`: which body lines may be trimmed, first to last (default: from the last line up).
    """
    lines = list(body)

    def build(parts: list[str]) -> str:
        return lead + "\n".join(p for p in parts if p) + "\n\n" + tail

    for i in order if order is not None else range(len(lines) - 1, -1, -1):
        if measure(build(lines)) <= limit:
            break

        def fits(candidate: str, i: int = i) -> bool:
            return measure(build([*lines[:i], candidate, *lines[i + 1 :]])) <= limit

        lines[i] = _trim(lines[i], fits)
    return build(lines)


def is_warning(d: Disruption) -> bool:
    """Shipping, NAVTEX and CAP/VMA items are warnings: their all-clear lifts the warning."""
    return d.source_type in ("cap", "navtex") or "shipping" in d.modes


def compose(
    d: Disruption,
    kind: str,
    lang: str,
    public_url: str,
    now: datetime,
    *,
    strict: bool = False,
    limit: Limit = MASTODON,
    cancel: Disruption | None = None,
) -> Draft | None:
    """The post for `d` (`kind`: new, update or end) in `lang`.

    With `strict`, None when `d` has no header in `lang` (the second-language reply);
    otherwise the text falls back to another language and `Draft.language` says which.
    `cancel`: the message that ended `d` (a NAVTEX cancellation): its text goes in the all-clear.
    """
    if strict and not same_lang(d.header, lang):
        return None
    used, what = title(d, lang)
    labels = _labels(used)
    tags = " ".join(hashtags(d))
    tail = link(d, public_url)
    desc, moved = without_coordinates(_description(d, used, what), used)
    what, moved_title = without_coordinates(what, used)
    where = map_link(d.geometry) if (moved or moved_title) and kind != "end" else None
    if where:
        tail += "\n" + ("Karta: " if used == "sv" else "Map: ") + where
    tail = (tail + "\n" + tags).rstrip()
    if kind == "end":
        sentence, was = all_clear(d, used, is_warning(d), what)
        body = [was]
        if cancel is not None:
            ctext = cancel.text(cancel.description, used)
            if ctext:
                cdesc, _ = without_coordinates(_clean(ctext[1]), used)
                body.insert(0, cdesc)
        text = fit(sentence + "\n", body, tail, limit=limit.size, measure=limit.measure)
        return Draft(text, used)
    lead = labels["update"] if kind == "update" else ""
    body = [what, validity(d, used, now), desc]
    # The description goes first, then the title; the validity is never cut.
    return Draft(fit(lead, body, tail, order=(2, 0), limit=limit.size, measure=limit.measure), used)
