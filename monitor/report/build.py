"""Assemble a period ``Report`` (SPEC section 8) from the records of the three output topics.

``read_inputs`` reads ``sqm.indicators.v1``, ``sqm.alerts.v1`` and ``sqm.quality.v1`` straight
from Kafka (``monitor.kafka.reader``) and keeps the records whose event time is in the range;
``build_report`` is pure: decoded JSON in, every figure computed by the domain functions
(``domain.attainment``, ``domain.review``), so a renderer only lays the numbers out.

Both topics are read at least once, so a record may come twice (a worker re-emits after a crash,
with the same values): each is deduplicated by its identity before anything is counted. A record
that does not decode is skipped with a warning rather than failing the whole report: the report
is read after the fact, and one bad record should not hide a month of good ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import msgspec
import orjson

from monitor.config import Config, domain_params, window_rules
from monitor.contract import report as report_wire
from monitor.contract.topics import TOPIC_ALERTS, TOPIC_INDICATORS, TOPIC_QUALITY
from monitor.domain.alerts import Rule, Transition
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
    QualityPoint,
    alert_time_by_channel,
    episodes,
    gaps,
    quality_trend,
    spread,
    what_to_look_at,
)
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.timefmt import parse_rfc3339_ms
from monitor.kafka.reader import in_event_range, read_range_sync, slack_ms_for
from monitor.kafka.security import client_options
from monitor.report.model import Report

log = logging.getLogger("sqm.report")
T = TypeVar("T")

#: the three topics a report reads, in reading order
TOPICS: Final = (TOPIC_INDICATORS, TOPIC_ALERTS, TOPIC_QUALITY)
#: worst hours listed overall, then for each channel
WORST_HOURS: Final = 5
#: an hour with fewer offered contacts is not a "worst hour" (the alerts' default ``min_volume``)
WORST_HOUR_MIN_VOLUME: Final = 10

#: alert records are read from this event time on (the topic's start): an episode that began
#: before the range and has no record inside it still counts (its firing record is older)
ALERTS_SINCE_MS: Final = 0

#: ``progress(topic, done, total)``: offsets read so far and to read of one topic
TopicProgress = Callable[[str, int, int], None]


# --- reading -------------------------------------------------------------------------------


def read_inputs(cfg: Config, from_ms: int, to_ms: int, progress: TopicProgress | None = None
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The indicator and quality records whose event time (``window_start``, or ``period_start``
    for quality) is in ``[from_ms, to_ms)``, and the alert records whose event time is before
    ``to_ms``, as parsed JSON objects.

    ``sqm.alerts.v1`` is read from its first retained record: an episode that fired before the
    range and is resolved inside it or after it has its firing record before ``from_ms``, however
    long ago. The topic holds only transitions, a few records per episode, so this stays small.

    Raises ``monitor.kafka.reader.ReadError`` when a topic is missing or the broker stalls."""
    out: list[list[dict[str, Any]]] = []
    security = client_options(cfg.kafka)
    for topic in TOPICS:
        def report(done: int, total: int, topic: str = topic) -> None:
            if progress is not None:
                progress(topic, done, total)

        alerts = topic == TOPIC_ALERTS
        records = read_range_sync(cfg.bootstrap_servers, topic, from_ms, to_ms,
                                  slack_ms=slack_ms_for(cfg), from_beginning=alerts,
                                  progress=report, security=security)
        since_ms = ALERTS_SINCE_MS if alerts else from_ms
        # in_event_range only keeps JSON objects with an event time, so each loads to a dict
        out.append([orjson.loads(r.value) for r in in_event_range(records, since_ms, to_ms)])
    return out[0], out[1], out[2]


# --- decoding ------------------------------------------------------------------------------


def _in_range(d: Mapping[str, Any], field: str, from_ms: int, to_ms: int) -> bool:
    text = d.get(field)
    t = parse_rfc3339_ms(text) if isinstance(text, str) else None
    return t is not None and from_ms <= t < to_ms


def _dedupe(records: Iterable[dict[str, Any]], identity: Callable[[dict[str, Any]], Hashable]
            ) -> list[dict[str, Any]]:
    """One record per identity, the last one read winning, in first-seen order."""
    seen: dict[Hashable, dict[str, Any]] = {}
    for d in records:
        seen[identity(d)] = d
    return list(seen.values())


def _decode(records: Iterable[dict[str, Any]], decode: Callable[[dict[str, Any]], T | None],
            what: str) -> list[T]:
    out: list[T] = []
    for d in records:
        try:
            value = decode(d)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping a %s record that does not decode: %s", what, exc)
            continue
        if value is not None:
            out.append(value)
    return out


def _keep(records: Iterable[dict[str, Any]], field: str, channels: Sequence[str],
          from_ms: int, to_ms: int) -> list[dict[str, Any]]:
    """The records of a reported channel in range (a consistency record has no channel: the
    report computes consistency over its whole range instead)."""
    return [d for d in records if d.get("channel") in channels and _in_range(d, field, from_ms, to_ms)]


def _window_id(d: dict[str, Any]) -> Hashable:
    return d.get("channel"), d.get("window_start")


def _alert_id(d: dict[str, Any]) -> Hashable:
    return (d.get("channel"), d.get("indicator"), d.get("since"), d.get("state"),
            d.get("severity"), d.get("window_start"))


def _quality_id(d: dict[str, Any]) -> Hashable:
    return d.get("kind"), d.get("channel"), d.get("period_start")


# --- assembling ----------------------------------------------------------------------------


def report_channels(cfg: Config, channels: Iterable[str]) -> tuple[str, ...]:
    """The channels to report, in config order; none given: every configured channel."""
    wanted = set(channels)
    return tuple(ch for ch in cfg.channel_names if not wanted or ch in wanted)


def _slos(cfg: Config, channels: Sequence[str]) -> list[Slo]:
    return [Slo(s.name, s.indicator, ch, s.objective)
            for s in cfg.slos for ch in s.channels if ch in channels]


def _windows(records: Iterable[dict[str, Any]], cfg: Config,
             channels: Sequence[str]) -> tuple[list[Indicators], dict[str, Sums]]:
    """The range's windows, distinct, and per reported channel the sums of the quality stage
    (SERVQUAL included), both from the same records so every figure counts the same windows."""
    names, window_ms = frozenset(channels), cfg.window_s * 1000
    decoded = _decode(records, lambda d: report_wire.window(d, names, window_ms), "indicators")
    sums = {ch: Sums() for ch in channels}
    for _, w in decoded:
        sums[w.channel].add(w.sums)
    return distinct(ind for ind, _ in decoded), sums


def _weights(cfg: Config, quality: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The index weights for the range's consistency: the configured ones, or (entropy) those of
    the latest channel record in the range; none there: no weights, so no index."""
    static = cfg.quality.static_weights()
    if static is not None:
        return static
    channel_records = [d for d in quality if d.get("kind") == "channel"]
    latest = max(channel_records, key=lambda d: str(d.get("period_start")), default=None)
    return {} if latest is None else report_wire.weights_of(latest)


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


def build_report(cfg: Config, indicators: list[dict[str, Any]], alerts: list[dict[str, Any]],
                 quality: list[dict[str, Any]], from_ms: int, to_ms: int, channels: Iterable[str],
                 now_ms: int) -> Report:
    """The report of ``[from_ms, to_ms)`` for ``channels`` (none: all configured) from the
    topics' decoded JSON records; records out of range or of other channels are ignored (alert
    records before the range are used: they give the episodes that began before it)."""
    chans = report_channels(cfg, channels)
    if not chans:
        raise ValueError("no configured channel to report")
    windows, quality_sums = _windows(
        _dedupe(_keep(indicators, "window_start", chans, from_ms, to_ms), _window_id), cfg, chans)
    transitions: list[Transition] = _decode(
        _dedupe(_keep(alerts, "window_start", chans, ALERTS_SINCE_MS, to_ms), _alert_id),
        report_wire.transition, "alerts")
    q_records = _dedupe(_keep(quality, "period_start", chans, from_ms, to_ms), _quality_id)
    points: list[QualityPoint] = _decode(q_records, report_wire.quality_point, "quality")
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
        trends=_ordered(quality_trend(points, to_ms - from_ms), chans), gaps=gap_table,
        spread=spread(quality_sums, _weights(cfg, q_records)),
        worst_hours=_worst(windows, chans),
        findings=what_to_look_at(gap_table.largest,
                                 [(a.channel, a.indicator, a.share) for a in attained], alert_time),
        series=_series(windows, chans),
    )
