"""`/watch` ("Bevaka" / "Watch"): choose what to follow and when, then subscribe this browser.

The page works as a form; the subscription itself needs JavaScript (`static/watch.js`), which
asks for notification permission only after the click on the button.
"""

from __future__ import annotations

from aiohttp import web

from travelinfo.model import MODES, SEVERITIES
from travelinfo.runtime.appkeys import SETTINGS
from travelinfo.runtime.server import PAGE_CSP, BadParameter
from travelinfo.web import routes as web_routes
from travelinfo.web.i18n import t
from travelinfo.webpush.subscription import DAYS, LANGS

MAX_GIVEN = 200
DAY_NAMES = {
    "sv": ("mån", "tis", "ons", "tors", "fre", "lör", "sön"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
WORDS = {
    "sv": {
        "title": "Bevaka",
        "site": "Trafikstörningar i Stockholm",
        "skip": "Hoppa till innehållet",
        "nav": "Huvudmeny",
        "list": "Störningar",
        "switch": "In English",
        "intro": "Få en avisering i webbläsaren när något händer på det du bevakar, bara de tider du väljer.",
        "noscript": "Aviseringar kräver JavaScript.",
        "what": "Vad vill du bevaka?",
        "route": "Linje",
        "road": "Väg",
        "stop": "Hållplats eller brygga",
        "modes": "Trafikslag",
        "when": "När?",
        "from": "Från",
        "to": "till",
        "when_help": "Lokal tid. Lämna en rad tom om du inte vill använda den. "
        "Viktiga meddelanden till allmänheten (VMA) kommer alltid.",
        "severity": "Minsta allvarlighet",
        "planned": "Även planerade arbeten",
        "ahead": "Berätta kvällen före (kl. 20) om planerade arbeten nästa dag",
        "submit": "Bevaka",
        "unsubscribe": "Sluta bevaka",
        "privacy": "Vi sparar bara webbläsarens push-adress och nycklar, dina val och tider. "
        "Inget konto, inget delas. Sluta bevaka när du vill, här eller i en avisering.",
        "done": "Klart! Du får aviseringar för det du valt.",
        "denied": "Aviseringar är avstängda i webbläsaren, så inget bevakas.",
        "unsupported": "Den här webbläsaren kan inte ta emot aviseringar.",
        "failed": "Det gick inte:",
        "stopped": "Du bevakar inte längre något här.",
    },
    "en": {
        "title": "Watch",
        "site": "Travel disruptions in Stockholm",
        "skip": "Skip to content",
        "nav": "Main menu",
        "list": "Disruptions",
        "switch": "På svenska",
        "intro": "Get a browser notification when something happens on what you watch, "
        "only at the times you pick.",
        "noscript": "Notifications need JavaScript.",
        "what": "What do you want to watch?",
        "route": "Line",
        "road": "Road",
        "stop": "Stop or pier",
        "modes": "Modes",
        "when": "When?",
        "from": "From",
        "to": "to",
        "when_help": "Local time. Leave a row empty not to use it. "
        "Important public warnings always come through.",
        "severity": "Lowest severity",
        "planned": "Planned works too",
        "ahead": "Tell me the evening before (20:00) about planned works the next day",
        "submit": "Watch",
        "unsubscribe": "Stop watching",
        "privacy": "We keep only the browser's push address and keys, your choices and times. "
        "No account, nothing shared. Stop watching whenever you like, here or in a notification.",
        "done": "Done! You will get notifications for what you chose.",
        "denied": "Notifications are blocked in this browser, so nothing is watched.",
        "unsupported": "This browser cannot receive notifications.",
        "failed": "That did not work:",
        "stopped": "You no longer watch anything here.",
    },
}
JS_KEYS = ("done", "denied", "unsupported", "failed", "stopped")


def _given(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if len(value) > MAX_GIVEN:
        raise BadParameter(name, f"longer than {MAX_GIVEN} characters")
    return value


async def watch(request: web.Request) -> web.Response:
    """GET /watch?route=&road=&stop=&mode=&lang=: the form, prefilled from the link that led here."""
    lang = request.query.get("lang") or request.app[SETTINGS].web.default_lang
    if lang not in LANGS:
        raise BadParameter("lang", "one of sv, en")
    modes = [m for m in _given(request, "mode").split(",") if m]
    if any(m not in MODES for m in modes):
        raise BadParameter("mode", f"one of {', '.join(MODES)}")
    words = WORDS[lang]
    router = request.app.router
    ctx = {
        "lang": lang,
        "other_lang": "en" if lang == "sv" else "sv",
        "w": words,
        "texts": {k: words[k] for k in JS_KEYS},
        "css": str(router["static"].url_for(filename="site.css")),
        "js": str(router["static"].url_for(filename="watch.js")),
        "given": {
            "route": _given(request, "route"),
            "road": _given(request, "road"),
            "stop": _given(request, "stop"),
            "modes": modes,
        },
        "modes": [(m, t(f"mode_{m}", lang)) for m in MODES if m != "unknown"],
        "days": list(zip(DAYS, DAY_NAMES[lang], strict=True)),
        "severities": [(s, t(f"sev_{s}", lang)) for s in SEVERITIES if s != "UNKNOWN_SEVERITY"],
    }
    body = request.app[web_routes.ENV].get_template("watch.html").render(**ctx)
    headers = {
        "Content-Security-Policy": PAGE_CSP,
        "Cache-Control": "public, max-age=60",
        "Vary": "Accept-Language",
    }
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers=headers)
