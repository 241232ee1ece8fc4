"""Prometheus exposition (SPEC sections 4 and 9): a custom collector over the worker's snapshot.

The registry is injected; every label value comes from the validated configuration (channels and
their queue labels) or a fixed vocabulary (event types, reject reasons, quantiles), never from
data: a channel or queue that is in the snapshot but not configured is not exported, so a flood
of invented queue names cannot add a series.

Counters, histograms and the backlog gauges carry ``queue`` and have no channel series:
``sum by (channel)`` gives the channel and never counts it twice. The gauges that cannot be
summed (latest-window ratios and quantiles, window end, oldest wait) have a series per queue
and one with ``queue=""`` (the label absent in Prometheus) for the channel roll-up.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from monitor.contract.indicators import summary_s
from monitor.domain.stream import feedback as fb
from monitor.domain.stream.events import EVENT_TYPES, REASONS
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.window import COUNT_FIELDS
from monitor.metrics.stats import Histogram, Series, Snapshot

_MEASURE_METRICS = {name: f"sqm_{name}" for name in COUNT_FIELDS}
_RATIOS = (
    ("sqm_service_level_ratio", "service_level", "Service level of the latest final window"),
    ("sqm_abandonment_ratio", "abandonment_rate", "Abandonment rate of the latest final window"),
    ("sqm_resolution_ratio", "resolution_rate", "Resolution rate of the latest final window"),
    ("sqm_on_time_resolution_ratio", "on_time_resolution_rate",
     "On-time resolution rate of the latest final window"),
    ("sqm_reopen_ratio", "reopen_rate", "Reopen rate of the latest final window"),
)
_QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"))
#: the ``queue`` label value of a channel's roll-up series (absent in Prometheus)
ROLLUP = ""


class SqmCollector(Collector):
    """Reads the latest ``Snapshot`` on each scrape. ``queue_labels``: each configured channel's
    ``queue`` label values (``Config.queue_labels``), the only channels and queues exported."""

    def __init__(self, queue_labels: Mapping[str, tuple[str, ...]],
                 snapshot: Callable[[], Snapshot], clock: Callable[[], float] = time.time,
                 blocks: Callable[[], int] = sys.getallocatedblocks) -> None:
        self.queue_labels = dict(queue_labels)
        self.channels = tuple(self.queue_labels)
        #: every configured (channel, queue), channel by channel in config order
        self.series: tuple[Series, ...] = tuple(
            (ch, q) for ch, qs in self.queue_labels.items() for q in qs)
        self._snapshot = snapshot
        self._clock = clock
        self._blocks = blocks

    def collect(self) -> Iterator[Metric]:
        """One scrape: the snapshot and the clock are read once, so every family shows the same
        moment."""
        s = self._snapshot()
        now_ms = int(self._clock() * 1000)
        yield from self._input_counters(s)
        yield from self._measurement_counters(s)
        yield from self._histograms(s)
        yield from self._feedback(s)
        yield from self._backlog_gauges(s, now_ms)
        yield from self._latest_window_gauges(s)
        yield self._alert_active(s)
        yield from self._worker_metrics(s, now_ms)

    def _input_counters(self, s: Snapshot) -> Iterator[Metric]:
        """What happened to the input records; every configured (channel, queue) and label from
        the fixed vocabulary is exported, zeros included, so a rate over a series that never
        moved is 0, not absent."""
        ev = CounterMetricFamily("sqm_events", "Accepted input events, in the queue of the "
                                 "interaction once applied", labels=["channel", "queue", "type"])
        for ch, q in self.series:
            for t in EVENT_TYPES:
                ev.add_metric([ch, q, t], s.events.get((ch, q, t), 0))
        yield ev
        rj = CounterMetricFamily("sqm_events_rejected", "Dead-lettered input records",
                                 labels=["reason"])
        for reason in REASONS:
            rj.add_metric([reason], s.rejected.get(reason, 0))
        yield rj
        for name, src, doc in (("sqm_events_duplicate", s.duplicate, "Duplicate events (by event_id)"),
                               ("sqm_events_late", s.late, "Measurements for already final windows")):
            fam = CounterMetricFamily(name, doc, labels=["channel", "queue"])
            for key in self.series:
                fam.add_metric(list(key), src.get(key, 0))
            yield fam
        un = CounterMetricFamily("sqm_events_unlisted_queue", "Applied events that named a queue "
                                 "the config does not declare (measured under other, or the "
                                 "default queue)", labels=["channel"])
        for ch in self.channels:
            un.add_metric([ch], s.unlisted.get(ch, 0))
        yield un

    def _measurement_counters(self, s: Snapshot) -> Iterator[Metric]:
        """One counter per window count field, so ratios over any range, summed across workers,
        can be computed from counter increases and not only for the worker's own windows."""
        zero = [0] * len(COUNT_FIELDS)
        for i, field_name in enumerate(COUNT_FIELDS):
            fam = CounterMetricFamily(_MEASURE_METRICS[field_name],
                                      f"Measurements: {field_name.replace('_', ' ')}",
                                      labels=["channel", "queue"])
            for key in self.series:
                fam.add_metric(list(key), s.measured.get(key, zero)[i])
            yield fam

    def _histograms(self, s: Snapshot) -> Iterator[Metric]:
        """Cumulative wait and resolution distributions, which (unlike the per-window sketches)
        can be summed across workers and over any range (no histogram, no series)."""
        for name, hists, doc in (
            ("sqm_first_response_seconds", s.first_response, "First-response waits"),
            ("sqm_resolution_seconds", s.resolution, "Resolution times of resolved contacts"),
        ):
            hf = HistogramMetricFamily(name, doc, labels=["channel", "queue"])
            for key in self.series:
                h = hists.get(key)
                if h is not None:
                    hf.add_metric(list(key), _buckets(h), h.sum_ms / 1000)
            yield hf

    def _feedback(self, s: Snapshot) -> Iterator[Metric]:
        """Survey counters (SPEC 7.4), late ones included like every measurement: means, shares
        and gaps over any range come from their increases, summed across workers. Promoters,
        detractors and satisfied scores are exported too, since NPS and the satisfied share
        cannot be had from a mean."""
        zero = [0] * fb.SIZE
        rows = [(list(key), s.feedback.get(key, zero)) for key in self.series]
        for name, i, doc in (
            ("sqm_feedback", fb.RESPONSES, "Surveys (feedback events) counted"),
            ("sqm_complaints", fb.COMPLAINTS, "Surveys with complaint true"),
            ("sqm_csat_satisfied", fb.CSAT_SATISFIED, "CSAT scores of 4 or 5"),
            ("sqm_nps_promoters", fb.NPS_PROMOTERS, "NPS answers of 9 or 10"),
            ("sqm_nps_detractors", fb.NPS_DETRACTORS, "NPS answers of 0 to 6"),
        ):
            c = CounterMetricFamily(name, doc, labels=["channel", "queue"])
            for labels, f in rows:
                c.add_metric(labels, f[i])
            yield c
        for name, n, total, doc in (
            ("sqm_csat_score", fb.CSAT_N, fb.CSAT_SUM, "CSAT scores (1-5)"),
            ("sqm_nps_score", fb.NPS_N, fb.NPS_SUM, "NPS answers (0-10)"),
        ):
            sm = SummaryMetricFamily(name, doc, labels=["channel", "queue"])
            for labels, f in rows:
                sm.add_metric(labels, f[n], f[total])
            yield sm
        for name, offset, doc in (
            ("sqm_servqual_responses", 0, "Surveys that rated a SERVQUAL dimension"),
            ("sqm_servqual_expected_points", 1, "Sum of SERVQUAL expectations (1-7 each)"),
            ("sqm_servqual_perceived_points", 2, "Sum of SERVQUAL perceptions (1-7 each)"),
        ):
            c = CounterMetricFamily(name, doc, labels=["channel", "queue", "dimension"])
            for labels, f in rows:
                for k, dim in enumerate(fb.DIMENSIONS):
                    c.add_metric([*labels, dim], f[fb.SQ + 3 * k + offset])
            yield c

    def _backlog_gauges(self, s: Snapshot, now_ms: int) -> Iterator[Metric]:
        """The backlog of this worker's input partitions (no series before it owns one): per
        queue only, as it sums to the channel. The oldest wait does not sum, so the channel's
        roll-up (``queue=""``) is the oldest of its queues; it ages with the wall clock between
        snapshots, so it is computed at scrape time."""
        for name, vals, doc in (
            ("sqm_backlog_waiting", s.backlog_waiting, "Open contacts without a first response"),
            ("sqm_backlog_open", s.backlog_open, "Contacts not closed"),
        ):
            g = GaugeMetricFamily(name, doc, labels=["channel", "queue"])
            for key in self.series:
                if key in vals:
                    g.add_metric(list(key), vals[key])
            yield g
        g = GaugeMetricFamily("sqm_oldest_wait_seconds", "Age of the oldest waiting contact "
                              "(empty queue: the channel's oldest)", labels=["channel", "queue"])

        def age(ts_ms: int | None) -> float:
            return 0.0 if ts_ms is None else max(0, now_ms - ts_ms) / 1000

        oldest = s.oldest_waiting_ts_ms
        for ch, queues in self.queue_labels.items():
            owned = [(q, oldest[(ch, q)]) for q in queues if (ch, q) in oldest]
            if not owned:
                continue
            known = [ts for _q, ts in owned if ts is not None]
            g.add_metric([ch, ROLLUP], age(min(known) if known else None))
            for q, ts in owned:
                g.add_metric([ch, q], age(ts))
        yield g

    def _latest_window_gauges(self, s: Snapshot) -> Iterator[Metric]:
        """The latest final window's indicators exactly as written to the topics, for the
        channels (``queue=""``) and queues that have one; a null value is left out rather than
        exported as 0."""
        latest = [((ch, q), s.windows[(ch, q)]) for ch, queues in self.queue_labels.items()
                  for q in (ROLLUP, *queues) if (ch, q) in s.windows]
        yield from _window_ratios(latest)
        yield from _window_quantiles(latest)
        g = GaugeMetricFamily("sqm_window_end_timestamp_seconds", "End of the latest final window",
                              labels=["channel", "queue"])
        for key, rec in latest:
            g.add_metric(list(key), rec.window_end_ms / 1000)
        yield g

    def _alert_active(self, s: Snapshot) -> Metric:
        """The stream's alert decisions (SPEC 5.1), which Prometheus' threshold rules follow."""
        return alert_active(self.queue_labels, s.alerts)

    def _worker_metrics(self, s: Snapshot, now_ms: int) -> Iterator[Metric]:
        """This worker's own progress and load: how far event time trails the wall clock, what it
        holds back, which partitions it owns and how many records it has consumed or forwarded."""
        g = GaugeMetricFamily("sqm_watermark_lag_seconds", "Wall clock minus the event-time watermark")
        if s.watermark_ms is not None:
            g.add_metric([], max(0, now_ms - s.watermark_ms) / 1000)
        yield g
        yield GaugeMetricFamily("sqm_events_held", "Accepted events not yet applied (reorder "
                                "buffer and orphans waiting for opened)", value=s.held)
        yield GaugeMetricFamily("sqm_state_interactions", "Interactions in this worker's state: "
                                "open ones, and closed ones kept for reopen_window_s",
                                value=s.interactions)
        yield GaugeMetricFamily("sqm_python_allocated_blocks", "Blocks Python's small-object "
                                "allocator has handed out and not had back (live objects of up "
                                "to 512 bytes): it follows the state, and a leak of small objects "
                                "grows it without bound", value=self._blocks())
        yield _per_stage("sqm_assigned_partitions", "Partitions this worker owns, per stage "
                         "(interactions: input topic; aggregate: partials topic)", s.assigned)
        yield _per_stage("sqm_consumer_lag_records", "Records of this worker's partitions not "
                         "processed yet, per stage, up to the last stable offset",
                         s.consumer_lag)
        yield CounterMetricFamily("sqm_records_consumed", "Input records consumed by this worker",
                                  value=s.consumed)
        yield CounterMetricFamily("sqm_events_rekeyed", "Records forwarded to the partition that "
                                  "owns their interaction (key was not the interaction_id)",
                                  value=s.rekeyed)
        yield CounterMetricFamily("sqm_events_restored", "Held events restored from the changelog "
                                  "at assignment (consumed by an earlier owner)", value=s.restored)
        yield CounterMetricFamily("sqm_events_handed_over", "Held events of partitions this "
                                  "worker released (the next owner restores them)",
                                  value=s.handed_over)


def alert_active(queue_labels: Mapping[str, Sequence[str]] | Sequence[str],
                 alerts: Mapping[tuple[str, str, str, str], int]) -> Metric:
    """``sqm_alert_active``: 1 for the severity firing, 0 for every other configured one, keyed
    (channel, queue, indicator, severity), queue ``""`` for a channel alert (the worker's window
    alerts per channel and per queue, the quality stage's period ones per channel). Only
    configured channels and queues are exported: ``queue_labels`` maps each channel to its
    queue labels, or is a sequence of channels that have channel alerts only."""
    labels: Mapping[str, Sequence[str]] = (
        queue_labels if isinstance(queue_labels, Mapping) else dict.fromkeys(queue_labels, ()))
    g = GaugeMetricFamily("sqm_alert_active", "1 for the severity of a threshold alert now "
                          "firing, 0 for every other configured one (empty queue: a channel alert)",
                          labels=["channel", "queue", "indicator", "severity"])
    for (ch, q, indicator, severity), value in sorted(alerts.items()):
        if ch in labels and (q == ROLLUP or q in labels[ch]):
            g.add_metric([ch, q, indicator, severity], value)
    return g


def _per_stage(name: str, doc: str, values: dict[str, int]) -> Metric:
    """A gauge with one sample per stage, 0 for a stage the worker has nothing of."""
    g = GaugeMetricFamily(name, doc, labels=["stage"])
    for stage in ("interactions", "aggregate"):
        g.add_metric([stage], values.get(stage, 0))
    return g


def _window_ratios(latest: list[tuple[Series, Indicators]]) -> Iterator[Metric]:
    """One gauge per ratio of the latest final windows (a null ratio has no sample)."""
    for name, field_name, doc in _RATIOS:
        g = GaugeMetricFamily(name, doc, labels=["channel", "queue"])
        for key, rec in latest:
            value = getattr(rec, field_name)
            if value is not None:
                g.add_metric(list(key), value)
        yield g


def _window_quantiles(latest: list[tuple[Series, Indicators]]) -> Iterator[Metric]:
    """The window's own sketch quantiles, which the histograms' coarse buckets cannot give back
    exactly (a null quantile has no sample)."""
    for name, key in (("sqm_first_response_window_seconds", "first_response"),
                      ("sqm_resolution_window_seconds", "resolution")):
        g = GaugeMetricFamily(name, f"{key}_s quantiles of the latest final window",
                              labels=["channel", "queue", "quantile"])
        for (ch, queue), rec in latest:
            summary = summary_s(getattr(rec, key))
            for q, k in _QUANTILES:
                v = summary[k]
                if v is not None:
                    g.add_metric([ch, queue, q], v)
        yield g


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    total = 0
    for bound, n in zip(h.bounds_ms, h.counts, strict=False):
        total += n
        out.append((floatToGoString(bound / 1000), total))  # type: ignore[no-untyped-call]
    total += h.counts[-1]
    out.append(("+Inf", total))
    return out
