"""Setting fields and durations: a documented dataclass field with its default and help line,
and durations as written (`90`, `15m`, `6h`, `30d`) both ways. `travelinfo.settings` uses them."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import field
from typing import Any


def setting(default: Any, help: str, kind: str | None = None) -> Any:
    """A documented setting (help shown by `check-config --list` and in README); a duration may
    be given as written (`"24h"`), and `--list` then shows it so."""
    meta = {"help": help, "kind": kind}
    if kind == "duration" and isinstance(default, str):
        meta["written"] = default
        default = parse_duration(default)
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like `90`, `15m`, `6h`, `30d`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use seconds or 15m, 6h, 30d)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    factory: Any = f.default_factory
    return factory()


def format_duration(seconds: float) -> str:
    """A duration in the largest unit that divides it (21600 -> `6h`; 0 -> `0`)."""
    unit = next((u for u in ("d", "h", "m") if seconds and seconds % _UNITS[u] == 0), "s")
    return "0" if seconds == 0 else f"{seconds / _UNITS[unit]:g}{unit}"
