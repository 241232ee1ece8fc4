"""Assemble a period ``Report`` (SPEC sections 8 and 9) from the decoded records of the output
topics (``model.Inputs``, from ``read``).

Pure: domain values in, every figure computed by the domain functions (``domain.attainment``,
``domain.review``), so a renderer only lays the numbers out. No Kafka and no byte format here:
``read`` has decoded and deduplicated the records; this keeps those of the reported channels and
range and counts them.

Queues (SPEC 9). The report has a per-queue section only when a reported channel declares
queues (``[channels.<c>.queues.<q>]``), and lists the queues of those channels only: a channel
without declared queues has one queue, its whole traffic, whose rows would repeat the channel's.
Each declared queue is listed (a quiet one with n/a), and ``other`` when it has windows in the
range. A queue is judged by the same functions as a channel: its time targets are its own (the
channel's where the config overrides none); its SLOs and error budgets are those with ``by =
["queue"]`` (such an SLO is the queues', not the channel's); its thresholds are its own
``[[alerts]]`` rule (``queues``) where it has one for the indicator, else the channel's rule,
an ``"Nx"`` threshold resolved with the queue's first-response target: so a queue without rules
of its own is held to the channel's thresholds, which shows which queue pulls the channel down.
Queue alert episodes are listed with their queue and counted in their queue's alert time, never
in the channel's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Final, TypeVar

import msgspec

from monitor.config import Config, channel_window_rules, domain_params
from monitor.config.alerts import PERIOD_INDICATORS, AlertConfig
from monitor.config.model import OTHER_QUEUE
from monitor.config.params import rule
from monitor.contract.quality import ChannelQuality
from monitor.domain.alerts import Rule
from monitor.domain.quality.index import Sums
from monitor.domain.report.attainment import (
    Counts,
    Hour,
    QueueKey,
    Slo,
    attainment,
    distinct,
    error_budget,
    period_sums,
    queue_attainment,
    queue_error_budget,
    queue_sums,
    queue_targets,
    targets,
    worst_hours,
)
from monitor.domain.report.review import (
    alert_time_by_channel,
    alert_time_by_queue,
    episodes,
    gaps,
    quality_trend,
    spread,
    what_to_look_at,
)
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.params import ChannelParams, Params
from monitor.report.model import Inputs, Report, Window

T = TypeVar("T")

#: worst hours listed overall, then for each channel
WORST_HOURS: Final = 5
#: an hour with fewer offered contacts is not a "worst hour" (the alerts' default ``min_volume``)
WORST_HOUR_MIN_VOLUME: Final = 10


# --- assembling ----------------------------------------------------------------------------


def report_channels(cfg: Config, channels: Iterable[str]) -> tuple[str, ...]:
    """The channels to report, in config order; none given: every configured channel."""
    wanted = set(channels)
    return tuple(ch for ch in cfg.channel_names if not wanted or ch in wanted)


def _slos(cfg: Config, channels: Sequence[str]) -> list[Slo]:
    """The SLOs per channel; one with ``by = ["queue"]`` is per queue instead (``_queue_slos``)."""
    return [Slo(s.name, s.indicator, ch, s.objective)
            for s in cfg.slos if not s.by for ch in s.channels if ch in channels]


# --- queues (SPEC 9) -----------------------------------------------------------------------


def report_queues(cfg: Config, channels: Sequence[str],
                  windows: Sequence[Indicators]) -> dict[str, tuple[str, ...]]:
    """The queues listed per reported channel that declares queues (module docstring): its
    declared queues in config order, then ``other`` when ``windows`` (the range's queue
    records) have one of it."""
    used = {(w.channel, w.queue) for w in windows}
    out: dict[str, tuple[str, ...]] = {}
    for ch in channels:
        c = cfg.channel(ch)
        if c.queues:
            out[ch] = tuple(q for q in c.queue_labels
                            if q != OTHER_QUEUE or (ch, OTHER_QUEUE) in used)
    return out


def _keys(queues: Mapping[str, Sequence[str]]) -> list[QueueKey]:
    return [(ch, q) for ch, names in queues.items() for q in names]


def queue_rules(cfg: Config, queues: Mapping[str, Sequence[str]]) -> dict[QueueKey, tuple[Rule, ...]]:
    """Per listed queue, the threshold rules it is judged by, in config order: its own rule of an
    indicator (``[[alerts]] queues``) where it has one, else the channel's rule of it, with
    ``"Nx"`` resolved with the queue's first-response target."""
    out: dict[QueueKey, tuple[Rule, ...]] = {}
    for ch, q in _keys(queues):
        c = cfg.channel(ch)
        window = [a for a in cfg.alerts if ch in a.channels and a.indicator not in PERIOD_INDICATORS]
        own = {a.indicator for a in window if q in a.queues_of(c.queue_labels)}
        target = c.queue(q).first_response_target_s
        out[(ch, q)] = tuple(rule(a, target) for a in window
                             if _judges(a, q, c.queue_labels, own))
    return out


def _judges(a: AlertConfig, queue: str, labels: Sequence[str], own: AbstractSet[str]) -> bool:
    """Whether rule ``a`` judges ``queue``: a queue rule that names it, or a channel rule of an
    indicator the queue has no rule of its own for (``own``)."""
    if a.queues:
        return queue in a.queues_of(labels)
    return a.indicator not in own


def _queue_params(params: Params, queues: Mapping[str, Sequence[str]]) -> dict[QueueKey, ChannelParams]:
    """Each listed queue's own targets (``Params.queues``: the channel's where none is set)."""
    out: dict[QueueKey, ChannelParams] = {}
    for ch, q in _keys(queues):
        found = params.queues[ch].by_name[q]
        out[(ch, q)] = ChannelParams(found.first_response_target_ms, found.resolution_target_ms,
                                     found.short_abandon_ms)
    return out


def _queue_slos(cfg: Config, queues: Mapping[str, Sequence[str]]) -> list[Slo]:
    """The SLOs with ``by = ["queue"]``, one per listed queue of each of their channels."""
    return [Slo(s.name, s.indicator, ch, s.objective, q)
            for s in cfg.slos if s.by == ("queue",)
            for ch, names in queues.items() if ch in s.channels for q in names]


def _windows(kept: Sequence[Window], channels: Sequence[str]) -> tuple[list[Indicators], dict[str, Sums]]:
    """The range's windows, distinct, and per reported channel the sums of the quality stage
    (SERVQUAL included), both from the same records so every figure counts the same windows."""
    sums = {ch: Sums() for ch in channels}
    for w in kept:
        sums[w.indicators.channel].add(w.sums)
    return distinct(w.indicators for w in kept), sums


def _weights(cfg: Config, quality: Sequence[ChannelQuality]) -> dict[str, float]:
    """The index weights for the range's consistency: the configured ones, or (entropy) those of
    the latest channel record in the range; none there: no weights, so no index."""
    static = cfg.quality.static_weights()
    if static is not None:
        return static
    latest = max(quality, key=lambda q: q.point.period_start_ms, default=None)
    return {} if latest is None else latest.weights


def _overall(sums: Mapping[str, Counts]) -> Counts:
    total = Counts()
    for c in sums.values():
        total.add(c)
    return total


Series = dict[str, list[tuple[int, float | None]]]


def _series(windows: Sequence[Indicators], channels: Sequence[str]) -> Series:
    out: Series = {ch: [] for ch in channels}
    for w in windows:  # distinct(): in (channel, start) order
        out[w.channel].append((w.window_start_ms, w.service_level))
    return out


def _worst(windows: Sequence[Indicators], channels: Sequence[str]) -> list[Hour]:
    rows = worst_hours(windows, top=WORST_HOURS, min_volume=WORST_HOUR_MIN_VOLUME)
    for ch in channels:
        rows += worst_hours(windows, top=WORST_HOURS, min_volume=WORST_HOUR_MIN_VOLUME, channel=ch)
    return rows


def _rules(rules: Mapping[str, Sequence[Rule]], channels: Sequence[str]) -> dict[str, Sequence[Rule]]:
    return {ch: rules.get(ch, ()) for ch in channels}


def _ordered(by_channel: Mapping[str, T], channels: Sequence[str]) -> dict[str, T]:
    """``by_channel`` in the report's channel order (config order), as every section lists them."""
    return {ch: by_channel[ch] for ch in channels if ch in by_channel}


def build_report(cfg: Config, inputs: Inputs, from_ms: int, to_ms: int, channels: Iterable[str],
                 now_ms: int) -> Report:
    """The report of ``[from_ms, to_ms)`` for ``channels`` (none: all configured) from the
    topics' decoded records; records out of range or of other channels are ignored (alert
    records before the range are used: they give the episodes that began before it)."""
    chans = report_channels(cfg, channels)
    if not chans:
        raise ValueError("no configured channel to report")
    names = frozenset(chans)
    windows, quality_sums = _windows(
        [w for w in inputs.windows if w.indicators.channel in names
         and from_ms <= w.indicators.window_start_ms < to_ms], chans)
    transitions = [t for t in inputs.transitions if t.channel in names and t.window_start_ms < to_ms]
    quality = [q for q in inputs.quality if q.point.channel in names
               and from_ms <= q.point.period_start_ms < to_ms]
    queue_windows = distinct(w for w in inputs.queues if w.channel in names
                             and from_ms <= w.window_start_ms < to_ms)
    queues = report_queues(cfg, chans, queue_windows)
    listed = set(_keys(queues))
    queue_windows = [w for w in queue_windows if (w.channel, w.queue) in listed]
    params = domain_params(cfg)
    rules = _rules(channel_window_rules(cfg), chans)
    by_queue = queue_rules(cfg, queues)
    per_queue = queue_sums(queue_windows)
    queue_slos = _queue_slos(cfg, queues)
    by_channel = period_sums(windows)
    sums = {ch: by_channel.get(ch, Counts()) for ch in chans}
    slos = _slos(cfg, chans)
    attained = attainment(windows, rules)
    found = episodes(transitions, from_ms, to_ms)
    alert_time = alert_time_by_channel(found, from_ms, to_ms)
    gap_table = gaps(quality_sums)
    gap_table = msgspec.structs.replace(
        gap_table, per_channel=_ordered(gap_table.per_channel, chans),
        largest_by_channel=_ordered(gap_table.largest_by_channel, chans))
    return Report(
        from_ms=from_ms, to_ms=to_ms, generated_at_ms=now_ms, channels=chans,
        window_s=cfg.window_s, period_s=cfg.quality.period_s, method=cfg.quality.method,
        windows=len({w.window_start_ms for w in windows}), sums=sums, overall=_overall(sums),
        targets=targets(sums, {ch: params.channel_params[ch] for ch in chans}, rules, slos),
        attainment=attained, budgets=error_budget(sums, slos), episodes=found,
        alert_time_ms=_ordered(alert_time, chans),
        trends=_ordered(quality_trend([q.point for q in quality], to_ms - from_ms), chans),
        gaps=gap_table, spread=spread(quality_sums, _weights(cfg, quality)),
        worst_hours=_worst(windows, chans),
        findings=what_to_look_at(gap_table.largest,
                                 [(a.channel, a.indicator, a.share) for a in attained], alert_time),
        series=_series(windows, chans),
        queues=queues,
        queue_targets=queue_targets(per_queue, _queue_params(params, queues), by_queue,
                                    queue_slos),
        queue_budgets=queue_error_budget(per_queue, queue_slos),
        queue_attainment=queue_attainment(queue_windows, by_queue),
        queue_alert_time_ms=alert_time_by_queue(found, from_ms, to_ms),
    )
