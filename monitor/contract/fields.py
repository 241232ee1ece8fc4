"""Checked reads of one field of a parsed JSON record (the decoders of ``alerts`` and
``quality``).

Each returns the field as the type it must have, or raises ``ValueError`` naming the field and
what it held, so a reader can skip the record and say why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.domain.stream.timefmt import parse_rfc3339_ms


def text(d: Mapping[str, Any], name: str) -> str:
    value = d.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {value!r}")
    return value


def time_ms(d: Mapping[str, Any], name: str) -> int:
    """An RFC 3339 time, as epoch ms."""
    ms = parse_rfc3339_ms(text(d, name))
    if ms is None:
        raise ValueError(f"{name}: not an RFC 3339 time: {d[name]!r}")
    return ms


def number(d: Mapping[str, Any], name: str) -> float | None:
    """A JSON number (not a boolean) as a float, or None for null or a missing field."""
    value = d.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number or null, got {value!r}")
    return float(value)


def one_of(d: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = text(d, name)
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value
