"""``[channels.<name>]``: the channels, their targets and their queues (SPEC sections 6 and 9)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from monitor.config import check
from monitor.config.errors import ConfigError
from monitor.config.model import (
    DEFAULT_MAX_QUEUES,
    DEFAULT_QUEUE,
    DEFAULT_SHORT_ABANDON_S,
    DEFAULT_TARGETS,
    OTHER_QUEUE,
    ChannelConfig,
    QueueConfig,
)

_TARGET_KEYS = ("first_response_target_s", "resolution_target_s", "short_abandon_s")
_CHANNEL_KEYS = (*_TARGET_KEYS, "default_queue", "queues")
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
#: a queue name is a label value and part of record keys (``channel/queue``) and changelog keys
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def parse_channels(raw: Any, max_queues: int = DEFAULT_MAX_QUEUES) -> tuple[ChannelConfig, ...]:
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
        values = _targets(key, spec, (fr_default, rs_default, DEFAULT_SHORT_ABANDON_S),
                          "required for a channel without built-in defaults")
        default_queue = _queue_name(f"{key}.default_queue", spec.get("default_queue", DEFAULT_QUEUE))
        queues = _queues(key, spec.get("queues"), values, default_queue, max_queues)
        out.append(ChannelConfig(name, *values, default_queue=default_queue, queues=queues))
    return tuple(out)


def _targets(key: str, spec: Mapping[str, Any], defaults: tuple[float | None, ...],
             missing: str) -> tuple[float, float, float]:
    """``first_response_target_s``, ``resolution_target_s``, ``short_abandon_s`` of a table."""
    values: list[float] = []
    for ck, default in zip(_TARGET_KEYS, defaults, strict=True):
        v = spec.get(ck, default)
        if v is None:
            raise ConfigError(f"{key}.{ck}: {missing}")
        check.typed(f"{key}.{ck}", v, (int, float))
        if ck == "short_abandon_s":
            if v < 0:
                raise ConfigError(f"{key}.{ck}: must be 0 or more, got {v!r}")
        else:
            check.positive(f"{key}.{ck}", v)
        values.append(v)
    return values[0], values[1], values[2]


def _queue_name(key: str, name: Any) -> str:
    if not isinstance(name, str) or not _QUEUE_NAME.match(name):
        raise ConfigError(f"{key}: a queue name is 1..64 of [A-Za-z0-9_.-], starting with a "
                          f"letter or digit, got {name!r}")
    if name == OTHER_QUEUE:
        raise ConfigError(f"{key}: {OTHER_QUEUE!r} is reserved for the queues a channel does "
                          "not declare")
    return name


def _queues(key: str, raw: Any, channel: tuple[float, float, float], default_queue: str,
            max_queues: int) -> tuple[QueueConfig, ...]:
    """``[channels.<c>.queues.<q>]``: each queue's targets (the channel's unless overridden).
    The default queue is a queue of the channel even when only others are declared."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}.queues: expected a table of [{key}.queues.<name>] tables")
    out: list[QueueConfig] = []
    for name, spec in raw.items():
        qkey = f"{key}.queues.{name}"
        _queue_name(qkey, name)
        spec = check.table(qkey, {} if spec is None else spec, _TARGET_KEYS)
        out.append(QueueConfig(name, *_targets(qkey, spec, channel, "")))
    if out and default_queue not in {q.name for q in out}:
        out.insert(0, QueueConfig(default_queue, *channel))
    if len(out) > max_queues:
        raise ConfigError(f"{key}.queues: {len(out)} queues (the default queue included), more "
                          f"than max_queues ({max_queues})")
    return tuple(out)
