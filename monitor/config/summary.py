"""What ``sqm check-config`` prints: the configuration in force, defaults included."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.config.loader import load_web
from monitor.config.model import ChannelConfig, Config
from monitor.config.params import window_rules
from monitor.domain.stream.events import EVENT_TYPES, REASONS
from monitor.domain.stream.feedback import DIMENSIONS
from monitor.domain.stream.window import COUNT_FIELDS

# The exporter's families, counted here because config may not import monitor.metrics (the
# layering); tests/unit/test_queue_series.py holds the bound to a full scrape of the collector.
#: label sets the worker exports per (channel, queue) (``monitor.metrics.exporter``, SPEC 9):
#: events by type, duplicate, late, the count fields, 2 histograms, 5 survey counters, 2 survey
#: summaries, 3 SERVQUAL counters per dimension, 2 backlog gauges
PER_QUEUE = len(EVENT_TYPES) + 2 + len(COUNT_FIELDS) + 2 + 5 + 2 + 3 * len(DIMENSIONS) + 2
#: per (channel, queue) and per channel roll-up (``queue=""``): oldest wait, 5 ratios, 2 window
#: quantile gauges of 3 quantiles, window end
PER_ROW = 1 + 5 + 2 * 3 + 1
#: per channel: ``sqm_events_unlisted_queue_total``
PER_CHANNEL = 1
#: without channel: reject reasons, and the worker's own gauges and counters (watermark lag,
#: held, state, allocated blocks, 2 stages x (partitions, lag), consumed, rekeyed, restored,
#: handed over)
FIXED = len(REASONS) + 4 + 2 * 2 + 4


def metrics_summary(cfg: Config) -> str:
    """How the worker and the quality stage serve /metrics, /healthz and /readyz (reads
    ``metrics_web_config``: its errors are config errors here too)."""
    web = load_web(cfg)
    scheme = "https" if web is not None and web.tls is not None else "http"
    n = 0 if web is None else len(web.users)
    auth = f"basic auth for /metrics ({n} user{'s' * (n != 1)})" if n else "no authentication"
    return (f"metrics: {scheme} on {cfg.metrics_bind}, ports {cfg.metrics_port} (worker) and "
            f"{cfg.quality.metrics_port} (quality), {auth}; /healthz and /readyz open")


def quality_summary(cfg: Config) -> str:
    """``[quality]``: period, method and the weights in force (AHP with its consistency ratio;
    entropy weights are computed each period from the data)."""
    q = cfg.quality
    head = (f"quality: period {q.period_s} s, method {q.method}, metrics port {q.metrics_port}"
            + (f", entropy over the last {q.entropy_periods} periods" if q.method == "entropy"
               else ""))
    weights = q.static_weights()
    if weights is None:
        return head + "\n  weights: entropy, recomputed at the close of each period"
    lines = [head]
    if q.method == "ahp" and q.ahp_consistency_ratio is not None:
        lines.append(f"  AHP consistency ratio {q.ahp_consistency_ratio:.3f} (must stay below 0.1)")
    lines += [f"  weight {name:<24} {w:.4f}" for name, w in weights.items() if w > 0]
    return "\n".join(lines)


def series_bound(cfg: Config) -> str:
    """The most series one worker exports (one that owns every partition): label values come
    from the config alone, so this is a bound whatever the input names. A histogram or summary
    counts once per label set here (its buckets, ``_sum`` and ``_count`` come with it)."""
    channels = len(cfg.channels)
    queues = sum(len(c.queue_labels) for c in cfg.channels)
    alerts = sum((r.warning is not None) + (r.critical is not None)
                 for rules in window_rules(cfg).values() for r in rules)
    n = (PER_QUEUE * queues + PER_ROW * (queues + channels) + PER_CHANNEL * channels + alerts
         + FIXED)
    return (f"metrics: at most {n} series per worker (channels x queues: {channels} channels, "
            f"{queues} queue labels; {PER_QUEUE} per queue, {PER_ROW} per queue and per channel "
            f"roll-up, {PER_CHANNEL} per channel, {alerts} alert states, {FIXED} without channel; "
            "a histogram or summary counted once per label set)")


def queues_summary(cfg: Config) -> str:
    """Each channel's queues (SPEC 9): the default one, the targets a queue overrides, and
    ``other``, which measures every queue the config does not declare. The channels that
    declare none share one line."""
    declaring = [c for c in cfg.channels if c.queues]
    plain = [c for c in cfg.channels if not c.queues]
    if not declaring:
        return ("queues: none declared; each channel has one queue, its default_queue "
                f"({', '.join(sorted({c.default_queue for c in plain}))})")
    width = max(len(c.name) for c in declaring)
    lines = [f"queues (at most {cfg.max_queues} per channel; an undeclared queue is measured "
             "under other):"]
    lines += [f"  {c.name:<{width}}  {', '.join(_queue(c, q) for q in c.queue_labels)}"
              for c in declaring]
    if plain:
        lines.append(f"  one queue each (no queues declared): "
                     f"{', '.join(f'{c.name} ({c.default_queue})' for c in plain)}")
    return "\n".join(lines)


def _queue(c: ChannelConfig, name: str) -> str:
    """A queue with what sets it apart: default, and the targets that differ from the channel's."""
    q = c.queue(name)
    notes = ["default"] if name == c.default_queue else []
    notes += [f"{key} {value:g}" for key, value, channel in (
        ("first_response_target_s", q.first_response_target_s, c.first_response_target_s),
        ("resolution_target_s", q.resolution_target_s, c.resolution_target_s),
        ("short_abandon_s", q.short_abandon_s, c.short_abandon_s)) if value != channel]
    return f"{name} ({', '.join(notes)})" if notes else name


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def alerting_summary(cfg: Config) -> str:
    """The effective ``[[alerts]]`` and ``[[slos]]`` (defaults included) as two text tables;
    ``queues`` ``-``: the channel roll-up only; ``by``: one SLO per channel or per queue."""
    def chans(names: tuple[str, ...]) -> str:
        return "all" if names == cfg.channel_names else ",".join(names)

    rows = [("alert", "op", "warning", "critical", "for", "clear", "min_volume", "channels",
             "queues")]
    rows += [(a.indicator, a.op, _fmt(a.warning), _fmt(a.critical), str(a.for_windows),
              str(a.clear_windows), str(a.min_volume), chans(a.channels),
              ",".join(a.queues) or "-") for a in cfg.alerts]
    slos = [("slo", "indicator", "objective", "period_days", "min_events", "channels", "by")]
    slos += [(s.name, s.indicator, _fmt(s.objective), str(s.period_days), str(s.min_events),
              chans(s.channels), ",".join(s.by) or "channel") for s in cfg.slos]
    return "\n".join([*_table(rows), "", *_table(slos)])


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def summary(cfg: Config, notes: Sequence[str]) -> str:
    """The whole ``check-config`` text, built before any of it is printed (a bad
    ``metrics_web_config`` stops with nothing printed); ``notes``: what ``sqm rules`` warns of."""
    r = cfg.rules
    lines = [
        f"config ok: broker {cfg.broker_url}, metrics port {cfg.metrics_port}, "
        f"window {cfg.window_s} s, grace {cfg.grace_s} s, channels {', '.join(cfg.channel_names)}",
        queues_summary(cfg),
        metrics_summary(cfg),
        series_bound(cfg),
        cfg.kafka.summary(),
        "",
        alerting_summary(cfg),
        f"\nrules: job {r.job}, watermark lag > {r.watermark_lag_s:g} s, dead letters > "
        f"{r.deadletter_ratio:.2%}, consumer lag > {r.consumer_lag_records} records, "
        f"runbook {r.runbook_url}",
        *(f"note: {note}" for note in notes),
        f"\n{quality_summary(cfg)}",
    ]
    return "\n".join(lines)
