"""The normalised disruption (MODEL.md): a typed, immutable value with exact JSON round-trip."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pickle
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from travelinfo.vocab import (
    AFFECTED_TYPES,
    CAUSES,
    CERTAINTIES,
    DIRECTIONS,
    EFFECTS,
    JSON,
    MODES,
    SEVERITIES,
    SEVERITY_RANK,
    SOURCE_TYPES,
    STATUSES,
    ModelError,
    Schedule,
    Texts,
    bbox_of,
    compute_status,
    format_time,
    frozen_texts,
    make_id,
    merge_texts,
    parse_time,
    pick_lang,
    schedules_match,
    utc,
)
from travelinfo.vocab import clean_text as clean_text
from travelinfo.vocab import freeze as _freeze
from travelinfo.vocab import has_unsafe_chars as has_unsafe_chars
from travelinfo.vocab import thaw as thaw

# fmt: off
__all__ = [
    "AFFECTED_TYPES", "CAUSES", "EFFECTS", "JSON", "MODES", "SEVERITIES", "SEVERITY_RANK", "SOURCE_TYPES",
    "STATUSES", "Affected", "Batch", "Disruption", "ModelError", "Period", "Provenance", "Schedule", "Texts",
    "bbox_of", "clean_text", "compute_status", "format_time", "has_unsafe_chars", "make_id", "merge_texts",
    "parse_time", "thaw", "utc",
]
# fmt: on


@dataclass(frozen=True, slots=True)
class Period:
    """One validity period; `end` None when open-ended."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        if self.end is not None:
            object.__setattr__(self, "end", utc(self.end))

    def to_json(self) -> JSON:
        return {
            "start": format_time(self.start),
            "end": format_time(self.end) if self.end else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Period:
        end = data.get("end")
        return cls(parse_time(data["start"]), parse_time(end) if end else None)

    def contains(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


_AFFECTED_FIELDS = ("type", "id", "name", "direction", "gtfs_id", "towards")  # JSON order


@dataclass(frozen=True, slots=True)
class Affected:
    """Something a disruption touches: a route, stop, road, area, vessel..."""

    type: str
    id: str
    name: str | None = None
    direction: str | None = None  # DIRECTIONS, for roads and line sections (docs/model.md)
    # The id in the reference GTFS (`id` itself or mapped), "" when it knows no such id, None unchecked.
    gtfs_id: str | None = None
    towards: str | None = None  # where a line runs in `direction` (SIRI DirectionName, a destination)

    def to_json(self) -> JSON:
        return {name: getattr(self, name) for name in _AFFECTED_FIELDS}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Affected:
        get = data.get
        return cls(
            str(data["type"]), str(data["id"]), get("name"), get("direction"), get("gtfs_id"), get("towards")
        )


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where and when this version was fetched (URL without secrets)."""

    fetched_at: datetime
    url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fetched_at", utc(self.fetched_at))

    def to_json(self) -> JSON:
        return {"fetched_at": format_time(self.fetched_at), "url": self.url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(parse_time(data["fetched_at"]), data.get("url"))


@dataclass(frozen=True, slots=True)
class Disruption:
    """One normalised disruption (see MODEL.md; field names are a public contract)."""

    id: str
    source: str
    source_type: str
    upstream_id: str
    updated_at: datetime
    first_seen: datetime
    last_seen: datetime
    status: str
    modes: tuple[str, ...]
    header: Texts
    version: str | None = None
    cause: str = "UNKNOWN_CAUSE"
    effect: str = "UNKNOWN_EFFECT"
    severity: str = "UNKNOWN_SEVERITY"
    categories: tuple[str, ...] = ()
    periods: tuple[Period, ...] = ()
    description: Texts = field(default_factory=lambda: MappingProxyType({}))
    location_text: Texts = field(default_factory=lambda: MappingProxyType({}))
    url: str | None = None
    geometry: Mapping[str, Any] | None = None
    affected: tuple[Affected, ...] = ()
    related: tuple[str, ...] = ()
    provenance: Provenance | None = None
    # Issue 19 (docs/model.md): recurring validity, how sure the upstream is, limits, delay.
    schedules: tuple[Schedule, ...] = ()
    certainty: str = "unknown"
    restrictions: tuple[Mapping[str, Any], ...] = ()
    delay_minutes: int | None = None
    _text: str | None = field(default=None, init=False, repr=False, compare=False)
    # Set only by parsers/trusted.py, for an item the vet would leave as it is (`replace` resets it).
    _vetted: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("updated_at", "first_seen", "last_seen"):
            set_(self, name, utc(getattr(self, name)))
        for name in ("modes", "categories", "periods", "affected", "related", "schedules"):
            set_(self, name, tuple(getattr(self, name)))
        for name in ("header", "description", "location_text"):
            set_(self, name, frozen_texts(getattr(self, name)))
        if self.geometry is not None:
            set_(self, "geometry", _freeze(self.geometry))
        set_(self, "restrictions", tuple(_freeze(r) for r in self.restrictions))
        self._validate()

    def _validate(self) -> None:
        problems = []
        if not self.id or not self.source or not self.upstream_id:
            problems.append("id, source and upstream_id must be non-empty")
        if self.source_type not in SOURCE_TYPES:
            problems.append(f"source_type {self.source_type!r}")
        if self.status not in STATUSES:
            problems.append(f"status {self.status!r}")
        if not self.modes or any(m not in MODES for m in self.modes):
            problems.append(f"modes {self.modes!r}")
        if self.cause not in CAUSES:
            problems.append(f"cause {self.cause!r}")
        if self.effect not in EFFECTS:
            problems.append(f"effect {self.effect!r}")
        if self.severity not in SEVERITIES:
            problems.append(f"severity {self.severity!r}")
        if not self.header:
            problems.append("header needs at least one language")
        bad = [a.type for a in self.affected if a.type not in AFFECTED_TYPES]
        if bad:
            problems.append(f"affected types {bad!r}")
        directions = (None, *DIRECTIONS)
        if self.certainty not in CERTAINTIES or any(a.direction not in directions for a in self.affected):
            problems.append(f"certainty {self.certainty!r} or a direction")
        if self.delay_minutes is not None and (type(self.delay_minutes) is not int or self.delay_minutes < 0):
            problems.append(f"delay_minutes {self.delay_minutes!r}")
        if problems:
            raise ModelError(f"{self.id or '?'}: " + "; ".join(problems))

    # -- JSON -------------------------------------------------------------------------------
    def to_json(self) -> JSON:
        """The public JSON object (MODEL.md), field order stable."""
        return {
            "id": self.id,
            "source": self.source,
            "source_type": self.source_type,
            "upstream_id": self.upstream_id,
            "version": self.version,
            "updated_at": format_time(self.updated_at),
            "first_seen": format_time(self.first_seen),
            "last_seen": format_time(self.last_seen),
            "status": self.status,
            "modes": list(self.modes),
            "cause": self.cause,
            "effect": self.effect,
            "severity": self.severity,
            "categories": list(self.categories),
            "periods": [p.to_json() for p in self.periods],
            "header": dict(self.header),
            "description": dict(self.description),
            "location_text": dict(self.location_text),
            "url": self.url,
            "geometry": thaw(self.geometry) if self.geometry is not None else None,
            "affected": [a.to_json() for a in self.affected],
            "related": list(self.related),
            "provenance": self.provenance.to_json() if self.provenance else None,
            "schedules": [s.to_json() for s in self.schedules],
            "certainty": self.certainty,
            "restrictions": [thaw(r) for r in self.restrictions],
            "delay_minutes": self.delay_minutes,
        }

    def dumps(self) -> str:
        """Compact JSON text (computed once per object: it is immutable)."""
        if self._text is None:
            # allow_nan=False: a NaN or an infinity that slipped past the parsers' checks fails
            # here, loudly, instead of publishing JSON that strict clients cannot read.
            text = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            object.__setattr__(self, "_text", text)
            return text
        return self._text

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Disruption:
        """Build from the public JSON; raises ModelError on a bad shape."""
        try:
            prov = data.get("provenance")
            return cls(
                id=data["id"],
                source=data["source"],
                source_type=data["source_type"],
                upstream_id=data["upstream_id"],
                version=data.get("version"),
                updated_at=parse_time(data["updated_at"]),
                first_seen=parse_time(data["first_seen"]),
                last_seen=parse_time(data["last_seen"]),
                status=data["status"],
                modes=tuple(data["modes"]),
                cause=data.get("cause", "UNKNOWN_CAUSE"),
                effect=data.get("effect", "UNKNOWN_EFFECT"),
                severity=data.get("severity", "UNKNOWN_SEVERITY"),
                categories=tuple(data.get("categories", ())),
                periods=tuple(Period.from_json(p) for p in data.get("periods", ())),
                header=data["header"],
                description=data.get("description") or {},
                location_text=data.get("location_text") or {},
                url=data.get("url"),
                geometry=data.get("geometry"),
                affected=tuple(Affected.from_json(a) for a in data.get("affected", ())),
                related=tuple(data.get("related", ())),
                provenance=Provenance.from_json(prov) if prov else None,
                schedules=tuple(Schedule.from_json(s) for s in data.get("schedules", ())),
                certainty=data.get("certainty", "unknown"),
                restrictions=tuple(data.get("restrictions", ())),
                delay_minutes=data.get("delay_minutes"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"bad disruption JSON: {exc!r}") from exc

    @classmethod
    def loads(cls, text: str | bytes) -> Disruption:
        return cls.from_json(json.loads(text))

    # -- content ----------------------------------------------------------------------------
    def checksum(self) -> str:
        """Digest of the content, ignoring `first_seen`, `last_seen` and `provenance`."""
        return self._digest((self.version, self.updated_at.timestamp()))

    def content_checksum(self) -> str:
        """The checksum the store compares: also ignores upstream version stamps
        (`updated_at`, `version`), so a re-publication without a real change makes no event."""
        return self._digest(())

    def _digest(self, stamps: tuple[Any, ...]) -> str:
        # A canonical tuple of plain values (texts are sorted by language at construction),
        # pickled and hashed: about four times cheaper than canonical JSON.
        return _digest(
            (
                stamps,
                self.id,
                self.source_type,
                self.status,
                self.modes,
                self.cause,
                self.effect,
                self.severity,
                self.categories,
                [(p.start.timestamp(), p.end.timestamp() if p.end else None) for p in self.periods],
                dict(self.header),
                dict(self.description),
                dict(self.location_text),
                self.url,
                repr(self.geometry),
                [(a.type, a.id, a.name, a.direction, a.gtfs_id, a.towards) for a in self.affected],
                self.related,
                [s.to_json() for s in self.schedules],
                self.certainty,
                repr(self.restrictions),
                self.delay_minutes,
            )
        )

    def replace(self, **changes: Any) -> Disruption:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def text(self, texts: Texts, lang: str) -> tuple[str, str] | None:
        """(key, text) in `lang` (`en` finds `en-GB`), else Swedish, English, then any."""
        return pick_lang(texts, (lang, "sv", "en"))

    @property
    def public_warning(self) -> bool:
        """A public warning (CAP/VMA, or an item marked `public_warning`): it leads pages and feeds."""
        return self.source_type == "cap" or "public_warning" in self.categories

    def active_at(self, at: datetime) -> bool:
        if self.status == "ended":
            return False
        in_period = not self.periods or any(p.contains(at) for p in self.periods)
        return in_period and schedules_match(self.schedules, at)


@dataclass(frozen=True, slots=True)
class Batch:
    """What one fetch of one source yields (ARCHITECTURE.md: the parser seam).

    `complete` marks a full snapshot: items of `source` missing from it end.
    `ended` lists ids the upstream explicitly ended (GTFS-RT `is_deleted`, CAP Cancel,
    NAVTEX CANCEL) without giving their content again. `notes` says what was skipped.
    `skipped` counts items left out because they were invalid (bad geometry, empty id, bad
    number...), `skip_reason` is the first such reason; `kind_mismatch` says the payload is of
    another kind than the source serves (e.g. a GTFS-RT feed of trip updates on an alerts URL):
    the scheduler then holds the snapshot. `kept` lists ids of skipped items: a complete snapshot
    does not end them (a record we could not read is not a record the upstream removed).
    """

    source: str
    fetched_at: datetime
    items: tuple[Disruption, ...]
    complete: bool
    ended: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    skipped: int = 0
    skip_reason: str | None = None
    kind_mismatch: str | None = None
    kept: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fetched_at", utc(self.fetched_at))
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "ended", tuple(self.ended))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "kept", tuple(self.kept))


_PICKLING = threading.local()


def _digest(key: tuple[Any, ...]) -> str:
    """blake2b-128 of `key` pickled without a memo: equal values give equal bytes whatever
    objects they share (a memo writes a string's second use as a back-reference)."""
    state = _PICKLING.__dict__
    if "pickler" not in state:
        state["buf"] = io.BytesIO()
        state["pickler"] = pickle.Pickler(state["buf"], 5)
        state["pickler"].fast = True  # no memo (the key holds no cycles)
    buf = state["buf"]
    buf.seek(0)
    buf.truncate()
    state["pickler"].dump(key)
    return hashlib.blake2b(buf.getvalue(), digest_size=16).hexdigest()
