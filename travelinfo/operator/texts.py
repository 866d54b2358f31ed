"""The operator UI's sv/en texts (the commuters' catalogue in `web.i18n` holds the shared ones)."""

from __future__ import annotations

from travelinfo.web import i18n

CATALOGUE: dict[str, tuple[str, str]] = {
    "title": ("Driftmeddelanden", "Operator notices"),
    "signin": ("Logga in", "Sign in"),
    "signin_intro": (
        "Logga in med organisationens API-nyckel (behörighet notices:write eller notices:approve).",
        "Sign in with your organisation's API key (scope notices:write or notices:approve).",
    ),
    "token": ("API-nyckel", "API key"),
    "signin_bad": (
        "Nyckeln är okänd, återkallad eller saknar behörighet.",
        "Unknown or revoked key, or it lacks the scope.",
    ),
    "signout": ("Logga ut", "Sign out"),
    "signed_in_as": ("Inloggad som {name} ({org})", "Signed in as {name} ({org})"),
    "expired": ("Sessionen har gått ut. Logga in igen.", "Your session has expired. Please sign in again."),
    "notices": ("Organisationens meddelanden", "Your organisation's notices"),
    "none": ("Inga meddelanden ännu.", "No notices yet."),
    "new": ("Nytt meddelande", "New notice"),
    "edit": ("Ändra", "Edit"),
    "edit_title": ("Ändra meddelande", "Edit notice"),
    "drafts": ("Utkast och ändringar som väntar", "Drafts and changes waiting"),
    "pending": ("Väntar på godkännande", "Awaiting approval"),
    "draft": ("Utkast", "Draft"),
    "by": ("av {name}", "by {name}"),
    "th_notice": ("Meddelande", "Notice"),
    "th_status": ("Läge", "Status"),
    "th_updated": ("Ändrad", "Changed"),
    "th_when": ("När", "When"),
    "th_action": ("Händelse", "Action"),
    "th_who": ("Vem", "Who"),
    "th_changes": ("Ändringar", "Changes"),
    "notice_id": ("Meddelandets id (valfritt)", "Notice id (optional)"),
    "notice_id_hint": (
        "Bokstäver, siffror, . _ ~ -; tomt: ett id väljs åt dig.",
        "Letters, digits, . _ ~ -; empty: one is chosen for you.",
    ),
    "texts": ("Texter", "Texts"),
    "header_sv": ("Rubrik (svenska)", "Headline (Swedish)"),
    "header_en": ("Rubrik (engelska)", "Headline (English)"),
    "description_sv": ("Beskrivning (svenska)", "Description (Swedish)"),
    "description_en": ("Beskrivning (engelska)", "Description (English)"),
    "location_text_sv": ("Platsbeskrivning (svenska)", "Location (Swedish)"),
    "location_text_en": ("Platsbeskrivning (engelska)", "Location (English)"),
    "kind": ("Typ av störning", "Kind of disruption"),
    "modes": ("Trafikslag", "Modes"),
    "time": ("Tid (Stockholmstid)", "Time (Stockholm time)"),
    "time_hint": (
        "Skriv ÅÅÅÅ-MM-DD TT:MM. Tom start: från nu. Tomt slut: tills vidare.",
        "Write YYYY-MM-DD HH:MM. Empty start: from now. Empty end: until further notice.",
    ),
    "start": ("Start {n}", "Start {n}"),
    "end": ("Slut {n}", "End {n}"),
    "place": ("Plats", "Place"),
    "picked": ("Valda hållplatser, linjer och vägar", "Picked stops, lines and roads"),
    "picked_none": ("Inga valda ännu.", "None picked yet."),
    "search": ("Sök hållplats, linje eller väg", "Search a stop, line or road"),
    "search_go": ("Sök plats", "Search places"),
    "hits": ("Träffar: kryssa i de som påverkas", "Matches: tick those affected"),
    "no_hits": ("Inga träffar för {q}.", "No matches for {q}."),
    "t_stop": ("Hållplats", "Stop"),
    "t_route": ("Linje", "Line"),
    "t_road": ("Väg", "Road"),
    "geometry_kind": ("Form på kartan", "Shape on the map"),
    "g_none": ("Ingen (eller de valda hållplatsernas läge)", "None (or the picked stops' positions)"),
    "g_point": ("Punkt", "Point"),
    "g_line": ("Linje", "Line"),
    "g_area": ("Område", "Area"),
    "g_keep": ("Behåll nuvarande form", "Keep the current shape"),
    "coords": (
        "Koordinater: latitud, longitud, en punkt per rad",
        "Coordinates: latitude, longitude, one point per line",
    ),
    "map_help": (
        "Klicka på kartan för att lägga till punkter, eller skriv dem nedan.",
        "Click the map to add points, or type them below.",
    ),
    "map_clear": ("Rensa punkterna", "Clear the points"),
    "url": ("Länk till mer information", "Link to more information"),
    "preview": ("Förhandsgranska", "Preview"),
    "errors": ("Rätta följande:", "Please correct the following:"),
    "preview_bar": (
        "Förhandsgranskning: så här visas meddelandet på den publika sidan.",
        "Preview: this is how the public page will show the notice.",
    ),
    "publish": ("Publicera", "Publish"),
    "publish_update": ("Publicera ändringen", "Publish the change"),
    "submit": ("Skicka för godkännande", "Submit for approval"),
    "approve": ("Godkänn och publicera", "Approve and publish"),
    "back_edit": ("Tillbaka till formuläret", "Back to the form"),
    "submitted": (
        "Skickat för godkännande. En annan person med behörighet notices:approve måste godkänna.",
        "Submitted. Another person with scope notices:approve must approve it.",
    ),
    "approval_own": ("Du kan inte godkänna din egen ändring.", "You cannot approve your own change."),
    "published": ("Publicerat.", "Published."),
    "end_now": ("Avsluta nu", "End now"),
    "ended_now": ("Meddelandet är avslutat.", "The notice has ended."),
    "public_page": ("Visa den publika sidan", "Show the public page"),
    "audit": ("Ändringslogg", "Audit trail"),
    "revision": ("Version", "Revision"),
    "back_list": ("Alla meddelanden", "All notices"),
    "a_create": ("skapad", "created"),
    "a_update": ("ändrad", "updated"),
    "a_end": ("avslutad", "ended"),
    "a_approve": ("godkänd", "approved"),
    "ended_cannot_edit": (
        "Ett avslutat meddelande kan inte ändras; skapa ett nytt.",
        "An ended notice cannot be changed; create a new one.",
    ),
}


def ot(key: str, lang: str, **values: object) -> str:
    """An operator UI string in `lang`, with `{name}` values filled in."""
    sv, en = CATALOGUE[key]
    text = sv if lang == "sv" else en
    return text.format(**values) if values else text


def choices(kind: str, lang: str) -> list[tuple[str, str]]:
    """(value, label) of a picker: modes, causes, effects, severities in the reader's language."""
    from travelinfo.model import CAUSES, EFFECTS, MODES, SEVERITIES

    if kind == "modes":
        return [(m, i18n.t(f"mode_{m}", lang)) for m in MODES if f"mode_{m}" in i18n.CATALOGUE]
    if kind == "severity":
        return [(s, i18n.t(f"sev_{s}", lang)) for s in SEVERITIES]
    table, names = (i18n.CAUSES, CAUSES) if kind == "cause" else (i18n.EFFECTS, EFFECTS)
    return [(n, i18n.label(table, n, lang)) for n in names]
