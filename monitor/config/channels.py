"""``[channels.<name>]``: the channels and their targets (SPEC section 6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.config import check
from monitor.config.errors import ConfigError
from monitor.config.model import DEFAULT_SHORT_ABANDON_S, DEFAULT_TARGETS, ChannelConfig

_CHANNEL_KEYS = ("first_response_target_s", "resolution_target_s", "short_abandon_s")
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def parse_channels(raw: Any) -> tuple[ChannelConfig, ...]:
    """The ``[channels.<name>]`` tables, in file order; a built-in name keeps its default targets."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("channels: expected a table with at least one [channels.<name>] entry")
    out: list[ChannelConfig] = []
    for name, spec in raw.items():
        key = f"channels.{name}"
        if not name or len(name) > 32 or not set(name) <= _NAME_OK:
            raise ConfigError(f"{key}: a channel name is 1..32 of [a-z0-9_-]")
        spec = check.table(key, spec, _CHANNEL_KEYS)
        fr_default, rs_default = DEFAULT_TARGETS.get(name, (None, None))
        values: dict[str, float] = {}
        for ck, default in zip(
            _CHANNEL_KEYS, (fr_default, rs_default, DEFAULT_SHORT_ABANDON_S), strict=True
        ):
            v = spec.get(ck, default)
            if v is None:
                raise ConfigError(f"{key}.{ck}: required for a channel without built-in defaults")
            check.typed(f"{key}.{ck}", v, (int, float))
            if ck == "short_abandon_s":
                if v < 0:
                    raise ConfigError(f"{key}.{ck}: must be 0 or more, got {v!r}")
            else:
                check.positive(f"{key}.{ck}", v)
            values[ck] = v
        out.append(ChannelConfig(name, **values))
    return tuple(out)
