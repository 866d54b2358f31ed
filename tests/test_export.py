"""`travelinfo export DIR`: the rendered feeds written atomically as static files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from google.transit import gtfs_realtime_pb2

ROOT = Path(__file__).resolve().parent.parent


def test_export_writes_feeds_atomically(tmp_path: Path) -> None:
    env = {**os.environ, "TRAVELINFO_STORE": f"sqlite:///{tmp_path / 'e.db'}"}
    env.pop("REDIS_URL", None)
    # Fill the store from the demo data (one poll of each source), then export.
    feed = sorted((ROOT / "feeds" / "sl-alerts").glob("*.pb"))[0]
    code = (
        "import asyncio, sys\n"
        "from datetime import UTC, datetime\n"
        "from travelinfo.config import load_settings\n"
        "from travelinfo.store import make_store\n"
        "from travelinfo.ingest.parsers.base import ParseContext, get_parser\n"
        "async def main():\n"
        "    s = make_store(load_settings())\n"
        "    await s.open()\n"
        f"    data = open({str(feed)!r}, 'rb').read()\n"
        "    b = get_parser('gtfsrt')(data, ParseContext('sl', datetime.now(UTC)))\n"
        "    await s.apply(b)\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    out = tmp_path / "public"
    result = subprocess.run(
        [sys.executable, "-m", "travelinfo.cli", "export", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    pb = out / "alerts.pb"
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.ParseFromString(pb.read_bytes())
    assert len(msg.entity) >= 1
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary files left behind"
