"""Synthetic road works as a DATEX II source would give them, for the store and history benches.

Item `i` is `bench:SE_STA_TRISSID_1_<i>` (Trafikverket's id form): maintenance works on road
`i % 900` with one point geometry, so that 10,000 or 1,000,000 of them cost what real ones do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from travelinfo.model import Affected, Disruption, Period, Provenance, make_id

SOURCE = "bench"


def upstream_id(i: int) -> str:
    return f"SE_STA_TRISSID_1_{i:07d}"


def item_id(i: int) -> str:
    return make_id(SOURCE, upstream_id(i))


def roadwork(
    i: int,
    at: datetime,
    *,
    period: Period,
    header: str,
    updated_at: datetime | None = None,
    severity: str | None = None,
    categories: Sequence[str] = ("datex2:MaintenanceWorks",),
) -> Disruption:
    """Road works number `i` as fetched at `at` (severity WARNING/INFO by turns unless given)."""
    return Disruption(
        id=item_id(i),
        source=SOURCE,
        source_type="datex2",
        upstream_id=upstream_id(i),
        version="1",
        updated_at=updated_at or at,
        first_seen=at,
        last_seen=at,
        status="active",
        modes=("road",),
        cause="MAINTENANCE",
        effect="REDUCED_SERVICE",
        severity=severity or ("WARNING", "INFO")[i % 2],
        categories=tuple(categories),
        periods=(period,),
        header={"sv": header},
        description={"sv": "Vägarbete. Ett körfält är avstängt. Sänkt hastighet, 50 km/h."},
        location_text={"sv": f"Väg {i % 900} mellan trafikplats {i} och {i + 1}"},
        geometry={"type": "Point", "coordinates": [17.5 + (i % 100) / 100, 59.0 + (i % 70) / 100]},
        affected=(Affected("road", str(i % 900), None),),
        provenance=Provenance(at, "https://example.invalid/datex"),
    )
