"""Languages of the commuters' pages and feeds: negotiation, a small sv/en catalogue, Babel dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta

from travelinfo.vocab import pick_lang

LANGS = ("sv", "en")
TZ = ZoneInfo("Europe/Stockholm")
# en_GB: 24-hour clock and day-month order, what a Stockholm reader of English expects.
LOCALES = {"sv": "sv_SE", "en": "en_GB"}
DATE_PATTERNS = {"sv": "EEE d MMM y HH:mm", "en": "EEE d MMM y, HH:mm"}

CATALOGUE: dict[str, dict[str, str]] = {
    "site_title": {"sv": "Trafikstörningar i Stockholm", "en": "Travel disruptions in Stockholm"},
    "skip": {"sv": "Hoppa till innehållet", "en": "Skip to content"},
    "nav_main": {"sv": "Huvudmeny", "en": "Main menu"},
    "nav_list": {"sv": "Störningar", "en": "Disruptions"},
    "nav_status": {"sv": "Källornas status", "en": "Source status"},
    "nav_feed": {"sv": "Atom-flöde", "en": "Atom feed"},
    "nav_rss": {"sv": "RSS-flöde", "en": "RSS feed"},
    "nav_api": {"sv": "API för utvecklare", "en": "API for developers"},
    "switch_lang": {"sv": "In English", "en": "På svenska"},
    "filters": {"sv": "Filtrera", "en": "Filter"},
    "apply": {"sv": "Visa", "en": "Show"},
    "clear": {"sv": "Rensa filter", "en": "Clear filters"},
    "f_mode": {"sv": "Trafikslag", "en": "Mode"},
    "f_line": {"sv": "Linje", "en": "Line"},
    "f_road": {"sv": "Väg", "en": "Road"},
    "f_area": {"sv": "Område", "en": "Area"},
    "f_severity": {"sv": "Allvarlighet (minst)", "en": "Severity (at least)"},
    "f_when": {"sv": "Tid", "en": "When"},
    "any": {"sv": "Alla", "en": "Any"},
    "when_": {"sv": "Nu och planerade", "en": "Now and planned"},
    "when_now": {"sv": "Just nu", "en": "Now"},
    "when_24h": {"sv": "Nästa 24 timmar", "en": "Next 24 hours"},
    "when_planned": {"sv": "Planerade", "en": "Planned"},
    "none": {"sv": "Inga störningar just nu.", "en": "No disruptions right now."},
    # Counted strings: `<key>_<CLDR plural form>`, chosen by text.tn() with Babel's plural rules.
    "count_one": {"sv": "{n} störning", "en": "{n} disruption"},
    "count_other": {"sv": "{n} störningar", "en": "{n} disruptions"},
    "live_new_one": {"sv": "{n} ny eller ändrad störning", "en": "{n} new or changed disruption"},
    "live_new_other": {"sv": "{n} nya eller ändrade störningar", "en": "{n} new or changed disruptions"},
    "ended_at": {"sv": "Avslutad {time}", "en": "Ended {time}"},
    "board": {"sv": "Trafikläget", "en": "Service status"},
    "board_full": {"sv": "Alla linjer och vägar", "en": "All lines and roads"},
    "board_line": {"sv": "Linje eller väg", "en": "Line or road"},
    "board_state": {"sv": "Läge", "en": "State"},
    "board_normal": {"sv": "Normal trafik", "en": "Good service"},
    "board_planned": {"sv": "Planerat arbete", "en": "Planned works"},
    "board_roads": {"sv": "Vägar", "en": "Roads"},
    "star": {"sv": "Lägg till {name} i mina linjer", "en": "Add {name} to my lines"},
    "unstar": {"sv": "Ta bort {name} från mina linjer", "en": "Remove {name} from my lines"},
    "line_n": {"sv": "linje {n}", "en": "line {n}"},
    "road_n": {"sv": "väg {n}", "en": "road {n}"},
    "my_lines": {"sv": "Mina linjer", "en": "My lines"},
    "only_mine": {"sv": "Visa bara mina linjer", "en": "Show only my lines"},
    "search": {"sv": "Sök linje, väg, hållplats eller plats", "en": "Search line, road, stop or place"},
    "search_go": {"sv": "Sök", "en": "Search"},
    "cleared": {"sv": "Nyligen avslutade", "en": "Recently cleared"},
    "planned": {"sv": "Planerade arbeten", "en": "Planned works"},
    "vma": {"sv": "Viktigt meddelande till allmänheten", "en": "Important public announcement"},
    "vma_ended": {
        "sv": "Det viktiga meddelandet till allmänheten har upphört",
        "en": "The public announcement is over",
    },
    "read_more": {"sv": "Läs mer", "en": "Read more"},
    "map": {"sv": "Karta över störningarna", "en": "Map of the disruptions"},
    "map_show": {"sv": "Visa karta", "en": "Show map"},
    "map_note": {
        "sv": "Kartan visar samma störningar som listan nedan.",
        "en": "The map shows the same disruptions as the list below.",
    },
    "live_updated": {"sv": "Listan har uppdaterats", "en": "The list has been updated"},
    "updated": {"sv": "Uppdaterad", "en": "Updated"},
    "status_active": {"sv": "Pågår", "en": "Ongoing"},
    "status_planned": {"sv": "Planerad", "en": "Planned"},
    "status_ended": {"sv": "Avslutad", "en": "Ended"},
    "sev_UNKNOWN_SEVERITY": {"sv": "Okänd", "en": "Unknown"},
    "sev_INFO": {"sv": "Information", "en": "Information"},
    "sev_WARNING": {"sv": "Varning", "en": "Warning"},
    "sev_SEVERE": {"sv": "Allvarlig", "en": "Severe"},
    "mode_road": {"sv": "Väg", "en": "Road"},
    "mode_metro": {"sv": "Tunnelbana", "en": "Metro"},
    "mode_tram": {"sv": "Spårväg", "en": "Tram"},
    "mode_bus": {"sv": "Buss", "en": "Bus"},
    "mode_rail": {"sv": "Tåg", "en": "Rail"},
    "mode_ferry": {"sv": "Båt", "en": "Ferry"},
    "mode_unknown": {"sv": "Kollektivtrafik", "en": "Public transport"},  # mode not stated (issue 19)
    "mode_shipping": {"sv": "Sjöfart", "en": "Shipping"},
    "details": {"sv": "Detaljer", "en": "Details"},
    "periods": {"sv": "Giltighet", "en": "Valid"},
    "open_end": {"sv": "tills vidare", "en": "until further notice"},
    # GTFS-RT periods without a start begin at the Unix epoch: shown as "until <end>".
    "open_start": {"sv": "till", "en": "until"},
    "from": {"sv": "från", "en": "from"},
    "affected": {"sv": "Påverkar", "en": "Affects"},
    # Directions of roads and lines (issue 19; positive/negative are the road's own: not shown).
    "towards": {"sv": "mot {place}", "en": "towards {place}"},
    "dir_both": {"sv": "båda riktningarna", "en": "both directions"},
    "dir_northbound": {"sv": "norrgående", "en": "northbound"},
    "dir_southbound": {"sv": "södergående", "en": "southbound"},
    "dir_eastbound": {"sv": "östergående", "en": "eastbound"},
    "dir_westbound": {"sv": "västergående", "en": "westbound"},
    "dir_inbound": {"sv": "mot centrum", "en": "inbound"},
    "dir_outbound": {"sv": "från centrum", "en": "outbound"},
    "dir_clockwise": {"sv": "medurs", "en": "clockwise"},
    "dir_anticlockwise": {"sv": "moturs", "en": "anticlockwise"},
    "location": {"sv": "Plats", "en": "Location"},
    "coordinates": {"sv": "Koordinater", "en": "Coordinates"},
    "map_link": {"sv": "Visa på OpenStreetMap", "en": "Show on OpenStreetMap"},
    "sketch": {"sv": "Skiss av platsen", "en": "Sketch of the place"},
    "source": {"sv": "Källa", "en": "Source"},
    "fetched": {"sv": "Hämtad", "en": "Fetched"},
    "more_info": {"sv": "Mer information", "en": "More information"},
    "cause": {"sv": "Orsak", "en": "Cause"},
    "effect": {"sv": "Påverkan", "en": "Effect"},
    "severity": {"sv": "Allvarlighet", "en": "Severity"},
    "related": {"sv": "Relaterade", "en": "Related"},
    "back": {"sv": "Alla störningar", "en": "All disruptions"},
    "st_source": {"sv": "Källa", "en": "Source"},
    "st_state": {"sv": "Läge", "en": "State"},
    "st_success": {"sv": "Senast uppdaterad", "en": "Last updated"},
    "st_items": {"sv": "Poster", "en": "Items"},
    "st_error": {"sv": "Senaste fel", "en": "Last error"},
    "st_never": {"sv": "aldrig", "en": "never"},
    "st_none": {"sv": "Inga källor är konfigurerade.", "en": "No sources are configured."},
    "state_ok": {"sv": "OK", "en": "OK"},
    "state_stale": {"sv": "Inaktuell", "en": "Stale"},
    "state_failing": {"sv": "Fungerar inte", "en": "Failing"},
    "state_pending": {"sv": "Väntar", "en": "Pending"},
    "state_suspect": {"sv": "Misstänkt fel, granskas", "en": "Suspect, held for review"},
    "transport_streaming": {"sv": "strömmar", "en": "streaming"},
    "transport_polling": {"sv": "hämtar med jämna mellanrum", "en": "polling"},
    "banner": {
        "sv": "Uppgifterna kan vara inaktuella: {names}.",
        "en": "The information may be out of date: {names}.",
    },
    "error_400": {"sv": "Felaktig förfrågan", "en": "Bad request"},
    "error_404": {"sv": "Sidan finns inte", "en": "Page not found"},
    "error_other": {"sv": "Något gick fel", "en": "Something went wrong"},
    "error_home": {"sv": "Till startsidan", "en": "To the front page"},
    "feed_title": {"sv": "Trafikstörningar i Stockholm", "en": "Travel disruptions in Stockholm"},
    "feed_sub": {
        "sv": "Aktuella och planerade störningar i vägtrafik och kollektivtrafik",
        "en": "Current and planned disruptions on roads and public transport",
    },
    "feed_filtered": {"sv": "urval", "en": "selection"},
    # The API docs page (/api/v1/docs): its chrome; the operations' texts are the document's (English).
    "api_intro": {
        "sv": "Allt under /api/v1 beskrivs av OpenAPI-dokumentet nedan. Läsning är öppen för alla; "
        "skrivning kräver en API-nyckel. Beskrivningarna av anropen är på engelska.",
        "en": "Everything under /api/v1 is described by the OpenAPI document below. Reading is open "
        "to everyone; writing needs an API key.",
    },
    "api_document": {"sv": "OpenAPI-dokumentet (JSON)", "en": "The OpenAPI document (JSON)"},
    "api_contents": {"sv": "Innehåll", "en": "Contents"},
    "api_operations": {"sv": "anrop", "en": "operations"},
    "api_parameters": {"sv": "Parametrar", "en": "Parameters"},
    "api_name": {"sv": "Namn", "en": "Name"},
    "api_where": {"sv": "Var", "en": "In"},
    "api_schema": {"sv": "Schema", "en": "Schema"},
    "api_about": {"sv": "Beskrivning", "en": "Description"},
    "api_required": {"sv": "krävs", "en": "required"},
    "api_body": {"sv": "Anropets innehåll", "en": "Request body"},
    "api_responses": {"sv": "Svar", "en": "Responses"},
    "api_public": {"sv": "Öppen: ingen nyckel behövs", "en": "Public: no key needed"},
    "api_keyed": {
        "sv": "Kräver en API-nyckel (Authorization: Bearer)",
        "en": "Needs an API key (Authorization: Bearer)",
    },
    "api_example": {"sv": "Exempel", "en": "Example"},
    "api_schemas": {"sv": "Scheman", "en": "Schemas"},
}

CAUSES = {
    "UNKNOWN_CAUSE": ("Okänd orsak", "Unknown cause"),
    "OTHER_CAUSE": ("Annan orsak", "Other cause"),
    "TECHNICAL_PROBLEM": ("Tekniskt fel", "Technical problem"),
    "STRIKE": ("Strejk", "Strike"),
    "DEMONSTRATION": ("Demonstration", "Demonstration"),
    "ACCIDENT": ("Olycka", "Accident"),
    "HOLIDAY": ("Helgdag", "Holiday"),
    "WEATHER": ("Väder", "Weather"),
    "MAINTENANCE": ("Underhåll", "Maintenance"),
    "CONSTRUCTION": ("Byggarbete", "Construction"),
    "POLICE_ACTIVITY": ("Polisinsats", "Police activity"),
    "MEDICAL_EMERGENCY": ("Sjukdomsfall", "Medical emergency"),
}
EFFECTS = {
    "NO_SERVICE": ("Ingen trafik", "No service"),
    "REDUCED_SERVICE": ("Begränsad trafik", "Reduced service"),
    "SIGNIFICANT_DELAYS": ("Stora förseningar", "Significant delays"),
    "DETOUR": ("Omledning", "Detour"),
    "ADDITIONAL_SERVICE": ("Extra trafik", "Additional service"),
    "MODIFIED_SERVICE": ("Ändrad trafik", "Modified service"),
    "OTHER_EFFECT": ("Annan påverkan", "Other effect"),
    "UNKNOWN_EFFECT": ("Okänd påverkan", "Unknown effect"),
    "STOP_MOVED": ("Hållplats flyttad", "Stop moved"),
    "NO_EFFECT": ("Ingen påverkan", "No effect"),
    "ACCESSIBILITY_ISSUE": ("Tillgänglighetsproblem", "Accessibility issue"),
}


def t(key: str, lang: str, **values: object) -> str:
    """The UI string `key` in `lang` (English when missing), with `{name}` values filled in."""
    entry = CATALOGUE[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def label(table: Mapping[str, tuple[str, str]], name: str, lang: str) -> str:
    """A cause or effect name in the reader's language."""
    sv, en = table.get(name, (name, name))
    return sv if lang == "sv" else en


def negotiate(query_lang: str | None, accept_language: str, default: str) -> str | None:
    """The page language: `?lang=` wins, then Accept-Language; None when `?lang=` is not sv/en."""
    if query_lang is not None:
        value = query_lang.strip().lower()
        return value if value in LANGS else None
    best, best_q = default, 0.0
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        # Earlier entries win ties, as RFC 9110 intends for equal weights.
        q -= position * 1e-6
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best


def pick(texts: Mapping[str, str], lang: str) -> tuple[str, str] | None:
    """(language, text) in the reader's language (`en` finds `en-GB`), else the other one, else any."""
    return pick_lang(texts, (lang, *(x for x in LANGS if x != lang)))


def when(value: datetime, lang: str) -> str:
    """A date and time in Stockholm local time, in the reader's language."""
    return str(format_datetime(value, DATE_PATTERNS[lang], tzinfo=TZ, locale=LOCALES[lang]))


def ago(value: datetime, lang: str, now: datetime | None = None) -> str:
    """A relative time such as "för 2 minuter sedan" / "2 minutes ago"."""
    delta: timedelta = value - (now or datetime.now(UTC))
    return str(format_timedelta(delta, add_direction=True, threshold=1.0, locale=LOCALES[lang]))


def clock(value: datetime, lang: str) -> str:
    """A time of day in Stockholm ("14:05"), with the date when it is not today."""
    local, today = value.astimezone(TZ), datetime.now(TZ).date()
    pattern = "HH:mm" if local.date() == today else ("d MMM HH:mm" if lang == "sv" else "d MMM, HH:mm")
    return str(format_datetime(value, pattern, tzinfo=TZ, locale=LOCALES[lang]))
