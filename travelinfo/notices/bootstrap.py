"""Bootstrap API keys (`[api] bootstrap_keys`): created on first start, token logged once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from travelinfo.api import keys
from travelinfo.model import format_time
from travelinfo.store.base import Store

log = logging.getLogger("travelinfo.notices.bootstrap")

# One guard record per bootstrap name: several `web` processes starting together on one
# Redis store must not each create (and print) a key.
GUARD_KIND = "bootstrap_key"


def check_entry(i: int, entry: Any) -> list[str]:
    """Problems with one configured entry, one line each (empty when it is usable)."""
    where = f"api.bootstrap_keys[{i}]"
    if not isinstance(entry, Mapping):
        return [f"{where}: must be a table {{ name, org, scopes }}"]
    problems = []
    unknown = sorted(set(entry) - {"name", "org", "scopes"})
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    if not isinstance(entry.get("name"), str) or not entry["name"].strip():
        problems.append(f"{where}.name: required (a non-empty string)")
    org = entry.get("org")
    if org is not None and (not isinstance(org, str) or not org.strip()):
        problems.append(f"{where}.org: must be a non-empty string")
    scopes = entry.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        problems.append(f"{where}.scopes: required (a non-empty list of {', '.join(keys.SCOPES)})")
    elif bad := [s for s in scopes if s not in keys.SCOPES]:
        problems.append(f"{where}.scopes: unknown scope(s) {', '.join(bad)}")
    return problems


def check_entries(entries: Sequence[Any]) -> list[str]:
    """Problems with every configured entry (for `check-config`)."""
    return [p for i, entry in enumerate(entries) for p in check_entry(i, entry)]


async def ensure_keys(store: Store, entries: Sequence[Any]) -> list[tuple[keys.ApiKey, str]]:
    """Create each configured key whose name no key has yet; returns (key, token) of those created.

    A key that exists under that name (even revoked) counts: revoking a bootstrap key is
    not undone by a restart. Bad entries are logged and skipped, the service still starts.
    """
    existing = {k.name for k in await keys.list_keys(store)}
    created = []
    for i, entry in enumerate(entries):
        problems = check_entry(i, entry)
        for problem in problems:
            log.error("bootstrap key skipped: %s", problem)
        if problems or entry["name"] in existing:
            continue
        name = entry["name"]
        guard = {"name": name, "at": format_time(datetime.now(UTC))}
        if not await store.add_record_if_absent(GUARD_KIND, name, guard):
            continue  # another process created it (or is creating it) right now
        key, token = await keys.create_key(store, name, list(entry["scopes"]), entry.get("org"))
        existing.add(name)
        created.append((key, token))
        log.warning(token_banner(key, token))
    return created


def token_banner(key: keys.ApiKey, token: str) -> str:
    """The framed block that announces a new key's token: it must not scroll past unseen."""
    rule = "=" * 76
    return (
        f"created bootstrap API key {key.name!r} (id {key.id}, org {key.org or '-'}, "
        f"scopes {','.join(key.scopes)})\n{rule}\n"
        f"  NEW API KEY {key.name!r}: its token is shown ONCE, here, and never again.\n"
        f"  Store it now (e.g. export TOKEN=...):\n\n      {token}\n\n{rule}"
    )


def cleanup_ctx(store_key: web.AppKey[Store], entries: Sequence[Any]) -> Any:
    """A cleanup_ctx creating the bootstrap keys once the store is open (before serving)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if entries:
            await ensure_keys(app[store_key], entries)
        yield

    return ctx
