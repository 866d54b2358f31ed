"""ALERT-C (TMC) location tables: which table a source's AlertC codes refer to, and where each
location is (issue 19). Pure: the collector reads the file, `AlertCTable.parse` reads its bytes.

A table file is CSV (UTF-8) with a header naming at least `table`, `code`, `lat`, `lon`, and
optionally `country`, `version`, `name`: one row per location, WGS 84 degrees. It is named by
a source's `options.alertc_table`. With one, each AlertC location of a DATEX II situation
without coordinates of its own gets a point from the table; a code of another table, a code
the table lacks, or a payload naming another table version is a note. Without one, the codes
are kept (`alertc:<country>:<table>:<code>`) and no geometry is guessed.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_ROWS = 500_000  # a national table has tens of thousands of locations


class TableError(ValueError):
    """The location table file cannot be read."""


@dataclass(frozen=True, slots=True)
class AlertCTable:
    """One location table: its number, version, country and (lon, lat, name) by code."""

    table: str
    version: str = ""
    country: str = ""
    points: dict[str, tuple[float, float, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> AlertCTable:
        """A table from CSV bytes (TableError when malformed, mixed or empty)."""
        try:
            rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
            if not rows.fieldnames or not {"table", "code", "lat", "lon"} <= set(rows.fieldnames):
                raise TableError("needs the columns table, code, lat and lon")
            tables, points = set(), {}
            for n, row in enumerate(rows, start=2):
                if n > MAX_ROWS:
                    raise TableError(f"more than {MAX_ROWS} rows")
                lon, lat = float(row["lon"]), float(row["lat"])
                if not (
                    math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
                ):
                    raise TableError(f"row {n}: coordinates out of range")
                tables.add(
                    (
                        (row.get("country") or "").strip(),
                        row["table"].strip(),
                        (row.get("version") or "").strip(),
                    )
                )
                points[row["code"].strip()] = (lon, lat, (row.get("name") or "").strip())
        except TableError:
            raise
        except (UnicodeDecodeError, csv.Error, ValueError, TypeError, AttributeError) as exc:
            raise TableError(f"unreadable: {exc}") from None
        if len(tables) != 1:
            raise TableError(f"one table per file, found {len(tables) or 'none'}")
        ((country, table, version),) = tables
        return cls(table, version, country, points)

    def describe(self) -> str:
        return f"location table {self.table}" + (f" version {self.version}" if self.version else "")


def _versions(elem: Any) -> set[str]:
    return {
        (node.text or "").strip()
        for node in elem.iter()
        if isinstance(node.tag, str)
        and node.tag.endswith("alertCLocationTableVersion")
        and (node.text or "").strip()
    }


def locate(elem: Any, codes: Iterable[str], table: AlertCTable, notes: list[str]) -> list[dict[str, Any]]:
    """Points for the AlertC `codes` (`alertc:<country>:<table>:<code>`) found below `elem`;
    what cannot be placed is noted."""
    out: list[dict[str, Any]] = []
    for ident in codes:
        _, country, number, code = ident.split(":", 3)
        if number != table.table or (table.country and country not in (table.country, "?")):
            notes.append(
                f"{ident}: not of the configured {table.describe()} (country {table.country or '?'})"
            )
        elif code not in table.points:
            notes.append(f"{ident}: not in the configured {table.describe()}")
        else:
            lon, lat, _name = table.points[code]
            out.append({"type": "Point", "coordinates": [lon, lat]})
    other = sorted(v for v in _versions(elem) if table.version and v != table.version)
    if other and out:
        notes.append(
            f"payload names {table.table} version {', '.join(other)}; looked up in {table.describe()}"
        )
    return out
