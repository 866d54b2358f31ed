"""Schemas of the OpenAPI document: the disruption of MODEL.md with its enums, changes, errors."""

from __future__ import annotations

from typing import Any

from travelinfo.api import openapi_examples as ex
from travelinfo.model import AFFECTED_TYPES, CAUSES, EFFECTS, MODES, SEVERITIES, SOURCE_TYPES, STATUSES
from travelinfo.vocab import DIRECTIONS

J = dict[str, Any]
TIME: J = {"type": "string", "format": "date-time"}
TEXTS: J = {"type": "object", "additionalProperties": {"type": "string"}}
PERMISSIVE: J = {"type": "object", "additionalProperties": True}


def ref(name: str) -> J:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: J) -> J:
    return {"anyOf": [schema, {"type": "null"}]}


DISRUPTION: J = {
    "type": "object",
    "description": "The normalised disruption (MODEL.md); field names are a contract.",
    "required": [
        "id",
        "source",
        "source_type",
        "upstream_id",
        "version",
        "updated_at",
        "first_seen",
        "last_seen",
        "status",
        "modes",
        "cause",
        "effect",
        "severity",
        "categories",
        "periods",
        "header",
        "description",
        "location_text",
        "url",
        "geometry",
        "affected",
        "related",
        "provenance",
    ],
    "properties": {
        "id": {"type": "string", "description": "`<source>:<upstream id>`, stable across versions."},
        "source": {"type": "string"},
        "source_type": {"type": "string", "enum": list(SOURCE_TYPES)},
        "upstream_id": {"type": "string"},
        "version": {"type": ["string", "null"]},
        "updated_at": TIME,
        "first_seen": TIME,
        "last_seen": TIME,
        "status": {"type": "string", "enum": list(STATUSES)},
        "modes": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(MODES)}},
        "cause": {"type": "string", "enum": list(CAUSES)},
        "effect": {"type": "string", "enum": list(EFFECTS)},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "categories": {"type": "array", "items": {"type": "string"}},
        "periods": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "end"],
                "properties": {"start": TIME, "end": _nullable(TIME)},
            },
        },
        "header": {**TEXTS, "minProperties": 1},
        "description": TEXTS,
        "location_text": TEXTS,
        "url": {"type": ["string", "null"]},
        "geometry": _nullable(ref("Geometry")),
        "affected": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "id", "name"],
                "properties": {
                    "type": {"type": "string", "enum": list(AFFECTED_TYPES)},
                    "id": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                    "direction": {"type": ["string", "null"], "enum": [*DIRECTIONS, None]},
                    "gtfs_id": {
                        "type": ["string", "null"],
                        "description": "The id in the reference GTFS; empty when it is unknown there.",
                    },
                    "towards": {
                        "type": ["string", "null"],
                        "description": "Where a line runs in `direction`.",
                    },
                },
            },
        },
        "related": {"type": "array", "items": {"type": "string"}},
        "provenance": _nullable(
            {
                "type": "object",
                "required": ["fetched_at"],
                "properties": {"fetched_at": TIME, "url": {"type": ["string", "null"]}},
            }
        ),
    },
}
LON: J = {"type": "number", "minimum": -180, "maximum": 180}
LAT: J = {"type": "number", "minimum": -90, "maximum": 90}
POSITION: J = {
    "type": "array",
    "description": "`[longitude, latitude]` or with altitude (WGS 84).",
    "prefixItems": [LON, LAT, {"type": "number"}],
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 3,
}
LINE: J = {"type": "array", "items": POSITION, "minItems": 2}
RING: J = {"type": "array", "items": POSITION, "minItems": 4, "description": "Closed: first = last."}
POLYGON: J = {"type": "array", "items": RING, "minItems": 1}


def _shape(kind: str, coordinates: J) -> J:
    return {
        "type": "object",
        "title": kind,
        "required": ["type", "coordinates"],
        "additionalProperties": False,
        "properties": {"type": {"const": kind}, "coordinates": coordinates},
    }


GEOMETRY: J = {
    "description": "RFC 7946 geometry in WGS 84 (`travelinfo/geojson_check.py` is the check).",
    "oneOf": [
        _shape("Point", POSITION),
        _shape("MultiPoint", {"type": "array", "items": POSITION, "minItems": 1}),
        _shape("LineString", LINE),
        _shape("MultiLineString", {"type": "array", "items": LINE, "minItems": 1}),
        _shape("Polygon", POLYGON),
        _shape("MultiPolygon", {"type": "array", "items": POLYGON, "minItems": 1}),
        {
            "type": "object",
            "title": "GeometryCollection",
            "required": ["type", "geometries"],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "GeometryCollection"},
                "geometries": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Geometry"},
                    "minItems": 1,
                },
            },
        },
    ],
}
CHANGE: J = {
    "type": "object",
    "description": "One change event (SSE `data:` and WebSocket message).",
    "required": ["seq", "type", "id", "disruption", "at"],
    "properties": {
        "seq": {"type": "string", "description": "Opaque, increasing; resume after it."},
        "type": {"type": "string", "enum": ["created", "updated", "ended"]},
        "id": {"type": "string"},
        "disruption": ref("Disruption"),
        "at": TIME,
    },
}
SCHEMAS: J = {
    "Disruption": {**DISRUPTION, "examples": [ex.DISRUPTION]},
    "Geometry": GEOMETRY,
    "Change": {**CHANGE, "examples": [ex.CHANGE]},
    "Snapshot": {
        "type": "object",
        "description": "SSE `snapshot`/`reset` event (WebSocket: with `type`): the whole filtered set.",
        "required": ["seq", "disruptions"],
        "properties": {
            "type": {"type": "string", "enum": ["snapshot", "reset"]},
            "seq": {"type": "string"},
            "disruptions": {"type": "array", "items": ref("Disruption")},
        },
    },
    "DisruptionList": {
        "type": "object",
        "required": ["disruptions", "next_cursor", "count"],
        "properties": {
            "disruptions": {"type": "array", "items": ref("Disruption")},
            "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
            "count": {"type": "integer", "minimum": 0, "description": "Items on this page."},
        },
    },
    "FeatureCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "id", "geometry", "properties"],
                    "properties": {
                        "type": {"const": "Feature"},
                        "id": {"type": "string"},
                        "geometry": _nullable(ref("Geometry")),
                        "properties": {"type": "object", "description": "The disruption minus geometry."},
                    },
                },
            },
        },
    },
    "SourceHealth": {
        "type": "object",
        "required": ["source", "state", "item_count"],
        "properties": {
            "source": {"type": "string"},
            "type": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "state": {"type": "string", "enum": ["pending", "ok", "stale", "failing", "suspect"]},
            "last_success": _nullable(TIME),
            "last_attempt": _nullable(TIME),
            "last_error": {"type": ["string", "null"]},
            "item_count": {"type": "integer"},
            "consecutive_failures": {"type": "integer"},
            "interval": {"type": "number"},
            "stale_after": {"type": "number"},
            "suspect_reason": {
                "type": ["string", "null"],
                "description": "Why the last full snapshot is held (state suspect).",
            },
            "held_since": _nullable(TIME),
            "held_polls": {"type": "integer"},
            "held_checksum": {"type": ["string", "null"]},
            "skipped_items": {"type": "integer", "description": "Records the parser left out."},
            "skip_reason": {"type": ["string", "null"]},
            "transport": {
                "enum": ["streaming", "polling", None],
                "description": "How a push-capable source (Trafikverket with push) gets its data now.",
            },
            "note_count": {
                "type": "integer",
                "description": "Notes of the last parsed payload (fields skipped or dropped, unknown refs).",
            },
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The first ten of those notes.",
            },
            "enabled": {"type": "boolean"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "parameter": {"type": "string", "description": "The offending query parameter (400)."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Each bad field of a notice and what is wrong with it (400).",
            },
        },
    },
    "WebhookPing": {
        "type": "object",
        "required": ["id", "url", "event_id", "ok", "status", "error", "elapsed"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "event_id": {"type": "string", "description": "`X-Travelinfo-Event-Id` of the ping"},
            "ok": {"type": "boolean", "description": "The receiver answered 2xx."},
            "status": {"type": ["integer", "null"], "description": "Its HTTP status, if it answered."},
            "error": {"type": ["string", "null"], "description": "What went wrong, if anything."},
            "elapsed": {"type": "number", "description": "Seconds the ping took."},
        },
    },
}
