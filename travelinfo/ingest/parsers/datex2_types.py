"""DATEX II record types and enum values mapped to GTFS-RT causes, effects and severities."""

from __future__ import annotations

from typing import Any

from travelinfo.ingest.parsers.vet import lang_tag

_LOCAL: dict[Any, str] = {}


def local(tag: Any) -> str:
    """`{ns}name` -> `name`, memoised (the hot path of every walk); '' for comments and PIs."""
    try:
        return _LOCAL[tag]
    except KeyError:
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if len(_LOCAL) < 4096:
            _LOCAL[tag] = name
        return name


# xsi:type of a situationRecord (v2 and v3 share these names) -> (cause, effect); None = no say.
RECORD_TYPES: dict[str, tuple[str | None, str | None]] = {
    "Accident": ("ACCIDENT", None),
    "MaintenanceWorks": ("MAINTENANCE", None),
    "ConstructionWorks": ("CONSTRUCTION", None),
    "Roadworks": ("CONSTRUCTION", None),
    "RoadOrCarriagewayOrLaneManagement": (None, "REDUCED_SERVICE"),
    "GeneralNetworkManagement": (None, "OTHER_EFFECT"),
    "ReroutingManagement": (None, "DETOUR"),
    "SpeedManagement": (None, "MODIFIED_SERVICE"),
    "WinterDrivingManagement": ("WEATHER", "MODIFIED_SERVICE"),
    "AbnormalTraffic": (None, "SIGNIFICANT_DELAYS"),
    "PoorEnvironmentConditions": ("WEATHER", None),
    "WeatherRelatedRoadConditions": ("WEATHER", None),
    "EnvironmentalObstruction": ("WEATHER", None),
    "NonWeatherRelatedRoadConditions": ("OTHER_CAUSE", None),
    "PublicEvent": ("OTHER_CAUSE", None),
    "DisturbanceActivity": ("OTHER_CAUSE", None),
    "AuthorityOperation": ("POLICE_ACTIVITY", None),
    "EquipmentOrSystemFault": ("TECHNICAL_PROBLEM", None),
    "RoadOperatorServiceDisruption": ("TECHNICAL_PROBLEM", None),
    "RoadsideServiceDisruption": ("TECHNICAL_PROBLEM", None),
    "InfrastructureDamageObstruction": ("TECHNICAL_PROBLEM", None),
    "VehicleObstruction": ("OTHER_CAUSE", None),
    "AnimalPresenceObstruction": ("OTHER_CAUSE", None),
    "GeneralObstruction": ("OTHER_CAUSE", None),
    "TransitInformation": ("OTHER_CAUSE", "MODIFIED_SERVICE"),
    "GeneralInstructionOrMessageToRoadUsers": ("OTHER_CAUSE", "OTHER_EFFECT"),
    "NetworkManagement": (None, "OTHER_EFFECT"),
    "RoadsideAssistance": ("OTHER_CAUSE", None),
}

# Sub-type enum values that say more than the record type does.
VALUE_EFFECTS: dict[str, str] = {
    # roadOrCarriagewayOrLaneManagementType
    "roadClosed": "NO_SERVICE",
    "carriagewayClosures": "NO_SERVICE",
    "closedPermanentlyForTheWinter": "NO_SERVICE",
    "overnightClosures": "NO_SERVICE",
    "intermittentShortTermClosures": "SIGNIFICANT_DELAYS",
    "laneClosures": "REDUCED_SERVICE",
    "narrowLanes": "REDUCED_SERVICE",
    "singleAlternateLineTraffic": "REDUCED_SERVICE",
    "contraflow": "REDUCED_SERVICE",
    "lanesDeviated": "DETOUR",
    "roadCleared": "NO_EFFECT",
    # generalNetworkManagementType: an open swing bridge closes the road while it is open
    "bridgeSwingInOperation": "NO_SERVICE",
    "trafficHeld": "NO_SERVICE",
    "convoyService": "SIGNIFICANT_DELAYS",
    "temporaryTrafficLights": "SIGNIFICANT_DELAYS",
    "trafficBeingManuallyDirected": "SIGNIFICANT_DELAYS",
    # abnormalTrafficType
    "stationaryTraffic": "SIGNIFICANT_DELAYS",
    "queuingTraffic": "SIGNIFICANT_DELAYS",
    "slowTraffic": "SIGNIFICANT_DELAYS",
    "heavyTraffic": "SIGNIFICANT_DELAYS",
    # v3 transitServiceInformation
    "cancellations": "NO_SERVICE",
    "serviceSuspended": "NO_SERVICE",
    "serviceWithdrawn": "NO_SERVICE",
    "delaysDueToFlotsam": "SIGNIFICANT_DELAYS",
    "delayed": "SIGNIFICANT_DELAYS",
}

VALUE_CAUSES: dict[str, str] = {
    "demonstration": "DEMONSTRATION",
    "march": "DEMONSTRATION",
    "industrialAction": "STRIKE",
    "strike": "STRIKE",
    "policeInvestigation": "POLICE_ACTIVITY",
    "policeCheckPoint": "POLICE_ACTIVITY",
    "securityIncident": "POLICE_ACTIVITY",
    "peopleOnRoadway": "POLICE_ACTIVITY",
    "emergencyMedicalServices": "MEDICAL_EMERGENCY",
    "medicalEmergency": "MEDICAL_EMERGENCY",
    "flooding": "WEATHER",
    "avalanches": "WEATHER",
    "fallenTrees": "WEATHER",
    "winterServiceOperations": "WEATHER",
    # v2/v3 causeType
    "accident": "ACCIDENT",
    "earlierAccident": "ACCIDENT",
    "poorWeather": "WEATHER",
    "frost": "WEATHER",
    "excessiveHeat": "WEATHER",
    "vandalism": "POLICE_ACTIVITY",
    "terrorism": "POLICE_ACTIVITY",
    "technicalProblems": "TECHNICAL_PROBLEM",
    "equipmentFailure": "TECHNICAL_PROBLEM",
    "infrastructureFailure": "TECHNICAL_PROBLEM",
    "holidayTraffic": "HOLIDAY",
}

# When records disagree, the most telling cause and the strongest effect win.
CAUSE_ORDER = (
    "ACCIDENT",
    "CONSTRUCTION",
    "MAINTENANCE",
    "WEATHER",
    "POLICE_ACTIVITY",
    "MEDICAL_EMERGENCY",
    "DEMONSTRATION",
    "STRIKE",
    "TECHNICAL_PROBLEM",
    "HOLIDAY",
    "OTHER_CAUSE",
)
EFFECT_ORDER = (
    "NO_SERVICE",
    "DETOUR",
    "REDUCED_SERVICE",
    "SIGNIFICANT_DELAYS",
    "MODIFIED_SERVICE",
    "STOP_MOVED",
    "ACCESSIBILITY_ISSUE",
    "ADDITIONAL_SERVICE",
    "OTHER_EFFECT",
    "NO_EFFECT",
)

SEVERITY: dict[str, str] = {
    "highest": "SEVERE",
    "high": "SEVERE",
    "medium": "WARNING",
    "low": "INFO",
    "lowest": "INFO",
    "none": "INFO",
}

# Record children whose text is an enum worth keeping as a category (`datex2:<name>=<value>`).
SUBTYPE_ELEMENTS = frozenset(
    {
        "accidentType",
        "roadMaintenanceType",
        "constructionWorkType",
        "roadOrCarriagewayOrLaneManagementType",
        "generalNetworkManagementType",
        "abnormalTrafficType",
        "vehicleObstructionType",
        "obstructionType",
        "animalPresenceType",
        "environmentalObstructionType",
        "infrastructureDamageType",
        "poorEnvironmentType",
        "weatherRelatedRoadConditionType",
        "nonWeatherRelatedRoadConditionType",
        "publicEventType",
        "disturbanceActivityType",
        "authorityOperationType",
        "equipmentOrSystemFaultType",
        "roadOperatorServiceDisruptionType",
        "roadsideServiceDisruptionType",
        "transitServiceInformation",
        "transitServiceType",
        "reroutingManagementType",
        "speedManagementType",
        "winterEquipmentManagementType",
        "generalInstructionToRoadUsersType",
        "roadsideAssistanceType",
    }
)

# Fallback headers when the upstream gives no usable comment.
LABELS: dict[str, dict[str, str]] = {
    "Accident": {"en": "Accident", "sv": "Olycka"},
    "MaintenanceWorks": {"en": "Roadworks", "sv": "Vägarbete"},
    "ConstructionWorks": {"en": "Construction works", "sv": "Byggarbete"},
    "RoadOrCarriagewayOrLaneManagement": {"en": "Traffic restriction", "sv": "Trafikbegränsning"},
    "AbnormalTraffic": {"en": "Traffic queues", "sv": "Köbildning"},
    "GeneralNetworkManagement": {"en": "Traffic management", "sv": "Trafikreglering"},
    "PublicEvent": {"en": "Public event", "sv": "Evenemang"},
}
VALUE_LABELS: dict[str, dict[str, str]] = {
    "roadClosed": {"en": "Road closed", "sv": "Väg avstängd"},
    "laneClosures": {"en": "Lane closures", "sv": "Körfält avstängt"},
    "bridgeSwingInOperation": {"en": "Bridge opening", "sv": "Broöppning"},
}
DEFAULT_LABEL = {"en": "Road traffic disruption", "sv": "Trafikstörning"}

# Three-letter language codes some producers use, mapped to BCP 47's shortest form.
LANGS = {
    "swe": "sv",
    "fin": "fi",
    "nob": "nb",
    "nno": "nn",
    "nor": "no",
    "eng": "en",
    "dut": "nl",
    "nld": "nl",
    "ger": "de",
    "deu": "de",
    "dan": "da",
}


def norm_lang(code: str | None, default: str) -> str:
    """A BCP 47 language tag for a DATEX `lang` attribute (`default` when absent)."""
    code = (code or "").strip()
    if not code:
        return default
    return LANGS.get(code.lower()) or lang_tag(code) or default


# `TransitInformation.transitServiceType` -> model mode (a suspended ferry is not a road).
TRANSIT_MODES = {
    "ferry": "ferry",
    "rail": "rail",
    "train": "rail",
    "bus": "bus",
    "tram": "tram",
    "metro": "metro",
}
