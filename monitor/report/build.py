"""Assemble a period ``Report`` (SPEC section 8) from the decoded records of the three output
topics (``model.Inputs``, from ``read``).

Pure: domain values in, every figure computed by the domain functions (``domain.attainment``,
``domain.review``), so a renderer only lays the numbers out. No Kafka and no byte format here:
``read`` has decoded and deduplicated the records; this keeps those of the reported channels and
range and counts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeVar

import msgspec

from monitor.config import Config, domain_params, window_rules
from monitor.contract.quality import ChannelQuality
from monitor.domain.alerts import Rule
from monitor.domain.quality.index import Sums
from monitor.domain.report.attainment import (
    Counts,
    Hour,
    Slo,
    attainment,
    distinct,
    error_budget,
    period_sums,
    targets,
    worst_hours,
)
from monitor.domain.report.review import (
    alert_time_by_channel,
    episodes,
    gaps,
    quality_trend,
    spread,
    what_to_look_at,
)
from monitor.domain.stream.indicators import Indicators
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
    return [Slo(s.name, s.indicator, ch, s.objective)
            for s in cfg.slos for ch in s.channels if ch in channels]


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
    params = domain_params(cfg)
    rules = _rules(window_rules(cfg), chans)
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
    )
