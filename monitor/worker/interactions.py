"""Stage one as the worker runs it: an input partition's interactions (``PartitionProcessor``).

Its outputs: dead letters, records re-keyed to their owner partition, partials and watermark
marks for stage two, and the batch's changelog records (``monitor.state.statelog``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from monitor.contract import deadletter, partials
from monitor.contract.topics import (
    TOPIC_DEADLETTER,
    TOPIC_INPUT,
    TOPIC_INTERACTIONS_CHANGELOG,
    TOPIC_PARTIALS,
)
from monitor.domain.stream.params import Params
from monitor.metrics.stats import Stats
from monitor.stages.aggregate.aggregator import route
from monitor.stages.interactions.outputs import BatchResult
from monitor.stages.interactions.processor import PartitionProcessor
from monitor.state.changelog import Live
from monitor.worker.stage import Batch, Gauges, Output, Record


class InteractionsStage:
    name = "interactions"
    changelog = TOPIC_INTERACTIONS_CHANGELOG

    def __init__(self, params: Params, partition: int, input_partitions: int,
                 partials_partitions: int, stats: Stats) -> None:
        self.params = params
        self.partition = partition
        self.partials_partitions = partials_partitions
        self.stats = stats
        self.proc = PartitionProcessor(params, TOPIC_INPUT, partition, input_partitions)

    def written(self) -> Sequence[str]:
        return (TOPIC_PARTIALS, TOPIC_DEADLETTER, TOPIC_INPUT)

    @property
    def pending(self) -> int:
        return self.proc.pending

    def restore(self, live: Live) -> None:
        self.proc.restore(live.items())

    def process(self, records: Sequence[Record], now_ms: int, idle: bool) -> Batch | None:
        result = self.proc.process(((r.offset, r.key, r.value) for r in records), now_ms, idle)
        if result.empty() and not records:
            return None
        return Batch(lambda: self._outputs(result), lambda: self.stats.add_batch(result))

    def _outputs(self, r: BatchResult) -> Iterator[Output]:
        src = self.partition
        for d in r.deadletters:
            yield Output(TOPIC_DEADLETTER, deadletter.encode(d), deadletter.key(d))
        for f in r.forward:  # re-keyed by interaction_id, to its owner
            yield Output(TOPIC_INPUT, f.value, f.key, f.partition)
        for (q, w), acc in r.partials.items():  # a channel's queues meet in one aggregator
            ch = q.channel
            yield Output(TOPIC_PARTIALS, partials.encode_partial(src, q, w, acc), ch.encode(),
                         route(self.params, ch, self.partials_partitions))
        if r.mark is not None:  # after this partition's partials, on every partials partition
            value = partials.encode_mark(r.mark)
            for p in range(self.partials_partitions):
                yield Output(TOPIC_PARTIALS, value, partition=p)
        for key, val in r.changelog:
            yield Output(TOPIC_INTERACTIONS_CHANGELOG, val, key, src)

    def snapshot(self, gauges: Gauges, now_ms: int) -> None:
        proc = self.proc
        gauges.held += proc.pending
        gauges.interactions += len(proc.states)
        backlog = proc.backlog
        oldest = gauges.oldest_waiting_ts_ms
        for q in backlog.queues:
            key = (q.channel, q.name)
            gauges.waiting[key] = gauges.waiting.get(key, 0) + backlog.waiting[q]
            gauges.open[key] = gauges.open.get(key, 0) + backlog.open[q]
            m = backlog.oldest_waiting_ts(q)
            cur = oldest.get(key)
            oldest[key] = m if cur is None or (m is not None and m < cur) else cur
