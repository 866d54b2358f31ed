"""Shared test fixtures: the real-world corpus, fixed clocks, fixtures folder."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

# Isolate the suite from the caller's environment: REDIS_URL (exported by .ci/run) or a
# developer's TRAVELINFO_* settings would otherwise override the stores and settings that tests
# choose. The Redis the tests use is kept aside for tests/storeutil.py.
os.environ.setdefault("TRAVELINFO_TEST_REDIS", os.environ.pop("REDIS_URL", "") or "redis://127.0.0.1:6379/0")
for _name in [n for n in os.environ if n.startswith("TRAVELINFO_") and n != "TRAVELINFO_TEST_REDIS"]:
    del os.environ[_name]
os.environ.pop("PORT", None)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    """The real-world payloads in ../shared/corpus (skipped with a reason when absent)."""
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS} (clone with ../shared beside it)")
    return CORPUS


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that declare a timeout over the suite's default run first, longest first: with
    `pytest -n` (make test) a long test started last keeps one worker busy while others idle."""
    default = float(config.getini("timeout") or 0)

    def declared(item: pytest.Item) -> float:
        mark = item.get_closest_marker("timeout")
        return float(mark.args[0]) if mark is not None and mark.args else default

    items.sort(key=lambda item: -max(declared(item), default))  # stable: the rest keep their order
