"""How much slower this machine runs than the one the suite's CPU-time budgets were set on.

A budget that guards against super-linear work (tests/test_hostile.py: 2 s of this thread's
CPU for inputs at the caps, where a quadratic path takes minutes) only holds on a machine
several times slower if it scales with that machine. `slowdown()` times a fixed mix of
interpreter and libxml2 work in this thread, best of 5, against what the same work took where
the budgets were set. Never below 1 (a faster machine keeps the budget), at most MAX_SLOWDOWN.

REFERENCE_S was derived on 2026-12-04: the work took 0.044 s on that evening's slow VM, where
`bench/datex2_parse.py`'s bare lxml pass over 20 MB took 1.285 s against 0.299 s on the
machine of the morning's CI run (4.3 times), and this suite's hostile-input parses 2.0-3.0 s
against their 2 s budget.
"""

from __future__ import annotations

import functools
import time

from lxml import etree

REFERENCE_S = 0.010
MAX_SLOWDOWN = 8.0
_DOC = b"<r>" + b"".join(b'<e a="%d"><t>text %d</t></e>' % (i, i) for i in range(4_000)) + b"</r>"


def _work() -> float:
    start = time.thread_time()
    root = etree.fromstring(_DOC)
    names = {}
    for elem in root.iter():
        names[elem.tag] = names.get(elem.tag, 0) + len(elem.text or "")
    total = sum(i * i for i in range(150_000))
    assert names and total
    return time.thread_time() - start


@functools.cache
def slowdown() -> float:
    """This machine's slowdown against the reference one (1.0 to MAX_SLOWDOWN), measured once."""
    best = min(_work() for _ in range(5))
    return min(MAX_SLOWDOWN, max(1.0, best / REFERENCE_S))
