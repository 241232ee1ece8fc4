"""The parameters the domain runs with: integer milliseconds, looked up once, no parsing.

Built from the configuration by the CLI (``domain_params`` in the config module); the domain
never reads the configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelParams:
    first_response_target_ms: int
    resolution_target_ms: int
    short_abandon_ms: int


@dataclass(frozen=True, slots=True)
class Params:
    channels: tuple[str, ...]
    channel_params: dict[str, ChannelParams]
    window_ms: int
    grace_ms: int
    reorder_ms: int
    idle_timeout_ms: int
    max_future_skew_ms: int
    orphan_timeout_ms: int
    reopen_window_ms: int
    max_event_bytes: int
    #: events older than this (wall clock) are dead-lettered as ``bad_timestamp``
    max_event_age_ms: int
