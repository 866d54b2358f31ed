"""Write the demo GTFS-RT ServiceAlerts sequence feeds/sl-alerts/NNN-*.pb from readable data.

Ids, routes, stops and trips match the demo GTFS static in feeds/sl-gtfs/. Periods start in
the past and are open-ended (or end years ahead), so the replayed demo looks live whenever
it runs. Run: `.venv/bin/python bench/make_demo_gtfsrt.py [OUT_DIR]` (deterministic output).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.transit import gtfs_realtime_pb2

OUT = Path(__file__).resolve().parent.parent / "feeds" / "sl-alerts"
SL = "14010000000001001"
WAXHOLMSBOLAGET = "14010000000001002"
LINE_14 = "9011001001400000"
TRAM_7 = "9011001000700000"
VAXHOLM_BOAT = "9011001020100000"
BUSES_AT_SLUSSEN = ("9011001000200000", "9011001000300000", "9011001005300000", "9011001007600000")
STOP = {
    "Gamla stan": "9022001009192001",
    "T-Centralen": "9022001009001001",
    "Slussen (Södermalmstorg)": "9022001010230001",
    "Djurgårdsbron": "9022001010004001",
    "Nordiska museet/Vasa": "9022001010005001",
    "Strömkajen": "9022001013001001",
}


def ts(text: str) -> int:
    """POSIX seconds of an RFC 3339 UTC time."""
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())


METRO_14 = {
    "id": "14010517000012401",
    "periods": [("2026-11-25T06:42:00+00:00", None)],
    "entities": [
        {"agency_id": SL, "route_id": LINE_14},
        {"route_id": LINE_14, "stop_id": STOP["Gamla stan"]},
        {"route_id": LINE_14, "stop_id": STOP["T-Centralen"]},
    ],
    "cause": "TECHNICAL_PROBLEM",
    "effect": "SIGNIFICANT_DELAYS",
    "severity": "WARNING",
    "header": {
        "sv": "Röda linjen 14: stora förseningar på grund av signalfel",
        "en": "Red line 14: major delays due to a signal failure",
    },
    "description": {
        "sv": "Signalfel mellan Gamla stan och T-Centralen. Tågen mot Mörby centrum och "
        "Fruängen går glesare. Räkna med minst 15 minuters längre restid.",
        "en": "Signal failure between Gamla stan and T-Centralen. Trains towards Mörby centrum "
        "and Fruängen run less often. Allow at least 15 minutes extra.",
    },
    "tts_header": {"sv": "Röda linjen fjorton: stora förseningar på grund av signalfel"},
    "cause_detail": {"sv": "Signalfel", "en": "Signal failure"},
    "url": {"sv": "https://sl.se/trafiklaget", "en": "https://sl.se/en/traffic-status"},
}
TRAM_7_DETOUR = {
    "id": "14010517000012388",
    "periods": [("2026-11-24T04:00:00+00:00", None)],
    "entities": [
        {"route_id": TRAM_7},
        {"route_id": TRAM_7, "stop_id": STOP["Djurgårdsbron"]},
        {"route_id": TRAM_7, "stop_id": STOP["Nordiska museet/Vasa"]},
    ],
    "cause": "MAINTENANCE",
    "effect": "DETOUR",
    "severity": "WARNING",
    "header": {
        "sv": "Spårväg City linje 7: omledd förbi Djurgårdsbron",
        "en": "Spårväg City line 7: diverted past Djurgårdsbron",
    },
    "description": {
        "sv": "På grund av spårarbete på Djurgårdsvägen stannar vagnarna inte vid Djurgårdsbron "
        "och Nordiska museet/Vasa. Gå till Nybroplan eller Skansen.",
        "en": "Because of track work on Djurgårdsvägen, trams do not stop at Djurgårdsbron or "
        "Nordiska museet/Vasa. Use Nybroplan or Skansen instead.",
    },
    "effect_detail": {"sv": "Omledning", "en": "Diversion"},
    "url": {"sv": "https://sl.se/trafiklaget"},
}
SLUSSEN_STOP = {
    "id": "14010517000011902",
    "periods": [("2026-08-18T03:00:00+00:00", "2032-12-31T23:00:00+00:00")],
    "entities": [{"route_id": r, "stop_id": STOP["Slussen (Södermalmstorg)"]} for r in BUSES_AT_SLUSSEN],
    "cause": "CONSTRUCTION",
    "effect": "STOP_MOVED",
    "severity": "INFO",
    "header": {
        "sv": "Slussen: hållplatsen Södermalmstorg är flyttad",
        "en": "Slussen: the Södermalmstorg bus stop has moved",
    },
    "description": {
        "sv": "På grund av ombyggnaden av Slussen är hållplatsen för linje 2, 3, 53 och 76 "
        "tillfälligt flyttad cirka 150 meter till Katarinavägen.",
        "en": "Because of the Slussen rebuild, the stop for lines 2, 3, 53 and 76 has moved "
        "about 150 metres to Katarinavägen for now.",
    },
    "url": {"sv": "https://sl.se/slussen"},
}
FERRY_CANCELLED = {
    "id": "14010517000012415",
    "periods": [("2026-11-25T05:30:00+00:00", None)],
    "entities": [
        {"agency_id": WAXHOLMSBOLAGET, "route_id": VAXHOLM_BOAT},
        {"trip": {"trip_id": "14010000670000025", "route_id": VAXHOLM_BOAT}},
        {"stop_id": STOP["Strömkajen"]},
    ],
    "cause": "WEATHER",
    "effect": "NO_SERVICE",
    "severity": "SEVERE",
    "header": {
        "sv": "Vaxholmsbåten: turen Strömkajen–Vaxholm är inställd",
        "en": "Vaxholm boat: the Strömkajen–Vaxholm sailing is cancelled",
    },
    "description": {
        "sv": "Hård vind och isbildning i Vaxholmsfjärden. Waxholmsbolaget ställer in turen. "
        "Ta buss 670 från Tekniska högskolan.",
        "en": "Strong winds and ice in Vaxholmsfjärden. Waxholmsbolaget has cancelled the "
        "sailing. Take bus 670 from Tekniska högskolan.",
    },
    "url": {"sv": "https://waxholmsbolaget.se/trafikinfo"},
}


def updated(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A later version of an alert."""
    return {**base, **changes}


METRO_14_WORSE = updated(
    METRO_14,
    effect="NO_SERVICE",
    severity="SEVERE",
    header={
        "sv": "Röda linjen 14: inga tåg mellan Slussen och T-Centralen",
        "en": "Red line 14: no trains between Slussen and T-Centralen",
    },
    description={
        "sv": "Signalfelet är större än väntat. Inga tåg går mellan Slussen och T-Centralen. "
        "Ta gröna linjen eller buss 3 och 53.",
        "en": "The signal failure is worse than expected. No trains between Slussen and "
        "T-Centralen. Take the green line or bus 3 and 53.",
    },
)
ALL_FOUR = [METRO_14, TRAM_7_DETOUR, SLUSSEN_STOP, FERRY_CANCELLED]
SEQUENCE = {
    "001-morning.pb": ("2026-11-25T07:00:00+00:00", ALL_FOUR),
    "002-metro-worse.pb": ("2026-11-25T07:20:00+00:00", [METRO_14_WORSE, *ALL_FOUR[1:]]),
    "003-metro-back.pb": ("2026-11-25T08:05:00+00:00", ALL_FOUR[1:]),
    "004-ferry-back.pb": ("2026-11-25T09:10:00+00:00", ALL_FOUR[1:3]),
}


def texts(target: Any, values: dict[str, str]) -> None:
    """Fill a TranslatedString."""
    for lang, text in values.items():
        target.translation.add(text=text, language=lang)


def alert_entity(msg: Any, data: dict[str, Any]) -> None:
    """Append one FeedEntity with an Alert built from `data`."""
    entity = msg.entity.add(id=data["id"])
    alert = entity.alert
    for start, end in data["periods"]:
        period = alert.active_period.add(start=ts(start))
        if end:
            period.end = ts(end)
    for selector in data["entities"]:
        sel = alert.informed_entity.add()
        for key, value in selector.items():
            if key == "trip":
                sel.trip.trip_id = value["trip_id"]
                sel.trip.route_id = value["route_id"]
            else:
                setattr(sel, key, value)
    alert.cause = gtfs_realtime_pb2.Alert.Cause.Value(data["cause"])
    alert.effect = gtfs_realtime_pb2.Alert.Effect.Value(data["effect"])
    alert.severity_level = gtfs_realtime_pb2.Alert.SeverityLevel.Value(data["severity"])
    texts(alert.header_text, data["header"])
    texts(alert.description_text, data["description"])
    texts(alert.url, data["url"])
    texts(alert.tts_header_text, data.get("tts_header", {}))
    texts(alert.cause_detail, data.get("cause_detail", {}))
    texts(alert.effect_detail, data.get("effect_detail", {}))


def build(when: str, alerts: list[dict[str, Any]]) -> bytes:
    """One FULL_DATASET FeedMessage."""
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    msg.header.timestamp = ts(when)
    for data in alerts:
        alert_entity(msg, data)
    out: bytes = msg.SerializeToString()
    return out


def main(out: Path = OUT) -> None:
    """Write every file of the sequence (and nothing else) into `out` (feeds/sl-alerts/)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.pb"):
        old.unlink()
    for name, (when, alerts) in SEQUENCE.items():
        (out / name).write_bytes(build(when, alerts))
        print(f"{out / name}: {len(alerts)} alerts")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
