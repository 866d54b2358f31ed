"""The notice paths of the OpenAPI document, with body schemas made from the validator's own
tables and patterns (`travelinfo/notices/schema.py`: limits, enums, `LANG_TAG`, `LOCAL_ID`,
the forbidden characters).

What a schema cannot say, `validate` answers 400 for, naming the field: an end before its
start, a polygon ring that is not closed, a new notice whose periods have all ended.
"""

from __future__ import annotations

from travelinfo.api import openapi_examples as ex
from travelinfo.api.openapi_parts import BEARER, BODY, KEYED, J, json_body, ok, operation, ref
from travelinfo.model import AFFECTED_TYPES, MODES
from travelinfo.notices import schema as s

# The characters `bad_char` refuses, as one JSON Schema character class (ECMA-262 and Python).
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
LINE_CONTROLS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"


def plain(controls: str, nonblank: bool = True) -> str:
    """Text without `controls`; with `nonblank`, at least one character that is not a space."""
    return rf"^[^{controls}]*[^{controls}\s][^{controls}]*$" if nonblank else rf"^[^{controls}]*$"


def texts(name: str) -> J:
    return {
        "type": "object",
        "description": "Language tag (BCP 47) to plain text.",
        "maxProperties": s.MAX_LANGUAGES,
        "propertyNames": {"pattern": f"^{s.LANG_TAG.pattern}$"},
        "additionalProperties": {
            "type": "string",
            "maxLength": s.TEXT_LIMITS[name],
            "pattern": plain(CONTROLS),
        },
    }


TIME: J = {"type": "string", "format": "date-time"}
PERIOD: J = {
    "type": "object",
    "required": ["start"],
    "additionalProperties": False,
    "properties": {"start": TIME, "end": {"anyOf": [TIME, {"type": "null"}], "description": "After start."}},
}
AFFECTED: J = {
    "type": "object",
    "required": ["type", "id"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": list(AFFECTED_TYPES)},
        "id": {"type": "string", "maxLength": s.NAME_MAX, "pattern": plain(LINE_CONTROLS)},
        "name": {
            "anyOf": [
                {"type": "string", "maxLength": s.NAME_MAX, "pattern": plain(LINE_CONTROLS, False)},
                {"type": "null"},
            ]
        },
    },
}
URL: J = {
    "anyOf": [
        {
            "type": "string",
            "maxLength": s.URL_MAX,
            "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\x00-\x20\x7f-\x9f][^\x00-\x20\x7f-\x9f]*$",
        },
        {"type": "null"},
    ]
}
FIELDS: J = {
    "header": texts("header"),
    "description": texts("description"),
    "location_text": texts("location_text"),
    "modes": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(MODES)}},
    **{name: {"type": "string", "enum": list(values)} for name, values in s.ENUMS.items()},
    "periods": {"type": "array", "maxItems": s.MAX_PERIODS, "items": PERIOD},
    "geometry": {"anyOf": [ref("Geometry"), {"type": "null"}]},
    "affected": {"type": "array", "maxItems": s.MAX_AFFECTED, "items": AFFECTED},
    "url": URL,
}
assert tuple(FIELDS) == s.EDITABLE, "every editable field is described, in the validator's order"
LOCAL: J = {"type": "string", "pattern": f"^(.+:)?{s.LOCAL_ID.pattern}$"}
IDS: J = {
    "id": {**LOCAL, "description": "Your id for it (bare or `<org>:<id>`); omitted: one is made."},
    "upstream_id": {**LOCAL, "description": "The same as `id` (either may be given; equal if both)."},
}
NEW_NOTICE: J = {
    "type": "object",
    "description": "A notice's editable fields (docs/notices.md); the service sets the rest.",
    "required": ["header", "modes"],
    "additionalProperties": False,
    "properties": {**FIELDS, **IDS, "header": {**texts("header"), "minProperties": 1}},
}


def _nullable(schema: J) -> J:
    return {"anyOf": [schema, {"type": "null"}]}


PATCH_TEXTS: J = {
    k: _nullable({**texts(k), "additionalProperties": _nullable(texts(k)["additionalProperties"])})
    for k in s.TEXT_LIMITS
}
PATCH: J = {
    "type": "object",
    "description": (
        "JSON Merge Patch (RFC 7396) of the fields: `null` removes a field (or one language of a "
        "text); the result is validated as a whole notice."
    ),
    "additionalProperties": False,
    "properties": {**{k: _nullable(v) for k, v in FIELDS.items()}, **PATCH_TEXTS, **IDS},
}
NOTICE: J = {
    "type": "object",
    "description": "An operator's notice: its fields and the service's bookkeeping.",
    "required": ["id", "upstream_id", "org", "status", "revision", "created_at", "updated_at", "ended_at"],
    "properties": {
        "id": {"type": "string", "description": "`<org>:<id>`, also the id of its disruption."},
        "upstream_id": {"type": "string"},
        "org": {"type": "string"},
        "status": {"type": "string", "enum": ["planned", "active", "ended"]},
        "revision": {"type": "integer", "minimum": 1},
        "created_at": TIME,
        "updated_at": TIME,
        "ended_at": {"anyOf": [TIME, {"type": "null"}]},
        **FIELDS,
    },
    "examples": [ex.NOTICE],
}
NOTICE_ID: J = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "`<org>:<id>` or your bare id.",
    "schema": {"type": "string", "minLength": 1},
    "example": ex.NOTICE["id"],
}


def _keyed(op_id: str, summary: str, ok_responses: J, errors: tuple[str, ...], **more: J | list[J]) -> J:
    op = operation(op_id, "notices", summary, ok_responses, errors=errors + KEYED, security=BEARER)
    if "body" in more:
        op["requestBody"] = more["body"]
    if "params" in more:
        op["parameters"] = more["params"]
    return op


def paths() -> J:
    """Every /api/v1/notices operation."""
    location = {"Location": {"description": "The notice's path.", "schema": {"type": "string"}}}
    listed: J = {"type": "object", "required": ["notices"]}
    listed["properties"] = {"notices": {"type": "array", "items": ref("Notice")}}
    one = ok(ref("Notice"), "The notice", ex.NOTICE)
    created = ok(ref("Notice"), "Published: its disruption is in every channel now.", ex.NOTICE, location)
    new = json_body(ref("NewNotice"), {"regatta": {"value": ex.NOTICE_BODY}})
    held: J = {"type": "object", "required": ["id", "status", "draft"]}
    held["properties"] = {
        "id": {"type": "string"},
        "status": {"const": "pending_approval"},
        "draft": {"type": "object", "description": "The fields as sent, waiting."},
    }
    preview = {"Location": {"description": "The draft's page in /operator.", "schema": {"type": "string"}}}
    pending = ok(
        held, "With `notices.approval`: held until a key with `notices:approve` approves it.", headers=preview
    )
    patch = json_body(
        ref("NoticePatch"),
        {"raise": {"value": ex.NOTICE_PATCH}},
        ("application/merge-patch+json", "application/json"),
    )
    return {
        "/api/v1/notices": {
            "get": _keyed(
                "listNotices",
                "List your organisation's notices",
                {"200": ok(listed, "Newest change first")},
                (),
            ),
            "post": _keyed(
                "createNotice",
                "Publish a notice",
                {"201": created, "202": pending},
                (*BODY, "Conflict"),
                body=new,
            ),
        },
        "/api/v1/notices/{id}": {
            "get": _keyed("getNotice", "One notice", {"200": one}, ("NotFound",), params=[NOTICE_ID]),
            "patch": _keyed(
                "updateNotice",
                "Update a notice (JSON Merge Patch)",
                {"200": one, "202": pending},
                (*BODY, "NotFound", "Conflict"),
                body=patch,
                params=[NOTICE_ID],
            ),
            "delete": _keyed(
                "endNotice",
                "End a notice now (answers it, ended; ending it again changes nothing)",
                {"200": ok(ref("Notice"), "The notice, ended", ex.ENDED_NOTICE)},
                ("NotFound", "Conflict"),
                params=[NOTICE_ID],
            ),
        },
    }


def schemas() -> J:
    return {"NewNotice": NEW_NOTICE, "NoticePatch": PATCH, "Notice": NOTICE}
