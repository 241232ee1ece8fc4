"""Prometheus exposition of the quality stage (SPEC 7.4) on its own port.

Gauges of the latest final period, read from the stage's snapshot on each scrape; a null value
(a channel without volume, a score no channel had) has no sample rather than a 0. Label values
come from the configuration (channels) or fixed vocabularies (scores, dimensions, reasons).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.contract.quality import CONSISTENCY_NAMES, REASONS
from monitor.domain.quality.index import DIMENSIONS
from monitor.metrics.exporter import alert_active
from monitor.state.periods import PeriodResult


class QualitySnapshot(Protocol):
    @property
    def latest(self) -> PeriodResult | None: ...
    @property
    def alerts(self) -> dict[tuple[str, str, str], int]: ...
    @property
    def rejected(self) -> dict[str, int]: ...


class QualityCollector(Collector):
    """Reads the latest snapshot on each scrape."""

    def __init__(self, channels: tuple[str, ...], snapshot: Callable[[], QualitySnapshot]) -> None:
        self.channels = channels
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self._snapshot()
        yield from _period_gauges(self.channels, s.latest)
        # period alerts are per channel: queue "" in sqm_alert_active (SPEC 9)
        yield alert_active(self.channels, {(ch, "", indicator, severity): v
                                           for (ch, indicator, severity), v in s.alerts.items()})
        c = CounterMetricFamily("sqm_quality_records_rejected", "sqm.indicators.v1 records the "
                                "quality stage could not use", labels=["reason"])
        for reason in REASONS:
            c.add_metric([reason], s.rejected.get(reason, 0))
        yield c


def _period_gauges(channels: tuple[str, ...], r: PeriodResult | None) -> Iterator[Metric]:
    index = GaugeMetricFamily("sqm_quality_index", "Quality index (0-100) of the latest final "
                              "period", labels=["channel"])
    weight = GaugeMetricFamily("sqm_quality_weight", "Weight of each score in the quality index "
                               "of the latest final period", labels=["score"])
    gap = GaugeMetricFamily("sqm_servqual_gap", "SERVQUAL gap (perceived - expected mean, -6..6) "
                            "of the latest final period", labels=["channel", "dimension"])
    cv = GaugeMetricFamily("sqm_channel_consistency_cv", "Coefficient of variation of each score "
                           "across the channels with volume, latest final period", labels=["score"])
    end = GaugeMetricFamily("sqm_quality_period_end_timestamp_seconds",
                            "End of the latest final period")
    if r is not None:
        end.add_metric([], r.period_end_ms / 1000)
        for name, w in r.weights.items():
            weight.add_metric([name], w)
        for c in r.channels:
            if c.channel not in channels:
                continue
            if c.quality_index is not None:
                index.add_metric([c.channel], c.quality_index)
            for dim in DIMENSIONS:
                v = c.servqual_gap.get(dim)
                if v is not None:
                    gap.add_metric([c.channel, dim], v)
        for name in CONSISTENCY_NAMES:
            spread = r.consistency.get(name)
            if spread is not None and spread.cv is not None:
                cv.add_metric([name], spread.cv)
    yield from (index, weight, gap, cv, end)
