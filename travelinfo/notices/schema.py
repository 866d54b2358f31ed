"""Validation of operators' notice bodies (pure): per-field errors, normalised fields, diffs.

A notice body holds the editable fields of MODEL.md. `validate` returns them normalised
(defaults filled, times in RFC 3339 UTC) or raises `NoticeInvalid` naming every bad field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from travelinfo.geojson_check import check_geometry
from travelinfo.model import (
    AFFECTED_TYPES,
    CAUSES,
    EFFECTS,
    MODES,
    SEVERITIES,
    Affected,
    Disruption,
    Period,
    Provenance,
    compute_status,
    format_time,
    make_id,
    parse_time,
)

HEADER_MAX = 200
DESCRIPTION_MAX = 5000
LOCATION_MAX = 500
MAX_LANGUAGES = 20
MAX_PERIODS = 50
MAX_AFFECTED = 200
NAME_MAX = 200
URL_MAX = 2000

TEXT_LIMITS = {"header": HEADER_MAX, "description": DESCRIPTION_MAX, "location_text": LOCATION_MAX}
ENUMS = {"cause": CAUSES, "effect": EFFECTS, "severity": SEVERITIES}
DEFAULTS: dict[str, Any] = {
    "description": {},
    "location_text": {},
    "cause": "UNKNOWN_CAUSE",
    "effect": "UNKNOWN_EFFECT",
    "severity": "UNKNOWN_SEVERITY",
    "periods": [],
    "geometry": None,
    "affected": [],
    "url": None,
}
EDITABLE: tuple[str, ...] = ("header", "description", "location_text", "modes", "cause", "effect", "severity")
EDITABLE += ("periods", "geometry", "affected", "url")
ID_FIELDS = ("id", "upstream_id")
# Model fields a client may read but not set: named precisely instead of "unknown field".
SERVICE_FIELDS: tuple[str, ...] = (
    "source",
    "source_type",
    "status",
    "version",
    "updated_at",
    "first_seen",
    "last_seen",
)
SERVICE_FIELDS += ("categories", "related", "provenance")

LOCAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")
LANG_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
# C0/C1 controls other than tab and newlines have no place in plain text (and reach terminals).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidi embeddings, overrides and isolates (U+202A-E, U+2066-9) reorder the text around them:
# a notice could display a different line or stop name than it stores ("Trojan Source").
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# In a one-line name or id, tab and newlines are as unwelcome as the other controls.
LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def bad_char(text: str, controls: re.Pattern[str] = CONTROL) -> str | None:
    """What is wrong with `text`'s characters (first offender, with its code point), or None."""
    m = controls.search(text)
    if m:
        return f"contains control character U+{ord(m.group()):04X} at position {m.start()} (plain text only)"
    m = BIDI.search(text)
    if m:
        return f"contains bidi control U+{ord(m.group()):04X} at position {m.start()} (plain text only)"
    return None


class NoticeInvalid(ValueError):
    """A notice body with bad fields: `fields` maps a field path to what is wrong with it."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("invalid notice: " + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _wrong(expected: str, value: Any) -> str:
    return f"must be {expected}, not {_type_name(value)}"


def _texts(name: str, value: Any, errors: dict[str, str]) -> dict[str, str]:
    limit = TEXT_LIMITS[name]
    if not isinstance(value, dict):
        errors[name] = _wrong("an object of language tag to text", value)
        return {}
    if len(value) > MAX_LANGUAGES:
        errors[name] = f"{len(value)} languages (at most {MAX_LANGUAGES})"
        return {}
    out: dict[str, str] = {}
    for lang, text in value.items():
        path = f"{name}.{lang}"
        if not LANG_TAG.fullmatch(lang):
            errors[path] = "not a language tag (e.g. sv, en, sv-SE)"
        elif not isinstance(text, str):
            errors[path] = _wrong("a string", text)
        elif not text.strip():
            errors[path] = "must not be empty"
        elif len(text) > limit:
            errors[path] = f"longer than {limit} characters ({len(text)})"
        elif (why := bad_char(text)) is not None:
            errors[path] = why
        else:
            out[lang] = text.strip()
    return dict(sorted(out.items()))


def _enum(name: str, value: Any, errors: dict[str, str]) -> str:
    allowed = ENUMS[name]
    if not isinstance(value, str):
        errors[name] = _wrong(f"a string (one of {', '.join(allowed)})", value)
    elif value not in allowed:
        errors[name] = f"unknown value {value!r} (one of {', '.join(allowed)})"
    return value if isinstance(value, str) else ""


def _modes(value: Any, errors: dict[str, str]) -> list[str]:
    if not isinstance(value, list):
        errors["modes"] = _wrong(f"an array of modes ({', '.join(MODES)})", value)
        return []
    if not value:
        errors["modes"] = f"must name at least one mode ({', '.join(MODES)})"
    out: list[str] = []
    for i, mode in enumerate(value):
        if not isinstance(mode, str):
            errors[f"modes[{i}]"] = _wrong("a string", mode)
        elif mode not in MODES:
            errors[f"modes[{i}]"] = f"unknown value {mode!r} (one of {', '.join(MODES)})"
        elif mode not in out:
            out.append(mode)
    return out


def _time(path: str, value: Any, errors: dict[str, str]) -> datetime | None:
    if not isinstance(value, str):
        errors[path] = _wrong("an RFC 3339 time", value)
        return None
    try:
        return parse_time(value)
    except ValueError:
        errors[path] = "not an RFC 3339 time with a timezone (e.g. 2026-11-25T12:00:00Z)"
        return None


def _periods(value: Any, errors: dict[str, str]) -> list[dict[str, str | None]]:
    if not isinstance(value, list):
        errors["periods"] = _wrong("an array of {start, end}", value)
        return []
    if len(value) > MAX_PERIODS:
        errors["periods"] = f"{len(value)} periods (at most {MAX_PERIODS})"
        return []
    out: list[dict[str, str | None]] = []
    for i, period in enumerate(value):
        path = f"periods[{i}]"
        if not isinstance(period, dict):
            errors[path] = _wrong("an object {start, end}", period)
            continue
        for extra in sorted(set(period) - {"start", "end"}):
            errors[f"{path}.{extra}"] = "unknown field"
        if "start" not in period:
            errors[f"{path}.start"] = "required"
            continue
        start = _time(f"{path}.start", period["start"], errors)
        end_value = period.get("end")
        end = None if end_value is None else _time(f"{path}.end", end_value, errors)
        if start is not None and end is not None and end <= start:
            errors[f"{path}.end"] = "must be after start"
        if start is not None:
            out.append({"start": format_time(start), "end": format_time(end) if end else None})
    return out


def _url(value: Any, errors: dict[str, str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors["url"] = _wrong("an http(s) URL or null", value)
        return None
    if len(value) > URL_MAX:
        errors["url"] = f"longer than {URL_MAX} characters"
        return None
    try:  # urlsplit drops tabs and newlines silently, and raises on a bad IPv6 host
        parts = None if LINE_CONTROL.search(value) or " " in value else urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        errors["url"] = "must be an absolute http(s) URL"
        return None
    return value


def _affected(value: Any, errors: dict[str, str]) -> list[dict[str, str | None]]:
    if not isinstance(value, list):
        errors["affected"] = _wrong("an array of {type, id, name}", value)
        return []
    if len(value) > MAX_AFFECTED:
        errors["affected"] = f"{len(value)} entries (at most {MAX_AFFECTED})"
        return []
    out: list[dict[str, str | None]] = []
    for i, entry in enumerate(value):
        path = f"affected[{i}]"
        if not isinstance(entry, dict):
            errors[path] = _wrong("an object {type, id, name}", entry)
            continue
        for extra in sorted(set(entry) - {"type", "id", "name"}):
            errors[f"{path}.{extra}"] = "unknown field"
        kind, ident, name = entry.get("type"), entry.get("id"), entry.get("name")
        ok = True
        if kind not in AFFECTED_TYPES:
            shown = f"unknown value {kind!r}" if isinstance(kind, str) else _wrong("a string", kind)
            errors[f"{path}.type"] = f"{shown} (one of {', '.join(AFFECTED_TYPES)})"
            ok = False
        if not isinstance(ident, str) or not ident.strip() or len(ident) > NAME_MAX:
            errors[f"{path}.id"] = f"must be a non-empty string of at most {NAME_MAX} characters"
            ok = False
        if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX):
            errors[f"{path}.name"] = f"must be null or a string of at most {NAME_MAX} characters"
            ok = False
        for field, text in (("id", ident), ("name", name)):
            if (
                isinstance(text, str)
                and f"{path}.{field}" not in errors
                and (why := bad_char(text, LINE_CONTROL))
            ):
                errors[f"{path}.{field}"] = why
                ok = False
        if ok:
            out.append({"type": kind, "id": str(ident).strip(), "name": name})
    return out


def validate(body: Any) -> dict[str, Any]:
    """The normalised editable fields of a full notice body; raises NoticeInvalid.

    `id`/`upstream_id` are accepted here (and ignored): `local_id` reads them.
    """
    if not isinstance(body, dict):
        raise NoticeInvalid({"": _wrong("a JSON object", body)})
    errors: dict[str, str] = {}
    for name in body:
        if name in SERVICE_FIELDS:
            errors[name] = "set by the service, not editable"
        elif name not in EDITABLE and name not in ID_FIELDS:
            errors[name] = "unknown field"
    for name in ("header", "modes"):
        if name not in body:
            errors[name] = "required"
    out: dict[str, Any] = {}
    fields = {**DEFAULTS, **{k: v for k, v in body.items() if k in EDITABLE}}
    for name in TEXT_LIMITS:
        if name in fields:
            out[name] = _texts(name, fields[name], errors)
    header_bad = any(k == "header" or k.startswith("header.") for k in errors)
    if "header" in fields and not out.get("header") and not header_bad:
        errors["header"] = "needs a text in at least one language"
    if "modes" in fields:
        out["modes"] = _modes(fields["modes"], errors)
    for name in ENUMS:
        out[name] = _enum(name, fields[name], errors)
    out["periods"] = _periods(fields["periods"], errors)
    try:
        out["geometry"] = check_geometry(fields["geometry"])
    except ValueError as exc:
        errors["geometry"] = str(exc)
    out["affected"] = _affected(fields["affected"], errors)
    out["url"] = _url(fields["url"], errors)
    if errors:
        raise NoticeInvalid(errors)
    return {name: out[name] for name in EDITABLE}


def local_id(body: Mapping[str, Any], org: str) -> str | None:
    """The client-chosen notice id (`upstream_id`, or `id` bare or as `<org>:<id>`); None if absent."""
    chosen: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in ID_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, str) and value.startswith(f"{org}:"):
            value = value[len(org) + 1 :]
        if not isinstance(value, str) or not LOCAL_ID.fullmatch(value):
            errors[name] = "must be 1-64 characters A-Z a-z 0-9 . _ ~ - (starting with a letter or digit)"
        else:
            chosen[name] = value
    if len(set(chosen.values())) > 1:
        errors["id"] = "id and upstream_id differ"
    if errors:
        raise NoticeInvalid(errors)
    return next(iter(chosen.values()), None)


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7396): objects merge recursively, null removes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = merge_patch(out.get(name), value)
    return out


def diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-level changes `{path: {"from", "to"}}`; texts are compared per language (`header.sv`)."""
    before = old or {}
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(new)):
        a, b = before.get(name), new.get(name)
        if name in TEXT_LIMITS and isinstance(a or {}, dict) and isinstance(b or {}, dict):
            a, b = a or {}, b or {}
            for lang in sorted(set(a) | set(b)):
                if a.get(lang) != b.get(lang):
                    out[f"{name}.{lang}"] = {"from": a.get(lang), "to": b.get(lang)}
        elif a != b:
            out[name] = {"from": a, "to": b}
    return out


def to_disruption(
    org: str, notice_id: str, fields: Mapping[str, Any], *, revision: int, now: datetime, created: datetime
) -> Disruption:
    """The Disruption a notice publishes (`source_type` manual, `source` the organisation)."""
    periods = tuple(Period.from_json(p) for p in fields["periods"])
    return Disruption(
        id=make_id(org, notice_id),
        source=org,
        source_type="manual",
        upstream_id=notice_id,
        version=str(revision),
        updated_at=now,
        first_seen=created,
        last_seen=now,
        status=compute_status(periods, now),
        modes=tuple(fields["modes"]),
        cause=fields["cause"],
        effect=fields["effect"],
        severity=fields["severity"],
        periods=periods,
        header=fields["header"],
        description=fields["description"],
        location_text=fields["location_text"],
        url=fields["url"],
        geometry=fields["geometry"],
        affected=tuple(Affected.from_json(a) for a in fields["affected"]),
        provenance=Provenance(now, None),
    )
