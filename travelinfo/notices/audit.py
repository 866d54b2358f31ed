"""The audit log of operators' notices (records of kind "audit") and `travelinfo audit`."""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from travelinfo.api.keys import ApiKey
from travelinfo.model import format_time, parse_time
from travelinfo.notices.records import AUDIT_KIND as AUDIT_KIND  # re-exported
from travelinfo.notices.records import AuditEntry, audit_entries, put_audit
from travelinfo.runtime.commands import CliError, with_store
from travelinfo.runtime.textsafe import json_line, printable
from travelinfo.store.base import Store


async def record_audit(
    store: Store, key: ApiKey, action: str, rec: dict[str, Any], changes: dict[str, Any], now: datetime
) -> None:
    """Record who changed what: the key sorts by time (microseconds, then a random tie-breaker)."""
    entry_id = f"{int(now.timestamp() * 1_000_000):017d}-{secrets.token_hex(4)}"
    entry = AuditEntry.from_json(
        {
            "entry": entry_id,
            "at": format_time(now),
            "key_id": key.id,
            "key_name": key.name,
            "org": key.org,
            "action": action,
            "notice": rec["id"],
            "revision": rec["revision"],
            "changes": changes,
        }
    )
    await put_audit(store, entry)


async def read_audit(
    store: Store, *, org: str | None = None, since: datetime | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Audit entries in time order, filtered; `limit` keeps the most recent ones."""
    entries = [e.to_json() for e in await audit_entries(store, org)]
    if since is not None:
        entries = [e for e in entries if parse_time(e["at"]) >= since]
    return entries[-limit:] if limit else entries


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def format_entry(e: dict[str, Any]) -> str:
    """One line: when, organisation, action, notice, revision, who, and the field-level diff."""
    changes: dict[str, dict[str, Any]] = e.get("changes") or {}
    if e.get("action") == "create":
        what = ", ".join(f"{path}={_short(c['to'])}" for path, c in changes.items())
    else:
        what = "; ".join(f"{p}: {_short(c['from'])} -> {_short(c['to'])}" for p, c in changes.items())
    return (
        f"{e['at']}  {e.get('org')}  {e.get('action')}  {e.get('notice')}  rev {e.get('revision')}  "
        f"by {e.get('key_name')} (key {e.get('key_id')})  {what}"
    )


def _since(text: str | None) -> datetime | None:
    from travelinfo.config import parse_duration

    if not text:
        return None
    with contextlib.suppress(ValueError):
        return parse_time(text)
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError:
        raise CliError(f"--since: {text!r} is neither an RFC 3339 time nor a duration (24h, 7d)") from None


def cmd_audit(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise CliError("--limit must be 0 (all) or more")
    since = _since(args.since)
    entries = with_store(args, lambda st: read_audit(st, org=args.org, since=since, limit=args.limit or None))
    for e in entries:
        # Notice texts and names come from API clients: escape what would drive the terminal.
        print(json_line(json.dumps(e, ensure_ascii=False)) if args.json else printable(format_entry(e)))
    if not entries:
        print("travelinfo: note: no audit entries match", file=sys.stderr)
    return 0


def add_commands(subparsers: Any) -> None:
    """`travelinfo audit`: who changed which notice, when, and what changed."""
    s = subparsers.add_parser("audit", help="print the audit log of operators' notices, one line per change")
    s.add_argument("--org", help="only this organisation's changes")
    s.add_argument("--since", help="only changes since an RFC 3339 time or a duration ago (24h, 7d)")
    s.add_argument("--limit", type=int, default=100, help="the N most recent entries (default 100, 0: all)")
    s.add_argument("--json", action="store_true", help="print each entry as a JSON line")
    s.set_defaults(func=cmd_audit)
