"""The one secret scrubber: configured secret values never leave the process.

`load_settings` registers every secret it sees (env references, header and param values not on
the allowlist, URL credentials, secret-looking query values, the GTFS static URL's query, the
bot token). `scrub` removes them, raw and URL-encoded, from any text; `ScrubFilter` applies it to
every log record; the health record's `last_error`, error JSON and provenance URLs pass through it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, urlsplit

MASK = "***"
# Shorter values are not credentials and would mangle unrelated text (ports, ids, "on").
MIN_SECRET_LENGTH = 6

# Header and param keys whose literal values are plainly not secret (case-insensitive).
PUBLIC_KEYS = frozenset(
    {
        "format",
        "lang",
        "language",
        "limit",
        "future",  # SL deviations: also list planned deviations
        "accept",
        "accept-language",
        "accept-encoding",
        "user-agent",
        "cache-control",
    }
)
# Query keys that name a credential: refused in configured URLs, dropped by `redact_url`.
SECRET_QUERY_KEY = re.compile(
    r"^(?:key|sig|signature|auth|pwd|passwd|password|secret|token)$"
    r"|(?:api|app|access|subscription|client|secret|private)[-_]?key"
    r"|token|secret|passw|auth|signature|credential",
    re.I,
)

_lock = threading.Lock()
_values: set[str] = set()
_keys: set[str] = set()
_pattern: re.Pattern[str] | None = None


def query_encoded(value: str) -> str:
    """`value` as aiohttp/yarl encodes it in a query string (its error messages show that)."""
    from yarl import URL

    return URL.build(query={"k": value}).raw_query_string[2:]


def is_public_key(key: str) -> bool:
    """Whether a header/param key may carry a literal (non-secret) value."""
    return key.lower() in PUBLIC_KEYS


def is_secret_query_key(key: str) -> bool:
    """Whether a URL query key looks like it carries a credential."""
    return bool(SECRET_QUERY_KEY.search(key)) or key.lower() in {k.lower() for k in _keys}


def register(value: object, key: str | None = None) -> None:
    """Treat `value` (and its URL-encoded forms) as secret; `key` names a secret query param."""
    global _pattern
    forms: set[str] = set()
    if isinstance(value, str) and value:
        forms = {value, quote(value, safe=""), quote_plus(value), quote(value), query_encoded(value)}
        # "Bearer abc..." / "Basic abc...": the credential alone also leaks in messages.
        scheme, _, rest = value.partition(" ")
        if rest and scheme.isalpha():
            forms |= {rest, quote(rest, safe=""), quote_plus(rest)}
    forms = {f for f in forms if len(f) >= MIN_SECRET_LENGTH}
    with _lock:
        if key:
            _keys.add(key)
        if forms - _values:
            _values.update(forms)
            # Longest first, so a value containing another is masked whole.
            alts = sorted(_values, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(v) for v in alts))


def register_url(url: str, *, whole_query: bool = False) -> None:
    """Register a URL's credentials and secret-looking (or, with `whole_query`, all) query values."""
    from urllib.parse import parse_qsl

    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return
    register(password)
    register(username)
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if whole_query or is_secret_query_key(k):
            register(v)


def secret_keys() -> frozenset[str]:
    """Names of params configured as secret (redacted from URLs by `redact_url`)."""
    with _lock:
        return frozenset(_keys)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def scrub_all(values: Iterable[str]) -> list[str]:
    """`scrub` applied to each value."""
    return [scrub(v) for v in values]


class ScrubFilter(logging.Filter):
    """Removes secrets from a record's message, arguments, traceback and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, scrubbed
            message = f"{record.msg} {record.args}"
        record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_log_filter(handlers: Iterable[logging.Handler] | None = None) -> ScrubFilter:
    """Add the scrub filter to `handlers` (default: every handler of the root logger)."""
    flt = ScrubFilter()
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt
