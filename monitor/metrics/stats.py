"""The worker's own counters and histograms (plain Python; ``exporter`` turns them into metrics).

Updated on the event loop by the senders, as each batch's outputs are handed to the producer
(they become visible to consumers when its transaction commits); the exporter thread reads the
immutable ``Snapshot`` that the loop publishes, never the live dictionaries.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from monitor.domain.stream import feedback
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.queues import Queue
from monitor.domain.stream.window import COUNT_FIELDS
from monitor.stages.interactions.outputs import BatchResult

FIRST_RESPONSE_BUCKETS_S = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800,
                            3600, 7200, 14400, 28800, 43200, 86400)
RESOLUTION_BUCKETS_S = (60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 28800,
                        43200, 86400, 172800, 604800)


class Histogram:
    """Fixed buckets in ms (``le`` inclusive), per-bucket counts, exact sum."""

    __slots__ = ("bounds_ms", "counts", "sum_ms")

    def __init__(self, bounds_s: tuple[float, ...]) -> None:
        self.bounds_ms = [round(b * 1000) for b in sorted(set(bounds_s))]
        self.counts = [0] * (len(self.bounds_ms) + 1)
        self.sum_ms = 0

    def observe_many(self, values_ms: list[int]) -> None:
        bounds = self.bounds_ms
        for v in values_ms:
            self.counts[bisect.bisect_left(bounds, v)] += 1
            self.sum_ms += v

    def copy(self) -> Histogram:
        h = Histogram(())
        h.bounds_ms, h.counts, h.sum_ms = self.bounds_ms, list(self.counts), self.sum_ms
        return h


#: ``(channel, queue)``; queue ``""``: the channel's roll-up (SPEC 9)
Series = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape shows; per-queue values are keyed ``(channel, queue)``."""

    events: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (channel, queue, type)
    rejected: dict[str, int] = field(default_factory=dict)
    duplicate: dict[Series, int] = field(default_factory=dict)
    late: dict[Series, int] = field(default_factory=dict)
    #: applied events that named a queue the config does not declare, by channel
    unlisted: dict[str, int] = field(default_factory=dict)
    measured: dict[Series, list[int]] = field(default_factory=dict)  # COUNT_FIELDS order
    feedback: dict[Series, list[int]] = field(default_factory=dict)  # survey sums
    first_response: dict[Series, Histogram] = field(default_factory=dict)
    resolution: dict[Series, Histogram] = field(default_factory=dict)
    backlog_waiting: dict[Series, int] = field(default_factory=dict)
    backlog_open: dict[Series, int] = field(default_factory=dict)
    oldest_waiting_ts_ms: dict[Series, int | None] = field(default_factory=dict)
    #: latest final window per queue, and per channel (queue "")
    windows: dict[Series, Indicators] = field(default_factory=dict)
    #: (channel, queue, indicator, severity) -> 1 firing, 0 not, for the channels this worker
    #: owns (queue "": a channel alert)
    alerts: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    watermark_ms: int | None = None
    held: int = 0
    interactions: int = 0  # kept in stage one's state (open, or closed within the reopen window)
    consumed: int = 0
    rekeyed: int = 0
    restored: int = 0
    handed_over: int = 0
    assigned: dict[str, int] = field(default_factory=dict)  # stage -> partitions owned
    consumer_lag: dict[str, int] = field(default_factory=dict)  # stage -> records behind


class Stats:
    """Cumulative per-process counters, per queue; gauges are filled in when a snapshot is
    taken. ``queues``: each channel's queue labels (bounded by the config)."""

    def __init__(self, queues: dict[str, tuple[str, ...]], targets_fr_s: list[float],
                 targets_rs_s: list[float]) -> None:
        self.series: tuple[Series, ...] = tuple((c, q) for c, qs in queues.items() for q in qs)
        self.events: Counter[tuple[str, str, str]] = Counter()
        self.rejected: Counter[str] = Counter()
        self.duplicate: Counter[Series] = Counter()
        self.late: Counter[Series] = Counter()
        self.unlisted: Counter[str] = Counter()
        self.measured: dict[Series, list[int]] = {k: [0] * len(COUNT_FIELDS) for k in self.series}
        self.feedback: dict[Series, list[int]] = {k: [0] * feedback.SIZE for k in self.series}
        self.first_response = {k: Histogram(FIRST_RESPONSE_BUCKETS_S + tuple(targets_fr_s))
                               for k in self.series}
        self.resolution = {k: Histogram(RESOLUTION_BUCKETS_S + tuple(targets_rs_s))
                           for k in self.series}
        self.consumed = 0
        self.rekeyed = 0
        #: held events restored from the changelog (an earlier owner consumed them), and held
        #: events of released partitions (the next owner restores them): the accounting identity
        #: holds across restarts and rebalances with both
        self.restored = 0
        self.handed_over = 0

    def add_batch(self, r: BatchResult) -> None:
        """Count a stage-one batch that is being written (measurements of late events
        included)."""
        events = self.events
        for (q, etype), n in r.events.items():
            events[(q.channel, q.name, etype)] += n
        self.rejected.update(r.rejected)
        for q, n in r.duplicate.items():
            self.duplicate[(q.channel, q.name)] += n
        self.unlisted.update(r.unlisted)
        self.consumed += r.consumed
        self.rekeyed += len(r.forward)
        for (q, _w), acc in r.partials.items():
            key = (q.channel, q.name)
            m = self.measured[key]
            for i, n in enumerate(acc.counts):
                m[i] += n
            if acc.feedback is not None:
                f = self.feedback[key]
                for i, n in enumerate(acc.feedback):
                    f[i] += n
        for q, values in r.first_response_ms.items():
            self.first_response[(q.channel, q.name)].observe_many(values)
        for q, values in r.resolution_ms.items():
            self.resolution[(q.channel, q.name)].observe_many(values)

    def add_late(self, late: Counter[Queue]) -> None:
        for q, n in late.items():
            self.late[(q.channel, q.name)] += n

    def snapshot(self, **gauges: Any) -> Snapshot:
        return Snapshot(
            events=dict(self.events), rejected=dict(self.rejected), duplicate=dict(self.duplicate),
            late=dict(self.late), unlisted=dict(self.unlisted),
            measured={k: list(v) for k, v in self.measured.items()},
            feedback={k: list(v) for k, v in self.feedback.items()},
            first_response={k: h.copy() for k, h in self.first_response.items()},
            resolution={k: h.copy() for k, h in self.resolution.items()},
            consumed=self.consumed, rekeyed=self.rekeyed, restored=self.restored,
            handed_over=self.handed_over, **gauges,
        )
