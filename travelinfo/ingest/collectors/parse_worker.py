"""The worker side of the parse pool: serve parse requests over a pipe (no aiohttp here).

Kept apart from `parse_pool` so the fork server preloads only the parsers: each worker is a
cheap fork of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import signal
import traceback
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import Any

from travelinfo.ingest.parsers.base import ParseError


def _mappingproxy(d: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(d)


def _reduce_mappingproxy(m: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _mappingproxy, (dict(m),)


# The model freezes texts and geometry as read-only mappings; only the pipe needs to carry them.
ForkingPickler.register(MappingProxyType, _reduce_mappingproxy)


def _pickles(exc: BaseException) -> bool:
    try:
        pickle.loads(ForkingPickler.dumps(exc))  # noqa: S301 - our own bytes, in our own process
    except Exception:
        return False
    return True


# -- the worker process ---------------------------------------------------------------------


def worker_main(conn: Connection) -> None:
    """Serve parse requests until the pipe closes (runs in the worker process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent shuts workers down
    with contextlib.suppress(OSError):
        os.nice(10)  # parsing is batch work: the web side's latency comes first
    reference: Any = None
    parsers: dict[int, Any] = {}
    conn.send(("ready",))  # the parent starts a payload's clock only once the worker is up
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "reference":
            reference = msg[1]
            continue
        if msg[0] == "parser":  # unpickling it imports its module: done before any clock runs
            parsers[msg[1]] = msg[2]
            conn.send(("loaded",))
            continue
        _kind, key, data, ctx = msg
        parser = parsers[key]
        try:
            reply: tuple[Any, ...] = ("ok", parser(data, dataclasses.replace(ctx, reference=reference)))
        except ParseError as exc:
            # A subclass (e.g. an API's error answer) keeps its type and fields when it pickles.
            reply = (
                ("parse_error", str(exc))
                if type(exc) is ParseError or not _pickles(exc)
                else ("error", exc, "")
            )
        except Exception as exc:  # a parser bug: hand it to the parent, which logs it
            reply = ("error", exc, traceback.format_exc())
        try:
            conn.send(reply)  # pickles fully before writing: a failure sends nothing
        except Exception as exc:
            conn.send(("error", RuntimeError(f"unpicklable parse result: {exc!r}"), ""))
