"""CAP 1.2 out: one alert per public warning, and an Atom index of them (OASIS CAP feeds); pure.

Which items: `source_type` cap (the model has no operator "alert" flag). Message choices:
- `identifier` is the upstream id for a first `Alert`; an `Update`/`Cancel` gets
  `<upstream id>_<sent epoch>` and `references` the first version (`sender,<upstream id>,<first
  seen>`), so a CAP reader (ours included) files every version under the same incident.
- `msgType`: Cancel when the item ended, Update when the upstream message was an Update (or we
  know a later identifier), else Alert.
- One `info` per language (and per validity period); `area` carries polygons, `circle`s of
  radius 0 for points, and the geocodes of the item's `area` entities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from lxml import etree

from travelinfo.model import Disruption, Period, format_time
from travelinfo.standards.text import clean, lang_tag

NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
_DEFAULT_NS: Any = {None: NS}  # lxml-stubs do not allow the None (default) prefix
_ATOM_NS: Any = {None: ATOM}
CAP_TYPE = "application/cap+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
MSGTYPE_SCHEME = "urn:oasis:names:tc:emergency:cap:1.2:msgType"
# CAP categories per cause (the reverse of the parser's map); the upstream's own category wins.
CATEGORIES = {
    "WEATHER": "Met",
    "POLICE_ACTIVITY": "Security",
    "MEDICAL_EMERGENCY": "Health",
    "TECHNICAL_PROBLEM": "Infra",
    "ACCIDENT": "Safety",
    "CONSTRUCTION": "Infra",
    "MAINTENANCE": "Infra",
}
SEVERITIES = {"SEVERE": "Severe", "WARNING": "Moderate", "INFO": "Minor", "UNKNOWN_SEVERITY": "Unknown"}
_MODEL_SEVERITY = {"Extreme": "SEVERE", "Severe": "SEVERE", "Moderate": "WARNING", "Minor": "INFO"}
_URGENCY = ("Immediate", "Expected", "Future", "Past", "Unknown")
_CERTAINTY = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
_CAP_CATEGORIES = (
    *("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env"),
    *("Transport", "Infra", "CBRNE", "Other"),
)
# CAP forbids white space, commas, `<` and `&` in identifiers and sender.
_NOT_IDENT = re.compile(r"[\s,<&]")


def is_alert(d: Disruption) -> bool:
    """Whether `d` is a public warning published as CAP."""
    return d.source_type == "cap"


def cap_time(value: datetime) -> str:
    """CAP's dateTime form: seconds precision and a numeric offset (never `Z`)."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def ident(text: str) -> str:
    """`text` usable as a CAP identifier or sender."""
    return _NOT_IDENT.sub("_", text) or "_"


def _category(d: Disruption, name: str) -> list[str]:
    prefix = f"cap:{name}="
    return [c[len(prefix) :] for c in d.categories if c.startswith(prefix)]


def msg_type(d: Disruption) -> str:
    """Alert, Update or Cancel for the current version of `d`."""
    if d.status == "ended":
        return "Cancel"
    upstream = _category(d, "msgType")
    if "Update" in upstream or "Cancel" in upstream or _category(d, "identifier"):
        return "Update"
    return "Alert"


def message_id(d: Disruption) -> str:
    """This version's identifier (the first version keeps the upstream id)."""
    root = ident(d.upstream_id)
    if msg_type(d) == "Alert":
        return root
    return f"{root}_{int(d.updated_at.timestamp())}"


def _sub(parent: Any, name: str, text: str | None = None, ns: str = NS, **attrib: str) -> Any:
    elem = etree.SubElement(parent, f"{{{ns}}}{name}", attrib)
    if text is not None:
        elem.text = clean(text)
    return elem


def _latlon(coord: Any) -> str:
    return f"{float(coord[1])!r},{float(coord[0])!r}"


def _shapes(geometry: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """(polygons, circles) in CAP's `lat,lon` form; lines have no CAP shape and are left out."""
    polygons: list[str] = []
    circles: list[str] = []
    if not geometry:
        return polygons, circles
    kind = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    if kind == "Polygon":
        polygons.append(" ".join(_latlon(c) for c in coords[0]))
    elif kind == "MultiPolygon":
        polygons.extend(" ".join(_latlon(c) for c in poly[0]) for poly in coords)
    elif kind == "Point":
        circles.append(f"{_latlon(coords)} 0")
    elif kind == "MultiPoint":
        circles.extend(f"{_latlon(c)} 0" for c in coords)
    elif kind == "GeometryCollection":
        for part in geometry.get("geometries", ()):
            more_p, more_c = _shapes(part)
            polygons += more_p
            circles += more_c
    return polygons, circles


def _one(values: list[str], allowed: tuple[str, ...], default: str) -> str:
    return next((v for v in values if v in allowed), default)


def event_of(d: Disruption, lang: str) -> str:
    """The `event` of the `lang` block: the upstream's, else the header (readers show it as the
    headline of a block that has none)."""
    upstream = _category(d, "event")
    if upstream:
        return upstream[0]
    found = d.text(d.header, lang)
    return found[1] if found else d.id


def _info(alert: Any, d: Disruption, lang: str, period: Period | None) -> None:
    info = _sub(alert, "info")
    _sub(info, "language", lang_tag(lang))
    cats = [c for c in _category(d, "category") if c in _CAP_CATEGORIES]
    for cat in dict.fromkeys(cats or [CATEGORIES.get(d.cause, "Other")]):
        _sub(info, "category", cat)
    _sub(info, "event", event_of(d, lang))
    _sub(info, "urgency", _one(_category(d, "urgency"), _URGENCY, "Unknown"))
    upstream = [s for s in _category(d, "severity") if _MODEL_SEVERITY.get(s) == d.severity]
    _sub(info, "severity", upstream[0] if upstream else SEVERITIES[d.severity])
    _sub(info, "certainty", _one(_category(d, "certainty"), _CERTAINTY, "Unknown"))
    if period is not None:
        _sub(info, "onset", cap_time(period.start))
        if period.end is not None:
            _sub(info, "expires", cap_time(period.end))
    if lang in d.header:
        _sub(info, "headline", d.header[lang])
    if lang in d.description:
        _sub(info, "description", d.description[lang])
    if d.url:
        _sub(info, "web", d.url)
    polygons, circles = _shapes(d.geometry)
    codes = [a for a in d.affected if a.type == "area" and ":" in a.id]
    if polygons or circles or codes or d.location_text:
        area = _sub(info, "area")
        desc = d.location_text.get(lang) or next(iter(d.location_text.values()), None)
        _sub(area, "areaDesc", desc or d.header.get(lang) or next(iter(d.header.values())))
        for text in polygons:
            _sub(area, "polygon", text)
        for text in circles:
            _sub(area, "circle", text)
        for a in codes:
            name, _, value = a.id.partition(":")
            code = _sub(area, "geocode")
            _sub(code, "valueName", name)
            _sub(code, "value", value)


def alert(d: Disruption, sender: str) -> Any:
    """The CAP `alert` element for the current version of `d`."""
    root = etree.Element(f"{{{NS}}}alert", nsmap=_DEFAULT_NS)
    kind = msg_type(d)
    _sub(root, "identifier", message_id(d))
    _sub(root, "sender", ident(sender))
    _sub(root, "sent", cap_time(d.updated_at))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", kind)
    _sub(root, "source", d.source)
    _sub(root, "scope", "Public")
    if kind != "Alert":
        _sub(root, "references", f"{ident(sender)},{ident(d.upstream_id)},{cap_time(d.first_seen)}")
    langs = list(dict.fromkeys([*d.header, *d.description]))
    for period in d.periods or (None,):
        for lang in langs:
            _info(root, d, lang, period)
    return root


def render_alert(d: Disruption, sender: str) -> bytes:
    """One CAP 1.2 alert document."""
    return bytes(etree.tostring(alert(d, sender), xml_declaration=True, encoding="UTF-8"))


def alert_url(base: str, d: Disruption) -> str:
    """Where the CAP alert of `d` is served."""
    return f"{base}/cap/{quote(d.id, safe=':@')}.xml"


def render_index(items: Iterable[Disruption], base: str, updated: datetime, lang: str = "sv") -> bytes:
    """The Atom index of the current alerts (one entry per alert, linking its CAP document)."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=_ATOM_NS)
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", lang_tag(lang))
    alerts = [d for d in items if is_alert(d)]
    newest = max((d.updated_at for d in alerts), default=updated)
    _sub(feed, "id", f"{base}/cap/alerts.atom", ATOM)
    _sub(feed, "title", "travelinfo CAP alerts", ATOM)
    _sub(feed, "updated", format_time(newest), ATOM)
    _sub(_sub(feed, "author", ns=ATOM), "name", "travelinfo", ATOM)
    _sub(feed, "link", ns=ATOM, rel="self", href=f"{base}/cap/alerts.atom", type="application/atom+xml")
    for d in alerts:
        entry = _sub(feed, "entry", ns=ATOM)
        _sub(entry, "id", alert_url(base, d), ATOM)
        title = d.text(d.header, lang)
        _sub(entry, "title", title[1] if title else d.id, ATOM)
        _sub(entry, "updated", format_time(d.updated_at), ATOM)
        _sub(entry, "published", format_time(d.first_seen), ATOM)
        link = {"rel": "alternate", "href": alert_url(base, d), "type": "application/cap+xml"}
        _sub(entry, "link", ns=ATOM, **link)
        _sub(entry, "category", ns=ATOM, term=msg_type(d), scheme=MSGTYPE_SCHEME)
        summary = d.text(d.description, lang)
        if summary:
            _sub(entry, "summary", summary[1], ATOM)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8"))
