"""GTFS static against zip bombs and runaway feeds: refused early, memory flat, download capped."""

from __future__ import annotations

import tracemalloc
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from travelinfo.ingest import gtfs_static
from travelinfo.ingest.gtfs_static import GtfsTooLarge, load_gtfs, read_capped

HEADER = b"stop_id,stop_name,stop_lat,stop_lon\n"


def bomb(path: Path, name: str, rows: int, row: bytes = b"1,Slussen,59.32,18.07\n") -> Path:
    """A zip whose one member is `rows` identical rows: about 1,000:1 compression."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("routes.txt", b"route_id,route_type\nr,3\n")
        with archive.open(name, "w") as member:
            member.write(HEADER)
            chunk = row * 10_000
            for _ in range(rows // 10_000):
                member.write(chunk)
    return path


def test_member_over_the_size_cap_is_refused_from_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gtfs_static, "MAX_ENTRY_BYTES", 8 * 1024 * 1024)
    zip_path = bomb(tmp_path / "bomb.zip", "stops.txt", 500_000)  # 11 MB inside, ~30 KB outside
    assert zip_path.stat().st_size < 100_000
    with pytest.raises(GtfsTooLarge, match="uncompressed"):
        load_gtfs(zip_path)


def test_member_lying_about_its_size_is_stopped_while_streaming(tmp_path: Path) -> None:
    """The central directory says 1,000 bytes, the data inflates to 11 MB: reading stops early.

    Python's zipfile reads no more than the declared size and then fails its CRC check; our
    stream cap (MAX_ENTRY_BYTES, counted on what is actually read) stands behind it.
    """
    zip_path = bomb(tmp_path / "bomb.zip", "stops.txt", 500_000)
    data = bytearray(zip_path.read_bytes())
    at = data.index(b"PK\x01\x02")  # the first central directory entry
    for _ in range(2):  # routes.txt, then stops.txt
        name_len = int.from_bytes(data[at + 28 : at + 30], "little")
        name = bytes(data[at + 46 : at + 46 + name_len])
        if name == b"stops.txt":
            data[at + 24 : at + 28] = (1000).to_bytes(4, "little")
            break
        at = data.index(b"PK\x01\x02", at + 4)
    zip_path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(zipfile.BadZipFile):
            load_gtfs(zip_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak


def test_row_cap_and_flat_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 300 KB zip of distinct-enough rows: refused at MAX_ROWS, memory far from 1.5 GB."""
    monkeypatch.setattr(gtfs_static, "MAX_ROWS", 200_000)
    zip_path = bomb(tmp_path / "rows.zip", "trips.txt", 1_000_000, b"t,r\n")
    assert zip_path.stat().st_size < 300_000
    tracemalloc.start()
    try:
        with pytest.raises(GtfsTooLarge, match="rows"):
            load_gtfs(zip_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, peak


def test_too_many_members_and_too_big_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gtfs_static, "MAX_ENTRIES", 50)
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(60):
            archive.writestr(f"x{i}.txt", b"")
    with pytest.raises(GtfsTooLarge, match="members"):
        load_gtfs(path)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    import asyncio

    with pytest.raises(GtfsTooLarge, match="download"):
        asyncio.run(read_capped(chunks(), limit=50 * 1024))
    assert len(asyncio.run(read_capped(chunks(), limit=200 * 1024))) == 100 * 1024


def test_bad_csv_is_a_value_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("stops.txt", b'stop_id,stop_name\n1,"' + b"x" * 20_000 + b'"\n')
    with pytest.raises(ValueError, match="CSV"):
        load_gtfs(path)
