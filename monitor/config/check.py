"""The checks every table of the configuration shares, each raising ``ConfigError`` with the key.

A table's parser is a list of these calls, one per key, so a new table adds its keys and
nothing else; the messages read the same in every table.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from monitor.config.errors import ConfigError


def table(key: str, raw: Any, known: Collection[str], *,
          header: bool = False) -> Mapping[str, Any]:
    """``raw`` as a table with only ``known`` keys (the first unknown one, sorted, is named).
    ``header``: the message shows the TOML header, ``[key]``, for a top-level table."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a table" + (f" ([{key}])" if header else ""))
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}: unknown key")
    return raw


def typed(key: str, value: Any, types: tuple[type, ...]) -> Any:
    """``value`` if it is one of ``types`` (a bool is never a number)."""
    if isinstance(value, bool) or not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types)
        raise ConfigError(f"{key}: expected {names}, got {type(value).__name__} {value!r}")
    return value


def integer(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value!r}")
    return value


def number(key: str, value: Any) -> float:
    """A finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    return float(value)


def positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, got {value!r}")


def non_empty(key: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value
