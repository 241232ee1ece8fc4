"""Configuration as the core uses it: integer milliseconds, looked up once, no parsing."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config import Config


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


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

    @classmethod
    def from_config(cls, cfg: Config) -> Params:
        return cls(
            channels=cfg.channel_names,
            channel_params={
                c.name: ChannelParams(
                    _ms(c.first_response_target_s), _ms(c.resolution_target_s), _ms(c.short_abandon_s)
                )
                for c in cfg.channels
            },
            window_ms=cfg.window_s * 1000,
            grace_ms=cfg.grace_s * 1000,
            reorder_ms=(cfg.grace_s if cfg.reorder_s is None else cfg.reorder_s) * 1000,
            idle_timeout_ms=_ms(cfg.idle_timeout_s),
            max_future_skew_ms=cfg.max_future_skew_s * 1000,
            orphan_timeout_ms=cfg.orphan_timeout_s * 1000,
            reopen_window_ms=cfg.reopen_window_s * 1000,
            max_event_bytes=cfg.max_event_bytes,
        )
