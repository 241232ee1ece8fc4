"""The configuration as the domain uses it: integer milliseconds and resolved alert rules.

The domain never reads the configuration; the commands build these once at start-up.
"""

from __future__ import annotations

from monitor.config.alerts import PERIOD_INDICATORS, AlertConfig, multiple
from monitor.config.model import ChannelConfig, Config
from monitor.domain.alerts import Rule
from monitor.domain.quality.params import QualityParams
from monitor.domain.stream.params import ChannelParams, Params
from monitor.domain.stream.queues import ChannelQueues, Queue


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def domain_params(cfg: Config) -> Params:
    """The configuration as the domain uses it (integer milliseconds)."""
    return Params(
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
        max_event_age_ms=cfg.max_event_age_s * 1000,
        queues={c.name: channel_queues(c) for c in cfg.channels},
    )


def channel_queues(c: ChannelConfig) -> ChannelQueues:
    """The queues of one channel as the domain carries them (SPEC 9)."""
    def queue(name: str) -> Queue:
        q = c.queue(name)
        return Queue(c.name, name, _ms(q.first_response_target_s), _ms(q.resolution_target_s),
                     _ms(q.short_abandon_s))
    channel = Queue(c.name, c.default_queue, _ms(c.first_response_target_s),
                    _ms(c.resolution_target_s), _ms(c.short_abandon_s))
    return ChannelQueues.of(channel, (queue(q.name) for q in c.queues))


def quality_params(cfg: Config) -> QualityParams:
    """``[quality]`` as the quality stage runs with it (integer milliseconds; lengths only)."""
    return QualityParams(
        channels=cfg.channel_names,
        window_ms=cfg.window_s * 1000,
        period_ms=cfg.quality.period_s * 1000,
        entropy_periods=cfg.quality.entropy_periods,
        method=cfg.quality.method,
        static_weights=cfg.quality.static_weights(),
    )


def window_rules(cfg: Config) -> dict[tuple[str, str], tuple[Rule, ...]]:
    """The threshold alerts stage two evaluates on each final window, per (channel, queue)
    (queue ``""``: the channel's roll-up), ``"Nx"`` resolved with the queue's target."""
    out: dict[tuple[str, str], tuple[Rule, ...]] = {}
    for c in cfg.channels:
        window = [a for a in cfg.alerts
                  if c.name in a.channels and a.indicator not in PERIOD_INDICATORS]
        out[(c.name, "")] = tuple(rule(a, c.first_response_target_s) for a in window
                                  if not a.queues)
        for q in c.queue_labels:
            target = c.queue(q).first_response_target_s
            out[(c.name, q)] = tuple(rule(a, target) for a in window
                                     if q in a.queues_of(c.queue_labels))
    return out


def channel_window_rules(cfg: Config) -> dict[str, tuple[Rule, ...]]:
    """``window_rules`` of the channels' roll-ups only, by channel."""
    return {ch: rules for (ch, q), rules in window_rules(cfg).items() if not q}


def period_rules(cfg: Config) -> dict[str, tuple[Rule, ...]]:
    """The alerts the quality stage evaluates on each final period (``quality_index``), per
    channel; ``for_windows`` and ``clear_windows`` count periods there."""
    return {c.name: tuple(rule(a, c.first_response_target_s) for a in cfg.alerts
                          if c.name in a.channels and a.indicator in PERIOD_INDICATORS)
            for c in cfg.channels}


def threshold_value(t: float | str | None, first_response_target_s: float) -> float | None:
    """A threshold in the indicator's unit: ``"Nx"`` is N times ``first_response_target_s``
    (the channel's, or the queue's for a queue alert)."""
    n = multiple(t)
    if n is not None:
        return n * first_response_target_s
    assert not isinstance(t, str)
    return t


def rule(a: AlertConfig, first_response_target_s: float) -> Rule:
    """One ``[[alerts]]`` entry as the domain evaluates it for a channel or queue."""
    return Rule(a.indicator, a.op, threshold_value(a.warning, first_response_target_s),
                threshold_value(a.critical, first_response_target_s), a.for_windows,
                a.clear_windows, a.min_volume)
