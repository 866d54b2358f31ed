"""Informed entities checked against the reference GTFS, for every parser (issue 19).

`register` passes every batch through `resolve_batch` with the reference data the parser was
given. Each `route`, `stop`, `trip` and `agency` entry gets `gtfs_id`: the id itself when the
reference knows it, else the id a SIRI/NeTEx-style reference names in its last part
(`SE:050:Quay:9022001004731001` -> `9022001004731001`, `RUT:Line:5` -> `5`) when the reference
knows that, else "" (unknown: kept in the API, left out of GTFS-RT) with one note per item.
Without reference data, or for a table the reference does not hold (no trips.txt), entries
stay unchecked (`gtfs_id` None) and GTFS-RT writes them as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from travelinfo.ingest.gtfs_static import GtfsStatic
from travelinfo.model import Affected, Batch, Disruption

MAX_LISTED = 5  # unknown ids named in one note


def _tables(ref: GtfsStatic) -> dict[str, Mapping[str, object]]:
    tables: dict[str, Mapping[str, object]] = {
        "agency": ref.agencies,
        "route": ref.routes,
        "stop": ref.stops,
        "trip": ref.trips,
    }
    return {kind: table for kind, table in tables.items() if table}


def gtfs_id_of(kind_table: Mapping[str, object], ident: str) -> str:
    """The reference's id for `ident` (itself, or its last `:` part), "" when unknown."""
    if ident in kind_table:
        return ident
    tail = ident.rpartition(":")[2]
    return tail if tail and tail != ident and tail in kind_table else ""


def _item(d: Disruption, tables: Mapping[str, Mapping[str, object]], notes: list[str]) -> Disruption:
    affected: list[Affected] = []
    unknown: list[str] = []
    for a in d.affected:
        table = tables.get(a.type)
        if table is None:
            affected.append(a)
            continue
        found = gtfs_id_of(table, a.id)
        unknown += [] if found else [f"{a.type} {a.id[:80]}"]
        affected.append(dataclasses.replace(a, gtfs_id=found))
    if unknown:
        listed = ", ".join(unknown[:MAX_LISTED]) + (
            f" and {len(unknown) - MAX_LISTED} more" if len(unknown) > MAX_LISTED else ""
        )
        notes.append(f"{d.upstream_id[:60]}: not in the reference GTFS, left out of GTFS-RT: {listed}")
    return d.replace(affected=tuple(affected)) if tuple(affected) != d.affected else d


def resolve_batch(batch: Batch, reference: object) -> Batch:
    """`batch` with its informed entities checked against `reference` (a GtfsStatic, else as is)."""
    if not isinstance(reference, GtfsStatic):
        return batch
    tables = _tables(reference)
    if not tables or not any(a.type in tables for d in batch.items for a in d.affected):
        return batch
    notes: list[str] = []
    items = tuple(_item(d, tables, notes) for d in batch.items)
    return dataclasses.replace(batch, items=items, notes=(*batch.notes, *notes))
