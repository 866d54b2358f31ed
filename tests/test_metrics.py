"""/metrics counts what really happened: requests by route template, polls, parses, store
applies, webhook deliveries and dead letters, bot posts (Must show 4, first half).

One real app (web, worker, deliver and bot roles) on a real SQLite file polls a fake upstream on
loopback, delivers to two local receivers (one refuses with 400: a dead letter) and posts to a
real mastodon_mock. Each counter is read back from the Prometheus text of `/metrics` and checked
against what the other side saw (the receiver's hits, the statuses on the Mastodon server, our
own requests). Counters are per process, so the test reads differences from a first scrape and
uses a source name of its own.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from upstream import Upstream, serve_upstream
from waiting import wait_until
from webhookutil import Receiver, auth, make_key, receiver, register, start_app

from tests.botutil import PUBLIC_URL, TOKEN, Masto, masto, mastodon_server
from travelinfo.config import Settings, SourceConfig
from travelinfo.runtime import metrics

__all__ = ["masto", "mastodon_server"]  # the fixtures, imported for pytest

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by (name, sorted labels)."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(data: Samples, name: str, **labels: str) -> float:
    return data.get((name, tuple(sorted(labels.items()))), 0.0)


def types(text: str) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text)}


async def scrape(client: aiohttp.ClientSession, base: str) -> tuple[str, Samples]:
    async with client.get(f"{base}/metrics") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    return text, samples(text)


def body(n: int) -> bytes:
    """n good items and one without a header (the parser skips it: one skip per payload)."""
    rows: list[dict[str, Any]] = [{"id": f"m{i}", "header": f"Störning {i}"} for i in range(n)]
    rows.append({"id": "bad", "header": ""})
    return json.dumps({"items": rows, "complete": False}).encode()


async def refuse(_request: web.Request, _r: Receiver) -> web.StreamResponse:
    return web.Response(status=400, text="not for us")  # not retried: the event is dead-lettered


def settings_for(tmp_path: Path, source: str, url: str, masto_url: str) -> Settings:
    s = Settings()
    s.store.url = f"sqlite:///{tmp_path / 'metrics.db'}"
    s.web.base_url = PUBLIC_URL
    s.scheduler.jitter = 0
    s.sources = [SourceConfig(source, "testjson", url, interval=0.3, timeout=2, stale_after=60)]
    w = s.webhooks
    w.allow_hosts = ["127.0.0.1"]
    w.backoff_base, w.backoff_max, w.max_age, w.timeout = 0.05, 0.3, 30.0, 2.0
    s.bot.enabled = True
    s.bot.base_url = masto_url
    s.bot.token = TOKEN
    s.bot.second_language = ""  # one post per item: the count is the number of statuses
    s.bot.budget = 1000
    return s


async def test_metrics_count_requests_polls_deliveries_and_posts(tmp_path: Path, masto: Masto) -> None:
    source = f"metrics-{uuid.uuid4().hex[:8]}"
    n = 2
    async with (
        serve_upstream(Upstream(body=body(n))) as up,
        receiver(bad=refuse) as hooks,
        aiohttp.ClientSession() as client,
    ):
        settings = settings_for(tmp_path, source, up.url, masto.base_url)
        run = await start_app(settings, frozenset({"web", "worker", "deliver", "bot"}))
        try:
            _text, before = await scrape(client, run.url)
            token = await make_key(run.store, ["webhooks"])
            await register(client, run.url, token, hooks.url("/ok"))
            await register(client, run.url, token, hooks.url("/bad"))
            for ident in ("nope-1", "nope-2", "nope-3"):  # three paths, one route template
                async with client.get(f"{run.url}/d/{ident}", headers={"Accept": "application/json"}) as r:
                    assert r.status == 404
            async with client.get(f"{run.url}/api/v1/webhooks", headers=auth(token)) as r:
                assert r.status == 200

            async def delivered_and_posted() -> bool:
                _t, now = await scrape(client, run.url)
                ok = value(now, "travelinfo_webhook_deliveries_total", result="ok")
                posts = value(now, "travelinfo_bot_posts_total", network="mastodon", result="posted")
                base_ok = value(before, "travelinfo_webhook_deliveries_total", result="ok")
                base_posts = value(before, "travelinfo_bot_posts_total", network="mastodon", result="posted")
                if ok > base_ok and posts > base_posts and hooks.seqs("/bad"):
                    return True
                nonlocal n
                n += 1  # a new item each round: the bot and the webhooks act on changes
                up.body = body(n)
                return False

            await wait_until(delivered_and_posted, timeout=60, interval=0.5)
            up.fault = "garbage"  # one payload that does not parse: a failed poll

            async def failed_once() -> bool:
                _t, now = await scrape(client, run.url)
                return value(now, "travelinfo_polls_total", source=source, result="failed") >= 1

            await wait_until(failed_once, timeout=30, interval=0.3)
            up.fault = None

            async def settled() -> bool:
                """The counters agree with what the receivers and Mastodon saw (nothing in flight)."""
                _t, now = await scrape(client, run.url)
                posted = value(now, "travelinfo_bot_posts_total", network="mastodon", result="posted")
                posted -= value(before, "travelinfo_bot_posts_total", network="mastodon", result="posted")
                ok = value(now, "travelinfo_webhook_deliveries_total", result="ok")
                ok -= value(before, "travelinfo_webhook_deliveries_total", result="ok")
                dead = value(now, "travelinfo_webhook_dead_letters_total")
                dead -= value(before, "travelinfo_webhook_dead_letters_total")
                return (
                    value(now, "travelinfo_source_up", source=source, state="ok") == 1  # recovered
                    and posted == len(await masto.statuses())
                    and ok == len(hooks.seqs("/ok"))
                    and dead == len(hooks.seqs("/bad"))
                )

            await wait_until(settled, timeout=30, interval=0.3)
            text, after = await scrape(client, run.url)
        finally:
            await run.stop()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Requests: by route template, never by path; the latency histogram counts each one.
    assert delta("travelinfo_http_requests_total", method="GET", route="/d/{id}", status="404") == 3
    assert not any(name == "travelinfo_http_requests_total" and "nope-1" in str(lab) for name, lab in after)
    assert delta("travelinfo_http_request_duration_seconds_count", method="GET", route="/d/{id}") == 3
    assert delta("travelinfo_http_requests_total", method="POST", route="/api/v1/webhooks", status="201") == 2
    assert delta("travelinfo_http_requests_total", method="GET", route="/api/v1/webhooks", status="200") == 1
    # Polls, parses and applies of this test's source (a name no other test uses).
    ok_polls = value(after, "travelinfo_polls_total", source=source, result="ok")
    parses_ok = value(after, "travelinfo_parses_total", source=source, result="ok")
    assert ok_polls >= 2 and parses_ok >= 2
    assert value(after, "travelinfo_polls_total", source=source, result="failed") >= 1
    assert value(after, "travelinfo_parses_total", source=source, result="error") >= 1
    polls = sum(
        v
        for (name, lab), v in after.items()
        if name == "travelinfo_polls_total" and ("source", source) in lab
    )
    assert value(after, "travelinfo_poll_duration_seconds_count", source=source) == polls
    assert value(after, "travelinfo_parse_skipped_items_total", source=source) == parses_ok  # one per payload
    assert value(after, "travelinfo_parsed_items_total", source=source) >= 2 * parses_ok
    assert value(after, "travelinfo_poll_bytes_total", source=source) >= len(body(2)) * parses_ok
    assert value(after, "travelinfo_store_applies_total", source=source) == parses_ok
    assert value(after, "travelinfo_store_changes_total", source=source) >= n  # each item created once
    # Webhooks: one delivery per event the good receiver got; each refused event dead-lettered.
    assert delta("travelinfo_webhook_deliveries_total", result="ok") == len(hooks.seqs("/ok")) >= 1
    assert delta("travelinfo_webhook_deliveries_total", result="failed") == len(hooks.seqs("/bad")) >= 1
    assert delta("travelinfo_webhook_dead_letters_total") == len(hooks.seqs("/bad"))
    # The bot: its posts are the statuses on the Mastodon server.
    assert delta("travelinfo_bot_posts_total", network="mastodon", result="posted") >= 1
    # Kinds: counters are counters (render_count too), gauges stay gauges.
    kinds = types(text)
    assert kinds["travelinfo_renders"] == "counter"
    assert kinds["travelinfo_http_request_duration_seconds"] == "histogram"
    assert kinds["travelinfo_disruptions"] == kinds["travelinfo_push_subscribers"] == "gauge"
    assert kinds["travelinfo_webpush_sends"] == "counter"
    assert value(after, "travelinfo_source_up", source=source, state="ok") == 1


def test_webpush_counter_is_importable_and_counts() -> None:
    """The Web Push sender counts through `count_webpush`; the series appears on /metrics."""

    def sent() -> float:
        return metrics.REGISTRY.get_sample_value("travelinfo_webpush_sends_total", {"result": "gone"}) or 0.0

    before = sent()
    metrics.count_webpush("gone")
    assert sent() == before + 1
    assert b'travelinfo_webpush_sends_total{result="gone"}' in metrics.exposition()


async def test_hostile_methods_and_paths_do_not_grow_the_label_set(tmp_path: Path) -> None:
    """A client picks the method and the path: neither becomes a label value of its own (the
    HTTP parser refuses unknown methods; the WebDAV ones it knows are counted as OTHER)."""
    s = Settings()
    s.store.url = f"sqlite:///{tmp_path / 'h.db'}"
    from apputil import start_app as start_web

    run = await start_web(s)
    try:
        async with aiohttp.ClientSession() as client:
            for i, method in enumerate(("PROPFIND", "MKCOL", "LOCK", "SEARCH", "REPORT")):
                async with client.request(method, f"{run.url}/nowhere-{i}") as resp:
                    assert resp.status in (404, 405)
            _text, data = await scrape(client, run.url)
    finally:
        await run.stop()
    labels = {dict(lab).get("method") for name, lab in data if name == "travelinfo_http_requests_total"}
    routes = {dict(lab).get("route") for name, lab in data if name == "travelinfo_http_requests_total"}
    assert (
        labels <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"} and "OTHER" in labels
    )
    assert not any(r and "nowhere" in r for r in routes) and "unmatched" in routes
