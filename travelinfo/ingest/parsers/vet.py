"""The last check every parsed item passes: safe text, http(s) URLs, BCP 47 keys, valid bounded geometry.

`register` applies `vet_batch` to every parser's output, so a parser that forgets a check
still cannot publish a NaN coordinate, a `javascript:` link, a bidi override or an
unreadable language key. What it changes it says in the batch's notes; an item it cannot
repair (an id that is empty or too long once cleaned) is skipped and counted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from travelinfo.geojson_check import check_geometry
from travelinfo.model import Affected, Batch, Disruption, ModelError, clean_text, make_id, merge_texts, thaw

# Documented caps (docs/security.md): beyond them an item is trimmed, with a note.
MAX_POSITIONS = 50_000  # per geometry (a real CAP polygon of Burkina Faso has 16,000)
MAX_TEXT_CHARS = 20_000  # one header/description/location text in one language
MAX_ID_CHARS = 512  # an upstream id (a longer one is not an id: the item is skipped)
MAX_AFFECTED = 2_000  # affected entries per item
MAX_CATEGORIES = 500  # categories per item
MAX_PERIODS = 200  # validity periods per item
MAX_RECORDS = 1_000  # records/blocks/entities one parser merges into one item
MAX_URL_CHARS = 2_048
MAX_NOTES = 50  # notes per batch; the rest are counted in one last note
URL_SCHEMES = ("http", "https")
# Errors an item's own bad content can raise while it is built: they skip that item only.
ITEM_ERRORS = (ValueError, ArithmeticError, LookupError, TypeError)

T = TypeVar("T")


def safe_url(text: str | None) -> str | None:
    """`text` when it is an absolute http(s) URL with a host, else None (javascript:, data:, ...)."""
    if not text:
        return None
    text = text.strip()
    if not text or len(text) > MAX_URL_CHARS or any(c.isspace() or not c.isprintable() for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        return None
    return text


def _alpha(s: str, low: int, high: int) -> bool:
    return low <= len(s) <= high and s.isascii() and s.isalpha()


def _alnum(s: str, low: int, high: int) -> bool:
    return low <= len(s) <= high and s.isascii() and s.isalnum()


_TAGS: dict[str, str | None] = {}


def lang_tag(code: str | None) -> str | None:
    """A well-formed BCP 47 (RFC 5646) tag in canonical case (`en-gb` -> `en-GB`), else None.

    Subtags are checked one by one (no regex): language, up to three extlangs, script,
    region, variants, extensions, private use.
    """
    if not code:
        return None
    if type(code) is not str:
        return _lang_tag(code)
    # Every item repeats its feed's few language keys: each is checked once (bounded memo).
    try:
        return _TAGS[code]
    except KeyError:
        tag = _lang_tag(code)
        if len(_TAGS) < 1024:
            _TAGS[code] = tag
        return tag


def _lang_tag(code: Any) -> str | None:
    code = code.strip()
    if not code or len(code) > 64:
        return None
    parts = code.split("-")
    first = parts[0]
    if first.lower() == "x":
        ok = len(parts) > 1 and all(_alnum(p, 1, 8) for p in parts[1:])
        return code.lower() if ok else None
    if not _alpha(first, 2, 8) or len(first) == 4:
        return None
    out = [first.lower()]
    i = 1
    while i < len(parts) and i <= 3 and len(first) <= 3 and _alpha(parts[i], 3, 3):
        out.append(parts[i].lower())  # extlang
        i += 1
    if i < len(parts) and _alpha(parts[i], 4, 4):
        out.append(parts[i].title())  # script
        i += 1
    if i < len(parts) and (_alpha(parts[i], 2, 2) or (len(parts[i]) == 3 and parts[i].isdigit())):
        out.append(parts[i].upper())  # region
        i += 1
    while i < len(parts) and (
        _alnum(parts[i], 5, 8) or (len(parts[i]) == 4 and parts[i][0].isdigit() and _alnum(parts[i], 4, 4))
    ):
        out.append(parts[i].lower())  # variant
        i += 1
    while i < len(parts) and len(parts[i]) == 1 and _alnum(parts[i], 1, 1):
        singleton = parts[i].lower()
        j = i + 1
        limit = (1, 8) if singleton == "x" else (2, 8)
        while j < len(parts) and len(parts[j]) > 1 - (singleton == "x") and _alnum(parts[j], *limit):
            j += 1
        if j == i + 1:
            return None  # a singleton needs at least one subtag
        out += [singleton, *(p.lower() for p in parts[i + 1 : j])]
        i = j
        if singleton == "x":
            break
    return "-".join(out) if i == len(parts) else None


def _cut(text: str) -> str:
    text = clean_text(text)
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


class _Vet:
    """Checks one batch's items against the rules above, collecting notes and skips."""

    def __init__(self, default_lang: str) -> None:
        self.default_lang = lang_tag(default_lang) or "en"
        self.notes: list[str] = []
        self.skipped = 0
        self.skip_reason: str | None = None
        self.kept: list[str] = []

    def texts(self, texts: Mapping[str, str], ident: str) -> dict[str, str]:
        parts: list[dict[str, str]] = []
        as_is = True  # canonical keys, clean stripped texts: merging would give them back unchanged
        for key, value in texts.items():
            tag = lang_tag(key)
            if tag is None:
                self.notes.append(
                    f"{ident}: language {clean_text(key)[:20]!r} is not BCP 47: filed as {self.default_lang}"
                )
                tag = self.default_lang
            cut = _cut(value)
            as_is = as_is and tag == key and cut == value and bool(cut) and cut.strip() == cut
            parts.append({tag: cut})
        return dict(texts) if as_is else merge_texts(parts)

    def geometry(self, geometry: Any, ident: str) -> tuple[bool, dict[str, Any] | None]:
        """(changed, geometry): thinned when over MAX_POSITIONS, dropped when invalid."""
        if geometry is None:
            return False, None
        count = count_positions(geometry)
        changed = count > MAX_POSITIONS
        if changed:
            geometry = thin(thaw(geometry), math.ceil(count / MAX_POSITIONS))
            self.notes.append(f"{ident}: geometry of {count} positions thinned to at most {MAX_POSITIONS}")
        try:
            check_geometry(geometry, MAX_POSITIONS)  # reads the frozen form as it is
        except ValueError as exc:
            self.notes.append(f"{ident}: geometry dropped: {str(exc)[:120]}")
            return True, None
        return changed, geometry

    def item(self, d: Disruption) -> Disruption | None:
        if d._vetted:
            return d  # built by parsers/trusted.py, which ran `is_clean` on it
        upstream = clean_text(d.upstream_id).strip()
        ident = upstream[:60]
        if not upstream or len(upstream) > MAX_ID_CHARS:
            self.skip(f"item {ident!r}: id empty or longer than {MAX_ID_CHARS} characters")
            return None
        changes: dict[str, Any] = {}
        if upstream != d.upstream_id:
            changes.update(upstream_id=upstream, id=make_id(clean_text(d.source), upstream))
        for name in ("header", "description", "location_text"):
            value = self.texts(getattr(d, name), ident)
            if value != dict(getattr(d, name)):
                changes[name] = value
        url = safe_url(d.url)
        if d.url and url is None:
            self.notes.append(f"{ident}: link {clean_text(d.url)[:40]!r} is not an http(s) URL: dropped")
        if url != d.url:
            changes["url"] = url
        changed, geometry = self.geometry(d.geometry, ident)
        if changed:
            changes["geometry"] = geometry
        self.lists(d, changes, ident)
        if not changes:
            return d
        try:
            return d.replace(**changes)
        except ModelError as exc:
            self.skip(f"item {ident!r}: {str(exc)[:120]}", keep=d.id)
            return None

    def lists(self, d: Disruption, changes: dict[str, Any], ident: str) -> None:
        affected = [_affected(a) for a in d.affected[:MAX_AFFECTED]]
        if affected != list(d.affected):
            changes["affected"] = tuple(affected)
        for name, cap in (("categories", MAX_CATEGORIES), ("related", MAX_CATEGORIES)):
            values = tuple(_cut(v) for v in getattr(d, name)[:cap])
            if values != getattr(d, name):
                changes[name] = values
        if len(d.periods) > MAX_PERIODS:
            changes["periods"] = d.periods[:MAX_PERIODS]
        if d.version is not None and clean_text(d.version) != d.version:
            changes["version"] = clean_text(d.version)
        caps = (("affected", MAX_AFFECTED), ("categories", MAX_CATEGORIES), ("periods", MAX_PERIODS))
        for name, cap in caps:
            if len(getattr(d, name)) > cap:
                self.notes.append(f"{ident}: {len(getattr(d, name))} {name} cut to {cap}")

    def skip(self, reason: str, keep: str | None = None) -> None:
        if keep:
            self.kept.append(keep)
        self.skipped += 1
        if self.skip_reason is None:
            self.skip_reason = reason
        self.notes.append(f"skipped {reason}")


def is_clean(d: Disruption) -> bool:
    """True when `_Vet.item` would return `d` itself and note nothing (parsers/trusted.py's test)."""
    up = d.upstream_id
    if not up or len(up) > MAX_ID_CHARS or clean_text(up).strip() != up:
        return False
    for texts in (d.header, d.description, d.location_text):
        for key, value in texts.items():
            if lang_tag(key) != key or not value or len(value) > MAX_TEXT_CHARS:
                return False
            if clean_text(value) != value or value.strip() != value:
                return False
    if d.url is not None and safe_url(d.url) != d.url:
        return False
    if d.geometry is not None and not _fine_point(d.geometry):
        if count_positions(d.geometry) > MAX_POSITIONS:
            return False
        try:
            check_geometry(d.geometry, MAX_POSITIONS)
        except ValueError:
            return False
    if len(d.affected) > MAX_AFFECTED or any(_affected(a) is not a for a in d.affected):
        return False
    for values in (d.categories, d.related):
        if len(values) > MAX_CATEGORIES or any(_cut(v) != v for v in values):
            return False
    return len(d.periods) <= MAX_PERIODS and (d.version is None or clean_text(d.version) == d.version)


def float_point(g: Any, mapping: type[Any], sequence: type[Any]) -> Any:
    """The coordinates of `g` when it is exactly a `mapping` {"type": "Point", "coordinates"} whose
    coordinates are a `sequence` of two floats (most DATEX places), else None. No ranges checked."""
    if type(g) is not mapping or len(g) != 2 or g.get("type") != "Point":
        return None
    c = g.get("coordinates")
    if type(c) is not sequence or len(c) != 2 or type(c[0]) is not float or type(c[1]) is not float:
        return None
    return c


def _fine_point(g: Any) -> bool:
    """A frozen Point `check_geometry` accepts, tested without its walk (most DATEX places)."""
    c = float_point(g, MappingProxyType, tuple)
    return c is not None and -180 <= c[0] <= 180 and -90 <= c[1] <= 90  # NaN, infinities: out


def _affected(a: Affected) -> Affected:
    ident = clean_text(a.id)
    name = None if a.name is None else clean_text(a.name)
    towards = None if a.towards is None else _cut(clean_text(a.towards))
    if ident == a.id and name == a.name and towards == a.towards:
        return a  # nothing to clean: no copy (per entry of every item)
    return dataclasses.replace(a, id=ident, name=name, towards=towards)


def vet_batch(batch: Batch, default_lang: str = "en") -> Batch:
    """`batch` with every item checked and repaired or skipped (see the module docstring)."""
    vet = _Vet(default_lang)
    items = [d for d in (vet.item(d) for d in batch.items) if d is not None]
    notes = [clean_text(n) for n in (*batch.notes, *vet.notes)]
    if len(notes) > MAX_NOTES:
        notes = [*notes[: MAX_NOTES - 1], f"... and {len(notes) - MAX_NOTES + 1} more notes"]
    return dataclasses.replace(
        batch,
        items=tuple(items),
        ended=tuple(e for e in batch.ended if e and len(e) <= MAX_ID_CHARS + 200),
        notes=tuple(notes),
        skipped=batch.skipped + vet.skipped,
        skip_reason=batch.skip_reason or vet.skip_reason,
        kept=tuple(dict.fromkeys((*batch.kept, *vet.kept))),
    )


def count_positions(geometry: Any) -> int:
    """How many positions a (plain) GeoJSON geometry holds; 0 for anything unreadable."""
    if not isinstance(geometry, dict | MappingProxyType) and not isinstance(geometry, Mapping):
        return 0
    if geometry.get("type") == "GeometryCollection":
        parts = geometry.get("geometries")
        return sum(count_positions(g) for g in parts) if isinstance(parts, list | tuple) else 0

    def walk(c: Any) -> int:
        if not isinstance(c, list | tuple) or not c:
            return 0
        if not isinstance(c[0], list | tuple):
            return 1
        if not isinstance(c[0][0], list | tuple):
            return len(c)  # a list of positions: no need to visit each
        return sum(walk(x) for x in c)

    return walk(geometry.get("coordinates"))


def thin(geometry: Any, step: int) -> Any:
    """Keep every `step`-th position of each line and ring (ends and ring closure kept)."""
    if not isinstance(geometry, dict):
        return geometry
    if geometry.get("type") == "GeometryCollection":
        return {**geometry, "geometries": [thin(g, step) for g in geometry.get("geometries") or []]}

    def walk(c: Any) -> Any:
        if not isinstance(c, list) or not c or not isinstance(c[0], list):
            return c
        if isinstance(c[0][0], list):
            return [walk(x) for x in c]
        if len(c) <= 4 * step:
            return c  # short lines and rings stay whole: thinning could break them
        return [*c[:-1:step], c[-1]]

    return {**geometry, "coordinates": walk(geometry.get("coordinates"))}


class Skips:
    """A parser's per-item guard: an item whose content raises is skipped, counted and noted."""

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None
        self.notes: list[str] = []
        self.kept: list[str] = []

    def add(self, reason: str, keep: str | None = None) -> None:
        """Count one skipped item (`keep`: its id, when known, so a snapshot does not end it)."""
        if keep:
            self.kept.append(keep)
        self.count += 1
        if self.first is None:
            self.first = reason
        self.notes.append(f"skipped {reason}")

    def guard(self, what: str, build: Callable[..., T], *args: Any, keep: str | None = None) -> T | None:
        """`build(*args)`, or None (counted, with a note) when the item's content is invalid."""
        try:
            return build(*args)
        except ITEM_ERRORS as exc:
            reason = f"{clean_text(what)[:60]}: {type(exc).__name__}: {clean_text(str(exc))[:120]}"
            self.add(reason, keep)
            return None
