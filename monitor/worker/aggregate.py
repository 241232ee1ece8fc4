"""Stage two as the worker runs it: a partials partition's windows (``Aggregator``).

Its outputs: the final windows' records, the alert transitions they caused (in the same
transaction), and the changelog of its open windows and state (``monitor.state.windows``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from monitor.contract import alerts, indicators, partials, queues
from monitor.contract.topics import (
    TOPIC_ALERTS,
    TOPIC_INDICATORS,
    TOPIC_QUEUES,
    TOPIC_WINDOWS_CHANGELOG,
)
from monitor.domain.alerts import Rule
from monitor.domain.stream.params import Params
from monitor.metrics.stats import Stats
from monitor.stages.aggregate.aggregator import Aggregator, AggResult
from monitor.state import windows
from monitor.state.changelog import ChangelogRecord, Live
from monitor.state.windows import Series
from monitor.worker.stage import Batch, Gauges, Output, Record


class AggregateStage:
    name = "aggregate"
    changelog = TOPIC_WINDOWS_CHANGELOG
    pending = 0  # partials are applied as they come: nothing waits

    def __init__(self, params: Params, rules: Mapping[Series, tuple[Rule, ...]], partition: int,
                 partials_partitions: int, input_partitions: int, stats: Stats) -> None:
        self.partition = partition
        self.queues = params.queues
        self.stats = stats
        self.agg = Aggregator(params, partition, partials_partitions, input_partitions, rules)

    def written(self) -> Sequence[str]:
        return (TOPIC_INDICATORS, TOPIC_QUEUES, TOPIC_ALERTS)

    def restore(self, live: Live) -> None:
        self.agg.restore(*windows.restore(live.items(), self.queues))

    def process(self, records: Sequence[Record], now_ms: int, idle: bool) -> Batch | None:
        result = self.agg.process(
            (partials.decode(r.value, self.queues) for r in records if r.value is not None),
            now_ms)
        # encoded now: the open windows it names change with the next batch
        changelog = windows.records(result.windows, result.state)
        if not (records or result.records or result.queue_records or result.alerts or changelog):
            return None
        return Batch(lambda: self._outputs(result, changelog),
                     lambda: self.stats.add_late(result.late))

    def _outputs(self, result: AggResult, changelog: list[ChangelogRecord]
                 ) -> Iterator[Output]:
        for rec in result.queue_records:
            yield Output(TOPIC_QUEUES, queues.encode(rec), queues.key(rec))
        for rec in result.records:
            yield Output(TOPIC_INDICATORS, indicators.encode(rec), rec.channel.encode())
        for t in result.alerts:  # in the transaction of the window records that caused them
            yield Output(TOPIC_ALERTS, alerts.encode(t), alerts.key(t))
        for key, val in changelog:
            yield Output(TOPIC_WINDOWS_CHANGELOG, val, key, self.partition)

    def snapshot(self, gauges: Gauges, now_ms: int) -> None:
        gauges.latest.update(self.agg.latest)
        gauges.alerts.update(self.agg.active_alerts())
        g = self.agg.global_watermark(now_ms)
        if g is not None:
            gauges.watermarks_ms.append(g)
