"""Issue 19, must show 0: gtfs-rt-validator reports no error on the running service's combined
`/gtfs-rt/alerts.pb` (every demo source replaying) at five moments of the demo replay."""

from __future__ import annotations

import asyncio
import csv
import hashlib
from pathlib import Path

import aiohttp
import pytest
from google.transit import gtfs_realtime_pb2
from procutil import free_port, start_cli, stop_proc, wait_http
from test_gtfsrt_render import validate, validator  # noqa: F401  (the fixture installs it)

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "feeds"
SOURCES = [
    ("trafikverket", "datex2", "trafikverket", ""),
    ("sl", "gtfsrt", "sl-alerts", ""),
    ("sjofartsverket", "navtex", "navtex", ""),
    ("krisinformation", "cap", "cap", ""),
    ("sl-siri", "siri-sx", "sl-siri", 'options = { lang = "sv" }'),
    ("trafikverket-api", "trafikverket", "trafikverket-api", ""),
    ("sl-deviations", "sl-deviations", "sl-deviations", ""),
    ("vma", "vma", "vma", ""),
]

# A whole service with eight sources and five validator runs: about 25 s, so `slow` (CI runs it).
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def write_config(tmp_path: Path, port: int) -> Path:
    """The demo configuration (every demo source, the demo reference GTFS), polling fast."""
    blocks = [
        f'[[sources]]\nname = "{name}"\ntype = "{kind}"\nurl = "{FEEDS / folder}"\n'
        f'interval = "0.5s"\n{extra}\n'
        for name, kind, folder, extra in SOURCES
    ]
    cfg = tmp_path / "travelinfo.toml"
    cfg.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "ti.db"}"\nexpire_interval = "1s"\n'
        f"[web]\nport = {port}\n[scheduler]\njitter = 0\n"
        f'[reference]\ngtfs_static = "{FEEDS / "sl-gtfs"}"\n' + "\n".join(blocks),
        encoding="utf-8",
    )
    return cfg


async def test_combined_service_feed_has_no_validator_error(validator: Path, tmp_path: Path) -> None:  # noqa: F811
    port = free_port()
    proc = start_cli(write_config(tmp_path, port), "run", log=tmp_path / "run.log")
    base = f"http://127.0.0.1:{port}"
    samples: list[bytes] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await wait_http(session, f"{base}/healthz", timeout=60)
            seen: set[str] = set()

            async def sample() -> bool:
                async with session.get(f"{base}/gtfs-rt/alerts.pb") as resp:
                    body = await resp.read()
                digest = hashlib.sha256(body).hexdigest()
                msg = gtfs_realtime_pb2.FeedMessage()
                msg.ParseFromString(body)
                # A moment counts once the SIRI-SX and GTFS-RT sources both contributed.
                sources = {e.id.split(":")[0] for e in msg.entity}
                if digest in seen or not {"sl", "sl-siri"} <= sources:
                    return False
                seen.add(digest)
                samples.append(body)
                return True

            for n in range(5):
                deadline = asyncio.get_running_loop().time() + 60
                while not await sample():
                    assert asyncio.get_running_loop().time() < deadline, f"moment {n}: feed never changed"
                    await asyncio.sleep(0.1)
    finally:
        stop_proc(proc)
    assert len(samples) == 5
    known = {
        kind: {row[key] for row in csv.DictReader((FEEDS / "sl-gtfs" / name).open(encoding="utf-8"))}
        for kind, name, key in (("stop_id", "stops.txt", "stop_id"), ("route_id", "routes.txt", "route_id"))
    }
    for i, body in enumerate(samples):
        folder = tmp_path / f"moment{i}"
        folder.mkdir()
        found = validate(validator, folder, body)
        assert "ERROR" not in found, (i, found)
        # Independently of the validator: every stop and route id written is in the static GTFS
        # (refs it does not know are left out, issue 19), and every alert informs something.
        msg = gtfs_realtime_pb2.FeedMessage()
        msg.ParseFromString(body)
        for e in msg.entity:
            assert e.alert.informed_entity, (i, e.id)
            for sel in e.alert.informed_entity:
                for kind, ids in known.items():
                    assert not sel.HasField(kind) or getattr(sel, kind) in ids, (
                        i,
                        e.id,
                        kind,
                        getattr(sel, kind),
                    )
