"""Schemathesis hooks for tests/test_openapi_document.py (loaded with SCHEMATHESIS_HOOKS=fuzzhooks).

A schema-valid new webhook gets the URL of the test's local receiver (the outside network,
faked on loopback and allowed by `webhooks.allow_hosts`), so subscriptions are really created
and the stateful phase reads, pings and deletes them; invalid bodies are sent as generated.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

RECEIVER = os.environ.get("TRAVELINFO_FUZZ_RECEIVER", "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if not (RECEIVER and positive and case.operation.definition.raw.get("operationId") == "createWebhook"):
        return
    for key in ("json",):
        body = kwargs.get(key)
        if isinstance(body, dict) and "url" in body:
            body["url"] = RECEIVER
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = RECEIVER


LOG = os.environ.get("TRAVELINFO_FUZZ_LOG", "")


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Note each status of a write, so the test can tell the writes really happened."""
    op_id = case.operation.definition.raw.get("operationId", "")
    if LOG and case.operation.method.upper() in ("POST", "PATCH", "DELETE"):
        with open(LOG, "a", encoding="utf-8") as out:
            out.write(f"{op_id} {response.status_code}\n")
