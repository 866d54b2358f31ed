"""`travelinfo web/run` shutdown: the app's cleanup runs to its end unless it outlasts
SHUTDOWN_WAIT, and then the process says so in one line and exits 1, with no traceback.

Closing 10,000 streams took 4-6 s of CPU on this 2-core machine (bench/push.py), longer than
the 5 s the command once waited: it died of a TimeoutError mid-cleanup, exit code 1, after
every normal SIGTERM under that load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from travelinfo import app as appmod
from travelinfo import cli
from travelinfo.config import Settings


def _with_slow_cleanup(monkeypatch: pytest.MonkeyPatch, seconds: float, done: list[str]) -> None:
    """Apps made by `cli.serve` stop at once (as after a signal) and take `seconds` to clean up."""
    create = appmod.create_app

    def create_app(*args: object, **kwargs: object) -> object:
        app = create(*args, **kwargs)  # type: ignore[arg-type]

        async def slow(app: object) -> AsyncIterator[None]:
            app[appmod.FAILED].set()  # type: ignore[index]  # ends the serve loop, like SIGTERM
            yield
            await asyncio.sleep(seconds)
            done.append("cleaned up")

        app.cleanup_ctx.insert(0, slow)  # the last to exit, as the store's close is
        return app

    monkeypatch.setattr(appmod, "create_app", create_app)


async def _serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cleanup: float, wait: float
) -> tuple[int, list[str]]:
    """`cli.serve`'s exit status with a cleanup of `cleanup` s and a SHUTDOWN_WAIT of `wait` s;
    whether the cleanup finished."""
    done: list[str] = []
    _with_slow_cleanup(monkeypatch, cleanup, done)
    monkeypatch.setattr(cli, "SHUTDOWN_WAIT", wait)
    settings = Settings()
    settings.store.url = f"sqlite:///{tmp_path / 'ti.db'}"
    code = await asyncio.wait_for(cli.serve(settings, frozenset({"web"}), http=False), 10)
    return code, done


async def test_a_slow_cleanup_within_the_wait_runs_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    code, done = await _serve(tmp_path, monkeypatch, cleanup=0.3, wait=5.0)
    assert code == 1  # the FAILED event this test ends the loop with
    assert done == ["cleaned up"]
    assert not [r for r in caplog.records if "still cleaning up" in r.getMessage()]


async def test_a_cleanup_past_the_wait_is_cut_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    code, done = await _serve(tmp_path, monkeypatch, cleanup=30.0, wait=0.3)
    assert code == 1 and done == []
    cut = [r for r in caplog.records if "still cleaning up" in r.getMessage()]
    assert len(cut) == 1 and cut[0].levelname == "ERROR" and cut[0].exc_info is None
    assert "0.3 s" in cut[0].getMessage()
