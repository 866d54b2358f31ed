"""One retry law: every retrying part takes its delays from `travelinfo.runtime.backoff.delay`."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from travelinfo.bot.social import Mastodon
from travelinfo.config import WebhookSettings
from travelinfo.runtime.backoff import Backoff, delay
from travelinfo.webhooks.breaker import backoff as webhook_backoff
from travelinfo.webhooks.breaker import retry_delay

ROOT = Path(__file__).resolve().parent.parent / "travelinfo"


def _raw(n: int, base: float, cap: float) -> float:
    return min(cap, base * 2.0 ** (n - 1))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 40, 1000])
def test_every_retrying_part_follows_the_one_law(n: int) -> None:
    for _ in range(20):
        d = delay(n, 0.5, 30.0)
        assert _raw(n, 0.5, 30.0) * 0.5 <= d <= _raw(n, 0.5, 30.0) <= 30.0
        assert delay(n, 0.5, 30.0, spread=0.0) == _raw(n, 0.5, 30.0)
        # Webhook receivers and store retries.
        w = WebhookSettings()
        assert _raw(n, w.backoff_base, w.backoff_max) * 0.5 <= webhook_backoff(w, n, None)
        assert webhook_backoff(w, n, None) <= w.backoff_max
        assert _raw(n, 0.5, 30.0) * 0.5 <= retry_delay(n) <= _raw(n, 0.5, 30.0)
        # Background loops (hub, bot, worker, expiry sweep).
        b = Backoff("x", logging.getLogger("test"), base=0.2, cap=5.0, jitter=0.25)
        for _i in range(n if n < 50 else 50):
            got = b.failed(RuntimeError("down"))
        k = min(n, 50)
        assert _raw(k, 0.2, 5.0) * 0.75 <= got <= _raw(k, 0.2, 5.0)
        # Social posting (attempts count from 0).
        m = Mastodon("https://masto.example", "t", None, backoff_base=1.0, backoff_max=120.0)
        assert _raw(n, 1.0, 120.0) * 0.5 <= m._backoff(n - 1) <= _raw(n, 1.0, 120.0)


def test_no_module_grows_its_own_exponential_backoff() -> None:
    # `x * 2 ** n` outside runtime/backoff.py is a second law waiting to drift.
    found = []
    for path in ROOT.rglob("*.py"):
        if path.name == "backoff.py" and path.parent.name == "runtime":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
                base = node.left
                if isinstance(base, ast.Constant) and base.value in (2, 2.0):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], found
