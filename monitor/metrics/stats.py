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


@dataclass(frozen=True, slots=True)
class Snapshot:
    events: dict[tuple[str, str], int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    duplicate: dict[str, int] = field(default_factory=dict)
    late: dict[str, int] = field(default_factory=dict)
    measured: dict[str, list[int]] = field(default_factory=dict)  # channel -> COUNT_FIELDS order
    feedback: dict[str, list[int]] = field(default_factory=dict)  # channel -> survey sums
    first_response: dict[str, Histogram] = field(default_factory=dict)
    resolution: dict[str, Histogram] = field(default_factory=dict)
    backlog_waiting: dict[str, int] = field(default_factory=dict)
    backlog_open: dict[str, int] = field(default_factory=dict)
    oldest_waiting_ts_ms: dict[str, int | None] = field(default_factory=dict)
    windows: dict[str, Indicators] = field(default_factory=dict)  # latest final window
    #: (channel, indicator, severity) -> 1 firing, 0 not, for the channels this worker owns
    alerts: dict[tuple[str, str, str], int] = field(default_factory=dict)
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
    """Cumulative per-process counters; gauges are filled in when a snapshot is taken."""

    def __init__(self, channels: tuple[str, ...], targets_fr_s: list[float],
                 targets_rs_s: list[float]) -> None:
        self.channels = channels
        self.events: Counter[tuple[str, str]] = Counter()
        self.rejected: Counter[str] = Counter()
        self.duplicate: Counter[str] = Counter()
        self.late: Counter[str] = Counter()
        self.measured: dict[str, list[int]] = {c: [0] * len(COUNT_FIELDS) for c in channels}
        self.feedback: dict[str, list[int]] = {c: [0] * feedback.SIZE for c in channels}
        self.first_response = {c: Histogram(FIRST_RESPONSE_BUCKETS_S + tuple(targets_fr_s))
                               for c in channels}
        self.resolution = {c: Histogram(RESOLUTION_BUCKETS_S + tuple(targets_rs_s))
                           for c in channels}
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
        self.events.update(r.events)
        self.rejected.update(r.rejected)
        self.duplicate.update(r.duplicate)
        self.consumed += r.consumed
        self.rekeyed += len(r.forward)
        for (ch, _w), acc in r.partials.items():
            m = self.measured[ch]
            for i, n in enumerate(acc.counts):
                m[i] += n
            if acc.feedback is not None:
                f = self.feedback[ch]
                for i, n in enumerate(acc.feedback):
                    f[i] += n
        for ch, values in r.first_response_ms.items():
            self.first_response[ch].observe_many(values)
        for ch, values in r.resolution_ms.items():
            self.resolution[ch].observe_many(values)

    def add_late(self, late: Counter[str]) -> None:
        self.late.update(late)

    def snapshot(self, **gauges: Any) -> Snapshot:
        return Snapshot(
            events=dict(self.events), rejected=dict(self.rejected), duplicate=dict(self.duplicate),
            late=dict(self.late), measured={c: list(v) for c, v in self.measured.items()},
            feedback={c: list(v) for c, v in self.feedback.items()},
            first_response={c: h.copy() for c, h in self.first_response.items()},
            resolution={c: h.copy() for c, h in self.resolution.items()},
            consumed=self.consumed, rekeyed=self.rekeyed, restored=self.restored,
            handed_over=self.handed_over, **gauges,
        )
