"""VMA (Viktigt meddelande till allmänheten): Sveriges Radio's CAP-JSON API and Krisinformation.se v3.

- SR's VMA API answers `{"alerts": [...]}` with CAP 1.2 alerts in camelCase JSON; they follow
  exactly the CAP rules of `parsers/cap.py` (one item per incident, Update/Cancel follow
  `references`, only `status` Actual published). The list is every current alert: a full
  snapshot. `references` may be CAP triples or bare identifiers (both are seen).
- Krisinformation.se v3 (`/news`, `/vmas`) answers a JSON list of PascalCase objects; each
  becomes one item keyed by `Identifier`, HTML stripped from `BodyText`; `IsTest` ones are left out.
"""

from __future__ import annotations

import re
from typing import Any

from travelinfo.ingest.parsers import cap
from travelinfo.ingest.parsers import cap_info as ci
from travelinfo.ingest.parsers.base import ParseContext, ParseError, register
from travelinfo.ingest.parsers.jsonsafe import load_json
from travelinfo.model import Affected, Batch, Disruption, Period, make_id
from travelinfo.plaintext import clean_text

_HEADING_END = re.compile(r"</h[1-6]\s*>", re.I)
_INFO_TEXT = ("event", "urgency", "severity", "certainty", "headline", "description", "instruction", "web")


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int | float) else ""


def _many(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _info(block: dict[str, Any], notes: list[str]) -> ci.Info:
    info = ci.Info(lang=_str(block.get("language")) or "sv-SE")
    for name in _INFO_TEXT:
        setattr(info, name, clean_text(_str(block.get(name))))
    info.categories = [_str(c) for c in _many(block.get("category")) if _str(c)]
    info.responses = [_str(c) for c in _many(block.get("responseType")) if _str(c)]
    info.event_codes = [
        (_str(p.get("valueName")), _str(p.get("value")))
        for p in _many(block.get("eventCode"))
        if isinstance(p, dict)
    ]
    for name in ("effective", "onset", "expires"):
        setattr(info, name, ci.time_of(_str(block.get(name)), name))
    for area in _many(block.get("area")):
        if not isinstance(area, dict):
            continue
        desc = _str(area.get("areaDesc"))
        if desc and desc not in info.area_descs:
            info.area_descs.append(desc)
        for poly in _many(area.get("polygon")):
            shape = ci.polygon(_str(poly), notes)
            if shape:
                info.shapes.append(shape)
        for circle in _many(area.get("circle")):
            shape = ci.circle(_str(circle), notes)
            if shape:
                info.shapes.append(shape)
        for code in _many(area.get("geocode")):
            if isinstance(code, dict) and _str(code.get("value")):
                info.geocodes.append((_str(code.get("valueName")), _str(code.get("value")), desc))
    return info


def _refs(text: str) -> list[tuple[str, Any]]:
    # CAP writes `sender,identifier,sent` triples; SR has been seen writing bare identifiers.
    return [(t, None) for t in text.split() if "," not in t] + cap._references(text)


def _alert(alert: dict[str, Any], ctx: ParseContext, notes: list[str]) -> tuple[list[Disruption], list[str]]:
    ident = _str(alert.get("identifier"))
    if not ident:
        raise ParseError("VMA alert without identifier")
    status, msg_type = _str(alert.get("status")), _str(alert.get("msgType"))
    if status != cap.PUBLISHED_STATUS:
        notes.append(f"{ident}: status {status or 'missing'} is not published")
        return [], []
    if msg_type not in ("Alert", "Update", "Cancel"):
        notes.append(f"{ident}: msgType {msg_type or 'missing'} is not published")
        return [], []
    sent = ci.time_of(_str(alert.get("sent")), "sent")
    if sent is None:
        raise ParseError(f"VMA alert {ident[:60]} without sent")
    refs = _refs(_str(alert.get("references"))) if msg_type != "Alert" else []
    root = cap._root(refs, ident)
    ended = [make_id(ctx.source, i) for i, _ in refs if i != root]
    infos = [_info(b, notes) for b in _many(alert.get("info")) if isinstance(b, dict)]
    if msg_type == "Cancel" and not infos:
        return [], [make_id(ctx.source, root), *ended]
    head = {k: _str(alert.get(k)) for k in ("identifier", "msgType", "scope", "sent", "code")}
    head["code"] = " ".join(_str(c) for c in _many(alert.get("code")))
    item = cap._build(ctx, root, head, sent, infos, ended=msg_type == "Cancel")
    return [item], ended


def _news(obj: dict[str, Any], ctx: ParseContext, notes: list[str]) -> Disruption | None:
    ident = _str(obj.get("Identifier"))
    if not ident:
        raise ParseError("Krisinformation item without Identifier")
    if obj.get("IsTest") is True:
        notes.append(f"{ident}: a test message is not published")
        return None
    lang = (_str(obj.get("Language")) or "sv").split("-")[0].lower()
    published = ci.time_of(_str(obj.get("Published")), "Published") or ctx.fetched_at
    updated = ci.time_of(_str(obj.get("Updated")), "Updated") or published
    areas = [a for a in _many(obj.get("Area")) if isinstance(a, dict)]
    html_body = _HEADING_END.sub("\n", _str(obj.get("BodyText")))
    body = "\n\n".join(t for t in (clean_text(_str(obj.get("Preamble"))), clean_text(html_body)) if t)
    headline = clean_text(_str(obj.get("Headline"))) or clean_text(_str(obj.get("PushMessage"))) or ident
    cats = [
        f"krisinformation:{k}={_str(obj.get(k))}" for k in ("Event", "ContentTypeName") if _str(obj.get(k))
    ]
    if obj.get("Push") is True:
        cats.append("krisinformation:Push")
    return ctx.disruption(
        "cap",
        ident,
        version=_str(obj.get("Updated")) or None,
        updated_at=updated,
        periods=[Period(published)],
        modes=ci.modes_for([], ctx.options),
        cause="OTHER_CAUSE",
        effect="OTHER_EFFECT",
        severity="SEVERE" if _str(obj.get("Event")).lower() in ("alert", "vma") else "INFO",
        categories=tuple(cats),
        header={lang: headline},
        description={lang: body} if body else {},
        location_text={
            lang: "; ".join(_str(a.get("Description")) for a in areas if _str(a.get("Description")))
        },
        url=_str(obj.get("Web")) or None,
        affected=tuple(
            Affected(
                "area",
                f"{_str(a.get('Type')) or 'area'}:{_str(a.get('Description'))}",
                _str(a.get("Description")),
            )
            for a in areas
            if _str(a.get("Description"))
        ),
    )


@register("vma")
def parse(data: bytes, ctx: ParseContext) -> Batch:
    """Parse SR's VMA CAP-JSON (`{"alerts": [...]}`, one alert) or a Krisinformation.se v3 list."""
    tree = load_json(data, ctx)
    notes: list[str] = []
    if isinstance(tree, dict) and ("alerts" in tree or "identifier" in tree):
        alerts = _many(tree["alerts"]) if "alerts" in tree else [tree]
        results = [_alert(a, ctx, notes) for a in alerts if isinstance(a, dict)]
        items, ended = cap._collect(results)
        complete = "alerts" in tree
    elif isinstance(tree, list):
        found = [_news(o, ctx, notes) for o in tree if isinstance(o, dict)]
        items, ended = [d for d in found if d is not None], []
        complete = True
    else:
        raise ParseError(
            'not a VMA answer: expected {"alerts": [...]}, one CAP alert or a Krisinformation list'
        )
    return ctx.batch(items, complete=complete, ended=ended, notes=notes)
