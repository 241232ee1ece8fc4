"""The parameters the domain runs with: integer milliseconds, looked up once, no parsing.

Built from the configuration by the CLI (``domain_params`` in the config module); the domain
never reads the configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.domain.stream.queues import ChannelQueues, Queue


@dataclass(frozen=True, slots=True)
class ChannelParams:
    first_response_target_ms: int
    resolution_target_ms: int
    short_abandon_ms: int


@dataclass(frozen=True, slots=True)
class Params:
    """Frozen, but ``queues`` is completed at construction for the channels it leaves out."""

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
    #: the queues of each channel (SPEC 9); a channel left out has one queue, ``main``, with
    #: its ``channel_params``
    queues: dict[str, ChannelQueues] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for ch in self.channels:
            if ch not in self.queues:
                cp = self.channel_params[ch]
                self.queues[ch] = ChannelQueues.of(Queue(
                    ch, "main", cp.first_response_target_ms, cp.resolution_target_ms,
                    cp.short_abandon_ms), ())
