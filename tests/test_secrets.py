"""No configured secret leaves the process: logs, health, pages, API bodies, error JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import aiohttp
import pytest
import upstream  # noqa: F401 - registers the testjson format
from apputil import start_app

from travelinfo.config import load_settings, redact_url
from travelinfo.runtime import secrets
from travelinfo.runtime.secrets import ScrubFilter, install_log_filter, scrub

pytestmark = pytest.mark.timeout(90)

SECRETS = {
    "T_KEY": "pkey-Secret-1111",
    "T_APPKEY": "app+key/with?odd=chars&2222",
    "T_XAUTH": "xauth-3333-secret",
    "T_AUTHZ": "Bearer bearer-tok-4444",
    "T_BOT": "bot-token-5555-abcdef",
}
REF_KEY = "ref-key-6666-zz"
FORBIDDEN = [*SECRETS.values(), "bearer-tok-4444", REF_KEY]


def leaks(text: str) -> list[str]:
    """Every secret found in `text`, raw or URL-encoded."""
    found = []
    for value in FORBIDDEN:
        for form in {
            value,
            quote(value, safe=""),
            quote_plus(value),
            quote(value),
            secrets.query_encoded(value),
        }:
            if form in text:
                found.append(form)
    return found


def test_scrub_removes_raw_and_url_encoded_values_and_the_bearer_credential() -> None:
    secrets.register("Bearer unit-credential-77", key="unitkey")
    secrets.register("unit/value+with space")
    text = (
        "Authorization: Bearer unit-credential-77; token unit-credential-77; "
        "url=http://h/x?unitkey=unit%2Fvalue%2Bwith%20space&b=unit%2Fvalue%2Bwith+space"
    )
    out = scrub(text)
    assert "unit-credential-77" not in out and "unit" not in unquote(out).replace("unitkey", "")
    assert out.count("***") >= 4
    assert scrub("port 8080 on") == "port 8080 on", "short values are never registered"
    assert redact_url("https://h/x?unitkey=abc&format=json") == "https://h/x?format=json"


def test_log_filter_scrubs_message_arguments_and_traceback() -> None:
    secrets.register("log-secret-value-88")
    record_out: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            record_out.append(self.format(record))

    handler = Collect()
    install_log_filter([handler])
    assert any(isinstance(f, ScrubFilter) for f in handler.filters)
    logger = logging.getLogger("travelinfo.test-secrets")
    logger.addHandler(handler)
    try:
        logger.warning("fetching %s", "http://h/?k=log-secret-value-88")
        try:
            raise ValueError("bad url http://h/?k=log-secret-value-88")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(record_out)
    assert "log-secret-value-88" not in text and "ValueError: bad url" in text and "***" in text


# -- the whole service under every error path ------------------------------------------------


class FaultServer:
    """A raw HTTP/1.1 upstream on loopback: each mode is one way an upstream goes wrong."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[str] = []
        self.port = 0
        self.release = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        self.requests.append(head)
        target = head.split(" ", 2)[1]
        echo = " ".join(SECRETS.values())  # a hostile upstream echoes what it was sent
        mode = "ref" if target.startswith("/gtfs") else self.mode
        if mode == "timeout":
            with contextlib.suppress(TimeoutError):  # released at teardown: no task left behind
                await asyncio.wait_for(self.release.wait(), 3)
        if mode == "ok":
            body = json.dumps({"items": [{"id": "x", "header": "hello"}]}).encode()
            out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            out += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        elif mode == "bad-length":
            out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12abc\r\n\r\n{}"
        elif mode == "redirect":
            out = f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n".encode()
        elif mode in ("401", "ref"):
            body = f"bad key {echo}".encode()
            out = f"HTTP/1.1 401 Unauthorized\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        elif mode == "garbage":
            body = f"not json {echo}".encode()
            out = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        else:  # 500
            body = f"exploded {echo}".encode()
            out = f"HTTP/1.1 500 Oops\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        out = out.replace(b"\r\n", b"\r\nConnection: close\r\n", 1)
        try:
            writer.write(out)
            await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def fault_server() -> AsyncIterator[FaultServer]:
    fs = FaultServer()
    server = await asyncio.start_server(fs.handle, "127.0.0.1", 0)
    fs.port = server.sockets[0].getsockname()[1]
    try:
        yield fs
    finally:
        fs.release.set()
        server.close()
        await server.wait_closed()


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


# Every error path, and a word its health record's `last_error` must then show.
ERROR_PATHS = [
    ("bad-length", ""),
    ("redirect", "redirect"),
    ("401", "authentication failed"),
    ("timeout", "timed out"),
    ("garbage", "unparsable payload"),
    ("500", "HTTP 500"),
]
PAGES = [
    "/api/v1/sources",
    "/status",
    "/metrics",
    "/healthz",
    "/readyz",
    "/api/v1/disruptions",
    "/d/leaky:x",
    "/",
    "/feeds/disruptions.atom",
    "/feeds/disruptions.rss",
    "/gtfs-rt/alerts.json",
    "/api/v1/openapi.json",
]


async def test_no_secret_leaves_the_service_on_any_error_path(tmp_path: Path) -> None:
    raw = Capture()  # sees records before the scrub filter: proves secrets were there to leak
    logged = Capture()
    install_log_filter([logged])
    root = logging.getLogger()
    old_level, old_handlers = root.level, root.handlers[:]
    # Only these two: another test's scrubbing handler earlier in the list would scrub `raw` too.
    root.handlers = [raw, logged]
    root.setLevel(logging.DEBUG)
    bodies: list[str] = []
    errors: list[str] = []
    try:
        async with fault_server() as fs:
            base = f"http://127.0.0.1:{fs.port}"
            cfg = tmp_path / "leak.toml"
            cfg.write_text(
                f"""
[store]
url = "sqlite:///{tmp_path / "store.db"}"
[api]
rate_per_ip = 100000
burst = 100000
[scheduler]
jitter = 0
backoff_max = "0.3"
[bot]
token = {{ env = "T_BOT" }}
[[sources]]
name = "leaky"
type = "testjson"
url = "{base}/feed?format=json"
interval = "0.2"
timeout = "1"
params = {{ key = {{ env = "T_KEY" }}, appkey = {{ env = "T_APPKEY" }}, limit = 10 }}
headers = {{ "X-Auth" = {{ env = "T_XAUTH" }}, Authorization = {{ env = "T_AUTHZ" }} }}
""",
                encoding="utf-8",
            )
            env = dict(SECRETS, TRAVELINFO_REFERENCE_GTFS_STATIC=f"{base}/gtfs.zip?key={REF_KEY}&v=1")
            settings = load_settings(cfg, env=env)
            run = await start_app(settings, frozenset({"web", "worker"}))
            try:
                async with aiohttp.ClientSession() as http:

                    async def health() -> dict[str, object]:
                        async with http.get(run.url + "/api/v1/sources") as r:
                            return next(s for s in (await r.json())["sources"] if s["source"] == "leaky")

                    async def wait(check) -> dict[str, object]:  # type: ignore[no-untyped-def]
                        deadline = time.monotonic() + 20
                        while time.monotonic() < deadline:
                            h = await health()
                            if check(h):
                                return h
                            await asyncio.sleep(0.05)
                        raise AssertionError(f"source never got there: {h}")

                    async def snapshot() -> None:
                        for page in PAGES:
                            async with http.get(run.url + page) as r:
                                bodies.append(f"{page}: {await r.text()}")
                        for secret in FORBIDDEN:  # error JSON echoing what the client sent
                            async with http.get(
                                run.url + "/api/v1/disruptions", params={"mode": secret}
                            ) as r:
                                bodies.append(f"error: {r.status} {await r.text()}")
                            async with http.get(run.url + "/api/v1/x-" + quote(secret, safe="")) as r:
                                bodies.append(f"error: {r.status} {await r.text()}")
                        bodies.append(json.dumps(await run.store.get_record("health", "leaky")))

                    await wait(lambda h: h["state"] == "ok" and h["item_count"] == 1)
                    await snapshot()
                    for mode, expected in ERROR_PATHS:
                        fs.mode = mode
                        h = await wait(
                            lambda h, e=expected: (
                                h["state"] == "failing"
                                and e.lower() in str(h["last_error"]).lower()
                                and h["last_error"] not in errors
                            )
                        )
                        errors.append(str(h["last_error"]))
                        await snapshot()
                        fs.mode = "ok"
                        await wait(lambda h: h["state"] == "ok")
            finally:
                await run.stop()
    finally:
        root.handlers = old_handlers
        root.setLevel(old_level)
    # The upstream really was sent every secret (so there was something to leak) ...
    seen = "\n".join(fs.requests)
    assert f"appkey={secrets.query_encoded(SECRETS['T_APPKEY'])}" in seen
    assert SECRETS["T_XAUTH"] in seen and SECRETS["T_AUTHZ"] in seen and REF_KEY in seen
    # Raw records are clean at the source by now (the GTFS static source names its URL redacted,
    # collectors scrub aiohttp's messages); the root filter is the net behind them.
    assert raw.lines, "records were captured before the filter"
    assert any("***" in e for e in errors), f"aiohttp messages carry the URL with its params: {errors}"
    # ... and none of it came out.
    assert len(errors) == len(ERROR_PATHS), errors
    assert not leaks("\n".join(errors)), errors
    assert not leaks("\n".join(logged.lines)), [line for line in logged.lines if leaks(line)]
    assert not leaks("\n".join(bodies)), [b[:300] for b in bodies if leaks(b)]
    provenance = [b for b in bodies if b.startswith("/api/v1/disruptions:") and "provenance" in b]
    assert provenance, "the disruption's provenance URL was checked"


async def test_the_log_of_a_real_worker_process_is_scrubbed(tmp_path: Path) -> None:
    """`travelinfo worker` itself: the CLI's logging setup carries the filter."""
    import os
    import sys

    async with fault_server() as fs:
        fs.mode = "redirect"  # aiohttp's TooManyRedirects names the URL with its params
        base = f"http://127.0.0.1:{fs.port}"
        cfg = tmp_path / "cli.toml"
        cfg.write_text(
            f"""
[store]
url = "sqlite:///{tmp_path / "store.db"}"
[scheduler]
jitter = 0
[[sources]]
name = "leaky"
type = "gtfsrt"
url = "{base}/feed"
params = {{ key = {{ env = "T_KEY" }} }}
""",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(SECRETS, PYTHONUNBUFFERED="1")
        env["TRAVELINFO_REFERENCE_GTFS_STATIC"] = f"{base}/gtfs.zip?key={REF_KEY}"
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "travelinfo.cli",
                "-c",
                str(cfg),
                "worker",
                env=env,
                stdout=out,
                stderr=out,
            )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if "source leaky failing" in log.read_text():
                    break
                await asyncio.sleep(0.1)
        finally:
            proc.terminate()
            await proc.wait()
    text = log.read_text()
    assert "source leaky failing: " in text and "redirects" in text.lower(), text
    assert "source gtfs-static failing" in text, text  # the reference data: a source like the others
    assert any(SECRETS["T_KEY"] in r for r in fs.requests) and any(REF_KEY in r for r in fs.requests)
    assert not leaks(text), text
    # The reference source names its URL as /api/v1/sources shows it: without the query.
    assert "/gtfs.zip (last good data stays published)" in text, text
