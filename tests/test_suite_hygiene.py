"""The suite waits on conditions, not on the clock: no sleep over 0.1 s unless the test is about time.

A fixed wait is either too short on a loaded 2-core machine (a flaky test) or longer than needed
everywhere else (a slow suite). tests/waiting.py polls a condition instead. A sleep that *is*
the subject (a TTL, a slow upstream, a breaker's cool-down) says so with "about time" in a
comment on its line or the line above, as the existing ones do.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
LIMIT_S = 0.1

# `sleep(2)`, `asyncio.sleep(0.5)`, `time.sleep(1e-1)` (also inside code strings run by a child
# process), and Playwright's `wait_for_timeout(500)`, which counts in milliseconds.
SLEEP = re.compile(r"\bsleep\(\s*([0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?)\s*[,)]")
WAIT_MS = re.compile(r"\bwait_for_timeout\(\s*([0-9][0-9_]*(?:\.[0-9_]*)?)\s*[,)]")
EXCUSE = "about time"


def long_sleeps(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every literal wait over LIMIT_S without an "about time" comment."""
    lines = text.splitlines()
    found = []
    for n, line in enumerate(lines):
        seconds = [float(m.group(1).replace("_", "")) for m in SLEEP.finditer(line)]
        seconds += [float(m.group(1).replace("_", "")) / 1000 for m in WAIT_MS.finditer(line)]
        if not any(s > LIMIT_S for s in seconds):
            continue
        above = lines[n - 1] if n else ""
        if EXCUSE in line.lower() or (above.lstrip().startswith("#") and EXCUSE in above.lower()):
            continue
        found.append((n + 1, line.strip()))
    return found


def test_no_sleep_over_a_tenth_of_a_second_unless_about_time() -> None:
    # This file is left out: its own examples below are the sleeps it catches.
    own = Path(__file__).resolve()
    files = sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts and p != own)
    assert len(files) > 50, "the scan found the test files"
    bad = [
        f"{path.relative_to(TESTS)}:{n}: {line}"
        for path in files
        for n, line in long_sleeps(path.read_text(encoding="utf-8"))
    ]
    assert not bad, "wait on a condition (tests/waiting.py) or say the test is about time:\n" + "\n".join(bad)


def test_the_scan_catches_what_it_should_and_only_that() -> None:
    source = "\n".join(
        [
            "await asyncio.sleep(0.5)",  # 2: caught
            "time.sleep(2)",  # 3: caught
            "await page.wait_for_timeout(500)",  # 4: caught (ms)
            "code = 'import time; time.sleep(1.5)'",  # 5: caught inside a child's code
            "await asyncio.sleep(0.1)",  # at the limit: allowed
            "await asyncio.sleep(0.05)",
            "await page.wait_for_timeout(100)",
            "await asyncio.sleep(interval)",  # not a literal: the helper decides
            "time.sleep(1)  # about time: one TTL",
            "# A test about time: the breaker's cool-down.",
            "await asyncio.sleep(0.4)",
            "x = 1  # about time",
            "await asyncio.sleep(3)",  # 14: the comment above is not on a comment line
        ]
    )
    assert [n for n, _ in long_sleeps("\n" + source)] == [2, 3, 4, 5, 14]
