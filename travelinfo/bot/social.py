"""The small posting interface of the social bot, and its Mastodon implementation (REST API).

Mastodon.py is deliberately not a runtime dependency: one endpoint (`POST /api/v1/statuses`)
over the process's aiohttp session is all the bot needs. Another network (e.g. Bluesky) can be
added later behind the same `SocialNetwork` Protocol.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp

from travelinfo.runtime.backoff import delay as backoff_delay
from travelinfo.runtime.server import retry_after_seconds

log = logging.getLogger(__name__)


class PostError(Exception):
    """A post that did not go through."""


class PostRejected(PostError):
    """The server refused the post (4xx other than 429): retrying would not help."""


class PostUnavailable(PostError):
    """The server stayed unreachable or overloaded after every retry: try again later."""


class SocialNetwork(Protocol):
    """Where the bot posts; `post` returns the new status id."""

    async def post(
        self,
        text: str,
        *,
        in_reply_to: str | None,
        language: str | None,
        visibility: str,
        idempotency_key: str,
    ) -> str: ...


class Mastodon:
    """A Mastodon-compatible server: `POST /api/v1/statuses` with a bearer token.

    Network errors, 5xx and 429 are retried with exponential backoff (honouring
    `Retry-After`); the same `Idempotency-Key` is sent on every attempt so a retry of a
    post that did reach the server returns the first status instead of a second one.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        session: aiohttp.ClientSession,
        *,
        attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 120.0,
        max_wait: float = 900.0,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/statuses"
        self._token = token
        self.session = session
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_wait = max_wait
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep

    def __repr__(self) -> str:  # never print the token
        return f"Mastodon({self.url!r})"

    def _backoff(self, attempt: int) -> float:
        # The one retry law (jitter so retries of several bots spread); `attempt` counts from 0.
        return backoff_delay(attempt + 1, self.backoff_base, self.backoff_max)

    async def post(
        self,
        text: str,
        *,
        in_reply_to: str | None = None,
        language: str | None = None,
        visibility: str = "public",
        idempotency_key: str,
    ) -> str:
        """Post one status and return its id; raise PostRejected or PostUnavailable."""
        body: dict[str, str] = {"status": text, "visibility": visibility}
        if language:
            body["language"] = language
        if in_reply_to:
            body["in_reply_to_id"] = in_reply_to
        headers = {"Authorization": f"Bearer {self._token}", "Idempotency-Key": idempotency_key}
        last = "no attempt"
        for attempt in range(self.attempts):
            wait: float | None = None
            try:
                async with self.session.post(
                    self.url, json=body, headers=headers, timeout=self.timeout
                ) as resp:
                    if resp.status < 300:
                        try:
                            data = await resp.json(content_type=None)
                        except ValueError:
                            data = None  # a cut-off answer: retry; the idempotency key dedupes
                        if isinstance(data, dict) and "id" in data:
                            return str(data["id"])
                        last = f"HTTP {resp.status} without a status id"
                    else:
                        detail = (await resp.text())[:200]
                        last = f"HTTP {resp.status}: {detail}"
                        if resp.status != 429 and resp.status < 500:
                            raise PostRejected(f"{self.url}: {last}")
                        wait = retry_after_seconds(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt == self.attempts - 1:
                break
            delay = self._backoff(attempt) if wait is None else wait
            if delay > self.max_wait:
                raise PostUnavailable(f"{self.url}: {last} (asked to wait {delay:.0f} s)")
            log.info("posting failed (%s); retry %d in %.1f s", last, attempt + 1, delay)
            await self._sleep(delay)
        raise PostUnavailable(f"{self.url}: {last} after {self.attempts} attempts")


class Recorder:
    """A SocialNetwork that only records what would be posted (`travelinfo bot --dry-run`)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str | None]] = []
        # Made-up ids must not collide with ids of earlier (dry or real) runs in the store.
        self.prefix = f"dry-{uuid.uuid4().hex[:6]}-"

    async def post(
        self,
        text: str,
        *,
        in_reply_to: str | None = None,
        language: str | None = None,
        visibility: str = "public",
        idempotency_key: str,
    ) -> str:
        """Record the post and return a made-up id (`dry-<random>-1`, `-2`, ...)."""
        status_id = f"{self.prefix}{len(self.posts) + 1}"
        self.posts.append(
            {
                "id": status_id,
                "text": text,
                "in_reply_to": in_reply_to,
                "language": language,
                "visibility": visibility,
                "key": idempotency_key,
            }
        )
        return status_id
