"""Examples of the OpenAPI document, taken from the demo (`make run`): the accident on E4 at
Järva krog, the Ports of Stockholm regatta notice, a webhook of a ferry app.

tests/test_openapi_lint.py has Spectral check that each example matches its schema.
"""

from __future__ import annotations

from typing import Any

J = dict[str, Any]

DISRUPTION: J = {
    "id": "trafikverket:SE_STA_TRISSID_1_16519027",
    "source": "trafikverket",
    "source_type": "datex2",
    "upstream_id": "SE_STA_TRISSID_1_16519027",
    "version": "2",
    "updated_at": "2026-11-25T07:11:26Z",
    "first_seen": "2026-11-25T07:00:10Z",
    "last_seen": "2026-11-25T07:15:10Z",
    "status": "active",
    "modes": ["road"],
    "cause": "ACCIDENT",
    "effect": "NO_SERVICE",
    "severity": "SEVERE",
    "categories": ["datex2:Accident", "datex2:accidentType=multipleVehicleCollision"],
    "periods": [{"start": "2026-11-25T06:52:00Z", "end": None}],
    "header": {"sv": "Olycka på E4 norrgående vid Järva krog"},
    "description": {"sv": "Vägen är avstängd norrgående. Räddningstjänst är på plats. Välj annan väg."},
    "location_text": {"sv": "E4 norrgående vid Järva krog i Solna"},
    "url": None,
    "geometry": {"type": "Point", "coordinates": [18.00588, 59.36602]},
    "affected": [{"type": "road", "id": "E4", "name": "Uppsalavägen"}],
    "related": [],
    "provenance": {"fetched_at": "2026-11-25T07:15:10Z", "url": "https://datex.trafikverket.se/"},
}
CURSOR = "3~-1795590686.0~7472616669"
LIST: J = {"disruptions": [DISRUPTION], "next_cursor": CURSOR, "count": 1}
FEATURES: J = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": DISRUPTION["id"],
            "geometry": DISRUPTION["geometry"],
            "properties": {k: v for k, v in DISRUPTION.items() if k != "geometry"},
        }
    ],
}
CHANGE: J = {"seq": "1842", "type": "updated", "id": DISRUPTION["id"], "disruption": DISRUPTION}
CHANGE["at"] = "2026-11-25T07:15:10Z"
SNAPSHOT: J = {"type": "snapshot", "seq": "1841", "disruptions": [DISRUPTION]}
SOURCES: J = {
    "sources": [
        {
            "source": "trafikverket",
            "type": "datex2",
            "url": "feeds/trafikverket",
            "state": "ok",
            "last_success": "2026-11-25T07:15:10Z",
            "last_attempt": "2026-11-25T07:15:10Z",
            "last_error": None,
            "item_count": 3,
            "consecutive_failures": 0,
            "interval": 20.0,
            "stale_after": 300.0,
            "enabled": True,
        }
    ]
}
NOTICE_BODY: J = {
    "id": "regatta-2026",
    "header": {
        "sv": "Farleden vid Strömmen stängd för regatta",
        "en": "Fairway at Strömmen closed for a regatta",
    },
    "description": {"sv": "Ingen fartygstrafik 10-16.", "en": "No vessel traffic 10-16."},
    "modes": ["shipping", "ferry"],
    "cause": "OTHER_CAUSE",
    "effect": "DETOUR",
    "severity": "WARNING",
    "periods": [{"start": "2027-06-12T08:00:00Z", "end": "2027-06-12T14:00:00Z"}],
    "geometry": {"type": "Point", "coordinates": [18.0786, 59.3275]},
    "affected": [{"type": "area", "id": "strommen", "name": "Strömmen"}],
    "url": "https://www.portsofstockholm.com/",
}
NOTICE_PATCH: J = {"severity": "SEVERE", "description": {"en": None}}
NOTICE: J = {
    "id": "ports-of-stockholm:regatta-2026",
    "upstream_id": "regatta-2026",
    "org": "ports-of-stockholm",
    "status": "planned",
    "revision": 1,
    "created_at": "2026-11-25T07:20:00Z",
    "updated_at": "2026-11-25T07:20:00Z",
    "ended_at": None,
    **{k: v for k, v in NOTICE_BODY.items() if k != "id"},
    "location_text": {},
}
ENDED_NOTICE: J = {**NOTICE, "status": "ended", "revision": 2, "ended_at": "2026-11-25T09:00:00Z"}
ENDED_NOTICE["updated_at"] = ENDED_NOTICE["ended_at"]
WEBHOOK_BODY: J = {
    "url": "https://ferry-app.example.org/hooks/travelinfo",
    "filters": {"mode": ["ferry", "shipping"], "severity": "WARNING"},
    "description": "Waxholm ferry app",
}
WEBHOOK: J = {
    "id": "5b1f0c2d9e8a7b6c",
    "url": WEBHOOK_BODY["url"],
    "filters": WEBHOOK_BODY["filters"],
    "description": WEBHOOK_BODY["description"],
    "created": "2026-11-25T07:30:00Z",
    "state": "active",
    "last_error": None,
    "dead_letters": 0,
    "last_delivered_seq": "1842",
    "delivered": 12,
    "last_attempt": "2026-11-25T07:31:02Z",
    "consecutive_failures": 0,
    "next_attempt": None,
}
PING: J = {
    "id": WEBHOOK["id"],
    "url": WEBHOOK["url"],
    "event_id": "ping-3f9a1c",
    "ok": True,
    "status": 204,
    "error": None,
    "elapsed": 0.084,
}
