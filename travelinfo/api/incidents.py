"""`GET /api/v1/incidents/{id}`, the derived item fields `impacts`/`incident`, and their OpenAPI.

Items keep what their sources said; the fields added here are derived at read time
(travelinfo.impacts) and rendered once per change like every API response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from travelinfo.api import openapi_schemas
from travelinfo.api.openapi_parts import ok, operation, ref
from travelinfo.impacts import view
from travelinfo.impacts.fusion import Incident
from travelinfo.model import Disruption
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import Rendered, dumps, json_response, respond

PATH = "/api/v1/incidents/{id}"
JSON = "application/json; charset=utf-8"


async def fused(app: web.Application) -> dict[str, Incident]:
    """Every stored item's incident (by item id), read once per change of this process's hub."""
    hub = app[appmod.HUB]
    return await view.incidents(app[appmod.STORE], hub, (hub.epoch, hub.last_seq))


def item_json(d: Disruption, incidents: Mapping[str, Incident]) -> dict[str, Any]:
    """An item's public JSON with its derived `impacts` and `incident`."""
    return view.decorate(d.to_json(), d, incidents)


async def incident(request: web.Request) -> web.Response:
    """GET /api/v1/incidents/{id}: the incident, its members as each source gave them."""
    if set(request.query) - {k for k in request.query if k.startswith("_")}:
        return json_response({"error": "this endpoint takes no query parameters"}, 400)
    ident = request.match_info["id"]
    app = request.app
    store = app[appmod.STORE]

    async def render() -> Rendered:
        incidents = await fused(app)
        found = next((i for i in incidents.values() if i.id == ident), None)
        if found is None:
            raise LookupError(ident)
        members = [d for m in found.members if (d := await store.get(m)) is not None]
        return Rendered.make(dumps(view.incident_json(found, members)), JSON, app[appmod.HUB].last_change_at)

    try:
        rendered = await app[appmod.CACHE].get(("api:incident", ident), render)
    except LookupError:
        return json_response({"error": f"no incident {ident[:80]!r}", "id": ident[:80]}, 404)
    return respond(request, rendered, cache_control="public, max-age=15")


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, incident)


IMPACT: dict[str, Any] = {
    "type": "object",
    "description": "A line the item may affect, inferred from its geometry and the GTFS shapes "
    "(never given by the operator; docs/model.md).",
    "required": ["type", "route_id", "name", "direction_id", "stops", "overlap_m", "confidence", "reason"],
    "properties": {
        "type": {"const": "route"},
        "route_id": {"type": "string"},
        "name": {"type": "string"},
        "mode": {"type": ["string", "null"]},
        "direction_id": {"type": ["integer", "null"]},
        "headsign": {"type": ["string", "null"]},
        "direction": {"type": ["string", "null"]},
        "stops": {"type": "array", "items": {"type": "object"}},
        "overlap_m": {"type": "integer", "minimum": 0},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"enum": ["runs_along", "passes_point", "crosses_area", "stops_in_area"]},
        "inferred": {"const": True},
    },
}
INCIDENT: dict[str, Any] = {
    "type": "object",
    "description": "Items from different sources judged to be one real-world event.",
    "required": ["id", "status", "members", "links"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string"},
        "members": {"type": "array", "items": {"type": "string"}},
        "links": {"type": "array", "items": {"type": "object"}},
        "related": {"type": "array", "items": {"type": "string"}},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Disruption"}},
    },
}


def schemas() -> dict[str, Any]:
    """Impact and Incident, and the item fields they add (the OpenAPI document's PATH_SOURCES)."""
    item = openapi_schemas.SCHEMAS["Disruption"]
    props = {
        **item.get("properties", {}),
        "impacts": {"type": "array", "items": ref("Impact")},
        "incident": {"anyOf": [ref("Incident"), {"type": "null"}]},
    }
    return {"Impact": IMPACT, "Incident": INCIDENT, "Disruption": {**item, "properties": props}}


def paths() -> dict[str, Any]:
    """`GET /api/v1/incidents/{id}`."""
    example = {
        "id": "incident-3f2a9c1d7e4b5a60",
        "status": "active",
        "members": ["trafikverket:e4-jarva", "sl-deviations:90231999"],
        "links": [],
    }
    return {
        PATH: {
            "get": operation(
                "getIncident",
                "incidents",
                "One incident: items from several sources that are one real-world event",
                {"200": ok(ref("Incident"), "The incident and its members", example)},
                errors=("NotModified", "BadRequest", "NotFound"),
                params=[
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The incident id (`incident-<hash of its first member's id>`).",
                        "schema": {"type": "string", "minLength": 1},
                        "example": example["id"],
                    }
                ],
            )
        }
    }
