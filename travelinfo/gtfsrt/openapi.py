"""The GTFS-RT paths of the OpenAPI document: `/gtfs-rt/alerts.pb` and `/gtfs-rt/alerts.json`.

They take the list API's filters (the same table, the same parser, the same 400) and `as_of`;
they are outside `/api/`, so no rate limit applies and no 429 is described.
"""

from __future__ import annotations

from travelinfo.api.history import AS_OF
from travelinfo.api.openapi import FILTER_PARAMS, GET_ERRORS, GONE, param
from travelinfo.api.openapi_parts import CACHE_HEADERS, J, operation, ref

TEXT = (
    "GTFS-Realtime ServiceAlerts, `FULL_DATASET`: one entity per planned or active public "
    "transport disruption (bus, metro, tram, rail, ferry) in the home region, its id the "
    "disruption id. The filters are those of `/api/v1/disruptions`, read by the same parser (an "
    "unknown or bad parameter is a 400 naming it): `route=14`, `mode=metro`, `severity=SEVERE`, "
    "`bbox=...`, `region=all`, `lang=en` (keeps that translation of the texts). The feed holds "
    "the items of that answer that have a public transport mode (`mode=road` is empty but for "
    "items that are also, say, bus items); with "
    "`impacts.gtfsrt_inferred` the filters apply to the inferred alerts as published (their "
    "routes and modes). `as_of`: the feed as it was then (header timestamp = `as_of`). Each "
    "variant is rendered once per change and served with `ETag`/`Last-Modified`/304."
)
SCHEMA = "GtfsRtFeedMessage"
FEED_MESSAGE: J = {
    "type": "object",
    "description": "A GTFS-RT FeedMessage in protobuf's JSON mapping (proto field names).",
    "required": ["header"],
    "properties": {
        "header": {
            "type": "object",
            "required": ["gtfs_realtime_version", "incrementality", "timestamp"],
            "properties": {
                "gtfs_realtime_version": {"type": "string", "const": "2.0"},
                "incrementality": {"type": "string", "const": "FULL_DATASET"},
                "timestamp": {
                    "type": "string",
                    "pattern": "^[0-9]{1,20}$",
                    "description": "POSIX seconds of the last change (uint64: a string in JSON).",
                },
            },
        },
        "entity": {
            "type": "array",
            "description": "Absent when no disruption matches.",
            "items": {
                "type": "object",
                "required": ["id", "alert"],
                "properties": {"id": {"type": "string", "minLength": 1}, "alert": {"type": "object"}},
            },
        },
    },
}


def _get(op_id: str, summary: str, media: str, schema: J) -> J:
    content: J = {media: {"schema": schema}}
    ok: J = {"200": {"description": summary, "headers": CACHE_HEADERS, "content": content}}
    params = [*FILTER_PARAMS, param(AS_OF)]
    op = operation(op_id, "disruptions", summary, ok, errors=GET_ERRORS, params=params, extra=GONE)
    op["description"] = TEXT
    del op["responses"]["429"]  # not under /api/: no rate limit
    return {"get": op}


def paths() -> J:
    """The two forms of the GTFS-RT feed."""
    binary: J = {"type": "string", "format": "binary"}
    return {
        "/gtfs-rt/alerts.pb": _get(
            "getGtfsRtAlerts", "GTFS-RT ServiceAlerts (protobuf)", "application/x-protobuf", binary
        ),
        "/gtfs-rt/alerts.json": _get(
            "getGtfsRtAlertsJson", "The same FeedMessage as JSON", "application/json", ref(SCHEMA)
        ),
    }


def schemas() -> J:
    return {SCHEMA: FEED_MESSAGE}
