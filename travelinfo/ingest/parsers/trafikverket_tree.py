"""Trafikverket Open API answers (JSON or XML) -> one plain tree; WKT, times and error answers."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from travelinfo.ingest.parsers.base import ParseContext, ParseError, check_size
from travelinfo.ingest.parsers.jsonsafe import load_json
from travelinfo.ingest.parsers.xmlsafe import fromstring, localname
from travelinfo.model import utc

MAX_DEPTH = 32  # the deepest documented object (Situation) is 6 levels; more is hostile
STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Error answers whose SOURCE or MESSAGE says the key was refused.
_AUTH = re.compile(r"security|authenticat|authori[sz]|invalid (?:api)?key|access denied", re.I)
_QUOTA = re.compile(r"quota|rate limit|too many requests|throttl", re.I)


class TrafikverketError(ParseError):
    """An `ERROR` answer of the API; `auth` when the key was refused, `quota` when rate limited."""

    def __init__(self, source: str, message: str) -> None:
        what = f"{source}: {message}" if source else message
        self.source = source
        self.auth = bool(_AUTH.search(source) or _AUTH.search(message))
        self.quota = bool(_QUOTA.search(message) or _QUOTA.search(source))
        kind = "key refused" if self.auth else "quota exceeded" if self.quota else "error answer"
        super().__init__(f"Trafikverket {kind}: {what[:200]}")
        self.message = message

    def __reduce__(self) -> tuple[type[TrafikverketError], tuple[str, str]]:
        # Raised in a parse worker process, it crosses a pipe to the collector intact.
        return type(self), (self.source, self.message)


@dataclass(frozen=True, slots=True)
class Result:
    """One `RESULT` of an answer: its objects by type and its `INFO`."""

    objects: dict[str, list[dict[str, Any]]]
    last_change_id: str | None
    sse_url: str | None


def _xml_tree(elem: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ParseError(f"XML nested deeper than {MAX_DEPTH} levels")
    kids = [c for c in elem if localname(c.tag)]
    if not kids:
        return (elem.text or "").strip()
    grouped: dict[str, list[Any]] = {}
    for child in kids:
        grouped.setdefault(localname(child.tag), []).append(_xml_tree(child, depth + 1))
    # One element is a scalar, repeated elements a list: the same shapes as the JSON answers.
    return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}


def mapping(value: Any) -> dict[str, Any]:
    """`value` when it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A field that may be one value or many (XML answers repeat elements, JSON uses arrays)."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def text(obj: dict[str, Any], name: str) -> str:
    """A scalar field as stripped text ('' when absent or not scalar)."""
    value = obj.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value).strip()
    return ""


def flag(obj: dict[str, Any], name: str) -> bool:
    """A boolean field (JSON true, XML `true`)."""
    return text(obj, name).lower() in ("true", "1")


def read_answer(data: bytes, ctx: ParseContext) -> list[Result]:
    """Every `RESULT` of an answer; TrafikverketError for an `ERROR` answer."""
    check_size(data, ctx)
    head = data.lstrip()[:1]
    if not head:
        raise ParseError("empty payload")
    if head == b"<":
        root = fromstring(data, ctx)
        if localname(root.tag) != "RESPONSE":
            raise ParseError(f"not a Trafikverket answer: <{localname(root.tag)}>")
        body = _xml_tree(root)
        results = as_list(body.get("RESULT")) if isinstance(body, dict) else []
    else:
        tree = load_json(data, ctx, MAX_DEPTH)
        resp = tree.get("RESPONSE") if isinstance(tree, dict) else None
        if not isinstance(resp, dict):
            raise ParseError("not a Trafikverket answer: no RESPONSE object")
        results = as_list(resp.get("RESULT"))
    out: list[Result] = []
    for result in results:
        if not isinstance(result, dict):
            continue
        for err in as_list(result.get("ERROR")):
            if isinstance(err, dict):
                raise TrafikverketError(text(err, "SOURCE"), text(err, "MESSAGE") or "no message")
        info = mapping(result.get("INFO"))
        objects = {
            k: [o for o in as_list(v) if isinstance(o, dict)]
            for k, v in result.items()
            if k not in ("INFO", "ERROR") and isinstance(v, dict | list)
        }
        out.append(Result(objects, text(info, "LASTCHANGEID") or None, text(info, "SSEURL") or None))
    return out


def time_of(value: str) -> datetime | None:
    """A Trafikverket time; old answers omit the offset, which then is Swedish local time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=STOCKHOLM)
    return utc(parsed)


_WKT = re.compile(r"^\s*(POINT|LINESTRING|MULTILINESTRING)\s*(?:Z|M|ZM)?\s*(\(.*\))\s*$", re.I | re.S)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s+({_NUMBER})(?:\s+{_NUMBER}){{0,2}}\s*$")
MAX_POINTS = 100_000


def _coords(body: str) -> list[list[float]]:
    inner = body.strip()
    if not (inner.startswith("(") and inner.endswith(")")):
        raise ValueError("missing parentheses")
    pairs = inner[1:-1].split(",")
    if len(pairs) > MAX_POINTS:
        raise ValueError(f"more than {MAX_POINTS} points")
    out: list[list[float]] = []
    for pair in pairs:
        m = _PAIR.match(pair)
        if not m:
            raise ValueError(f"bad coordinate {pair.strip()[:30]!r}")
        lon, lat = float(m.group(1)), float(m.group(2))
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"coordinate out of range {pair.strip()[:30]!r}")
        out.append([lon, lat])
    return out


def wkt(value: str) -> dict[str, Any]:
    """WGS 84 WKT (`POINT (lon lat)`, LINESTRING, MULTILINESTRING) -> GeoJSON; ValueError if bad."""
    m = _WKT.match(value)
    if not m:
        raise ValueError(f"unsupported or malformed WKT {value.strip()[:40]!r}")
    kind, body = m.group(1).upper(), m.group(2)
    if kind == "POINT":
        pts = _coords(body)
        if len(pts) != 1:
            raise ValueError("POINT needs exactly one coordinate")
        return {"type": "Point", "coordinates": pts[0]}
    if kind == "LINESTRING":
        pts = _coords(body)
        if len(pts) < 2:
            raise ValueError("LINESTRING needs two coordinates")
        return {"type": "LineString", "coordinates": pts}
    inner = body.strip()[1:-1]
    parts = re.findall(r"\([^()]*\)", inner)
    if not parts or re.sub(r"\([^()]*\)", "", inner).strip(" ,\n\t"):
        raise ValueError("malformed MULTILINESTRING")
    lines = [_coords(p) for p in parts]
    if any(len(line) < 2 for line in lines):
        raise ValueError("MULTILINESTRING part with fewer than two coordinates")
    return {"type": "MultiLineString", "coordinates": lines}


def geometries(geometry: Any) -> Iterator[str]:
    """Every WGS84 WKT string of a `Geometry` (2022 shape `WGS84`, later `Point`/`Line`.`WGS84`)."""
    for geo in as_list(geometry):
        if not isinstance(geo, dict):
            continue
        for w in as_list(geo.get("WGS84")):
            if isinstance(w, str) and w.strip():
                yield w
        for part in ("Point", "Line"):
            for sub in as_list(geo.get(part)):
                if isinstance(sub, dict):
                    yield from (w for w in as_list(sub.get("WGS84")) if isinstance(w, str) and w.strip())


def geometry_of(objs: Iterable[dict[str, Any]], label: str, notes: list[str]) -> dict[str, Any] | None:
    """Every WGS84 WKT of the objects' `Geometry` as one GeoJSON geometry; bad WKT noted."""
    shapes: list[dict[str, Any]] = []
    for obj in objs:
        for w in geometries(obj.get("Geometry")):
            try:
                shape = wkt(w)
            except ValueError as exc:
                notes.append(f"{label}: geometry dropped: {exc}")
                continue
            if shape not in shapes:
                shapes.append(shape)
    if not shapes:
        return None
    if len(shapes) == 1:
        return shapes[0]
    return {"type": "GeometryCollection", "geometries": shapes}


def content_id(obj: dict[str, Any]) -> str:
    """A stable id from an object's content (for objects the answer gives no id)."""
    digest = hashlib.blake2b(repr(sorted(obj.items())).encode(), digest_size=8).hexdigest()
    return f"content-{digest}"
