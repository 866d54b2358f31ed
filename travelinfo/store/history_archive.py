"""Daily archive files of published versions: NDJSON, gzip, one line per version, and a manifest.

`versions-YYYY-MM-DD.ndjson.gz` holds every version whose time falls on that UTC day; each file
and `manifest.json` are written to a temporary name, synced and renamed, so a reader never sees
half a file. The files are open data: a year of history without keeping it in Redis memory.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from travelinfo.store.history import Version, latest_at, version_of

MANIFEST = "manifest.json"


def day_name(ts: float) -> str:
    """The UTC day `YYYY-MM-DD` holding epoch second `ts`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Archive:
    """The archive folder (`history.archive_dir`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def manifest(self) -> dict[str, Any]:
        """`{"days": {day: {file, versions, bytes, sha256, first_seq, last_seq}}}`."""
        try:
            data = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": "travelinfo-versions/1", "days": {}}
        return data if isinstance(data, dict) and isinstance(data.get("days"), dict) else {"days": {}}

    def has(self, day: str) -> bool:
        return day in self.manifest()["days"]

    def write_day(self, day: str, versions: Iterable[Version]) -> int:
        """Write one day's file (replacing one there) and enter it in the manifest; the count."""
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = [json.dumps(v.to_json(), ensure_ascii=False, separators=(",", ":")) for v in versions]
        name = f"versions-{day}.ndjson.gz"
        # mtime=0: the same versions give the same bytes (and checksum) on every run.
        data = gzip.compress("".join(r + "\n" for r in rows).encode(), mtime=0)
        _write_atomic(self.folder / name, data)
        manifest = self.manifest()
        manifest["format"] = "travelinfo-versions/1"
        seqs = [json.loads(r)["seq"] for r in rows[:1] + rows[-1:]]
        manifest["days"][day] = {
            "file": name,
            "versions": len(rows),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "first_seq": seqs[0] if seqs else None,
            "last_seq": seqs[-1] if seqs else None,
        }
        manifest["days"] = dict(sorted(manifest["days"].items()))
        body = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
        _write_atomic(self.folder / MANIFEST, body)
        return len(rows)

    def read(self, until_day: str | None = None) -> Iterator[Version]:
        """Every archived version (of days up to `until_day`), oldest day first."""
        for day, entry in self.manifest()["days"].items():
            if until_day is not None and day > until_day:
                break
            try:
                with gzip.open(self.folder / str(entry["file"]), "rt", encoding="utf-8") as f:
                    for line in f:
                        if line.strip():
                            data = json.loads(line)
                            yield version_of(data["seq"], data)
            except FileNotFoundError:
                continue

    def as_of(self, at: datetime, archive_retention: float) -> list[Version]:
        """The versions valid at `at`, from the files alone."""
        return latest_at(self.read(day_name(at.timestamp())), at, archive_retention)

    def history(self, ident: str) -> list[Version]:
        """Every archived version of one id."""
        return [v for v in self.read() if v.id == ident]
